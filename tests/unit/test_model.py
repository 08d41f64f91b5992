"""Independent review of :mod:`solvers.model`, :mod:`solvers.errors` and :mod:`solvers._random`.

Every family is checked against its SPEC section 1 formula written out again here (not imported),
its stated Lipschitz constant against finite-difference slopes on a grid (the stated constant must
bound every sampled slope and be attained up to the grid resolution), its stated supremum against
sampled values, its mpmath evaluation against the float one, and the leaky flow against
``scipy.integrate.solve_ivp`` at tight tolerance.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from solvers._random import as_seed_sequence, make_rng
from solvers.errors import ConvergenceError, IfmfError, InvalidArgumentError, SimulationError, bad_argument
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

GRID = np.linspace(-5.0, 10.0, 30001)  # step 5e-4


def sampled_slopes(func, x=GRID):
    """Finite-difference quotients ``|f(x_{k+1}) - f(x_k)| / (x_{k+1} - x_k)`` (lower bounds of Lip f)."""
    y = np.asarray(func(x), dtype=float)
    return np.abs(np.diff(y)) / np.diff(x)


# ----------------------------------------------------------------------- independent formulas
def sigmoid_ref(x, lam, beta, theta):
    return np.array([lam / (1.0 + math.exp(min(700.0, -beta * (xx - theta)))) for xx in np.ravel(x)])


def exponential_ref(x, c, beta, theta):
    return np.array([c * math.exp(beta * (xx - theta)) for xx in np.ravel(x)])


def relu_ref(x, slope, theta, cap):
    return np.array([min(cap, slope * max(0.0, xx - theta)) for xx in np.ravel(x)])


PTS = np.array([-7.3, -1.0, 0.0, 0.3, 0.999, 1.0, 1.001, 2.5, 4.0, 9.9])


# --------------------------------------------------------------------------------- drift: leaky
@pytest.mark.parametrize("I0", [1.5, -0.7, 0.0])
def test_leaky_values_mp_and_lipschitz(I0):
    b = Leaky(I0=I0)
    np.testing.assert_allclose(b(PTS), I0 - PTS, rtol=0, atol=1e-15)
    for x in PTS:
        assert abs(float(b.mp(mpmath.mpf(x))) - (I0 - x)) <= 1e-15
    s = sampled_slopes(b)
    assert b.lipschitz == 1.0
    assert np.all(s <= b.lipschitz * (1 + 1e-9)) and s.max() >= b.lipschitz * (1 - 1e-9)  # tight
    np.testing.assert_allclose(b.derivative(PTS), -1.0)
    assert b.has_exact_flow and b.kind == "leaky" and b.params == (I0,)
    assert b.fixed_point(0.4) == pytest.approx(I0 + 0.4)
    assert b(b.fixed_point(0.4)) + 0.4 == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("x0,s,h", [(0.0, 0.3, 0.0), (2.0, 1.7, 0.5), (-3.0, 4.0, -1.2), (1.5, 12.0, 0.25)])
def test_leaky_flow_solves_the_ode(x0, s, h):
    """``flow(x0, s, h)`` against an independent RK45 solve of ``x' = I0 - x + h`` (rtol 1e-12)."""
    b = Leaky(I0=1.5)
    sol = solve_ivp(lambda t, y: 1.5 - y + h, (0.0, s), [x0], rtol=1e-12, atol=1e-13, method="DOP853")
    assert b.flow(x0, s, h) == pytest.approx(sol.y[0, -1], abs=5e-11)
    # semigroup property and vectorisation
    assert b.flow(b.flow(x0, s / 3, h), 2 * s / 3, h) == pytest.approx(b.flow(x0, s, h), abs=1e-13)
    xs = np.array([x0, x0 + 1.0])
    np.testing.assert_allclose(b.flow(xs, s, h), [b.flow(x0, s, h), b.flow(x0 + 1.0, s, h)], rtol=1e-15)
    assert b.flow(x0, 0.0, h) == x0


# -------------------------------------------------------------------------------- intensities
@pytest.mark.parametrize("lam,beta,theta", [(10.0, 5.0, 1.0), (2.0, 0.5, -1.0), (1.0, 40.0, 3.0)])
def test_sigmoid_against_formula(lam, beta, theta):
    f = Sigmoid(lam=lam, beta=beta, theta=theta)
    np.testing.assert_allclose(f(PTS), sigmoid_ref(PTS, lam, beta, theta), rtol=1e-13, atol=1e-300)
    assert f.lipschitz == pytest.approx(lam * beta / 4)
    s = sampled_slopes(f)
    # bound everywhere; tight: the grid slope next to theta is within O(h^2) of lam beta / 4
    assert np.all(s <= f.lipschitz * (1 + 1e-12))
    assert s.max() >= f.lipschitz * (1 - (beta * 5e-4) ** 2)
    vals = f(GRID)
    assert np.all(vals >= 0) and np.all(vals <= f.sup) and f.sup == lam and f.bounded
    assert f(theta + 40.0 / beta) >= lam * (1 - 1e-15)  # supremum approached: the bound is tight
    for x in PTS:
        assert float(f.mp(mpmath.mpf(x))) == pytest.approx(float(f(x)), rel=1e-13, abs=1e-300)
    # derivative against a central difference
    h = 1e-6
    np.testing.assert_allclose(f.derivative(PTS), (f(PTS + h) - f(PTS - h)) / (2 * h), rtol=1e-6, atol=1e-8)
    assert f.increasing and np.all(np.diff(vals) >= 0)


def test_sigmoid_extreme_arguments_are_finite_without_warnings():
    f = Sigmoid()
    with np.errstate(all="raise"):
        v = f(np.array([-1e6, 1e6]))
    assert v[0] == 0.0 and v[1] == 10.0


@pytest.mark.parametrize("c,beta,theta", [(1.0, 1.0, 1.0), (0.3, 2.0, -0.5)])
def test_exponential_against_formula_and_unbounded(c, beta, theta):
    f = Exponential(c=c, beta=beta, theta=theta)
    np.testing.assert_allclose(f(PTS), exponential_ref(PTS, c, beta, theta), rtol=1e-13)
    for x in PTS:
        assert float(f.mp(mpmath.mpf(x))) == pytest.approx(float(f(x)), rel=1e-13)
    assert f.sup == math.inf and not f.bounded and f.lipschitz == math.inf
    # sampled slopes grow without bound: each unit step to the right multiplies them by e^beta
    s = sampled_slopes(f)
    assert s[-1] > c * beta * math.exp(beta * (9.0 - theta))
    zero = Exponential(c=0.0)
    assert zero.sup == 0.0 and zero.lipschitz == 0.0


@pytest.mark.parametrize("lam0", [0.0, 0.7, 3.0])
def test_constant_intensity(lam0):
    f = Constant(lam0=lam0)
    assert np.all(f(PTS) == lam0) and f(PTS).shape == PTS.shape
    assert f.sup == lam0 and f.lipschitz == 0.0 and float(f.mp(mpmath.mpf(2))) == lam0
    assert sampled_slopes(f).max() == 0.0


@pytest.mark.parametrize("slope,theta,cap", [(1.0, 0.0, 10.0), (2.5, 1.0, 3.0), (0.5, -2.0, math.inf)])
def test_relu_against_formula(slope, theta, cap):
    f = ReLU(slope=slope, theta=theta, cap=cap)
    np.testing.assert_allclose(f(PTS), relu_ref(PTS, slope, theta, cap), rtol=1e-15, atol=0)
    for x in PTS:
        assert float(f.mp(mpmath.mpf(x))) == pytest.approx(float(f(x)), rel=1e-15, abs=0)
    s = sampled_slopes(f)
    assert f.lipschitz == slope and np.all(s <= slope * (1 + 1e-9)) and s.max() >= slope * (1 - 1e-9)
    if math.isinf(cap):
        assert f.sup == math.inf and not f.bounded
    else:
        assert f.sup == cap and f.bounded
        assert f(theta + 2 * cap / slope) == cap  # attained
        assert np.all(f(GRID) <= cap)


def test_relu_rejects_bad_cap_and_zero_slope_sup():
    with pytest.raises(InvalidArgumentError, match="cap"):
        ReLU(cap=0.0)
    with pytest.raises(InvalidArgumentError, match="cap"):
        ReLU(cap=float("nan"))
    assert ReLU(slope=0.0).sup == 0.0


@pytest.mark.parametrize("make,arg", [
    (lambda: Sigmoid(lam=-1.0), "lam"), (lambda: Sigmoid(beta=0.0), "beta"),
    (lambda: Sigmoid(theta=float("inf")), "theta"), (lambda: Exponential(c=-2.0), "c"),
    (lambda: Constant(lam0=-0.1), "lam0"), (lambda: ReLU(slope=-1.0), "slope"),
    (lambda: Leaky(I0=float("nan")), "I0"), (lambda: Leaky(I0="abc"), "I0"),
    (lambda: NeuronModel(Leaky(), Sigmoid(), reset=float("inf")), "reset"),
])
def test_invalid_parameters_raise_naming_the_argument(make, arg):
    with pytest.raises(InvalidArgumentError) as exc:
        make()
    msg = str(exc.value)
    assert f"'{arg}'" in msg and "Fix:" in msg


# ----------------------------------------------------------------------------------- custom
def test_custom_callables_are_wrapped():
    m = NeuronModel(drift=lambda x: -2.0 * x, intensity=lambda x: x ** 2, reset=0.5)
    assert isinstance(m.drift, CustomDrift) and isinstance(m.intensity, CustomIntensity)
    np.testing.assert_allclose(m.drift(PTS), -2.0 * PTS)
    np.testing.assert_allclose(m.intensity(PTS), PTS ** 2)
    assert math.isnan(m.drift.lipschitz) and math.isnan(m.intensity.lipschitz)
    assert m.intensity.sup == math.inf and m.drift.kind == "custom" and m.reset == 0.5
    assert float(m.intensity.mp(mpmath.mpf(3))) == 9.0  # float fallback
    f = CustomIntensity(func=np.abs, bound=4.0, lipschitz_constant=1.0, increasing=False,
                        mp_func=lambda x: abs(x))
    assert f.sup == 4.0 and f.lipschitz == 1.0 and f.mp(mpmath.mpf(-2)) == 2
    with pytest.raises(InvalidArgumentError, match="func"):
        CustomIntensity(func=3.0)
    with pytest.raises(InvalidArgumentError, match="func"):
        CustomDrift(func=None)
    with pytest.raises(InvalidArgumentError, match="lipschitz_constant"):
        CustomDrift(func=np.sin, lipschitz_constant=-1.0)
    with pytest.raises(InvalidArgumentError, match="drift"):
        NeuronModel(drift="leaky", intensity=Sigmoid())
    with pytest.raises(InvalidArgumentError, match="intensity"):
        NeuronModel(drift=Leaky(), intensity="sigmoid")
    with pytest.raises(InvalidArgumentError, match="custom"):
        m.to_config()


@pytest.mark.parametrize("make,arg", [
    (lambda: Sigmoid(lam="3"), "lam"), (lambda: Exponential(beta=True), "beta"),
    (lambda: ReLU(cap="inf"), "cap"), (lambda: Constant(lam0=None), "lam0"),
    (lambda: CustomIntensity(func=np.abs, bound=-1.0), "bound"),
    (lambda: NeuronModel(Leaky(), Sigmoid(), reset="0"), "reset"),
])
def test_parameters_are_checked_by_the_validation_module(make, arg):
    """The checks of :mod:`solvers.validation`: strings and booleans are not numbers (the former local
    checks accepted any string ``float()`` could parse)."""
    with pytest.raises(InvalidArgumentError) as exc:
        make()
    assert f"argument '{arg}'" in str(exc.value) and "Fix:" in str(exc.value)


def test_relu_unbounded_spellings():
    assert ReLU(cap=None).cap == math.inf and ReLU(cap=np.inf).cap == math.inf and not ReLU(cap=None).bounded
    assert ReLU(cap=2).cap == 2.0 and isinstance(ReLU(cap=2).cap, float)


def test_derivative_contract():
    """Named families: exact closed-form derivatives.  User callables: exact with ``derivative_func``,
    else the stated central difference (relative error ~1e-10 for a smooth function) with
    ``exact_derivative = False``."""
    x = np.linspace(-3.0, 3.0, 61)
    for fam in (Leaky(), Sigmoid(), Exponential(), Constant(), ReLU()):
        assert fam.exact_derivative and np.shape(fam.derivative(x)) == x.shape
    exact = CustomIntensity(func=np.exp, derivative_func=np.exp)
    approx = CustomIntensity(func=np.exp)
    assert exact.exact_derivative and not approx.exact_derivative
    np.testing.assert_array_equal(exact.derivative(x), np.exp(x))
    np.testing.assert_allclose(approx.derivative(x), np.exp(x), rtol=1e-8)
    drift = CustomDrift(func=np.sin)
    assert not drift.exact_derivative and CustomDrift(func=np.sin, derivative_func=np.cos).exact_derivative
    np.testing.assert_allclose(drift.derivative(x), np.cos(x), rtol=1e-7, atol=1e-9)
    # a constant derivative_func broadcasts to the shape of x
    assert CustomDrift(func=np.negative, derivative_func=lambda y: -1.0).derivative(x).shape == x.shape
    with pytest.raises(InvalidArgumentError, match="derivative_func"):
        CustomIntensity(func=np.exp, derivative_func=1.0)


def test_sigmoid_derivative_keeps_relative_accuracy_in_the_right_tail():
    """``lam beta s (1 - s)`` (the former form) rounds to 0 once ``s`` rounds to 1 (``z > 37``); the
    stable ``lam beta e / (1 + e)^2`` keeps full relative accuracy (reference: mpmath)."""
    f = Sigmoid(lam=10.0, beta=5.0, theta=1.0)
    for x in (1.0 + 40.0 / 5.0, 1.0 + 100.0 / 5.0):
        with mpmath.workdps(40):
            E = mpmath.exp(-5 * (mpmath.mpf(x) - 1))
            want = float(50 * E / (1 + E) ** 2)
        assert want > 0 and float(f.derivative(x)) == pytest.approx(want, rel=1e-13)


# --------------------------------------------------------------------------- model and configs
def test_standard_model_is_the_spec_standard_neuron():
    m = NeuronModel.standard()
    assert isinstance(m.drift, Leaky) and m.drift.I0 == 1.5
    assert isinstance(m.intensity, Sigmoid)
    assert (m.intensity.lam, m.intensity.beta, m.intensity.theta) == (10.0, 5.0, 1.0)
    assert m.reset == 0.0
    # the value at x = theta is lam / 2 and the leaky fixed point with no input is I0
    assert m.intensity(1.0) == pytest.approx(5.0) and m.drift.fixed_point() == 1.5


@pytest.mark.parametrize("model", [
    NeuronModel.standard(),
    NeuronModel(Leaky(I0=-0.3), Exponential(c=0.2, beta=1.5, theta=0.5), reset=-1.0),
    NeuronModel(Leaky(I0=2.0), Constant(lam0=0.8)),
    NeuronModel(Leaky(), ReLU(slope=2.0, theta=0.1, cap=math.inf), reset=0.25),
])
def test_config_round_trip(model):
    cfg = model.to_config()
    assert cfg["intensity"]["family"] == model.intensity.kind and cfg["drift"]["family"] == "leaky"
    assert NeuronModel.from_config(cfg) == model


def test_from_config_defaults_and_errors():
    m = NeuronModel.from_config({"intensity": {"family": "SIGMOID", "lam": 3}})
    assert m.drift == Leaky() and m.intensity == Sigmoid(lam=3.0) and m.reset == 0.0
    with pytest.raises(InvalidArgumentError) as exc:
        NeuronModel.from_config({"intensity": {"family": "tanh"}})
    for valid in INTENSITY_FAMILIES:
        assert valid in str(exc.value)
    assert "'tanh'" in str(exc.value)
    with pytest.raises(InvalidArgumentError) as exc:
        NeuronModel.from_config({"drift": {"family": "quadratic"}, "intensity": {"family": "constant"}})
    for valid in DRIFT_FAMILIES:
        assert valid in str(exc.value)
    with pytest.raises(InvalidArgumentError, match="wrong parameters"):
        NeuronModel.from_config({"intensity": {"family": "sigmoid", "gain": 2}})
    with pytest.raises(InvalidArgumentError, match="family"):
        NeuronModel.from_config({"intensity": {"lam": 2}})
    with pytest.raises(InvalidArgumentError, match="config"):
        NeuronModel.from_config([("intensity", "sigmoid")])


def test_generator_weak_form():
    """``(b + h) psi' + f (psi(x_r) - psi)`` for psi = sin, written out independently."""
    m = NeuronModel(Leaky(I0=1.2), Sigmoid(lam=4.0, beta=2.0, theta=0.5), reset=0.3)
    x = np.linspace(-2, 3, 11)
    expected = (1.2 - x + 0.7) * np.cos(x) + sigmoid_ref(x, 4.0, 2.0, 0.5) * (math.sin(0.3) - np.sin(x))
    np.testing.assert_allclose(m.generator(np.sin, np.cos, x, h=0.7), expected, rtol=1e-12)


def test_models_are_frozen():
    m = NeuronModel.standard()
    with pytest.raises(AttributeError):
        m.reset = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        m.intensity.lam = 2.0  # type: ignore[misc]


# ------------------------------------------------------------------------------ errors, seeds
def test_error_hierarchy_and_message_format():
    assert issubclass(InvalidArgumentError, ValueError) and issubclass(InvalidArgumentError, IfmfError)
    assert issubclass(SimulationError, RuntimeError) and issubclass(SimulationError, IfmfError)
    assert issubclass(ConvergenceError, RuntimeError) and issubclass(ConvergenceError, IfmfError)
    e = bad_argument("dt", 0.5, "must be < 0.1", "pass dt=0.01")
    assert isinstance(e, InvalidArgumentError)
    assert str(e) == "argument 'dt' = 0.5 (type float): must be < 0.1. Fix: pass dt=0.01."
    long = bad_argument("x", "y" * 200, "r", "f")
    assert "..." in str(long) and len(str(long)) < 150


def test_seeds_reproducible_and_distinct():
    a = make_rng(123).random(5)
    np.testing.assert_array_equal(a, make_rng(123).random(5))
    assert not np.array_equal(a, make_rng(124).random(5))
    ss = np.random.SeedSequence(123)
    assert as_seed_sequence(ss) is ss
    np.testing.assert_array_equal(make_rng(ss).random(5), a)
    np.testing.assert_array_equal(make_rng(np.int64(123)).random(5), a)
    # a spawned child stream is not the parent stream
    child = np.random.SeedSequence(123).spawn(1)[0]
    assert not np.array_equal(make_rng(child).random(5), a)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "7", None])
def test_bad_seeds_raise(bad):
    with pytest.raises(InvalidArgumentError, match="'seed'"):
        make_rng(bad)
