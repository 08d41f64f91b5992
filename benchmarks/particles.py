"""Benchmark of the exact network simulator: synaptic events per second against baselines of the same run.

The network: the standard leaky drift (``I0 = 1.5``, reset 0) on the ring kernel
(``w = 1 + 0.5 cos(2 pi (xi - zeta))``, zero diagonal, ``X(0) = 0``), ``method="exact"``, numba
compilation excluded by warm-up runs, ``wall`` the event loop's time
(``SimulationResult.wall_time``).  Three blocks of rows, in this order (so that the peak memory of the
first low-rank row is measured before any dense matrix exists):

Low-rank rows (``--lowrank-N``, default 10^6)
    ``LowRankOperator.from_kernel(ring(), N)`` (rank 3, the global candidate stream), standard
    sigmoid, ``T = --t-end``, against the memory-latency floor of the same run: a compiled loop doing
    the same number of random reads of a neuron's record (drawn by the same generator) and ``R``
    multiply-adds each, nothing else (:func:`solvers.particles._lowrank.floor_loop`), and the same loop
    with the simulator's 16-ahead prefetching (``floor_loop_prefetched``, the faster floor).  Prints
    wall and CPU time (goal at N = 10^6: < 15 s, < 60 s on a loaded machine), candidates/s, the
    equivalent dense synaptic events/s (``spikes * (N - 1) / wall``), ``floor / wall`` for both floors
    (goal >= 0.5) and the peak resident memory above the level before the operator was built (goal
    < 1 GB).  With ``--per-neuron-N`` the per-neuron-streams mode (the dense path's spikes) is timed too.

On-the-fly rows (``--onthefly-N``, default 10^5)
    ``OnTheFlyOperator(kernel, N)`` for the named ``ring`` (evaluated inline) and for a user's kernel
    ``w(x, z) = exp(-3 |x - z|) + 0.5`` (a Python function, compiled as a C callback and called
    through its address), standard sigmoid, ``T = --onthefly-t-end`` (default 0.3: a spike costs
    ``N`` kernel evaluations, about 1 ms at ``N = 10^5``, and ``T = 10`` has 3e6 spikes), against a
    compiled loop that only evaluates the kernel column (``W[:, j]`` for each spiking neuron ``j`` of
    the run, in order, into a buffer: :func:`solvers.particles._kernels.weight_column`, the same
    evaluation the simulator does) and, for the user's kernel, against a numba loop calling the
    user's jitted function directly (inlined by the compiler: the strictest baseline).  Prints
    ``col/wall`` (goal >= 0.5 at N = 10^5) and ``inl/wall``.

Dense rows (``--N``, default 10000 4000 1000)
    For each intensity (the standard sigmoid ``lam = 10, beta = 5, theta = 1``, and the exponential
    escape ``c = 1, beta = 5, theta = 1`` of the NEST ``pp_psc_delta`` comparison, unbounded), dense
    weights (``--dtype``):

    * ``events/s`` = ``spikes * (N - 1) / wall``;
    * ``baseline/s``: the same number of column additions ``X += W[:, j]`` done by a numpy loop over
      the same matrix, for the spiking neurons of the run in the same order (the memory traffic of
      the spikes, with no dynamics), measured in the same process, and ``ratio`` = events/s /
      baseline/s (goal >= 0.7 at N = 10000 for the sigmoid);
    * ``vs sig``: events/s of the row over events/s of the sigmoid at the same N, measured in the same
      run (issue 14: >= 0.5 for the exponential at N = 10000);
    * ``peak/W``: peak resident memory of the process above its level before the first matrix,
      divided by the matrix size (goal <= 1.2; only for the first N, the peak being a high-water mark).

    Runs of the intensities alternate within each repeat (``--repeat``, best of), so a loaded
    machine slows them alike.  The weight matrix is built column block by column block, directly in
    Fortran order, so that the benchmark itself does not create copies of it.

``--chunks`` measures instead the chunked dense loops (the default work budget of
:data:`solvers.particles._chunks.CHUNK_WORK`, about 10 ms per chunk) against the same loops run in
one chunk, alternating, and prints the ratio of their wall times (issue 11: within noise).

Usage::

    python benchmarks/particles.py                          # low-rank 10^6, on the fly 10^5, dense 10000 4000 1000
    python benchmarks/particles.py --onthefly-N --N         # the low-rank rows only
    python benchmarks/particles.py --lowrank-N --onthefly-N --N 10000 --t-end 1   # dense, issue 14's horizon
    python benchmarks/particles.py --lowrank-N --N --onthefly-N 100000 --onthefly-t-end 0.5
    python benchmarks/particles.py --lowrank-N 1000000 100000 --per-neuron-N 100000 --onthefly-N --N
    python benchmarks/particles.py --chunks --N 10000 --repeat 5
"""
from __future__ import annotations

import argparse
import math
import resource
import sys
import time

import numba
import numpy as np

from solvers.graphons import ring
from solvers.model import Exponential, NeuronModel
from solvers.particles import LowRankOperator, OnTheFlyOperator, _chunks, _kernels, _lowrank, lowrank, simulate

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


# ------------------------------------------------------------------------------------ low rank
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


def lowrank_rows(sizes: list[int], per_neuron: list[int], t_end: float, seed: int, repeat: int) -> None:
    small = LowRankOperator.from_kernel(ring(), 64)
    simulate(STANDARD, small, 1.0, 0.0, 0)  # warm-up: compile (or load) the loops and the floors
    simulate(STANDARD, small.with_streams("per-neuron"), 1.0, 0.0, 0)
    floors(small, 16, 1)
    print(f"low rank: standard neuron, ring kernel (R = 3), T = {t_end}; machine shared, timings noisy")
    print(f"{'N':>8} {'streams':>10} {'spikes':>10} {'cand':>10} {'wall_s':>7} {'cpu_s':>6} {'cand/s':>9} "
          f"{'events/s':>9} {'floor_s':>7} {'fl/wall':>7} {'pf_s':>6} {'pf/wall':>7} {'peak_MB':>8}")
    rows = [(N, "global") for N in sizes] + [(N, "per-neuron") for N in per_neuron]
    for k, (N, streams) in enumerate(rows):
        rss0 = maxrss_bytes()
        op = LowRankOperator.from_kernel(ring(), N, streams=streams)
        wall = cpu = float("inf")
        for _ in range(repeat):  # keep only the counters: one result alive at a time (peak memory)
            c0 = time.process_time()
            res = simulate(STANDARD, op, t_end, 0.0, seed)
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
          "goal.  peak_MB: peak RSS above the level before the operator, first row only (a high-water mark)\n")


# ---------------------------------------------------------------------------------- on the fly
def user_kernel(x, z):
    """The user's kernel of the on-the-fly rows: not low-rank, not a named kernel."""
    return math.exp(-3.0 * abs(x - z)) + 0.5


_user_jitted = numba.njit(user_kernel)


@numba.njit
def _column_floor(kpar, kxi, kcell, kint, cols, out):
    """``W[:, j]`` for each ``j`` of ``cols`` into ``out``, the simulator's evaluation, nothing else."""
    acc = 0.0
    for j in cols:
        _kernels.weight_column(kpar, kxi, kcell, kint, j, out)
        acc += out[j]
    return acc


@numba.njit
def _inline_floor(xi, cols, out):
    """The user's kernel column by a direct (inlined) call of the jitted function."""
    n = xi.shape[0]
    acc = 0.0
    for j in cols:
        z = xi[j]
        for i in range(n):
            out[i] = _user_jitted(xi[i], z) / n
        acc += out[j]
    return acc


def column_floors(op: OnTheFlyOperator, cols: np.ndarray, repeat: int, inline: bool) -> tuple[float, float]:
    """Seconds of the column-only loops for the spike sequence ``cols`` (best of ``repeat``)."""
    args = op.kernel_args()[5:]
    out = np.empty(op.N)
    _column_floor(*args, cols[:1], out)
    _inline_floor(op.labels, cols[:1], out)
    col, inl = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _column_floor(*args, cols, out)
        t1 = time.perf_counter()
        if inline:
            _inline_floor(op.labels, cols, out)
        t2 = time.perf_counter()
        col.append(t1 - t0)
        inl.append(t2 - t1)
    return min(col), (min(inl) if inline else math.nan)


def onthefly_rows(sizes: list[int], t_end: float, seed: int, repeat: int) -> None:
    kernels = {"ring": ring(), "user": user_kernel}
    for k in kernels.values():  # warm-up: compile (or load) the loop for each family
        simulate(STANDARD, OnTheFlyOperator(k, 64), 1.0, 0.0, 0)
    print(f"on the fly: standard neuron, T = {t_end}; machine shared, timings noisy")
    print(f"{'N':>8} {'kernel':>7} {'spikes':>8} {'wall_s':>7} {'cpu_s':>6} {'ns/entry':>8} {'events/s':>9} "
          f"{'col_s':>7} {'col/wall':>8} {'inl_s':>7} {'inl/wall':>8} {'op_MB':>6}")
    for N in sizes:
        for name, kernel in kernels.items():
            op = OnTheFlyOperator(kernel, N)
            wall = cpu = float("inf")
            for _ in range(repeat):
                c0 = time.process_time()
                res = simulate(STANDARD, op, t_end, 0.0, seed)
                cpu = min(cpu, time.process_time() - c0)
                wall = min(wall, res.wall_time)
            col, inl = column_floors(op, res.spike_neurons, repeat, inline=name == "user")
            entries = res.n_spikes * N
            inl_text = f"{inl:>7.2f} {inl / wall:>8.2f}" if name == "user" else f"{'-':>7} {'-':>8}"
            print(f"{N:>8} {name:>7} {res.n_spikes:>8} {wall:>7.2f} {cpu:>6.2f} {1e9 * wall / entries:>8.2f} "
                  f"{res.n_spikes * (N - 1) / wall:>9.2e} {col:>7.2f} {col / wall:>8.2f} {inl_text} "
                  f"{op.nbytes / 2**20:>6.1f}")
    print("col_s: a compiled loop evaluating W[:, j] = w(xi_i, xi_j) / N (the simulator's evaluation) for the "
          "spiking neurons of the run, nothing else; col/wall >= 0.5 is the goal.  inl_s: the user's kernel by a "
          "numba loop calling its jitted function directly (inlined, not through the callback's address).  "
          "ns/entry: wall / (spikes * N)\n")


# -------------------------------------------------------------------------------------- dense
def baseline(W: np.ndarray, cols: np.ndarray) -> float:
    """Seconds for ``X += W[:, j]`` over ``cols`` (numpy loop)."""
    X = np.zeros(W.shape[0])
    t0 = time.perf_counter()
    for j in cols:
        X += W[:, j]
    return time.perf_counter() - t0


def dense_rows(args, dtype) -> None:
    for model in MODELS.values():   # warm-up: compile (or load from cache) the loops for this dtype
        simulate(model, ring_weights(64, dtype), 1.0, 0.0, 0)
    rss0 = maxrss_bytes()
    print(f"dense: leaky drift I0 = 1.5, ring kernel, dense {dtype.name}, T = {args.t_end}; intensities "
          f"{args.intensity}; machine shared, timings noisy: compare ratios within a row block")
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


def chunk_overhead(args, dtype) -> None:
    from solvers.particles import exact

    for model in MODELS.values():
        simulate(model, ring_weights(64, dtype), 1.0, 0.0, 0)
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
    ap.add_argument("--N", type=int, nargs="*", default=[10000, 4000, 1000], help="dense sizes (none: skip)")
    ap.add_argument("--lowrank-N", type=int, nargs="*", default=[1000000], help="low-rank sizes (none: skip)")
    ap.add_argument("--per-neuron-N", type=int, nargs="*", default=[],
                    help="low-rank sizes timed with the per-neuron streams too")
    ap.add_argument("--onthefly-N", type=int, nargs="*", default=[100000], help="on-the-fly sizes (none: skip)")
    ap.add_argument("--onthefly-t-end", type=float, default=0.3, help="horizon of the on-the-fly rows")
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--intensity", nargs="+", choices=sorted(MODELS), default=["sigmoid", "exponential"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per row (the best is reported)")
    ap.add_argument("--chunks", action="store_true", help="measure the chunking overhead of the dense loops instead")
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)
    if args.chunks:
        chunk_overhead(args, dtype)
        return 0
    if args.lowrank_N or args.per_neuron_N:
        lowrank_rows(args.lowrank_N, args.per_neuron_N, args.t_end, args.seed, args.repeat)
    if args.onthefly_N:
        onthefly_rows(args.onthefly_N, args.onthefly_t_end, args.seed, args.repeat)
    if args.N:
        dense_rows(args, dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
