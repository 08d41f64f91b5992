"""The one compiled table of families (:mod:`solvers._compiled`) against the numpy families of
:mod:`solvers.model` and against mpmath.

* compiled and numpy evaluate the same expressions, so they agree to a few ulps (the only
  difference is the ``exp`` implementation, <= 1 ulp each, then at most 3 rounded operations);
* both agree with mpmath evaluating the family's formula (``family.mp``, 50 digits) to a relative
  error ``4 eps (1 + |z|)`` where ``z`` is the argument of the exponential: ``|z| eps`` is the
  condition number of ``exp(z)`` for a rounded ``z`` (no double evaluation can do better), so in the
  far tails (``|z| = 700``) the bound is ``~6e-13``; subnormal results are compared to their
  spacing (times the family's factor);
* a Lagrangian solve whose rate lies in the far left tail of the sigmoid keeps its relative accuracy
  (the former naive form ``lam / (1 + exp(-z))`` overflowed and returned a rate of 0).
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from solvers import _compiled as C
from solvers.graphons import ring
from solvers.meanfield import solve
from solvers.model import (
    DRIFT_FAMILIES,
    INTENSITY_FAMILIES,
    Constant,
    CustomDrift,
    CustomIntensity,
    Exponential,
    Leaky,
    NeuronModel,
    ReLU,
    Sigmoid,
)

EPS = np.finfo(float).eps
TINY = 5e-324  # spacing of the subnormals

FAMILIES = [
    Sigmoid(10.0, 5.0, 1.0), Sigmoid(1.0, 1.0, 0.0), Sigmoid(3.0, 40.0, -0.5), Sigmoid(0.0, 2.0, 0.0),
    Exponential(2.0, 1.5, 1.0), Exponential(0.3, 1.0, -0.5),
    Constant(2.5), Constant(0.0),
    ReLU(2.0, 0.5, 3.0), ReLU(1.5, -1.0, math.inf), ReLU(0.0, 0.0, 1.0),
]


def _grid(f) -> np.ndarray:
    """A wide grid in ``x - theta`` including the far tails (``z = -700, -200, 200, 700`` and beyond)."""
    theta = getattr(f, "theta", 0.0)
    beta = getattr(f, "beta", 1.0)
    u = np.concatenate([np.linspace(-30.0, 30.0, 2401), np.linspace(-800.0, 800.0, 321),
                        [-700.0, -200.0, 200.0, 700.0]])
    x = np.concatenate([theta + u, theta + u / beta, [theta, theta + 1e-12, theta - 1e-12]])
    if isinstance(f, Exponential):  # keep exp(z) finite: z <= 700
        x = x[beta * (x - theta) <= 700.0]
    return np.ascontiguousarray(x)


def _exponent(f, x) -> np.ndarray:
    if isinstance(f, (Sigmoid, Exponential)):
        return np.abs(f.beta * (x - f.theta))
    return np.zeros_like(x)


def assert_ulps(got, want, n):
    got, want = np.asarray(got), np.asarray(want)
    both_nan = np.isnan(got) & np.isnan(want)
    tol = n * np.spacing(np.maximum(np.abs(got), np.abs(want)))
    bad = ~both_nan & ~(got == want) & ~(np.abs(got - want) <= tol)
    assert not np.any(bad), (got[bad][:5], want[bad][:5], np.flatnonzero(bad)[:5])


def assert_close_to_mp(got, ref, z, what, scale=1.0):
    """``|got - ref| <= 4 eps (1 + |z|) |ref|``, plus ``4 TINY scale`` for results computed from a
    subnormal ``exp`` (its absolute rounding ``TINY / 2`` multiplied by the family's factor ``scale``)."""
    tol = 4 * EPS * (1.0 + z) * np.abs(ref) + 4 * TINY * max(1.0, scale)
    err = np.abs(got - ref)
    assert np.all(err <= tol), (what, float(np.max(err / np.maximum(tol, 1e-300))))


def _mp_values(func, x) -> np.ndarray:
    with mpmath.workdps(50):
        return np.array([float(func(mpmath.mpf(float(v)))) for v in x])


@pytest.mark.parametrize("f", FAMILIES, ids=lambda f: repr(f))
def test_compiled_value_equals_numpy_and_mpmath(f):
    x = _grid(f)
    tag, p0, p1, p2 = f.compiled_args()
    got = C.intensity_values(tag, p0, p1, p2, x)
    assert_ulps(got, f(x), 4)
    ref = _mp_values(f.mp, x)
    z = _exponent(f, x)
    assert_close_to_mp(got, ref, z, "compiled", p0)
    assert_close_to_mp(f(x), ref, z, "numpy", p0)
    # the split pieces used by the Lagrangian passes rebuild the same value
    arg = np.array([C.intensity_exponent.py_func(tag, p1, p2, v) for v in x])
    assert np.all(arg <= 708.0)  # the exponential never overflows
    split = np.array([C.intensity_from_exponential.py_func(tag, p0, p1, p2, v, e) for v, e in zip(x, np.exp(arg))])
    assert_ulps(split, got, 4)


def _mp_derivative(f, x: float) -> float:
    """``f'`` at ``x`` in 50 digits, from the closed forms written out here (``mpmath.diff`` of
    ``f.mp`` cannot resolve the right tail of the sigmoid: ``lam - f`` is below 50 digits of ``lam``)."""
    if isinstance(f, ReLU):
        return f.slope if (x > f.theta and f.slope * (x - f.theta) < f.cap) else 0.0
    if isinstance(f, Constant):
        return 0.0
    with mpmath.workdps(50):
        z = mpmath.mpf(f.beta) * (mpmath.mpf(float(x)) - mpmath.mpf(f.theta))
        if isinstance(f, Exponential):
            return float(mpmath.mpf(f.beta) * mpmath.mpf(f.c) * mpmath.exp(z))
        E = mpmath.exp(-z)
        return float(mpmath.mpf(f.lam) * mpmath.mpf(f.beta) * E / (1 + E) ** 2)


@pytest.mark.parametrize("f", FAMILIES, ids=lambda f: repr(f))
def test_compiled_derivative_equals_numpy_and_mpmath(f):
    x = _grid(f)[::3]
    tag, p0, p1, p2 = f.compiled_args()
    got = C.intensity_derivatives(tag, p0, p1, p2, x)
    assert_ulps(got, f.derivative(x), 4)
    ref = np.array([_mp_derivative(f, v) for v in x])
    z = _exponent(f, x)
    assert_close_to_mp(got, ref, z, "compiled", p0 * p1)
    assert_close_to_mp(f.derivative(x), ref, z, "numpy", p0 * p1)
    # the derivative from a cached value (Lagrangian loops): exact for all but the sigmoid, whose
    # right tail has an absolute error ~ eps lam beta
    fx = C.intensity_values(tag, p0, p1, p2, x)
    dv = np.array([C.intensity_derivative_from_value.py_func(tag, p0, p1, p2, v, fv) for v, fv in zip(x, fx)])
    np.testing.assert_allclose(dv, ref, rtol=8 * EPS * (1 + np.max(z)), atol=4 * EPS * max(p0 * p1, 1.0))


def test_sigmoid_far_tails_have_full_relative_accuracy():
    """At ``x - theta = -200`` and ``-700`` (beta = 1) the value, and in both tails the derivative,
    keep their relative accuracy; the former numpy derivative ``lam beta s (1 - s)`` returned 0 in
    the right tail (``1 - s`` rounds to 0 for ``z > 37``)."""
    f = Sigmoid(lam=10.0, beta=1.0, theta=2.0)
    x = np.array([2.0 - 200.0, 2.0 - 700.0, 2.0 + 40.0, 2.0 + 200.0, 2.0 + 700.0])
    tag, p0, p1, p2 = f.compiled_args()
    with mpmath.workdps(50):
        val = [f.mp(mpmath.mpf(v)) for v in x]
        der = [10 * mpmath.exp(-abs(mpmath.mpf(v) - 2)) / (1 + mpmath.exp(-abs(mpmath.mpf(v) - 2))) ** 2 for v in x]
    val, der = np.array([float(v) for v in val]), np.array([float(v) for v in der])
    assert val[0] > 0 and val[1] > 0 and der[-1] > 0
    for got in (C.intensity_values(tag, p0, p1, p2, x), f(x)):
        np.testing.assert_allclose(got, val, rtol=4 * EPS * 701, atol=0)
    for got in (C.intensity_derivatives(tag, p0, p1, p2, x), f.derivative(x)):
        np.testing.assert_allclose(got, der, rtol=4 * EPS * 701, atol=0)
    # scipy's expit (the former numpy value) and the naive form return 0 once exp(-z) overflows
    z = -710.5
    with np.errstate(over="ignore"):
        assert 1.0 / (1.0 + np.exp(-z)) == 0.0
    assert Sigmoid(1.0, 1.0, 0.0)(z) == pytest.approx(math.exp(z), rel=1e-14)
    assert Sigmoid._SPLIT == C.SIGMOID_SPLIT  # numpy and compiled switch formula at the same point


def test_nan_and_infinite_arguments_propagate_as_in_numpy():
    x = np.array([np.nan, np.inf, -np.inf])
    for f in FAMILIES:
        tag, p0, p1, p2 = f.compiled_args()
        with np.errstate(invalid="ignore", over="ignore"):
            assert_ulps(C.intensity_values(tag, p0, p1, p2, x), f(x), 0)
            assert_ulps(C.intensity_derivatives(tag, p0, p1, p2, x[:1]), f.derivative(x[:1]), 0)


@pytest.mark.parametrize("I0", [1.5, -0.7, 0.0])
def test_compiled_leaky_drift_equals_numpy(I0):
    b = Leaky(I0=I0)
    tag, q0 = b.compiled_args()
    assert tag == C.LEAKY and q0 == I0
    x = np.linspace(-50.0, 50.0, 1001)
    assert_ulps(C.drift_values(tag, q0, x), b(x), 0)
    assert_ulps(C.drift_derivatives(tag, q0, x), b.derivative(x), 0)
    for s, h in [(0.0, 0.0), (0.37, 0.0), (2.0, -1.3), (30.0, 0.25)]:
        assert_ulps(C.drift_flows(tag, q0, x, s, h), b.flow(x, s, h), 2)


def test_one_table_of_tags():
    """Every named family has a tag (the one table), distinct tags, exact derivatives; user callables
    have none (compiled code cannot run them)."""
    assert set(C.INTENSITY_TAGS) == set(INTENSITY_FAMILIES)
    assert set(C.DRIFT_TAGS) == set(DRIFT_FAMILIES)
    assert len(set(C.INTENSITY_TAGS.values())) == len(C.INTENSITY_TAGS)
    for name, cls in INTENSITY_FAMILIES.items():
        f = cls()
        assert f.compiled_args()[0] == C.INTENSITY_TAGS[name] and f.exact_derivative
        assert f.compiled_args()[1:] == tuple(float(v) for v in f.params) + (0.0,) * (3 - len(f.params))
    custom = CustomIntensity(func=np.abs, bound=1.0, derivative_func=np.sign)
    assert custom.compiled_args() is None and custom.exact_derivative
    assert CustomIntensity(func=np.abs).compiled_args() is None and not CustomIntensity(func=np.abs).exact_derivative
    assert CustomDrift(func=np.negative).compiled_args() is None


def test_hermite_rule_only_with_exact_derivatives():
    """A user intensity (even with an exact ``derivative_func``) runs the numpy path with Simpson's
    rule; the compiled families run the Hermite rule."""
    f = CustomIntensity(func=Sigmoid(), bound=10.0, derivative_func=Sigmoid().derivative)
    a = solve(NeuronModel(Leaky(), f), ring(), 0.5, 0.0, dt=0.05, n_xi=2)
    b = solve(NeuronModel.standard(), ring(), 0.5, 0.0, dt=0.05, n_xi=2)
    assert a.counters.survival_rule == "simpson" and not a.counters.compiled
    assert b.counters.survival_rule == "hermite" and b.counters.compiled
    c = solve(NeuronModel.standard(), ring(), 0.5, 0.0, dt=0.05, n_xi=2, survival_rule="simpson")
    assert c.counters.compiled and c.counters.survival_rule == "simpson"
    assert np.max(np.abs(a.rates - c.rates)) < 1e-13  # numpy and compiled Simpson: the same scheme


@pytest.mark.parametrize("rule,split", [("hermite", True), ("hermite", False), ("simpson", True)])
def test_lagrangian_rate_in_the_far_left_tail_keeps_relative_accuracy(monkeypatch, rule, split):
    """A neuron at rest far below a steep threshold: ``z = beta (x* - theta) = -710.5`` at the fixed
    point ``x* = I0 = 1.5`` of the initial Dirac.  Nobody fires in practice (``f(x*) ~ 2e-299``), so the
    slice stays at ``x*`` (the input ``h = K r`` is ~1e-299) and the exact rate is ``f(x*)`` for all
    ``t`` (the newborn masses ``1 - survivors`` round to 0).  Reference: mpmath.  The former naive form
    ``lam / (1 + exp(710.5))`` overflowed and returned a rate of exactly 0."""
    import solvers.meanfield.lagrangian as lag

    monkeypatch.setattr(lag, "_SPLIT_HERMITE", split)
    f = Sigmoid(lam=1e10, beta=100.0, theta=1.5 + 7.105)
    model = NeuronModel(Leaky(I0=1.5), f, reset=0.0)
    with mpmath.workdps(50):
        want = float(f.mp(mpmath.mpf(1.5)))
    assert 1e-300 < want < 1e-298
    sol = solve(model, ring(), 1.0, 1.5, dt=0.05, n_xi=3, survival_rule=rule)
    assert sol.counters.compiled
    # f(x*) = lam e / (1 + e) with e = exp(-710.5) ~ 2.2e-309 subnormal: its spacing 5e-324 is a
    # relative 2.2e-15; with the condition number 710.5 eps of exp the bound is ~ 7e-13
    np.testing.assert_allclose(sol.rates, want, rtol=4 * EPS * 711 + 1e-14, atol=0)
