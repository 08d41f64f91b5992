"""Side-by-side benchmark: ifmf (exact, dense and low-rank) against Brian2 and NEST on the ring network.

The network: ``N`` neurons, ``W_ij = (1 + 0.5 cos(2 pi (xi_i - xi_j))) / N``, ``W_ii = 0``, ``X(0) = 0``,
``T = 10``, leaky drift ``dX/dt = 1.5 - X``, reset 0.  Two intensities:

* the standard neuron ``f = 10 / (1 + exp(-5 (x - 1)))``: ifmf exact dense (float64 weights, and the same
  weights stored as float32: half the memory traffic per spike; the state stays float64, so that row simulates
  exactly the network whose weights are rounded to float32, a relative change of at most ``2^-24``), ifmf exact low-rank
  (``LowRankOperator.from_kernel(ring(), N)``, global candidate stream), and Brian2 (C++ standalone
  when it builds, else its runtime target; ``threshold = rand() < 1 - exp(-f dt)``, exact linear
  integration, synaptic kicks applied in the step of the spike, then the reset);
* ``f = exp(5 (x - 1))`` (``Exponential(c=1, beta=5, theta=1)``): NEST's ``pp_psc_delta`` has only the
  escape rate ``c_1 V + c_2 exp(c_3 V)``, so the NEST row uses ``c_1 = 0``, ``c_2 = e^{-5}``,
  ``c_3 = 5`` against ifmf exact dense and low-rank (per-neuron streams: the intensity is unbounded).
  Units: 1 time unit = 1 s = 1000 ms (``tau_m = 1000 ms``), potentials in mV, rates in Hz,
  ``C_m = 1 pF``, ``I_e = 1.5 C_m / tau_m``, delta synapses with the weights in mV.  NEST forces a
  synaptic delay of at least one step (``delay = dt``: kicks arrive one step late) and turns a dead
  time below the resolution into one step (``dead_time = 1e-8``: at most one spike per step, none in
  the step after a spike): both are ``O(dt)`` effects, as the clock discretisation itself.

The clock-driven peers' rates carry an ``O(dt)`` bias, so each runs at two steps ``dt`` and ``dt / 2``
and the table shows their Richardson extrapolation ``2 r(dt/2) - r(dt)`` (s.e. ``sqrt(4 s_2^2 + s_1^2)``)
next to ifmf's exact rate; ``z`` is the difference in units of the combined standard error.  Speed:
``events/s`` = spikes ``* (N - 1)`` / loop time, where the loop time excludes building the network
(ifmf: ``SimulationResult.wall_time``; Brian2 standalone: its own timer of the run; Brian2 runtime:
``Network.run`` after a first run that compiles; NEST: ``nest.Simulate``).  Rates: spikes / (N T) per
run, mean +- standard error over the seeds (ifmf seeds 0..S-1; NEST ``rng_seed`` 1..S; Brian2
runtime ``seed(s)``; Brian2 standalone draws a new seed from the clock at each run of the compiled
binary, so those runs are independent but not reproducible).

Ceilings of the same run: on the spike columns of one dense ifmf run, a compiled loop that only reads
(and sums) each spike's column, float64 and float32: no dense exact simulator can exceed its events/s on
one core of this machine, since each of a spike's ``N - 1`` weights must be read once; and a compiled
``x += W[:, j]`` loop, the work of a simulator that moves every potential at each spike.  The last lines
set the goals (2.5 x Brian2, 50 x NEST, against their best events/s) against these ceilings.

The peers run in a virtual environment of their own that this script creates (default
``<ifmf cache>/peers-venv``) with the requirements of the ``bench`` extra of ``pyproject.toml``
(``numpy<2.4``: Brian2 2.9, the newest for Python 3.11, fails to import with numpy >= 2.4), leaving
the project's environment alone; a peer that cannot be installed or built is reported and skipped.
This file is also the peers' worker (``--worker``; that mode imports neither ifmf nor the project).
Usage::

    python benchmarks/peers.py                       # N = 1000, T = 10, 4 seeds, dt = 1e-3 and 5e-4
    python benchmarks/peers.py --N 10000 --seeds 8 --json results.json
    python benchmarks/peers.py --N 200 --t-end 1 --peers   # the ifmf rows only (no venv is made)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

I0, XR = 1.5, 0.0
SIGMOID = {"lam": 10.0, "beta": 5.0, "theta": 1.0}
EXPONENTIAL = {"c": 1.0, "beta": 5.0, "theta": 1.0}
J0, J1 = 1.0, 0.5
# Brian2's weight expression for the synapse i -> j (source i, target j): the same ring weights, since
# xi_j - xi_i = (j - i) / N and cos is even (tests/unit/test_peers_benchmark.py evaluates it with numpy)
BRIAN2_WEIGHT = "(J0 + J1 * cos(2 * pi * (i - j) / NN)) / NN"
REPO = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 20 * 60


def ring_weights(N: int) -> np.ndarray:
    """``(J0 + J1 cos(2 pi (xi_i - xi_j))) / N`` with ``W_ii = 0`` (numpy only: used by the workers)."""
    xi = (np.arange(N) + 0.5) / N
    W = (J0 + J1 * np.cos(2 * np.pi * (xi[:, None] - xi[None, :]))) / N
    np.fill_diagonal(W, 0.0)
    return W


def stats(values) -> tuple[float, float]:
    """Mean and standard error of the mean (``nan`` s.e. for one value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan


# ---------------------------------------------------------------------------------- workers (peer venv)
def brian2_worker(N: int, t_end: float, dts: list[float], seeds: int, workdir: str) -> dict:
    """Standard neuron in Brian2 at each ``dt``: C++ standalone if it builds, else the runtime target."""
    import brian2 as b2

    out = {"peer": "Brian2", "version": b2.__version__, "runs": []}
    ns = {"I0": I0, "tau": 1 * b2.second, "lam": SIGMOID["lam"] * b2.Hz, "beta": SIGMOID["beta"],
          "theta": SIGMOID["theta"], "NN": N, "J0": J0, "J1": J1}

    def network():
        G = b2.NeuronGroup(N, "dv/dt = (I0 - v) / tau : 1", method="exact", reset="v = 0", namespace=ns,
                           threshold="rand() < -expm1(-lam * dt / (1 + exp(-beta * (v - theta))))")
        G.v = 0
        S = b2.Synapses(G, G, "w : 1", on_pre="v_post += w", namespace=ns)
        S.connect(condition="i != j")
        S.w = BRIAN2_WEIGHT
        mon = b2.SpikeMonitor(G, record=False)
        return b2.Network(G, S, mon), mon

    for dt in dts:
        row = {"dt": dt, "rates": [], "loop_s": [], "spikes": []}
        try:  # C++ standalone: one build per dt, then one run of the binary per seed
            directory = os.path.join(workdir, f"standalone_{N}_{dt:g}")
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
            b2.defaultclock.dt = dt * b2.second
            net, mon = network()
            net.run(t_end * b2.second, namespace=ns)
            t0 = time.perf_counter()
            b2.device.build(directory=directory, run=False)
            row["build_s"] = time.perf_counter() - t0
            for _ in range(seeds):
                b2.device.run()
                row["loop_s"].append(float(b2.device._last_run_time))
                row["spikes"].append(int(mon.num_spikes))
                row["rates"].append(int(mon.num_spikes) / (N * t_end))
            row["target"] = "cpp_standalone (seed from the clock per run)"
        except Exception as exc:  # noqa: BLE001 - any build failure: fall back to the runtime target
            row = {"dt": dt, "rates": [], "loop_s": [], "spikes": [],
                   "standalone_error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            b2.device.reinit()
            b2.set_device("runtime")
            b2.prefs.codegen.target = "cython"
            for s in range(seeds + 1):  # the first run compiles (dropped)
                b2.start_scope()
                b2.defaultclock.dt = dt * b2.second
                b2.seed(s)
                net, mon = network()
                t0 = time.perf_counter()
                net.run(t_end * b2.second, namespace=ns)
                if s > 0 or seeds == 0:
                    row["loop_s"].append(time.perf_counter() - t0)
                    row["spikes"].append(int(mon.num_spikes))
                    row["rates"].append(int(mon.num_spikes) / (N * t_end))
            row["target"] = "runtime (cython), seed(s)"
        out["runs"].append(row)
    return out


def nest_worker(N: int, t_end: float, dts: list[float], seeds: int, workdir: str) -> dict:
    """``Exponential(1, 5, 1)`` network in NEST (``pp_psc_delta``) at each ``dt``, one thread."""
    import nest

    nest.set_verbosity("M_ERROR")
    tau, C = 1000.0, 1.0  # 1 time unit = 1000 ms
    W = ring_weights(N)  # (targets, sources), as NEST's all_to_all takes an array of weights
    out = {"peer": "NEST", "version": str(getattr(nest, "__version__", "?")), "runs": []}
    for dt in dts:
        row = {"dt": dt, "rates": [], "loop_s": [], "spikes": [], "target": "pp_psc_delta, 1 thread"}
        for s in range(seeds):
            nest.ResetKernel()
            nest.SetKernelStatus({"resolution": dt * 1000.0, "rng_seed": s + 1, "local_num_threads": 1})
            pop = nest.Create("pp_psc_delta", N, params={
                "tau_m": tau, "C_m": C, "I_e": I0 * C / tau, "c_1": 0.0,
                "c_2": EXPONENTIAL["c"] * math.exp(-EXPONENTIAL["beta"] * EXPONENTIAL["theta"]),
                "c_3": EXPONENTIAL["beta"], "dead_time": 1e-8, "with_reset": True, "V_m": 0.0})
            # all_to_all with the N x N array: built in C++ (N = 10^4: about 30 s and 7 GB); the
            # autapses carry W_ii = 0, which leaves V unchanged (NEST then delivers N events per spike, one
            # more than counted below)
            t0 = time.perf_counter()
            nest.Connect(pop, pop, conn_spec={"rule": "all_to_all", "allow_autapses": True},
                         syn_spec={"synapse_model": "static_synapse", "weight": W, "delay": dt * 1000.0})
            row.setdefault("connect_s", []).append(time.perf_counter() - t0)
            rec = nest.Create("spike_recorder")
            nest.Connect(pop, rec)
            t0 = time.perf_counter()
            nest.Simulate(t_end * 1000.0)
            row["loop_s"].append(time.perf_counter() - t0)
            n = int(rec.get("n_events"))
            row["spikes"].append(n)
            row["rates"].append(n / (N * t_end))
        out["runs"].append(row)
    return out


WORKERS = {"brian2": brian2_worker, "nest": nest_worker}


# ---------------------------------------------------------------------------------- main (project env)
def ifmf_rows(N: int, t_end: float, seeds: int) -> tuple[list[dict], list[dict]]:
    """The ifmf rows, and the ceilings (:func:`ceiling_rows`) on the spike columns of the first dense run."""
    from solvers.graphons import ring
    from solvers.model import Exponential, Leaky, NeuronModel, Sigmoid
    from solvers.particles import LowRankOperator, simulate

    standard = NeuronModel(Leaky(I0), Sigmoid(**SIGMOID), reset=XR)
    expo = NeuronModel(Leaky(I0), Exponential(**EXPONENTIAL), reset=XR)
    W = ring().weights(N)
    W32 = W.astype(np.float32)
    cases = [("ifmf exact dense", "standard", standard, W),
             ("ifmf exact dense float32", "standard", standard, W32),
             ("ifmf exact low-rank (global)", "standard", standard, LowRankOperator.from_kernel(ring(), N)),
             ("ifmf exact dense", "exponential", expo, W),
             ("ifmf exact dense float32", "exponential", expo, W32),
             ("ifmf exact low-rank (per-neuron)", "exponential", expo,
              LowRankOperator.from_kernel(ring(), N, streams="per-neuron"))]
    rows = []
    cols = None
    for name, model_name, model, weights in cases:
        simulate(model, weights, 0.1, 0.0, 0)  # compile or load the loop
        row = {"name": name, "model": model_name, "dt": None, "rates": [], "loop_s": [], "spikes": []}
        for s in range(seeds):
            res = simulate(model, weights, t_end, 0.0, s)
            row["rates"].append(res.mean_rate)
            row["loop_s"].append(res.wall_time)
            row["spikes"].append(res.n_spikes)
            if cols is None:  # dense float64, standard neuron, seed 0
                cols = res.spike_neurons
        rows.append(row)
    return rows, ceiling_rows({"float64": W, "float32": W32}, cols)


def read_ceiling(W: np.ndarray, cols: np.ndarray, repeat: int = 3) -> float:
    """Synaptic events/s of compiled loops that only *read* the columns ``W[:, j]`` of the given spikes
    and sum them (``fastmath``, so the sums vectorise and the loop is bound by memory, not by an add
    chain); the best of a one-stream and a four-stream loop, best of ``repeat`` each.

    Every exact simulator of a dense, unstructured network must read the ``N - 1`` weights of a
    spiking neuron's column at least once (each of them moves another neuron's potential), and this loop
    reads the same columns in the same order from the same memory (caches included: at N = 10^4 the
    800 MB matrix is in none of them, at N = 1000 it fits in the last level), so this is an upper bound on
    the synaptic events/s of *any* dense exact simulator on this machine, one core, for this weight dtype
    (not on structured paths such as low-rank, which read no column).
    """
    import numba

    @numba.njit(fastmath=True, cache=False)
    def _read1(W, cols):
        acc = 0.0
        for j in cols:
            c = W[:, j]
            a = 0.0
            for i in range(c.shape[0]):
                a += c[i]
            acc += a
        return acc

    @numba.njit(fastmath=True, cache=False)
    def _read4(W, cols):
        n = W.shape[0]
        q = n // 4
        acc = 0.0
        for j in cols:
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            for i in range(q):
                a0 += W[i, j]
                a1 += W[i + q, j]
                a2 += W[i + 2 * q, j]
                a3 += W[i + 3 * q, j]
            for i in range(4 * q, n):
                a0 += W[i, j]
            acc += a0 + a1 + a2 + a3
        return acc

    Wf = np.asfortranarray(W)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    best = math.inf
    for loop in (_read1, _read4):
        loop(Wf, cols[:10])  # compile
        for _ in range(repeat):
            t0 = time.perf_counter()
            loop(Wf, cols)
            best = min(best, time.perf_counter() - t0)
    return cols.size * (W.shape[0] - 1) / best


def add_loop(W: np.ndarray, cols: np.ndarray, repeat: int = 3) -> float:
    """Synaptic events/s of a compiled loop doing ``x += W[:, j]`` for the given spikes (four
    interleaved streams, as ifmf's dense pass): the work of a simulator that moves every potential at
    each spike, without the candidates, the bounds or the reset (best of ``repeat``)."""
    import numba

    @numba.njit(fastmath=True, cache=False)
    def _add(W, cols, x):
        n = W.shape[0]
        q = n // 4
        for j in cols:
            for i in range(q):
                x[i] += W[i, j]
                x[i + q] += W[i + q, j]
                x[i + 2 * q] += W[i + 2 * q, j]
                x[i + 3 * q] += W[i + 3 * q, j]
            for i in range(4 * q, n):
                x[i] += W[i, j]

    Wf = np.asfortranarray(W)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    x = np.zeros(W.shape[0])
    _add(Wf, cols[:10], x)
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _add(Wf, cols, x)
        best = min(best, time.perf_counter() - t0)
    return cols.size * (W.shape[0] - 1) / best


def ceiling_rows(weights: dict[str, np.ndarray], cols: np.ndarray) -> list[dict]:
    """The read ceiling and the column-add loop for each weight dtype, on the given spike columns."""
    return [{"name": f"weight-read ceiling {dtype}", "events_s": read_ceiling(W, cols),
             "add_events_s": add_loop(W, cols), "columns": int(cols.size)} for dtype, W in weights.items()]


def bench_requirements() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(REPO / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["project"]["optional-dependencies"]["bench"])


def ensure_venv(path: Path, requirements: list[str]) -> tuple[str | None, dict[str, str]]:
    """The peers' interpreter (``None`` if the venv cannot be made) and, per requirement, ``"ok"`` or
    why it could not be installed.  Each requirement is installed on its own, so one failure does not
    stop the others."""
    python = path / "bin" / "python"
    status: dict[str, str] = {}
    if not python.exists():
        print(f"creating the peers' virtual environment {path} ...", flush=True)
        r = subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            return None, {"venv": r.stderr.strip()[-300:]}
    numpy_req = [q for q in requirements if q.replace(" ", "").startswith("numpy")]
    for req in requirements:
        cmd = [str(python), "-m", "pip", "install", "-q", req] + (numpy_req if req not in numpy_req else [])
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
            ok = r.returncode == 0
            msg = "ok" if ok else (r.stderr.strip().splitlines() or ["pip failed"])[-1][:300]
        except subprocess.TimeoutExpired:
            msg = f"pip did not finish within {INSTALL_TIMEOUT} s"
        status[req] = msg
        print(f"  pip install {req}: {msg} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return str(python), status


def run_worker(python: str, worker: str, args: argparse.Namespace, workdir: str) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", worker, "--N", str(args.N), "--t-end", str(args.t_end),
           "--seeds", str(args.seeds), "--dt", *[str(d) for d in args.dt], "--workdir", workdir]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.worker_timeout, env=env, cwd=workdir)
    except subprocess.TimeoutExpired:
        return {"error": f"{worker}: no result within {args.worker_timeout} s"}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        return {"error": f"{worker} failed: " + (r.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def extrapolated(r1: list[float], r2: list[float]) -> tuple[float, float]:
    """``2 r(dt/2) - r(dt)`` and its standard error from the two independent samples."""
    m1, s1 = stats(r1)
    m2, s2 = stats(r2)
    return 2 * m2 - m1, math.sqrt(4 * s2 * s2 + s1 * s1)


def print_ceilings(N: int, rows: list[dict], ceilings: list[dict]) -> None:
    """The read ceilings, and each peer's best events/s times the factor the goals ask for."""
    print(f"\n{'read ceiling (any dense exact simulator)':<42} {'events/s':>9} {'x += W[:, j]':>12}  (columns of "
          f"{ceilings[0]['columns']} spikes of the dense standard run)")
    for c in ceilings:
        print(f"{c['name']:<42} {c['events_s']:>9.2e} {c.get('add_events_s', math.nan):>12.2e}")
    f64 = ceilings[0]["events_s"]
    for peer, goal in (("Brian2", 2.5), ("NEST", 50.0)):
        peer_rows = [r for r in rows if r["name"].startswith(peer) and r.get("rates")]
        if not peer_rows:
            continue
        best = max(float(np.sum(r["spikes"])) * (N - 1) / float(np.sum(r["loop_s"])) for r in peer_rows)
        need = goal * best
        print(f"{goal:g} x {peer}'s best events/s = {need:.2e}: {need / f64:.2f} x the float64 read ceiling, "
              f"{need / ceilings[1]['events_s']:.2f} x the float32 one")


def print_table(N: int, t_end: float, rows: list[dict], notes: list[str]) -> None:
    print(f"\nring network, N = {N}, T = {t_end}; loop times on a shared machine (ratios in the same run are the "
          "meaningful numbers)")
    print(f"{'simulator':<34} {'model':<11} {'dt':>8} {'runs':>4} {'loop_s':>8} {'events/s':>9} "
          f"{'rate (mean +- s.e.)':>22} {'z vs ifmf':>9}")
    exact = {r["model"]: r for r in rows if r["dt"] is None and r["name"] == "ifmf exact dense"}
    for r in rows:
        if r.get("rates"):
            m, se = stats(r["rates"])
            loop = float(np.mean(r["loop_s"]))
            ev = float(np.sum(r["spikes"])) * (N - 1) / float(np.sum(r["loop_s"]))
            dt = "exact" if r["dt"] is None else f"{r['dt']:g}"
            print(f"{r['name']:<34} {r['model']:<11} {dt:>8} {len(r['rates']):>4} {loop:>8.3f} {ev:>9.2e} "
                  f"{m:>12.4f} +- {se:<7.4f} {'':>9}")
        if r.get("extrapolated"):
            m, se = r["extrapolated"]
            ref = exact.get(r["model"])
            z = ""
            if ref is not None:
                mr, sr = stats(ref["rates"])
                z = f"{(m - mr) / math.sqrt(se * se + sr * sr):9.2f}"
            print(f"{r['name'] + ' (dt -> 0)':<34} {r['model']:<11} {'extrap.':>8} {'':>4} {'':>8} {'':>9} "
                  f"{m:>12.4f} +- {se:<7.4f} {z:>9}")
    for n in notes:
        print("note:", n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=1000,
                    help="neurons (NEST needed 7 GB at 10^4: memory grows as N^2)")
    ap.add_argument("--t-end", type=float, default=10.0, help="simulated time T")
    ap.add_argument("--seeds", type=int, default=4, help="runs per simulator and dt (>= 2 for standard errors)")
    ap.add_argument("--dt", type=float, nargs=2, default=[1e-3, 5e-4], help="the two clock steps (dt, dt/2)")
    ap.add_argument("--venv", type=Path, default=None, help="the peers' virtual environment")
    ap.add_argument("--peers", nargs="*", default=["brian2", "nest"], choices=sorted(WORKERS),
                    help="peers to run (default both; the flag alone: none, only the ifmf rows and the ceilings)")
    ap.add_argument("--worker-timeout", type=float, default=3600.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:  # inside the peers' venv: no ifmf
        print(json.dumps(WORKERS[args.worker](args.N, args.t_end, args.dt, args.seeds, args.workdir)))
        return 0
    if args.N < 2 or args.seeds < 1 or not args.t_end > 0:
        ap.error(f"--N {args.N}, --seeds {args.seeds}, --t-end {args.t_end}: need N >= 2, seeds >= 1 and T > 0")
    if not math.isclose(args.dt[1], args.dt[0] / 2, rel_tol=1e-9):
        ap.error("--dt takes dt and dt/2 (the extrapolation 2 r(dt/2) - r(dt) assumes the halving)")
    from solvers._compiled import cache_root

    rows, ceilings = ifmf_rows(args.N, args.t_end, args.seeds)
    notes: list[str] = []
    venv_path = args.venv or cache_root() / "peers-venv"
    python, status = ensure_venv(venv_path, bench_requirements()) if args.peers else (None, {})
    with tempfile.TemporaryDirectory(prefix="ifmf-peers-") as workdir:
        for peer in args.peers:
            req = {"brian2": "brian2", "nest": "nest-simulator"}[peer]
            st = next((v for k, v in status.items() if k.replace(" ", "").startswith(req)), "not requested")
            if python is None or st != "ok":
                notes.append(f"{peer}: not installed ({st}); skipped")
                continue
            print(f"running {peer} ...", flush=True)
            res = run_worker(python, peer, args, workdir)
            if "error" in res:
                notes.append(res["error"])
                continue
            model = "standard" if peer == "brian2" else "exponential"
            runs = res["runs"]
            for run in runs:
                rows.append({"name": f"{res['peer']} {res['version']}", "model": model, "dt": run["dt"],
                             "rates": run["rates"], "loop_s": run["loop_s"], "spikes": run["spikes"]})
                notes.append(f"{res['peer']} dt = {run['dt']:g}: {run.get('target', '')}"
                             + (f"; build {run['build_s']:.0f} s" if "build_s" in run else "")
                             + (f"; connect {np.mean(run['connect_s']):.0f} s per run" if "connect_s" in run else "")
                             + (f"; standalone failed: {run['standalone_error']}" if "standalone_error" in run else ""))
            if len(runs) == 2 and all(len(r["rates"]) > 1 for r in runs):
                rows.append({"name": f"{res['peer']} {res['version']}", "model": model, "dt": -1, "rates": [],
                             "extrapolated": extrapolated(runs[0]["rates"], runs[1]["rates"])})
    if "nest" in args.peers:
        notes.append("NEST: synaptic delay forced to >= one step (kicks arrive dt late) and dead time of one step; "
                     "both O(dt), removed by the extrapolation to first order")
    print_table(args.N, args.t_end, rows, notes)
    print_ceilings(args.N, rows, ceilings)
    if args.json:
        args.json.write_text(json.dumps({"N": args.N, "t_end": args.t_end, "rows": rows, "ceilings": ceilings,
                                         "notes": notes}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
