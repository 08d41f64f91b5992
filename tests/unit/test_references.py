"""Tests of the mpmath references: the two stationary quadratures, Phi, phi_double, the
homogeneous stationary states (solvers.references.transfer, .stationary, .transfer_double).

Every reference value here comes from a computation that does not share code with the function
under test: closed forms (constant intensity, ReLU through the incomplete gamma function,
exponential intensity through the exponential integral E1), mpmath's own tanh-sinh quadrature and
a Monte Carlo simulation of interspike intervals by thinning.  The expensive cases are marked
``slow`` (same assertions; run with the full suite).
"""
from __future__ import annotations

import dataclasses
import math

import mpmath
import numpy as np
import pytest

from solvers import references as R
from solvers.errors import ConvergenceError, InvalidArgumentError
from solvers.model import (
    Constant,
    CustomDrift,
    Exponential,
    Leaky,
    NeuronModel,
    ReLU,
    Sigmoid,
)
from solvers.references import space_quadrature, stationary

STD = NeuronModel.standard()
DPS = 30


def _rel(a, b):
    a = mpmath.mpf(a)
    b = mpmath.mpf(b)
    return abs(a - b) / abs(b)


# ------------------------------------------------------------------------------- stationary rate
def _slow(*values):
    """Parameters of the slow tier (each costs about one second of mpmath)."""
    return [pytest.param(*(v if isinstance(v, tuple) else (v,)), marks=pytest.mark.slow) for v in values]


@pytest.mark.parametrize("J", [0.0, *_slow(-1.0, 0.5, 1.0)])
def test_two_quadratures_agree_standard_neuron(J):
    st = R.stationary_rate(STD, J, dps=DPS)
    with mpmath.workdps(50):
        # at least 15 significant digits required by the issue; the module promises dps - 5 = 25
        assert _rel(st.rate_age, st.rate_space) < mpmath.mpf(10) ** -25
        assert _rel(st.mean_age, st.mean_space) < mpmath.mpf(10) ** -25
        assert st.digits_agreed >= 25
        assert abs(st.input - mpmath.mpf(J) * st.rate) < mpmath.mpf(10) ** -40
        assert abs(st.fixed_point - (mpmath.mpf(1.5) + st.input)) < mpmath.mpf(10) ** -40
        assert float(st) == float(st.rate)
        # the fixed point equation holds for the independently computed Phi (space quadrature)
        T, _ = R.isi_moments(STD, st.input, dps=DPS, method="space")
        assert _rel(1 / T, st.rate) < mpmath.mpf(10) ** -25
    assert 0 < float(st.rate) < 10.0


@pytest.mark.parametrize("J,val", [(0.0, "1.3071149583621483759"),
                                   *_slow((-1.0, "0.70279846178287735466"), (0.5, "2.0278901128557196750"),
                                          (1.0, "3.2353163064221725111"))])
def test_standard_neuron_known_values(J, val):
    """Values recorded from the two-method computation (regression: both methods must keep them)."""
    st = R.stationary_rate(STD, J, dps=DPS)
    with mpmath.workdps(30):
        assert _rel(st.rate, mpmath.mpf(val)) < mpmath.mpf(10) ** -19


@pytest.mark.slow
def test_phi_matches_nested_tanh_sinh():
    """Phi(h) against mpmath.quad of S(s) with the inner integral also by mpmath.quad (no shared code)."""
    h = mpmath.mpf("0.75")
    with mpmath.workdps(18):
        c = mpmath.mpf(1.5) + h
        f = STD.intensity.mp

        def S(s):
            lam = mpmath.quad(lambda u: f(c - c * mpmath.exp(-u)), [0, s])
            return mpmath.exp(-lam)

        T = mpmath.quad(S, [0, 1, 3, 8, 20])
        T += S(20) / f(c)  # f(x(s)) = f(c) to 1e-8 relative after s = 20, and S(20) ~ 1e-80
        ref = 1 / T
    val = R.phi(STD, h, dps=DPS)
    with mpmath.workdps(30):
        assert _rel(val, ref) < mpmath.mpf(10) ** -15


def test_constant_intensity_closed_form():
    lam0, I0, xr, J = 2.0, 1.0, -0.25, 0.75
    model = NeuronModel(Leaky(I0), Constant(lam0), reset=xr)
    st = R.stationary_rate(model, J, dps=DPS)
    with mpmath.workdps(40):
        assert _rel(st.rate, lam0) < mpmath.mpf(10) ** -28
        # stationary mean: 0 = I0 + h - E X + lam0 (x_r - E X)  =>  E X = (I0 + h + lam0 x_r) / (1 + lam0)
        mean = (mpmath.mpf(I0) + mpmath.mpf(J) * lam0 + lam0 * mpmath.mpf(xr)) / (1 + lam0)
        assert _rel(st.mean, mean) < mpmath.mpf(10) ** -27
        assert _rel(R.stationary_mean(model, J, dps=DPS), mean) < mpmath.mpf(10) ** -27


@pytest.mark.parametrize("h", [0.0, 1.0])
def test_relu_closed_form_incomplete_gamma(h):
    """f = a max(0, x), x(s) = c (1 - e^{-s}):  Lambda = k (s - 1 + e^{-s}), k = a c, and
    E[ISI] = e^k k^-k gamma(k, k) (lower incomplete gamma);
    int x S = c e^k (k^-k gamma(k,k) - k^-(k+1) gamma(k+1,k))."""
    a, I0 = 2.0, 1.5
    model = NeuronModel(Leaky(I0), ReLU(slope=a, theta=0.0, cap=math.inf), reset=0.0)
    with mpmath.workdps(45):
        c = mpmath.mpf(I0) + h
        k = a * c
        T = mpmath.e**k * k**-k * mpmath.gammainc(k, 0, k)
        M = c * mpmath.e**k * (k**-k * mpmath.gammainc(k, 0, k) - k ** -(k + 1) * mpmath.gammainc(k + 1, 0, k))
        for method in ("age", "space"):
            Tq, Mq = R.isi_moments(model, h, dps=DPS, method=method)
            assert _rel(Tq, T) < mpmath.mpf(10) ** -28, method
            assert _rel(Mq, M) < mpmath.mpf(10) ** -28, method


def test_exponential_intensity_against_e1():
    """f = C e^{beta (x - theta)}: Lambda(s) = A (E1(B e^{-s}) - E1(B)), A = C e^{beta (c - theta)},
    B = beta (c - x_r); E[ISI] = int_0^inf exp(-Lambda) ds by tanh-sinh."""
    C, beta, theta, I0, h = 1.0, 1.0, 1.0, 1.0, -0.3
    model = NeuronModel(Leaky(I0), Exponential(C, beta, theta), reset=0.0)
    with mpmath.workdps(40):
        c = mpmath.mpf(I0) + mpmath.mpf(h)
        A = C * mpmath.exp(beta * (c - theta))
        B = beta * c
        T = mpmath.quad(lambda s: mpmath.exp(-A * (mpmath.e1(B * mpmath.exp(-s)) - mpmath.e1(B))),
                        [0, 1, 4, 10, 30, 80, mpmath.inf])
        Tq, _ = R.isi_moments(model, mpmath.mpf(h), dps=DPS)
        assert _rel(Tq, T) < mpmath.mpf(10) ** -28


@pytest.mark.slow
def test_exponential_and_relu_stationary_agree():
    for model, J in [(NeuronModel(Leaky(1.0), Exponential(1.0, 1.0, 1.0)), -0.5),
                     (NeuronModel(Leaky(1.0), ReLU(1.0, 0.5, 2.0)), 0.25)]:  # ReLU: two kinks on the path
        st = R.stationary_rate(model, J, dps=DPS)
        assert st.digits_agreed >= 25
        with mpmath.workdps(40):
            assert _rel(st.rate_age, st.rate_space) < mpmath.mpf(10) ** -25


@pytest.mark.slow
def test_fixed_point_below_reset():
    """x* < x_r: the neuron drifts down from the reset (reset 1, I0 = 0.2, J = -0.5)."""
    model = NeuronModel(Leaky(0.2), Sigmoid(), reset=1.0)
    st = R.stationary_rate(model, -0.5, dps=DPS)
    assert st.fixed_point < model.reset
    assert st.digits_agreed >= 25
    assert float(st.fixed_point) < float(st.mean) < 1.0
    # x* > x_r at larger input: the path direction flips and both still agree
    T_age, M_age = R.isi_moments(model, 2.0, dps=DPS, method="age")
    T_sp, M_sp = R.isi_moments(model, 2.0, dps=DPS, method="space")
    with mpmath.workdps(40):
        assert _rel(T_age, T_sp) < mpmath.mpf(10) ** -28
        assert _rel(M_age, M_sp) < mpmath.mpf(10) ** -28


@pytest.mark.slow
def test_nonlinear_drift_two_quadratures_agree():
    """b(x) = 1.5 - x - x^3/5 (no closed-form flow): the age method integrates the flow with
    mpmath.odefun, the space method never solves it; they must agree to 28 digits."""
    drift = CustomDrift(func=lambda x: 1.5 - x - 0.2 * x**3, mp_func=lambda x: mpmath.mpf(1.5) - x - x**3 / 5)
    model = NeuronModel(drift, Sigmoid())
    Ta, Ma = R.isi_moments(model, 0.0, dps=DPS, method="age")
    Ts, Ms = R.isi_moments(model, 0.0, dps=DPS, method="space")
    with mpmath.workdps(40):
        assert _rel(Ta, Ts) < mpmath.mpf(10) ** -28
        assert _rel(Ma, Ms) < mpmath.mpf(10) ** -28
    P, _ = R.phi_double(model, np.array([0.0]))
    assert P[0] == pytest.approx(float(1 / Ta), rel=1e-11)


def test_degenerate_cases():
    # x* = x_r: the neuron never moves, Phi = f(x_r)
    model = NeuronModel(Leaky(0.0), Sigmoid(), reset=0.0)
    with mpmath.workdps(40):
        assert _rel(R.phi(model, 0.0), Sigmoid().mp(mpmath.mpf(0))) < mpmath.mpf(10) ** -30
    # f(x*) = 0: the neuron stops firing with positive probability, Phi = 0
    model = NeuronModel(Leaky(0.5), ReLU(1.0, 1.0, 5.0), reset=0.0)
    assert R.phi(model, 0.0) == 0
    st = R.stationary_rate(model, -1.0)
    assert st.rate == 0 and float(st.mean) == pytest.approx(0.5)


def test_phi_monte_carlo():
    """Mean ISI of the standard neuron at h = 0 by exact thinning (bound 10), 2e5 intervals;
    tolerance 4 standard errors (two-sided false-failure rate 6e-5; the seed is fixed)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(20261127)))
    n = 200_000
    s = np.zeros(n)
    alive = np.arange(n)
    isi = np.empty(n)
    while alive.size:
        s[alive] += rng.exponential(1 / 10.0, alive.size)
        x = 1.5 * (1 - np.exp(-s[alive]))
        fire = rng.random(alive.size) * 10.0 < STD.intensity(x)
        isi[alive[fire]] = s[alive[fire]]
        alive = alive[~fire]
    mean, se = isi.mean(), isi.std(ddof=1) / math.sqrt(n)
    T, _ = R.isi_moments(STD, 0.0, dps=DPS)
    assert abs(mean - float(T)) < 4 * se


@pytest.mark.parametrize("model", [STD, *_slow(NeuronModel(Leaky(1.0), ReLU(1.0, 0.5, 2.0)),
                                                NeuronModel(Leaky(0.2), Sigmoid(), reset=1.0))],
                         ids=["standard", "relu", "sigmoid-below-reset"])
def test_phi_double_against_mpmath(model):
    hs = np.array([-3.0, -0.4, 0.7, 2.0])
    P, Pp = R.phi_double(model, hs)
    for k, (h, p, pp) in enumerate(zip(hs, P, Pp)):
        ref = float(R.phi(model, float(h), check=False))
        assert p == pytest.approx(ref, rel=1e-12, abs=1e-300)
        if k in (1, 2):
            refp = float(R.phi_prime(model, float(h)))
            assert pp == pytest.approx(refp, rel=1e-10, abs=1e-14)


@pytest.mark.slow
def test_phi_prime_against_difference_quotient():
    h = 0.3
    with mpmath.workdps(50):
        e = mpmath.mpf(10) ** -10
        dq = (R.phi(STD, h + e, dps=40, check=False) - R.phi(STD, h - e, dps=40, check=False)) / (2 * e)
        # central difference error ~ e^2 Phi''' / 6 < 1e-19
        assert _rel(R.phi_prime(STD, h), dq) < mpmath.mpf(10) ** -18


@pytest.mark.slow
def test_multiple_fixed_points_reported():
    """No bias current and strong excitation (I0 = 0, J = 1.2): three fixed points; 'unique' must refuse."""
    model = NeuronModel(Leaky(0.0), Sigmoid(lam=10.0, beta=5.0, theta=1.0), reset=0.0)
    states = R.stationary_states(model, 1.2, dps=20)
    assert len(states) == 3
    rates = [float(s.rate) for s in states]
    assert rates == sorted(rates)
    for s in states:
        with mpmath.workdps(30):
            assert _rel(R.phi(model, s.input, dps=20), s.rate) < mpmath.mpf(10) ** -15
    with pytest.raises(ConvergenceError, match="fixed points"):
        R.stationary_rate(model, 1.2, dps=20)
    assert R.stationary_rate(model, 1.2, dps=20, which="lowest") is states[0]
    assert R.stationary_rate(model, 1.2, dps=20, which="highest") is states[-1]
    assert R.stationary_rate(model, 1.2, dps=20, which=1) is states[1]


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="model"):
        R.stationary_rate("standard", 1.0)
    with pytest.raises(InvalidArgumentError, match="'J'"):
        R.stationary_rate(STD, float("nan"))
    with pytest.raises(InvalidArgumentError, match="dps"):
        R.stationary_rate(STD, 1.0, dps=5)
    with pytest.raises(InvalidArgumentError, match="which"):
        R.stationary_rate(STD, 1.0, which="middle")
    with pytest.raises(InvalidArgumentError, match="method"):
        R.isi_moments(STD, 0.0, method="euler")
    with pytest.raises(InvalidArgumentError, match="'h'"):
        R.phi(STD, "x")


def test_non_numeric_arguments_raise_invalid_argument():
    """Inputs numpy cannot convert are user errors (InvalidArgumentError), not a raw ValueError; a
    bad ``which`` is refused before the stationary state is computed."""
    with pytest.raises(InvalidArgumentError, match="'h'"):
        R.phi_double(STD, "x")
    with pytest.raises(InvalidArgumentError, match="'h'"):
        R.phi_double(STD, [0.0, None])
    with pytest.raises(InvalidArgumentError, match="which"):
        R.stationary_rate(STD, 0.3, which=True)
    with pytest.raises(InvalidArgumentError, match="dps"):
        R.phi(STD, 0.0, dps=30.0)


def test_disagreement_raises_naming_both_values(monkeypatch):
    """If the confirming quadrature disagrees (simulated by perturbing it by 1e-20 relative), phi and
    stationary_rate must raise ConvergenceError with both values in the message."""
    real = space_quadrature.isi_integrals

    def perturbed(model, h):
        q = real(model, h)
        return dataclasses.replace(q, T=q.T * (1 + mpmath.mpf(10) ** -20))

    monkeypatch.setattr(space_quadrature, "isi_integrals", perturbed)
    with pytest.raises(ConvergenceError, match=r"age quadrature 1\.3071\d+ and space quadrature 1\.3071\d+"):
        R.phi(STD, 0.0, dps=30)
    R.phi(STD, 0.0, dps=20)  # 1e-20 is within the 15 digits asked for at dps = 20
    with pytest.raises(ConvergenceError, match=r"rate 1\.307\d+ vs 1\.307\d+"):
        stationary._states_cached.__wrapped__(STD, 0.0, 30)  # bypass the cache of the unperturbed result
