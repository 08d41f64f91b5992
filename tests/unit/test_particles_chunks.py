"""Long runs that can be stopped (issue 11): chunked compiled loops, Ctrl-C, the wall-clock budget,
the progress bar.

* A run cut into chunks (any chunk size, down to one candidate per chunk, with the spike buffer grown
  between chunks) is bit-identical to a run in one chunk, for every compiled loop (exact global and
  local bounds, dense, sparse, float32; clock).
* SIGINT sent to a process running a long simulation stops it within a fraction of a second:
  ``KeyboardInterrupt`` propagates with a note giving the time reached (the partial run is
  discarded), and ``ifmf simulate`` prints one line, writes nothing and exits with 130.
* ``max_wall_time`` stops a run with :class:`SimulationError`; the bar is drawn on stderr when asked,
  or automatically when stderr is a terminal, never otherwise.
"""
from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import scipy.sparse as sp

from solvers.errors import InvalidArgumentError, SimulationError
from solvers.graphons import ring
from solvers.model import Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from solvers.particles import _chunks, _kernels, clock, exact, simulate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _weights(kind, N, seed=1):
    rng = np.random.default_rng(seed)
    W = ring().weights(N) + rng.normal(0.0, 0.3 / N, (N, N))
    if kind == "sparse":
        return sp.csc_matrix(np.where(rng.random((N, N)) < 0.3, W / 0.3, 0.0))
    if kind == "float32":
        return W.astype(np.float32)
    return W


def _spy(monkeypatch, module, name):
    """Count the returns of a compiled chunk: PAUSED (work budget used) and FULL (buffer grown)."""
    real = getattr(module, name)
    calls = {"paused": 0, "full": 0}

    def wrapper(*args):
        code = real(*args)
        calls["paused"] += code == _kernels.PAUSED
        calls["full"] += code == _kernels.FULL
        return code
    monkeypatch.setattr(module, name, wrapper)
    return calls


CASES = {
    "exact-sigmoid-dense": (NeuronModel.standard(), "dense", {}),
    "exact-exponential-dense": (NeuronModel(Leaky(1.5), Exponential(1.0, 5.0, 1.0), reset=-0.2), "dense", {}),
    "exact-exponential-float32": (NeuronModel(Leaky(1.5), Exponential(1.0, 3.0, 1.0)), "float32", {}),
    "exact-relu-sparse": (NeuronModel(Leaky(1.6), ReLU(2.0, 1.0, math.inf)), "sparse", {}),
    "exact-sigmoid-sparse": (NeuronModel(Leaky(1.2), Sigmoid(6.0, 3.0, 0.8)), "sparse", {}),
    "clock-dense": (NeuronModel.standard(), "dense", {"method": "clock", "dt": 0.01}),
    "clock-sparse": (NeuronModel(Leaky(1.5), Exponential(1.0, 1.0, 1.0)), "sparse", {"method": "clock", "dt": 0.01}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_runs_are_bit_identical_to_one_chunk(monkeypatch, name):
    model, kind, kw = CASES[name]
    N, T = 150, 12.0
    W = _weights(kind, N)
    x0 = np.linspace(-0.5, 1.5, N)
    rec = np.array([0.0, 0.5, 3.3, 7.0, 12.0])
    module, fn = (clock, "_clock_chunk") if "method" in kw else (exact, "_exact_chunk")
    monkeypatch.setattr(_chunks, "CHUNK_WORK", 1 << 62)
    calls = _spy(monkeypatch, module, fn)
    whole = simulate(model, W, T, x0, 4, save_times=rec, **kw)
    assert whole.n_spikes > 1000
    assert calls["paused"] == 0      # one chunk (apart from growing the spike buffer)
    grown = calls["full"]
    for budget in (1, 97, 5000):
        monkeypatch.setattr(_chunks, "CHUNK_WORK", budget)
        calls["paused"] = calls["full"] = 0
        cut = simulate(model, W, T, x0, 4, save_times=rec, **kw)
        assert calls["paused"] > 20, budget
        np.testing.assert_array_equal(cut.spike_times, whole.spike_times)
        np.testing.assert_array_equal(cut.spike_neurons, whole.spike_neurons)
        np.testing.assert_array_equal(cut.states, whole.states)
        assert (cut.n_candidates, cut.n_rebases, cut.n_renewals, cut.info) == (
            whole.n_candidates, whole.n_rebases, whole.n_renewals, whole.info)
    if name.startswith("exact-exponential"):
        assert grown >= 1   # the spike buffer was grown between chunks (no sup f to size it)
        assert whole.info.kick_allowance_changes >= 1


def test_default_chunks_are_short(monkeypatch):
    """About 10 ms of work per chunk (the latency of Ctrl-C): a dense run of ~1 s comes in many."""
    res_calls = []
    real = exact._exact_chunk

    def timed(*args):
        t0 = time.perf_counter()
        code = real(*args)
        res_calls.append(time.perf_counter() - t0)
        return code
    monkeypatch.setattr(exact, "_exact_chunk", timed)
    simulate(NeuronModel.standard(), ring().weights(1000), 20.0, 0.0, 1)
    assert len(res_calls) > 10
    assert np.median(res_calls) < 0.1, np.median(res_calls)   # a loaded machine: 10x margin


# ------------------------------------------------------------------------------ Ctrl-C (SIGINT)
_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from solvers.model import Exponential, Leaky, NeuronModel
    from solvers.particles import simulate
    method = sys.argv[1]
    if method == "exact":   # the runaway of issue 11: minutes of spikes, ever faster
        model, W, kw = NeuronModel(Leaky(1.5), Exponential(1.0, 1.0, 1.0)), np.ones((20, 20)), {}
    else:                   # a long clock run
        model, W, kw = NeuronModel.standard(), np.full((400, 400), 1.0 / 400), {"method": "clock", "dt": 1e-4}
    simulate(model, W, 1e-3, 0.0, 1, max_spikes=10**9, **kw)   # compile or load the loop first
    print("ready", flush=True)
    t0 = time.perf_counter()
    try:
        simulate(model, W, 1000.0, 0.0, 1, max_spikes=10**9, **kw)
    except KeyboardInterrupt as exc:
        print("interrupted after %.3f s" % (time.perf_counter() - t0), flush=True)
        print("notes:", " | ".join(getattr(exc, "__notes__", [])), flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


def _start(argv, **kw):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


@pytest.mark.slow   # ~3 s each: a process that loads the loops, runs 1 s, is interrupted
@pytest.mark.parametrize("method", ["exact", "clock"])
def test_sigint_stops_a_compiled_run_promptly(method):
    proc = _start([sys.executable, "-c", _CHILD, method])
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(1.0)                      # well inside the compiled loop
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        latency = time.perf_counter() - sent
    finally:
        proc.kill()
    assert proc.returncode == 3, (out, err)
    assert "interrupted after" in out and "Traceback" not in err
    assert latency < 2.0, latency            # one chunk is ~10 ms; 2 s leaves room for a loaded machine
    assert f"simulate (method='{method}'" in out and "interrupted at t = " in out and "of t_end = 1000" in out
    assert "the partial run is discarded" in out


@pytest.mark.slow   # ~10 s: two command-line processes (the first compiles or loads the loops)
def test_sigint_on_the_command_line_writes_nothing_and_exits_130(tmp_path):
    import shutil

    exe = os.path.join(os.path.dirname(sys.executable), "ifmf")
    exe = exe if os.access(exe, os.X_OK) else shutil.which("ifmf")
    assert exe, "the ifmf command is not installed: pip install -e '.[test]'"
    np.save(tmp_path / "W.npy", np.ones((20, 20)))
    out_file = tmp_path / "run.npz"
    argv = [exe, "-v", "simulate", "--seed", "1", "--weights", str(tmp_path / "W.npy"), "--intensity", "exponential",
            "--t-end", "10", "--out", str(out_file)]
    subprocess.run([exe, "simulate", "--seed", "1", "--kernel", "ring", "--N", "20", "--t-end", "0.01",
                    "--intensity", "exponential"],
                   capture_output=True, timeout=300, cwd=tmp_path)   # compile or load the loops
    proc = _start(argv, cwd=tmp_path)
    try:
        seen = []
        while not any("exact thinning" in line for line in seen):   # the run has reached simulate()
            line = proc.stderr.readline()
            assert line, seen
            seen.append(line)
        time.sleep(1.0)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        latency = time.perf_counter() - sent
    finally:
        proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    assert "ifmf simulate: interrupted (Ctrl-C)" in err and "interrupted at t = " in err, err
    assert "nothing was written" in err
    assert latency < 2.0
    assert not out_file.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["W.npy"]


# ------------------------------------------------------------------------ budget and progress bar
def test_max_wall_time_checks_and_message():
    W = ring().weights(20)
    for bad in (0.0, -1.0, math.nan, "1"):
        with pytest.raises(InvalidArgumentError, match="max_wall_time"):
            simulate(NeuronModel.standard(), W, 1.0, 0.0, 1, max_wall_time=bad)
    with pytest.raises(InvalidArgumentError, match="progress"):
        simulate(NeuronModel.standard(), W, 1.0, 0.0, 1, progress=1)
    # a generous budget does not change the run
    a = simulate(NeuronModel.standard(), W, 5.0, 0.0, 1)
    b = simulate(NeuronModel.standard(), W, 5.0, 0.0, 1, max_wall_time=600.0)
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    # the Python loops obey it too (checked every 256 candidates / every step)
    from solvers.model import CustomIntensity

    custom = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: 0 * x + 50.0, bound=50.0))
    t0 = time.perf_counter()
    with pytest.raises(SimulationError, match=r"max_wall_time = 0\.2 s is used up at t = "):
        simulate(custom, np.zeros((50, 50)), 1e6, 0.0, 1, max_wall_time=0.2)
    with pytest.raises(SimulationError, match=r"method='clock': the wall-clock budget"):
        simulate(custom, np.zeros((50, 50)), 1e4, 0.0, 1, method="clock", dt=1e-3, max_wall_time=0.2)
    assert time.perf_counter() - t0 < 10


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_request_on_a_terminal_and_never_otherwise(monkeypatch, capsys):
    W = ring().weights(200)
    simulate(NeuronModel.standard(), W, 3.0, 0.0, 1, progress=True)
    err = capsys.readouterr().err
    assert "simulate exact N=200" in err and "t = 3 / 3" in err and "spikes=" in err
    simulate(NeuronModel.standard(), W, 3.0, 0.0, 1, method="clock", dt=0.01, progress=True)
    assert "simulate clock N=200" in capsys.readouterr().err
    monkeypatch.setattr(_chunks, "PROGRESS_DELAY", 0.0)
    simulate(NeuronModel.standard(), W, 3.0, 0.0, 1)               # stderr is not a terminal: silent
    assert capsys.readouterr().err == ""
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    simulate(NeuronModel.standard(), W, 3.0, 0.0, 1)               # a terminal: the automatic bar
    assert "simulate exact N=200" in term.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    simulate(NeuronModel.standard(), W, 3.0, 0.0, 1, progress=False)
    assert quiet.getvalue() == ""


def test_automatic_bar_waits_for_the_delay():
    term = _Terminal()
    mon = _chunks.RunMonitor(method="exact", N=10, t_end=1.0, progress=None, file=term)
    with mon:
        mon.update(0.5, 10, 20)
    assert term.getvalue() == ""       # a short run (< PROGRESS_DELAY = 3 s) shows nothing
    late = _chunks.RunMonitor(method="exact", N=10, t_end=1.0, max_wall_time=1e-9, progress=False)
    with late:
        late.update(1.0, 10, 20, final=True)   # the run is over: no budget error after the fact
        with pytest.raises(SimulationError, match="max_wall_time"):
            late.update(0.5, 10, 20)
