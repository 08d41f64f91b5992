"""Unit tests of :mod:`solvers.particles`: conventions on hand-checkable networks, agreement of the
compiled loops with the Python reference loops, relabelling equivariance, weights handling, errors.

Hand-checkable cases use the constant intensity ``f = lam0``: the thinning bound is ``lam0`` itself,
every candidate is accepted, so spike times do not depend on the state and the potentials between and
at the spikes can be written down with the leaky flow ``X(t+s) = I0 + (X(t) - I0) e^{-s}``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from solvers.errors import InvalidArgumentError, SimulationError
from solvers.graphons import ring, skew
from solvers.model import Constant, CustomDrift, CustomIntensity, Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from solvers.particles import DenseOperator, SparseOperator, make_operator, simulate
from solvers.particles._streams import root_key, stream_keys, uniforms


def leaky_flow(x, s, I0):
    return I0 + (x - I0) * np.exp(-s)


def replay(W, x0, I0, xr, spike_times, spike_neurons, t):
    """Independent replay of SPEC section 1 from a list of spikes: the state at time ``t``."""
    X = np.array(x0, dtype=float)
    now = 0.0
    for tau, j in zip(spike_times, spike_neurons):
        if tau > t:
            break
        X = leaky_flow(X, tau - now, I0)
        now = tau
        for i in range(X.size):
            if i != j:
                X[i] += W[i, j]
        X[j] = xr
    return leaky_flow(X, t - now, I0)


# ------------------------------------------------------------------------ compiled intensities
@pytest.mark.parametrize("intensity", [Sigmoid(10.0, 5.0, 1.0), Sigmoid(3.0, 40.0, -0.5), Exponential(2.0, 1.5, 1.0),
                                       Constant(2.5), ReLU(2.0, 0.5, 3.0), ReLU(1.5, -1.0, math.inf)])
def test_compiled_intensity_matches_model(intensity):
    from solvers._compiled import intensity_values

    x = np.concatenate([np.linspace(-20, 20, 4001), [-700.0, 0.0, 1.0, 30.0]])
    tag, p0, p1, p2 = intensity.compiled_args()
    got = intensity_values(tag, p0, p1, p2, x)
    want = intensity(x)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)  # subnormals may differ


# ------------------------------------------------------------------------------ conventions
def test_two_neurons_reset_jump_and_diagonal_ignored():
    I0, xr = 1.5, -0.25
    W = np.array([[5.0, 0.3], [-0.2, 7.0]])  # huge diagonal: must be ignored
    model = NeuronModel(Leaky(I0), Constant(2.0), reset=xr)
    x0 = np.array([0.4, 1.0])
    first = simulate(model, W, 3.0, x0, seed=11)
    assert first.n_spikes >= 4 and set(first.spike_neurons) == {0, 1}
    # Record right at every spike (constant intensity: spikes unchanged by the records).
    res = simulate(model, W, 3.0, x0, seed=11, save_times=first.spike_times)
    np.testing.assert_array_equal(res.spike_times, first.spike_times)
    X_prev, t_prev = x0.copy(), 0.0
    for k, (tau, j) in enumerate(zip(res.spike_times, res.spike_neurons)):
        before = leaky_flow(X_prev, tau - t_prev, I0)
        i = 1 - j
        assert res.states[k, j] == pytest.approx(xr, abs=1e-14)            # reset wins over W_jj
        assert res.states[k, i] == pytest.approx(before[i] + W[i, j], abs=1e-13)  # kick W_ij
        X_prev, t_prev = res.states[k].copy(), tau


def test_three_neurons_states_match_replay_at_many_times():
    I0, xr = 0.7, 0.1
    W = np.array([[0.9, -0.4, 0.25], [0.15, -3.0, 0.6], [-0.3, 0.05, 2.0]])
    model = NeuronModel(Leaky(I0), Constant(1.3), reset=xr)
    x0 = np.array([1.2, -0.5, 0.0])
    rec = np.linspace(0, 6.0, 61)
    res = simulate(model, W, 6.0, x0, seed=3, save_times=rec)
    assert res.n_spikes > 10
    for r, t in enumerate(rec):
        np.testing.assert_allclose(res.states[r], replay(W, x0, I0, xr, res.spike_times, res.spike_neurons, t),
                                   atol=1e-12)


def test_constant_intensity_spikes_are_poisson_candidates():
    res = simulate(NeuronModel(Leaky(1.0), Constant(3.0)), np.zeros((4, 4)), 2.0, 0.0, seed=5)
    assert res.n_candidates == res.n_spikes  # f == bound: every candidate accepted


def test_record_at_time_zero_and_t_end():
    W = ring().weights(20)
    x0 = np.linspace(-1, 1, 20)
    res = simulate(NeuronModel.standard(), W, 1.0, x0, seed=2, save_times=[0.0, 1.0])
    # integrating factor: X = I0 + (x0 - I0), exact up to one rounding
    np.testing.assert_allclose(res.states[0], x0, rtol=0, atol=4e-16)
    assert res.states.shape == (2, 20)


# ------------------------------------------------------------------- compiled vs Python reference
MODELS = {
    "standard": NeuronModel.standard(),
    "exponential-local": NeuronModel(Leaky(1.0), Exponential(1.0, 2.0, 1.0), reset=-0.5),
    "relu-uncapped-local": NeuronModel(Leaky(2.0), ReLU(3.0, 0.5, math.inf)),
    "relu-capped": NeuronModel(Leaky(2.0), ReLU(3.0, 0.5, 4.0), reset=0.2),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("storage", ["dense64", "dense32", "sparse"])
def test_compiled_loop_matches_python_reference(name, storage):
    model = MODELS[name]
    N = 30
    rng = np.random.default_rng(7)
    W = np.where(rng.random((N, N)) < 0.5, rng.normal(0.02, 0.05, (N, N)), 0.0)
    if storage == "dense32":
        W = W.astype(np.float32)
    elif storage == "sparse":
        W = sp.csc_matrix(W)
    x0 = rng.normal(0.5, 0.5, N)
    rec = np.linspace(0, 4, 9)
    a = simulate(model, W, 4.0, x0, seed=9, save_times=rec)
    b = simulate(model, W, 4.0, x0, seed=9, save_times=rec, path="python")
    assert a.path == "compiled" and b.path == "python"
    assert a.n_spikes > 20
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_allclose(a.spike_times, b.spike_times, rtol=0, atol=1e-12)
    assert a.n_candidates == b.n_candidates
    np.testing.assert_allclose(a.states, b.states, atol=1e-11)


def test_long_run_rebases_and_stays_exact():
    """t_end = 200 forces integrating-factor rebases (every 32 time units); the potentials stay
    equal to the directly-flowed reference loop."""
    model = NeuronModel(Leaky(1.5), Sigmoid(0.5, 5.0, 1.0))
    W = np.full((3, 3), 0.2)
    rec = np.array([50.0, 120.0, 200.0])
    a = simulate(model, W, 200.0, 0.0, seed=1, save_times=rec)
    b = simulate(model, W, 200.0, 0.0, seed=1, save_times=rec, path="python")
    assert a.n_rebases >= 3
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_allclose(a.states, b.states, atol=1e-12)


def test_clock_compiled_matches_python():
    model = NeuronModel.standard()
    W = ring().weights(40)
    x0 = np.linspace(0, 1, 40)
    rec = [0.0, 0.013, 0.5, 1.0]
    a = simulate(model, W, 1.0, x0, seed=4, method="clock", dt=0.01, save_times=rec)
    b = simulate(model, W, 1.0, x0, seed=4, method="clock", dt=0.01, save_times=rec, path="python")
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    np.testing.assert_allclose(a.states, b.states, atol=1e-12)
    assert a.n_candidates == 40 * 100


def test_clock_hand_checked_step():
    """N = 2, lam0 so large that both fire at the first step: both reset, kicks lost; then flow."""
    model = NeuronModel(Leaky(1.0), Constant(1e3), reset=0.25)
    W = np.array([[0.0, 0.5], [0.5, 0.0]])
    res = simulate(model, W, 2e-3, np.array([2.0, 3.0]), seed=0, method="clock", dt=1e-3,
                   save_times=[5e-4, 1e-3])
    # step 1: fire w.p. 1 - e^{-1}; record inside step 1 is the pure flow
    np.testing.assert_allclose(res.states[0], 1.0 + (np.array([2.0, 3.0]) - 1.0) * np.exp(-5e-4))
    fired = res.spike_neurons[res.spike_times == 1e-3]
    for i in range(2):
        other = 1 - i
        flowed = 1.0 + ([2.0, 3.0][i] - 1.0) * np.exp(-1e-3)
        if i in fired:
            assert res.states[1, i] == 0.25
        else:
            assert res.states[1, i] == pytest.approx(flowed + (0.5 if other in fired else 0.0), abs=1e-14)


# ------------------------------------------------------------------------------ custom callables
def test_custom_intensity_matches_named_family():
    named = NeuronModel(Leaky(1.5), Sigmoid(10.0, 5.0, 1.0))
    custom = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: Sigmoid(10.0, 5.0, 1.0)(x), bound=10.0))
    W = ring().weights(15)
    a = simulate(named, W, 2.0, 0.0, seed=3)
    b = simulate(custom, W, 2.0, 0.0, seed=3)
    assert b.path == "python"
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)
    np.testing.assert_allclose(a.spike_times, b.spike_times, atol=1e-12)


def test_custom_drift_rk4_order_four():
    """Custom drift equal to the leaky one, integrated by RK4: the spike trains are those of the exact
    flow and the error of the final state falls like ode_step^4 (observed order in [3.5, 4.5])."""
    exact_model = NeuronModel(Leaky(1.5), Constant(0.3))
    W = np.array([[0, 0.2, 0.1], [0.3, 0, -0.2], [0.1, 0.1, 0]])
    x0 = np.array([3.0, -2.0, 0.5])
    ref = simulate(exact_model, W, 6.0, x0, seed=8)
    errs = []
    for h in (0.4, 0.2, 0.1):
        model = NeuronModel(CustomDrift(func=lambda x: 1.5 - x), Constant(0.3))
        r = simulate(model, W, 6.0, x0, seed=8, ode_step=h)
        np.testing.assert_array_equal(r.spike_times, ref.spike_times)
        errs.append(np.max(np.abs(r.states - ref.states)))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all((orders > 3.5) & (orders < 4.5)), (errs, orders)


def test_negative_intensity_during_run_raises():
    model = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: 2.0 - 3.0 * x, bound=10.0))
    with pytest.raises(SimulationError, match=r"negative intensity .* neuron \d+ at t = "):
        simulate(model, np.zeros((3, 3)), 5.0, 0.0, seed=1)


def test_intensity_above_stated_bound_raises():
    model = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: 5.0 + 0 * x, bound=1.0))
    with pytest.raises(SimulationError, match="exceeds its dominating bound"):
        simulate(model, np.zeros((2, 2)), 5.0, 0.0, seed=1)


def test_unbounded_nonincreasing_intensity_is_rejected():
    model = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: x * x))
    with pytest.raises(InvalidArgumentError, match="dominating rate"):
        simulate(model, np.zeros((2, 2)), 1.0, 0.0, seed=1)


def test_runaway_exponential_network_raises():
    model = NeuronModel(Leaky(1.0), Exponential(1.0, 3.0, 0.0))
    W = np.full((5, 5), 2.0)
    with pytest.raises(SimulationError, match="max_spikes|non-finite"):
        simulate(model, W, 50.0, 0.0, seed=1, max_spikes=10_000)


def test_clock_unbounded_intensity_step_rule_checked_during_run():
    model = NeuronModel(Leaky(5.0), Exponential(1.0, 1.0, 0.0))
    with pytest.raises(SimulationError, match=r"dt \* f\(X\)"):
        simulate(model, np.zeros((2, 2)), 5.0, 0.0, seed=1, method="clock", dt=0.1)


# -------------------------------------------------------------------------------- equivariance
@pytest.mark.parametrize("kind", ["dense", "sparse", "local-bound"])
def test_relabelling_equivariance_is_exact(kind):
    N = 60
    rng = np.random.default_rng(1)
    W = skew().weights(N)
    model = NeuronModel.standard()
    if kind == "sparse":
        W = sp.csc_matrix(np.where(rng.random((N, N)) < 0.3, W * 3, 0.0))
    if kind == "local-bound":
        model = NeuronModel(Leaky(1.0), Exponential(1.0, 2.0, 1.0))
    x0 = rng.normal(0.5, 0.4, N)
    s = rng.permutation(N)
    rec = np.linspace(0, 3, 7)
    a = simulate(model, W, 3.0, x0, seed=21, save_times=rec)
    Wp = W[s][:, s]
    b = simulate(model, Wp, 3.0, x0[s], seed=21, save_times=rec, stream_ids=s)
    assert a.n_spikes > 100
    np.testing.assert_array_equal(b.spike_times, a.spike_times)       # bit for bit
    np.testing.assert_array_equal(s[b.spike_neurons], a.spike_neurons)  # neuron k of b is s[k] of a
    np.testing.assert_array_equal(b.states, a.states[:, s])
    # without the stream ids the relabelled run is a different (equally valid) sample
    c = simulate(model, Wp, 3.0, x0[s], seed=21, save_times=rec)
    assert not np.array_equal(c.spike_times, a.spike_times)


# ----------------------------------------------------------------------------- weights handling
def test_fortran_weights_not_copied_and_float32_kept():
    W = np.asfortranarray(ring().weights(50), dtype=np.float32)
    op = make_operator(W)
    assert isinstance(op, DenseOperator) and op.dtype == np.float32 and np.shares_memory(op.W, W)
    Wc = np.ascontiguousarray(ring().weights(50))
    op2 = make_operator(Wc)
    assert op2.W.flags.f_contiguous and np.array_equal(op2.W, Wc)
    x0 = np.zeros(50)
    res = simulate(NeuronModel.standard(), W, 1.0, x0, seed=0)
    assert res.info.dtype == "float32" and np.all(x0 == 0)


def test_sparse_operator_with_duplicates_sums_them():
    W = sp.coo_matrix((np.array([0.1, 0.2]), (np.array([0, 0]), np.array([1, 1]))), shape=(2, 2)).tocsc()
    op = SparseOperator(W)
    np.testing.assert_allclose(op.column(1), [0.3, 0.0])


# --------------------------------------------------------------------------------- results
def test_population_rate_bins_and_counters():
    W = ring().weights(100)
    res = simulate(NeuronModel.standard(), W, 2.5, 0.0, seed=3)
    pr = res.population_rate(1.0)
    np.testing.assert_allclose(pr.edges, [0, 1, 2, 2.5])
    assert pr.counts.sum() == res.n_spikes == len(res.spike_times) <= res.n_candidates
    np.testing.assert_allclose(pr.rate, pr.counts / (100 * np.array([1, 1, 0.5])))
    manual = np.sum((res.spike_times >= 1) & (res.spike_times < 2))
    assert pr.counts[1] == manual
    assert res.mean_rate == pytest.approx(res.n_spikes / 250)
    assert np.all(np.diff(res.spike_times) > 0)
    assert res.spike_counts().sum() == res.n_spikes
    with pytest.raises(InvalidArgumentError, match="bin_width"):
        res.population_rate(0.0)


def test_same_seed_same_result_other_seed_differs():
    W = ring().weights(50)
    a = simulate(NeuronModel.standard(), W, 2.0, 0.0, seed=1)
    b = simulate(NeuronModel.standard(), W, 2.0, 0.0, seed=1)
    c = simulate(NeuronModel.standard(), W, 2.0, 0.0, seed=np.random.SeedSequence(2))
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    assert not np.array_equal(a.spike_times, c.spike_times)


# ------------------------------------------------------------------------------------- streams
def test_streams_uniform_and_uncorrelated():
    """10^5 draws of one stream pass KS against U(0,1) (p > 1e-3); neighbouring streams have
    correlation within 4 standard errors (1/sqrt(n)) of 0."""
    from scipy import stats

    root = root_key(123)
    keys = stream_keys(np.arange(4), root)
    n = 100_000
    ctr = np.arange(n, dtype=np.uint64)
    u = [uniforms(np.full(n, k, dtype=np.uint64), ctr, root[1]) for k in keys]
    assert stats.kstest(u[0], "uniform").pvalue > 1e-3
    assert 0 < min(x.min() for x in u) and max(x.max() for x in u) < 1
    for a, b in [(0, 1), (1, 2), (2, 3)]:
        assert abs(np.corrcoef(u[a], u[b])[0, 1]) < 4 / math.sqrt(n)
    assert abs(np.corrcoef(u[0][:-1], u[0][1:])[0, 1]) < 4 / math.sqrt(n)


# -------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=np.zeros((2, 3))), "square"),
    (dict(weights=np.array([[0, np.nan], [0, 0]])), "finite"),
    (dict(initial=np.zeros(3)), "shape"),
    (dict(initial=np.array([0.0, np.inf])), "finite"),
    (dict(t_end=0.0), "t_end"),
    (dict(t_end=-1.0), "t_end"),
    (dict(t_end=math.inf), "t_end"),
    (dict(save_times=[0.5, 0.2]), "sorted"),
    (dict(save_times=[0.5, 1.5]), "save_times"),
    (dict(save_times=[-0.1]), "save_times"),
    (dict(method="euler"), r"\['exact', 'clock'\]"),
    (dict(method="clock"), "needs a time step"),
    (dict(method="clock", dt=0.2), r"dt \* sup f"),
    (dict(method="clock", dt=2.0), r"dt \* sup f|t_end"),
    (dict(method="clock", dt=-0.01), "dt"),
    (dict(dt=0.01), "only used by method='clock'"),
    (dict(stream_ids=[3, 3]), "distinct"),
    (dict(stream_ids=[0, -1]), ">= 0"),
    (dict(seed=-1), "seed"),
    (dict(path="gpu"), "path"),
    (dict(model="standard"), "NeuronModel"),
])
def test_bad_input_raises_named_error(kwargs, match):
    args = dict(model=NeuronModel.standard(), weights=np.zeros((2, 2)), t_end=1.0, initial=0.0, seed=0)
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        simulate(**args)


def test_compiled_path_refused_for_custom_callables():
    model = NeuronModel(Leaky(1.0), CustomIntensity(func=lambda x: 0 * x + 1, bound=1.0))
    with pytest.raises(InvalidArgumentError, match="compiled loop"):
        simulate(model, np.zeros((2, 2)), 1.0, 0.0, 0, path="compiled")


# ------------------------------------------------------------------------- API names (issue 7)
def test_options_are_keyword_only_and_seed_required():
    W = ring().weights(10)
    with pytest.raises(TypeError):
        simulate(NeuronModel.standard(), W, 1.0, 0.0, 1, "clock", 0.01)  # method / dt positional
    with pytest.raises(InvalidArgumentError, match="'seed'.*required"):
        simulate(NeuronModel.standard(), W, 1.0, 0.0)
    with pytest.raises(InvalidArgumentError, match="'initial'.*required"):
        simulate(NeuronModel.standard(), W, 1.0, seed=1)
    with pytest.raises(InvalidArgumentError, match="seed"):
        simulate(NeuronModel.standard(), W, 1.0, 0.0, None)  # None is not a seed: never defaulted


def test_deprecated_x0_and_record_times_still_work_with_a_warning():
    W = ring().weights(30)
    rec = [0.5, 1.0]
    new = simulate(NeuronModel.standard(), W, 1.0, 0.2, 4, save_times=rec)
    with pytest.warns(DeprecationWarning, match="x0"):
        old = simulate(NeuronModel.standard(), W, t_end=1.0, x0=0.2, seed=4, save_times=rec)  # the README's form
    with pytest.warns(DeprecationWarning, match="record_times"):
        old2 = simulate(NeuronModel.standard(), W, 1.0, 0.2, 4, record_times=rec)
    for res in (old, old2):
        np.testing.assert_array_equal(res.spike_times, new.spike_times)
        np.testing.assert_array_equal(res.states, new.states)
    with pytest.warns(DeprecationWarning, match="save_times"):
        np.testing.assert_array_equal(new.record_times, new.save_times)
    with pytest.raises(InvalidArgumentError, match="both"):
        simulate(NeuronModel.standard(), W, 1.0, 0.2, 4, x0=0.2)
    with pytest.raises(InvalidArgumentError, match="both"):
        simulate(NeuronModel.standard(), W, 1.0, 0.2, 4, save_times=rec, record_times=rec)
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidArgumentError, match="'x0'.*shape"):
        simulate(NeuronModel.standard(), W, 1.0, x0=np.zeros(3), seed=4)  # the error names what was passed


def test_info_is_typed():
    from solvers.particles import SimulationInfo

    W = ring().weights(20)
    a = simulate(NeuronModel.standard(), W, 1.0, 0.0, 1)
    assert isinstance(a.info, SimulationInfo)
    assert (a.info.operator, a.info.dtype, a.info.stream_ids_given) == ("DenseOperator", "float64", False)
    assert a.info.bound == "global" and a.info.bound_value == 10.0 and a.info.describe_bound() == "global 10"
    b = simulate(NeuronModel(Leaky(1.0), Exponential(1.0, 2.0, 1.0)), sp.csc_matrix(W), 1.0, 0.0, 1,
                 stream_ids=np.arange(20))
    assert b.info.operator == "SparseOperator" and b.info.stream_ids_given
    assert b.info.bound == "local" and b.info.bound_value is None
    c = simulate(NeuronModel.standard(), W, 1.0, 0.0, 1, method="clock", dt=0.01)
    assert c.info.bound is None and c.info.describe_bound() == "none"
