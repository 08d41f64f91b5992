"""Shared pieces of the mean-field solvers: coupling matrix, time grid, snapshots, solution object.

Quadrature in ``xi`` (stated once for every scheme): nodes ``xi_k = (k + 1/2)/n_xi``; the input is
``h_k = (1/n_xi) sum_j K_kj r_j`` with ``K = kernel.matrix(n_xi, "cell-average")`` for step kernels
(exact block values: the quadrature is exact when the blocks align with the grid and ``r`` is
constant on them) and ``K = kernel.matrix(n_xi, "midpoint")`` otherwise (midpoint rule, error
``O(n_xi^-2)`` for kernels and rates that are smooth in ``xi``).  One matrix-vector product per stage.

Time grid: ``n_steps = ceil(t_end / dt)`` equal steps of ``t_end / n_steps`` (the requested ``dt`` is
shrunk by less than one step so that ``t_end`` is a grid point).  Rates, inputs, masses, means and
second moments are stored at every grid time; between grid times :meth:`MeanFieldSolution.rate` and
the other time series interpolate linearly (error ``dt^2 max|r''| / 8``, the same order as the
Lagrangian scheme).  Slice laws are stored at ``save_times`` (each snapped to the nearest grid time,
the snapped time is what :attr:`MeanFieldSolution.save_times` reports).
"""
from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.graphons import Kernel, StepKernel, coupling_matrix  # noqa: F401 (re-export)

__all__ = ["MeanFieldSolution", "CohortSnapshot", "GridSnapshot", "coupling_matrix", "distinct_nodes"]

logger = logging.getLogger(__name__)


def distinct_nodes(K: np.ndarray, *rows: np.ndarray, merge: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact node compression: nodes with identical coupling rows and identical initial data
    (``rows``, arrays with one row per node) have identical solutions.

    Returns ``(rep, node_of, Kred)``: representative node indices (in node order), the group of every
    node, and the reduced coupling ``Kred[a, g] = (1/n_xi) sum_{j in group g} K[rep_a, j]`` so that
    ``h_rep = Kred @ r_rep``.  With ``merge=False`` every node is its own group.
    """
    n_xi = K.shape[0]
    if merge:
        key = np.concatenate((K,) + tuple(r.reshape(n_xi, -1) for r in rows), axis=1)
        _, rep, node_of = np.unique(key, axis=0, return_index=True, return_inverse=True)
        node_of = np.asarray(node_of).ravel()
        order = np.argsort(rep)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        rep, node_of = rep[order], rank[node_of]
    else:
        rep, node_of = np.arange(n_xi), np.arange(n_xi)
    Kred = np.zeros((rep.size, rep.size))
    np.add.at(Kred.T, node_of, K[rep].T)
    return rep, node_of, Kred / n_xi


def check_positive(name: str, value: Any, fix: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise bad_argument(name, value, "must be a finite number > 0", fix)
    return float(value)


def check_int(name: str, value: Any, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", fix)
    return int(value)


def time_grid(t_end: float, dt: float) -> tuple[int, float]:
    n_steps = max(1, int(math.ceil(t_end / dt - 1e-9)))
    return n_steps, t_end / n_steps


def save_indices(save_times, t_end: float, n_steps: int) -> np.ndarray:
    """Grid indices of the requested save times (default: 11 equally spaced times including 0 and t_end)."""
    if save_times is None:
        st = np.linspace(0.0, t_end, 11)
    else:
        try:
            st = np.atleast_1d(np.asarray(save_times, dtype=float))
        except (TypeError, ValueError):
            raise bad_argument("save_times", save_times, "must be an array of times", "pass e.g. [0, 1, 2]") from None
        if st.ndim != 1 or not np.all(np.isfinite(st)) or np.any(st < 0) or np.any(st > t_end * (1 + 1e-12)):
            raise bad_argument("save_times", save_times, f"must be finite times in [0, t_end = {t_end}]",
                               "pass times inside the simulated interval")
    idx = np.unique(np.clip(np.rint(st / t_end * n_steps).astype(np.int64), 0, n_steps))
    return idx


# -------------------------------------------------------------------------------------- snapshots
@dataclass(frozen=True)
class CohortSnapshot:
    """Slice laws of the Lagrangian scheme at one time.

    ``pos``/``mass`` have shape ``(n_rows, M)``, one row per distinct node; ``node_of[k]`` is the row of
    node ``k`` (``None``: row ``k``).  ``group[j]`` says what column ``j`` is: ``0`` a cohort
    born at ``x_r`` (columns in birth order), ``1`` an atom of an atomic initial datum, ``2`` a
    quadrature atom of a continuous initial datum (columns in quantile order).

    CDF (right-continuous): atoms of group 1 are exact jumps.  Groups 0 and 2 represent continuous
    laws: each atom's mass is spread uniformly between the midpoints to its neighbours in column order
    (the end intervals mirrored), so the CDF is piecewise linear through the cumulative masses; for
    the born cohorts the youngest edge is ``x_r + O(dt^2)``.  A group with a single atom is an atom.
    """

    time: float
    pos: np.ndarray
    mass: np.ndarray
    group: np.ndarray
    node_of: np.ndarray | None = None

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Slice CDFs at ``x``, shape ``(n_xi, len(x))``."""
        out = self._cdf_rows(np.asarray(x, dtype=float))
        return out if self.node_of is None else out[self.node_of]

    def _cdf_rows(self, x: np.ndarray) -> np.ndarray:
        n_xi = self.pos.shape[0]
        out = np.zeros((n_xi, x.size))
        atoms = self.group == 1
        if np.any(atoms):
            p, m = self.pos[:, atoms], self.mass[:, atoms]
            for k in range(n_xi):  # per node: sort atoms, cumulative mass, right-continuous lookup
                o = np.argsort(p[k], kind="stable")
                cum = np.concatenate(([0.0], np.cumsum(m[k, o])))
                out[k] += cum[np.searchsorted(p[k, o], x, side="right")]
        for g in (0, 2):
            cols = self.group == g
            if not np.any(cols):
                continue
            p, m = self.pos[:, cols], self.mass[:, cols]
            for k in range(n_xi):
                out[k] += _continuous_cdf(p[k], m[k], x)
        return out


def _continuous_cdf(p: np.ndarray, m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """CDF of atoms ``p`` (in column order) with masses ``m`` spread between neighbour midpoints."""
    if p.size == 1:
        return m[0] * (x >= p[0])
    mid = 0.5 * (p[1:] + p[:-1])
    e = np.concatenate(([2 * p[0] - mid[0]], mid, [2 * p[-1] - mid[-1]]))
    d = np.diff(e)
    if np.all(d > 0) or np.all(d < 0):
        if d[0] < 0:
            e, m = e[::-1], m[::-1]
        cum = np.concatenate(([0.0], np.cumsum(m)))
        return np.interp(x, e, cum, left=0.0, right=cum[-1])
    lo = np.minimum(e[:-1], e[1:])
    hi = np.maximum(e[:-1], e[1:])
    out = np.zeros(x.size)
    for a in range(0, p.size, 512):  # chunked: (512, len(x)) at a time
        sl = slice(a, a + 512)
        width = (hi[sl] - lo[sl])[:, None]
        frac = np.where(width > 0, np.clip((x[None, :] - lo[sl, None]) / np.where(width > 0, width, 1.0), 0, 1),
                        (x[None, :] >= lo[sl, None]).astype(float))
        out += m[sl] @ frac
    return out


@dataclass(frozen=True)
class GridSnapshot:
    """Slice laws of the upwind scheme at one time: cell masses ``(n_xi, n_cells)`` on ``edges``,
    uniform within a cell (piecewise-linear CDF; atoms are smeared over one cell)."""

    time: float
    edges: np.ndarray
    cells: np.ndarray

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        cum = np.concatenate((np.zeros((self.cells.shape[0], 1)), np.cumsum(self.cells, axis=1)), axis=1)
        return np.stack([np.interp(x, self.edges, c, left=0.0, right=c[-1]) for c in cum])


# -------------------------------------------------------------------------------------- solution
@dataclass(frozen=True)
class MeanFieldSolution:
    """Solution of the spatially-extended mean-field PDE on ``n_xi`` nodes.

    Attributes
    ----------
    method : str
        ``"lagrangian"`` or ``"upwind"``.
    order : int
        Order of accuracy in ``dt`` (and ``dx`` for upwind) claimed by the scheme and measured by the
        convergence tests.
    xi : ndarray, shape (n_xi,)
        Node positions ``(k + 1/2)/n_xi``.
    t : ndarray, shape (n_steps + 1,)
        Time grid.
    rates, inputs, masses, means, second_moments : ndarray, shape (n_steps + 1, n_xi)
        ``r(t_n, xi_k)``, ``h(t_n, xi_k)``, slice mass, ``E[X]`` and ``E[X^2]`` at every grid time.
    save_times : ndarray
        Times at which slice laws were stored (for :meth:`cdf` and :meth:`density`).
    counters : dict
        ``steps``, ``dt``, ``wall_time`` and scheme-specific counters (Lagrangian: ``cohorts_alive``,
        ``cohorts_max``, ``cohorts_dropped``, ``dropped_mass``, ``distinct_nodes``; upwind: ``n_x``,
        ``dx``, ``max_courant``).
    quadrature : str
        The ``xi`` quadrature of the coupling.
    """

    method: str
    order: int
    xi: np.ndarray
    t: np.ndarray
    rates: np.ndarray
    inputs: np.ndarray
    masses: np.ndarray
    means: np.ndarray
    second_moments: np.ndarray
    snapshots: tuple = field(repr=False)
    counters: dict = field(default_factory=dict)
    quadrature: str = ""

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])

    @property
    def save_times(self) -> np.ndarray:
        return np.array([s.time for s in self.snapshots])

    # time series (linear interpolation between grid times) ----------------------------------
    def _interp(self, t, values: np.ndarray, what: str) -> np.ndarray:
        tt = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(tt)) or np.any(tt < -1e-12 * self.t_end) or np.any(tt > self.t_end * (1 + 1e-12)):
            raise bad_argument("t", t, f"must lie in [0, t_end = {self.t_end}] for {what}",
                               "query times inside the solved interval")
        flat = np.clip(np.atleast_1d(tt).ravel(), 0.0, self.t_end)
        n = len(self.t) - 1
        u = flat / self.t_end * n
        i = np.clip(np.floor(u).astype(np.int64), 0, n - 1)
        a = (u - i)[:, None]
        out = (1 - a) * values[i] + a * values[i + 1]
        return out[0] if tt.ndim == 0 else out.reshape(tt.shape + (values.shape[1],))

    def rate(self, t) -> np.ndarray:
        """Firing rate ``r(t, xi)``: shape ``(n_xi,)`` for scalar ``t``, ``t.shape + (n_xi,)`` otherwise."""
        return self._interp(t, self.rates, "rate")

    def input(self, t) -> np.ndarray:
        """Input ``h(t, xi) = int w(xi, zeta) r(t, zeta) dzeta`` (shapes as :meth:`rate`)."""
        return self._interp(t, self.inputs, "input")

    def mass(self, t) -> np.ndarray:
        """Mass of each slice (1 up to round-off for a conservative scheme)."""
        return self._interp(t, self.masses, "mass")

    def mean(self, t) -> np.ndarray:
        """``E[X(t) | xi]`` per node (shapes as :meth:`rate`)."""
        return self._interp(t, self.means, "mean")

    def variance(self, t) -> np.ndarray:
        """``Var[X(t) | xi]`` per node (from the stored first and second moments)."""
        m = self._interp(t, self.means, "variance")
        return self._interp(t, self.second_moments, "variance") - m * m

    # slice laws ---------------------------------------------------------------------------
    def snapshot(self, t: float):
        """The stored slice laws at save time ``t`` (tolerance ``1e-9 t_end``)."""
        st = self.save_times
        j = int(np.argmin(np.abs(st - float(t)))) if st.size else -1
        if j < 0 or abs(st[j] - float(t)) > 1e-9 * max(1.0, self.t_end):
            raise bad_argument("t", t, f"slice laws are stored only at save_times = {np.round(st, 12).tolist()}",
                               "pass one of these times, or re-solve with save_times containing t")
        return self.snapshots[j]

    def cdf(self, t: float, x) -> np.ndarray:
        """Slice CDFs ``F(t, xi_k, x)`` (right-continuous, atoms exact for the Lagrangian scheme),
        shape ``(n_xi, len(x))``; ``t`` must be one of :attr:`save_times`."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise bad_argument("x", x, "must be a finite 1-D array", "pass e.g. np.linspace(-1, 5, 200)")
        return self.snapshot(t).cdf(x)

    def density(self, t: float, edges) -> np.ndarray:
        """Mass per unit length in the bins ``[edges[i], edges[i+1])``, shape ``(n_xi, len(edges) - 1)``
        (for plotting; atoms count in the bin that holds them)."""
        e = np.asarray(edges, dtype=float)
        if e.ndim != 1 or e.size < 2 or not np.all(np.diff(e) > 0):
            raise bad_argument("edges", edges, "must be a strictly increasing 1-D array of length >= 2",
                               "pass e.g. np.linspace(-1, 5, 101)")
        F = self.snapshot(t).cdf(np.nextafter(e, -np.inf))  # left limits: mass of [e_i, e_{i+1})
        return np.diff(F, axis=1) / np.diff(e)[None, :]
