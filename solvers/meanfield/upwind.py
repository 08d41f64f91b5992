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
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.errors import SimulationError, bad_argument
from solvers.model import Leaky, NeuronModel
from solvers.validation import check_int, check_interval, check_positive

from .base import (
    SCHEMES,
    GridSnapshot,
    MeanFieldProblem,
    MeanFieldSolution,
    Scheme,
    SchemeCounters,
    TimeGrid,
    distinct_nodes,
)
from .initial import InitialSpec

__all__ = ["solve_upwind", "UpwindScheme", "UpwindCounters", "default_x_range"]

logger = logging.getLogger(__name__)

SCHEME = "upwind"
ORDER = 1


@dataclass(frozen=True)
class UpwindCounters(SchemeCounters):
    """Counters of the upwind scheme: the grid (``n_x`` cells of width ``dx`` on ``x_range``) and the
    largest Courant number ``max |b + h| dt / dx`` met (``<= 1`` or the run fails)."""

    n_x: int
    dx: float
    x_range: tuple[float, float]
    max_courant: float


def default_x_range(model: NeuronModel, K: np.ndarray, spec: InitialSpec, n_xi: int) -> tuple[float, float]:
    """A grid range that holds every trajectory (leaky drift with bounded intensity only).

    All mass stays between the initial support, ``x_r`` and the fixed points ``I0 + h`` of the drift,
    with ``h`` in ``[min_k sum_j min(K_kj, 0), max_k sum_j max(K_kj, 0)] * sup f / n_xi``; the range is
    that hull widened by ``0.5 + 2%``.
    """
    f_sup = model.intensity.sup
    if not isinstance(model.drift, Leaky) or not math.isfinite(f_sup):
        raise bad_argument("x_range", None, "has no automatic default for this model (it needs a leaky drift "
                           "and a bounded intensity)", "pass x_range=(x_min, x_max) holding all the mass")
    h_hi = float(np.max(np.clip(K, 0, None).sum(axis=1))) * f_sup / n_xi
    h_lo = float(np.min(np.clip(K, None, 0).sum(axis=1))) * f_sup / n_xi
    lo0, hi0 = spec.support(n_xi)
    lo = min(lo0, model.reset, model.drift.I0 + h_lo)
    hi = max(hi0, model.reset, model.drift.I0 + h_hi)
    pad = 0.5 + 0.02 * (hi - lo)
    return lo - pad, hi + pad


@SCHEMES.register
class UpwindScheme(Scheme):
    """Registry entry of the upwind scheme (contract: :class:`solvers.meanfield.base.Scheme`).

    Options: ``n_x`` (cells, ``>= 2``, default 400), ``x_range`` (``(x_min, x_max)`` holding all the mass
    and ``x_r``; default :func:`default_x_range`), ``cfl`` (Courant number of the default ``dt``, in
    ``(0, 1]``, default 0.9).  Default ``dt``: ``cfl * dx / v_max`` with ``v_max`` the largest
    ``|b + h|`` on the grid for ``h`` within its a-priori bound (the Courant number is checked every step).
    """

    name = SCHEME
    order = ORDER
    summary = "first-order finite volumes on an x grid (baseline)"
    options = {"n_x": 400, "x_range": None, "cfl": 0.9}

    def check_options(self, problem: MeanFieldProblem, options: dict[str, Any]) -> dict[str, Any]:
        n_x = check_int("n_x", options["n_x"], 2, "pass e.g. n_x=400")
        x_range = options["x_range"]
        if x_range is None:
            x_range = default_x_range(problem.model, problem.K, problem.initial, problem.n_xi)
        lo, hi = check_interval("x_range", x_range, "pass e.g. x_range=(-1, 6)")
        if not lo <= problem.model.reset < hi:
            raise bad_argument("x_range", x_range, f"must contain the reset value x_r = {problem.model.reset}",
                               "widen x_range")
        cfl = check_positive("cfl", options["cfl"], "pass a Courant number in (0, 1]")
        if cfl > 1:
            raise bad_argument("cfl", cfl, "must be <= 1 for the explicit upwind scheme", "pass e.g. cfl=0.9")
        return {"n_x": n_x, "edges": np.linspace(lo, hi, n_x + 1), "cfl": cfl}

    def default_dt(self) -> float:
        model, K, edges = self.problem.model, self.problem.K, self.opts["edges"]
        f_sup = model.intensity.sup
        f_bound = f_sup if math.isfinite(f_sup) else float(np.max(model.intensity(edges)))
        h_bound = float(np.max(np.abs(K).sum(axis=1))) * f_bound / self.problem.n_xi
        v_max = float(np.max(np.abs(model.drift(edges)))) + h_bound
        return self.opts["cfl"] * float(edges[1] - edges[0]) / max(v_max, 1e-300)

    def run(self, grid: TimeGrid, save_idx: np.ndarray) -> MeanFieldSolution:
        p = self.problem
        return solve_upwind(p.model, p.K, p.quadrature, p.xi, grid, p.initial, save_idx, edges=self.opts["edges"],
                            mass_tol=p.mass_tol, merge_identical_nodes=p.merge_identical_nodes)


def solve_upwind(model: NeuronModel, K: np.ndarray, quadrature: str, xi: np.ndarray, grid: TimeGrid,
                 spec: InitialSpec, save_idx: np.ndarray, *, edges: np.ndarray, mass_tol: float,
                 merge_identical_nodes: bool) -> MeanFieldSolution:
    """Run the upwind scheme (arguments already validated by :func:`solvers.meanfield.solve`)."""
    wall0 = time.perf_counter()
    n_xi = xi.size
    n_steps, dt = grid.n_steps, grid.dt
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

    counters = UpwindCounters(steps=n_steps, dt=dt, dt_requested=grid.dt_requested,
                              wall_time=time.perf_counter() - wall0, distinct_nodes=n_nodes, n_x=n_x, dx=dx,
                              x_range=(float(edges[0]), float(edges[-1])), max_courant=max_courant)
    logger.debug("upwind solve: %s", counters)
    return MeanFieldSolution(
        method=SCHEME, order=ORDER, xi=xi, t=grid.times,
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
