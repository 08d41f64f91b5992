"""The Hilbert companion ``d_{w,k}`` of the weak metric (kernel mean embedding, SPEC section 5).

    d_{w,k}(mu, nu)^2 = int int K_w(xi, xi') k(x, x') (mu - nu)(dxi, dx) (mu - nu)(dxi', dx'),
    K_w(xi, xi') = int_0^1 w(zeta, xi) w(zeta, xi') dzeta,

``k(x, x') = exp(-(x - x')^2 / (2 b^2))`` (``"gaussian"``) or ``exp(-|x - x'| / b)`` (``"laplace"``),
``b`` the bandwidth.  With the factorisation ``w(zeta, xi) = sum_r u_r(zeta) v_r(xi)`` of
:mod:`._kernels`, ``K_w = sum_{r r'} G_{r r'} v_r(xi) v_{r'}(xi')`` with the Gram matrix
``G = int u u^T dzeta`` (64-node Gauss-Legendre: exact to rounding for the named kernels' basis;
``values^T values / n_k`` for a step kernel).  Diagonalising ``G = Q diag(lambda) Q^T`` gives

    d^2 = sum_l ||tau_l||_k^2,   tau_l = sqrt(lambda_l) sum_r Q_{r l} sum_c V[r, c] (mu_c - nu_c),

signed ``x``-measures with the atoms and the piecewise-uniform continuous parts of both measures
(``V[r, c] = int_{C_c} v_r``, exact).  Kernels without a factorisation use Gauss-Legendre in
``zeta`` (``zeta_nodes``) and in each ``xi`` cell on the common refinement: stated as quadrature.

Exact path (``method="exact"``): the pairwise sums ``sum_{ij} tau_i tau_j I_ij`` over atoms and
segments, with closed forms of ``k`` integrated once or twice (``Phi`` and ``t Phi + phi`` for the
Gaussian, exponentials for the Laplace kernel); ``O(P^2)`` for ``P`` atoms and segments.  Exact up to
rounding (the segment formulas lose about ``u (b / L)^2`` relative for segments of length ``L``).

Binned path (``method="binned"``): each ``tau_l`` is projected onto the hat functions of a uniform
grid of spacing ``delta = b / bins_per_bandwidth`` -- exactly, through second differences of
``Psi(x) = int^x F_tau`` computed on the breakpoints -- and the quadratic form on the grid is one FFT
convolution.  The projection reproduces ``int f dtau`` for ``f`` linear between grid nodes, so
``|d^2_binned - d^2| <= sum_l ||P f - f||_inf TV(tau_l) ...`` which gives the stated a-priori bound
``(delta^2 / 4) sup|k''| sum_l TV(tau_l)^2`` (``sup|k''| = 1/b^2``, Gaussian) and ``(delta / b) sum_l
TV(tau_l)^2`` (Laplace, first order: ``k`` has a kink).  The bound is pessimistic (``TV`` is O(1)
while ``d^2`` is ``O(1/N)``); the reported ``error_estimate`` is the Richardson difference with the
grid ``2 delta`` (``|d2_delta - d2_{2delta}| / 3``, Gaussian; ``/ 1`` Laplace), and the tests and the
benchmark measure the actual error against the exact pairwise sum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.signal import fftconvolve
from scipy.special import ndtr

from solvers.graphons import Kernel
from solvers.measures import ExtendedMeasure, _segment_ids, common_refinement
from solvers.validation import check_choice, check_instance, check_int, check_positive

from ._cdf import interval_values
from ._kernels import factorise

__all__ = ["MMDValue", "kernel_mmd"]

_SQRT2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class MMDValue:
    """Result of :func:`kernel_mmd`.

    Attributes
    ----------
    value : float
        ``d_{w,k}`` (``sqrt(max(squared, 0))``).
    squared : float
        ``d_{w,k}^2`` as computed (may be a rounding-level negative number).
    method : str
        ``"exact"`` or ``"binned"``.
    k, bandwidth : str, float
    delta : float
        Grid spacing of the binned path (0 for exact).
    error_bound : float
        A-priori bound on ``|squared - d^2|`` from the binning (0 for exact; see the module docstring).
    error_estimate : float
        Richardson estimate of the binning error of ``squared`` (0 for exact).
    kernel_quadrature : bool
        True when ``K_w`` was approximated by quadrature (kernel without a factorisation).
    """

    value: float
    squared: float
    method: str
    k: str
    bandwidth: float
    delta: float
    error_bound: float
    error_estimate: float
    kernel_quadrature: bool


# ------------------------------------------------------------------------------------------ kernels k
def _k(kind: str, b: float, t: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (t / b) ** 2) if kind == "gaussian" else np.exp(-np.abs(t) / b)


def _k1(kind: str, b: float, t: np.ndarray) -> np.ndarray:
    if kind == "gaussian":
        return b * _SQRT2PI * ndtr(t / b)
    return np.sign(t) * b * (-np.expm1(-np.abs(t) / b))


def _k2(kind: str, b: float, t: np.ndarray) -> np.ndarray:
    if kind == "gaussian":
        u = t / b
        return b * _SQRT2PI * (t * ndtr(u) + b * np.exp(-0.5 * u * u) / _SQRT2PI)
    return b * np.abs(t) + b * b * np.exp(-np.abs(t) / b)


# ------------------------------------------------------------------------------------------ factors
def _factors(mu: ExtendedMeasure, nu: ExtendedMeasure, kernel: Kernel, zeta_nodes: int, nodes: int):
    """Weights ``T_mu`` (``L x n_c``), ``T_nu`` and whether ``K_w`` is a quadrature."""
    fac = factorise(kernel, nodes=nodes)
    if fac.kind == "separable":
        t, wq = np.polynomial.legendre.leggauss(64)
        t, wq = 0.5 * (t + 1.0), 0.5 * wq
        Uq = fac.zeta_values(t)
        G = (Uq * wq) @ Uq.T
        Vm, Vn = fac.xi_weights(mu.edges, 1), fac.xi_weights(nu.edges, 1)
        quad = False
    elif fac.kind == "step":
        vals = fac.step_values
        G = vals.T @ vals / vals.shape[0]
        Vm, Vn = fac.xi_weights(mu.edges, 1), fac.xi_weights(nu.edges, 1)
        quad = False
    else:
        mu, nu = common_refinement(mu, nu)
        t, wq = np.polynomial.legendre.leggauss(zeta_nodes)
        t, wq = 0.5 * (t + 1.0), 0.5 * wq
        q, qw = np.polynomial.legendre.leggauss(nodes)
        q, qw = 0.5 * (q + 1.0), 0.5 * qw
        a, h = mu.edges[:-1], mu.widths
        xp = (a[:, None] + h[:, None] * q[None, :]).ravel()
        Vm = (kernel(t[:, None], xp[None, :]).reshape(t.size, a.size, nodes) @ qw) * h[None, :]
        Vn = Vm
        G = np.diag(wq)
        quad = True
    lam, Q = np.linalg.eigh(0.5 * (G + G.T))
    keep = lam > 1e-14 * max(float(lam.max()), 1e-300)
    S = (Q[:, keep] * np.sqrt(lam[keep])[None, :]).T  # (L, R)

    def apply(V):
        return np.asarray((sp.csr_matrix(S) @ V).todense()) if sp.issparse(V) else S @ V

    return mu, nu, apply(Vm), apply(Vn), quad


def _items(m: ExtendedMeasure, T: np.ndarray, sign: float):
    """Atoms ``(x, weights)`` and segments ``(lo, hi, weights)`` of ``sign * sum_c T[:, c] m_c``."""
    ax = m.atom_x
    aw = (T[:, _segment_ids(m.atom_ptr)] * m.atom_m[None, :] * sign).T
    seg = _segment_ids(m.cont_ptr)
    same = seg[1:] == seg[:-1]
    lo, hi = m.cont_x[:-1][same], m.cont_x[1:][same]
    dG = np.diff(m.cont_F)[same]
    sw = (T[:, seg[:-1][same]] * dG[None, :] * sign).T
    live = dG != 0
    return ax, aw, lo[live], hi[live], sw[live]


def _exact(items, kind: str, b: float, block: int = 2048) -> float:
    ax, aw, lo, hi, sw = items
    L = hi - lo
    total = 0.0
    for i0 in range(0, ax.size, block):  # atoms against everything
        sl = slice(i0, i0 + block)
        xi = ax[sl, None]
        Iaa = _k(kind, b, xi - ax[None, :])
        total += float(np.sum((Iaa @ aw) * aw[sl]))
        if lo.size:
            Ias = (_k1(kind, b, xi - lo[None, :]) - _k1(kind, b, xi - hi[None, :])) / L[None, :]
            total += 2.0 * float(np.sum((Ias @ sw) * aw[sl]))
    for i0 in range(0, lo.size, block):  # segments against segments
        sl = slice(i0, i0 + block)
        a1, b1, L1 = lo[sl, None], hi[sl, None], L[sl, None]
        Iss = (_k2(kind, b, b1 - lo[None, :]) - _k2(kind, b, a1 - lo[None, :]) - _k2(kind, b, b1 - hi[None, :])
               + _k2(kind, b, a1 - hi[None, :])) / (L1 * L[None, :])
        total += float(np.sum((Iss @ sw) * sw[sl]))
    return total


def _binned(mu, nu, Tm, Tn, kind: str, b: float, delta: float) -> float:
    lo = min(mu.support[0], nu.support[0]) - 2 * delta
    hi = max(mu.support[1], nu.support[1]) + 2 * delta
    n = int(math.ceil((hi - lo) / delta)) + 1
    grid = lo + delta * np.arange(n)
    x = np.unique(np.concatenate([grid, mu.atom_x, mu.cont_x, nu.atom_x, nu.cont_x]))
    lm, rm, _ = interval_values(mu, Tm, x)
    ln, rn, _ = interval_values(nu, Tn, x)
    inc = 0.5 * np.diff(x)[:, None] * ((lm - ln) + (rm - rn))  # int F_tau over each interval
    Psi = np.concatenate([np.zeros((1, inc.shape[1])), np.cumsum(inc, axis=0)])
    Pg = Psi[np.searchsorted(x, grid)]
    m = np.zeros_like(Pg)
    m[1:-1] = (Pg[2:] - 2.0 * Pg[1:-1] + Pg[:-2]) / delta  # hat-function masses (exact projection)
    kv = _k(kind, b, delta * np.arange(-(n - 1), n))
    total = 0.0
    for l in range(m.shape[1]):  # sum_ij m_i m_j k((i - j) delta): one convolution per factor
        total += float(m[:, l] @ fftconvolve(m[:, l], kv, mode="valid"))
    return total


def kernel_mmd(mu: ExtendedMeasure, nu: ExtendedMeasure, kernel: Kernel, *, k: str = "gaussian",
               bandwidth: float, method: str = "auto", bins_per_bandwidth: int = 32, max_exact_items: int = 6000,
               zeta_nodes: int = 64, quadrature_nodes: int = 4) -> MMDValue:
    """The Hilbert companion ``d_{w,k}(mu, nu)`` (module docstring for the formulas and errors).

    Parameters
    ----------
    mu, nu : ExtendedMeasure
    kernel : solvers.graphons.Kernel
        ``w(zeta, xi)`` (``zeta`` postsynaptic, the first argument).
    k : {"gaussian", "laplace"}, keyword
        The ``x`` kernel.
    bandwidth : float, keyword
        ``b > 0`` (same units as ``x``).
    method : {"auto", "exact", "binned"}, keyword
        ``"auto"``: exact when the atoms and segments of both measures number at most
        ``max_exact_items``, binned otherwise.
    bins_per_bandwidth : int, keyword
        Grid resolution of the binned path, ``delta = b / bins_per_bandwidth``.
    zeta_nodes, quadrature_nodes : int, keyword
        Gauss-Legendre nodes in ``zeta`` and per ``xi`` cell for kernels without a factorisation.

    Returns
    -------
    MMDValue
    """
    check_instance("mu", mu, ExtendedMeasure, "build it with ExtendedMeasure.from_network or from_snapshot")
    check_instance("nu", nu, ExtendedMeasure, "build it with ExtendedMeasure.from_network or from_snapshot")
    check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.skew()")
    kind = check_choice("k", k, ("gaussian", "laplace"))
    b = check_positive("bandwidth", bandwidth, "pass e.g. bandwidth=0.1 (in units of x)")
    method = check_choice("method", method, ("auto", "exact", "binned"))
    bpb = check_int("bins_per_bandwidth", bins_per_bandwidth, 2)
    max_exact_items = check_int("max_exact_items", max_exact_items, 0)
    zeta_nodes = check_int("zeta_nodes", zeta_nodes, 1, maximum=512)
    quadrature_nodes = check_int("quadrature_nodes", quadrature_nodes, 1, maximum=16)
    mu2, nu2, Tm, Tn, quad = _factors(mu, nu, kernel, zeta_nodes, quadrature_nodes)
    im, inn = _items(mu2, Tm, 1.0), _items(nu2, Tn, -1.0)
    n_items = sum(a.size for a in (im[0], im[2], inn[0], inn[2]))
    if method == "auto":
        method = "exact" if n_items <= max_exact_items else "binned"
    if method == "exact":
        items = tuple(np.concatenate([p, q]) for p, q in zip(im, inn))
        d2 = _exact(items, kind, b)
        return MMDValue(math.sqrt(max(d2, 0.0)), d2, "exact", kind, b, 0.0, 0.0, 0.0, quad)
    delta = b / bpb
    d2 = _binned(mu2, nu2, Tm, Tn, kind, b, delta)
    d2c = _binned(mu2, nu2, Tm, Tn, kind, b, 2 * delta)
    tv = np.abs(Tm).sum(axis=1) + np.abs(Tn).sum(axis=1)
    if kind == "gaussian":
        bound = 0.25 * (delta / b) ** 2 * float(np.sum(tv * tv))
        est = abs(d2 - d2c) / 3.0
    else:
        bound = (delta / b) * float(np.sum(tv * tv))
        est = abs(d2 - d2c)
    return MMDValue(math.sqrt(max(d2, 0.0)), d2, "binned", kind, b, delta, bound, est, quad)
