"""Benchmark of the exact network simulator: synaptic events per second against a baseline of the same run.

Dense rows.  For the standard neuron on the ring network (``w = 1 + 0.5 cos(2 pi (xi - zeta))``,
dense, zero diagonal, ``X(0) = 0``) at N = 1000, 4000, 10000 and T = 10, prints

* ``events/s`` = ``spikes * (N - 1) / wall`` of :func:`solvers.particles.simulate` (``method="exact"``,
  numba compilation excluded by a warm-up run);
* ``baseline/s``: the same number of column additions ``X += W[:, j]`` done by a numpy loop over the
  same matrix, for the spiking neurons of the run in the same order (the memory traffic of the
  spikes, with no dynamics), measured in the same process;
* ``ratio`` = events/s / baseline/s (goal >= 0.7 at N = 10000) and the peak resident memory of the
  process above its level before the matrix was built, divided by the matrix size (goal <= 1.2).

Low-rank rows (``--lowrank-N``, default 10^6; listed first, so that their peak memory is measured
before the dense matrices exist).  The same run with ``LowRankOperator.from_kernel(ring(), N)``
(rank 3, the global candidate stream), against the memory-latency floor of the same run: a compiled
loop doing the same number of random reads of a neuron's record (drawn by the same generator) and
``R`` multiply-adds each, nothing else (:func:`solvers.particles._lowrank.floor_loop`), and the same
loop with the simulator's 16-ahead prefetching (``floor_loop_prefetched``, the faster floor).  Prints
wall time (goal at N = 10^6: < 15 s, < 60 s on a loaded machine), candidates/s, the equivalent dense
synaptic events/s (``spikes * (N - 1) / wall``), ``floor / wall`` for both floors (goal >= 0.5) and
the peak resident memory above the level before the operator was built (goal < 1 GB).  With
``--per-neuron-N`` the per-neuron-streams mode (the dense path's spikes) is timed too.

The weight matrix is built column block by column block, directly in Fortran order, so that the
benchmark itself does not create copies of it.  Usage::

    python benchmarks/particles.py                 # low-rank N = 10^6, dense N = 10000 4000 1000
    python benchmarks/particles.py --N 2000 --dtype float32 --repeat 3 --lowrank-N
    python benchmarks/particles.py --N --lowrank-N 1000000 100000 --per-neuron-N 100000
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from solvers.graphons import ring
from solvers.model import NeuronModel
from solvers.particles import LowRankOperator, _lowrank, lowrank, simulate


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


def floors(op: LowRankOperator, n_candidates: int, repeat: int) -> tuple[float, float]:
    """Seconds of the two memory-latency floors (plain, prefetched) for ``n_candidates`` reads of the
    packed records of ``op`` (best of ``repeat``)."""
    rec, _buf, nr = lowrank._packed(op, np.zeros(op.N))
    key = np.uint64(0x5EED)
    bj = np.empty(lowrank.PREFETCH_DISTANCE, dtype=np.int64)
    _lowrank.floor_loop(rec, nr, 16, key)
    _lowrank.floor_loop_prefetched(rec, nr, 16, key, bj)
    plain, pref = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _lowrank.floor_loop(rec, nr, n_candidates, key)
        t1 = time.perf_counter()
        _lowrank.floor_loop_prefetched(rec, nr, n_candidates, key, bj)
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        pref.append(t2 - t1)
    return min(plain), min(pref)


def lowrank_rows(model: NeuronModel, sizes: list[int], per_neuron: list[int], t_end: float, seed: int,
                 repeat: int) -> None:
    small = LowRankOperator.from_kernel(ring(), 64)
    simulate(model, small, 1.0, 0.0, 0)  # warm-up: compile (or load) the loops and the floors
    simulate(model, small.with_streams("per-neuron"), 1.0, 0.0, 0)
    floors(small, 16, 1)
    print(f"standard neuron, ring kernel, low rank (R = 3), T = {t_end}; machine shared, timings noisy")
    print(f"{'N':>8} {'streams':>10} {'spikes':>10} {'cand':>10} {'wall_s':>7} {'cpu_s':>6} {'cand/s':>9} "
          f"{'events/s':>9} {'floor_s':>7} {'fl/wall':>7} {'pf_s':>6} {'pf/wall':>7} {'peak_MB':>8}")
    rows = [(N, "global") for N in sizes] + [(N, "per-neuron") for N in per_neuron]
    for k, (N, streams) in enumerate(rows):
        rss0 = maxrss_bytes()
        op = LowRankOperator.from_kernel(ring(), N, streams=streams)
        wall = cpu = float("inf")
        for _ in range(repeat):  # keep only the counters: one result alive at a time (peak memory)
            c0 = time.process_time()
            res = simulate(model, op, t_end, 0.0, seed)
            cpu = min(cpu, time.process_time() - c0)
            wall = min(wall, res.wall_time)
            n_spikes, n_cand = res.n_spikes, res.n_candidates
            del res
        peak = f"{(maxrss_bytes() - rss0) / 2**20:8.0f}" if k == 0 else f"{'n/a':>8}"
        fl, pf = floors(op, n_cand, repeat)
        print(f"{N:>8} {streams:>10} {n_spikes:>10} {n_cand:>10} {wall:>7.2f} {cpu:>6.2f} "
              f"{n_cand / wall:>9.2e} {n_spikes * (N - 1) / wall:>9.2e} {fl:>7.2f} {fl / wall:>7.2f} "
              f"{pf:>6.2f} {pf / wall:>7.2f} {peak}")
        del op
    print("wall_s: the event loop (SimulationResult.wall_time); cpu_s: CPU time of the whole simulate call (on a "
          "loaded machine wall > cpu).  floor_s: random reads of a drawn neuron's record + R multiply-adds, as many "
          "as candidates; pf_s: the same with the simulator's prefetching (the faster floor); x/wall >= 0.5 is the "
          "goal.  peak_MB: peak RSS above the level before the operator, first row only (a high-water mark)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="*", default=[10000, 4000, 1000], help="dense sizes (none: skip)")
    ap.add_argument("--lowrank-N", type=int, nargs="*", default=[1000000], help="low-rank sizes (none: skip)")
    ap.add_argument("--per-neuron-N", type=int, nargs="*", default=[],
                    help="low-rank sizes timed with the per-neuron streams too")
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per N (the best is reported)")
    args = ap.parse_args(argv)
    model = NeuronModel.standard()
    if args.lowrank_N or args.per_neuron_N:
        lowrank_rows(model, args.lowrank_N, args.per_neuron_N, args.t_end, args.seed, args.repeat)
    if not args.N:
        return 0
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
        for _rep in range(args.repeat):
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
