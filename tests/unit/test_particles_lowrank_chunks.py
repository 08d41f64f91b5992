"""The low-rank and on-the-fly loops run in chunks like the dense ones (issue 10 on top of issue 11).

* A run cut into chunks (down to one candidate or one clock step per chunk, the spike buffers grown
  between chunks) is bit-identical to a run in one chunk: low-rank global stream, per-neuron streams
  with a bounded intensity (the ``O(R)`` heap loop) and with an unbounded one (the dense path's loop
  with the low-rank column pass), the low-rank clock loop, and the on-the-fly operator (exact and clock).
* SIGINT stops a running simulation between two chunks: ``KeyboardInterrupt`` propagates with the note
  of :class:`~solvers.particles._chunks.RunMonitor` (sent to this process by a timer thread, so the
  test measures the real path from the signal to the exception).
* ``max_wall_time`` stops them with :class:`SimulationError`; ``progress=True`` draws the bar.
"""
from __future__ import annotations

import math
import os
import signal
import threading
import time

import numpy as np
import pytest

from solvers.errors import SimulationError
from solvers.graphons import ring, skew
from solvers.model import Exponential, Leaky, NeuronModel
from solvers.particles import LowRankOperator, OnTheFlyOperator, _chunks, _kernels, _lowrank, clock, exact, simulate

STANDARD = NeuronModel.standard()
EXPONENTIAL = NeuronModel(Leaky(1.5), Exponential(1.0, 5.0, 1.0), reset=-0.2)


def _spy(monkeypatch, module, name, paused):
    """Count the calls of a compiled chunk and those that returned ``paused`` (budget used)."""
    real = getattr(module, name)
    calls = {"all": 0, "paused": 0}

    def wrapper(*args):
        code = real(*args)
        calls["all"] += 1
        calls["paused"] += code == paused
        return code
    monkeypatch.setattr(module, name, wrapper)
    return calls


N = 150
CASES = {
    # name: (model, weights, simulate options, (module, chunk function, its "budget used" code))
    "lowrank-global": (STANDARD, lambda: LowRankOperator.from_kernel(skew(), N), {},
                       (_lowrank, "global_loop", _lowrank.CHUNK_DONE)),
    "lowrank-per-neuron": (STANDARD, lambda: LowRankOperator.from_kernel(skew(), N, streams="per-neuron"), {},
                           (_lowrank, "neuron_loop", _lowrank.CHUNK_DONE)),
    "lowrank-per-neuron-unbounded": (EXPONENTIAL, lambda: LowRankOperator.from_kernel(ring(), N, streams="per-neuron"),
                                     {}, (exact, "_exact_chunk", _kernels.PAUSED)),
    "lowrank-clock": (STANDARD, lambda: LowRankOperator.from_kernel(skew(), N), {"method": "clock", "dt": 0.01},
                      (_lowrank, "clock_loop", _lowrank.CHUNK_DONE)),
    "onthefly-exact": (STANDARD, lambda: OnTheFlyOperator(skew(), N), {}, (exact, "_exact_chunk", _kernels.PAUSED)),
    "onthefly-unbounded": (EXPONENTIAL, lambda: OnTheFlyOperator(ring(), N), {},
                           (exact, "_exact_chunk", _kernels.PAUSED)),
    "onthefly-clock": (STANDARD, lambda: OnTheFlyOperator(skew(), N), {"method": "clock", "dt": 0.01},
                       (clock, "_clock_chunk", _kernels.PAUSED)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_runs_are_bit_identical_to_one_chunk(monkeypatch, name):
    model, make, kw, (module, fn, paused) = CASES[name]
    W = make()
    T = 8.0
    x0 = np.linspace(-0.5, 1.5, N)
    rec = np.array([0.0, 0.5, 3.3, 7.0, T])
    monkeypatch.setattr(_chunks, "CHUNK_WORK", 1 << 62)
    calls = _spy(monkeypatch, module, fn, paused)
    whole = simulate(model, W, T, x0, 4, save_times=rec, **kw)
    assert whole.n_spikes > 1000
    assert calls["paused"] == 0     # one chunk (apart from growing the spike buffer)
    for budget in (1, 97, 5000):
        monkeypatch.setattr(_chunks, "CHUNK_WORK", budget)
        calls["paused"] = 0
        cut = simulate(model, W, T, x0, 4, save_times=rec, **kw)
        assert calls["paused"] > 20, budget
        np.testing.assert_array_equal(cut.spike_times, whole.spike_times)
        np.testing.assert_array_equal(cut.spike_neurons, whole.spike_neurons)
        np.testing.assert_array_equal(cut.states, whole.states)
        assert (cut.n_candidates, cut.n_rebases, cut.n_renewals, cut.info) == (
            whole.n_candidates, whole.n_rebases, whole.n_renewals, whole.info)


def test_default_chunks_of_the_global_stream_are_short(monkeypatch):
    """About 10 ms of work per chunk (the latency of Ctrl-C)."""
    durations = []
    real = _lowrank.global_loop

    def timed(*args):
        t0 = time.perf_counter()
        code = real(*args)
        durations.append(time.perf_counter() - t0)
        return code
    monkeypatch.setattr(_lowrank, "global_loop", timed)
    simulate(STANDARD, LowRankOperator.from_kernel(ring(), 20000), 20.0, 0.0, 1)   # 4e6 candidates
    assert len(durations) > 10
    assert np.median(durations) < 0.1, np.median(durations)   # a loaded machine: 10x margin


# ------------------------------------------------------------------------------ Ctrl-C (SIGINT)
INTERRUPTIBLE = {
    "lowrank-global": (LowRankOperator.from_kernel(ring(), 2000), {}),
    "lowrank-per-neuron": (LowRankOperator.from_kernel(ring(), 2000, streams="per-neuron"), {}),
    "lowrank-clock": (LowRankOperator.from_kernel(ring(), 2000), {"method": "clock", "dt": 1e-2}),
    "onthefly": (OnTheFlyOperator(ring(), 2000), {}),
}
T_LONG = 1e4   # endless here (minutes); the clock grid has T_LONG / dt + 1 entries (8 MB)


@pytest.mark.parametrize("name", sorted(INTERRUPTIBLE))
def test_sigint_stops_the_run_between_chunks(name):
    W, kw = INTERRUPTIBLE[name]
    simulate(STANDARD, W, 0.02, 0.0, 1, **kw)   # compile or load the loop first
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            # endless without the signal; max_wall_time = 60 s only guards against a hang of the test
            simulate(STANDARD, W, T_LONG, 0.0, 1, max_spikes=10**12, max_wall_time=60.0, **kw)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.3 + 2.0, elapsed          # a chunk is ~10 ms: 2 s leaves room for a loaded machine
    note = " ".join(getattr(info.value, "__notes__", []))
    assert "interrupted at t = " in note and "of t_end = 10000" in note and "partial run is discarded" in note


# ------------------------------------------------------------------------ budget and progress bar
@pytest.mark.parametrize("streams", ["global", "per-neuron"])
def test_max_wall_time_stops_a_lowrank_run(streams):
    W = LowRankOperator.from_kernel(ring(), 2000, streams=streams)
    simulate(STANDARD, W, 1e-3, 0.0, 1)
    t0 = time.perf_counter()
    with pytest.raises(SimulationError, match=r"max_wall_time = 0\.2 s is used up at t = .* spikes per neuron"):
        simulate(STANDARD, W, T_LONG, 0.0, 1, max_spikes=10**12, max_wall_time=0.2)
    assert time.perf_counter() - t0 < 5.0
    a = simulate(STANDARD, W, 2.0, 0.0, 1)
    b = simulate(STANDARD, W, 2.0, 0.0, 1, max_wall_time=600.0)   # a generous budget changes nothing
    np.testing.assert_array_equal(a.spike_times, b.spike_times)


def test_progress_bar_of_the_lowrank_and_onthefly_loops(capsys):
    for W, kw, label in ((LowRankOperator.from_kernel(ring(), 300), {}, "exact"),
                         (LowRankOperator.from_kernel(ring(), 300), {"method": "clock", "dt": 0.01}, "clock"),
                         (OnTheFlyOperator(ring(), 300), {}, "exact")):
        simulate(STANDARD, W, 3.0, 0.0, 1, progress=True, **kw)
        err = capsys.readouterr().err
        assert f"simulate {label} N=300" in err and "t = 3 / 3" in err and "spikes=" in err
        simulate(STANDARD, W, 3.0, 0.0, 1, progress=False, **kw)
        assert capsys.readouterr().err == ""


def test_monitor_sees_the_time_reached(monkeypatch):
    """Between chunks the monitor is told the simulated time, increasing up to t_end."""
    seen = []
    real = _chunks.RunMonitor.update

    def update(self, t_reached, n_spikes, n_candidates, *, final=False):
        if self.t_end == 3.0:   # not the warm-up run of simulate (t_end = 1e-300)
            seen.append((float(t_reached), int(n_spikes), final))
        return real(self, t_reached, n_spikes, n_candidates, final=final)
    monkeypatch.setattr(_chunks.RunMonitor, "update", update)
    monkeypatch.setattr(_chunks, "CHUNK_WORK", 20000)
    for W, kw in ((LowRankOperator.from_kernel(ring(), 200), {}),
                  (LowRankOperator.from_kernel(ring(), 200, streams="per-neuron"), {}),
                  (LowRankOperator.from_kernel(ring(), 200), {"method": "clock", "dt": 0.01})):
        seen.clear()
        res = simulate(STANDARD, W, 3.0, 0.0, 1, **kw)
        times = np.array([t for t, _, _ in seen])
        assert len(seen) > 5 and seen[-1][2] and not any(f for _, _, f in seen[:-1])
        assert np.all(np.diff(times) >= 0) and times[-1] == 3.0 and 0 < times[0] < 3.0
        assert seen[-1][1] == res.n_spikes
        assert math.isfinite(times.sum())
