"""Pairings ``<phi(t), measure>`` of a dual solution with the measures of ifmf (rules in
:mod:`solvers.dual.base`): PDE snapshots (cohorts or upwind cells), network states, perturbations
``nu`` of the linearised forward equation, and extended measures (``solvers.measures.ExtendedMeasure``,
read through its flat arrays: ``edges``, ``atom_ptr``, ``atom_x``, ``atom_m``, ``cont_ptr``, ``cont_x``,
``cont_F``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.meanfield.base import CohortSnapshot, GridSnapshot, MeanFieldSolution
from solvers.quadrature import gauss_legendre, overlap_matrix

from .base import DualSolution, LinearisedSnapshot, is_network_state, node_cells

__all__ = ["pair", "EXTENDED_MEASURE_FIELDS"]

#: the flat arrays an extended measure exposes (solvers.measures.ExtendedMeasure)
EXTENDED_MEASURE_FIELDS = ("edges", "atom_ptr", "atom_x", "atom_m", "cont_ptr", "cont_x", "cont_F")


def _check_time(sol: DualSolution, t_grid: float, measure: Any) -> None:
    mt = float(measure.time)
    if abs(mt - t_grid) > 1e-9 * max(1.0, sol.t_end):
        raise bad_argument("measure", f"{type(measure).__name__} at t = {mt:g}",
                           f"is a snapshot at another time than t = {t_grid:g}",
                           f"pass the snapshot at t = {t_grid:g} (e.g. forward.snapshot({t_grid:g}))")


def _node_rows(sol: DualSolution, rows: int, node_of: np.ndarray | None, what: str) -> np.ndarray:
    n_xi = sol.problem.n_xi
    node_rows = np.arange(rows) if node_of is None else np.asarray(node_of)
    if node_rows.size != n_xi:
        raise bad_argument("measure", f"{what} with {node_rows.size} xi nodes",
                           f"must be on the dual's {n_xi} xi nodes", f"solve the forward with n_xi={n_xi}")
    return node_rows


def pair(sol: DualSolution, t: Any, measure: Any) -> float:
    """``<phi(t), measure>`` (see :meth:`solvers.dual.DualSolution.pairing`)."""
    n = sol.step_index(t)
    tg = n * sol.dt
    n_xi = sol.problem.n_xi
    if isinstance(measure, MeanFieldSolution):
        measure = measure.snapshot(tg)
    if isinstance(measure, CohortSnapshot):
        _check_time(sol, tg, measure)
        rows = _node_rows(sol, measure.pos.shape[0], measure.node_of, "snapshot")
        pos, mass = measure.pos[rows], measure.mass[rows]
        k, j = np.nonzero(mass != 0.0)
        vals = sol.evaluate(tg, k, pos[k, j])
        return float(np.sum(mass[k, j] * vals) / n_xi)
    if isinstance(measure, LinearisedSnapshot):
        _check_time(sol, tg, measure)
        if measure.pos.shape[0] != n_xi:
            raise bad_argument("measure", f"perturbation on {measure.pos.shape[0]} nodes",
                               f"must be on the dual's {n_xi} nodes", f"use n_xi={n_xi}")
        k, j = np.nonzero((measure.mass != 0.0) | (measure.dmass != 0.0) | (measure.dpos != 0.0))
        vals, ders = sol.evaluate(tg, k, measure.pos[k, j], tangent=True)
        return float(np.sum(measure.dmass[k, j] * vals + measure.mass[k, j] * measure.dpos[k, j] * ders) / n_xi)
    if isinstance(measure, GridSnapshot):
        _check_time(sol, tg, measure)
        cells = measure.cells
        _node_rows(sol, cells.shape[0], None, "grid snapshot")
        e = measure.edges
        u, w = gauss_legendre(3)
        pts = e[:-1, None] + np.diff(e)[:, None] * u[None, :]  # (n_cells, 3)
        k = np.repeat(np.arange(n_xi), pts.size)
        vals = sol.evaluate(tg, k, np.tile(pts.ravel(), n_xi)).reshape(n_xi, -1, 3)
        return float(np.sum(cells[:, :, None] * w[None, None, :] * vals) / n_xi)
    if all(hasattr(measure, f) for f in EXTENDED_MEASURE_FIELDS):
        return _pair_extended(sol, tg, measure)
    if is_network_state(measure):
        X = np.asarray(measure, dtype=float)
        if not np.all(np.isfinite(X)):
            raise bad_argument("measure", "network state with non-finite potentials", "must be finite",
                               "remove NaN/inf")
        nodes = node_cells(X.size, n_xi)
        return float(np.mean(sol.evaluate(tg, nodes, X)))
    raise bad_argument("measure", measure,
                       "must be a CohortSnapshot, GridSnapshot, MeanFieldSolution, LinearisedSnapshot, a network "
                       "state (1-D array of potentials) or an extended measure",
                       "pass e.g. forward.snapshot(t) or the states of a simulation")


def _pair_extended(sol: DualSolution, tg: float, mu: Any) -> float:
    """Each cell ``c`` of the measure's partition overlaps node cells ``k`` by ``O[c, k]``; atoms exact,
    continuous pieces by 3-point Gauss-Legendre."""
    n_xi = sol.problem.n_xi
    edges = np.asarray(mu.edges, dtype=float)
    O = overlap_matrix(edges, n_xi)
    c_idx, k_idx = np.nonzero(O > 0)
    ov = O[c_idx, k_idx]
    total = 0.0
    aptr = np.asarray(mu.atom_ptr, dtype=np.int64)
    ax, am = np.asarray(mu.atom_x, dtype=float), np.asarray(mu.atom_m, dtype=float)
    counts = aptr[c_idx + 1] - aptr[c_idx]
    if counts.sum():
        pair_of = np.repeat(np.arange(c_idx.size), counts)
        start = np.repeat(aptr[c_idx] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        flat = start + np.arange(counts.sum())
        vals = sol.evaluate(tg, k_idx[pair_of], ax[flat])
        total += float(np.sum(ov[pair_of] * am[flat] * vals))
    cptr = np.asarray(mu.cont_ptr, dtype=np.int64)
    cx, cF = np.asarray(mu.cont_x, dtype=float), np.asarray(mu.cont_F, dtype=float)
    npts = cptr[c_idx + 1] - cptr[c_idx]
    pieces = np.maximum(npts - 1, 0)
    if pieces.sum():
        u, w = gauss_legendre(3)
        pair_of = np.repeat(np.arange(c_idx.size), pieces)
        start = np.repeat(cptr[c_idx] - np.concatenate(([0], np.cumsum(pieces)[:-1])), pieces)
        left = start + np.arange(pieces.sum())  # index of the piece's left point
        a, b = cx[left], cx[left + 1]
        dF = cF[left + 1] - cF[left]
        pts = a[:, None] + (b - a)[:, None] * u[None, :]
        vals = sol.evaluate(tg, np.repeat(k_idx[pair_of], 3), pts.ravel()).reshape(-1, 3)
        total += float(np.sum(ov[pair_of][:, None] * dF[:, None] * w[None, :] * vals))
    return total
