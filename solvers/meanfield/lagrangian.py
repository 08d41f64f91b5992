r"""Lagrangian (cohort) solver of the spatially-extended mean-field PDE — second order in ``dt``.

The scheme (SPEC section 3, change of variables).  On each ``xi`` node the slice law is a list of
cohorts ``(x_j, m_j)``: the initial datum (its atoms, or quadrature atoms of a continuous law) and one
cohort per elapsed step, born at ``x_r``.  A step ``[t_n, t_n + dt]`` does, per node ``k``:

1. input over the step: ``hbar_k``, an ``O(dt^2)`` approximation of the step average of ``h(., xi_k)``:
   the Adams-Bashforth-2 extrapolation ``hbar = h_n + (h_n - h_{n-1})/2`` (i.e. ``h`` at the step
   midpoint), and on the very first step a predictor-corrector (Heun) value ``(h_0 + h_1^pred)/2``;
2. every cohort is carried along ``dx/dt = b(x) + hbar_k``: the exact flow for the leaky drift
   (``x(s) = c + (x - c) e^{-s}``, ``c = I0 + hbar``), and for other drifts two explicit-midpoint
   (RK2) half steps, local error ``O(dt^3)``;
3. masses are multiplied by the survival ``exp(-int f(x(u)) du)``; the integral by the corrected
   trapezoid ``dt/2 (f0 + f1) + dt^2/12 (g0 - g1)`` with the exact ``g = f'(x) (b(x) + hbar)``
   (``survival_rule="hermite"``, default for named families with the leaky drift: one intensity
   evaluation per cohort, ``f`` at the end cached for the next step) or by Simpson's rule on the
   start / mid / end positions (``"simpson"``; always for user callables).  Both are ``O(dt^5)``
   locally on a smooth path;
4. ONE new cohort is created at ``x_r`` carried for ``dt/2`` (midpoint birth age) with mass exactly
   ``1 - sum(surviving masses)``: the mass of the neurons whose last reset lies in the step.  The slice
   mass is therefore 1 to round-off at every step, by construction, whatever the errors above;
5. ``r_{n+1,k} = sum_j m_j f(x_j)`` and ``h_{n+1} = K r_{n+1} / n_xi`` (one mat-vec, see
   :mod:`solvers.meanfield.base` for the ``xi`` quadrature).

Why second order (weak order, for ``psi`` smooth and ``b, f`` smooth with ``h`` smooth in ``t``):
the exact solution at ``t_{n+1}`` is the same partition "initial datum / last reset in step m" of
unit mass.  (a) For a cohort that already exists, the position error of one step is ``O(dt^3)``:
freezing ``h`` at its step average perturbs the exact flow by ``int_0^dt e^{-(dt-u)} (h(u) - hbar) du =
O(dt^3)`` (the linear part of ``h - hbar`` integrates to ``O(dt^3)``), and the survival exponent by
``O(dt^3)`` (the quadrature is exact to ``O(dt^5)`` on the computed path, itself ``O(dt^2)`` from the
exact one inside the step, times ``dt``).  Over ``T/dt``
steps these ``O(dt^3)`` local errors add to ``O(dt^2)``.  (b) The neurons reset during step ``m``
form a mass ``O(dt)`` spread along ``O(dt)`` of a trajectory; the exact group is carried by the same
smooth flow as its midpoint-age representative, so replacing the group by one atom at its midpoint
age costs ``mass x (spread^2 + bias of the mean) = O(dt) x O(dt^2)`` in ``<psi, mu>`` for all later
times (first-order terms cancel by the midpoint rule in the birth time; unequal survival and birth
rate across the group only move the mean by ``O(dt^2)``).  Summed over the ``T/dt`` groups: ``O(dt^2)``.
(c) The exact group mass is ``1 - (exact survivors)``; our survivors are correct to (a), so the birth
masses inherit only the ``O(dt^3)`` local error.  (d) ``r = <f, mu>`` and ``h = K r / n_xi`` are then
second order, and the AB2 / Heun input closes the loop with ``O(dt^2)`` errors in ``hbar``, which enter
(a) only multiplied by ``dt``.  The convergence tests measure the order on the stationary rate
(against the mpmath reference) and on ``E[X(t)]`` for constant intensity (exact law).

Cohort bookkeeping.  Cohorts live in ``(n_nodes, capacity)`` arrays, one column per cohort, all
nodes sharing the column layout (every node gives birth every step).  Every ``prune_every`` steps
the columns whose mass is below ``drop_tol`` on every node are dropped (``drop_tol = 1e-15`` by
default); their mass is reported in ``counters.dropped_mass`` (per node, maximum over nodes) and,
because the next birth is ``1 - sum(survivors)``, it is re-injected at ``x_r`` rather than lost.  In
the same pass, disjoint pairs of neighbouring born cohorts (oldest first; the newest ``prune_every``
excluded) are merged into their centre of mass when ``m1 m2 / (m1 + m2) (x1 - x2)^2 <= merge_tol`` on
every node (default ``1e-14``): mass is conserved exactly and ``<psi, mu>`` moves by at most
``sup|psi''| merge_tol / 2`` per merge; the sum of these costs is ``counters.merge_cost``.  Old
cohorts crowd at the fixed point of the drift with tiny masses, so merging them removes about a third
of the columns for the standard neuron at a measured effect on ``r`` of ~1e-13.  Nodes with identical
coupling rows and identical initial data have identical solutions; with ``merge_identical_nodes=True``
(default) they are computed once (exact; the number of distinct nodes is ``counters.distinct_nodes``).

Hot loop (leaky drift with a named intensity family): three compiled (numba) passes per step with no
transcendental call inside (carry / intensity and Hermite survival exponent / masses and sums), the
exponentials done between them by numpy's SIMD ``np.exp``; about three times as fast as the single scalar
kernel :func:`_leaky_step` (same scheme, same results to round-off, used for ``survival_rule="simpson"``).
The families are those of the one compiled table :mod:`solvers._compiled`, in its stable form: the
split passes exponentiate ``intensity_exponent`` (at most 708 for the sigmoid, so nothing overflows
and the left tail keeps its relative accuracy) and rebuild ``f`` with ``intensity_from_exponential``.
The Hermite rule needs the exact ``f'``: it is used only for the compiled families
(``exact_derivative`` is True for all of them).  A vectorised numpy path runs user-supplied callables.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers._compiled import (
    EXPONENTIAL,
    LEAKY,
    SIGMOID,
    intensity_derivative_from_value,
    intensity_exponent,
    intensity_from_exponential,
    intensity_value,
    leaky_flow_decayed,
    njit,
)
from solvers.errors import SimulationError, bad_argument
from solvers.model import Leaky, NeuronModel
from solvers.validation import check_choice, check_int, check_nonnegative

from .base import (
    SCHEMES,
    CohortKind,
    CohortSnapshot,
    MeanFieldProblem,
    MeanFieldSolution,
    Scheme,
    SchemeCounters,
    TimeGrid,
    distinct_nodes,
)

__all__ = ["solve_lagrangian", "LagrangianScheme", "LagrangianCounters"]

logger = logging.getLogger(__name__)

SCHEME = "lagrangian"
ORDER = 2
#: use the split Hermite step (numba passes + numpy SIMD exp); False: the single scalar kernel
#: (same scheme, same results to round-off; kept for tests and for machines without SIMD exp)
_SPLIT_HERMITE = True
#: fast-math flags of the split passes: reassociation (vectorised sums) but NaN/inf kept IEEE, so a
#: blow-up is still detected
_FAST = {"reassoc", "contract", "arcp", "nsz"}
#: the compiled steps divide only by quantities that cannot vanish (``1 + e`` with ``e >= 0``, ``p0 > 0``
#: tested first, ``exp(-dt)``), so numpy's division semantics (no ZeroDivisionError branch) change no
#: result; without the branch LLVM vectorises the split passes (pass B about 1.7x faster, measured)
_ERRORS = "numpy"


@njit(error_model=_ERRORS)
def _leaky_step(pos, mass, fval, n, hbar, dt, I0, code, p0, p1, p2, x_r, hermite, out):
    """Advance columns ``[0, n)`` of every node by one step and create the newborn in column ``n``.

    Survival exponent ``int_0^dt f(x(u)) du``: ``hermite`` -> corrected trapezoid
    ``dt/2 (f0 + f1) + dt^2/12 (g0 - g1)`` with ``g = d f(x(u))/du = f'(x) (c - x)`` (Euler-Maclaurin,
    local error ``O(dt^5)`` on a smooth path, one intensity evaluation per cohort), clipped at 0; else
    Simpson on start / mid / end (two evaluations).  ``out`` (n_nodes, 5) receives rate, slice mass,
    sum m x, sum m x^2, min f seen.
    """
    eh = math.exp(-0.5 * dt)
    ef = math.exp(-dt)
    w = dt / 6.0
    half = 0.5 * dt
    corr = dt * dt / 12.0
    for k in range(pos.shape[0]):
        c = I0 + hbar[k]
        s = 0.0
        r = 0.0
        m1 = 0.0
        m2 = 0.0
        fmin = math.inf
        for j in range(n):
            x0 = pos[k, j]
            f0 = fval[k, j]
            x1 = leaky_flow_decayed(c, x0, ef)
            f1 = intensity_value(code, p0, p1, p2, x1)
            if hermite:
                g0 = intensity_derivative_from_value(code, p0, p1, p2, x0, f0) * (c - x0)
                g1 = intensity_derivative_from_value(code, p0, p1, p2, x1, f1) * (c - x1)
                integral = max(0.0, half * (f0 + f1) + corr * (g0 - g1))
            else:
                fm = intensity_value(code, p0, p1, p2, leaky_flow_decayed(c, x0, eh))
                integral = w * (f0 + 4.0 * fm + f1)
                fmin = min(fmin, fm)
            m = mass[k, j] * math.exp(-integral)
            pos[k, j] = x1
            mass[k, j] = m
            fval[k, j] = f1
            s += m
            r += m * f1
            m1 += m * x1
            m2 += m * x1 * x1
            fmin = min(fmin, f1)
        xn = leaky_flow_decayed(c, x_r, eh)
        fn = intensity_value(code, p0, p1, p2, xn)
        mn = 1.0 - s
        pos[k, n] = xn
        mass[k, n] = mn
        fval[k, n] = fn
        out[k, 0] = r + mn * fn
        out[k, 1] = s + mn
        out[k, 2] = m1 + mn * xn
        out[k, 3] = m2 + mn * xn * xn
        out[k, 4] = min(fmin, fn)


@njit(fastmath=_FAST, error_model=_ERRORS)
def _hermite_pass_a(pos, n, hbar, dt, I0, code, p1, p2, x_r, arg):
    """Pass A of the split Hermite step: carry positions (columns ``[0, n)``, and the newborn at ``x_r``
    carried ``dt/2`` into column ``n``) and write the exponent of ``f(x1)`` to ``arg``
    (``intensity_exponent``: sigmoid ``-beta (x1 - theta)``, or ``+beta (x1 - theta)`` in the far left
    tail, at most 708; exponential ``beta (x1 - theta)``; nothing for the families without one).
    No transcendental call in the loop; the exponentials are done in between by numpy's SIMD
    ``np.exp``."""
    ef = math.exp(-dt)
    eh = math.exp(-0.5 * dt)
    for k in range(pos.shape[0]):
        c = I0 + hbar[k]
        for j in range(n):
            x1 = leaky_flow_decayed(c, pos[k, j], ef)
            pos[k, j] = x1
            if code == SIGMOID or code == EXPONENTIAL:
                arg[k, j] = intensity_exponent(code, p1, p2, x1)
        xn = leaky_flow_decayed(c, x_r, eh)
        pos[k, n] = xn
        if code == SIGMOID or code == EXPONENTIAL:
            arg[k, n] = intensity_exponent(code, p1, p2, xn)


@njit(fastmath=_FAST, error_model=_ERRORS)
def _hermite_pass_b(pos, fval, n, hbar, dt, I0, code, p0, p1, p2, arg):
    """Pass B: ``f1`` from ``arg`` (holding ``exp(...)`` after numpy, ``intensity_from_exponential``),
    Hermite survival exponent
    ``-(dt/2 (f0 + f1) + dt^2/12 (g0 - g1))`` (clipped at 0) written back to ``arg``; ``fval`` <- ``f1``.
    Positions are already the end positions; the start positions are recovered from the exact flow.
    Column ``n`` (the newborn) only gets ``f`` at its position."""
    ef = math.exp(-dt)
    inv_ef = 1.0 / ef
    half = 0.5 * dt
    corr = dt * dt / 12.0
    for k in range(pos.shape[0]):
        c = I0 + hbar[k]
        for j in range(n + 1):
            x1 = pos[k, j]
            f1 = intensity_from_exponential(code, p0, p1, p2, x1, arg[k, j])
            x0 = leaky_flow_decayed(c, x1, inv_ef)
            f0 = fval[k, j]
            g0 = intensity_derivative_from_value(code, p0, p1, p2, x0, f0) * (c - x0)
            g1 = intensity_derivative_from_value(code, p0, p1, p2, x1, f1) * (c - x1)
            arg[k, j] = -max(0.0, half * (f0 + f1) + corr * (g0 - g1))
            fval[k, j] = f1
        arg[k, n] = 0.0  # the newborn's column was computed with a meaningless f0; no survival factor


@njit(fastmath=_FAST, error_model=_ERRORS)
def _hermite_pass_c(pos, mass, fval, n, arg, out):
    """Pass C: masses times the survival (``arg`` holds ``exp(-integral)``), newborn mass
    ``1 - sum(survivors)``, and the per-node sums of :func:`_leaky_step`."""
    for k in range(pos.shape[0]):
        s = 0.0
        r = 0.0
        m1 = 0.0
        m2 = 0.0
        fmin = math.inf
        for j in range(n):
            m = mass[k, j] * arg[k, j]
            mass[k, j] = m
            x1 = pos[k, j]
            f1 = fval[k, j]
            s += m
            r += m * f1
            m1 += m * x1
            m2 += m * x1 * x1
            fmin = min(fmin, f1)
        xn = pos[k, n]
        fn = fval[k, n]
        mn = 1.0 - s
        mass[k, n] = mn
        out[k, 0] = r + mn * fn
        out[k, 1] = s + mn
        out[k, 2] = m1 + mn * xn
        out[k, 3] = m2 + mn * xn * xn
        out[k, 4] = min(fmin, fn)


@njit
def _all_ok(out, h, mass, newborn_col, mass_tol):
    """Fast test of every condition of :func:`_check` (which then builds the message)."""
    for k in range(out.shape[0]):
        for c in range(4):
            if not math.isfinite(out[k, c]):
                return False
        if not math.isfinite(h[k]) or out[k, 4] < 0.0 or mass[k, newborn_col] < -mass_tol \
                or abs(out[k, 1] - 1.0) > mass_tol:
            return False
    return True


class _Cohorts:
    """Column storage of the cohorts of all (distinct) nodes."""

    def __init__(self, pos0: np.ndarray, mass0: np.ndarray, group0: int, f0: np.ndarray, capacity: int):
        n_nodes, m0 = pos0.shape
        cap = max(capacity, m0 + 16)
        self.pos = np.zeros((n_nodes, cap))
        self.mass = np.zeros((n_nodes, cap))
        self.fval = np.zeros((n_nodes, cap))
        self.arg = np.zeros((n_nodes, cap))  # scratch of the split Hermite step
        self.group = np.zeros(cap, dtype=np.int8)
        self.pos[:, :m0] = pos0
        self.mass[:, :m0] = mass0
        self.fval[:, :m0] = f0
        self.group[:m0] = group0
        self.n = m0
        self.max_alive = m0
        self.dropped = 0
        self.dropped_mass = np.zeros(n_nodes)
        self.merged = 0
        self.merge_cost = 0.0

    def ensure_room(self, drop_tol: float) -> None:
        if self.n + 1 < self.pos.shape[1]:
            return
        self.prune(drop_tol)
        if self.n + 1 >= 0.75 * self.pos.shape[1]:
            cap = 2 * self.pos.shape[1]
            for name in ("pos", "mass", "fval", "arg"):
                old = getattr(self, name)
                new = np.zeros((old.shape[0], cap))
                new[:, : self.n] = old[:, : self.n]
                setattr(self, name, new)
            g = np.zeros(cap, dtype=np.int8)
            g[: self.n] = self.group[: self.n]
            self.group = g

    def prune(self, drop_tol: float) -> None:
        n = self.n
        if n == 0:
            return
        colmax = np.max(np.abs(self.mass[:, :n]), axis=0)
        drop = colmax < drop_tol
        nd = int(np.count_nonzero(drop))
        if nd == 0:
            return
        keep = np.flatnonzero(~drop)
        self.dropped_mass += self.mass[:, :n][:, drop].sum(axis=1)
        self.dropped += nd
        m = keep.size
        for arr in (self.pos, self.mass, self.fval):
            arr[:, :m] = arr[:, keep]
        self.group[:m] = self.group[keep]
        self.n = m

    def merge(self, merge_tol: float, intensity, keep_young: int) -> None:
        """Merge neighbouring born cohorts ``(j, j+1)`` (disjoint pairs, oldest first, the newest
        ``keep_young`` columns excluded) into one atom at their centre of mass when, on every node,
        ``cost = m_j m_{j+1} / (m_j + m_{j+1}) (x_j - x_{j+1})^2 <= merge_tol``.  For any ``psi`` the
        change of ``<psi, mu>`` is at most ``sup|psi''| cost / 2`` per merge; the sum of the costs
        (maximum over nodes of each merge) is reported as ``counters.merge_cost``."""
        n = self.n
        born = np.flatnonzero(self.group[:n] == 0)
        if born.size == 0:
            return
        b0 = int(born[0])
        npairs = (n - keep_young - b0) // 2
        if npairs < 1:
            return
        j = b0 + 2 * np.arange(npairs)
        m1, m2 = self.mass[:, j], self.mass[:, j + 1]
        x1, x2 = self.pos[:, j], self.pos[:, j + 1]
        M = m1 + m2
        safe = np.where(M > 0, M, 1.0)
        cost = np.where(M > 0, m1 * m2 / safe * (x1 - x2) ** 2, 0.0).max(axis=0)
        ok = cost <= merge_tol
        if not np.any(ok):
            return
        jo = j[ok]
        X = np.where(M[:, ok] > 0, (m1[:, ok] * x1[:, ok] + m2[:, ok] * x2[:, ok]) / safe[:, ok], x1[:, ok])
        self.pos[:, jo] = X
        self.mass[:, jo] = M[:, ok]
        self.fval[:, jo] = intensity(X)
        keep = np.ones(n, dtype=bool)
        keep[jo + 1] = False
        idx = np.flatnonzero(keep)
        for arr in (self.pos, self.mass, self.fval):
            arr[:, : idx.size] = arr[:, idx]
        self.group[: idx.size] = self.group[idx]
        self.n = idx.size
        self.merged += jo.size
        self.merge_cost += float(cost[ok].sum())

    def snapshot(self, t: float, expand: np.ndarray, initial_kind: CohortKind) -> CohortSnapshot:
        """The slice laws now; columns of group 0 are the born cohorts, the others the initial datum's."""
        n = self.n
        return CohortSnapshot(time=t, pos=self.pos[:, :n].copy(), mass=self.mass[:, :n].copy(),
                              born=self.group[:n] == 0, initial_kind=initial_kind, node_of=expand.copy())


def _numpy_step(model: NeuronModel, st: _Cohorts, hbar: np.ndarray, dt: float, out: np.ndarray) -> None:
    """Vectorised step for user-supplied drifts/intensities (same scheme as :func:`_leaky_step`)."""
    n = st.n
    b, f = model.drift, model.intensity
    h = hbar[:, None]

    x0 = st.pos[:, :n]
    if isinstance(b, Leaky):
        xm = b.flow(x0, 0.5 * dt, h)
        x1 = b.flow(x0, dt, h)
        xn = b.flow(model.reset, 0.5 * dt, hbar)
    else:
        xm = _carry_half(b, x0, h, dt)
        x1 = _carry_half(b, xm, h, dt)
        xn = _carry_half(b, np.full((hbar.size, 1), model.reset), h, dt)[:, 0]
    fm = f(xm)
    f1 = f(x1)
    m = st.mass[:, :n] * np.exp(-dt / 6.0 * (st.fval[:, :n] + 4.0 * fm + f1))
    st.pos[:, :n] = x1
    st.mass[:, :n] = m
    st.fval[:, :n] = f1
    fn = f(xn)
    s = m.sum(axis=1)
    mn = 1.0 - s
    st.pos[:, n] = xn
    st.mass[:, n] = mn
    st.fval[:, n] = fn
    out[:, 0] = (m * f1).sum(axis=1) + mn * fn
    out[:, 1] = s + mn
    out[:, 2] = (m * x1).sum(axis=1) + mn * xn
    out[:, 3] = (m * x1 * x1).sum(axis=1) + mn * xn * xn
    out[:, 4] = min(float(np.min(fm, initial=np.inf)), float(np.min(f1, initial=np.inf)), float(np.min(fn)))


def _carry_half(b, x: np.ndarray, h: np.ndarray, dt: float) -> np.ndarray:
    """Explicit midpoint (RK2) over ``dt/2`` for ``dx/dt = b(x) + h`` (local error ``O(dt^3)``)."""
    tau = 0.5 * dt
    xm = x + 0.5 * tau * (b(x) + h)
    return x + tau * (b(xm) + h)


def solve_lagrangian(model: NeuronModel, K: np.ndarray, quadrature: str, xi: np.ndarray, grid: TimeGrid,
                     spec, save_idx: np.ndarray, *, drop_tol: float, prune_every: int,
                     mass_tol: float, merge_identical_nodes: bool, merge_tol: float = 0.0,
                     survival_rule: str = "hermite") -> MeanFieldSolution:
    """Run the Lagrangian scheme (arguments already validated by :func:`solvers.meanfield.solve`)."""
    wall0 = time.perf_counter()
    n_xi = xi.size
    n_steps, dt = grid.n_steps, grid.dt
    pos0, mass0 = spec.cohorts(n_xi)
    group0 = 1 if spec.atomic else 2
    initial_kind = CohortKind.ATOM if spec.atomic else CohortKind.QUADRATURE

    rep, node_of, Kred = distinct_nodes(K, pos0, mass0, merge=merge_identical_nodes)
    n_nodes = rep.size

    drift_args = model.drift.compiled_args()
    fam_args = model.intensity.compiled_args()
    # the compiled families all have exact derivatives, which the Hermite rule needs
    fast = drift_args is not None and drift_args[0] == LEAKY and fam_args is not None \
        and model.intensity.exact_derivative
    if fast:
        code, p = fam_args[0], fam_args[1:]
        I0 = drift_args[1]
    hermite = survival_rule == "hermite"

    st = _Cohorts(pos0[rep], mass0[rep], group0, model.intensity(pos0[rep]),
                  capacity=pos0.shape[1] + min(n_steps, 2048) + 2)

    T = n_steps + 1
    rates = np.empty((T, n_nodes))
    inputs = np.empty((T, n_nodes))
    masses = np.empty((T, n_nodes))
    means = np.empty((T, n_nodes))
    m2s = np.empty((T, n_nodes))
    hbars = np.empty((n_steps, n_nodes))  # the input each step used (what the dual solvers freeze)
    m = st.mass[:, : st.n]
    rates[0] = (m * st.fval[:, : st.n]).sum(axis=1)
    masses[0] = m.sum(axis=1)
    means[0] = (m * st.pos[:, : st.n]).sum(axis=1)
    m2s[0] = (m * st.pos[:, : st.n] ** 2).sum(axis=1)
    inputs[0] = Kred @ rates[0]
    if np.any(np.abs(masses[0] - 1.0) > 1e-12):
        raise SimulationError(f"{SCHEME}: initial slice masses differ from 1 by {np.max(np.abs(masses[0] - 1)):.3g}")
    snaps = []
    save_set = set(int(i) for i in save_idx)
    if 0 in save_set:
        snaps.append(st.snapshot(0.0, node_of, initial_kind))
    out = np.empty((n_nodes, 5))

    def step(hbar):
        st.ensure_room(drop_tol)
        if fast and hermite and _SPLIT_HERMITE:  # split step: numba passes around numpy's SIMD exponentials
            k = st.n
            _hermite_pass_a(st.pos, k, hbar, dt, I0, code, p[1], p[2], model.reset, st.arg)
            if code == SIGMOID or code == EXPONENTIAL:  # exponential: overflow -> inf is a blow-up, caught
                with np.errstate(over="ignore", under="ignore"):
                    np.exp(st.arg[:, : k + 1], out=st.arg[:, : k + 1])
            _hermite_pass_b(st.pos, st.fval, k, hbar, dt, I0, code, p[0], p[1], p[2], st.arg)
            np.exp(st.arg[:, :k], out=st.arg[:, :k])
            _hermite_pass_c(st.pos, st.mass, st.fval, k, st.arg, out)
        elif fast:
            _leaky_step(st.pos, st.mass, st.fval, st.n, hbar, dt, I0, code, p[0], p[1], p[2], model.reset,
                        hermite, out)
        else:
            _numpy_step(model, st, hbar, dt, out)
        st.n += 1
        st.group[st.n - 1] = 0
        st.max_alive = max(st.max_alive, st.n)

    for n in range(n_steps):
        if n == 0:  # Heun predictor-corrector on the first step
            saved = (st.pos.copy(), st.mass.copy(), st.fval.copy(), st.arg.copy(), st.group.copy(), st.n)
            step(inputs[0])
            h_pred = Kred @ out[:, 0]
            st.pos, st.mass, st.fval, st.arg, st.group, st.n = saved
            hbar = 0.5 * (inputs[0] + h_pred)
        else:
            hbar = 1.5 * inputs[n] - 0.5 * inputs[n - 1]
        hbars[n] = hbar
        step(hbar)
        t1 = (n + 1) * dt
        rates[n + 1] = out[:, 0]
        masses[n + 1] = out[:, 1]
        means[n + 1] = out[:, 2]
        m2s[n + 1] = out[:, 3]
        inputs[n + 1] = Kred @ out[:, 0]
        if not _all_ok(out, inputs[n + 1], st.mass, st.n - 1, mass_tol):
            _check(out, inputs[n + 1], st, t1, xi[rep], mass_tol)
        if n + 1 in save_set:
            snaps.append(st.snapshot(t1, node_of, initial_kind))
        if (n + 1) % prune_every == 0:
            st.prune(drop_tol)
            if merge_tol > 0:
                st.merge(merge_tol, model.intensity, keep_young=prune_every)

    counters = LagrangianCounters(
        steps=n_steps, dt=dt, dt_requested=grid.dt_requested, wall_time=time.perf_counter() - wall0,
        distinct_nodes=n_nodes, cohorts_alive=st.n, cohorts_max=st.max_alive, cohorts_dropped=st.dropped,
        dropped_mass=float(np.max(st.dropped_mass)) if st.dropped else 0.0, cohorts_merged=st.merged,
        merge_cost=st.merge_cost, compiled=fast, survival_rule=survival_rule if fast else "simpson")
    logger.debug("lagrangian solve: %s", counters)
    return MeanFieldSolution(
        method=SCHEME, order=ORDER, xi=xi, t=grid.times,
        rates=rates[:, node_of], inputs=inputs[:, node_of], masses=masses[:, node_of],
        means=means[:, node_of], second_moments=m2s[:, node_of], snapshots=tuple(snaps),
        counters=counters, quadrature=quadrature, step_inputs=hbars[:, node_of])


def _check(out: np.ndarray, h: np.ndarray, st: _Cohorts, t: float, xi_nodes: np.ndarray, mass_tol: float) -> None:
    bad = ~np.isfinite(out[:, :4]).all(axis=1) | ~np.isfinite(h)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise SimulationError(f"{SCHEME}: non-finite state (rate {out[k, 0]!r}, input {h[k]!r}) at t = {t:.6g}, "
                              f"xi = {xi_nodes[k]:.6g}: the intensity f or the drift b returned a non-finite "
                              "value, or the solution grew without bound (check f and b for NaN or overflow on "
                              "the states reached; the kernel was checked finite before the run)")
    if np.any(out[:, 4] < 0):
        k = int(np.flatnonzero(out[:, 4] < 0)[0])
        raise SimulationError(f"{SCHEME}: negative intensity f = {out[k, 4]:.6g} met at t = {t:.6g}, "
                              f"xi = {xi_nodes[k]:.6g}; the intensity must be >= 0")
    newborn = st.mass[:, st.n - 1]
    if np.any(newborn < -mass_tol):
        k = int(np.argmin(newborn))
        raise SimulationError(f"{SCHEME}: negative mass {newborn[k]:.3g} created at t = {t:.6g}, "
                              f"xi = {xi_nodes[k]:.6g} (surviving mass exceeded 1)")
    err = np.abs(out[:, 1] - 1.0)
    if np.any(err > mass_tol):
        k = int(np.argmax(err))
        raise SimulationError(f"{SCHEME}: slice mass {out[k, 1]!r} differs from 1 by more than {mass_tol:g} "
                              f"at t = {t:.6g}, xi = {xi_nodes[k]:.6g}")


# ------------------------------------------------------------------------------ registry entry
@dataclass(frozen=True)
class LagrangianCounters(SchemeCounters):
    """Counters of the Lagrangian scheme.

    Attributes
    ----------
    cohorts_alive, cohorts_max : int
        Columns (cohorts) at the end and at the largest.
    cohorts_dropped : int
        Columns dropped because their mass was below ``drop_tol`` on every node.
    dropped_mass : float
        Their total mass (maximum over nodes), re-injected at ``x_r`` by the next birth.
    cohorts_merged : int
        Merges of neighbouring born cohorts (``merge_tol``).
    merge_cost : float
        Sum of the weak-error costs ``m1 m2 / (m1 + m2) (x1 - x2)^2`` of the merges.
    compiled : bool
        Whether the compiled (numba) step ran (leaky drift and a named intensity family).
    survival_rule : {"hermite", "simpson"}
        The survival quadrature actually used.
    """

    cohorts_alive: int
    cohorts_max: int
    cohorts_dropped: int
    dropped_mass: float
    cohorts_merged: int
    merge_cost: float
    compiled: bool
    survival_rule: str


@SCHEMES.register
class LagrangianScheme(Scheme):
    """Registry entry of the Lagrangian scheme (contract: :class:`solvers.meanfield.base.Scheme`).

    Options: ``drop_tol`` (in ``[0, 1e-6)``, default 1e-15), ``prune_every`` (steps between pruning and
    merging passes, ``>= 1``, default 16), ``merge_tol`` (in ``[0, 1e-6)``, default 1e-14; 0: never
    merge), ``survival_rule`` (``"hermite"``, default, or ``"simpson"``).  Default ``dt``: 0.01.
    """

    name = SCHEME
    order = ORDER
    summary = "cohorts along characteristics, exact mass conservation (reference)"
    options = {"drop_tol": 1e-15, "prune_every": 16, "merge_tol": 1e-14, "survival_rule": "hermite"}

    def check_options(self, problem: MeanFieldProblem, options: dict[str, Any]) -> dict[str, Any]:
        drop_tol = check_nonnegative("drop_tol", options["drop_tol"], "pass e.g. drop_tol=1e-15")
        if not drop_tol < 1e-6:
            raise bad_argument("drop_tol", drop_tol, "must be in [0, 1e-6)", "pass e.g. drop_tol=1e-15")
        fix = "pass e.g. merge_tol=1e-14 (0: no merging)"
        merge_tol = check_nonnegative("merge_tol", options["merge_tol"], fix)
        if not merge_tol < 1e-6:
            raise bad_argument("merge_tol", merge_tol, "must be in [0, 1e-6)", fix)
        return {"drop_tol": drop_tol, "merge_tol": merge_tol,
                "prune_every": check_int("prune_every", options["prune_every"], 1, "pass e.g. prune_every=16"),
                "survival_rule": check_choice("survival_rule", options["survival_rule"], ("hermite", "simpson"),
                                              "pass survival_rule='hermite' (default)")}

    def default_dt(self) -> float:
        return 0.01

    def run(self, grid: TimeGrid, save_idx: np.ndarray) -> MeanFieldSolution:
        p = self.problem
        sol = solve_lagrangian(p.model, p.K, p.quadrature, p.xi, grid, p.initial, save_idx, mass_tol=p.mass_tol,
                               merge_identical_nodes=p.merge_identical_nodes, **self.opts)
        return dataclasses.replace(sol, problem=p, options=dict(self.opts))
