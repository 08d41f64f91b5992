"""Clock-driven (time-stepped) approximate simulation, weak order 1.

Steps ``t_k = k dt`` (the last step is shortened to end exactly at ``t_end``).  Over a step of
length ``h`` from ``t_k``:

1. every neuron ``i`` fires with probability ``1 - exp(-f(X_i(t_k)) h)`` (``f`` frozen at the
   start of the step; uniform number ``k`` of neuron ``i``'s stream, so the draws are
   reproducible and do not depend on the labels);
2. every potential follows the flow over the whole step (exact for leaky ``b``, one RK4 step of
   length ``h`` otherwise);
3. at ``t_{k+1}`` the jumps are applied: every neuron that did not fire receives the sum of the
   weights ``W_ij`` of the neurons ``j`` that fired; every neuron that fired is reset to ``x_r``.
   The kicks a firing neuron would receive from the others firing in the same step are lost
   (its reset wins), as ``W_jj`` is ignored in the exact dynamics.  Spikes are recorded at
   ``t_{k+1}``, the time their effect is applied.

Each neuron fires at most once per step.  Rule on the step: ``dt <= t_end`` and
``dt * sup f <= 1`` (for unbounded ``f`` the product ``dt * f(X_i)`` is checked at every step and a
violation raises :class:`~solvers.errors.SimulationError`).  The scheme is weak order 1 in ``dt``
(measured by ``tests/convergence/test_particles_clock.py``).  States recorded at a time ``r`` strictly
inside a step are the flow of the state at the start of that step (the jumps come at its end).
"""
from __future__ import annotations

import math

import numpy as np

from solvers.particles._kernels import (
    ABOVE_BOUND,
    NEGATIVE_INTENSITY,
    NOT_FINITE,
    OK,
    TOO_MANY_SPIKES,
    _clock_leaky_loop,
    uniforms,
)
from solvers.particles.exact import LoopOutput, make_flow

__all__ = ["run_clock_leaky", "run_clock_python", "step_grid"]


def step_grid(t_end: float, dt: float) -> np.ndarray:
    """Step start times and the end: ``[0, dt, 2 dt, ..., t_end]`` (last step possibly shorter)."""
    n = int(math.floor(t_end / dt + 1e-9))
    grid = np.arange(n + 1) * dt
    if t_end - grid[-1] > 1e-9 * t_end:
        grid = np.append(grid, t_end)
    else:
        grid[-1] = t_end
    return grid


def run_clock_leaky(op, fam_args, *, I0: float, xr: float, x0: np.ndarray, keys: np.ndarray, root1,
                    grid: np.ndarray, record_times: np.ndarray, max_spikes: int, fsup: float) -> LoopOutput:
    """Compiled clock loop for the leaky drift and a named intensity family."""
    tag, dense, data, indices, indptr = op.kernel_args()
    fam, p0, p1, p2 = fam_args
    N = x0.shape[0]
    t_end = float(grid[-1])
    est = N * (fsup if math.isfinite(fsup) else 1.0) * t_end * 0.5 + 1024
    cap0 = int(min(max(est, 1024), 1 << 22, max_spikes + 1))
    out = _clock_leaky_loop(tag, dense, data, indices, indptr, fam, p0, p1, p2, float(I0), float(xr),
                            x0, keys, root1, grid, record_times, int(max_spikes), cap0)
    return LoopOutput(*out)


def run_clock_python(op, model, *, x0: np.ndarray, keys: np.ndarray, root1, grid: np.ndarray,
                     record_times: np.ndarray, max_spikes: int, ode_step: float) -> LoopOutput:
    """Clock loop vectorised with numpy (any drift, any intensity; a Python loop over steps only)."""
    f = model.intensity
    flow = make_flow(model.drift, ode_step)
    xr = float(model.reset)
    N = x0.shape[0]
    X = x0.astype(np.float64).copy()
    R = record_times.shape[0]
    states = np.empty((R, N))
    r_idx = 0
    st: list[np.ndarray] = []
    sn: list[np.ndarray] = []
    n_sp = 0

    def fail(status, t, j, v, b=math.nan):
        return LoopOutput(status, t, j, v, b, np.empty(0), np.empty(0, np.int64), 0, np.empty((0, N)), 0)

    for k in range(grid.shape[0] - 1):
        t0, t1 = float(grid[k]), float(grid[k + 1])
        h = t1 - t0
        while r_idx < R and record_times[r_idx] < t1:
            states[r_idx] = flow(X, float(record_times[r_idx]) - t0)
            r_idx += 1
        fx = np.asarray(f(X), dtype=float)
        bad = np.flatnonzero(~(np.isfinite(fx) & np.isfinite(X)))
        if bad.size:
            i = int(bad[0])
            return fail(NOT_FINITE, t0, i, float(fx[i]) if np.isfinite(X[i]) else float(X[i]))
        neg = np.flatnonzero(fx < 0)
        if neg.size:
            return fail(NEGATIVE_INTENSITY, t0, int(neg[0]), float(fx[neg[0]]))
        big = np.flatnonzero(fx * h > 1.0 + 1e-12)
        if big.size:
            return fail(ABOVE_BOUND, t0, int(big[0]), float(fx[big[0]]), 1.0 / h)
        u = uniforms(keys, np.full(N, k, dtype=np.uint64), root1)
        fire = np.flatnonzero(u < -np.expm1(-fx * h))
        X = flow(X, h)
        for j in fire:  # loop over the spikes of one step (column additions)
            op.add_column(X, int(j))
        X[fire] = xr
        n_sp += fire.size
        if n_sp > max_spikes:
            return fail(TOO_MANY_SPIKES, t1, -1, n_sp)
        st.append(np.full(fire.size, t1))
        sn.append(fire.astype(np.int64))
    while r_idx < R:
        states[r_idx] = X
        r_idx += 1
    times = np.concatenate(st) if st else np.empty(0)
    ids = np.concatenate(sn) if sn else np.empty(0, np.int64)
    return LoopOutput(OK, math.nan, -1, math.nan, math.nan, times, ids, N * (grid.shape[0] - 1), states, 0)
