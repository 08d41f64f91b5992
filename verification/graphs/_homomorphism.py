"""Homomorphism densities ``t(F, W)`` and the certified lower bound they give on the cut distance.

Convention (SPEC section 2): ``w(xi, zeta)`` is the weight of the edge ``zeta -> xi`` (``xi``
postsynaptic, ``zeta`` presynaptic); for a matrix, ``U_ij`` is the edge ``j -> i``.  The graphs ``F``:

=======================  =====  =========================================================================
name                     e(F)   density
=======================  =====  =========================================================================
``edge``                 1      ``int w(a, b)``
``2-path-out``           2      out-star (one source ``c`` feeds ``a`` and ``b``): ``int w(a, c) w(b, c)``
``2-path-in``            2      in-star (``a`` and ``b`` feed one target ``c``): ``int w(c, a) w(c, b)``
``2-path-mixed``         2      directed path ``a -> b -> c``: ``int w(b, a) w(c, b)``
``triangle``             3      directed 3-cycle ``a -> b -> c -> a``: ``int w(b, a) w(c, b) w(a, c)``
``triangle-undirected``  3      triangle in the symmetrised kernel ``(w + w^T) / 2``
``4-cycle``              4      directed 4-cycle
``4-cycle-undirected``   4      4-cycle in the symmetrised kernel
=======================  =====  =========================================================================

For a symmetric kernel the directed and undirected versions coincide.

Matrices are the values of step kernels (as in :mod:`verification.graphs._norms`): ``t(F, U)`` is
``sum U...`` over all vertex maps divided by ``n^{v(F)}``, diagonal entries included (maps need not be
injective): that is exactly the density of the step kernel, e.g. ``t(triangle, U) = trace(U^3) / n^3``.
For the weights of a network pass ``N W`` (:func:`solvers.graphons.step_values`).  Continuous
kernels are integrated by composite Gauss-Legendre quadrature
(:func:`solvers.quadrature.composite_gauss_legendre`: ``panels`` equal panels of ``order`` nodes,
16 x 4 = 64 nodes by default);
a :class:`~solvers.graphons.StepKernel` uses its values (exact).  The quadrature error is estimated
by repeating with twice the panels and is reported and subtracted from the difference of densities.

Counting lemma (SPEC section 6): for kernels ``U``, ``W`` with ``|U|, |W| <= M``, replacing the
edges of ``F`` one at a time gives ``|t(F,U) - t(F,W)| <= c_F delta_box(U, W)`` with

* ``c_F = 1`` for the edge (``|int (U - W)| <= ||U - W||_box``);
* ``c_F = e(F) M^{e(F)-1}`` when both kernels are non-negative (each term is
  ``int (U - W)(x, y) f(x) g(y) h`` with ``f, g`` in ``[0, M^k]``);
* ``c_F = 4 e(F) M^{e(F)-1}`` for signed kernels (``f, g`` signed: the cut norm bounds the
  ``[0,1]``-test functions, ``[-1,1]`` ones cost a factor 4).

The densities are invariant under measure-preserving relabelling and so is the bound; symmetrising
does not increase the cut distance.  Hence ``delta_box(U, W) >= max_F |t(F,U) - t(F,W)| / c_F``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.graphons import Kernel, StepKernel
from solvers.quadrature import composite_gauss_legendre
from solvers.validation import check_bool, check_choice

from ._norms import _as_matrix, _check_int

__all__ = ["GRAPHS", "EDGE_COUNTS", "hom_density", "hom_densities", "DensityBound", "cut_distance_lower_bound"]

EDGE_COUNTS: dict[str, int] = {
    "edge": 1,
    "2-path-out": 2,
    "2-path-in": 2,
    "2-path-mixed": 2,
    "triangle": 3,
    "triangle-undirected": 3,
    "4-cycle": 4,
    "4-cycle-undirected": 4,
}
GRAPHS: tuple[str, ...] = tuple(EDGE_COUNTS)


def _check_graph(F: str, name: str = "F") -> str:
    return check_choice(name, F, GRAPHS, f"unknown graph: use one of {list(GRAPHS)}")


def _check_graphs(graphs: Sequence[str]) -> list[str]:
    if isinstance(graphs, str):
        raise bad_argument("graphs", graphs, "must be a sequence of graph names", f"pass graphs=[{graphs!r}]")
    try:
        items = list(graphs)
    except TypeError:
        raise bad_argument("graphs", graphs, "must be a sequence of graph names",
                           f"pass a list of names from {list(GRAPHS)}") from None
    return [_check_graph(F, f"graphs[{k}]") for k, F in enumerate(items)]


def _densities_from(K: np.ndarray, w: np.ndarray, graphs: Sequence[str]) -> dict[str, float]:
    """Densities of the kernel sampled as ``K[a, b] = w(x_a, x_b)`` with quadrature weights ``w``."""
    out: dict[str, float] = {}
    r = K @ w  # r[a] = int w(x_a, zeta) dzeta   (what a receives)
    c = K.T @ w  # c[b] = int w(xi, x_b) dxi     (what b sends)
    sq = np.sqrt(w)
    need_dir = any(F in graphs for F in ("triangle", "4-cycle"))
    need_sym = any(F in graphs for F in ("triangle-undirected", "4-cycle-undirected"))
    if need_dir:
        Mk = sq[:, None] * K * sq[None, :]
        M2 = Mk @ Mk
    if need_sym:
        Sk = 0.5 * (K + K.T)
        Sk = sq[:, None] * Sk * sq[None, :]
        S2 = Sk @ Sk
    for F in graphs:
        if F == "edge":
            v = float(w @ r)
        elif F == "2-path-out":
            v = float(w @ (c * c))
        elif F == "2-path-in":
            v = float(w @ (r * r))
        elif F == "2-path-mixed":
            v = float(w @ (r * c))
        elif F == "triangle":
            v = float(np.sum(M2 * Mk.T))
        elif F == "4-cycle":
            v = float(np.sum(M2 * M2.T))
        elif F == "triangle-undirected":
            v = float(np.sum(S2 * Sk))
        elif F == "4-cycle-undirected":
            v = float(np.sum(S2 * S2))
        else:  # pragma: no cover - the callers check F against GRAPHS: reaching this is a bug of ifmf
            raise RuntimeError(f"internal error: graph {F!r} passed the check but has no density formula")
        out[F] = v
    return out


def _sampled(W: Any, panels: int, order: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(K, weights, exact?) for a matrix, StepKernel or Kernel."""
    if isinstance(W, Kernel) and not isinstance(W, StepKernel):
        x, w = composite_gauss_legendre(panels, order)
        K = np.asarray(W(x[:, None], x[None, :]), dtype=float)
        if not np.all(np.isfinite(K)):
            raise bad_argument("W", W, "kernel values must be finite on the quadrature nodes", "check the kernel")
        return K, w, False
    A = _as_matrix(W, "W", square=True)
    n = A.shape[0]
    return A, np.full(n, 1.0 / n), True


def hom_densities(W, *, graphs: Sequence[str] = GRAPHS, panels: int = 16, order: int = 4) -> dict[str, float]:
    """Densities ``t(F, W)`` for every ``F`` in ``graphs`` (see the module docstring).

    Parameters
    ----------
    W : array_like (n, n), StepKernel or Kernel
        A square matrix (values of a step kernel; pass ``N W`` for network weights), a step kernel
        (exact), or a kernel (composite Gauss-Legendre quadrature).
    graphs : sequence of str, keyword-only
        Names from :data:`GRAPHS`.
    panels, order : int, keyword-only
        Quadrature for continuous kernels: ``panels`` equal panels of ``order`` nodes.  A kernel that
        is constant on each panel (a step kernel whose cells are unions of panels) is integrated
        exactly.

    Returns
    -------
    dict
        ``{F: t(F, W)}``.
    """
    graphs = _check_graphs(graphs)
    panels = _check_int("panels", panels, 1)
    order = _check_int("order", order, 1)
    K, w, _ = _sampled(W, panels, order)
    return _densities_from(K, w, graphs)


def hom_density(F: str, W, *, panels: int = 16, order: int = 4) -> float:
    """``t(F, W)`` for one graph ``F`` (see :func:`hom_densities`)."""
    return hom_densities(W, graphs=[_check_graph(F)], panels=panels, order=order)[F]


def _sup_and_sign(W: Any, K: np.ndarray) -> tuple[float, bool]:
    if isinstance(W, Kernel) and not isinstance(W, StepKernel):
        # non-negativity of a continuous kernel: checked on the quadrature nodes and a 257 x 257 grid
        # (an assumption for kernels that dip below 0 between them: pass signed=True then)
        g = np.linspace(0.0, 1.0, 257)
        nonneg = bool(np.min(K) >= 0 and np.min(W(g[:, None], g[None, :])) >= 0)
        return float(W.sup), nonneg
    return float(np.max(np.abs(K))), bool(np.min(K) >= 0)


@dataclass(frozen=True)
class DensityBound:
    """Certified lower bound on ``delta_box(U, W)`` from homomorphism densities.

    Attributes
    ----------
    value : float
        ``max_F (|t(F,U) - t(F,W)| - quadrature error) / c_F`` (at least 0).
    graph : str or None
        The ``F`` attaining it (None when every difference is within the quadrature error).
    table : Mapping[str, dict]
        Per graph: ``t_U``, ``t_W``, ``c_F``, ``quadrature_error``, ``bound``.
    M : float
        ``max(sup |U|, sup |W|)`` used in ``c_F``; ``nonnegative`` whether both kernels are >= 0.
    """

    value: float
    graph: str | None
    table: Mapping[str, Mapping[str, float]] = field(repr=False)
    M: float
    nonnegative: bool


def _densities_with_error(W, graphs, panels, order):
    K, w, exact = _sampled(W, panels, order)
    t = _densities_from(K, w, graphs)
    if exact:
        err = {F: 0.0 for F in graphs}
    else:
        K2, w2, _ = _sampled(W, 2 * panels, order)
        t2 = _densities_from(K2, w2, graphs)
        err = {F: 2.0 * abs(t2[F] - t[F]) for F in graphs}  # stated estimate: twice the observed change
        t = t2
    sup, nonneg = _sup_and_sign(W, K)
    return t, err, sup, nonneg


def cut_distance_lower_bound(U, W, *, graphs: Sequence[str] = GRAPHS, panels: int = 16,
                             order: int = 4, signed: bool | None = None) -> DensityBound:
    """Lower bound on ``delta_box(U, W) = inf_sigma ||U - W^sigma||_box`` from homomorphism densities.

    Parameters
    ----------
    U, W : array_like (n, n), StepKernel or Kernel
        Matrices are step-kernel values (pass ``N W`` for network weights); sizes may differ.
    graphs : sequence of str
        Graphs ``F`` to use (default: all of :data:`GRAPHS`).
    panels, order : int
        Quadrature for continuous kernels (see :func:`hom_densities`); the error estimate (twice the
        change when the panels are doubled) is subtracted.
    signed : bool or None
        Use the signed constant ``4 e(F) M^{e(F)-1}`` (True) or the non-negative one (False; only
        valid when both kernels are >= 0).  None (default): non-negative when the values say so
        (matrices and step kernels: exactly; continuous kernels: on the nodes and a 257 x 257 grid).

    Returns
    -------
    DensityBound
    """
    graphs = _check_graphs(graphs)
    panels = _check_int("panels", panels, 1)
    order = _check_int("order", order, 1)
    signed = None if signed is None else check_bool("signed", signed)
    tU, eU, sU, nU = _densities_with_error(U, graphs, panels, order)
    tW, eW, sW, nW = _densities_with_error(W, graphs, panels, order)
    M = max(sU, sW)
    nonneg = nU and nW
    if signed is not None:
        if not signed and not nonneg:
            raise bad_argument("signed", signed, "a kernel takes negative values",
                               "use signed=True or None")
        nonneg = not signed
    table: dict[str, dict[str, float]] = {}
    best, best_F = 0.0, None
    for F in graphs:
        e = EDGE_COUNTS[F]
        c = 1.0 if e == 1 else (1.0 if nonneg else 4.0) * e * M ** (e - 1)
        qerr = eU[F] + eW[F]
        diff = abs(tU[F] - tW[F])
        # rounding of the sums (at most a few ulps of the sum of |terms| <= M^e) is far below qerr
        rnd = 64 * 2.0 ** -53 * M ** e * max(1, e)
        b = max(0.0, diff - qerr - rnd) / c if c > 0 else 0.0
        table[F] = {"t_U": tU[F], "t_W": tW[F], "c_F": c, "quadrature_error": qerr, "bound": b}
        if b > best:
            best, best_F = b, F
    return DensityBound(value=best, graph=best_F, table=table, M=M, nonnegative=nonneg)
