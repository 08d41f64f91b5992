"""Tests of the exact constant-intensity law (solvers.references.constant_intensity).

References: numerical integration of the CDF by scipy (moments), sampling of the defining process
(DKW bound), the limits t = 0 and t -> inf (the latter against the mpmath stationary state).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from solvers import references as R
from solvers.errors import InvalidArgumentError
from solvers.graphons import constant, labels, product, skew
from solvers.model import Constant, Leaky, NeuronModel

STD = NeuronModel.standard()


def _law_model(lam0=1.5, I0=1.0, xr=0.0):
    return NeuronModel(Leaky(I0), Constant(lam0), reset=xr)


def _mean_from_cdf(law, xi, lo, hi, points):
    """E X = hi - int_lo^hi F(x) dx and E X^2 = hi^2 - int 2 x F dx (F(lo-) = 0, F(hi) = 1)."""
    def F(x):
        return float(law.cdf(xi, x))

    I1 = integrate.quad(F, lo, hi, points=points, limit=200, epsabs=1e-13, epsrel=1e-13)[0]
    I2 = integrate.quad(lambda x: 2 * x * F(x), lo, hi, points=points, limit=200, epsabs=1e-13, epsrel=1e-13)[0]
    return hi - I1, hi * hi - I2


@pytest.mark.parametrize("xr,x0", [(0.0, 0.0), (0.0, 2.5), (3.0, 0.5)])  # x_r < c and x_r > c
def test_law_cdf_properties_and_moments(xr, x0):
    model = _law_model(xr=xr)
    law = R.constant_intensity_law(model, kernel=product(), t=0.8, initial=x0)
    for xi in (0.1, 0.5, 0.9):
        c = float(law.c(xi))
        assert c == pytest.approx(1.0 + 1.5 * xi)  # degree of the product kernel is xi
        xs = np.linspace(-1, 4, 2001)
        F = law.cdf(xi, xs)
        assert np.all(np.diff(F) >= -1e-15) and F.min() >= 0 and F.max() <= 1 + 1e-15
        assert F[0] == 0 and F[-1] == pytest.approx(1, abs=1e-15)
        a = float(law.atom_position(xi))
        jump = float(law.cdf(xi, a) - law.cdf(xi, np.nextafter(a, -np.inf)))
        assert jump == pytest.approx(law.atom_mass, abs=1e-12)
        assert law.atom_mass == pytest.approx(math.exp(-1.5 * 0.8))
        lo, hi = min(x0, xr, c) - 0.1, max(x0, xr, c) + 0.1
        m1, m2 = _mean_from_cdf(law, xi, lo, hi, [a, xr])
        assert float(law.mean(xi)) == pytest.approx(m1, abs=1e-10)
        assert float(law.second_moment(xi)) == pytest.approx(m2, abs=1e-10)
        assert float(law.variance(xi)) == pytest.approx(m2 - m1**2, abs=1e-9)


def test_law_gaussian_datum():
    model = _law_model()
    law = R.constant_intensity_law(model, kernel=skew(), t=1.3, initial=0.4, sigma=0.3)
    assert law.atom_mass == 0.0 and law.no_fire_mass == pytest.approx(math.exp(-1.5 * 1.3))
    xi = 0.35
    F = law.cdf(xi, np.linspace(-3, 4, 3001))
    assert np.all(np.diff(F) >= -1e-15)
    m1, m2 = _mean_from_cdf(law, xi, -3.0, 4.0, [0.0, float(law.atom_position(xi))])
    assert float(law.mean(xi)) == pytest.approx(m1, abs=1e-9)
    assert float(law.second_moment(xi)) == pytest.approx(m2, abs=1e-9)


def test_law_monte_carlo_dkw():
    """Sample the defining process (Poisson clock of rate lam0, Gaussian datum) and compare the
    empirical CDF: DKW gives P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2) = 1e-6 at the eps used."""
    lam0, t, x0, sig, I0 = 1.5, 0.9, 2.0, 0.25, 1.0
    law = R.constant_intensity_law(_law_model(lam0, I0), degree=0.4, t=t, initial=x0, sigma=sig)
    c = I0 + lam0 * 0.4
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7)))
    n = 100_000
    X0 = x0 + sig * rng.standard_normal(n)
    # forward Poisson process on (0, t]: K ~ Poisson(lam0 t) firings, the last at t U^(1/K)
    K = rng.poisson(lam0 * t, n)
    last = t * rng.random(n) ** (1.0 / np.maximum(K, 1))
    X = np.where(K == 0, c + (X0 - c) * math.exp(-t), c + (0.0 - c) * np.exp(-(t - last)))
    xs = np.sort(X)
    emp = np.arange(1, n + 1) / n
    F = law.cdf(0.5, xs)
    eps = math.sqrt(math.log(2 / 1e-6) / (2 * n))
    assert np.max(np.abs(emp - F)) < eps
    assert np.max(np.abs(emp - 1 / n - F)) < eps


def test_law_limits():
    model = _law_model(lam0=2.0, I0=0.5, xr=-0.5)
    law0 = R.constant_intensity_law(model, kernel=constant(0.7), t=0.0, initial=1.2)
    assert law0.atom_mass == 1.0
    assert float(law0.mean(0.3)) == pytest.approx(1.2, abs=1e-15)
    assert law0.cdf(0.3, 1.2 - 1e-12) == 0 and law0.cdf(0.3, 1.2) == 1
    lawinf = R.constant_intensity_law(model, kernel=constant(0.7), t=60.0, initial=1.2)
    assert lawinf.atom_mass < 1e-50
    # t -> inf: the stationary state of SPEC section 3, computed independently by stationary_rate
    st = R.stationary_rate(model, 0.7, dps=20)
    assert float(lawinf.mean(0.3)) == pytest.approx(float(st.mean), rel=1e-14)
    c = 0.5 + 2.0 * 0.7
    x = np.linspace(-0.5, c - 1e-9, 50)
    assert np.allclose(lawinf.cdf(0.3, x), 1 - ((c - x) / (c + 0.5)) ** 2.0, atol=1e-14)


def test_law_special_cases():
    # c == x_r: the reset cohort is an atom at x_r
    model = NeuronModel(Leaky(-1.0), Constant(1.0), reset=0.0)
    law = R.constant_intensity_law(model, degree=1.0, t=0.7, initial=2.0)
    assert float(law.c(0.5)) == 0.0
    p = -math.expm1(-0.7)
    assert float(law.cohort_atom_mass(0.5)) == pytest.approx(p)
    assert float(law.cdf(0.5, 0.0) - law.cdf(0.5, -1e-12)) == pytest.approx(p)
    assert float(law.mean(0.5)) == pytest.approx(math.exp(-0.7) * 2.0 * math.exp(-0.7))
    # lam0 = 0: deterministic flow
    model = NeuronModel(Leaky(1.0), Constant(0.0), reset=0.0)
    law = R.constant_intensity_law(model, kernel=product(), t=2.0, initial=3.0)
    assert law.atom_mass == 1.0
    assert float(law.mean(0.2)) == pytest.approx(1.0 + 2.0 * math.exp(-2.0))
    assert float(law.variance(0.2)) == pytest.approx(0.0, abs=1e-14)


def test_law_finite_network_degrees():
    N = 40
    W = product().weights(N)
    deg = W.sum(axis=1)
    law = R.constant_intensity_law(_law_model(), degree=deg, t=1.0, initial=0.0)
    xi = labels(N)
    assert np.allclose(law.c(xi), 1.0 + 1.5 * deg, rtol=0, atol=1e-15)
    m = law.mean(xi)
    assert m.shape == (N,)
    # same formula as the kernel version with the kernel's degree replaced by the row sums
    law_k = R.constant_intensity_law(_law_model(), kernel=product(), t=1.0, initial=0.0)
    assert np.max(np.abs(m - law_k.mean(xi))) < 1.5 * np.max(np.abs(deg - xi)) + 1e-15


def test_law_vectorised_shapes():
    law = R.constant_intensity_law(_law_model(), kernel=product(), t=0.5, initial=0.0)
    F = law.cdf(labels(8)[:, None], np.linspace(-1, 3, 5)[None, :])
    assert F.shape == (8, 5)
    assert law.mean(labels(8)).shape == (8,)


def test_law_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="constant intensity"):
        R.constant_intensity_law(STD, kernel=product(), t=1.0, initial=0.0)
    with pytest.raises(InvalidArgumentError, match="'t'"):
        R.constant_intensity_law(_law_model(), kernel=product(), t=-1.0, initial=0.0)
    with pytest.raises(InvalidArgumentError, match="sigma"):
        R.constant_intensity_law(_law_model(), kernel=product(), t=1.0, initial=0.0, sigma=-0.1)
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        R.constant_intensity_law(_law_model(), kernel=product(), t=1.0, initial=0.0, degree=1.0)
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        R.constant_intensity_law(_law_model(), kernel=None, t=1.0, initial=0.0)
    with pytest.raises(InvalidArgumentError, match="degree"):
        R.constant_intensity_law(_law_model(), t=1.0, initial=0.0, degree=[1.0, np.nan])



def test_law_non_numeric_degree_and_initial():
    with pytest.raises(InvalidArgumentError, match="degree"):
        R.constant_intensity_law(_law_model(), t=1.0, initial=0.0, degree="abc")
    with pytest.raises(InvalidArgumentError, match="initial"):
        R.constant_intensity_law(_law_model(), kernel=product(), t=1.0, initial="0")
    with pytest.raises(TypeError):   # every argument but the model is keyword-only
        R.constant_intensity_law(_law_model(), product(), 1.0, 0.0)
