"""Benchmark of the exact network simulator: synaptic events per second against a bandwidth baseline,
unbounded against bounded intensities, and the cost of running the compiled loops in chunks.

For the standard leaky drift on the ring network (``w = 1 + 0.5 cos(2 pi (xi - zeta))``, dense, zero
diagonal, ``X(0) = 0``) at N = 10000, 4000, 1000 and T = 10, prints for each intensity (the standard
sigmoid ``lam = 10, beta = 5, theta = 1``, and the exponential escape ``c = 1, beta = 5, theta = 1``
of the NEST ``pp_psc_delta`` comparison, unbounded)

* ``events/s`` = ``spikes * (N - 1) / wall`` of :func:`solvers.particles.simulate` (``method="exact"``,
  numba compilation excluded by a warm-up run; ``wall`` is the event loop's time);
* ``baseline/s``: the same number of column additions ``X += W[:, j]`` done by a numpy loop over the
  same matrix, for the spiking neurons of the run in the same order (the memory traffic of the
  spikes, with no dynamics), measured in the same process, and ``ratio`` = events/s / baseline/s
  (goal >= 0.7 at N = 10000 for the sigmoid);
* ``vs sig``: events/s of the row over events/s of the sigmoid at the same N, measured in the same
  run (issue 14: >= 0.5 for the exponential at N = 10000);
* ``peak/W``: peak resident memory of the process above its level before the first matrix, divided
  by the matrix size (goal <= 1.2; only for the first N, the peak being a high-water mark).

Runs of the intensities alternate within each repeat (``--repeat``, best of), so a loaded machine
slows them alike.  ``--chunks`` measures instead the chunked loops (the default work budget of
:data:`solvers.particles._chunks.CHUNK_WORK`, about 10 ms per chunk) against the same loops run in one
chunk, alternating, and prints the ratio of their wall times (issue 11: within noise).

The weight matrix is built column block by column block, directly in Fortran order, so that the
benchmark itself does not create copies of it.  Usage::

    python benchmarks/particles.py                       # N = 10000 4000 1000, float64, T = 10
    python benchmarks/particles.py --N 10000 --t-end 1   # the horizon of issue 14's table
    python benchmarks/particles.py --N 2000 --dtype float32 --repeat 3
    python benchmarks/particles.py --chunks --N 10000 --repeat 5
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from solvers.model import Exponential, NeuronModel
from solvers.particles import _chunks, simulate

STANDARD = NeuronModel.standard()
#: the exponential escape of issue 14 (unbounded), with the standard drift and reset
EXPONENTIAL = NeuronModel(STANDARD.drift, Exponential(1.0, 5.0, 1.0), reset=STANDARD.reset)
MODELS = {"sigmoid": STANDARD, "exponential": EXPONENTIAL}


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


def _rates(args, dtype) -> None:
    rss0 = maxrss_bytes()
    print(f"leaky drift I0 = 1.5, ring kernel, dense {dtype.name}, T = {args.t_end}; intensities {args.intensity}; "
          "machine shared, timings noisy: compare ratios within a row block")
    print(f"{'N':>6} {'intensity':>11} {'spikes':>9} {'cand':>9} {'wall_s':>8} {'events/s':>10} {'base_s':>8} "
          f"{'baseline/s':>10} {'ratio':>6} {'vs sig':>6} {'W_MB':>8} {'peak/W':>7}")
    for k, N in enumerate(args.N):
        W = ring_weights(N, dtype)
        best: dict[str, object] = {}
        for _ in range(args.repeat):
            for name in args.intensity:
                res = simulate(MODELS[name], W, args.t_end, 0.0, args.seed)
                if name not in best or res.wall_time < best[name].wall_time:
                    best[name] = res
        peak = f"{(maxrss_bytes() - rss0) / W.nbytes:7.2f}" if k == 0 else f"{'n/a':>7}"
        ev = {name: r.n_spikes * (N - 1) / r.wall_time for name, r in best.items()}
        for name, res in best.items():
            tb = min(baseline(W, res.spike_neurons) for _ in range(args.repeat))
            bs = res.n_spikes * (N - 1) / tb
            vs = f"{ev[name] / ev['sigmoid']:6.2f}" if "sigmoid" in ev else f"{'n/a':>6}"
            print(f"{N:>6} {name:>11} {res.n_spikes:>9} {res.n_candidates:>9} {res.wall_time:>8.3f} {ev[name]:>10.3e} "
                  f"{tb:>8.3f} {bs:>10.3e} {ev[name] / bs:>6.2f} {vs} {W.nbytes / 2**20:>8.1f} {peak}")
        del W
    print("peak/W: (peak RSS of the process - RSS before the first matrix) / matrix size; only for the "
          "first N (the peak is a high-water mark), so list the largest N first")


def _chunk_overhead(args, dtype) -> None:
    from solvers.particles import exact

    default = _chunks.CHUNK_WORK
    real = exact._exact_chunk
    calls = [0]

    def counted(*a):
        calls[0] += 1
        return real(*a)
    print(f"chunked loops (CHUNK_WORK = {default}) against one chunk, ring kernel, dense {dtype.name}, "
          f"T = {args.t_end}, best of {args.repeat} alternating runs; machine shared, timings noisy")
    print(f"{'N':>6} {'intensity':>11} {'spikes':>9} {'one_s':>8} {'chunked_s':>9} {'chunks':>7} {'ratio':>6} "
          f"{'us/chunk':>8} {'implied':>8}")
    exact._exact_chunk = counted
    tiny = 2000   # a budget of ~30 candidates: the fixed cost of a chunk dominates, so it can be measured
    try:
        for N in args.N:
            W = ring_weights(N, dtype)
            for name in args.intensity:
                best = {"one": np.inf, "chunked": np.inf, "tiny": np.inf}
                n_calls = {}
                spikes = None
                for _ in range(args.repeat):
                    for label, budget in (("one", 1 << 62), ("chunked", default), ("tiny", tiny)):
                        _chunks.CHUNK_WORK = budget
                        calls[0] = 0
                        res = simulate(MODELS[name], W, args.t_end, 0.0, args.seed)
                        best[label] = min(best[label], res.wall_time)
                        n_calls[label] = calls[0] - 1   # minus the warm-up call of simulate
                        if spikes is not None and not np.array_equal(spikes, res.spike_times):
                            raise AssertionError("chunked and one-chunk runs differ")
                        spikes = res.spike_times
                per_chunk = (best["tiny"] - best["one"]) / max(n_calls["tiny"] - n_calls["one"], 1)
                implied = n_calls["chunked"] * per_chunk / best["one"]
                print(f"{N:>6} {name:>11} {spikes.shape[0]:>9} {best['one']:>8.3f} {best['chunked']:>9.3f} "
                      f"{n_calls['chunked']:>7} {best['chunked'] / best['one']:>6.3f} {per_chunk * 1e6:>8.2f} "
                      f"{implied:>8.2e}")
            del W
    finally:
        _chunks.CHUNK_WORK = default
        exact._exact_chunk = real
    print("ratio = chunked wall / one-chunk wall (1 = no overhead; noisy); us/chunk: fixed cost of a chunk, from "
          f"runs with a budget of {tiny} units; implied = chunks x us/chunk / one-chunk wall (the overhead, "
          "robust to noise).  The spikes of all runs are checked identical")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="+", default=[10000, 4000, 1000])
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--intensity", nargs="+", choices=sorted(MODELS), default=["sigmoid", "exponential"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per N and intensity (the best is reported)")
    ap.add_argument("--chunks", action="store_true", help="measure the chunking overhead instead")
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)
    for model in MODELS.values():   # warm-up: compile (or load from cache) the loops for this dtype
        simulate(model, ring_weights(64, dtype), 1.0, 0.0, 0)
    if args.chunks:
        _chunk_overhead(args, dtype)
    else:
        _rates(args, dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
