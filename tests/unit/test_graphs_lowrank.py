"""The truncated SVD of weights (:meth:`LowRankOperator.from_matrix`) and the certified brackets of its
remainder (:func:`verification.graphs.low_rank_error`): against numpy's spectral norm and the
exhaustive cut norm (:func:`verification.graphs.brute_force_cut_norm`) of the remainder computed here."""
from __future__ import annotations

import numpy as np
import pytest

from solvers.graphons import ring, skew
from solvers.particles import LowRankOperator
from verification.graphs import brute_force_cut_norm, low_rank_approximation, low_rank_error


def test_truncated_svd_with_imputed_diagonal_reproduces_a_low_rank_matrix():
    for N in (200, 900):  # dense LAPACK and ARPACK branches
        W = ring().weights(N)  # rank 3 off its zeroed diagonal
        op = LowRankOperator.from_matrix(W, 3)
        np.testing.assert_allclose(op.to_dense(), W, rtol=0, atol=1e-13 / N)
        plain = LowRankOperator.from_matrix(W, 3, impute_diagonal=False)
        err = np.abs(plain.to_dense() - W).max() * N
        assert err > 1e-4  # the zeroed diagonal costs O(1/N) without the imputation
        assert op.singular_values.size >= 4 and op.singular_values[3] < 1e-10


@pytest.mark.parametrize("n,rank", [(6, 1), (9, 2), (12, 3), (12, 5)])
@pytest.mark.parametrize("impute", [True, False])
def test_truncation_brackets_contain_the_true_norms_of_the_remainder(n, rank, impute):
    rng = np.random.default_rng(100 * n + rank)
    Q1, _ = np.linalg.qr(rng.normal(size=(n, n)))
    Q2, _ = np.linalg.qr(rng.normal(size=(n, n)))
    W = (Q1 * 1.6 ** -np.arange(n)) @ Q2.T / n + rng.normal(scale=0.01, size=(n, n)) / n
    np.fill_diagonal(W, 0.0)
    ap = low_rank_approximation(W, rank, impute_diagonal=impute)
    op = ap.operator
    E = n * W - (op.U * op.s) @ op.V.T  # independent remainder, diagonal excluded
    np.fill_diagonal(E, 0.0)
    true_cut = brute_force_cut_norm(E)
    true_op = np.linalg.norm(E, 2) / n
    assert ap.error.cut_norm.contains(true_cut, rtol=1e-9), (ap.error.cut_norm, true_cut)
    assert ap.error.operator_norm.contains(true_op, rtol=1e-9), (ap.error.operator_norm, true_op)
    assert ap.error.cut_norm.upper <= ap.error.operator_norm.upper * (1 + 1e-12)
    assert ap.error.cut_norm.lower > 0 and ap.error.operator_norm.ratio < 1.0 + 1e-6


def test_bracket_of_an_exact_kernel_expansion_is_at_rounding_level():
    N = 120
    err = low_rank_error(skew().weights(N), LowRankOperator.from_kernel(skew(), N))
    assert err.operator_norm.upper < 1e-13 and err.cut_norm.upper < 1e-13
    assert err.rank == 5 and err.N == N
