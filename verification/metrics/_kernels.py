"""Factorised cell integrals of a kernel, the one input the metrics need from ``w``.

With zeta cells ``Z_z`` (uniform, ``n_z`` of them, width ``h_z``) and the ``xi`` cells ``C_c`` of a
measure, every metric uses the cell-averaged kernel

    wbar[z, c] = (1 / h_z) int_{Z_z} int_{C_c} w(zeta, xi) dxi dzeta = sum_r U[r, z] V[r, c]

(``zeta`` is the first, postsynaptic argument of ``w``), in one of three exact or stated forms:

``separable`` (a kernel whose :meth:`~solvers.graphons.Kernel.separable_terms` has smooth factors:
``ring``, ``skew``, ``product``)
    ``w(zeta, xi) = sum_r c_r u_r(zeta) v_r(xi)``: ``U[r, z] = c_r`` times the cell mean of ``u_r``
    and ``V[r, c] = int_{C_c} v_r``, the closed-form cell integrals of the factors
    (:meth:`solvers.graphons.BasisFunction.integrals`, relative error a few ulps).  Exact.  ``u_r'``
    at the cell midpoints and ``sup |u_r''|`` (stated by the factors) give the second-order
    zeta-discretisation bound of :mod:`._weak`.
``step`` (a :class:`~solvers.graphons.StepKernel` with ``n_k`` cells)
    zeta cells are the kernel's cells, ``U[r, z] = values[z, r]``, ``V[r, c] = |C_c  cap  I_r|``
    (partition overlaps).  Exact; no zeta-discretisation error.
``quadrature`` (any other kernel)
    ``U`` is the identity, ``V[z, c]`` is a ``p x p`` Gauss-Legendre rule on each rectangle.  The
    rule is exact for constants and has positive weights, so its error on a rectangle of sides
    ``h_z x h_c`` is at most ``h_z h_c (L_1 h_z + L_2 h_c)`` for a kernel with Lipschitz constants
    ``(L_1, L_2)`` (first and second argument): certified when the kernel states them
    (``kernel.lipschitz``), else estimated from finite differences and labelled not certified.

The kernel is asked for its form (nothing here recognises a kernel by its class or function); the
form is checked against ``kernel(zeta, xi)`` at 64 random points (a mismatch above ``1e-12`` falls
back to quadrature, with a warning).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from solvers.errors import bad_argument
from solvers.graphons import Kernel, SeparableTerms, StepKernel

__all__ = ["Factorisation", "factorise"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Factorisation:
    """``wbar[z, c] = sum_r U[r, z] V[r, c]`` for a kernel (module docstring).

    ``kind`` is ``"separable"``, ``"step"`` or ``"quadrature"``; ``terms`` the kernel's
    :class:`~solvers.graphons.SeparableTerms` (``first`` = ``u_r`` of ``zeta``, ``second`` = ``v_r``
    of ``xi``); ``step_values`` the step kernel's values; ``lipschitz`` the constants used by the
    quadrature bounds and ``certified`` whether they are the kernel's own.
    """

    kind: str
    kernel: Kernel
    terms: SeparableTerms | None = None
    step_values: np.ndarray | None = field(default=None, repr=False)
    lipschitz: tuple[float, float] | None = None
    certified: bool = True
    nodes: int = 3

    @property
    def exact(self) -> bool:
        return self.kind in ("separable", "step")

    def default_zeta_cells(self) -> int:
        return {"separable": 512, "step": 0, "quadrature": 128}[self.kind]

    def n_rows(self, n_z: int) -> int:
        if self.kind == "separable":
            return len(self.terms)
        if self.kind == "step":
            return self.step_values.shape[0]
        return n_z

    # zeta side -------------------------------------------------------------------------------
    def zeta_factor(self, n_z: int) -> np.ndarray | None:
        """``U`` of shape ``(R, n_z)`` (cell means of ``u_r``); ``None`` means the identity."""
        if self.kind == "quadrature":
            return None
        edges = np.arange(n_z + 1) / n_z
        if self.kind == "step":
            return np.ascontiguousarray(self.step_values.T)  # U[r, z] = values[z, r]
        return np.stack([t.coefficient * t.first.integrals(edges) * n_z for t in self.terms])

    def zeta_values(self, zeta: np.ndarray) -> np.ndarray:
        """Separable only: ``c_r u_r(zeta)``, shape ``(R, len(zeta))``."""
        return self.terms.first_factors(zeta)

    def zeta_derivatives(self, n_z: int) -> tuple[np.ndarray, np.ndarray]:
        """Separable only: ``u_r'`` at the zeta-cell midpoints ``(R, n_z)`` (coefficients included)
        and ``sup |u_r''|`` ``(R,)``."""
        mid = (np.arange(n_z) + 0.5) / n_z
        d1 = np.stack([t.coefficient * t.first.derivative(mid) for t in self.terms])
        d2 = np.array([abs(t.coefficient) * t.first.sup_second_derivative for t in self.terms])
        return d1, d2

    def zeta_derivative_sup(self) -> np.ndarray:
        """Separable only: ``sup |u_r'|`` on ``[0, 1]`` (coefficients included), shape ``(R,)``."""
        return np.array([abs(t.coefficient) * t.first.sup_derivative for t in self.terms])

    def max_zeros(self) -> int:
        """Separable only: the most zeros in ``(0, 1)`` of a non-zero function of ``span{u_r}``
        (Rolle: ``a + b t`` has 1; ``a + c cos + d sin`` 2 per period; ``a + b t + c cos + d sin`` has a
        derivative with 2 zeros per period, hence 3)."""
        names = {t.first.kind for t in self.terms} - {"one"}
        if not names:
            return 0
        trig = bool(names & {"cos", "sin"})
        return 3 if ("t" in names and trig) else (2 if trig else 1)

    # xi side -----------------------------------------------------------------------------------
    def xi_weights(self, xi_edges: np.ndarray, n_z: int):
        """``V`` of shape ``(R, n_c)`` for the cells ``xi_edges`` (dense, or sparse for step kernels)."""
        if self.kind == "separable":
            return np.stack([t.second.integrals(xi_edges) for t in self.terms])
        if self.kind == "step":
            return _overlaps(self.step_values.shape[0], xi_edges).T.tocsr()
        return _quadrature_weights(self.kernel, n_z, xi_edges, self.nodes)

    def quadrature_error(self, n_z: int, xi_edges: np.ndarray) -> np.ndarray:
        """Bound on ``|V[z, c] - wbar[z, c]|`` summed over ``z`` and weighted by ``h_z``, per xi cell
        ``(n_c,)``: ``h_c (L_1 h_z + L_2 h_c)`` (0 for exact forms)."""
        h = np.diff(xi_edges)
        if self.exact:
            return np.zeros(h.size)
        L1, L2 = self.lipschitz
        return h * (L1 / n_z + L2 * h)

    def sup_abs(self) -> float:
        """A bound on ``sup |w|`` (for rounding margins)."""
        if self.kind == "separable":
            return self.terms.sup_bound
        if self.kind == "step":
            return float(np.max(np.abs(self.step_values)))
        return float(self.kernel.sup)


def _overlaps(n_k: int, xi_edges: np.ndarray) -> sp.csr_matrix:
    """``P[c, b] = |C_c  cap  I_b|`` for the kernel's uniform cells ``I_b`` (sparse, ``(n_c, n_k)``)."""
    kedges = np.arange(n_k + 1) / n_k
    a, b = xi_edges[:-1], xi_edges[1:]
    lo = np.clip(np.searchsorted(kedges, a, side="right") - 1, 0, n_k - 1)
    hi = np.clip(np.searchsorted(kedges, b, side="left") - 1, 0, n_k - 1)
    span = hi - lo + 1
    rows = np.repeat(np.arange(a.size), span)
    cols = np.repeat(lo, span) + (np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span))
    val = np.minimum(b[rows], kedges[cols + 1]) - np.maximum(a[rows], kedges[cols])
    keep = val > 0
    return sp.csr_matrix((val[keep], (rows[keep], cols[keep])), shape=(a.size, n_k))


def _quadrature_weights(kernel: Kernel, n_z: int, xi_edges: np.ndarray, p: int, block: int = 2048) -> np.ndarray:
    q, wq = np.polynomial.legendre.leggauss(p)
    q, wq = 0.5 * (q + 1.0), 0.5 * wq
    zpts = ((np.arange(n_z)[:, None] + q[None, :]) / n_z).ravel()  # (n_z p,)
    a, h = xi_edges[:-1], np.diff(xi_edges)
    n_c = a.size
    out = np.empty((n_z, n_c))
    for c0 in range(0, n_c, block):
        c1 = min(n_c, c0 + block)
        xpts = (a[c0:c1, None] + h[c0:c1, None] * q[None, :]).ravel()
        vals = kernel(zpts[:, None], xpts[None, :]).reshape(n_z, p, c1 - c0, p)
        out[:, c0:c1] = np.einsum("zacb,a,b->zc", vals, wq, wq) * h[None, c0:c1]
    return out


def _check_terms(kernel: Kernel, terms: SeparableTerms) -> bool:
    """The stated form agrees with ``kernel(zeta, xi)`` at 64 random points (to ``1e-12``)."""
    rng = np.random.default_rng(12345)
    z, x = rng.random(64), rng.random(64)
    ref = kernel(z, x)
    val = terms(z, x)
    return bool(np.max(np.abs(ref - val)) <= 1e-12 * max(1.0, float(np.max(np.abs(ref)))))


def _estimate_lipschitz(kernel: Kernel, n: int = 257) -> tuple[float, float]:
    g = np.linspace(0.0, 1.0, n)
    vals = kernel(g[:, None], g[None, :])
    d1 = np.max(np.abs(np.diff(vals, axis=0))) * (n - 1)
    d2 = np.max(np.abs(np.diff(vals, axis=1))) * (n - 1)
    return 1.25 * float(d1), 1.25 * float(d2)


def factorise(kernel: Kernel, *, nodes: int = 3) -> Factorisation:
    """The factorisation of ``kernel`` used by every metric (module docstring)."""
    if not isinstance(kernel, Kernel):
        raise bad_argument("kernel", kernel, "must be a solvers.graphons.Kernel",
                           "pass e.g. solvers.graphons.skew() or graphons.step_kernel(W)")
    if isinstance(kernel, StepKernel):
        return Factorisation("step", kernel, step_values=np.asarray(kernel.values, dtype=float))
    terms = kernel.separable_terms()
    if terms is not None and terms.is_smooth:
        if _check_terms(kernel, terms):
            return Factorisation("separable", kernel, terms=terms)
        logger.warning("kernel %r: its separable form disagrees with its values; using quadrature", kernel)
    lip = getattr(kernel, "lipschitz", None)
    if lip is not None:
        return Factorisation("quadrature", kernel, lipschitz=(float(lip[0]), float(lip[1])), certified=True,
                             nodes=nodes)
    return Factorisation("quadrature", kernel, lipschitz=_estimate_lipschitz(kernel), certified=False, nodes=nodes)
