"""Unit tests of the on-the-fly weights :class:`OnTheFlyOperator` (``W_ij = w(xi_i, xi_j) / N`` evaluated
for the firing column): its columns against the kernels' own numpy evaluation, its runs against the
dense path (same random streams: the same spikes) and against an independent replay of SPEC section
1, every entry point of :func:`simulate`, user kernels (Python, ``numba.njit``, ``numba.cfunc``,
``FunctionKernel``) and the errors.

References are independent of the code under test: ``kernel(xi, zeta)`` and ``kernel.weights(N)``
(numpy), the dense exact and clock loops, and :func:`replay` (written from SPEC section 1).
"""
from __future__ import annotations

import gc
import math

import numba
import numpy as np
import pytest

from solvers.errors import InvalidArgumentError
from solvers.graphons import FunctionKernel, Kernel, StepKernel, constant, labels, product, ring, skew, two_block
from solvers.model import Exponential, Leaky, NeuronModel, ReLU
from solvers.particles import OnTheFlyOperator, simulate

STANDARD = NeuronModel.standard()
EXPONENTIAL = NeuronModel(Leaky(1.5), Exponential(1.0, 3.0, 1.0))


def replay(W, x0, I0, xr, spike_times, spike_neurons, t):
    """SPEC section 1 replayed from a list of spikes: the state at time ``t`` (``W_jj`` ignored)."""
    X = np.array(x0, dtype=float)
    now = 0.0
    for tau, j in zip(spike_times, spike_neurons):
        if tau > t:
            break
        X = I0 + (X - I0) * math.exp(-(tau - now))
        now = tau
        kick = W[:, j].copy()
        kick[j] = 0.0
        X += kick
        X[j] = xr
    return I0 + (X - I0) * math.exp(-(t - now))


def _laplace(x, z):
    return math.exp(-3.0 * abs(x - z)) - 0.2 * z


NAMED = [ring(), ring(0.3, -2.0), skew(), product(), two_block(), two_block(1.0, -0.4), constant(1.3),
         StepKernel(values=np.random.default_rng(5).normal(size=(5, 5)))]


def _user_kernels():
    """A user's kernel in each accepted form, with its numpy evaluation."""
    numpy_form = lambda x, z: np.exp(-3.0 * np.abs(x - z)) - 0.2 * z  # noqa: E731
    return {
        "python": (_laplace, numpy_form),
        "njit": (numba.njit(_laplace), numpy_form),
        "cfunc": (numba.cfunc("float64(float64, float64)")(_laplace), numpy_form),
        "FunctionKernel": (FunctionKernel(func=lambda x, z: np.exp(-3.0 * np.abs(x - z)) - 0.2 * z), numpy_form),
    }


# ---------------------------------------------------------------------------------- the columns
@pytest.mark.parametrize("kernel", NAMED, ids=lambda k: k.name)
@pytest.mark.parametrize("N", [1, 2, 7, 200])
def test_columns_are_the_kernel_at_the_labels_over_N(kernel, N):
    op = OnTheFlyOperator(kernel, N)
    g = labels(N)
    scale = max(kernel.sup, 1.0) / N
    for j in sorted({0, N // 3, N - 1}):
        np.testing.assert_allclose(op.column(j), kernel(g, g[j]) / N, rtol=0, atol=4e-16 * scale)
    W = kernel.weights(N)
    if isinstance(kernel, StepKernel) or kernel.name == "product":  # the same expression: the same bits
        np.testing.assert_array_equal(op.to_dense(), W)
    np.testing.assert_allclose(op.to_dense(), W, rtol=0, atol=2e-15 * scale)  # ring's dense: a rank-3 product
    np.testing.assert_allclose(op.row_sums(), W.sum(axis=1), rtol=0, atol=1e-15 * max(1.0, kernel.sup))
    assert op.nbytes <= 8 * (3 * N + 40)   # O(N): labels, cells, parameters
    assert op.family == kernel.compiled_form()[0] and op.tiny().N == min(N, 2)


@pytest.mark.parametrize("form", ["python", "njit", "cfunc", "FunctionKernel"])
def test_user_kernels_in_every_form(form):
    func, numpy_form = _user_kernels()[form]
    N = 64
    rng = np.random.default_rng(3)
    xi = np.sort(rng.uniform(0, 1, N))
    op = OnTheFlyOperator(func, N, labels=xi)
    assert op.family == "user"
    for j in (0, 31, 63):
        np.testing.assert_allclose(op.column(j), numpy_form(xi, xi[j]) / N, rtol=1e-15, atol=1e-17)
    W = numpy_form(xi[:, None], xi[None, :]) / N
    np.fill_diagonal(W, 0.0)
    np.testing.assert_allclose(op.row_sums(), W.sum(axis=1), rtol=1e-14, atol=1e-16)


def test_step_kernels_use_the_cells_of_the_given_labels():
    k = two_block(1.5, 0.2)
    xi = np.array([0.0, 0.1, 0.5, 0.5000001, 0.9, 1.0])  # 0.5 closes the first cell ((0, 1/2])
    op = OnTheFlyOperator(k, 6, labels=xi)
    first = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    for j in range(6):
        want = np.where(first == first[j], 1.5, 0.2) / 6
        np.testing.assert_array_equal(op.column(j), want)
        np.testing.assert_array_equal(op.column(j), k(xi, xi[j]) / 6)


def test_user_kernel_callback_lives_with_the_operator():
    op = OnTheFlyOperator(lambda x, z: 1.0 + 0.5 * math.cos(2 * math.pi * (x - z)), 50)
    gc.collect()   # the lambda and its compiled callback are only referenced by the operator
    res = simulate(STANDARD, op, 2.0, 0.0, 1)
    ref = simulate(STANDARD, ring().weights(50), 2.0, 0.0, 1)
    np.testing.assert_array_equal(res.spike_neurons, ref.spike_neurons)


# ---------------------------------------------------------------- runs: the dense path's spikes
@pytest.mark.parametrize("kernel", [ring(), two_block(), skew()], ids=lambda k: k.name)
@pytest.mark.parametrize("model", [STANDARD, EXPONENTIAL], ids=["bounded", "unbounded"])
def test_same_spikes_as_the_dense_weights(kernel, model):
    """Same per-neuron streams and column values to rounding: the same spikes, bit for bit here (a
    decision could differ only if a uniform fell within ~1e-16 of an acceptance threshold)."""
    N, T = 150, 4.0
    x0 = np.random.default_rng(1).uniform(-0.5, 1.5, N)
    save = [0.0, 1.3, T]
    dense = simulate(model, kernel.weights(N), T, x0, 7, save_times=save)
    fly = simulate(model, OnTheFlyOperator(kernel, N), T, x0, 7, save_times=save)
    assert dense.n_spikes > 300 and fly.info.operator == "OnTheFlyOperator"
    np.testing.assert_array_equal(fly.spike_neurons, dense.spike_neurons)
    if model is STANDARD:   # global bound: the times come from the streams alone
        np.testing.assert_array_equal(fly.spike_times, dense.spike_times)
    else:                   # local bounds: a candidate time depends on the potential (rounding)
        np.testing.assert_allclose(fly.spike_times, dense.spike_times, rtol=1e-13)
        assert (fly.n_renewals, fly.info.kick_allowance) == (dense.n_renewals, dense.info.kick_allowance)
    assert fly.n_candidates == dense.n_candidates
    np.testing.assert_allclose(fly.states, dense.states, rtol=0, atol=1e-13)


@pytest.mark.parametrize("kernel", [ring(), skew()], ids=lambda k: k.name)
def test_clock_method_same_spikes_as_the_dense_clock(kernel):
    N, T = 120, 3.0
    dense = simulate(STANDARD, kernel.weights(N), T, 0.0, 2, method="clock", dt=0.01, save_times=[0.5, T])
    fly = simulate(STANDARD, OnTheFlyOperator(kernel, N), T, 0.0, 2, method="clock", dt=0.01, save_times=[0.5, T])
    assert dense.n_spikes > 300
    np.testing.assert_array_equal(fly.spike_neurons, dense.spike_neurons)
    np.testing.assert_array_equal(fly.spike_times, dense.spike_times)
    np.testing.assert_allclose(fly.states, dense.states, rtol=0, atol=1e-13)


@pytest.mark.parametrize("model", [STANDARD, NeuronModel(Leaky(2.0), ReLU(2.0, 1.0, math.inf))],
                         ids=["sigmoid", "relu-local"])
def test_python_reference_loop_matches_the_compiled_loop(model):
    N, T = 40, 4.0
    op = OnTheFlyOperator(_laplace, N)
    comp = simulate(model, op, T, 0.2, 5, save_times=[1.0, T])
    py = simulate(model, op, T, 0.2, 5, save_times=[1.0, T], path="python")
    assert py.path == "python" and comp.path == "compiled" and comp.n_spikes > 50
    np.testing.assert_array_equal(py.spike_neurons, comp.spike_neurons)
    np.testing.assert_allclose(py.spike_times, comp.spike_times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(py.states, comp.states, atol=1e-12)


@pytest.mark.parametrize("kernel", [skew(), constant(1.3)], ids=lambda k: k.name)
def test_states_equal_the_replay_of_the_spikes_and_the_diagonal_is_ignored(kernel):
    N, T, I0, xr = 30, 3.0, 0.7, -0.2
    model = NeuronModel(Leaky(I0), STANDARD.intensity, reset=xr)
    op = OnTheFlyOperator(kernel, N)
    x0 = np.linspace(-1.0, 1.2, N)
    first = simulate(model, op, T, x0, 4)
    save = np.concatenate([[0.0], first.spike_times[::7], [T]])
    res = simulate(model, op, T, x0, 4, save_times=save)
    np.testing.assert_array_equal(res.spike_times, first.spike_times)
    W = kernel.weights(N)
    for r, t in enumerate(save):
        want = replay(W, x0, I0, xr, res.spike_times, res.spike_neurons, t)
        np.testing.assert_allclose(res.states[r], want, rtol=0, atol=1e-12)
    g = labels(N)
    assert np.all(np.abs(kernel(g, g)) > 0)   # the column includes a nonzero W_jj, which the reset overwrites


def test_relabelling_equivariance_with_permuted_labels():
    """Permuting the labels with the initial state and stream ids renames the neurons, bit for bit."""
    N, T = 60, 3.0
    perm = np.random.default_rng(3).permutation(N)
    x0 = np.random.default_rng(4).uniform(0, 1, N)
    g = labels(N)
    base = simulate(STANDARD, OnTheFlyOperator(skew(), N), T, x0, 9)
    rel = simulate(STANDARD, OnTheFlyOperator(skew(), N, labels=g[perm]), T, x0[perm], 9, stream_ids=perm)
    np.testing.assert_array_equal(rel.spike_times, base.spike_times)
    np.testing.assert_array_equal(perm[rel.spike_neurons], base.spike_neurons)
    np.testing.assert_array_equal(rel.states[0], base.states[0][perm])


def test_large_network_needs_no_matrix():
    N = 200_000
    op = OnTheFlyOperator(ring(), N)
    assert op.nbytes < 2e6   # the dense weights would take 320 GB
    res = simulate(STANDARD, op, 0.02, 0.0, 1, save_times=[0.02])   # ~270 spikes of 2e5 cosines each
    assert res.n_spikes > 100 and res.states.shape == (1, N)
    assert np.all(np.isfinite(res.states))


# ---------------------------------------------------------------------------------- bad input
def _not_compiled(x):
    return x


class _OpaqueKernel(Kernel):
    name = "opaque"

    def _eval(self, xi, zeta):
        return xi + zeta


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel=ring(), N=0), "'N'"),
    (dict(kernel=ring(), N=5, labels=np.linspace(0, 1, 4)), r"'labels'.*shape \(5,\)"),
    (dict(kernel=ring(), N=3, labels=[0.1, 0.5, 1.5]), r"labels\[2\] = 1.5.*\[0, 1\]"),
    (dict(kernel=ring(), N=3, labels=[0.1, np.nan, 0.5]), "finite"),
    (dict(kernel=lambda x, z: _not_compiled(x), N=5), "numba cannot compile it as w"),
    (dict(kernel=numba.cfunc("float64(float64)")(lambda x: x), N=5), r"signature \(float64,\) -> float64"),
    (dict(kernel=lambda x, z: math.log(x - z), N=8), "not finite at the labels"),
    (dict(kernel="ring", N=5), "must be a Kernel or a function"),
    (dict(kernel=_OpaqueKernel(), N=5), "no compiled form"),
    (dict(kernel=FunctionKernel(func=lambda x, z: np.asarray(x) @ np.asarray(z)), N=5), "numba cannot compile"),
])
def test_bad_input_raises_named_errors(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        OnTheFlyOperator(**kwargs)
