"""The error of a low-rank approximation of network weights, as certified brackets.

For weights ``W`` (``N x N``) and a :class:`~solvers.particles.LowRankOperator` ``W_R = U diag(s) V^T / N``
the remainder is the step kernel ``e = w_N - w_R`` with values

    E_ij = N W_ij - sum_r U_ir s_r V_jr   (i != j),   E_ii = 0,

on the cells of the ``N x N`` grid: the diagonal is excluded because the network uses neither
``W_ii`` nor ``(W_R)_ii`` (the reset wins, SPEC section 1).  Two norms of ``e`` are bracketed:

* the operator norm ``||e||_{L2 -> L2} = ||E||_2 / N``: upper side the Cholesky-certified
  :func:`~verification.graphs.spectral_norm_upper`; lower side attained, ``||E v|| / ||v||`` for an
  estimate ``v`` of the top right singular vector (LAPACK for ``N <= 400``, ARPACK above), with the
  rounding of the product subtracted;
* the cut norm ``||e||_box`` (normalised, SPEC section 6) by :func:`~verification.graphs.cut_norm`;
  its upper side is also at most the operator norm's (``|<1_S, e 1_T>| <= ||e|| ||1_S|| ||1_T||``).

``E`` is formed in floating point; the entrywise bound ``gamma_{R+2} (N |W_ij| + sum_r |U_ir s_r V_jr|)``
on its rounding (``gamma_k = k u / (1 - k u)``) widens both sides of both brackets (its Frobenius
norm for the operator norm, its mean for the cut norm), so the brackets hold for the remainder of the
stored factors, not only of the computed ``E``.  Dense ``N x N`` work: for ``N`` up to a few thousand
(the SDP side of the cut norm up to ``max_sdp_size / 2`` neurons).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvers.errors import bad_argument
from solvers.graphons import validate_weights
from solvers.particles.lowrank import LowRankOperator
from solvers.validation import check_instance, check_seed

from ._bracket import Bracket, computed_bracket
from ._norms import _U, _gamma, cut_norm, spectral_norm_upper

__all__ = ["LowRankError", "LowRankApproximation", "low_rank_error", "low_rank_approximation"]


@dataclass(frozen=True)
class LowRankError:
    """Brackets on the remainder ``e = w_N - w_R`` of a low-rank approximation (module docstring).

    Attributes
    ----------
    operator_norm : Bracket
        ``||e||_{L2 -> L2} = ||E||_2 / N``.
    cut_norm : Bracket
        ``||e||_box`` (normalised by ``N^2``).
    N, rank : int
    rounding : float
        Frobenius norm of the entrywise rounding bound of ``E`` (already included in both brackets).
    """

    operator_norm: Bracket
    cut_norm: Bracket
    N: int
    rank: int
    rounding: float


@dataclass(frozen=True)
class LowRankApproximation:
    """A truncated-SVD :class:`~solvers.particles.LowRankOperator` with the brackets of its error."""

    operator: LowRankOperator
    error: LowRankError


def _remainder(W: Any, op: LowRankOperator) -> tuple[np.ndarray, np.ndarray]:
    """``E`` (module docstring) and the entrywise bound on its rounding, both ``N x N``."""
    N, R = op.N, op.rank
    A = (W.toarray() if sp.issparse(W) else np.asarray(W, dtype=np.float64)) * float(N)
    Us = op.U * op.s
    E = A - Us @ op.V.T
    delta = _gamma(R + 2) * (np.abs(A) + np.abs(Us) @ np.abs(op.V).T)
    np.fill_diagonal(E, 0.0)
    np.fill_diagonal(delta, 0.0)
    return E, delta


def _top_right_vector(E: np.ndarray, seed) -> np.ndarray:
    N = E.shape[0]
    if N <= 400:
        return np.linalg.svd(E)[2][0]
    from scipy.sparse.linalg import svds

    v0 = np.random.default_rng(check_seed(seed)).standard_normal(N)
    return svds(E, k=1, v0=v0)[2][0]


def low_rank_error(W: Any, op: LowRankOperator, *, seed=0, restarts: int = 16, sdp: bool = True,
                   max_sdp_size: int = 6000) -> LowRankError:
    """Certified brackets on the operator norm and the cut norm of ``w_N - w_R`` (module docstring).

    Parameters
    ----------
    W : ndarray (N, N) or scipy sparse matrix
        The weights that ``op`` approximates.
    op : LowRankOperator
        E.g. ``LowRankOperator.from_matrix(W, rank)`` or ``LowRankOperator.from_kernel(kernel, N)``.
    seed : int or SeedSequence, keyword, default 0
        Fixes only the restarts of the searches (ARPACK start, cut-norm restarts); the brackets are
        certified whatever it is.
    restarts, sdp, max_sdp_size
        Options of :func:`~verification.graphs.cut_norm`.

    Returns
    -------
    LowRankError
    """
    check_instance("op", op, LowRankOperator, "pass a solvers.particles.LowRankOperator")
    Wv = validate_weights(W, "W")
    if Wv.shape[0] != op.N:
        raise bad_argument("op", op, f"has N = {op.N} neurons but W is {Wv.shape[0]} x {Wv.shape[0]}",
                           "pass the operator built from this W")
    check_seed(seed)
    N = op.N
    E, delta = _remainder(Wv, op)
    rounding = float(np.sqrt(np.sum(delta * delta)))
    mean_delta = float(delta.sum()) / (N * N)
    # operator norm: certified upper side, attained lower side
    up, est = spectral_norm_upper(E, seed=seed)
    upper = (up + rounding) * (1 + 2 * _U) / N
    if est > 0:
        v = _top_right_vector(E, seed)
        Ev = E @ v
        prod_err = _gamma(N) * float(np.linalg.norm(np.abs(E) @ np.abs(v)))
        nv = float(np.linalg.norm(v))
        lower = (float(np.linalg.norm(Ev)) * (1 - _gamma(N)) - prod_err - rounding * nv) / (nv * (1 + _gamma(N)))
        lower = max(lower, 0.0) / N
    else:
        lower = 0.0
    op_br = computed_bracket(lower, upper, "||E v|| / ||v|| at the estimated top singular vector (rounding subtracted)",
                             "spectral_norm_upper (Cholesky-certified) + rounding of E",
                             bounds={"estimate": est / N})
    cb = cut_norm(E, seed=seed, restarts=restarts, sdp=sdp, max_sdp_size=max_sdp_size)
    c_upper = cb.upper + mean_delta
    c_method = cb.upper_method + " + rounding of E"
    if upper < c_upper:
        c_upper, c_method = upper, "operator-norm upper side (||e||_box <= ||e||_{L2->L2})"
    cut_br = computed_bracket(max(cb.lower - mean_delta, 0.0), c_upper, cb.lower_method + " - rounding of E",
                              c_method, cb.lower_certificate, cb.upper_certificate, dict(cb.bounds))
    return LowRankError(operator_norm=op_br, cut_norm=cut_br, N=N, rank=op.rank, rounding=rounding)


def low_rank_approximation(W: Any, rank: int, *, impute_diagonal: bool = True, streams: str = "global", seed=0,
                           restarts: int = 16, sdp: bool = True, max_sdp_size: int = 6000) -> LowRankApproximation:
    """Truncated SVD of ``W`` (:meth:`LowRankOperator.from_matrix`) with :func:`low_rank_error` of it."""
    op = LowRankOperator.from_matrix(W, rank, impute_diagonal=impute_diagonal, streams=streams)
    return LowRankApproximation(operator=op, error=low_rank_error(W, op, seed=seed, restarts=restarts, sdp=sdp,
                                                                  max_sdp_size=max_sdp_size))
