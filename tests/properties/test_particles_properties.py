"""Property tests (hypothesis) of :func:`solvers.particles.simulate` on random small models and weights.

For every drawn model (leaky drift, one of the named intensity families with random parameters,
random reset), weights (dense float64/float32 or sparse, any sign, random diagonal) and initial state:
no NaN, spikes sorted in time, counters consistent, records do not change the spikes, and a neuron
recorded exactly at its own spike time is at the reset value.  The compiled loop agrees with the
Python reference loop, the clock scheme keeps the same invariants, and a run cut into chunks of any
size equals a run in one chunk.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.errors import SimulationError
from solvers.model import Constant, Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from solvers.particles import simulate

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def models(draw):
    I0 = draw(st.floats(-1.0, 3.0, **finite))
    reset = draw(st.floats(-1.0, 1.0, **finite))
    kind = draw(st.sampled_from(["sigmoid", "exponential", "constant", "relu", "relu-uncapped"]))
    if kind == "sigmoid":
        f = Sigmoid(draw(st.floats(0.0, 8.0, **finite)), draw(st.floats(0.1, 8.0, **finite)),
                    draw(st.floats(-1.0, 2.0, **finite)))
    elif kind == "exponential":
        f = Exponential(draw(st.floats(0.0, 3.0, **finite)), draw(st.floats(0.1, 1.5, **finite)),
                        draw(st.floats(0.0, 2.0, **finite)))
    elif kind == "constant":
        f = Constant(draw(st.floats(0.0, 5.0, **finite)))
    else:
        cap = math.inf if kind == "relu-uncapped" else draw(st.floats(0.5, 8.0, **finite))
        f = ReLU(draw(st.floats(0.0, 4.0, **finite)), draw(st.floats(-1.0, 1.0, **finite)), cap)
    return NeuronModel(Leaky(I0), f, reset=reset)


@st.composite
def networks(draw):
    N = draw(st.integers(1, 6))
    vals = draw(st.lists(st.floats(-0.4, 0.4, **finite), min_size=N * N, max_size=N * N))
    W = np.array(vals).reshape(N, N)
    storage = draw(st.sampled_from(["dense64", "dense32", "sparse"]))
    if storage == "dense32":
        W = W.astype(np.float32)
    elif storage == "sparse":
        W = sp.csc_matrix(np.where(np.abs(W) > 0.2, W, 0.0))
    x0 = np.array(draw(st.lists(st.floats(-2.0, 3.0, **finite), min_size=N, max_size=N)))
    return W, x0


def _check_invariants(res, N, strict):
    assert res.states.shape == (len(res.save_times), N)
    assert np.all(np.isfinite(res.states)) and np.all(np.isfinite(res.spike_times))
    d = np.diff(res.spike_times)
    assert np.all(d > 0) if strict else np.all(d >= 0)
    assert res.n_spikes == len(res.spike_times) == len(res.spike_neurons) <= res.n_candidates
    assert np.all((res.spike_neurons >= 0) & (res.spike_neurons < N))
    assert np.all((res.spike_times > 0) & (res.spike_times <= res.t_end))
    assert res.population_rate(res.t_end / 3).counts.sum() == res.n_spikes


@settings(max_examples=60)
@given(model=models(), net=networks(), seed=st.integers(0, 2**32))
def test_exact_invariants_and_reset_values(model, net, seed):
    W, x0 = net
    N = x0.size
    res = simulate(model, W, 2.0, x0, seed, max_spikes=20_000, save_times=[0.0, 1.0, 2.0])
    _check_invariants(res, N, strict=True)
    if res.n_spikes:
        # recording does not consume randomness: same spikes; at its own spike a neuron is at x_r
        k = min(res.n_spikes, 50)
        again = simulate(model, W, 2.0, x0, seed, max_spikes=20_000, save_times=res.spike_times[:k])
        np.testing.assert_array_equal(again.spike_times, res.spike_times)
        own = again.states[np.arange(k), res.spike_neurons[:k]]
        scale = 1.0 + abs(model.drift.I0) + abs(model.reset)
        np.testing.assert_allclose(own, model.reset, rtol=0, atol=1e-14 * scale)


@settings(max_examples=60)
@given(model=models(), net=networks(), seed=st.integers(0, 2**32))
def test_compiled_equals_reference(model, net, seed):
    W, x0 = net
    a = simulate(model, W, 1.5, x0, seed, max_spikes=5_000, save_times=[0.7, 1.5])
    b = simulate(model, W, 1.5, x0, seed, max_spikes=5_000, save_times=[0.7, 1.5], path="python")
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_allclose(a.spike_times, b.spike_times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.states, b.states, rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(model=models(), net=networks(), seed=st.integers(0, 2**32))
def test_clock_invariants(model, net, seed):
    W, x0 = net
    N = x0.size
    sup = model.intensity.sup
    dt = 0.01 if not math.isfinite(sup) or sup == 0 else min(0.05, 1.0 / sup)
    try:
        res = simulate(model, W, 1.0, x0, seed, method="clock", dt=dt, save_times=[0.5, 1.0])
    except SimulationError as exc:  # unbounded f may break the documented rule dt * f <= 1 during the run
        assert not math.isfinite(sup) and "dt * f(X)" in str(exc)
        return
    _check_invariants(res, N, strict=False)
    # spike times are step ends, each neuron at most once per step
    steps = np.round(res.spike_times / dt).astype(np.int64)
    assert len(set(zip(steps.tolist(), res.spike_neurons.tolist()))) == res.n_spikes
    fired_last = res.spike_neurons[res.spike_times == res.t_end]
    np.testing.assert_array_equal(res.states[-1, fired_last], model.reset)


@settings(max_examples=40)
@given(model=models(), net=networks(), seed=st.integers(0, 2**32), budget=st.integers(1, 3000),
       clock=st.booleans())
def test_chunked_run_equals_one_chunk(model, net, seed, budget, clock):
    """Any chunk size (work units per call of the compiled loop) gives the spikes and states of a run in
    one chunk, bit for bit (issue 11)."""
    import pytest

    from solvers.particles import _chunks

    W, x0 = net
    sup = model.intensity.sup
    kw = {}
    if clock:
        kw = {"method": "clock", "dt": 0.01 if not math.isfinite(sup) or sup == 0 else min(0.05, 1.0 / sup)}
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        for work in (1 << 62, budget):
            mp.setattr(_chunks, "CHUNK_WORK", work)
            try:
                runs.append(simulate(model, W, 1.5, x0, seed, max_spikes=5_000, save_times=[0.7, 1.5], **kw))
            except SimulationError as exc:
                runs.append(str(exc))
    a, b = runs
    if isinstance(a, str):
        assert a == b
        return
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_array_equal(a.states, b.states)
    assert (a.n_candidates, a.n_renewals, a.info) == (b.n_candidates, b.n_renewals, b.info)
