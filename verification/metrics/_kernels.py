"""Factorised cell integrals of a kernel, the one input the metrics need from ``w``.

With zeta cells ``Z_z`` (uniform, ``n_z`` of them, width ``h_z``) and the ``xi`` cells ``C_c`` of a
measure, every metric uses the cell-averaged kernel

    wbar[z, c] = (1 / h_z) int_{Z_z} int_{C_c} w(zeta, xi) dxi dzeta = sum_r U[r, z] V[r, c]

(``zeta`` is the first, postsynaptic argument of ``w``), in one of three exact or stated forms:

``separable`` (``ring``, ``skew``, ``product``)
    ``w(zeta, xi) = sum_r u_r(zeta) v_r(xi)`` with ``u_r, v_r`` in ``{1, t, cos 2 pi t, sin 2 pi t}``:
    ``U[r, z]`` and ``V[r, c]`` are closed-form cell means / integrals (product-to-sum forms without
    cancellation, relative error a few ulps).  Exact.  ``u_r'`` at the cell midpoints and
    ``sup |u_r''|`` give the second-order zeta-discretisation bound of :mod:`._weak`.
``step`` (a :class:`~solvers.graphons.StepKernel` with ``n_k`` cells)
    zeta cells are the kernel's cells, ``U[r, z] = values[z, r]``, ``V[r, c] = |C_c  cap  I_r|``
    (partition overlaps).  Exact; no zeta-discretisation error.
``quadrature`` (any other kernel)
    ``U`` is the identity, ``V[z, c]`` is a ``p x p`` Gauss-Legendre rule on each rectangle.  The
    rule is exact for constants and has positive weights, so its error on a rectangle of sides
    ``h_z x h_c`` is at most ``h_z h_c (L_1 h_z + L_2 h_c)`` for a kernel with Lipschitz constants
    ``(L_1, L_2)`` (first and second argument): certified when the kernel states them
    (``kernel.lipschitz``), else estimated from finite differences and labelled not certified.

A named kernel is recognised by its class and parameters and the factorisation is checked against
``kernel(zeta, xi)`` at 64 random points (a mismatch above ``1e-12`` falls back to quadrature).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from solvers import graphons
from solvers.errors import bad_argument
from solvers.graphons import Kernel, StepKernel

__all__ = ["Factorisation", "factorise", "basis_integrals"]

_TWO_PI = 2.0 * math.pi

# basis functions on [0, 1]: name -> (value, derivative, sup |second derivative|, sup |value|)
_BASIS = {
    "one": (lambda t: np.ones_like(t), lambda t: np.zeros_like(t), 0.0, 1.0),
    "t": (lambda t: t, lambda t: np.ones_like(t), 0.0, 1.0),
    "cos": (lambda t: np.cos(_TWO_PI * t), lambda t: -_TWO_PI * np.sin(_TWO_PI * t), _TWO_PI ** 2, 1.0),
    "sin": (lambda t: np.sin(_TWO_PI * t), lambda t: _TWO_PI * np.cos(_TWO_PI * t), _TWO_PI ** 2, 1.0),
}


def basis_integrals(name: str, edges: np.ndarray) -> np.ndarray:
    """``int_{e_c}^{e_{c+1}} b(t) dt`` for the basis function ``name`` (closed forms written as
    products, so a cell of width ``h`` has relative error a few ulps, not ``u / h``)."""
    a, b = edges[:-1], edges[1:]
    h = b - a
    if name == "one":
        return h
    if name == "t":
        return h * 0.5 * (a + b)
    s = np.sin(math.pi * h) / math.pi
    if name == "cos":  # sin(2 pi b) - sin(2 pi a) = 2 cos(pi (a + b)) sin(pi (b - a))
        return np.cos(math.pi * (a + b)) * s
    if name == "sin":  # cos(2 pi a) - cos(2 pi b) = 2 sin(pi (a + b)) sin(pi (b - a))
        return np.sin(math.pi * (a + b)) * s
    raise KeyError(name)  # pragma: no cover - internal


@dataclass(frozen=True)
class Factorisation:
    """``wbar[z, c] = sum_r U[r, z] V[r, c]`` for a kernel (module docstring).

    ``kind`` is ``"separable"``, ``"step"`` or ``"quadrature"``; ``terms`` lists the separable terms
    ``(coefficient, u name, v name)``; ``step_values`` the step kernel's values; ``lipschitz`` the
    constants used by the quadrature bounds and ``certified`` whether they are the kernel's own.
    """

    kind: str
    kernel: Kernel
    terms: tuple = ()
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
        return np.stack([c * basis_integrals(u, edges) * n_z for c, u, _ in self.terms])

    def zeta_derivatives(self, n_z: int) -> tuple[np.ndarray, np.ndarray]:
        """Separable only: ``u_r'`` at the zeta-cell midpoints ``(R, n_z)`` (coefficients included)
        and ``sup |u_r''|`` ``(R,)``."""
        mid = (np.arange(n_z) + 0.5) / n_z
        d1 = np.stack([c * _BASIS[u][1](mid) for c, u, _ in self.terms])
        d2 = np.array([abs(c) * _BASIS[u][2] for c, u, _ in self.terms])
        return d1, d2

    def zeta_derivative_sup(self) -> np.ndarray:
        """Separable only: ``sup |u_r'|`` on ``[0, 1]`` (coefficients included), shape ``(R,)``."""
        sup1 = {"one": 0.0, "t": 1.0, "cos": _TWO_PI, "sin": _TWO_PI}
        return np.array([abs(c) * sup1[u] for c, u, _ in self.terms])

    def max_zeros(self) -> int:
        """Separable only: the most zeros in ``(0, 1)`` of a non-zero function of ``span{u_r}``
        (Rolle: ``a + b t`` has 1; ``a + c cos + d sin`` 2 per period; ``a + b t + c cos + d sin`` has a
        derivative with 2 zeros per period, hence 3)."""
        names = {u for _, u, _ in self.terms} - {"one"}
        if not names:
            return 0
        trig = bool(names & {"cos", "sin"})
        return 3 if ("t" in names and trig) else (2 if trig else 1)

    # xi side -----------------------------------------------------------------------------------
    def xi_weights(self, xi_edges: np.ndarray, n_z: int):
        """``V`` of shape ``(R, n_c)`` for the cells ``xi_edges`` (dense, or sparse for step kernels)."""
        if self.kind == "separable":
            return np.stack([basis_integrals(v, xi_edges) for _, _, v in self.terms])
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
            return float(sum(abs(c) for c, _, _ in self.terms))
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


def _separable_terms(kernel: Kernel):
    """The separable form of a named kernel, or ``None`` (``w(zeta, xi)``: zeta first)."""
    if isinstance(kernel, graphons._RingKernel):  # J0 + J1 (cos cos + sin sin)
        J0, J1 = kernel.params["J0"], kernel.params["J1"]
        return ((J0, "one", "one"), (J1, "cos", "cos"), (J1, "sin", "sin"))
    if isinstance(kernel, graphons._ProductKernel):
        return ((2.0, "t", "t"),)
    if getattr(kernel, "func", None) is getattr(graphons, "_skew_func", object()):
        # 0.8 + 0.6 zeta - 0.4 xi + 0.5 (sin(2 pi zeta) cos(2 pi xi) - cos(2 pi zeta) sin(2 pi xi))
        return ((0.8, "one", "one"), (0.6, "t", "one"), (-0.4, "one", "t"),
                (0.5, "sin", "cos"), (-0.5, "cos", "sin"))
    return None


def _check_terms(kernel: Kernel, terms) -> bool:
    rng = np.random.default_rng(12345)
    z, x = rng.random(64), rng.random(64)
    ref = kernel(z, x)
    val = sum(c * _BASIS[u][0](z) * _BASIS[v][0](x) for c, u, v in terms)
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
    terms = _separable_terms(kernel)
    if terms is not None and _check_terms(kernel, terms):
        return Factorisation("separable", kernel, terms=terms)
    lip = getattr(kernel, "lipschitz", None)
    if lip is not None:
        return Factorisation("quadrature", kernel, lipschitz=(float(lip[0]), float(lip[1])), certified=True,
                             nodes=nodes)
    return Factorisation("quadrature", kernel, lipschitz=_estimate_lipschitz(kernel), certified=False, nodes=nodes)
