"""Tests of the double-precision references: the spatial stationary state
(solvers.references.spatial) and the linear response / PDE stability
(solvers.references.linear_response).

References: the mpmath homogeneous stationary states and Phi'; hand-derived cell averages of a
step kernel; the Lagrangian PDE solver at two time steps.  The expensive cases are marked ``slow``.
"""
from __future__ import annotations

import numpy as np
import pytest

from solvers import references as R
from solvers.errors import ConvergenceError, InvalidArgumentError
from solvers.graphons import (
    constant,
    coupling_matrix,
    ring,
    skew,
    two_block,
)
from solvers.model import Constant, CustomDrift, Leaky, NeuronModel, Sigmoid

STD = NeuronModel.standard()


# ------------------------------------------------------------------------ spatial stationary state
@pytest.mark.slow
@pytest.mark.parametrize("J", [-1.0, 1.0])
def test_spatial_constant_kernel_matches_homogeneous(J):
    res = R.spatial_stationary(STD, constant(J), 16, check_pde_stability=False)
    st = R.stationary_rate(STD, J)
    assert np.max(np.abs(res.rate - float(st.rate))) < 1e-10
    assert np.max(np.abs(res.input - J * float(st.rate))) < 1e-10
    assert res.residual < 1e-11
    # one non-zero eigenvalue J Phi'(J r), by the mpmath derivative
    lam = J * float(R.phi_prime(STD, st.input))
    assert res.max_real_eigenvalue == pytest.approx(max(lam, 0.0), abs=1e-9)
    assert res.spectral_radius == pytest.approx(abs(lam), rel=1e-9)
    assert res.rate_dynamics_stable is (max(lam, 0.0) < 1)
    assert res.unique is True and res.contraction_estimate < 1


@pytest.mark.slow
def test_spatial_two_block_equal_row_sums_is_homogeneous():
    res = R.spatial_stationary(STD, two_block(), 8, check_pde_stability=False)
    st = R.stationary_rate(STD, 0.85)  # row sums (1.5 + 0.2) / 2
    assert np.max(np.abs(res.rate - float(st.rate))) < 1e-10
    # ring: the cosine sums to zero over the uniform grid, so the state is that of J = J0 = 1
    res = R.spatial_stationary(STD, ring(), 10, check_pde_stability=False)
    assert np.max(np.abs(res.rate - float(R.stationary_rate(STD, 1.0).rate))) < 1e-10

def test_spatial_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="n_xi"):
        R.spatial_stationary(STD, skew(), 0)
    with pytest.raises(InvalidArgumentError, match="tol"):
        R.spatial_stationary(STD, skew(), 8, tol=0.0)
    with pytest.raises(InvalidArgumentError, match="kernel"):
        R.spatial_stationary(STD, None, 8)
    with pytest.raises(InvalidArgumentError, match="initial"):
        R.spatial_stationary(STD, skew(), 8, initial=np.zeros(3))
    with pytest.raises(ConvergenceError):
        R.spatial_stationary(STD, skew(), 8, max_iter=1, initial=np.zeros(8))


# ------------------------------------------------------------------------ one discretisation with the PDE solvers
# Both spatial_stationary and solvers.meanfield discretise the kernel by graphons.coupling_matrix
# (exact cell averages for a step kernel, midpoint values otherwise).  The case that used to differ
# (issue 7, item 5) is a step kernel whose blocks do not align with the grid: two_block (a = 1.5 on
# the diagonal blocks, b = 0.2 off, edge at 1/2) with an odd n_xi, the middle cell cut in half.
A, B = 1.5, 0.2


def _cell_average_by_hand(n: int) -> np.ndarray:
    """Cell averages of two_block on the n x n grid from the block areas (n odd: the middle cell
    ``m = (n - 1)/2`` is cut in half by the edge 1/2).  A cell pair on the same side of the edge
    sees ``a``, on opposite sides ``b``; a pair involving the middle cell once sees half of each,
    ``(a + b)/2``; the middle cell with itself has the four quarter squares ``a, a, b, b``:
    ``(2 a + 2 b)/4 = (a + b)/2``."""
    m = (n - 1) // 2
    side = np.where(np.arange(n) < m, 0, 1)
    K = np.where(side[:, None] == side[None, :], A, B)
    K[m, :] = K[:, m] = (A + B) / 2
    return K


@pytest.mark.parametrize("n", [3, pytest.param(5, marks=pytest.mark.slow)])
def test_reference_uses_the_solvers_cell_average_discretisation(n):
    kernel = two_block(A, B)
    K_hand = _cell_average_by_hand(n)
    K, name = coupling_matrix(kernel, n)
    assert name.startswith("cell-average")
    assert np.allclose(K, K_hand, rtol=0, atol=1e-14)  # Gauss-Legendre cell averages: a few ulps
    if n == 3:
        assert K[1, 1] == pytest.approx(0.85, abs=1e-15)
        # the old discretisation: midpoint value w(1/2, 1/2) = a on the edge
        assert kernel.matrix(3, "midpoint")[1, 1] == A
    res = R.spatial_stationary(STD, kernel, n, check_pde_stability=False)
    assert res.quadrature == name
    # h = K r / n with the hand-derived cell averages, not with the midpoint matrix
    assert np.allclose(res.input, K_hand @ res.rate / n, rtol=1e-14, atol=0)
    assert np.max(np.abs(res.input - kernel.matrix(n, "midpoint") @ res.rate / n)) > 0.05
    # cell averages keep the row integrals (a + b)/2 of w: the discrete state is the homogeneous
    # state of w = J = 0.85 whatever n, computed independently in mpmath
    st = R.stationary_rate(STD, (A + B) / 2, dps=20)
    assert np.max(np.abs(res.rate - float(st.rate))) < 1e-10


# ------------------------------------------------------------------------ linear response / PDE stability
@pytest.mark.parametrize("h", [0.0, pytest.param(-0.7, marks=pytest.mark.slow),
                               pytest.param(1.6, marks=pytest.mark.slow)])
def test_susceptibility_static_limit_is_phi_prime(h):
    """chi(0) = Phi'(h): the linear-response formula against the derivative of the quadrature."""
    chi0 = R.susceptibility(STD, h, [0.0])[0]
    assert abs(chi0.imag) < 1e-12
    assert chi0.real == pytest.approx(float(R.phi_prime(STD, h)), rel=5e-5)  # trapezoid, da = 2e-3


def test_susceptibility_symmetry_and_constant_intensity():
    # chi(-i omega) = conj(chi(i omega)) is used by pde_stability: check the direct evaluation
    c = R.susceptibility(STD, 0.3, [-2.5, 2.5])
    assert c[0] == pytest.approx(np.conj(c[1]), rel=1e-12)
    # constant intensity: the rate does not respond to the input at all
    model = NeuronModel(Leaky(1.0), Constant(2.0))
    assert np.all(R.susceptibility(model, 0.4, np.linspace(0, 10, 7)) == 0)


def test_linear_response_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="omega"):
        R.susceptibility(STD, 0.0, "x")
    with pytest.raises(InvalidArgumentError, match="omega"):
        R.susceptibility(STD, 0.0, [[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match="'mu'"):
        R.pde_stability(STD, 0.0, ["a"])
    with pytest.raises(InvalidArgumentError, match="da"):
        R.susceptibility(STD, 0.0, [1.0], da=0.1)


@pytest.mark.slow
def test_pde_stability_parity_and_symmetry():
    """Rigorous consequences checked on the counts: for real mu the unstable zeros come in conjugate
    pairs plus real ones, and G(lam) = 1 - mu chi(lam) -> 1 as lam -> +inf, so the count is odd iff
    G(0) = 1 - mu Phi'(h) < 0; conjugate mu have equal counts; mu = 0 gives none."""
    h = 0.8
    pp = float(R.phi_prime(STD, h))
    mus = np.array([0.0, -3.0, 0.5 / pp, 0.9 / pp, 1.2 / pp, 2.0 / pp, 1.0 + 2.0j, 1.0 - 2.0j])
    res = R.pde_stability(STD, h, mus)
    assert res.unstable[0] == 0 and res.margin[0] == 1.0
    for mu, z in zip(mus[1:6].real, res.unstable[1:6]):
        assert z % 2 == int(1 - mu * pp < 0), (mu, z)
    assert res.unstable[6] == res.unstable[7]
    assert np.all(res.unstable >= 0)


@pytest.mark.slow
def test_spatial_homogeneous_reports_pde_stability():
    res = R.spatial_stationary(STD, constant(1.0), 4)
    ps = res.pde_stability
    assert ps is not None and ps.mu.size == 1 and ps.mu[0] == pytest.approx(1.0)
    # the rate-dynamics criterion and the PDE count agree on the real axis: mu Phi' < 1 and G(0) > 0
    assert res.rate_dynamics_stable and ps.unstable[0] % 2 == 0
    with pytest.raises(InvalidArgumentError, match="leaky"):
        R.susceptibility(NeuronModel(CustomDrift(func=lambda x: 1.5 - x), Sigmoid()), 0.0, [1.0])
