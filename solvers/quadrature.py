"""Quadrature rules and partitions of ``[0, 1]``: the one home of the Gauss-Legendre rules, of the
cell averages of a kernel and of the overlaps of two partitions (used by :mod:`solvers.graphons`
and :mod:`verification.graphs`; nothing else builds these by hand).

Partitions.  A partition of ``[0, 1]`` is given either as an ``int n`` -- the uniform partition
into the cells ``I_a = (a/n, (a+1)/n]``, ``a = 0..n-1``, whose edges are the floats ``a / n``
(``np.arange(n + 1) / n``, correctly rounded) -- or as an increasing 1-D array of edges
``0 = e_0 < e_1 < ... < e_n = 1``.

Rules (``k`` = ``order`` nodes per cell, ``h`` = a cell's width):

* :func:`gauss_legendre` -- the ``k``-point Gauss-Legendre rule on ``[a, b]``: positive weights
  summing to ``b - a``, exact for polynomials of degree ``<= 2k - 1``; for ``f`` in ``C^{2k}`` the
  error is ``(b-a)^{2k+1} (k!)^4 / ((2k+1) ((2k)!)^3) f^{(2k)}(eta)`` (Abramowitz-Stegun 25.4.30).
* :func:`composite_gauss_legendre` -- that rule on every cell of a partition: error
  ``O(h^{2k})`` for ``f`` in ``C^{2k}`` on each cell, exact for functions that are polynomials of
  degree ``<= 2k - 1`` on each cell (in particular for step functions on the partition).
* :func:`cell_averages` -- ``n^2 int_{I_a x I_b} w`` on the uniform ``n x n`` grid by the tensor
  product of the ``k``-point rule on each cell: error ``O(n^{-2k})`` for ``w`` in ``C^{2k}``
  (``O(n^-8)`` for the default ``k = 4``).
* :func:`common_refinement` and :func:`overlap_matrix` -- the pieces ``I^p_a cap I^q_b`` of two
  partitions and the matrix of their lengths ``P[a, b] = |I^p_a cap I^q_b|`` (rows sum to the
  widths of ``p``, columns to the widths of ``q``).  Computed from the float edges themselves, so
  two edges that are equal as rationals (``1/3`` and ``2/6``) coincide and leave no sliver.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.validation import check_int, check_interval, check_vector

__all__ = [
    "gauss_legendre",
    "partition_edges",
    "composite_gauss_legendre",
    "cell_averages",
    "common_refinement",
    "overlap_matrix",
]

_BLOCK_ELEMENTS = 1 << 22  # kernel evaluations per block of cell_averages (32 MB of float64)


@functools.lru_cache(maxsize=64)
def _legendre_01(order: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(order)
    u, wu = 0.5 * (x + 1.0), 0.5 * w
    u.setflags(write=False)
    wu.setflags(write=False)
    return u, wu


def gauss_legendre(order: int, interval: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``order``-point Gauss-Legendre rule on ``interval = (a, b)``.

    Parameters
    ----------
    order : int
        Number of nodes ``k >= 1``; the rule is exact for polynomials of degree ``<= 2k - 1``.
    interval : (float, float)
        ``(a, b)`` with ``a < b`` (default ``(0, 1)``).

    Returns
    -------
    nodes, weights : ndarray, shape (order,)
        Increasing nodes in ``(a, b)``; positive weights summing to ``b - a``.
    """
    order = check_int("order", order, 1, "pass e.g. order=4")
    a, b = check_interval("interval", interval, "pass interval=(a, b) with a < b, e.g. (0.0, 1.0)")
    u, wu = _legendre_01(order)
    return a + (b - a) * u, (b - a) * wu


def partition_edges(partition: Any, name: str = "partition") -> np.ndarray:
    """The edges ``0 = e_0 < ... < e_n = 1`` of a partition of ``[0, 1]`` (see the module docstring).

    Parameters
    ----------
    partition : int or array_like
        ``n`` (uniform cells, edges ``np.arange(n + 1) / n``) or the edges themselves.

    Returns
    -------
    ndarray, shape (n + 1,)
    """
    if isinstance(partition, (int, np.integer)) and not isinstance(partition, (bool, np.bool_)):
        n = check_int(name, partition, 1, f"pass {name}=n >= 1 (uniform cells) or an array of edges")
        return np.arange(n + 1) / n
    fix = f"pass {name}=n (uniform cells) or increasing edges from 0 to 1, e.g. [0, 0.25, 1]"
    e = check_vector(name, partition, fix=fix, what="edges")
    if e.size < 2 or e[0] != 0.0 or e[-1] != 1.0 or np.any(np.diff(e) <= 0):
        raise bad_argument(name, partition, "must be an int >= 1 or strictly increasing edges from 0 to 1", fix)
    return e


def composite_gauss_legendre(partition: Any, order: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``order``-point Gauss-Legendre rule on every cell of a partition of ``[0, 1]``.

    Parameters
    ----------
    partition : int or array_like
        ``n`` uniform cells or the edges (see :func:`partition_edges`).
    order : int
        Nodes per cell.

    Returns
    -------
    nodes, weights : ndarray, shape (n * order,)
        Cell by cell (``nodes.reshape(n, order)[a]`` are the nodes of cell ``a``); the weights of
        a cell sum to its width, all weights to 1.
    """
    e = partition_edges(partition)
    order = check_int("order", order, 1, "pass e.g. order=4")
    u, wu = _legendre_01(order)
    if isinstance(partition, (int, np.integer)):
        n = e.size - 1  # uniform: (a + u) / n, the same floats as a / n + u / n up to one rounding
        return ((np.arange(n)[:, None] + u[None, :]) / n).ravel(), np.tile(wu, n) / n
    h = np.diff(e)
    return (e[:-1, None] + h[:, None] * u[None, :]).ravel(), (h[:, None] * wu[None, :]).ravel()


def cell_averages(func: Callable, n: int, *, order: int = 4) -> np.ndarray:
    """``n^2 int_{I_a x I_b} func(xi, zeta)`` on the uniform ``n x n`` grid (tensor Gauss-Legendre).

    Parameters
    ----------
    func : callable
        Vectorised ``func(xi, zeta)`` broadcasting arrays of shapes ``(p, 1)`` and ``(1, q)``.
    n : int
        Cells per side.
    order : int, keyword-only
        Gauss-Legendre nodes per cell and direction (``order^2`` evaluations per cell); error
        ``O(n^{-2 order})`` for ``func`` in ``C^{2 order}``, exact for polynomials of degree
        ``<= 2 order - 1`` in each variable on each cell.

    Returns
    -------
    ndarray, shape (n, n)
        Entry ``[a, b]`` is the quadrature of the mean of ``func`` over ``I_a x I_b``: a convex
        combination of values of ``func`` (positive weights summing to 1).  Evaluated in row blocks
        of at most ``2^22`` values.
    """
    if not callable(func):
        raise bad_argument("func", func, "must be callable", "pass a vectorised function (xi, zeta) -> w")
    n = check_int("n", n, 1, "pass e.g. n=64")
    order = check_int("order", order, 1, "pass e.g. order=4")
    x, _ = composite_gauss_legendre(n, order)
    _, wu = _legendre_01(order)
    out = np.empty((n, n))
    rows = max(1, _BLOCK_ELEMENTS // (n * order * order))
    for a0 in range(0, n, rows):
        a1 = min(n, a0 + rows)
        vals = np.asarray(func(x[a0 * order:a1 * order, None], x[None, :]), dtype=float)
        vals = np.broadcast_to(vals, ((a1 - a0) * order, n * order)).reshape(a1 - a0, order, n, order)
        out[a0:a1] = np.einsum("iajb,a,b->ij", vals, wu, wu)
    return out


def common_refinement(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-empty pieces ``I^p_a cap I^q_b`` of two partitions of ``[0, 1]``, left to right.

    Parameters
    ----------
    p, q : int or array_like
        Partitions (see :func:`partition_edges`).

    Returns
    -------
    index_p, index_q : ndarray of int, shape (K,)
        The cell of ``p`` and of ``q`` holding each piece (``K <= n_p + n_q - 1``).
    lengths : ndarray, shape (K,)
        The pieces' lengths (positive; they sum to 1 up to rounding).
    """
    ep, eq = partition_edges(p, "p"), partition_edges(q, "q")
    e = np.union1d(ep, eq)
    mid = 0.5 * (e[:-1] + e[1:])
    ip = np.clip(np.searchsorted(ep, mid, side="right") - 1, 0, ep.size - 2)
    iq = np.clip(np.searchsorted(eq, mid, side="right") - 1, 0, eq.size - 2)
    return ip, iq, np.diff(e)


def overlap_matrix(p: Any, q: Any) -> np.ndarray:
    """``P[a, b] = |I^p_a cap I^q_b|`` for two partitions of ``[0, 1]`` (dense ``n_p x n_q``).

    Rows sum to the widths of the cells of ``p``, columns to those of ``q``; for uniform partitions
    ``(n_p P) V (n_p P)^T`` is the exact cell average on ``n_p`` cells of the step kernel with values
    ``V`` on ``n_q`` cells.
    """
    ip, iq, lengths = common_refinement(p, q)
    P = np.zeros((partition_edges(p, "p").size - 1, partition_edges(q, "q").size - 1))
    P[ip, iq] = lengths  # each pair (a, b) is one piece at most
    return P
