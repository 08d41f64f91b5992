"""Infinity-to-one norm and cut norm of matrices and kernels, as certified brackets.

Definitions (SPEC section 6).  For a real ``n x m`` matrix ``U``

    ||U||_{inf->1} = max_{x in {-1,1}^n, y in {-1,1}^m} x^T U y,
    ||U||_box      = max_{S subset [n], T subset [m]} |sum_{i in S, j in T} U_ij|.

Normalisation.  With ``normalize=True`` (the default) both are divided by ``n m``: the result is the
norm of the *step kernel whose values are* ``U`` (value ``U_ij`` on the cell ``I_i x J_j`` of the
uniform ``n x m`` grid of ``[0,1]^2``).  The supremum over measurable sets / functions with values in
``[-1, 1]`` of a step kernel is attained on unions of cells (the objective is bilinear in the cell
averages of the test functions), so this is exact, not an approximation.  For the weights ``W`` of a
network, the step kernel is ``w_N = N W`` (SPEC section 2): pass ``N * W`` or
:func:`solvers.graphons.step_kernel`.  With ``normalize=False`` the plain matrix sums are returned.
Then ``||U||_box <= ||U||_{inf->1} <= 4 ||U||_box`` for either normalisation.

Lower bounds (attained, returned as certificates):
    alternating maximisation ``x <- sign(U y)``, ``y <- sign(U^T x)`` (each step does not decrease
    ``x^T U y``; a fixed point is optimal against single sign flips) from ``restarts`` seeded random
    starts and from Goemans-Williamson hyperplane rounding of the Burer-Monteiro factors of the SDP
    below; the value is recomputed from the returned sign vectors / sets.
Upper bounds:
    entrywise   ``||U||_{inf->1} <= sum |U_ij|``; ``||U||_box <= max(sum U_+, sum U_-)``;
    spectral    ``x^T U y <= ||x||_2 ||U||_2 ||y||_2 = sqrt(n m) ||U||_2`` (and the same for
                ``1_S^T U 1_T``), with ``||U||_2`` certified as below;
    SDP         the Grothendieck relaxation ``max sum_ij U_ij <u_i, v_j>`` over unit vectors ``u_i``,
                ``v_j`` (``max <C, X>``, ``diag X = 1``, ``X psd``, ``C = [[0, U/2], [U^T/2, 0]]``),
                whose value is at least ``||U||_{inf->1}`` (one-dimensional vectors ``x_i``, ``y_j``).
                Certificate: the *weighted spectral bound*.  For any weights ``a_i, b_j > 0`` and
                ``P = D_a^{-1/2} U D_b^{-1/2} / 2``, Cauchy-Schwarz gives
                ``sum_ij U_ij <u_i, v_j> = 2 sum_k (D_a^{1/2} u^(k))^T P (D_b^{1/2} v^(k))
                <= 2 ||P||_2 sqrt(sum a) sqrt(sum b)`` (``u^(k)`` the ``k``-th coordinates), so
                ``SDP(U) <= 2 sqrt(sum a sum b) ||P||_2``.  It is the SDP dual in Schur-complement
                form: with ``t = ||P||_2^2`` and ``lam = sqrt(t sum b / sum a)``,
                ``[[diag(lam a), -U/2], [-U^T/2, diag(t b / lam)]] >= 0`` (its Schur complement is
                ``lam D_a^{1/2} (I - P P^T / t) D_a^{1/2}``) and its dual value
                ``lam sum a + t sum b / lam`` is the bound; the minimum over the weights is the SDP
                value.  The weights are the
                Lagrange multipliers of a rank-``k`` Burer-Monteiro solution ``(V_x, V_y)``
                (``a_i = ||(U V_y)_i|| / 2``, ``b_j = ||(U^T V_x)_j|| / 2``; at a stationary point
                ``t = 1`` and the bound equals the primal value); any weights are valid, so the
                bound holds before convergence too, and ``||P||_2`` is certified by
                :func:`spectral_norm_upper`: one Gram product of the smaller side and one Cholesky
                factorisation, never the ``(n + m) x (n + m)`` matrix.  The cut norm uses the
                Alon-Naor identity ``||A||_box = ||B||_{inf->1} / 4`` for the ``(n+1) x (m+1)``
                augmented matrix ``B = [[A, -A 1], [-1^T A, 1^T A 1]]`` (proof:
                ``(x, x0)^T B (y, y0) = (x - x0 1)^T A (y - y0 1) = 4 x0 y0 1_S^T A 1_T`` with
                ``S = {x_i != x0}``, ``T = {y_j != y0}``), so ``SDP(B) / 4`` bounds it.  (The exact
                ``SDP(B) / 4`` is never above the spectral bound ``sqrt(n m) ||A||_2``: with
                ``p_i = u_i - u_0``, ``|p_i| <= 2``, it is ``sum A_ij <p_i, q_j> / 4``.)

Certified eigenvalue bounds.  ``lambda_max(A) <= s`` is proved by a Cholesky factorisation of
``s I - A`` that succeeds in floating point: by Demmel's backward error bound (Demmel 1989; Rump,
BIT 46, 2006) a successful factorisation ``R^T R = M + E`` has ``|E| <= gamma_{k+1} |R^T| |R|``,
hence ``||E||_2 <= gamma_{k+1} / (1 - gamma_{k+1}) trace(M)`` and ``lambda_min(M) >= -||E||_2``;
the rounding of the diagonal and of a Gram product (``|fl(U^T U) - U^T U| <= gamma_n |U|^T |U|``)
are added too (``gamma_k = k u / (1 - k u)``, ``u = 2^-53``; standard-model arithmetic, no fast
matrix multiplication).  The eigenvalue estimate that chooses ``s`` needs no accuracy: a failed
factorisation only moves ``s`` up.  Lower bounds are reduced by the rounding bound
``gamma_{n+m} sum |U|`` of the recomputed value.  All margins are below ``1e-9`` relative for
``n <= 10^4``.

Costs: alternating maximisation ``O(n m R)`` per sweep (BLAS, single precision; starts at a fixed
point leave the sweeps); Burer-Monteiro ``O(n m k)`` per iteration (single precision) with rank
``k = min(32, ceil(sqrt(2 (n + m))))``; the SDP certificate and the spectral bound each one Gram
product ``O(n m min(n, m))`` (BLAS ``dsyrk``), one ARPACK estimate on it and one dense Cholesky of
size ``min(n, m)`` per trial shift.  Memory: about 6 copies of ``U`` in double precision.  The SDP
side is skipped above ``max_sdp_size`` (default 12000) rows of ``C``, i.e. ``n + m``.  Measured
(``benchmarks/graphs.py``, loaded 2-core machine, one BLAS thread): the full cut-norm bracket of a
``5000 x 5000`` matrix costs about 3 x one ``numpy.linalg.eigvalsh`` of it.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from solvers._random import make_rng
from solvers.errors import bad_argument
from solvers.graphons import Kernel, StepKernel
from solvers.quadrature import common_refinement, composite_gauss_legendre
from solvers.validation import check_bool, check_instance, check_int, check_matrix, check_positive, check_seed

from ._bracket import Bracket, computed_bracket

logger = logging.getLogger(__name__)

__all__ = [
    "inf_to_one_norm",
    "cut_norm",
    "brute_force_inf_to_one",
    "brute_force_cut_norm",
    "augmented_matrix",
    "spectral_norm_upper",
    "cell_average_l1_error",
    "cell_average_l1_bound",
    "L1Bound",
]

_U = 2.0 ** -53
_MAX_DENSE = 10 ** 8  # entries accepted from a sparse input before we refuse to densify
_MAX_BRUTE = 20


def _gamma(k: float) -> float:
    ku = k * _U
    if ku >= 0.5:
        return math.inf
    return ku / (1.0 - ku)


# ------------------------------------------------------------------------------------ validation
def _as_matrix(U: Any, name: str = "U", *, square: bool = False) -> np.ndarray:
    """A matrix argument of this package: ndarray, scipy sparse (at most ``_MAX_DENSE`` entries,
    densified) or StepKernel (its values); the checks are :func:`solvers.validation.check_matrix`.
    The result may be the caller's array: never written to."""
    if isinstance(U, StepKernel):
        return check_matrix(name, U.values)
    if isinstance(U, Kernel):
        raise bad_argument(name, U, "a continuous kernel has no matrix of values",
                           "pass grid=n to discretise it, or kernel.matrix(n, 'cell-average')")
    if sp.issparse(U):
        if U.shape[0] * U.shape[1] > _MAX_DENSE:
            raise bad_argument(name, f"sparse matrix of shape {U.shape}", f"at most {_MAX_DENSE} entries",
                               "pass a smaller matrix (the bounds use dense BLAS)")
        U = U.toarray()
    fix = "pass an n x n matrix (row i = postsynaptic neuron i)" if square else "pass an n x m numpy array"
    return check_matrix(name, U, square=square, fix=fix)


def _check_int(name: str, value: Any, minimum: int) -> int:
    return check_int(name, value, minimum, f"pass e.g. {name}={max(minimum, 8)}")


def _search_options(*, normalize, seed, restarts, sdp, spectral, rank, sdp_iterations, sdp_tol, roundings,
                    max_sdp_size) -> dict[str, Any]:
    """The options shared by :func:`inf_to_one_norm` and :func:`cut_norm`, checked and normalised."""
    check_seed(seed)
    return {"normalize": check_bool("normalize", normalize), "seed": seed,
            "restarts": _check_int("restarts", restarts, 1), "sdp": check_bool("sdp", sdp),
            "spectral": check_bool("spectral", spectral),
            "rank": None if rank is None else _check_int("rank", rank, 1),
            "sdp_iterations": _check_int("sdp_iterations", sdp_iterations, 1),
            "sdp_tol": check_positive("sdp_tol", sdp_tol), "roundings": _check_int("roundings", roundings, 1),
            "max_sdp_size": _check_int("max_sdp_size", max_sdp_size, 0)}


# ------------------------------------------------------------------------- certified eigenvalues
def _cholesky_margin(M: np.ndarray) -> float | None:
    """Try a Cholesky factorisation of the symmetric ``M`` (destroyed).  ``None`` if it fails;
    otherwise ``e >= 0`` with ``lambda_min(M) >= -e`` (Demmel's backward error bound)."""
    k = M.shape[0]
    tr = float(np.trace(M))
    try:
        sla.cholesky(M, lower=False, overwrite_a=True, check_finite=False)
    except sla.LinAlgError:
        return None
    g = _gamma(k + 1)
    return g / (1.0 - g) * abs(tr) * (1.0 + _gamma(k))


def _lambda_max_upper(build, estimate: float, delta: float, gershgorin: float) -> tuple[float, dict]:
    """Certified upper bound on ``lambda_max(A)`` for a symmetric ``k x k`` matrix ``A``.

    ``build(s)`` returns the dense ``s I - A`` as stored in floating point (diagonal ``fl(s - a_ii)``).
    Shifts ``s = estimate + delta`` with ``delta`` growing threefold per failure are tried;
    ``gershgorin`` (a rigorous bound) caps the search.
    """
    delta = max(float(delta), 1e-300)
    tries = 0
    while True:
        s = estimate + delta
        if s >= gershgorin:
            return gershgorin, {"shift": gershgorin, "method": "Gershgorin", "tries": tries}
        M = build(s)
        diag_err = _U * float(np.max(np.abs(np.diag(M))))
        e = _cholesky_margin(M)
        tries += 1
        if e is not None:
            bound = (s + e + diag_err) * (1 + 4 * _U) + 4 * _U * abs(s)
            return bound, {"shift": s, "method": "Cholesky", "tries": tries, "margin": e + diag_err}
        delta *= 3.0


def _abs_sums(A: np.ndarray, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Row and column sums of ``|A|`` by blocks of rows (no full-size temporary)."""
    rows = np.empty(A.shape[0])
    cols = np.zeros(A.shape[1])
    for i0 in range(0, A.shape[0], block):
        B = np.abs(A[i0:i0 + block])
        rows[i0:i0 + block] = B.sum(axis=1)
        cols += B.sum(axis=0)
    return rows, cols


def spectral_norm_upper(U, *, seed: int = 0) -> tuple[float, float]:
    """Certified upper bound and estimate of ``||U||_2`` (largest singular value).

    The estimate comes from LAPACK (side ``<= 400``) or ARPACK on the smaller Gram matrix
    ``G = U^T U``; the bound from a successful Cholesky factorisation of ``t I - fl(G)`` (``fl(G)``
    by BLAS ``dsyrk``, upper triangle), with the Gram product's rounding ``gamma_n ||U||_F^2`` added
    (see the module docstring).  ``||U||_2^2 <= ||U||_1 ||U||_inf`` caps the search.

    Parameters
    ----------
    U : array_like, shape (n, m), or StepKernel
    seed : int or SeedSequence, keyword-only, default 0
        Fixes only the ARPACK start vector of the estimate; the bound is certified whatever it is.

    Returns
    -------
    upper, estimate : float
    """
    check_seed(seed)
    A = _as_matrix(U, "U")
    if A.shape[0] < A.shape[1]:
        A = A.T
    n, k = A.shape
    fro2 = float(np.linalg.norm(A)) ** 2
    if fro2 == 0.0:
        return 0.0, 0.0
    from scipy.linalg.blas import dsyrk

    At = np.asfortranarray(A.T)  # k x n, Fortran order: dsyrk(trans=0) gives At At^T = A^T A
    G = dsyrk(1.0, At, trans=0, lower=0)  # upper triangle of A^T A (k x k); lower part is 0
    est = _top_eig_estimate(A, G, seed)
    gram_err = _gamma(n) * fro2 * (1 + _gamma(k * k))
    rows, cols = _abs_sums(A)
    cap = float(cols.max()) * float(rows.max()) * (1 + _gamma(n + k + 2)) + gram_err
    gdiag = np.diag(G).copy()

    def build(s):
        M = np.negative(G, order="F")
        M[np.diag_indices(k)] = s - gdiag
        return M

    lam, _ = _lambda_max_upper(build, est, 1e-8 * abs(est) + 1e-12 * float(np.max(gdiag)), cap)
    return math.sqrt(lam + gram_err) * (1 + 2 * _U), math.sqrt(max(est, 0.0))


def _top_eig_estimate(A: np.ndarray, G_upper: np.ndarray, seed) -> float:
    """Estimate of ``lambda_max(A^T A)`` (only chooses the first Cholesky shift): LAPACK for side
    ``<= 400``, else ARPACK with BLAS ``dsymv`` on the stored upper triangle of the Gram matrix (one
    pass over ``k^2`` entries per product instead of two over ``n k``)."""
    k = G_upper.shape[0]
    if k <= 400:
        G = np.triu(G_upper) + np.triu(G_upper, 1).T
        return float(sla.eigvalsh(G, subset_by_index=[k - 1, k - 1], check_finite=False)[0])
    from scipy.linalg.blas import dsymv
    from scipy.sparse.linalg import LinearOperator

    op = LinearOperator((k, k), matvec=lambda v: dsymv(1.0, G_upper, np.asarray(v, dtype=np.float64).reshape(-1),
                                                       lower=0), dtype=np.float64)
    v0 = make_rng(seed).standard_normal(k)
    try:
        return float(eigsh(op, k=1, which="LA", tol=1e-6, v0=v0, return_eigenvectors=False)[0])
    except ArpackNoConvergence as exc:  # pragma: no cover - rare; any estimate is fine
        return float(np.max(exc.eigenvalues)) if len(exc.eigenvalues) else float(np.max(np.diag(G_upper)))


# ------------------------------------------------------------------------------------ lower side
def _sign(M: np.ndarray) -> np.ndarray:
    return np.where(M >= 0, 1.0, -1.0).astype(M.dtype, copy=False)


def _single(U: np.ndarray) -> np.ndarray:
    """``U / max|U|`` in float32: the searches only need signs of ``U y``, which scaling does not
    change; single precision halves the memory traffic of these bandwidth-bound sweeps.  Every value
    reported is recomputed in double precision from the final sign vectors / sets."""
    scale = float(np.max(np.abs(U)))
    return (U / scale if scale > 0 else U).astype(np.float32)


def _alternate(U: np.ndarray, Y: np.ndarray, U32: np.ndarray | None = None,
               max_sweeps: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternating maximisation from the columns of ``Y`` (m x R sign matrix), vectorised over
    restarts, iterated with ``U32`` (:func:`_single`).  Returns sign matrices ``X`` (n x R), ``Y``
    (m x R) and the double-precision values ``x_r^T U y_r``.

    A start whose ``x`` did not change in a sweep is at a fixed point (its next ``y`` and ``x`` are
    the same) and is left out of the following sweeps: the result is that of sweeping every start
    until none gains ``1e-6`` relative, at the cost of the starts still moving."""
    V = _single(U) if U32 is None else U32
    Y = Y.astype(np.float32)
    G = V @ Y
    X = _sign(G)
    val = np.sum(X * G, axis=0, dtype=np.float64)
    act = np.arange(X.shape[1])
    for _ in range(max_sweeps):
        Ya = _sign(V.T @ X[:, act])
        G = V @ Ya
        Xa = _sign(G)
        new = np.sum(Xa * G, axis=0, dtype=np.float64)
        moved = np.any(Xa != X[:, act], axis=0)
        Y[:, act], X[:, act] = Ya, Xa
        old = val[act]
        val[act] = new
        # stop when no start gains 1e-6 relative
        if np.all(new <= old + 1e-6 * np.abs(old) + 1e-300) or not moved.any():
            break
        act = act[moved]
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    return X, Y, np.sum(X * (U @ Y), axis=0)


def _burer_monteiro(U: np.ndarray, rank: int, iterations: int, tol: float, rng,
                    U32: np.ndarray | None = None) -> dict:
    """Block-coordinate ascent on ``sum_i <v_i, (U V_y)_i>`` over unit rows: ``V_x <- rows of U V_y
    normalised``, ``V_y <- rows of U^T V_x normalised`` (each block update is exact, so the objective
    never decreases; it is the mixing method of Wang, Chang and Kolter with the bipartite blocks
    updated at once).

    The iterations use ``U32`` (:func:`_single`: ``U / max|U|`` in float32; normalised rows do not
    depend on the scale) and stop when an iteration gains at most ``tol`` relative, or after
    ``iterations``.  The returned quantities are recomputed in double precision from the final
    ``V_x``: ``Vy = rows of U^T V_x normalised``, the primal value ``<V_x, U V_y> = sum_j ||(U^T
    V_x)_j||`` of the feasible point ``X = V V^T`` (exact up to rounding, whatever the precision of
    the iterations), and the Lagrange multipliers ``a_i = ||(U V_y)_i|| / 2``,
    ``b_j = ||(U^T V_x)_j|| / 2`` that weight the dual certificate (:func:`_sdp_upper`)."""
    n, m = U.shape
    V = _single(U) if U32 is None else U32

    def normalise(G, old):
        nr = np.linalg.norm(G, axis=1, keepdims=True)
        return np.divide(G, nr, out=old.copy(), where=nr > 0)

    Vy = rng.standard_normal((m, rank))
    Vy = (Vy / np.linalg.norm(Vy, axis=1, keepdims=True)).astype(V.dtype)
    Vx = np.zeros((n, rank), dtype=V.dtype)
    Vx[:, 0] = 1.0
    value = -math.inf
    it = 0
    for it in range(1, iterations + 1):  # noqa: B007 (the count is reported)
        Vx = normalise(V @ Vy, Vx)
        H = V.T @ Vx
        Vy = normalise(H, Vy)
        new = float(np.sum(np.linalg.norm(H, axis=1), dtype=np.float64))  # <V_x, V V_y> after the y update
        if new - value <= tol * abs(new):
            break
        value = new
    Vx = normalise(Vx.astype(np.float64), np.zeros((n, rank)))
    Vx[np.linalg.norm(Vx, axis=1) == 0, 0] = 1.0  # (a zero row of U: any unit vector is feasible)
    H = U.T @ Vx
    hn = np.linalg.norm(H, axis=1)
    Vy = normalise(H, np.zeros((m, rank)))
    Vy[hn == 0, 0] = 1.0
    G = U @ Vy
    return {"Vx": Vx, "Vy": Vy, "value": float(np.sum(hn)), "iterations": it,
            "a": 0.5 * np.linalg.norm(G, axis=1), "b": 0.5 * hn}


def _sdp_upper(U: np.ndarray, bm: dict) -> tuple[float, dict]:
    """Certified upper bound on the Grothendieck SDP of ``U`` (hence on ``||U||_{inf->1}``) from
    the Burer-Monteiro multipliers: the weighted spectral bound of the module docstring,
    ``2 sqrt(sum a sum b) ||P||_2`` with ``P = D_a^{-1/2} U D_b^{-1/2} / 2``, ``||P||_2`` certified
    by :func:`spectral_norm_upper` (one Gram product of the smaller side and a Cholesky).

    Rounding.  With ``c_i = fl(0.5 / fl(sqrt(a_i)))`` and ``r_j = fl(1 / fl(sqrt(b_j)))`` the weights
    actually certified are ``a~_i = 1 / (4 c_i^2)`` and ``b~_j = 1 / r_j^2`` (their sums are rounded
    up); the stored ``fl(P)`` has entries within ``gamma_2`` relative of the exact ``diag(c) U
    diag(r)``, so ``||P||_2 <= ||fl(P)||_2 + gamma_2 / (1 - gamma_2) ||fl(P)||_F``.

    The certificate returned, ``a* = lam a~`` and ``b* = t b~ / lam`` with ``lam = sqrt(t sum b~ /
    sum a~)``, ``t`` the certified ``||P||_2^2``, is a feasible point of the SDP dual:
    ``[[diag(a*), -U/2], [-U^T/2, diag(b*)]]`` is positive semidefinite (Schur complement:
    ``diag(a*) - U diag(b*)^{-1} U^T / 4 = lam D_a~^{1/2} (I - P P^T / t) D_a~^{1/2} >= 0``), with
    ``sum a* + sum b* = 2 sqrt(t sum a~ sum b~)``, the bound.  Zero rows and columns of ``U`` get
    weight 0 (the Cauchy-Schwarz step only involves the others); the other multipliers are floored
    at ``1e-6`` of their maximum (any positive weights are valid)."""
    n, m = U.shape
    a, b = np.asarray(bm["a"], dtype=float), np.asarray(bm["b"], dtype=float)
    rows, cols = _abs_sums(U)
    zr, zc = rows == 0, cols == 0  # zero rows / columns of U take weight 0 (they do not enter P)
    info = {"bm_value": bm["value"], "bm_iterations": bm["iterations"]}
    if zr.all():  # U = 0: the zero certificate
        return 0.0, {"method": "U = 0", "a": np.zeros(n), "b": np.zeros(m), "t": 0.0, **info}
    amax, bmax = float(np.max(a)), float(np.max(b))
    if not (amax > 0 and bmax > 0):  # a degenerate start: no certificate
        return math.inf, {"method": "none (zero multipliers)", **info}
    # floors keep P finite; any positive weights give a valid bound
    c = np.where(zr, 0.0, 0.5 / np.sqrt(np.maximum(a, 1e-6 * amax)))
    r = np.where(zc, 0.0, 1.0 / np.sqrt(np.maximum(b, 1e-6 * bmax)))
    P = c[:, None] * U
    P *= r[None, :]
    s_up, s_est = spectral_norm_upper(P)
    g2 = _gamma(2)
    s_exact = (s_up + g2 / (1.0 - g2) * float(np.linalg.norm(P))) * (1 + 2 * _U)
    del P
    with np.errstate(divide="ignore"):
        a_t = np.where(zr, 0.0, 0.25 / (c * c))
        b_t = np.where(zc, 0.0, 1.0 / (r * r))
    sa = float(np.sum(a_t)) * (1 + _gamma(n + 4))
    sb = float(np.sum(b_t)) * (1 + _gamma(m + 4))
    t = s_exact * s_exact * (1 + 2 * _U)
    upper = 2.0 * math.sqrt(t * sa * sb) * (1 + 4 * _U)
    lam = math.sqrt(t * sb / sa)
    return upper, {"method": "weighted spectral bound = Schur-complement SDP dual (Cholesky-certified ||P||_2)",
                   "a": lam * a_t, "b": (t / lam) * b_t, "t": t, "norm_P_estimate": s_est, "sum_a": sa, "sum_b": sb,
                   **info}


def _default_rank(N: int) -> int:
    return int(min(32, math.ceil(math.sqrt(2 * N))))


def _search(U: np.ndarray, *, seed, restarts: int, sdp: bool, rank: int | None, sdp_iterations: int,
            sdp_tol: float, max_sdp_size: int, roundings: int) -> dict:
    """Shared engine: alternating maximisation from random starts and SDP roundings, and the SDP
    upper bound.  Returns candidate sign matrices and the SDP bound (or None)."""
    n, m = U.shape
    ss = check_seed(seed)
    rng_starts, rng_bm, rng_round = (make_rng(s) for s in ss.spawn(3))
    Y0 = _sign(rng_starts.standard_normal((m, restarts)))
    U32 = _single(U)
    X, Y, vals = _alternate(U, Y0, U32)
    out = {"X": X, "Y": Y, "vals": vals, "method": "alternating", "sdp": None}
    if sdp and n + m <= max_sdp_size:
        k = rank if rank is not None else _default_rank(n + m)
        bm = _burer_monteiro(U, k, sdp_iterations, sdp_tol, rng_bm, U32)
        upper, info = _sdp_upper(U, bm)
        Gh = rng_round.standard_normal((k, roundings))
        Xr, Yr, vr = _alternate(U, _sign(bm["Vy"] @ Gh), U32)
        out.update({"X": np.hstack([X, Xr]), "Y": np.hstack([Y, Yr]), "vals": np.concatenate([vals, vr]),
                    "sdp": (upper, info), "best_from_rounding": bool(vr.max() > vals.max())})
    elif sdp:
        logger.info("SDP bound skipped: n + m = %d > max_sdp_size = %d", n + m, max_sdp_size)
    return out


# ------------------------------------------------------------------------------------ public API
def inf_to_one_norm(U, *, normalize: bool = True, seed=0, restarts: int = 16, sdp: bool = True,
                    spectral: bool = True, rank: int | None = None, sdp_iterations: int = 300,
                    sdp_tol: float = 2e-7, roundings: int = 32, max_sdp_size: int = 12000) -> Bracket:
    """Bracket on ``||U||_{inf->1} = max_{x, y in {-1,1}} x^T U y``.

    Parameters
    ----------
    U : array_like, shape (n, m), or StepKernel
        Real finite matrix (a step kernel contributes its values).
    normalize : bool, keyword-only
        Divide by ``n m`` (the norm of the step kernel with values ``U``); see the module docstring.
    seed : int or SeedSequence, default 0
        Fixes only the restarts of the search: the random starts, the Burer-Monteiro start and the
        rounding hyperplanes.  The bracket is certified whatever the seed.
    restarts : int
        Random starts of the alternating maximisation.
    sdp : bool
        Compute the Burer-Monteiro solution, its rounding (lower side) and the dual certificate
        (upper side).  Skipped (logged) when ``n + m > max_sdp_size``.
    spectral : bool
        Compute the certified spectral bound ``sqrt(n m) ||U||_2``.
    rank, sdp_iterations, sdp_tol, roundings
        Burer-Monteiro rank (default ``min(32, ceil(sqrt(2 (n+m))))``), iteration cap, relative
        stopping tolerance (on the gain of one iteration; the single-precision iterations stop
        gaining near ``1e-8``), and number of random hyperplanes.  The certificate is valid at any
        iterate; convergence only tightens it (measured gap to the Burer-Monteiro primal value at
        the default tolerance: 5e-4 relative at n = m = 1000, 2e-3 at 5000).
    max_sdp_size : int
        Largest ``n + m`` for which the SDP side is computed (memory about 6 copies of ``U``).

    Returns
    -------
    Bracket
        ``lower_certificate = {"x": (n,) int8, "y": (m,) int8}`` with ``x^T U y`` (normalised) equal to
        the lower side up to the rounding margin; ``upper_certificate["sdp"]`` holds the SDP dual
        certificate ``a`` (n,), ``b`` (m,) (unnormalised: ``[[diag(a), -U/2], [-U^T/2, diag(b)]]``
        is positive semidefinite and ``sum a + sum b`` is the bound), ``t`` and the Burer-Monteiro
        primal value ``bm_value``; ``bounds`` lists every candidate.
    """
    A = _as_matrix(U, "U")
    o = _search_options(normalize=normalize, seed=seed, restarts=restarts, sdp=sdp, spectral=spectral, rank=rank,
                        sdp_iterations=sdp_iterations, sdp_tol=sdp_tol, roundings=roundings,
                        max_sdp_size=max_sdp_size)
    normalize, restarts, sdp, spectral = o["normalize"], o["restarts"], o["sdp"], o["spectral"]
    rank, sdp_iterations, sdp_tol, roundings, max_sdp_size = (o["rank"], o["sdp_iterations"], o["sdp_tol"],
                                                              o["roundings"], o["max_sdp_size"])
    n, m = A.shape
    total_abs = float(np.sum(np.abs(A)))
    res = _search(A, seed=seed, restarts=restarts, sdp=sdp, rank=rank, sdp_iterations=sdp_iterations,
                  sdp_tol=sdp_tol, max_sdp_size=max_sdp_size, roundings=roundings)
    best = int(np.argmax(res["vals"]))
    x, y = res["X"][:, best], res["Y"][:, best]
    lower = float(x @ (A @ y)) - _gamma(n + m) * total_abs
    lower = max(lower, 0.0)
    lower_method = ("alternating maximisation from random starts and SDP hyperplane rounding"
                    if res["sdp"] is not None else "alternating maximisation from random starts")
    bounds = {"alternating": float(np.max(res["vals"][:restarts]))}
    if res["sdp"] is not None:
        bounds["sdp-rounding"] = float(np.max(res["vals"][restarts:]))
    uppers = {"entrywise": total_abs * (1 + _gamma(n * m))}
    upper_cert: dict[str, Any] = {}
    if spectral:
        s_up, s_est = spectral_norm_upper(A, seed=0)
        uppers["spectral"] = math.sqrt(n * m) * s_up * (1 + 2 * _U)
    if res["sdp"] is not None:
        uppers["sdp"] = res["sdp"][0]
        upper_cert["sdp"] = res["sdp"][1]
    upper_key = min(uppers, key=uppers.get)
    upper = uppers[upper_key]
    upper_method = {"entrywise": "entrywise sum |U_ij|",
                    "spectral": "spectral sqrt(n m) ||U||_2 (Cholesky-certified)",
                    "sdp": "Grothendieck SDP dual certificate (weighted spectral / Schur complement, "
                           "Burer-Monteiro multipliers, Cholesky-certified)"}[upper_key]
    bounds.update(uppers)
    scale = 1.0 / (n * m) if normalize else 1.0
    br = computed_bracket(lower, upper, lower_method, upper_method,  # a lower above the upper side raises
                          {"x": x.astype(np.int8), "y": y.astype(np.int8)}, upper_cert, bounds)
    return br.scaled(scale) if normalize else br


def augmented_matrix(A) -> np.ndarray:
    """Alon-Naor augmented ``(n+1) x (m+1)`` matrix ``[[A, -A 1], [-1^T A, 1^T A 1]]`` with
    ``||A||_box = ||B||_{inf->1} / 4`` (unnormalised norms; proof in the module docstring)."""
    A = _as_matrix(A, "A")
    n, m = A.shape
    B = np.empty((n + 1, m + 1))
    B[:n, :m] = A
    B[:n, m] = -A.sum(axis=1)
    B[n, :m] = -A.sum(axis=0)
    B[n, m] = A.sum()
    return B


def _polish_sets(A: np.ndarray, T: np.ndarray, sign: float, A32: np.ndarray, max_sweeps: int = 30):
    """0/1 alternating maximisation of ``sign * 1_S^T A 1_T`` from the columns of ``T`` (m x R),
    iterated in single precision (``A32``, :func:`_single`); values recomputed in double.  As in
    :func:`_alternate`, a start whose ``S`` did not change is at a fixed point and leaves the sweeps."""
    T = T.astype(np.float32)
    G = A32 @ T
    if sign < 0:
        G = np.negative(G, out=G)
    S = (G > 0).astype(np.float32)
    val = np.sum(S * G, axis=0, dtype=np.float64)
    act = np.arange(S.shape[1])
    for _ in range(max_sweeps):
        H = A32.T @ S[:, act]
        Ta = ((H > 0) if sign > 0 else (H < 0)).astype(np.float32)
        G = A32 @ Ta
        if sign < 0:
            G = np.negative(G, out=G)
        Sa = (G > 0).astype(np.float32)
        new = np.sum(Sa * G, axis=0, dtype=np.float64)
        moved = np.any(Sa != S[:, act], axis=0)
        T[:, act], S[:, act] = Ta, Sa
        old = val[act]
        val[act] = new
        if np.all(new <= old + 1e-6 * np.abs(old) + 1e-300) or not moved.any():  # no start gains 1e-6
            break
        act = act[moved]
    S, T = S.astype(np.float64), T.astype(np.float64)
    return S, T, sign * np.sum(S * (A @ T), axis=0)


def cut_norm(U, *, grid: int | None = None, normalize: bool = True, seed=0, restarts: int = 16,
             sdp: bool = True, spectral: bool = True, rank: int | None = None, sdp_iterations: int = 300,
             sdp_tol: float = 2e-7, roundings: int = 32, max_sdp_size: int = 12000,
             l1_safety: float = 1.25) -> Bracket:
    """Bracket on the cut norm ``max_{S,T} |sum_{S x T} U|`` (normalised by ``n m`` by default).

    Parameters
    ----------
    U : array_like (n, m), StepKernel, or Kernel
        A matrix (the values of a step kernel), a step kernel, or a continuous kernel ``w`` (then
        ``grid`` is required).  For a continuous kernel the bracket is computed for its cell average
        ``w_n = kernel.matrix(grid, "cell-average")``: every union of cells gives ``w`` and its exact
        cell average the same integral, so the lower side stands for ``w`` as it is, reduced by the
        rounding of the computed cell averages (exact closed forms for ``ring``, ``skew``,
        ``product``); for a kernel whose cell averages are 4 x 4 Gauss-Legendre sums (a user's
        :class:`~solvers.graphons.FunctionKernel`) it holds up to that quadrature's error
        (``O(grid^-8)`` for smooth kernels, not certified; the lower method says so).  The upper side
        is widened by :func:`cell_average_l1_bound` of ``||w - w_n||_1``: certified from the
        kernel's derivative bounds (``kernel.lipschitz``), or -- for a kernel without them --
        ``l1_safety`` times a quadrature estimate, labelled "not certified" in ``upper_method``
        and in ``upper_certificate["cell_average_l1_certified"]``.
    normalize : bool
        See the module docstring; must be True for kernels.
    seed : int or SeedSequence, default 0
        Fixes only the restarts of the search (see :func:`inf_to_one_norm`); the bracket is
        certified whatever the seed.
    restarts, sdp, spectral, rank, sdp_iterations, sdp_tol, roundings, max_sdp_size
        As in :func:`inf_to_one_norm`, applied to the ``(n+1) x (m+1)`` augmented matrix (its SDP
        certificate ``a``, ``b`` is in ``upper_certificate["sdp"]``, unnormalised: ``sum a + sum b``
        is 4 times the unnormalised bound).
    l1_safety : float
        Factor on the quadrature estimate of ``||w - w_n||_1`` for a kernel without derivative bounds.

    Returns
    -------
    Bracket
        ``lower_certificate = {"S": (n,) bool, "T": (m,) bool, "sign": +-1}`` with
        ``sign * sum_{S x T} U`` equal to the lower side (up to rounding); upper side the best of
        ``SDP(B)/4`` (Alon-Naor), the spectral bound ``sqrt(n m) ||U||_2`` and the entrywise bound
        ``max(sum U_+, sum U_-)``.
    """
    l1: L1Bound | None = None
    o = _search_options(normalize=normalize, seed=seed, restarts=restarts, sdp=sdp, spectral=spectral, rank=rank,
                        sdp_iterations=sdp_iterations, sdp_tol=sdp_tol, roundings=roundings,
                        max_sdp_size=max_sdp_size)
    normalize, restarts, sdp, spectral = o["normalize"], o["restarts"], o["sdp"], o["spectral"]
    rank, sdp_iterations, sdp_tol, roundings, max_sdp_size = (o["rank"], o["sdp_iterations"], o["sdp_tol"],
                                                              o["roundings"], o["max_sdp_size"])
    if isinstance(U, Kernel) and not isinstance(U, StepKernel):
        if grid is None:
            raise bad_argument("grid", grid, "a continuous kernel needs a grid size",
                               "pass grid=n (the cut norm of the n x n cell average is bracketed)")
        grid = _check_int("grid", grid, 1)
        if not normalize:
            raise bad_argument("normalize", normalize, "a kernel's cut norm is normalised", "drop normalize=False")
        A = _as_matrix(U.matrix(grid, "cell-average"), "kernel.matrix(grid)")
        l1 = _cell_average_l1(U, grid, A, check_positive("l1_safety", l1_safety))
    else:
        A = _as_matrix(U, "U")
    n, m = A.shape
    B = augmented_matrix(A)
    res = _search(B, seed=seed, restarts=restarts, sdp=sdp, rank=rank, sdp_iterations=sdp_iterations,
                  sdp_tol=sdp_tol, max_sdp_size=max_sdp_size, roundings=roundings)
    Y = res["Y"]
    # sets from augmented sign vectors: S = {x_i != x0}, T = {y_j != y0}
    top = np.argsort(res["vals"])[::-1][:4]  # polish the 4 best candidates
    T0 = (Y[:m, top] != Y[m, top][None, :]).astype(float)
    T0 = np.hstack([T0, np.ones((m, 1))])
    best_val, best = -math.inf, None
    A32 = _single(A)
    for sign in (1.0, -1.0):
        S, T, v = _polish_sets(A, T0, sign, A32)
        j = int(np.argmax(v))
        if v[j] > best_val:
            best_val, best = float(v[j]), (S[:, j] > 0, T[:, j] > 0, sign)
    S, T, sign = best
    total_abs = float(np.sum(np.abs(A)))
    exact = sign * float(A[S][:, T].sum()) if S.any() and T.any() else 0.0
    lower = max(exact - _gamma(n + m) * total_abs, 0.0)
    bounds = {"alternating": float(np.max(res["vals"][:restarts])) / 4.0, "local-search": best_val}
    if res["sdp"] is not None:
        bounds["sdp-rounding"] = float(np.max(res["vals"][restarts:])) / 4.0
    uppers = {"entrywise": max(float(np.sum(np.clip(A, 0, None))), float(np.sum(np.clip(-A, 0, None))))
              * (1 + _gamma(n * m))}
    upper_cert: dict[str, Any] = {}
    if spectral:
        s_up, _ = spectral_norm_upper(A)
        uppers["spectral"] = math.sqrt(n * m) * s_up * (1 + 2 * _U)
    if res["sdp"] is not None:
        uppers["sdp"] = res["sdp"][0] / 4.0
        upper_cert["sdp"] = res["sdp"][1]
    upper_key = min(uppers, key=uppers.get)
    upper = uppers[upper_key]  # never masked: a lower side above it makes Bracket raise
    upper_method = {"entrywise": "entrywise max(sum U_+, sum U_-)",
                    "spectral": "spectral sqrt(n m) ||U||_2 (Cholesky-certified)",
                    "sdp": "Alon-Naor: Grothendieck SDP dual certificate of the augmented matrix / 4"}[upper_key]
    bounds.update(uppers)
    lower_method = ("sets from alternating maximisation and SDP rounding of the augmented matrix, "
                    "polished by 0/1 local search")
    if not normalize:
        return computed_bracket(lower, upper, lower_method, upper_method, {"S": S, "T": T, "sign": sign},
                                upper_cert, bounds)
    scale = 1.0 / (n * m)
    widen = 0.0
    if l1 is not None:
        widen = l1.value / scale
        bounds["cell-average-l1"] = widen  # so that scaling gives the kernel value
        upper_cert.update({"cell_average_l1": l1.value, "cell_average_l1_certified": l1.certified,
                           "cell_average_l1_method": l1.method})
        upper_method += f" + L1 distance to the cell average ({l1.method})"
        # |S||T| / (n m) <= 1 times the per-cell deviation of the computed from the exact cell means
        lower = max(lower - l1.cell_error / scale, 0.0)
        lower_method += (", on the exact cell averages (closed form, rounding subtracted)" if U.cell_average_exact
                         else ", on 4x4 Gauss-Legendre cell averages (holds for w up to that quadrature's "
                              "error: not certified)")
    br = computed_bracket(lower, upper + widen, lower_method, upper_method,
                          {"S": S, "T": T, "sign": sign}, upper_cert, bounds)
    return br.scaled(scale)


# ------------------------------------------------------------------------------ exact (brute force)
def _sign_table(n: int) -> np.ndarray:
    """All ``2^(n-1)`` sign vectors with first entry +1 (x and -x give the same norm), shape (2^(n-1), n)."""
    codes = np.arange(2 ** (n - 1), dtype=np.int64)
    bits = (codes[:, None] >> np.arange(n - 1)[None, :]) & 1
    return np.hstack([np.ones((codes.size, 1)), 1.0 - 2.0 * bits])


def brute_force_inf_to_one(U, *, normalize: bool = True) -> float:
    """Exact ``||U||_{inf->1}`` by enumeration: ``max_x ||U^T x||_1`` over the ``2^(k-1)`` sign vectors
    of the smaller side ``k = min(n, m) <= 20`` (the best ``y`` for a given ``x`` is ``sign(U^T x)``)."""
    A = _as_matrix(U, "U")
    normalize = check_bool("normalize", normalize)
    if A.shape[0] > A.shape[1]:
        A = A.T
    n, m = A.shape
    if n > _MAX_BRUTE:
        raise bad_argument("U", f"matrix of shape {A.shape}", f"the smaller side must be <= {_MAX_BRUTE}",
                           "use inf_to_one_norm for a bracket")
    Xs = _sign_table(n)
    val = float(np.max(np.abs(Xs @ A).sum(axis=1)))
    return val / (n * m) if normalize else val


def brute_force_cut_norm(U, *, normalize: bool = True) -> float:
    """Exact cut norm by enumeration of the ``2^k`` subsets of the smaller side ``k <= 20``: for a set
    ``S`` the best ``T`` takes the columns of one sign of ``1_S^T U``."""
    A = _as_matrix(U, "U")
    normalize = check_bool("normalize", normalize)
    if A.shape[0] > A.shape[1]:
        A = A.T
    n, m = A.shape
    if n > _MAX_BRUTE:
        raise bad_argument("U", f"matrix of shape {A.shape}", f"the smaller side must be <= {_MAX_BRUTE}",
                           "use cut_norm for a bracket")
    codes = np.arange(2 ** n, dtype=np.int64)
    S = ((codes[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
    Z = S @ A
    val = float(max(np.clip(Z, 0, None).sum(axis=1).max(), np.clip(-Z, 0, None).sum(axis=1).max()))
    return val / (n * m) if normalize else val


# --------------------------------------------------------------------- cell-average discretisation
def cell_average_l1_error(kernel: Kernel, n: int, *, nodes: int = 4, block: int = 256) -> float:
    """``||w - w_n||_{L1([0,1]^2)}`` with ``w_n = kernel.matrix(n, "cell-average")`` (step kernel).

    A :class:`~solvers.graphons.StepKernel` gets the exact value from the common refinement of its
    partition and the grid (0 when the grid refines it).  Any other kernel gets composite
    Gauss-Legendre quadrature (:func:`solvers.quadrature.composite_gauss_legendre`) of ``|w - w_n|``
    with ``nodes x nodes`` points per cell: an *estimate*, since ``|w - w_n|`` has a kink inside the
    cell; for a kernel that is ``C^2`` on the cell, ``w - w_n`` is nearly linear and the quadrature
    of ``|linear|`` with 4 x 4 nodes is within about 10% (tested in the unit tests against a
    24 x 24 reference).  The certified counterpart is :func:`cell_average_l1_bound`.
    """
    check_instance("kernel", kernel, Kernel, "pass e.g. ring()")
    n = _check_int("n", n, 1)
    nodes = _check_int("nodes", nodes, 1)
    block = _check_int("block", block, 1)
    wbar = kernel.matrix(n, "cell-average")
    if isinstance(kernel, StepKernel):
        return _step_l1(kernel.values, wbar)
    pts, wts = composite_gauss_legendre(n, nodes)  # cell by cell; a cell's weights sum to 1/n
    wq = wts[:nodes]
    total = 0.0
    for a0 in range(0, n, block):
        a1 = min(n, a0 + block)
        rows = pts[a0 * nodes:a1 * nodes]
        vals = kernel(rows[:, None], pts[None, :]).reshape(a1 - a0, nodes, n, nodes)
        diff = np.abs(vals - wbar[a0:a1, None, :, None])
        total += float(np.einsum("iajb,a,b->", diff, wq, wq))
    return total


def _step_l1(values: np.ndarray, wbar: np.ndarray) -> float:
    """Exact ``||S_values - S_wbar||_1`` over the common refinement of the two uniform partitions."""
    m, n = values.shape[0], wbar.shape[0]
    pa, pc, pl = common_refinement(n, m)  # pieces: grid cell, kernel cell, length
    diff = np.abs(wbar[pa[:, None], pa[None, :]] - values[pc[:, None], pc[None, :]])
    return float(pl @ diff @ pl)


@dataclass(frozen=True)
class L1Bound:
    """``||w - w_n||_{L1([0,1]^2)}`` as added to an upper side (result of :func:`cell_average_l1_bound`).

    Attributes
    ----------
    value : float
        The bound (certified) or the widened estimate (not certified).
    certified : bool
        Whether ``value`` is a proven upper bound (given the kernel's stated constants).
    method : str
        How it was obtained; contains "not certified" when it is not.
    cell_error : float
        Bound on ``max |w_n - exact cell mean|`` used for the lower sides: the rounding of closed
        forms and partition overlaps; for Gauss-Legendre cell averages only their rounding (the
        quadrature error itself is not bounded).
    """

    value: float
    certified: bool
    method: str
    cell_error: float


def cell_average_l1_bound(kernel: Kernel, n: int, *, l1_safety: float = 1.25) -> L1Bound:
    """A bound on ``||w - w_n||_{L1([0,1]^2)}``, ``w_n = kernel.matrix(n, "cell-average")`` (the step
    kernel on the ``n x n`` grid), certified when the kernel states derivative bounds.

    Cases (``L_xi, L_zeta = kernel.lipschitz``, ``h = 1/n``):

    * :class:`~solvers.graphons.StepKernel`: the exact value over the common refinement of its
      partition and the grid (0 when the grid refines it); certified.
    * derivative bounds and exact cell means (``kernel.cell_average_exact``: ``ring``, ``skew``,
      ``product``): ``(L_xi + L_zeta) / (4 n)``; certified.
    * derivative bounds and 4 x 4 Gauss-Legendre cell averages (a user's ``FunctionKernel`` with
      ``lipschitz_xi``, ``lipschitz_zeta``): ``(L_xi + L_zeta) / (3 n)``; certified.
    * no derivative bounds: ``l1_safety`` x :func:`cell_average_l1_error` (quadrature estimate);
      **not certified**.

    Derivation.  Let ``Q`` be a cell, ``P = (X, Z)`` uniform on ``Q``, and
    ``|w(x, z) - w(x', z)| <= L_xi |x - x'|``, ``|w(x, z) - w(x, z')| <= L_zeta |z - z'|``.

    *1-D lemma.*  If ``g`` is ``L``-Lipschitz on an interval of length ``h`` with mean ``gbar``
    and ``U`` is uniform on it, ``E|g(U) - gbar| <= L h / 4`` (equality for linear ``g``).  Proof:
    for ``min g <= y < y' <= max g`` the continuous ``g`` goes from ``y`` to ``y'`` on a
    sub-interval where it stays in ``[y, y']``, of length ``>= (y' - y) / L``, so
    ``|{y <= g <= y'}| >= (y' - y) / L``: the nondecreasing rearrangement of ``g`` (same law as
    ``g(U)``) is ``L``-Lipschitz, and ``g`` may be taken nondecreasing on ``[0, h]``.  Then
    ``phi = g - gbar`` vanishes at some ``t*``, is ``<= 0`` before and ``>= 0`` after it,
    ``int phi_+ = int phi_-`` (``int phi = 0``),
    ``int phi_+ <= L (h - t*)^2 / 2`` and ``int phi_- <= L t*^2 / 2``; so ``int phi_+ <= L h^2 / 8``
    and ``E|phi(U)| = 2 int phi_+ / h <= L h / 4``.

    (i) Exact cell means ``m = E w(P)``.  With ``A(x) = E w(x, Z)`` (mean over the cell's ``zeta``
    side), ``w(X, Z) - m = [w(X, Z) - A(X)] + [A(X) - m]``.  For fixed ``x``, ``z -> w(x, z)`` is
    ``L_zeta``-Lipschitz with mean ``A(x)``, and ``A`` is ``L_xi``-Lipschitz with mean ``m``; the
    1-D lemma bounds the two terms by ``L_zeta h / 4`` and ``L_xi h / 4``, so
    ``E|w(P) - m| <= (L_xi + L_zeta) h / 4``; the cells have total area 1, hence
    ``||w - w_n||_1 <= (L_xi + L_zeta) / (4 n)``.

    (ii) Gauss-Legendre means ``m_h = sum_{k,l} o_k o_l w(x_k, z_l)`` (positive weights summing to
    1): ``E|w(P) - m_h| <= sum o_k o_l E|w(P) - w(x_k, z_l)| <= L_xi sum_k o_k E|X - x_k| +
    L_zeta sum_l o_l E|Z - z_l|``; for ``t`` in a cell of centre ``c``, ``E|X - t| = h/4 +
    (t - c)^2 / h``, and the rule integrates ``(t - c)^2`` exactly, so ``sum_k o_k (x_k - c)^2 =
    h^2 / 12``: the bound is ``(L_xi + L_zeta) h (1/4 + 1/12) = (L_xi + L_zeta) / (3 n)``.

    Sharpness of (i): equality for ``w = L xi`` (``L_zeta = 0``).  No bound that uses only
    ``(L_xi, L_zeta)`` can be below the value of the linear kernel ``L_xi xi + L_zeta zeta``
    (``h (a/4 + b^2 / (12 a))`` with ``a = max``, ``b = min``), so (i) is within a factor 1.5 of the
    best such bound (the worst case ``L_xi = L_zeta``: ``L / (2n)`` against ``L / (3n)``).

    Rounding.  The computed ``w_n`` differs from the exact cell means (the kernel's separable form,
    :meth:`~solvers.graphons.Kernel.separable_terms`: ``R <= 5`` terms, each a product of closed-form
    cell means, a few ulps each, at most ``(12 + R) u sum_r |c_r| sup|f_r| sup|g_r|``) or from the
    exact Gauss-Legendre sums (16 positive weights: at most
    ``gamma_16 sum o |w| <= gamma_16 (|m_h| + (L_xi + L_zeta) h)``) by at most ``cell_error =
    64 u (max(max |w_n|, S) + (L_xi + L_zeta) / n)``, ``u = 2^-53``, ``S = sum_r |c_r| sup|f_r| sup|g_r|``
    (0 without a form); it is added, and the total is rounded up by ``(1 + 8 u)``.  Errors in the
    evaluation of a user's ``func`` are not covered.

    Parameters
    ----------
    kernel : solvers.graphons.Kernel
    n : int
        Cells per side of the grid.
    l1_safety : float, keyword-only
        Factor on the quadrature estimate when the kernel states no derivative bounds.

    Returns
    -------
    L1Bound
    """
    check_instance("kernel", kernel, Kernel, "pass e.g. ring()")
    n = _check_int("n", n, 1)
    l1_safety = check_positive("l1_safety", l1_safety)
    return _cell_average_l1(kernel, n, kernel.matrix(n, "cell-average"), l1_safety)


def _cell_average_l1(kernel: Kernel, n: int, wbar: np.ndarray, l1_safety: float) -> L1Bound:
    """:func:`cell_average_l1_bound` given the computed cell averages ``wbar`` (n x n)."""
    if isinstance(kernel, StepKernel):
        m = kernel.n
        exact = _step_l1(kernel.values, wbar)
        pieces = n + m
        # refining grid: w_n is a copy of the values (exact); otherwise (nP) V (nP)^T rounds
        cell_error = 0.0 if n % m == 0 else _gamma(4 * m + 4) * float(np.max(np.abs(kernel.values)))
        value = exact * (1 + _gamma(2 * pieces + 2)) + cell_error
        return L1Bound(value, True, "certified: exact over the common refinement of the step kernel's "
                       "partition and the grid", cell_error)
    lip = kernel.lipschitz
    osc = 0.0 if lip is None else (lip[0] + lip[1]) / n
    terms = kernel.separable_terms() if kernel.cell_average_exact else None
    size = max(float(np.max(np.abs(wbar))), 0.0 if terms is None else terms.sup_bound)
    cell_error = 64 * _U * (size + osc)
    if lip is None:
        est = float(cell_average_l1_error(kernel, n))
        return L1Bound(l1_safety * est, False, f"not certified: {l1_safety} x quadrature estimate (the kernel "
                       "states no derivative bounds; pass lipschitz_xi, lipschitz_zeta to certify it)", cell_error)
    if kernel.cell_average_exact:
        value, rule = (lip[0] + lip[1]) / (4 * n), "(L_xi + L_zeta) / (4 n)"
    else:
        value, rule = (lip[0] + lip[1]) / (3 * n), "(L_xi + L_zeta) / (3 n) for Gauss-Legendre cell averages"
    value = (value + cell_error) * (1 + 8 * _U)
    return L1Bound(value, True, f"certified: derivative bound {rule}, L_xi = {lip[0]:.6g}, "
                   f"L_zeta = {lip[1]:.6g}", cell_error)
