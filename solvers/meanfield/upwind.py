"""Upwind finite-volume solver of the mean-field PDE — first order in ``dx`` and ``dt`` (baseline).

The scheme a user would write.  On a uniform grid of ``n_x`` cells over ``x_range`` with cell masses
``m_i`` per node, one explicit step ``[t_n, t_n + dt]`` does:

1. transport: conservative upwind fluxes ``F_{i+1/2} = (v^+ m_i + v^- m_{i+1}) / dx`` with the face
   velocity ``v = b(x_{i+1/2}) + h_n(xi)``, ``m_i -= dt (F_{i+1/2} - F_{i-1/2})``; zero flux through the
   two ends of the grid (mass that reaches an outflow end raises :class:`SimulationError`: widen
   ``x_range``).  Stable for Courant number ``max |v| dt / dx <= 1``, checked at every step;
2. firing: ``m_i *= exp(-f(x_i) dt)`` at the cell centre ``x_i``, and the lost mass is re-injected into
   the cell that contains ``x_r`` (mass conserved to round-off);
3. ``r = sum_i f(x_i) m_i``, ``h = K r / n_xi`` (explicit Euler in the coupling).

Lie splitting, upwinding and explicit coupling are each first order: error ``O(dx + dt)``.  Atoms
of the initial datum are smeared over one cell at once and diffuse numerically afterwards.  Moments
use the uniform density in each cell (``E[X^2]`` includes ``dx^2/12``).
"""
from __future__ import annotations

import logging
import time

import numpy as np

from solvers.errors import SimulationError
from solvers.model import NeuronModel

from .base import GridSnapshot, MeanFieldSolution, distinct_nodes

__all__ = ["solve_upwind"]

logger = logging.getLogger(__name__)

SCHEME = "upwind"
ORDER = 1


def solve_upwind(model: NeuronModel, K: np.ndarray, quadrature: str, xi: np.ndarray, t_end: float,
                 n_steps: int, spec, save_idx: np.ndarray, *, edges: np.ndarray, mass_tol: float,
                 merge_identical_nodes: bool) -> MeanFieldSolution:
    """Run the upwind scheme (arguments already validated by :func:`solvers.meanfield.solve`)."""
    wall0 = time.perf_counter()
    n_xi = xi.size
    dt = t_end / n_steps
    dx = float(edges[1] - edges[0])
    xc = 0.5 * (edges[1:] + edges[:-1])
    n_x = xc.size
    cells0 = spec.cell_masses(n_xi, edges)
    rep, node_of, Kred = distinct_nodes(K, cells0, merge=merge_identical_nodes)
    m = cells0[rep].copy()
    n_nodes = rep.size

    b_face = model.drift(edges)[None, :]  # (1, n_x + 1)
    f_c = model.intensity(xc)
    if not np.all(np.isfinite(f_c)) or np.any(f_c < 0):
        i = int(np.flatnonzero(~np.isfinite(f_c) | (f_c < 0))[0])
        raise SimulationError(f"{SCHEME}: intensity f({xc[i]:.6g}) = {f_c[i]!r} is not a finite number >= 0 "
                              f"on the grid (t = 0)")
    loss = np.exp(-f_c * dt)
    i_r = int(np.clip(np.searchsorted(edges, model.reset, side="right") - 1, 0, n_x - 1))
    x2 = xc * xc + dx * dx / 12.0

    T = n_steps + 1
    rates = np.empty((T, n_nodes))
    inputs = np.empty((T, n_nodes))
    masses = np.empty((T, n_nodes))
    means = np.empty((T, n_nodes))
    m2s = np.empty((T, n_nodes))
    save_set = set(int(i) for i in save_idx)
    snaps = []
    max_courant = 0.0
    flux = np.zeros((n_nodes, n_x + 1))

    def record(j: int, t: float) -> None:
        rates[j] = m @ f_c
        masses[j] = m.sum(axis=1)
        means[j] = m @ xc
        m2s[j] = m @ x2
        inputs[j] = Kred @ rates[j]
        if j in save_set:
            snaps.append(GridSnapshot(time=t, edges=edges, cells=m[node_of].copy()))

    record(0, 0.0)
    for n in range(n_steps):
        t = n * dt
        v = b_face + inputs[n][:, None]  # (n_nodes, n_x + 1)
        courant = float(np.max(np.abs(v))) * dt / dx
        max_courant = max(max_courant, courant)
        if courant > 1.0 + 1e-12:
            k = int(np.argmax(np.max(np.abs(v), axis=1)))
            raise SimulationError(f"{SCHEME}: Courant number {courant:.4g} > 1 at t = {t:.6g}, xi = {xi[rep][k]:.6g}; "
                                  f"reduce dt below {dx / np.max(np.abs(v)):.4g}")
        out_left = (v[:, 0] < 0) & (m[:, 0] > 1e-12)
        out_right = (v[:, -1] > 0) & (m[:, -1] > 1e-12)
        if np.any(out_left | out_right):
            k = int(np.flatnonzero(out_left | out_right)[0])
            raise SimulationError(f"{SCHEME}: mass reached the outflow end of x_range = ({edges[0]:.6g}, "
                                  f"{edges[-1]:.6g}) at t = {t:.6g}, xi = {xi[rep][k]:.6g}; widen x_range")
        vi = v[:, 1:-1]
        flux[:, 1:-1] = (np.maximum(vi, 0.0) * m[:, :-1] + np.minimum(vi, 0.0) * m[:, 1:]) / dx
        m -= dt * (flux[:, 1:] - flux[:, :-1])
        before = m.sum(axis=1)
        m *= loss
        m[:, i_r] += before - m.sum(axis=1)
        record(n + 1, (n + 1) * dt)
        _check(m, rates[n + 1], masses[n + 1], (n + 1) * dt, xi[rep], mass_tol)

    counters = {
        "steps": n_steps,
        "dt": dt,
        "n_x": n_x,
        "dx": dx,
        "x_range": (float(edges[0]), float(edges[-1])),
        "max_courant": max_courant,
        "distinct_nodes": n_nodes,
        "wall_time": time.perf_counter() - wall0,
    }
    logger.debug("upwind solve: %s", counters)
    return MeanFieldSolution(
        method=SCHEME, order=ORDER, xi=xi, t=np.linspace(0.0, t_end, n_steps + 1),
        rates=rates[:, node_of], inputs=inputs[:, node_of], masses=masses[:, node_of],
        means=means[:, node_of], second_moments=m2s[:, node_of], snapshots=tuple(snaps),
        counters=counters, quadrature=quadrature)


def _check(m: np.ndarray, r: np.ndarray, mass: np.ndarray, t: float, xi_nodes: np.ndarray, mass_tol: float) -> None:
    if not np.all(np.isfinite(r)):
        k = int(np.flatnonzero(~np.isfinite(r))[0])
        raise SimulationError(f"{SCHEME}: non-finite rate at t = {t:.6g}, xi = {xi_nodes[k]:.6g}")
    neg = m.min(axis=1)
    if np.any(neg < -mass_tol):
        k = int(np.argmin(neg))
        raise SimulationError(f"{SCHEME}: negative mass {neg[k]:.3g} at t = {t:.6g}, xi = {xi_nodes[k]:.6g}")
    err = np.abs(mass - 1.0)
    if np.any(err > mass_tol):
        k = int(np.argmax(err))
        raise SimulationError(f"{SCHEME}: slice mass {mass[k]!r} differs from 1 by more than {mass_tol:g} "
                              f"at t = {t:.6g}, xi = {xi_nodes[k]:.6g}")
