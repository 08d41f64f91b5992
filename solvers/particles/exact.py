"""Exact event-driven simulation by per-neuron thinning (Lewis-Shedler / Ogata).

Each neuron ``j`` carries a dominating rate ``L_j >= f(X_j(s))`` valid from its last candidate (or
its last redraw) until its next one, and a candidate time drawn as ``t + Exp(L_j)`` from its own
random stream.  Candidates of all neurons are merged in an indexed binary heap ordered by
``(time, stream_id)``.  At a candidate ``(t, j)`` the potential ``X_j(t)`` is read and the
candidate is accepted with probability ``f(X_j(t)) / L_j`` (a second uniform of stream ``j``).  An
accepted candidate is a spike: ``X_j = x_r`` and ``X_i += W_ij`` for ``i != j`` (``W_jj`` ignored).
Then ``j`` draws its next candidate.  By the memoryless property of the exponential law, redrawing
a candidate at any time with a new valid bound is also exact.

Dominating rates
    * bounded ``f`` (``f.sup < inf``): the global bound ``L = f.sup``; candidates of a neuron form a
      Poisson process of rate ``L`` independent of the state, nothing is redrawn after a spike;
    * unbounded non-decreasing ``f`` with leaky drift: the leaky flow moves monotonically towards
      ``I0``, so ``sup_{s >= t} f(X_j(s)) = max(f(X_j(t)), f(I0))`` until ``X_j`` next jumps.  This
      local bound is recomputed at every candidate of ``j``, and, after a spike of ``k``, for every
      neuron with ``W_jk > 0`` (whose bound was invalidated), which then redraws its candidate.  A
      negative kick only lowers the future of ``X_j``, so its bound stays valid.

Flows
    * ``Leaky(I0)`` (compiled fast path): an integrating factor.  The state is stored as
      ``Y_i = (X_i - I0) e^{t - t_ref}``, which is constant between events, so a spike of ``j`` at
      ``t`` is the single column update ``Y += e^{t - t_ref} W[:, j]`` and reading ``X_j(t) = I0 +
      Y_j e^{-(t - t_ref)}`` is O(1).  When ``t - t_ref`` exceeds 32 the reference is moved to ``t``
      (``Y *= e^{-(t - t_ref)}``, O(N)), so ``Y`` never exceeds ``e^32 max|X - I0|`` and long runs
      cannot overflow.  Potentials are exact up to rounding (relative error ~ 1e-15 of ``|X - I0|``).
    * any other drift (a :class:`~solvers.model.CustomDrift`, Python path): classical RK4 on all
      neurons between consecutive candidates, with steps of at most ``ode_step`` (default 1e-2),
      global error ``O(ode_step^4)`` (order 4, measured by a test).  O(N) work per candidate.

Custom (Python-callable) intensities cannot be called from compiled code: they run on the Python
reference loop (:func:`run_exact_python`, same random streams and same event order, O(N) numpy work
and one Python call of ``f`` per candidate).  At every candidate ``0 <= f(X_j) <= L_j`` is checked
(relative slack 1e-9 for rounding) and a violation raises :class:`~solvers.errors.SimulationError`
naming the time, the neuron and the value.  So does a non-finite potential or intensity.

Random numbers per neuron: one uniform per candidate time drawn, one per acceptance test.  The
compiled loop itself is ``_kernels._exact_leaky_loop`` (all numba code lives in
:mod:`solvers.particles._kernels`).

Cost: O(log N) per candidate (heap) plus one column update per spike (O(N) dense, O(nnz of the
column) sparse); the unbounded path adds O(#positive entries of the column x log N) per spike.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from solvers.particles._kernels import (
    ABOVE_BOUND,
    BOUND_SLACK,
    NEGATIVE_INTENSITY,
    NOT_FINITE,
    OK,
    REBASE_AFTER,
    TOO_MANY_SPIKES,
    _exact_leaky_loop,
    _next_time,
    uniform,
)

__all__ = ["LoopOutput", "run_exact_leaky", "run_exact_python", "make_flow", "REBASE_AFTER"]


@dataclass
class LoopOutput:
    """What a loop returns: a status code (``_kernels.OK`` or an error with its time, neuron, value
    and bound), spikes, counters and the recorded states ``(R, N)``."""

    status: int
    err_t: float
    err_j: int
    err_value: float
    err_bound: float
    spike_times: np.ndarray
    spike_neurons: np.ndarray
    n_candidates: int
    states: np.ndarray
    n_rebases: int


def run_exact_leaky(op, fam_args, *, local: bool, fsup: float, I0: float, xr: float, x0: np.ndarray,
                    keys: np.ndarray, sids: np.ndarray, root1, t_end: float, record_times: np.ndarray,
                    max_spikes: int) -> LoopOutput:
    """Compiled exact loop for the leaky drift and a named intensity family."""
    tag, dense, data, indices, indptr = op.kernel_args()
    fam, p0, p1, p2 = fam_args
    N = x0.shape[0]
    est = N * (fsup if math.isfinite(fsup) else 1.0) * t_end * 0.5 + 1024
    cap0 = int(min(max(est, 1024), 1 << 22, max_spikes + 1))
    out = _exact_leaky_loop(tag, dense, data, indices, indptr, fam, p0, p1, p2, bool(local),
                            float(fsup), float(I0), float(xr), x0, keys, sids, root1, float(t_end),
                            record_times, int(max_spikes), cap0)
    return LoopOutput(*out)


# ------------------------------------------------------------------------------ Python reference
def _rk4(b, X: np.ndarray, dt: float, max_step: float) -> np.ndarray:
    n = max(1, math.ceil(dt / max_step - 1e-12))
    h = dt / n
    for _ in range(n):
        k1 = b(X)
        k2 = b(X + 0.5 * h * k1)
        k3 = b(X + 0.5 * h * k2)
        k4 = b(X + h * k3)
        X = X + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return X


def make_flow(drift, ode_step: float):
    """``flow(X, dt)`` for ``drift``: exact for leaky, RK4 with steps <= ``ode_step`` otherwise."""
    if drift.kind == "leaky":
        I0 = float(drift.I0)
        return lambda X, dt: I0 + (X - I0) * math.exp(-dt)
    return lambda X, dt: _rk4(drift, X, dt, ode_step) if dt > 0 else X


def run_exact_python(op, model, *, local: bool, fsup: float, x0: np.ndarray, keys: np.ndarray,
                     sids: np.ndarray, root1, t_end: float, record_times: np.ndarray, max_spikes: int,
                     ode_step: float) -> LoopOutput:
    """Reference exact loop in Python: any drift, any intensity (slow: O(N) numpy per candidate).

    Same streams, same counters and same event order as the compiled loop, so both give the same
    spike trains (up to decisions within rounding of the acceptance threshold).
    """
    f = model.intensity
    flow = make_flow(model.drift, ode_step)
    I0 = float(model.drift.I0) if local else math.nan
    fI0 = float(f(I0)) if local else math.nan
    xr = float(model.reset)
    N = x0.shape[0]
    X = x0.astype(np.float64).copy()
    t_now = 0.0
    ctr = np.zeros(N, dtype=np.uint64)
    one = np.uint64(1)

    def bound(x: float) -> float:
        return max(float(f(x)), fI0) if local else fsup

    def draw(i: int, t: float) -> float:
        val = _next_time(t, L[i], keys[i], ctr[i], root1)
        ctr[i] += one
        return float(val)

    def fail(status, t, j, v, b=math.nan):
        return LoopOutput(status, t, j, v, b, np.empty(0), np.empty(0, np.int64), n_c,
                          np.empty((0, N)), 0)

    L = np.array([bound(float(x)) for x in X]) if local else np.full(N, fsup)
    for i in range(N):
        if not L[i] < math.inf:
            return fail(NOT_FINITE, 0.0, i, L[i])
    version = np.zeros(N, dtype=np.int64)
    heap = [(draw(i, 0.0), int(sids[i]), i, 0) for i in range(N)]
    heapq.heapify(heap)
    R = record_times.shape[0]
    states = np.empty((R, N))
    r_idx = 0
    st: list[float] = []
    sn: list[int] = []
    n_c = 0
    while heap:
        t, _, j, ver = heap[0]
        if ver != version[j]:
            heapq.heappop(heap)
            continue
        if not t <= t_end:
            break
        heapq.heappop(heap)
        while r_idx < R and record_times[r_idx] < t:
            states[r_idx] = flow(X, float(record_times[r_idx]) - t_now)
            r_idx += 1
        X = flow(X, t - t_now)
        t_now = t
        n_c += 1
        x = float(X[j])
        fx = float(f(x))
        if not (math.isfinite(x) and math.isfinite(fx)):
            return fail(NOT_FINITE, t, j, x if not math.isfinite(x) else fx)
        if fx < 0:
            return fail(NEGATIVE_INTENSITY, t, j, fx)
        if fx > L[j] * (1.0 + BOUND_SLACK):
            return fail(ABOVE_BOUND, t, j, fx, L[j])
        u = float(uniform(keys[j], ctr[j], root1))
        ctr[j] += one
        xj = x
        if u * L[j] < fx:
            if len(st) >= max_spikes:
                return fail(TOO_MANY_SPIKES, t, j, len(st))
            st.append(t)
            sn.append(j)
            col = op.column(j)
            X += col
            X[j] = xr
            xj = xr
            if local:
                for i in np.flatnonzero(col > 0):
                    if i == j:
                        continue
                    L[i] = bound(float(X[i]))
                    if not L[i] < math.inf:
                        return fail(NOT_FINITE, t, int(i), L[i])
                    version[i] += 1
                    heapq.heappush(heap, (draw(i, t), int(sids[i]), int(i), int(version[i])))
        if local:
            L[j] = bound(xj)
        version[j] += 1
        heapq.heappush(heap, (draw(j, t), int(sids[j]), j, int(version[j])))
    while r_idx < R:
        states[r_idx] = flow(X, float(record_times[r_idx]) - t_now)
        r_idx += 1
    return LoopOutput(OK, math.nan, -1, math.nan, math.nan, np.asarray(st, dtype=float),
                      np.asarray(sn, dtype=np.int64), n_c, states, 0)
