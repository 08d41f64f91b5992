"""The kernel-dependent weak metric ``d_w`` as a certified bracket (SPEC section 5).

Definition.  ``D(xi, x) = F_mu(xi, x) - F_nu(xi, x)`` and ``A(zeta, x) = int_0^1 w(zeta, xi) D(xi, x) dxi``
(what postsynaptic ``zeta`` sees); ``d_w(mu, nu) = sup_{|g|, |s| <= 1} int int g(zeta) s(x) A(zeta, x)
dzeta dx = ||A||_{inf->1}``.  (With ``psi(x) = -int^x s``, ``int int g s A = <(T_w^* g) psi, mu - nu>``:
integration by parts in ``x`` against the slice CDFs.)

Grids.  ``x``: the breakpoints ``x_0 < ... < x_{q-1}``, every atom and every continuous-part point of
both measures; ``D`` and ``A`` vanish outside ``[x_0, x_{q-1}]`` and are linear on each interval.
``zeta``: ``n_z`` uniform cells (the kernel's own cells for a step kernel).  ``xi``: each measure's own
cells (the kernel's cell integrals over them are exact for step and named separable kernels, see
:mod:`._kernels`).  ``A_z(x)``, the mean of ``A`` over zeta cell ``z``, is computed exactly (up to
rounding) as ``B(x) U[:, z]`` with ``B = interval values of sum_c V[:, c] D_c`` (:mod:`._cdf`).

Lower side (certified, attained).  ``g`` constant on the zeta cells, ``s`` the exact best response
``sign(sum_z h_z g_z A_z(x))`` (it may switch inside an interval: the zero of a linear function), so
the value ``int |sum_z h_z g_z A_z|`` is exact for that ``(g, s)``; alternating maximisation
``g <- sign(int s A_z)``, ``s <- best response`` never decreases it, from seeded random sign starts and
from hyperplane roundings of the Burer-Monteiro factors below; the best pair is returned.

Upper side (certified), the smaller of
* ``entrywise``: ``sum_z h_z int |A_z(x)| dx`` (exact: linear pieces with their zero crossings);
* ``sdp``: weak duality for the Grothendieck SDP of the bilinear form ``(g, s) -> sum_z h_z g_z int
  s(x) A_z(x) dx`` with ``s`` any function of ``x`` (no ``x`` discretisation): for ``alpha > 0`` on the
  zeta cells and ``b(x) > 0`` (constant on each interval), if ``t >= lambda_max(Dalpha^{-1/2} S
  Dalpha^{-1/2})`` with ``S = (1/4) int a(x) a(x)^T / b(x) dx``, ``a = (h_z A_z)_z``, then the operator
  ``[[t Dalpha, -T/2], [-T^*/2, b]]`` is PSD (Schur complement: an ``n_z x n_z`` check whatever ``q``
  is) and ``d_w <= t sum(alpha) + int b``, ``2 sqrt(t sum(alpha) int b)`` after the best rescaling.
  ``S`` is exact because ``a`` is linear on each interval (``int_k a a^T = h_k [a_L a_R] C [a_L a_R]^T``,
  ``C = [[1/3, 1/6], [1/6, 1/3]]``).  ``alpha`` and ``b`` come from a Burer-Monteiro solution of the
  interval-averaged problem (any values are valid; convergence only tightens); ``t`` is certified by a
  Cholesky factorisation (``verification.graphs._norms``) plus the rounding of the Gram products.
Both sides are then widened by
* ``E_zeta`` (restricting ``g`` to zeta cells): 0 for step kernels (exact).  For separable kernels
  the smaller of two certified bounds, both second order: (i) for fixed ``s``, ``phi(zeta) = int s A
  dx = sum_r c_r u_r(zeta)`` (``|c_r| <= int |B_r|``) changes sign in at most ``Z`` cells (``Z`` = the
  most zeros of a function of ``span{u_r}``: 1 for ``{1, t}``, 2 for ``{1, cos, sin}``, 3 for all four,
  from Rolle), the restriction loses nothing elsewhere and at most ``int_Z |phi| <= (h^2/2) sup|phi'|``
  in such a cell: ``E <= Z (h^2/2) sum_r sup|u_r'| int |B_r|``; (ii) the Poincare bound
  ``||A - P_z A||_1 <= (h/3) sum_z h int |d_zeta A(mid_z, x)| dx + (h^2/16) sum_r sup|u_r''| int |B_r|``
  (``int_Z |f - mean f| <= (h^2/3) |f'(mid)| + (h^3/16) sup_Z |f''|``).  Otherwise
  ``(L_1 h / 3) strong_distance(mu, nu)`` with ``L_1`` the kernel's Lipschitz constant in its first
  argument (``int_Z |f - mean f| <= L h^2 / 3``, from the same kernel representation);
* ``E_quad`` (quadrature kernels only): ``sum_c h_c (L_1 h_z + L_2 h_c) W_1(mu_c, nu_c)`` on the common
  refinement (both sides);
* ``rounding``: a stated bound from the standard model of floating-point arithmetic (cumulative sums
  of ``q`` terms, ``gamma_k`` constants), about ``1e-10`` relative for ``q = 10^5``.
For a kernel without stated derivative bounds the quadrature widenings are estimates (labelled
"not certified" in ``upper_method``).

Costs: ``O((n_atoms + n_points) R + q R)`` to form the interval values (``R`` kernel factors: 3-5 for
the named kernels, ``n_k`` for a step kernel, ``n_z`` otherwise); one alternating sweep ``O(q R K)``
for ``K`` starts; a Burer-Monteiro iteration ``O(q R k)``; the certificate one ``R x R`` Gram product
over ``q`` columns and one ``n_z x n_z`` Cholesky per trial shift.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla

from solvers._random import make_rng
from solvers.errors import bad_argument
from solvers.graphons import Kernel
from solvers.measures import ExtendedMeasure, common_refinement
from solvers.validation import check_bool, check_instance, check_int, check_positive, check_seed
from verification.graphs._bracket import Bracket
from verification.graphs._norms import _lambda_max_upper

from ._cdf import U, abs_integral_sum, best_response_weights, gamma, interval_values
from ._kernels import Factorisation, factorise

__all__ = ["MetricBracket", "StepFunction", "weak_distance", "pairing"]


@dataclass(frozen=True)
class StepFunction:
    """``f = values[i]`` on ``[edges[i], edges[i+1])`` (0 outside), a sign function of the certificate."""

    edges: np.ndarray
    values: np.ndarray

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        i = np.searchsorted(self.edges, t, side="right") - 1
        inside = (i >= 0) & (i < self.values.size)
        return np.where(inside, self.values[np.clip(i, 0, self.values.size - 1)], 0.0)


@dataclass(frozen=True)
class MetricBracket(Bracket):
    """A :class:`~verification.graphs.Bracket` on ``d_w(mu, nu)`` with the maximising test function
    and the discretisation errors.

    Attributes
    ----------
    g : StepFunction
        The postsynaptic sign ``g(zeta)`` (constant on the zeta cells) of the lower side.
    s : StepFunction
        The voltage sign ``s(x) = -psi'(x)``; ``<(T_w^* g) psi, mu - nu> = lower`` (up to rounding).
    discretisation : Mapping[str, float]
        ``"x"`` (0: both sides are exact in ``x``), ``"zeta"``, ``"quadrature"``, ``"rounding"``.
    grids : Mapping[str, Any]
        ``"n_x"`` (breakpoints), ``"n_zeta"``, ``"factorisation"`` (``separable``/``step``/``quadrature``),
        ``"certified"`` (whether every widening is certified).
    """

    g: StepFunction | None = field(default=None, compare=False, repr=False)
    s: StepFunction | None = field(default=None, compare=False, repr=False)
    discretisation: Mapping[str, float] = field(default_factory=dict, compare=False)
    grids: Mapping[str, Any] = field(default_factory=dict, compare=False)


# ------------------------------------------------------------------------------------------ helpers
def _check_measure(name: str, m: Any) -> ExtendedMeasure:
    return check_instance(name, m, ExtendedMeasure, "build it with solvers.measures.ExtendedMeasure.from_network, "
                          "from_snapshot, from_solution or from_histogram")


class _Problem:
    """``A`` in factored form: ``A_z(x) = B(x) @ Uz[:, z]`` on every interval (``Uz = None``: identity)."""

    def __init__(self, mu: ExtendedMeasure, nu: ExtendedMeasure, fac: Factorisation, n_z: int):
        self.fac = fac
        self.n_z = n_z
        self.hz = np.full(n_z, 1.0 / n_z)
        self.x = np.unique(np.concatenate([mu.atom_x, mu.cont_x, nu.atom_x, nu.cont_x]))
        self.dx = np.diff(self.x)
        self.Uz = fac.zeta_factor(n_z)
        if self.x.size < 2:  # both measures are the same Dirac everywhere: D = 0
            R = fac.n_rows(n_z)
            self.BL = self.BR = np.zeros((0, R))
            self.err = 0.0
            return
        lm, rm, em = interval_values(mu, fac.xi_weights(mu.edges, n_z), self.x)
        ln, rn, en = interval_values(nu, fac.xi_weights(nu.edges, n_z), self.x)
        lm -= ln
        rm -= rn
        self.BL, self.BR = lm, rm
        del ln, rn
        # rounding: per-entry error of B, times sum_r |U[r, z]| (+ the product itself), over the x range
        R = lm.shape[1]
        uabs = np.ones(n_z) if self.Uz is None else np.abs(self.Uz).sum(axis=0)
        bmax = float(np.max(np.abs(lm))) if lm.size else 0.0
        per_entry = (em + en) * (1 + gamma(R + 2)) + gamma(R + 2) * bmax
        self.err = float(np.sum(self.hz * uabs)) * per_entry * float(self.x[-1] - self.x[0])

    @property
    def R(self) -> int:
        return self.BL.shape[1]

    def a_cols(self, B: np.ndarray, cols: slice) -> np.ndarray:
        return B[:, cols] if self.Uz is None else B @ self.Uz[:, cols]

    def apply(self, B: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``A @ w`` for ``w`` of shape ``(n_z, K)``: ``(q - 1, K)``."""
        return B @ w if self.Uz is None else B @ (self.Uz @ w)

    def apply_t(self, vl: np.ndarray, vr: np.ndarray) -> np.ndarray:
        """``A_L^T vl + A_R^T vr`` (``(q - 1, K)`` inputs): ``(n_z, K)``."""
        t = self.BL.T @ vl + self.BR.T @ vr
        return t if self.Uz is None else self.Uz.T @ t

    def chunks(self, size: int = 256):
        for c0 in range(0, self.n_z, size):
            yield slice(c0, min(self.n_z, c0 + size))


def _best_response(fl: np.ndarray, fr: np.ndarray, dx: np.ndarray):
    """For ``f`` linear on each interval from ``fl`` to ``fr`` (``(q-1, K)``): ``s = sign f`` with its
    switch fraction ``theta`` (1: no switch), the exact ``int |f|`` per column, and the weights
    ``alpha, beta`` with ``int_k s A = dx_k (alpha_k A(x_k+) + beta_k A(x_{k+1}-))`` for any linear ``A``."""
    same = fl * fr >= 0
    sig = np.where(same, np.where(fl + fr >= 0, 1.0, -1.0), np.where(fl > 0, 1.0, -1.0))
    den = np.where(same, 1.0, fl - fr)
    theta = np.where(same, 1.0, fl / den)
    alpha = sig * np.where(same, 0.5, -theta * theta + 2.0 * theta - 0.5)
    beta = sig * np.where(same, 0.5, theta * theta - 0.5)
    value = abs_integral_sum(fl, fr, dx)
    return sig, theta, alpha, beta, value


def _alternate(P: _Problem, G0: np.ndarray, max_sweeps: int = 100):
    """Alternating maximisation from the sign columns of ``G0`` (``(n_z, K)``)."""
    g = G0.copy()
    best = np.full(g.shape[1], -np.inf)
    for _ in range(max_sweeps):
        w = g * P.hz[:, None]
        fl, fr = P.apply(P.BL, w), P.apply(P.BR, w)
        alpha, beta, val = best_response_weights(fl, fr, P.dx)
        Gz = P.apply_t(alpha, beta)
        g_new = np.where(Gz >= 0, 1.0, -1.0)
        if np.all(np.isfinite(best)) and np.all(val <= best + 1e-12 * np.abs(best) + 1e-300):
            break
        best = val
        g = g_new
    return g, best


def _bm(P: _Problem, rank: int, iterations: int, tol: float, rng) -> tuple[np.ndarray, dict]:
    """Burer-Monteiro ascent of ``sum_k ||U^T M_k||`` over unit rows ``U`` (``(n_z, rank)``), with
    ``M^T = Bint Uh``, ``Bint = dx (B_L + B_R) / 2``."""
    Bint = 0.5 * P.dx[:, None] * (P.BL + P.BR)
    Uh = np.diag(P.hz) if P.Uz is None else P.Uz * P.hz[None, :]  # (R, n_z)
    Uv = rng.standard_normal((P.n_z, rank))
    Uv /= np.linalg.norm(Uv, axis=1, keepdims=True)
    value, it = -math.inf, 0
    for it in range(1, iterations + 1):  # noqa: B007 (the count is reported)
        Y = Bint @ (Uh @ Uv)  # M^T U, (q-1, rank)
        nrm = np.linalg.norm(Y, axis=1)
        V = Y / np.where(nrm > 0, nrm, 1.0)[:, None]
        Z = Uh.T @ (Bint.T @ V)  # M V, (n_z, rank)
        zn = np.linalg.norm(Z, axis=1)
        Uv = np.where(zn[:, None] > 0, Z / np.where(zn > 0, zn, 1.0)[:, None], Uv)
        new = float(zn.sum())
        if new - value <= tol * abs(new):
            value = new
            break
        value = new
    return Uv, {"Bint": Bint, "Uh": Uh, "value": value, "iterations": it}


def _sdp_certificate(P: _Problem, Uv: np.ndarray, info: dict) -> tuple[float, dict]:
    """Certified ``||A||_{inf->1} <= 2 sqrt(t sum(alpha) int b)`` for ``g`` constant on the zeta cells
    and *any* ``s`` (continuous ``x``; module docstring): ``b`` is constant on each interval, so
    ``S = (1/4) int a a^T / b dx`` is exact for the linear ``a(x) = (h_z A_z(x))_z`` on each interval:
    ``int_k a a^T = h_k [a_L a_R] C [a_L a_R]^T`` with ``C = [[1/3, 1/6], [1/6, 1/3]]``."""
    Bint, Uh = info["Bint"], info["Uh"]
    W = Uh @ Uv  # (R, rank)
    nl, nr = np.linalg.norm(P.BL @ W, axis=1), np.linalg.norm(P.BR @ W, axis=1)
    nb = 0.25 * (nl + nr)  # b_k: the pointwise optimum ||U^T a(x)|| / 2 averaged over the ends
    if not np.any(nb > 0):  # no usable certificate (underflow or a degenerate start): no bound
        return math.inf, {"t": math.inf}
    b = np.maximum(nb, 1e-6 * float(nb.max()))
    Y = Bint @ W
    ny = np.linalg.norm(Y, axis=1)
    V = Y / np.where(ny > 0, ny, 1.0)[:, None]
    na = np.linalg.norm(Uh.T @ (Bint.T @ V), axis=1)
    alpha = np.maximum(0.5 * na, 1e-6 * 0.5 * float(na.max()) + 1e-300)
    # H = Dalpha^{-1/2} S Dalpha^{-1/2} = Pt^T Gb Pt, Gb = (E1^T E1 + E2^T E2) / 4
    w = np.sqrt(P.dx / b)[:, None]
    E1 = w * (P.BL / math.sqrt(3.0) + P.BR / (2.0 * math.sqrt(3.0)))
    E2 = w * (0.5 * P.BR)
    Gb = 0.25 * (E1.T @ E1 + E2.T @ E2)
    Pt = Uh / np.sqrt(alpha)[None, :]
    H = Pt.T @ Gb @ Pt
    H = 0.5 * (H + H.T)
    q, R = E1.shape
    # rounding of the products: ||fl(H) - H||_2 <= gamma * ||Pt||_F^2 (||E1||_F^2 + ||E2||_F^2) / 4
    h_err = gamma(q + 2 * R + 8) * float(np.sum(Pt * Pt)) * float(np.sum(E1 * E1) + np.sum(E2 * E2)) * 0.25
    n = H.shape[0]
    est = float(sla.eigvalsh(H, subset_by_index=[n - 1, n - 1], check_finite=False)[0]) if n > 1 else float(H[0, 0])
    gersh = float(np.max(np.abs(H).sum(axis=1))) * (1 + gamma(n + 1))
    hd = np.diag(H).copy()

    def build(s):
        M = -H.copy()
        M[np.diag_indices(n)] = s - hd
        return M

    t, linfo = _lambda_max_upper(build, est, 1e-9 * abs(est) + 1e-300, gersh)
    t = (t + h_err) * (1 + 4 * U)
    sa, sb = float(np.sum(alpha)) * (1 + gamma(n)), float(P.dx @ b) * (1 + gamma(q))
    bound = 2.0 * math.sqrt(t * sa * sb) * (1 + 4 * U)
    linfo.update({"t": t, "sum_alpha": sa, "int_b": sb, "gram_rounding": h_err, "bm_value": info["value"],
                  "bm_iterations": info["iterations"]})
    return bound, linfo


def _zeta_error(P: _Problem, mu, nu) -> tuple[float, str, bool, float]:
    """``(E_zeta, how, certified, E_quad)``."""
    fac = P.fac
    if fac.kind == "step":
        return 0.0, "zeta cells are the kernel's cells (exact)", True, 0.0
    h = 1.0 / P.n_z
    if fac.kind == "separable":
        d1, d2 = fac.zeta_derivatives(P.n_z)
        absB = abs_integral_sum(P.BL, P.BR, P.dx)  # int |B_r| dx
        first = 0.0
        for cols in P.chunks():
            fl, fr = P.BL @ d1[:, cols], P.BR @ d1[:, cols]
            first += float(abs_integral_sum(fl, fr, P.dx).sum())
        poincare = (h * h / 3.0) * first + (h * h / 16.0) * float(np.sum(d2 * absB))
        zeros = fac.max_zeros()
        sign_change = zeros * (h * h / 2.0) * float(np.sum(fac.zeta_derivative_sup() * absB))
        E = min(poincare, sign_change) * (1 + 1e-12)
        how = (f"at most {zeros} zeta cells where int s A changes sign, each losing <= (h^2/2) sup|d_zeta int s A|"
               if sign_change <= poincare else "second-order Poincare bound from the separable form")
        return E, how, True, 0.0
    mu_r, nu_r = common_refinement(mu, nu)
    w1 = _cell_w1(mu_r, nu_r)
    L1, L2 = fac.lipschitz
    strong = float(np.sum(mu_r.widths * w1))
    E = (L1 * h / 3.0) * strong
    Eq = float(np.sum(fac.quadrature_error(P.n_z, mu_r.edges) * w1))
    how = "(L_1 h_z / 3) x strong distance" + ("" if fac.certified else " (L_1 estimated: not certified)")
    return E, how, fac.certified, Eq


def _cell_w1(mu: ExtendedMeasure, nu: ExtendedMeasure) -> np.ndarray:
    """``W_1(mu_c, nu_c) = int |F_c - G_c| dx`` per cell of a common partition (exact)."""
    from ._distances import cell_w1

    return cell_w1(mu, nu)


# ------------------------------------------------------------------------------------------ API
def weak_distance(mu: ExtendedMeasure, nu: ExtendedMeasure, kernel: Kernel, *, zeta_cells: int | None = None,
                  seed: Any = 0, restarts: int = 16, roundings: int = 16, sdp: bool = True, rank: int = 8,
                  sdp_iterations: int = 200, sdp_tol: float = 1e-5, max_sweeps: int = 100,
                  quadrature_nodes: int = 3) -> MetricBracket:
    """Certified bracket on the weak metric ``d_w(mu, nu) = ||A||_{inf->1}`` (SPEC section 5).

    Parameters
    ----------
    mu, nu : ExtendedMeasure
        Any two extended measures (network vs network, network vs PDE, PDE vs PDE); their ``xi``
        partitions need not agree.
    kernel : solvers.graphons.Kernel
        The limit kernel ``w(zeta, xi)`` (``zeta`` postsynaptic, the first argument).
    zeta_cells : int, optional, keyword
        Number of uniform zeta cells on which ``g`` is constant.  Default: the kernel's cells for a
        step kernel (exact), 512 for ``ring``/``skew``/``product`` (second-order widening), 128
        otherwise (first-order widening).  A step kernel refuses any other value.
    seed : int or SeedSequence, keyword
        Fixes only the random starts, the Burer-Monteiro start and the rounding hyperplanes: every
        side is certified whatever the seed.
    restarts, roundings : int, keyword
        Random sign starts and SDP hyperplane roundings of the alternating maximisation.
    sdp : bool, keyword
        Compute the SDP upper bound (and the roundings).
    rank, sdp_iterations, sdp_tol : keyword
        Burer-Monteiro rank, iteration cap and relative stopping tolerance (the certificate is valid
        at any iterate; convergence only tightens it).
    max_sweeps : int, keyword
        Cap on alternating sweeps (each never decreases the value).
    quadrature_nodes : int, keyword
        Gauss-Legendre nodes per direction for kernels without exact cell integrals.

    Returns
    -------
    MetricBracket
        ``lower`` (attained by ``g``, ``s``), ``upper`` (min of the entrywise and SDP bounds, plus the
        widenings), ``discretisation`` (``x``, ``zeta``, ``quadrature``, ``rounding``), ``grids``,
        ``bounds`` (every candidate) and the methods.  Exact in ``x`` always; exact in ``xi`` and
        ``zeta`` for step kernels; ``zeta`` widening of second order for the named separable kernels.

    Raises
    ------
    InvalidArgumentError
        Arguments that are not measures or a kernel; bad options.
    """
    mu = _check_measure("mu", mu)
    nu = _check_measure("nu", nu)
    fac = factorise(check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.skew()"),
                    nodes=check_int("quadrature_nodes", quadrature_nodes, 1, maximum=16))
    restarts = check_int("restarts", restarts, 1)
    roundings = check_int("roundings", roundings, 0)
    rank = check_int("rank", rank, 1)
    sdp_iterations = check_int("sdp_iterations", sdp_iterations, 1)
    sdp_tol = check_positive("sdp_tol", sdp_tol)
    max_sweeps = check_int("max_sweeps", max_sweeps, 1)
    sdp = check_bool("sdp", sdp)
    ss = check_seed(seed)
    if fac.kind == "step":
        n_k = fac.step_values.shape[0]
        if zeta_cells is not None and zeta_cells != n_k:
            raise bad_argument("zeta_cells", zeta_cells, f"a step kernel uses its own {n_k} cells (exact)",
                               "drop zeta_cells")
        n_z = n_k
    else:
        n_z = fac.default_zeta_cells() if zeta_cells is None else check_int("zeta_cells", zeta_cells, 1)
    P = _Problem(mu, nu, fac, n_z)
    rng_start, rng_bm, rng_round = (make_rng(s) for s in ss.spawn(3))
    zeta_edges = np.arange(n_z + 1) / n_z
    if P.x.size < 2:
        zero = StepFunction(zeta_edges, np.ones(n_z))
        return MetricBracket(0.0, 0.0, "identical Dirac slices (D = 0)", "D = 0", {}, {}, {"entrywise": 0.0},
                             g=zero, s=StepFunction(P.x, np.zeros(0)), discretisation={"x": 0.0, "zeta": 0.0,
                             "quadrature": 0.0, "rounding": 0.0},
                             grids={"n_x": int(P.x.size), "n_zeta": n_z, "factorisation": fac.kind, "certified": True})
    # upper: entrywise (exact)
    entry = 0.0
    for cols in P.chunks():
        al, ar = P.a_cols(P.BL, cols), P.a_cols(P.BR, cols)
        entry += float(abs_integral_sum(al, ar, P.dx) @ P.hz[cols])
    Ez, zeta_how, certified, Eq = _zeta_error(P, mu, nu)
    rho = 2.0 * P.err
    bounds: dict[str, float] = {"entrywise": entry}
    uppers = {"entrywise": entry}
    upper_cert: dict[str, Any] = {}
    starts = [np.where(rng_start.standard_normal((n_z, restarts)) >= 0, 1.0, -1.0)]
    if sdp:
        Uv, info = _bm(P, min(rank, n_z), sdp_iterations, sdp_tol, rng_bm)
        sdp_val, cert = _sdp_certificate(P, Uv, info)
        bounds["sdp"] = sdp_val
        uppers["sdp"] = sdp_val
        upper_cert["sdp"] = cert
        if roundings:
            starts.append(np.where(Uv @ rng_round.standard_normal((Uv.shape[1], roundings)) >= 0, 1.0, -1.0))
    g_all, vals = _alternate(P, np.hstack(starts), max_sweeps)
    best = int(np.argmax(vals))
    g = g_all[:, best]
    # the exact best response to g: value and the sign function s
    w = (g * P.hz)[:, None]
    fl, fr = P.apply(P.BL, w)[:, 0], P.apply(P.BR, w)[:, 0]
    sig, theta, _, _, val = _best_response(fl[:, None], fr[:, None], P.dx)
    value = float(val[0])
    bounds["alternating"] = float(np.max(vals[:restarts]))
    if len(starts) > 1:
        bounds["sdp-rounding"] = float(np.max(vals[restarts:]))
    s = _sign_function(P.x, sig[:, 0], theta[:, 0])
    lower = max(value - rho - Eq, 0.0)
    upper_key = min(uppers, key=uppers.get)
    upper = uppers[upper_key] + Ez + Eq + rho
    upper_method = {"entrywise": "entrywise sum_z h_z int |A_z| (exact)",
                    "sdp": "Grothendieck SDP dual certificate, continuous in x (Schur complement, Cholesky-certified)"
                    }[upper_key]
    upper_method += f"; + E_zeta ({zeta_how})"
    if Eq:
        upper_method += "; + quadrature error of the kernel's cell integrals"
    if not certified:
        upper_method += " [NOT CERTIFIED: the kernel states no derivative bound]"
    lower_method = ("attained by (g, s): alternating maximisation from random starts"
                    + (" and SDP hyperplane roundings" if len(starts) > 1 else "")
                    + ", s the exact best response to g")
    if Eq:
        lower_method += " (minus the quadrature error)"
    disc = {"x": 0.0, "zeta": Ez, "quadrature": Eq, "rounding": rho}
    grids = {"n_x": int(P.x.size), "n_zeta": n_z, "factorisation": fac.kind, "certified": certified,
             "kernel_rows": P.R}
    return MetricBracket(lower, upper, lower_method, upper_method, {"g": g, "value": value}, upper_cert, bounds,
                         g=StepFunction(zeta_edges, g), s=s, discretisation=disc, grids=grids)


def _sign_function(x: np.ndarray, sig: np.ndarray, theta: np.ndarray) -> StepFunction:
    """``s = sig_k`` on ``[x_k, x_k + theta_k h_k)`` and ``-sig_k`` on the rest of interval ``k``."""
    sw = theta < 1.0
    starts = np.concatenate([x[:-1], x[:-1][sw] + theta[sw] * np.diff(x)[sw]])
    values = np.concatenate([sig, -sig[sw]])
    order = np.argsort(starts, kind="stable")
    return StepFunction(np.concatenate([starts[order], [x[-1]]]), values[order])


def pairing(mu: ExtendedMeasure, nu: ExtendedMeasure, kernel: Kernel, g: StepFunction, s: StepFunction, *,
            nodes: int = 8) -> float:
    """``int int g(zeta) s(x) A(zeta, x) dzeta dx = <(T_w^* g) psi, mu - nu>`` (``psi' = -s``) computed
    independently of :func:`weak_distance`: on the common refinement, per cell ``c``,
    ``int_c (T_w^* g)(xi) dxi`` by Gauss-Legendre (``nodes`` per zeta cell and per xi cell; exact for
    step kernels aligned with the cells) times ``int s (F^mu_c - F^nu_c) dx`` on
    each piece of ``s`` split at every breakpoint (``D_c`` is linear there: the trapezoid rule is
    exact).  A check of certificates, not a fast path."""
    mu_r, nu_r = common_refinement(_check_measure("mu", mu), _check_measure("nu", nu))
    q, wq = np.polynomial.legendre.leggauss(nodes)
    q, wq = 0.5 * (q + 1.0), 0.5 * wq
    ze, gv = g.edges, g.values
    zpts = (ze[:-1, None] + np.diff(ze)[:, None] * q[None, :]).ravel()
    zw = (np.diff(ze)[:, None] * wq[None, :] * gv[:, None]).ravel()
    xe = mu_r.edges
    xpts = (xe[:-1, None] + np.diff(xe)[:, None] * q[None, :]).ravel()
    xw = (np.diff(xe)[:, None] * wq[None, :]).ravel()
    Tg = zw @ kernel(zpts[:, None], xpts[None, :])  # (T_w^* g) at the xi nodes
    TgC = (Tg * xw).reshape(mu_r.n_cells, nodes).sum(axis=1)  # int_c T_w^* g
    # int s D_c dx: D_c piecewise linear between breakpoints; split s's pieces at every breakpoint
    pts = np.unique(np.concatenate([s.edges, mu_r.breakpoints(), nu_r.breakpoints()]))
    mids = 0.5 * (pts[1:] + pts[:-1])
    sv = s(mids)
    cells = np.repeat(np.arange(mu_r.n_cells), pts.size)
    xx = np.tile(pts, mu_r.n_cells)
    Dr = (mu_r.cdf_at(cells, xx) - nu_r.cdf_at(cells, xx)).reshape(mu_r.n_cells, pts.size)
    Dl = (mu_r.cdf_at(cells, xx, left=True) - nu_r.cdf_at(cells, xx, left=True)).reshape(mu_r.n_cells, pts.size)
    SD = (0.5 * (Dr[:, :-1] + Dl[:, 1:]) * (np.diff(pts) * sv)[None, :]).sum(axis=1)
    return float(TgC @ SD)
