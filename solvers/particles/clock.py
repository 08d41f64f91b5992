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

from solvers.particles import _chunks
from solvers.particles._chunks import RunMonitor
from solvers.particles._kernels import (
    ABOVE_BOUND,
    DONE,
    F_ERRB,
    F_ERRT,
    F_ERRV,
    F_TNOW,
    FULL,
    I_ERRJ,
    I_NC,
    I_NSP,
    I_STATUS,
    N_FSTATE,
    N_ISTATE,
    NEGATIVE_INTENSITY,
    NOT_FINITE,
    OK,
    TOO_MANY_SPIKES,
    _clock_chunk,
    uniforms,
)
from solvers.particles.exact import LoopOutput, _grown, initial_capacity, make_flow

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
                    grid: np.ndarray, record_times: np.ndarray, max_spikes: int, fsup: float,
                    monitor: RunMonitor | None = None, chunk_work: int | None = None) -> LoopOutput:
    """Compiled clock loop for the leaky drift and a named intensity family, run in chunks (as
    :func:`solvers.particles.exact.run_exact_leaky`)."""
    opargs = op.kernel_args()
    fam, p0, p1, p2 = fam_args
    N = x0.shape[0]
    t_end = float(grid[-1])
    budget = int(_chunks.CHUNK_WORK if chunk_work is None else chunk_work)
    monitor = monitor if monitor is not None else RunMonitor(method="clock", N=N, t_end=t_end, progress=False)
    cap = max(initial_capacity(N, fsup, t_end, max_spikes), N + 1)
    st = np.empty(cap)
    sn = np.empty(cap, dtype=np.int64)
    X = np.array(x0, dtype=np.float64)
    fired = np.empty(N, dtype=np.int64)
    states = np.empty((record_times.shape[0], N))
    istate = np.zeros(N_ISTATE, dtype=np.int64)
    fstate = np.zeros(N_FSTATE)
    fstate[[F_ERRT, F_ERRV, F_ERRB]] = np.nan
    istate[I_ERRJ] = -1
    n_chunks = 0
    while True:
        code = _clock_chunk(opargs, fam, p0, p1, p2, float(I0), float(xr), keys, root1, grid, record_times,
                            int(max_spikes), X, fired, st, sn, states, istate, fstate, budget)
        n_chunks += 1
        if code == DONE:
            break
        if code == FULL:
            size = max(2 * st.shape[0], int(istate[I_NSP]) + N + 1)
            st, sn = _grown(st, size), _grown(sn, size)
        monitor.update(fstate[F_TNOW], istate[I_NSP], istate[I_NC])
    monitor.update(fstate[F_TNOW], istate[I_NSP], istate[I_NC], final=True)
    n_sp = int(istate[I_NSP])
    return LoopOutput(int(istate[I_STATUS]), float(fstate[F_ERRT]), int(istate[I_ERRJ]), float(fstate[F_ERRV]),
                      float(fstate[F_ERRB]), st[:n_sp].copy(), sn[:n_sp].copy(), int(istate[I_NC]), states, 0, 0,
                      n_chunks)


def run_clock_python(op, model, *, x0: np.ndarray, keys: np.ndarray, root1, grid: np.ndarray,
                     record_times: np.ndarray, max_spikes: int, ode_step: float,
                     monitor: RunMonitor | None = None) -> LoopOutput:
    """Clock loop vectorised with numpy (any drift, any intensity; a Python loop over steps only);
    ``monitor`` is updated every step (budget, progress)."""
    f = model.intensity
    flow = make_flow(model.drift, ode_step)
    xr = float(model.reset)
    N = x0.shape[0]
    X = x0.astype(np.float64).copy()
    monitor = monitor if monitor is not None else RunMonitor(method="clock", N=N, t_end=float(grid[-1]),
                                                             progress=False)
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
        monitor.update(t0, n_sp, N * k)
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
    monitor.update(float(grid[-1]), n_sp, N * (grid.shape[0] - 1), final=True)
    times = np.concatenate(st) if st else np.empty(0)
    ids = np.concatenate(sn) if sn else np.empty(0, np.int64)
    return LoopOutput(OK, math.nan, -1, math.nan, math.nan, times, ids, N * (grid.shape[0] - 1), states, 0)
