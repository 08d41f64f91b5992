"""Closed forms for the weak metric and its companions (each derived here, never taken from the code).

V3, alternating initial values (SPEC section 7).  ``X_i = a`` for even ``i`` (0-based: the first
neuron), ``b`` for odd ``i`` (``a < b``); the limit ``mu_0`` has the slice ``(delta_a + delta_b)/2`` at
every ``xi``.  Then ``D(xi, x) = eps(xi) 1_{[a, b)}(x) / 2`` with ``eps = +1`` on the cells of the
``a``-neurons and ``-1`` on the others, so ``A(zeta, x) = (1/2) 1_{[a,b)}(x) E(zeta)`` with
``E(zeta) = int w(zeta, xi) eps(xi) dxi`` and ``d_w = (b - a)/2 int_0^1 |E(zeta)| dzeta``.  Moments of
``eps`` over ``N`` cells of width ``1/N`` (``eps_k = (-1)^k``):

* ``int eps = 0`` (even ``N``), ``1/N`` (odd);
* ``int xi eps = (1/(2N^2)) sum_k (-1)^k (2k+1) = -1/(2N)`` (even: ``N/2`` pairs of ``-2``),
  ``+1/(2N)`` (odd: ``-2m + (4m+1)`` with ``N = 2m+1``);
* ``int e^{-2 pi i xi} eps = sum_k (-e^{-2 pi i/N})^k int_0^{1/N} e^{-2 pi i xi}
  = (1 - (-1)^N) / (1 + e^{-2 pi i/N}) * (1 - e^{-2 pi i/N}) / (2 pi i)``: ``0`` for even ``N`` and the
  real number ``tau_N = tan(pi/N)/pi`` for odd ``N``;
* ``int_0^{1/2} eps``: ``N = 2m``: ``(1/N) sum_{k<m} (-1)^k`` = 0 if ``m`` is even, ``1/N`` if odd;
  ``N = 2m+1``: the middle cell is cut in half, ``1/(2N)`` for both parities of ``m``; and
  ``int_{1/2}^1 eps = int eps - int_0^{1/2} eps``.

Kernels (``w(zeta, xi)``, ``zeta`` first):

* ``skew`` ``0.8 + 0.6 zeta - 0.4 xi + 0.5 sin(2 pi (zeta - xi))``:
  ``E = (0.8 + 0.6 zeta) int eps - 0.4 int xi eps + 0.5 Im(e^{2 pi i zeta} int e^{-2 pi i xi} eps)``.
  Even ``N``: ``E = 0.2/N`` for every ``zeta``: ``d_w = 0.1 (b - a) / N``, ``C_even = 0.12`` for
  ``b - a = 1.2``.  Odd ``N``: ``E = (0.6 + 0.6 zeta)/N + 0.5 tau_N sin(2 pi zeta) > 0`` (checked
  below for the N used), so ``int |E| = 0.9/N`` and ``C_odd = 0.45 (b - a) = 0.54``.
* ``ring`` ``J0 + J1 cos(2 pi (zeta - xi))``: even ``N``: ``E = 0``; odd: ``E = J0/N + J1 tau_N
  cos(2 pi zeta) > 0`` (``J1 tau_N < J0/N``), ``d_w = (b - a) J0 / (2N) = 0.6/N``.
* ``constant`` ``J``: ``d_w = 0`` (even), ``(b - a) J/(2N) = 0.6/N`` (odd).
* ``two-block`` (``1.5`` on the diagonal blocks, ``0.2`` off): ``N = 4m``: ``0``;
  ``N = 4m + 2``: ``E = +-1.3/N`` on the two halves, ``d_w = 0.6 * 1.3/N = 0.78/N`` -- *not* zero;
  odd ``N``: ``E = 1.7/(2N)``, ``d_w = 0.51/N``.  So SPEC's "0 at even N, 0.6/N at odd N" holds for
  ``ring`` and ``constant``; for ``two-block`` it holds only for ``N`` divisible by 4, and its odd
  value is ``0.51/N`` (the degree ``(1.5 + 0.2)/2`` times ``0.6/N``).
* The strong distance is ``int W_1 = (b - a)/2 = 0.6`` for every ``N``.

Shifted Dirac slices: ``mu = delta_0``, ``nu = delta_{a_c}`` on cell ``C_c`` (``a_c >= 0``): ``D = 1`` on
``[0, a_c)``, ``A(zeta, x) = sum_{c: a_c > x} int_{C_c} w(zeta, xi) dxi``; for ``w >= 0`` take
``g = s = 1``: ``d_w = sum_c a_c int_{C_c} in_degree``; for ``skew`` ``in_degree(xi) = 1.1 - 0.4 xi``.

MMD of two Gaussian slices (same law at every ``xi``): ``d^2 = int int K_w (..)`` with
``int int K_w(xi, xi') dxi dxi' = int_zeta (int_xi w)^2 = J^2`` for ``w = J``; and for
``X ~ N(m1, s1^2)``, ``Y ~ N(m2, s2^2)``, ``E exp(-(X - Y)^2 / (2 b^2)) = b / sqrt(b^2 + s1^2 + s2^2)
exp(-(m1 - m2)^2 / (2 (b^2 + s1^2 + s2^2)))``.
"""
import math

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import wasserstein_distance

from solvers.errors import InvalidArgumentError
from solvers.graphons import StepKernel, constant, product, ring, skew, two_block
from solvers.measures import ExtendedMeasure
from verification.metrics import kernel_mmd, pairing, population_w1, strong_distance, weak_distance


def alternating(N, a=0.0, b=1.2):
    return ExtendedMeasure.from_network(np.where(np.arange(N) % 2 == 0, a, b))


def limit(a=0.0, b=1.2):
    return ExtendedMeasure(edges=[0.0, 1.0], atom_ptr=[0, 2], atom_x=[a, b], atom_m=[0.5, 0.5],
                           cont_ptr=[0, 0], cont_x=[], cont_F=[])


def expected_v3(name, N):
    if name == "skew":
        return 0.12 / N if N % 2 == 0 else 0.54 / N
    if name in ("ring", "constant"):
        return 0.0 if N % 2 == 0 else 0.6 / N
    if name == "two-block":
        return {0: 0.0, 2: 0.78 / N}[N % 4] if N % 2 == 0 else 0.51 / N
    raise KeyError(name)


def test_odd_skew_profile_is_positive():
    """The odd-N derivation needs E(zeta) > 0 for the N used below."""
    z = np.linspace(0, 1, 100001)
    for N in (7, 11, 101, 1001):
        tau = math.tan(math.pi / N) / math.pi
        assert np.min((0.6 + 0.6 * z) / N + 0.5 * tau * np.sin(2 * np.pi * z)) > 0


@pytest.mark.parametrize("N", [8, 10, 11, 100, 101, 1000, 1001])
@pytest.mark.parametrize("kernel", [skew(), ring(), constant(), two_block()], ids=lambda k: k.name)
def test_v3_alternating_initial_values(kernel, N):
    br = weak_distance(alternating(N), limit(), kernel)
    exact = expected_v3(kernel.name, N)
    assert br.contains(exact, rtol=1e-9, atol=1e-12), (br, exact)
    # tight: exact kernels to rounding; the named continuous kernels within their zeta widening
    assert br.upper - exact <= 2e-3 * exact + 1e-11
    assert abs(strong_distance(alternating(N), limit()) - 0.6) < 1e-12
    if exact > 0:
        val = pairing(alternating(N), limit(), kernel, br.g, br.s)  # the certificate, recomputed
        assert abs(val - br.lower_certificate["value"]) <= 1e-9 * exact + 1e-13 and br.lower <= val


def test_v3_is_exactly_C_over_N_for_skew():
    ns = np.array([100, 200, 400, 800, 1600])
    for parity, C in ((0, 0.12), (1, 0.54)):
        vals = np.array([weak_distance(alternating(n + parity), limit(), skew()).lower for n in ns])
        np.testing.assert_allclose(vals * (ns + parity), C, rtol=1e-7)
        slope = np.polyfit(np.log(ns + parity), np.log(vals), 1)[0]
        assert abs(slope + 1.0) < 1e-6


def test_shifted_dirac_slices():
    n = 7
    shifts = np.linspace(0.1, 1.3, n)
    mu = ExtendedMeasure.from_network(np.zeros(n))
    nu = ExtendedMeasure.from_network(shifts)
    e = np.arange(n + 1) / n
    exact = float(np.sum(shifts * (1.1 * np.diff(e) - 0.2 * np.diff(e ** 2))))
    br = weak_distance(mu, nu, skew())
    assert br.contains(exact, rtol=1e-9) and br.ratio < 1.001
    # uniform shift: d_w = a int |degree| (degree(zeta) = int w(zeta, xi) dxi = 0.6 + 0.6 zeta)
    br = weak_distance(ExtendedMeasure.from_network(np.zeros(3)), ExtendedMeasure.from_network(np.full(3, 0.5)),
                       skew())
    assert br.contains(0.5 * 0.9, rtol=1e-9)
    # a kernel with zero degree does not see a uniform shift
    br = weak_distance(ExtendedMeasure.from_network(np.zeros(5)), ExtendedMeasure.from_network(np.ones(5)),
                       ring(J0=0.0, J1=1.0))
    assert br.upper < 1e-12


def test_product_kernel_and_continuous_slices():
    """Histogram slices: mu uniform on [0, 1], nu uniform on [0, 2] in every cell; D(x) = x/2 on
    [0, 1], 1 - x/2 on [1, 2] (int D = 1/2), w = 2 zeta xi >= 0: d_w = int zeta dzeta * 1/2 = 1/4;
    population and strong distances: 1/2."""
    mu = ExtendedMeasure.from_histogram([0.0, 1.0, 2.0], np.tile([1.0, 0.0], (4, 1)))
    nu = ExtendedMeasure.from_histogram([0.0, 1.0, 2.0], np.tile([0.5, 0.5], (4, 1)))
    br = weak_distance(mu, nu, product())
    assert br.contains(0.25, rtol=1e-9) and br.upper - 0.25 < 1e-5  # zeta widening (h^2/2) int |B|
    assert abs(population_w1(mu, nu) - 0.5) < 1e-14
    assert abs(strong_distance(mu, nu) - 0.5) < 1e-14


def brute_force(mu, nu, values):
    """max over g in {-1, 1}^{n_k} of int |sum_z g_z (1/n_k) A_z(x)| dx for atomic measures (D
    constant between breakpoints), with the step kernel's cell integrals from overlaps."""
    n_k = values.shape[0]
    x = np.unique(np.concatenate([mu.atom_x, nu.atom_x]))
    if x.size < 2:
        return 0.0
    mids = 0.5 * (x[1:] + x[:-1])
    ke = np.arange(n_k + 1) / n_k

    def A(m):
        over = np.clip(np.minimum(m.edges[1:, None], ke[None, 1:]) - np.maximum(m.edges[:-1, None], ke[None, :-1]),
                       0, None)  # (n_c, n_k): |C_c cap I_b|
        return values @ over.T @ m.cdf(mids)  # (n_k, len(mids)): A_z(x) on zeta cell z

    Az = A(mu) - A(nu)
    best = 0.0
    for code in range(2 ** n_k):
        g = np.array([1.0 if (code >> j) & 1 else -1.0 for j in range(n_k)])
        best = max(best, float(np.sum(np.abs(g @ Az) / n_k * np.diff(x))))
    return best


def test_brute_force_lies_in_the_bracket():
    rng = np.random.default_rng(3)
    for trial in range(20):
        n_k = int(rng.integers(1, 6))
        V = rng.uniform(-1, 1, (n_k, n_k))
        mu = ExtendedMeasure.from_network(rng.integers(-3, 4, int(rng.integers(1, 9))) / 2.0)
        nu = ExtendedMeasure.from_network(rng.integers(-3, 4, int(rng.integers(1, 9))) / 2.0)
        br = weak_distance(mu, nu, StepKernel(values=V), seed=trial)
        exact = brute_force(mu, nu, V)
        assert br.contains(exact, rtol=1e-9, atol=1e-12), (trial, br, exact)


def test_network_vs_pde_snapshot_bracket_is_tight():
    from solvers.meanfield import solve
    from solvers.model import NeuronModel

    sol = solve(NeuronModel.standard(), skew(), 2.0, 0.0, n_xi=16, dt=0.02, save_times=[2.0])
    pde = ExtendedMeasure.from_solution(sol, 2.0)
    X = np.random.default_rng(0).uniform(0.0, 2.0, 400)
    for kernel in (skew(), ring(), two_block()):
        br = weak_distance(ExtendedMeasure.from_network(X), pde, kernel)
        assert br.lower > 0 and br.ratio < 1.05, (kernel.name, br)
        val = pairing(ExtendedMeasure.from_network(X), pde, kernel, br.g, br.s, nodes=6)
        assert abs(val - br.lower_certificate["value"]) <= 1e-9 * br.lower
        assert br.grids["certified"] and br.discretisation["x"] == 0.0


def test_user_kernel_without_bounds_is_labelled_not_certified():
    from solvers.graphons import FunctionKernel

    k = FunctionKernel(func=lambda z, x: 1.0 + 0.3 * np.cos(3.0 * z * x))
    br = weak_distance(alternating(20), limit(), k)
    assert br.grids["factorisation"] == "quadrature" and "NOT CERTIFIED" in br.upper_method
    assert br.lower <= br.upper


def test_population_and_strong_distances_against_scipy():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=50), rng.normal(0.3, 1.2, size=70)
    mu, nu = ExtendedMeasure.from_network(X), ExtendedMeasure.from_network(Y)
    assert abs(population_w1(mu, nu) - wasserstein_distance(X, Y)) < 1e-12
    Y2 = rng.normal(size=50)  # one size: the strong distance is mean |X_i - Y_i|
    assert abs(strong_distance(mu, ExtendedMeasure.from_network(Y2)) - np.mean(np.abs(X - Y2))) < 1e-12


def gauss_hist(m, s, h, n_cells=3):
    edges = np.arange(m - 8 * s, m + 8 * s + h / 2, h)
    masses = np.diff(ndtr((edges - m) / s))
    masses /= masses.sum()
    return ExtendedMeasure.from_histogram(edges, np.tile(masses, (n_cells, 1)))


def test_mmd_two_gaussians_closed_form():
    """Piecewise-uniform Gaussians with exact bin masses on bins of width h: replacing the density
    rho by its bin mean moves int f rho by at most ||f'|| TV(rho) h^2 / 4; with f = k * (tau + tau~)
    (||f'|| <= 4 J^2 e^{-1/2} / b: two measures of mass 1 per side) and TV(rho) = 2 / (s sqrt(2 pi)),
    the quadratic forms differ by at most J^2 (h^2/4) (4 e^{-1/2}/b) (TV_1 + TV_2)."""
    m1, s1, m2, s2, b, J, h = 0.0, 0.3, 0.4, 0.2, 0.25, 1.5, 0.02
    mu, nu = gauss_hist(m1, s1, h), gauss_hist(m2, s2, h)

    def Ek(ma, sa, mb, sb):
        v = b * b + sa * sa + sb * sb
        return b / math.sqrt(v) * math.exp(-(ma - mb) ** 2 / (2 * v))

    closed = J * J * (Ek(m1, s1, m1, s1) + Ek(m2, s2, m2, s2) - 2 * Ek(m1, s1, m2, s2))
    tv = 2 / (s1 * math.sqrt(2 * math.pi)) + 2 / (s2 * math.sqrt(2 * math.pi))
    tol = J * J * (h * h / 4) * (4 * math.exp(-0.5) / b) * tv
    ex = kernel_mmd(mu, nu, constant(J), bandwidth=b, method="exact")
    assert abs(ex.squared - closed) <= tol, (ex, closed, tol)
    bn = kernel_mmd(mu, nu, constant(J), bandwidth=b, method="binned")
    assert abs(bn.squared - ex.squared) <= bn.error_bound and abs(bn.squared - ex.squared) <= 1e-3 * ex.squared


@pytest.mark.parametrize("k", ["gaussian", "laplace"])
def test_mmd_binned_against_exact_pairwise(k):
    rng = np.random.default_rng(11)
    mu = ExtendedMeasure.from_network(rng.normal(0.5, 0.4, 800))
    nu = limit(0.0, 1.0)
    for kernel in (skew(), two_block()):
        ex = kernel_mmd(mu, nu, kernel, k=k, bandwidth=0.1, method="exact")
        bn = kernel_mmd(mu, nu, kernel, k=k, bandwidth=0.1, method="binned")
        err = abs(bn.squared - ex.squared)
        assert err <= bn.error_bound
        assert err <= (1e-3 if k == "gaussian" else 3e-2) * ex.squared, (kernel.name, err, ex.squared)
    assert kernel_mmd(mu, mu, skew(), k=k, bandwidth=0.1).value < 1e-7
    a = kernel_mmd(mu, nu, skew(), k=k, bandwidth=0.1, method="exact").squared
    b = kernel_mmd(nu, mu, skew(), k=k, bandwidth=0.1, method="exact").squared
    assert abs(a - b) <= 1e-12 * abs(a)


def test_mmd_ring_sees_only_the_mean_of_xi_independent_slices():
    """ring: K_w = J0^2 + (J1^2/2) cos(2 pi (xi - xi')); slices that do not depend on xi see only J0^2."""
    mu, nu = gauss_hist(0.0, 0.3, 0.05), gauss_hist(0.2, 0.3, 0.05)
    a = kernel_mmd(mu, nu, ring(J0=0.7, J1=0.5), bandwidth=0.3, method="exact").squared
    c = kernel_mmd(mu, nu, constant(0.7), bandwidth=0.3, method="exact").squared
    assert abs(a - c) <= 1e-10 * c


def test_bad_arguments():
    mu = alternating(4)
    with pytest.raises(InvalidArgumentError, match="mu"):
        weak_distance(np.zeros(4), mu, skew())
    with pytest.raises(InvalidArgumentError, match="kernel"):
        weak_distance(mu, mu, np.ones((2, 2)))
    with pytest.raises(InvalidArgumentError, match="zeta_cells"):
        weak_distance(mu, mu, two_block(), zeta_cells=8)
    with pytest.raises(InvalidArgumentError, match="restarts"):
        weak_distance(mu, mu, skew(), restarts=0)
    with pytest.raises(InvalidArgumentError, match="bandwidth"):
        kernel_mmd(mu, mu, skew(), bandwidth=-1.0)
    with pytest.raises(InvalidArgumentError, match="'k'"):
        kernel_mmd(mu, mu, skew(), k="cauchy", bandwidth=1.0)
    with pytest.raises(InvalidArgumentError, match="nu"):
        strong_distance(mu, None)


def test_the_metric_asks_the_kernel_for_its_separable_form(caplog):
    """A user's kernel that states a (true) separable form gets the exact separable path and the same
    bracket as the named kernel with that formula; a form that disagrees with the kernel's values is
    not trusted (quadrature, with a warning)."""
    from dataclasses import dataclass

    from solvers.graphons import BasisFunction, FunctionKernel, SeparableTerm, SeparableTerms

    one, cos, sin = (BasisFunction.smooth(k) for k in ("one", "cos", "sin"))

    @dataclass(frozen=True, repr=False)
    class MyRing(FunctionKernel):
        J1: float = 0.5

        def separable_terms(self):
            return SeparableTerms((SeparableTerm(1.0, one, one), SeparableTerm(self.J1, cos, cos),
                                   SeparableTerm(self.J1, sin, sin)))

    f = lambda z, x: 1.0 + 0.5 * np.cos(2 * np.pi * (z - x))  # noqa: E731
    rng = np.random.default_rng(2)
    mu = ExtendedMeasure.from_network(rng.standard_normal(41))
    nu = ExtendedMeasure.from_network(rng.standard_normal(37) + 0.2)
    mine = weak_distance(mu, nu, MyRing(func=f, lipschitz_xi=math.pi, lipschitz_zeta=math.pi))
    named = weak_distance(mu, nu, ring())
    assert mine.grids["factorisation"] == "separable"
    assert (mine.lower, mine.upper) == pytest.approx((named.lower, named.upper), rel=1e-12)
    with caplog.at_level("WARNING"):
        wrong = weak_distance(mu, nu, MyRing(func=f, J1=0.4, lipschitz_xi=math.pi, lipschitz_zeta=math.pi))
    assert wrong.grids["factorisation"] == "quadrature" and "disagrees" in caplog.text
    assert wrong.contains(named.mid, rtol=0.0, atol=named.width + 1e-9)
