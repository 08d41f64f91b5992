"""Tests of :mod:`solvers.quadrature` (and :func:`solvers.graphons.step_values`) against closed forms.

References: antiderivatives of monomials, exponentials and cosines written out here; the
Gauss-Legendre remainder ``(b-a)^{2k+1} (k!)^4 / ((2k+1) ((2k)!)^3) f^{(2k)}`` (Abramowitz-Stegun
25.4.30), exact for ``f = x^{2k}``; overlap lengths of small partitions by hand (fractions).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import solvers.quadrature as quadrature
from solvers.errors import InvalidArgumentError
from solvers.graphons import StepKernel, step_kernel, step_values
from solvers.quadrature import (
    cell_averages,
    common_refinement,
    composite_gauss_legendre,
    gauss_legendre,
    overlap_matrix,
    partition_edges,
)


# ------------------------------------------------------------------------------ Gauss-Legendre
@pytest.mark.parametrize("order", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("interval", [(0.0, 1.0), (-2.0, 3.5), (0.25, 0.3)])
def test_gauss_legendre_exact_up_to_degree_2k_minus_1_and_remainder_at_2k(order, interval):
    a, b = interval
    x, w = gauss_legendre(order, interval)
    assert x.shape == w.shape == (order,)
    assert np.all(np.diff(x) > 0) and a < x[0] and x[-1] < b and np.all(w > 0)
    assert w.sum() == pytest.approx(b - a, rel=1e-14)
    scale = max(abs(a), abs(b))
    for p in range(2 * order):
        exact = (b ** (p + 1) - a ** (p + 1)) / (p + 1)
        assert w @ x ** p == pytest.approx(exact, rel=1e-12, abs=1e-13 * scale ** (p + 1)), p
    # degree 2k: the remainder formula with f^{(2k)} = (2k)! is exact
    k = order
    c = 0.5 * (a + b)  # centred monomial keeps the cancellation small
    exact = ((b - c) ** (2 * k + 1) - (a - c) ** (2 * k + 1)) / (2 * k + 1)
    remainder = (b - a) ** (2 * k + 1) * math.factorial(k) ** 4 / ((2 * k + 1) * math.factorial(2 * k) ** 3) \
        * math.factorial(2 * k)
    assert exact - w @ (x - c) ** (2 * k) == pytest.approx(remainder, rel=1e-9)


def test_composite_rule_on_uniform_and_uneven_partitions():
    for partition in (5, [0.0, 0.1, 0.15, 0.6, 1.0]):
        x, w = composite_gauss_legendre(partition, 3)
        e = partition_edges(partition)
        n = e.size - 1
        assert x.shape == w.shape == (3 * n,)
        cells = x.reshape(n, 3)
        assert np.all(cells > e[:-1, None]) and np.all(cells < e[1:, None])
        np.testing.assert_allclose(w.reshape(n, 3).sum(axis=1), np.diff(e), rtol=1e-14)
        # the remainder formula bounds the error: sum_a h_a^7 (3!)^4 / (7 (6!)^3) max exp
        bound = np.sum(np.diff(e) ** 7) * math.factorial(3) ** 4 / (7 * math.factorial(6) ** 3) * math.e
        assert abs(w @ np.exp(x) - (math.e - 1)) <= bound * (1 + 1e-6) + 1e-15
        # a function that is a polynomial of degree <= 5 on each cell is integrated exactly
        a = np.repeat(np.arange(n), 3)  # cell of each node
        f = (a + 1.0) * (x - e[a]) ** 5
        exact = np.sum((np.arange(n) + 1.0) * np.diff(e) ** 6 / 6)
        assert w @ f == pytest.approx(exact, rel=1e-13)


def test_composite_rule_order_is_2k():
    """Observed order of the composite 2-point rule on cos(3x): log2(e_n / e_2n) in [3.8, 4.2]."""
    exact = math.sin(3.0) / 3.0
    errs = []
    for n in (4, 8, 16):
        x, w = composite_gauss_legendre(n, 2)
        errs.append(abs(w @ np.cos(3 * x) - exact))
    for e1, e2 in zip(errs[:-1], errs[1:]):
        assert 3.8 <= math.log2(e1 / e2) <= 4.2, errs


# ---------------------------------------------------------------------------------- cell averages
def test_cell_averages_against_closed_forms(monkeypatch):
    n = 6
    e = np.arange(n + 1) / n
    # exp(x + 2 z): mean over a cell is n^2 (e^{x1} - e^{x0}) (e^{2 z1} - e^{2 z0}) / 2
    ex = np.diff(np.exp(e)) * n
    ez = np.diff(np.exp(2 * e)) * n / 2
    C = cell_averages(lambda x, z: np.exp(x + 2 * z), n)
    np.testing.assert_allclose(C, ex[:, None] * ez[None, :], rtol=1e-12)
    # polynomial of degree <= 7 in each variable: exact
    g = (np.arange(n) + 0.5) / n
    P = cell_averages(lambda x, z: x * z ** 3, n, order=2)
    mz3 = np.diff(e ** 4) * n / 4  # mean of z^3 over a cell
    np.testing.assert_allclose(P, g[:, None] * mz3[None, :], rtol=1e-13)
    # row blocks do not change the result
    monkeypatch.setattr(quadrature, "_BLOCK_ELEMENTS", 50)
    np.testing.assert_allclose(cell_averages(lambda x, z: np.exp(x + 2 * z), n), C, rtol=1e-15)
    # a function that broadcasts to a constant
    np.testing.assert_allclose(cell_averages(lambda x, z: 2.0, 3), np.full((3, 3), 2.0), rtol=1e-15)


# ------------------------------------------------------------------------------------ partitions
def test_overlap_matrix_by_hand():
    P = overlap_matrix(2, 3)  # cells (0,1/2], (1/2,1] against thirds
    np.testing.assert_allclose(P, [[1 / 3, 1 / 6, 0.0], [0.0, 1 / 6, 1 / 3]], rtol=1e-15)
    for p, q in [(3, 6), (7, 5), (10, 3), (4, [0.0, 0.3, 0.35, 1.0])]:
        P = overlap_matrix(p, q)
        np.testing.assert_allclose(P.sum(axis=1), np.diff(partition_edges(p)), rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(P.sum(axis=0), np.diff(partition_edges(q)), rtol=1e-13, atol=1e-16)
        # exact lengths by rational arithmetic for the uniform pairs
        if isinstance(q, int):
            for a in range(p):
                for b in range(q):
                    lo = max(Fraction(a, p), Fraction(b, q))
                    hi = min(Fraction(a + 1, p), Fraction(b + 1, q))
                    assert P[a, b] == pytest.approx(float(max(hi - lo, 0)), abs=1e-16)


def test_common_refinement_has_no_slivers_and_sums_to_one():
    ip, iq, L = common_refinement(3, 6)  # 1/3 == 2/6 as floats: six pieces of 1/6
    assert ip.size == 6 and np.all(L > 0)
    np.testing.assert_array_equal(ip, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(iq, np.arange(6))
    np.testing.assert_allclose(L, 1 / 6, rtol=1e-14)
    for p, q in [(7, 5), (1, 9), (12, 8)]:
        ip, iq, L = common_refinement(p, q)
        assert L.sum() == pytest.approx(1.0, abs=1e-15) and np.all(L > 0)
        assert ip.size <= p + q - 1 and np.all(np.diff(ip) >= 0) and np.all(np.diff(iq) >= 0)


@pytest.mark.parametrize("call,match", [
    (lambda: gauss_legendre(0), "'order'"),
    (lambda: gauss_legendre(3, (1.0, 0.0)), "'interval'"),
    (lambda: composite_gauss_legendre(0, 3), "'partition'"),
    (lambda: composite_gauss_legendre([0.0, 0.6, 0.5, 1.0], 3), "increasing"),
    (lambda: composite_gauss_legendre([0.1, 1.0], 3), "from 0 to 1"),
    (lambda: composite_gauss_legendre(True, 3), "'partition'"),
    (lambda: cell_averages("w", 4), "'func'"),
    (lambda: cell_averages(lambda x, z: x, 4, order=0), "'order'"),
    (lambda: overlap_matrix(3, [0.0, np.nan, 1.0]), "'q'"),
])
def test_bad_input(call, match):
    with pytest.raises(InvalidArgumentError, match=match):
        call()


# ---------------------------------------------------------------------------------- step values
def test_step_values_of_weights():
    W = np.random.default_rng(4).standard_normal((5, 5)) / 5
    V = step_values(W)
    np.testing.assert_array_equal(V, 5 * W)
    assert V.dtype == np.float64 and V is not W
    np.testing.assert_array_equal(step_values(sp.csr_matrix(W)), 5 * W)
    W32 = W.astype(np.float32)
    np.testing.assert_array_equal(step_values(W32), 5 * W32.astype(np.float64))
    assert isinstance(step_kernel(W), StepKernel)
    np.testing.assert_array_equal(step_kernel(W).values, V)
    with pytest.raises(InvalidArgumentError, match="argument 'W'.*square"):
        step_values(np.ones((2, 3)))
    with pytest.raises(InvalidArgumentError, match="argument 'A'"):
        step_values(np.ones(3), "A")
