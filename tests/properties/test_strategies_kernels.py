"""What every kernel drawn by :func:`verification.strategies.kernels` promises, checked on fine grids.

Independent checks (not the certificate's own grid): a 601 x 601 grid offset from the certificate's
cell midpoints and holding the corners, exact difference quotients (a difference quotient never exceeds
a Lipschitz constant: mean value theorem, so ``<= L`` is a proof of nothing false only if ``L`` is
right), and Gauss-Legendre quadrature for the degrees.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.graphons import StepKernel
from solvers.quadrature import gauss_legendre
from verification.metrics._kernels import factorise
from verification.strategies import CERTIFICATE_GRID, BlockKernel, ExpansionKernel, expansion_kernel, kernels

FINE = np.concatenate(([0.0], (np.arange(599) + 0.37) / 599, [1.0]))  # 601 points, corners included
H = 1e-4  # step of the difference quotients


def _values(k, x=FINE):
    return k(x[:, None], x[None, :])


@settings(max_examples=15)
@given(kernels(families=("fourier", "polynomial"), max_degree=3, max_terms=6))
def test_expansions_certify_sup_and_lipschitz_brackets(k):
    assert isinstance(k, ExpansionKernel)
    (lo, hi), ((lx, hx), (lz, hz)) = k.sup_bracket, k.lipschitz_brackets
    assert k.sup == hi and k.lipschitz == (hx, hz)
    vals = _values(k)
    top = float(np.max(np.abs(vals)))
    # the upper side is a bound (every fine-grid value below it) ...
    assert top <= hi * (1 + 1e-12) + 1e-14
    # ... and the lower side is attained up to what the fine grid can miss between its points
    assert top >= lo - (hx + hz) / (2 * 599) - 1e-12
    # the bracket is as narrow as the certificate states: (L_xi + L_zeta) h / 2 plus rounding
    h = 1.0 / CERTIFICATE_GRID
    assert hi - lo <= (hx + hz) * h / 2 + 1e-12 * max(1.0, hi)
    # Lipschitz constants bound every difference quotient (in each variable, uniformly in the other)
    x = FINE[:-1]
    dq_xi = np.abs(k((x + H)[:, None], FINE[None, :]) - k(x[:, None], FINE[None, :])) / H
    dq_zeta = np.abs(k(FINE[:, None], (x + H)[None, :]) - k(FINE[:, None], x[None, :])) / H
    assert dq_xi.max() <= hx * (1 + 1e-9) + 1e-9 and dq_zeta.max() <= hz * (1 + 1e-9) + 1e-9
    # the exact gradient: it matches central differences and its fine-grid maximum lies in the bracket
    gx, gz = k.gradient(FINE[:, None], FINE[None, :])
    e = 1e-6
    cx = (k((FINE + e)[:, None], FINE[None, :]) - k((FINE - e)[:, None], FINE[None, :])) / (2 * e)
    scale = 1.0 + hx + hz
    assert np.max(np.abs(gx - cx)) <= 1e-6 * scale
    assert np.max(np.abs(gx)) <= hx * (1 + 1e-12) + 1e-12 and np.max(np.abs(gz)) <= hz * (1 + 1e-12) + 1e-12
    second = np.abs(k.coefficients).sum() * (2 * math.pi * 3) ** 2 * 4  # crude sup of second derivatives
    assert np.max(np.abs(gx)) >= lx - second / 599 - 1e-12 and np.max(np.abs(gz)) >= lz - second / 599 - 1e-12


@settings(max_examples=25)
@given(st.data())
def test_values_stay_in_the_requested_range(data):
    lo = data.draw(st.floats(-3.0, 2.0, allow_nan=False), label="min_value")
    hi = data.draw(st.floats(lo, lo + 4.0, allow_nan=False), label="max_value")
    k = data.draw(kernels(min_value=lo, max_value=hi, max_degree=2), label="kernel")
    vals = _values(k)
    slack = 1e-12 * max(1.0, abs(lo), abs(hi))
    assert vals.min() >= lo - slack and vals.max() <= hi + slack


@settings(max_examples=25)
@given(kernels(symmetric=True, max_degree=2))
def test_symmetric_kernels_are_symmetric(k):
    assert k.symmetric
    vals = _values(k)
    assert np.max(np.abs(vals - vals.T)) <= 1e-13 * max(1.0, k.sup)


@settings(max_examples=25)
@given(kernels(families=("fourier", "polynomial"), max_degree=1))
def test_degree_one_expansions_have_the_exact_separable_form_the_metrics_use(k):
    terms = k.separable_terms()
    assert terms is not None and k.cell_average_exact
    vals = _values(k)
    assert np.max(np.abs(terms(FINE[:, None], FINE[None, :]) - vals)) <= 1e-13 * max(1.0, k.sup)
    assert factorise(k).kind == "separable"
    # exact degrees against Gauss-Legendre (exact for these trigonometric / bilinear forms to rounding)
    z, w = gauss_legendre(32)
    xi = np.array([0.0, 0.3, 0.77, 1.0])
    assert np.allclose(k.degree(xi), k(xi[:, None], z[None, :]) @ w, atol=1e-13)
    assert np.allclose(k.in_degree(xi), k(z[None, :], xi[:, None]) @ w, atol=1e-13)


@settings(max_examples=20)
@given(kernels(families=("fourier", "polynomial"), max_degree=3, max_lipschitz=2.0, min_value=-1.0, max_value=1.0))
def test_max_lipschitz_is_respected(k):
    assert max(k.lipschitz) <= 2.0 * (1 + 1e-12)


@settings(max_examples=25)
@given(kernels(families=("block",), max_blocks=5))
def test_block_kernels_take_their_block_values(k):
    assert isinstance(k, BlockKernel) and isinstance(k, StepKernel)
    n = k.n
    assert 1 <= n <= 5 and k.lipschitz is None
    vals = _values(k)
    assert set(np.unique(vals)) <= set(np.unique(k.values))
    assert k.sup == float(np.max(np.abs(k.values)))
    mid = (np.arange(n) + 0.5) / n
    assert np.array_equal(k(mid[:, None], mid[None, :]), k.values)
    assert k == k and k != BlockKernel(values=k.values) and isinstance(hash(k), int)  # identity, as any kernel


def test_the_certificate_on_the_ring_kernel():
    """``1 + 0.5 cos(2 pi (xi - zeta))``: sup 1.5, L = pi (closed forms); the brackets hold them."""
    k = expansion_kernel("fourier", [[1.0, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])
    lo, hi = k.sup_bracket
    assert lo <= 1.5 <= hi and hi - lo < 0.01
    for lo, hi in k.lipschitz_brackets:
        assert lo <= math.pi <= hi and hi - lo < 0.1
    assert k.symmetric and "0.5 cos(2 pi xi) cos(2 pi zeta)" in repr(k)


def test_shrinking_reaches_simple_kernels():
    from hypothesis import find

    quiet = settings(database=None, derandomize=True, max_examples=200)
    assert repr(find(kernels(), lambda k: True, settings=quiet)) == "ExpansionKernel(fourier: w = 0)"
    assert repr(find(kernels(families=("block", "fourier")), lambda k: True, settings=quiet)) == "BlockKernel([0])"
    # the smallest non-constant expansion has a single oscillating term (no certificate needed to decide)
    k = find(kernels(families=("fourier",)), lambda k: np.count_nonzero(k.coefficients[1:, :]) +
             np.count_nonzero(k.coefficients[:, 1:]) > 0, settings=quiet)
    assert np.count_nonzero(k.coefficients) == 1 and k.coefficients[0, 0] == 0


@pytest.mark.parametrize("coefficients", [[[1.0, 2.0]], np.ones((2, 2)), [[np.nan]], np.ones((11, 11))])
def test_bad_expansion_coefficients_are_refused(coefficients):
    from solvers.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="coefficients"):
        expansion_kernel("fourier", coefficients)
