"""Benchmark of the exact network simulator: synaptic events per second against a bandwidth baseline.

For the standard neuron on the ring network (``w = 1 + 0.5 cos(2 pi (xi - zeta))``, dense, zero
diagonal, ``X(0) = 0``) at N = 1000, 4000, 10000 and T = 10, prints

* ``events/s`` = ``spikes * (N - 1) / wall`` of :func:`solvers.particles.simulate` (``method="exact"``,
  numba compilation excluded by a warm-up run);
* ``baseline/s``: the same number of column additions ``X += W[:, j]`` done by a numpy loop over the
  same matrix, for the spiking neurons of the run in the same order (the memory traffic of the
  spikes, with no dynamics), measured in the same process;
* ``ratio`` = events/s / baseline/s (goal >= 0.7 at N = 10000) and the peak resident memory of the
  process above its level before the matrix was built, divided by the matrix size (goal <= 1.2).

The weight matrix is built column block by column block, directly in Fortran order, so that the
benchmark itself does not create copies of it.  Usage::

    python benchmarks/particles.py                 # N = 1000 4000 10000, float64
    python benchmarks/particles.py --N 2000 --dtype float32 --repeat 3
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from solvers.model import NeuronModel
from solvers.particles import simulate


def ring_weights(N: int, dtype=np.float64, J0: float = 1.0, J1: float = 0.5, block: int = 32) -> np.ndarray:
    """``W_ij = (J0 + J1 cos(2 pi (xi_i - xi_j))) / N``, ``W_ii = 0``, built in column blocks."""
    xi = (np.arange(N) + 0.5) / N
    W = np.empty((N, N), dtype=dtype, order="F")
    for a in range(0, N, block):
        b = min(N, a + block)
        W[:, a:b] = (J0 + J1 * np.cos(2 * np.pi * (xi[:, None] - xi[None, a:b]))) / N
    W[np.arange(N), np.arange(N)] = 0.0
    return W


def maxrss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def baseline(W: np.ndarray, cols: np.ndarray) -> float:
    """Seconds for ``X += W[:, j]`` over ``cols`` (numpy loop)."""
    X = np.zeros(W.shape[0])
    t0 = time.perf_counter()
    for j in cols:
        X += W[:, j]
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="+", default=[10000, 4000, 1000])
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per N (the best is reported)")
    args = ap.parse_args(argv)
    model = NeuronModel.standard()
    dtype = np.dtype(args.dtype)
    # warm-up: compile (or load from cache) the loop for this dtype
    simulate(model, ring_weights(64, dtype), 1.0, 0.0, 0)
    rss0 = maxrss_bytes()
    print("standard neuron, ring kernel, dense", dtype.name, f"T = {args.t_end}; machine shared, timings noisy")
    header = (f"{'N':>6} {'spikes':>9} {'cand':>9} {'wall_s':>8} {'events/s':>10} {'base_s':>8} "
              f"{'baseline/s':>10} {'ratio':>6} {'W_MB':>8} {'peak/W':>7}")
    print(header)
    for k, N in enumerate(args.N):
        W = ring_weights(N, dtype)
        best = None
        for rep in range(args.repeat):
            res = simulate(model, W, args.t_end, 0.0, args.seed)
            if best is None or res.wall_time < best.wall_time:
                best = res
        peak = f"{(maxrss_bytes() - rss0) / W.nbytes:7.2f}" if k == 0 else f"{'n/a':>7}"
        tb = min(baseline(W, best.spike_neurons) for _ in range(args.repeat))
        ev = best.n_spikes * (N - 1) / best.wall_time
        bs = best.n_spikes * (N - 1) / tb
        print(f"{N:>6} {best.n_spikes:>9} {best.n_candidates:>9} {best.wall_time:>8.3f} {ev:>10.3e} "
              f"{tb:>8.3f} {bs:>10.3e} {ev / bs:>6.2f} {W.nbytes / 2**20:>8.1f} {peak}")
        del W
    print("peak/W: (peak RSS of the process - RSS before the first matrix) / matrix size; only for the "
          "first N (the peak is a high-water mark), so list the largest N first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
