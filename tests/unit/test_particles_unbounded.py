"""The exact path for unbounded intensities (issue 14): local bounds with a headroom, a tangent
envelope and a kick allowance, checked in the column pass.

What is checked here, without randomness in the reference:

* :func:`local_bound` against an independent computation written from its docstring: the waiting
  time ``u`` solves ``int_0^u lam(s) ds = e1`` (scipy quadrature of the envelope written here), the
  bound returned is ``lam(u)``, and the envelope dominates ``f`` along the leaky flow plus the allowed
  kick effect ``g e^{-s}`` (the property that makes the thinning exact);
* the compiled loop equals the Python reference loop (same spikes, states, bound renewals and kick
  allowance) on runs where the allowance changes, bounds are renewed by kicks and the integrating
  factor is rebased; and with a tiny estimation window (the allowance changes every few candidates);
* relabelling equivariance stays exact (bit for bit) with allowance changes and renewals;
* which bound is used, and the log line saying why, for each kind of intensity; the blow-up and the
  runaway of the reliability issue stop with a clear error.

The law of the path is checked against an independent oracle in
``tests/convergence/test_particles_independent.py`` (slow).
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate

from solvers.errors import InvalidArgumentError, SimulationError
from solvers.graphons import ring
from solvers.model import CustomDrift, CustomIntensity, Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from solvers.particles import exact, simulate
from solvers.particles._kernels import BOUND_FACTOR, bound_levels, kappa_level, kappa_unit, local_bounds


# ------------------------------------------------------------------------------- local_bound
def _envelope_exponential(c, beta, theta, I0, x):
    """The envelope rate of the docstring, written out: f(min(x + (I0 - x)^+ s, max(x, I0)) + h)."""
    h = math.log(BOUND_FACTOR) / beta

    def lam(s):
        level = min(x + max(I0 - x, 0.0) * s, max(x, I0)) + h
        return c * math.exp(beta * (level - theta))
    return lam, h


@pytest.mark.parametrize("c, beta, theta", [(1.0, 5.0, 1.0), (0.3, 0.7, -0.5), (2.0, 12.0, 2.0)])
@pytest.mark.parametrize("I0", [1.5, -0.4])
def test_local_bound_exponential_inverts_its_envelope_and_dominates_the_flow(c, beta, theta, I0):
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-3.0, 4.0, 40), [I0, I0 - 1e-9, I0 + 1e-9, I0 - 5.0]])
    e1 = rng.exponential(1.0, x.size)
    e1[:4] = [1e-12, 30.0, 1e-3, 5.0]   # tiny and huge variates
    g, u, lam = local_bounds(1, c, beta, theta, I0, x, e1)
    f = Exponential(c, beta, theta)
    for k in range(x.size):
        env, h = _envelope_exponential(c, beta, theta, I0, float(x[k]))
        assert g[k] == pytest.approx(h, rel=1e-15)
        assert 0 < u[k] < math.inf
        pts = [p for p in (1.0,) if p < u[k]]
        area = integrate.quad(env, 0.0, float(u[k]), points=pts or None, epsabs=0, epsrel=1e-12, limit=200)[0]
        assert area == pytest.approx(e1[k], rel=1e-9), (x[k], e1[k], u[k])
        assert lam[k] == pytest.approx(env(float(u[k])), rel=1e-9)
        s = np.linspace(0.0, float(u[k]), 201)
        flow = I0 + (x[k] - I0) * np.exp(-s)
        assert np.all(np.array([env(v) for v in s]) >= f(flow + h * np.exp(-s)) * (1 - 1e-12))


def test_local_bound_survives_an_underflowing_rate():
    """A potential so low that f(x + h) underflows to 0 still gets a finite first candidate, at the
    time the envelope's integral reaches e1 (log-space form)."""
    c, beta, theta, I0 = 1.0, 5.0, 1.0, 1.5
    x = np.array([-160.0])
    assert Exponential(c, beta, theta)(x[0] + math.log(2) / beta) == 0.0
    e1 = 1e-3   # below the envelope's integral over [0, 1] (about f(I0 + h) / alpha = 0.03)
    g, u, lam = local_bounds(1, c, beta, theta, I0, x, np.array([e1]))
    alpha = beta * (I0 - x[0])
    log_a = math.log(c) + beta * (x[0] + g[0] - theta)
    want = (math.log(alpha * e1) - log_a) / alpha   # log1p(alpha e1 / A) / alpha with A -> 0
    assert u[0] == pytest.approx(want, rel=1e-12) and 0 < u[0] < 1
    assert lam[0] == pytest.approx(alpha * e1, rel=1e-12)
    g, u, lam = local_bounds(1, c, beta, theta, I0, x, np.array([1.0]))   # beyond u = 1: the cap
    lam_m = Exponential(c, beta, theta)(I0 + g[0])
    assert lam[0] == pytest.approx(lam_m, rel=1e-12)
    assert u[0] == pytest.approx(1.0 + (1.0 - lam_m / alpha) / lam_m, rel=1e-9)


def test_relu_static_bound_levels():
    slope, theta = 2.0, 1.0
    f = ReLU(slope, theta, math.inf)
    m = np.array([0.2, 1.0, 1.1, 3.0])
    B = bound_levels(3, slope, theta, math.inf, m)
    np.testing.assert_allclose(B[:2], theta)                    # below theta: bound 0
    for mk, bk in zip(m[2:], B[2:]):
        assert f(bk) == pytest.approx(max(BOUND_FACTOR * f(mk), f(mk) + (BOUND_FACTOR - 1)), rel=1e-12)
    g, u, lam = local_bounds(3, slope, theta, math.inf, 0.5, np.array([0.0, 2.0]), np.array([1.0, 1.0]))
    assert lam[0] == 0 and u[0] == math.inf and g[0] == pytest.approx(theta - 0.5)
    # x = 2 above theta: B = 2 + (2 - 1) max(2 - 1, 1 / 2) = 3, so g = 1 and lam = f(3) = 4 = max(2 f(2), f(2) + 1)
    assert g[1] == pytest.approx(1.0) and lam[1] == pytest.approx(4.0) and u[1] == pytest.approx(0.25)


def test_kappa_levels_are_a_power_of_two_grid():
    unit = kappa_unit(1, 1.0, 5.0, 1.0)
    assert unit == pytest.approx(math.log(2) / 5)
    assert kappa_level(0.0, unit) == 0 and kappa_level(-3.0, unit) == 0 and kappa_level(0.3 * unit, unit) == 0
    for drift in (0.4 * unit, unit, 3.7, 250.0):
        k = kappa_level(drift, unit)
        ratio = k / unit
        assert ratio == 2.0 ** round(math.log2(ratio))                 # on the grid
        assert k >= 1.5 * drift > k / 2                                  # the smallest level >= margin * drift


# ------------------------------------------------------------------- compiled = Python reference
def _noisy_ring(N, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    return ring().weights(N) + rng.normal(0.0, scale / N, (N, N))


@pytest.mark.parametrize("storage", ["dense64", "sparse", "dense32"])
def test_compiled_equals_reference_with_allowance_renewals_and_rebase(storage):
    """Same decisions (neurons, counters, allowance) bit for bit; times and states equal up to rounding
    amplified by the dynamics: a candidate time depends on the potential at the renewal, so the
    ulp-level differences of the two loops (integrating factor and rebase vs direct flow) grow like the
    network's perturbations, measured from 5e-15 at t = 5 to 3e-9 at t = 36 on this network."""
    N, T = 120, 36.0   # longer than the rebase horizon (32)
    model = NeuronModel(Leaky(1.5), Exponential(1.0, 5.0, 1.0), reset=-0.2)
    W = _noisy_ring(N, 1)
    if storage == "sparse":
        W = sp.csc_matrix(np.where(np.random.default_rng(2).random((N, N)) < 0.3, W / 0.3, 0.0))
    elif storage == "dense32":
        W = W.astype(np.float32)
    rec = np.array([0.0, 5.0, 31.9, 32.5, 36.0])
    a = simulate(model, W, T, 0.0, 3, save_times=rec)
    b = simulate(model, W, T, 0.0, 3, save_times=rec, path="python")
    assert a.path == "compiled" and b.path == "python"
    assert a.info.kick_allowance_changes >= 1 and a.info.kick_allowance > 0
    assert a.n_renewals > 0 and a.n_rebases >= 1 and a.n_spikes > 5000
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    early = a.spike_times < 10
    np.testing.assert_allclose(a.spike_times[early], b.spike_times[early], rtol=0, atol=1e-13)
    np.testing.assert_allclose(a.spike_times, b.spike_times, rtol=0, atol=1e-7)
    assert (a.n_candidates, a.n_renewals) == (b.n_candidates, b.n_renewals)
    assert (a.info.kick_allowance, a.info.kick_allowance_changes) == (b.info.kick_allowance,
                                                                      b.info.kick_allowance_changes)
    np.testing.assert_allclose(a.states[:2], b.states[:2], atol=1e-12)
    np.testing.assert_allclose(a.states, b.states, atol=1e-6)


@pytest.mark.parametrize("model", [NeuronModel(Leaky(1.5), Exponential(2.0, 1.5, 1.0)),
                                   NeuronModel(Leaky(1.2), ReLU(2.0, 1.0, math.inf), reset=0.3)],
                         ids=["exponential", "relu"])
def test_compiled_equals_reference_when_the_allowance_changes_often(monkeypatch, model):
    """A window of 4 candidates per estimate: the allowance moves up and down many times (every bound
    renewed each time) in a small network with strong positive weights."""
    monkeypatch.setattr(exact, "KAPPA_WINDOW_USED", 4)
    N = 12
    W = np.abs(np.random.default_rng(5).normal(0.0, 0.25, (N, N)))
    x0 = np.linspace(-0.5, 1.5, N)
    a = simulate(model, W, 4.0, x0, 8, save_times=[1.0, 4.0])
    b = simulate(model, W, 4.0, x0, 8, save_times=[1.0, 4.0], path="python")
    assert a.info.kick_allowance_changes >= 3
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_allclose(a.spike_times, b.spike_times, rtol=0, atol=1e-12)
    assert a.info.kick_allowance_changes == b.info.kick_allowance_changes
    np.testing.assert_allclose(a.states, b.states, atol=1e-12)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_relabelling_equivariance_exact_with_allowance_and_renewals(kind):
    N = 150
    rng = np.random.default_rng(11)
    W = _noisy_ring(N, 3)
    if kind == "sparse":
        W = sp.csc_matrix(np.where(rng.random((N, N)) < 0.4, W / 0.4, 0.0))
    model = NeuronModel(Leaky(1.5), Exponential(1.0, 4.0, 1.0))
    x0 = rng.normal(0.5, 0.5, N)
    s = rng.permutation(N)
    rec = np.linspace(0, 6, 4)
    a = simulate(model, W, 6.0, x0, 21, save_times=rec)
    b = simulate(model, W[s][:, s], 6.0, x0[s], 21, save_times=rec, stream_ids=s)
    assert a.info.kick_allowance_changes >= 1 and a.n_renewals > 0
    np.testing.assert_array_equal(b.spike_times, a.spike_times)         # bit for bit
    np.testing.assert_array_equal(s[b.spike_neurons], a.spike_neurons)
    np.testing.assert_array_equal(b.states, a.states[:, s])
    assert (b.n_candidates, b.n_renewals, b.info.kick_allowance) == (a.n_candidates, a.n_renewals,
                                                                      a.info.kick_allowance)


def test_unbounded_path_is_far_cheaper_per_spike_than_redrawing_every_kicked_neuron():
    """The counters that set the cost: on a dense excitatory network the loop examines a few candidates
    and renews fewer bounds than it has spikes (the previous loop redrew every positively kicked neuron,
    i.e. N - 1 draws and a re-heapify, at every spike; measured here: 0.56 renewals per spike, and 0.13
    at N = 10^4)."""
    N = 2000
    res = simulate(NeuronModel(Leaky(1.5), Exponential(1.0, 5.0, 1.0)), ring().weights(N), 5.0, 0.0, 1)
    assert res.n_spikes > 10_000
    assert res.n_candidates < 8 * res.n_spikes
    assert res.n_renewals < res.n_spikes


# --------------------------------------------------------------------------- which bound, logs
def test_which_bound_and_the_log_line_saying_why(caplog):
    W = ring().weights(20)
    cases = [
        (NeuronModel.standard(), "global", "compiled", "global dominating rate"),
        (NeuronModel(Leaky(1.0), Exponential(1.0, 2.0, 1.0)), "local", "compiled", "local dominating rates"),
        (NeuronModel(Leaky(1.0), ReLU(1.0, 0.5, math.inf)), "local", "compiled", "local dominating rates"),
        (NeuronModel(Leaky(1.0), CustomIntensity(func=lambda x: np.exp(x - 1.0), increasing=True)), "local",
         "python", "tight local dominating rates"),
        (NeuronModel(CustomDrift(func=lambda x: 1.0 - x), Sigmoid(5.0, 2.0, 1.0)), "global", "python",
         "global dominating rate"),
        (NeuronModel(Leaky(1.0), CustomIntensity(func=lambda x: 2 + np.sin(x), bound=3.0)), "global", "python",
         "global dominating rate"),
    ]
    for model, bound, path, text in cases:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="solvers.particles.api"):
            res = simulate(model, W, 1.0, 0.5, 2)
        assert (res.info.bound, res.path) == (bound, path), model
        assert text in caplog.text, (model, caplog.text)
        assert (res.info.kick_allowance is not None) == (bound == "local" and path == "compiled")
    # the assumptions of the local path are stated in the refusal when they fail
    for model in (NeuronModel(CustomDrift(func=lambda x: 1.0 - x), Exponential(1.0, 1.0, 1.0)),
                  NeuronModel(Leaky(1.0), CustomIntensity(func=lambda x: np.exp(x)))):
        with pytest.raises(InvalidArgumentError, match="non-decreasing one with the leaky drift"):
            simulate(model, W, 1.0, 0.5, 2)


def test_custom_increasing_unbounded_intensity_matches_the_named_family_in_mean():
    """The tight custom path (Python loop) and the compiled named path simulate the same law: mean spike
    count per neuron within 4 two-sample standard errors (60 seeds each; different random numbers)."""
    N, T = 8, 2.0
    W = np.full((N, N), 0.1)
    named = NeuronModel(Leaky(1.2), Exponential(1.0, 2.0, 1.0))
    custom = NeuronModel(Leaky(1.2), CustomIntensity(func=lambda x: np.exp(2.0 * (x - 1.0)), increasing=True))
    a = np.array([simulate(named, W, T, 0.0, 100 + s).n_spikes for s in range(60)])
    b = np.array([simulate(custom, W, T, 0.0, 500 + s).n_spikes for s in range(60)])
    z = (a.mean() - b.mean()) / math.hypot(a.std(ddof=1), b.std(ddof=1)) * math.sqrt(60)
    assert abs(z) < 4, (a.mean(), b.mean(), z)


# ------------------------------------------------------------------------------ blow-ups, runaway
def test_blow_up_names_time_and_neuron():
    """The runaway of the reliability issue with a steep exponential (N = 20, W_ij = 1, T = 10): the
    bounds overflow within a fraction of a unit of time; the error names the neuron and the time."""
    W = np.ones((20, 20))
    t0 = time.perf_counter()
    with pytest.raises(SimulationError, match=r"non-finite value inf .* for neuron \d+ at t = 0\.\d+.*blew up"):
        simulate(NeuronModel(Leaky(1.5), Exponential(1.0, 5.0, 1.0)), W, 10.0, 0.0, 1)
    assert time.perf_counter() - t0 < 20


def test_runaway_stops_on_the_wall_clock_budget():
    """The same runaway with the command line's exponential (beta = 1) never overflows: spikes come
    faster and faster (about 3 us each) until max_spikes = 1e8, i.e. minutes.  A wall-clock budget stops
    it with the time reached and the rate so far."""
    W = np.ones((20, 20))
    model = NeuronModel(Leaky(1.5), Exponential(1.0, 1.0, 1.0))
    t0 = time.perf_counter()
    with pytest.raises(SimulationError, match=r"max_wall_time = 0\.5 s .* at t = .* of t_end = 10 .* spikes per "
                                              r"neuron per unit time"):
        simulate(model, W, 10.0, 0.0, 1, max_wall_time=0.5)
    assert time.perf_counter() - t0 < 10
    with pytest.raises(SimulationError, match=r"more than max_spikes = 20000 spikes before t = .*spikes per neuron"):
        simulate(model, W, 10.0, 0.0, 1, max_spikes=20_000)


@pytest.mark.parametrize("intensity", [ReLU(5e-324, 0.0, math.inf), ReLU(1e-200, 0.5, math.inf),
                                       Exponential(1.0, 5e-324, 1.0), Exponential(2.0, 1e-150, 0.0)])
def test_nearly_flat_unbounded_families_keep_finite_bounds(intensity):
    """A subnormal or tiny slope / beta made the headroom 1/slope or ln 2/beta infinite and the bound
    f(inf) = inf, a false blow-up (found by hypothesis); the headroom is capped at HEADROOM_MAX."""
    from solvers.particles._kernels import HEADROOM_MAX

    model = NeuronModel(Leaky(1.0), intensity)
    W = np.array([[0.0, 0.3], [0.2, 0.0]])
    a = simulate(model, W, 2.0, 0.0, 0, save_times=[1.0, 2.0])
    b = simulate(model, W, 2.0, 0.0, 0, save_times=[1.0, 2.0], path="python")
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_allclose(a.states, b.states, atol=1e-12)
    tag, p0, p1, p2 = intensity.compiled_args()
    g, u, lam = local_bounds(tag, p0, p1, p2, 1.0, np.array([0.0, 3.0]), np.array([1.0, 1.0]))
    assert np.all(np.isfinite(lam)) and np.all(g <= HEADROOM_MAX) and np.all(u > 0)
