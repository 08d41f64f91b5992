"""Kernel-weighted CDFs of an extended measure on its breakpoints (the one linear operation the
metrics apply to a measure; ``D = F_mu - F_nu`` is never formed).

For weights ``V`` (``R x n_c``: one row per kernel factor, one column per ``xi`` cell) and sorted
points ``x`` (``q`` of them) that contain every atom and every continuous-part point of the measure,

    Y_r(x) = sum_c V[r, c] F_c(x)

is linear on every interval ``(x_k, x_{k+1})`` (atoms jump at the ``x_k``).  :func:`interval_values`
returns its right limit at ``x_k`` and its left limit at ``x_{k+1}`` for every interval: atoms by a
cumulative sum of sparse jumps, continuous parts by a cumulative sum of sparse slope changes, in
``O(nnz + q R)`` with no ``n_c x q`` array.  Below ``x_0`` every CDF is 0 and above ``x_{q-1}`` it is 1.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from solvers._compiled import njit
from solvers.measures import ExtendedMeasure, _segment_ids

__all__ = ["interval_values", "abs_integral", "abs_integral_sum", "best_response_weights", "gamma", "U"]

U = 2.0 ** -53


def gamma(k: float) -> float:
    """``gamma_k = k u / (1 - k u)`` (Higham's rounding constant)."""
    ku = k * U
    return math.inf if ku >= 0.5 else ku / (1.0 - ku)


def _dense(a) -> np.ndarray:
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def interval_values(measure: ExtendedMeasure, V, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(left, right, err)``: ``left[k, r] = Y_r(x_k+)``, ``right[k, r] = Y_r(x_{k+1}-)``, both
    ``(q - 1, R)``, and ``err``, a bound on the absolute rounding error of every entry (standard model)."""
    q = x.size
    n_c = measure.n_cells
    VT = V.T.tocsr() if sp.issparse(V) else np.ascontiguousarray(np.asarray(V).T)  # (n_c, R)
    R = VT.shape[1]
    absVT = abs(VT) if sp.issparse(VT) else np.abs(VT)
    dx = np.diff(x)
    Y = np.zeros((q, R))
    err = 0.0
    if measure.n_atoms:
        j = np.searchsorted(x, measure.atom_x)
        S = sp.csr_matrix((measure.atom_m, (j, _segment_ids(measure.atom_ptr))), shape=(q, n_c))
        Y += _dense(S @ VT)
        # every partial sum is bounded by sum_c |V[r, c]| (slice masses are 1)
        err += gamma(q + n_c + 2) * float(np.max(_dense(absVT.sum(axis=0)))) if n_c else 0.0
        np.cumsum(Y, axis=0, out=Y)
    left = Y[:-1].copy()
    right = Y[:-1].copy()
    if measure.n_points:
        y, G, ptr = measure.cont_x, measure.cont_F, measure.cont_ptr
        seg = _segment_ids(ptr)
        same = seg[1:] == seg[:-1]
        piece = np.where(same, np.diff(G) / np.where(same, np.diff(y), 1.0), 0.0)  # slope of piece (k, k+1)
        start = np.concatenate([piece, [0.0]])
        end = np.concatenate([[0.0], piece])
        end[ptr[:-1][np.diff(ptr) > 0]] = 0.0
        dslope = start - end
        j = np.searchsorted(x, y)
        S2 = sp.csr_matrix((dslope, (j, seg)), shape=(q, n_c))
        slope = np.cumsum(_dense(S2 @ VT), axis=0)[:-1]  # slope on interval k
        inc = slope * dx[:, None]
        Yc = np.cumsum(inc, axis=0)
        right += Yc
        left[1:] += Yc[:-1]
        abs2 = sp.csr_matrix((np.abs(dslope), (j, seg)), shape=(q, n_c))
        total_dslope = float(np.max(_dense((abs2 @ absVT).sum(axis=0)))) if n_c else 0.0
        err += gamma(2 * q + n_c + 4) * total_dslope * float(x[-1] - x[0]) * 2.0
    return left, right, err


def abs_integral(fl: np.ndarray, fr: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``int |f|`` over intervals of lengths ``dx`` where ``f`` is linear from ``fl`` to ``fr``
    (exact: with a sign change the two triangles), same shape as ``fl``."""
    dxb = dx.reshape(dx.shape + (1,) * (fl.ndim - 1))
    same = fl * fr >= 0
    a, b = np.abs(fl), np.abs(fr)
    denom = np.where(same, 1.0, a + b)
    return dxb * np.where(same, 0.5 * (a + b), 0.5 * (a * a + b * b) / np.where(denom > 0, denom, 1.0))


@njit
def _abs_sum_kernel(fl, fr, dx, out):  # pragma: no cover - compiled
    q, K = fl.shape
    for k in range(q):
        h = 0.5 * dx[k]
        for j in range(K):
            a = fl[k, j]
            b = fr[k, j]
            if a * b >= 0.0:
                out[j] += h * abs(a + b)
            else:
                out[j] += h * (a * a + b * b) / (abs(a) + abs(b))


def abs_integral_sum(fl: np.ndarray, fr: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Column sums of :func:`abs_integral` for ``(q, K)`` inputs, shape ``(K,)`` (compiled, one pass)."""
    out = np.zeros(fl.shape[1])
    _abs_sum_kernel(np.ascontiguousarray(fl), np.ascontiguousarray(fr), np.ascontiguousarray(dx), out)
    return out


@njit
def _best_response_kernel(fl, fr, dx, alpha, beta, value):  # pragma: no cover - compiled
    q, K = fl.shape
    for k in range(q):
        h = dx[k]
        for j in range(K):
            a = fl[k, j]
            b = fr[k, j]
            if a * b >= 0.0:
                sg = 1.0 if a + b >= 0.0 else -1.0
                alpha[k, j] = 0.5 * sg * h
                beta[k, j] = 0.5 * sg * h
                value[j] += 0.5 * h * abs(a + b)
            else:
                sg = 1.0 if a > 0.0 else -1.0
                th = a / (a - b)
                alpha[k, j] = sg * h * (-th * th + 2.0 * th - 0.5)
                beta[k, j] = sg * h * (th * th - 0.5)
                value[j] += 0.5 * h * (a * a + b * b) / (abs(a) + abs(b))


def best_response_weights(fl: np.ndarray, fr: np.ndarray, dx: np.ndarray):
    """For ``f`` linear from ``fl`` to ``fr`` on each interval (``(q, K)``): ``(alpha, beta, value)``
    with ``int_k sign(f) A = alpha_k A(x_k+) + beta_k A(x_{k+1}-)`` (``dx`` included) for any linear
    ``A``, and ``value = int |f|`` per column (compiled, one pass)."""
    q, K = fl.shape
    alpha, beta, value = np.empty((q, K)), np.empty((q, K)), np.zeros(K)
    _best_response_kernel(np.ascontiguousarray(fl), np.ascontiguousarray(fr), np.ascontiguousarray(dx),
                          alpha, beta, value)
    return alpha, beta, value
