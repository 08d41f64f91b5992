"""Exact event-driven simulation by per-neuron thinning (Lewis-Shedler / Ogata).

Each neuron ``j`` carries a dominating rate ``L_j(s) >= f(X_j(s))`` valid from its last candidate (or
its last renewal) until its next one: a constant, or for an unbounded intensity a known increasing
function of time.  Its next candidate is drawn from its own random stream (``t + Exp(L_j)``, or by
inverting the integral of ``L_j`` for one unit exponential).  Candidates of all neurons are merged
in an indexed binary heap ordered by ``(time, stream_id)``.  At a candidate ``(t, j)`` the potential
``X_j(t)`` is read and the candidate is accepted with probability ``f(X_j(t)) / L_j(t)`` (a second
uniform of stream ``j``).  An accepted candidate is a spike: ``X_j = x_r`` and ``X_i += W_ij`` for
``i != j`` (``W_jj`` ignored).  Then ``j`` draws its next candidate.  By the independent increments
of Poisson processes, redrawing a candidate at any time with a new valid bound is also exact.

Dominating rates
    * bounded ``f`` (``f.sup < inf``), any drift: the global bound ``L = f.sup``; candidates of a
      neuron form a Poisson process of rate ``L`` independent of the state, nothing is redrawn after
      a spike.
    * unbounded non-decreasing ``f`` with the leaky drift ``b(x) = I0 - x``: local bounds, renewed
      rarely.  Assumptions: ``f`` non-decreasing (``Intensity.increasing``) and the leaky drift, whose
      flow moves every potential monotonically towards its fixed point ``I0``.  When neuron ``i``
      renews its bound at ``t_c`` (at its candidates, at ``t = 0``, and when kicks have used up its
      headroom) from its potential ``x_c``:

      - without kicks its potential follows the flow from ``x_c``; the kicks it receives add
        ``K(s) = X_i(s) - flow(s)``, which the flow relaxes like the potential.  The bound allows
        ``K(s) <= g e^{-u} + kappa (1 - e^{-u})`` (``u = s - t_c``): a headroom ``g`` (a factor
        BOUND_FACTOR = 2 on the rate: ``g = ln 2 / beta`` for the exponential) plus a *kick
        allowance* ``kappa >= 0``, the mean kick drift the network is measured to exert, so that
        ``X_i(s) <= flow towards I0 + kappa from x_c, + g e^{-u}``;
      - the rate ``lam_i(u) = f(envelope(u))`` of that bound (:func:`~solvers.particles._kernels.local_bound`)
        is, for the exponential, ``min(A e^{alpha u}, lam_M)`` along the tangent of the flow, so a
        rising neuron (after a reset) has candidates at about twice its intensity; its integral
        inverts in closed form, and the next candidate is ``t_c + u`` for one unit exponential of
        the neuron's stream.  The uncapped ReLU uses the static level ``f(max(x_c, I0 + kappa) + g)``
        (``0`` below ``theta``: no candidate until a kick lifts the neuron);
      - the allowance is checked at every kick, fused with the column add of the spike: in the
        integrating-factor state (below) it is the comparison ``Y_i > Z_i + kappa e^{t - t_ref}``
        with one threshold ``Z_i = (x_c + g - kappa - I0) e^{t_c - t_ref}`` per neuron (between kicks
        the allowance only grows, so checking at kicks suffices), a vectorised count in the same
        pass; a neuron found beyond it renews its bound (a fresh draw of its own stream) and its
        heap entry, O(log N);
      - ``kappa`` starts at 0 and is re-estimated every 1024 candidates from the kick effects
        ``K`` seen at the end of every bound's life (at candidates and at renewals after kicks: sum
        of ``K`` over sum of ``1 - e^{-u}``), on a power-of-2 grid; when
        it moves up (or down by two levels) every bound is renewed at that instant (O(N); such
        changes are spaced by at least ``min(N, 1024 2^changes)`` candidates).  Any ``kappa >= 0``
        chosen from the past gives valid bounds: the estimate only trades rejected candidates
        against renewals.

      So a spike costs one fused O(N) pass (the column add every spike needs, with the comparison)
      plus O(log N) per renewed bound, and a candidate costs O(log N).  Named families run compiled;
      a custom callable with ``increasing=True`` runs on the Python reference loop with the tight
      static bound ``f(max(X_i, I0))``, no headroom and no allowance (no inverse or headroom rule
      is known for it; logged).  An unbounded intensity that is not non-decreasing, or any other
      drift, has no dominating rate: :func:`~solvers.particles.simulate` refuses it (give a bound or
      use the clock scheme).
    Relabelling equivariance is exact on both paths: a neuron's bounds, thresholds and draws depend
    only on its own state and stream and on ``kappa``, and the event order only on ``(time,
    stream_id)``.  (``kappa`` is a level of a power-of-2 grid computed from sums over events; the
    renewals of one spike are summed in array order, so a relabelled run could in principle choose
    another level, if an estimate fell within rounding, ~1e-16 relative, of a level boundary.)  The unbounded path draws
    other random numbers than the loop before version 0.3 (which redrew every positively kicked
    neuron at every spike), so it agrees with it in law, not spike for spike; the bounded path is
    unchanged, spike for spike.

Flows
    * ``Leaky(I0)`` (compiled fast path): an integrating factor.  The state is stored as
      ``Y_i = (X_i - I0) e^{t - t_ref}``, which is constant between events, so a spike of ``j`` at
      ``t`` is the single column update ``Y += e^{t - t_ref} W[:, j]`` and reading ``X_j(t) = I0 +
      Y_j e^{-(t - t_ref)}`` is O(1).  When ``t - t_ref`` exceeds 32 the reference is moved to ``t``
      (``Y *= e^{-(t - t_ref)}``, O(N)), so ``Y`` never exceeds ``e^32 max|X - I0|`` and long runs
      cannot overflow.  Potentials are exact up to rounding (relative error ~ 1e-15 of ``|X - I0|``).
      The thresholds ``Z`` of the local bounds are in the same units, and rebased with ``Y``.
    * any other drift (a :class:`~solvers.model.CustomDrift`, Python path): classical RK4 on all
      neurons between consecutive candidates, with steps of at most ``ode_step`` (default 1e-2),
      global error ``O(ode_step^4)`` (order 4, measured by a test).  O(N) work per candidate.

Custom (Python-callable) intensities cannot be called from compiled code: they run on the Python
reference loop (:func:`run_exact_python`, same random streams, same bounds and same event order, O(N)
numpy work and one Python call of ``f`` per candidate).  At every candidate ``0 <= f(X_j) <= L_j`` is
checked (relative slack 1e-9 for rounding) and a violation raises
:class:`~solvers.errors.SimulationError` naming the time, the neuron and the value.  So does a
non-finite potential or bound (a blow-up: the time and the neuron are named).

Random numbers per neuron: one uniform per candidate time drawn, one per acceptance test.  The
compiled loop is ``_kernels._exact_chunk``, run in chunks of bounded work (:mod:`solvers.particles._chunks`:
Ctrl-C, ``max_wall_time``, progress bar); all numba code lives in :mod:`solvers.particles._kernels`.

Cost: O(log N) per candidate (heap) plus one column pass per spike (O(N) dense, O(nnz of the column)
sparse), plus O(log N) per bound renewed after kicks on the unbounded path.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from solvers.particles import _chunks
from solvers.particles._chunks import RunMonitor
from solvers.particles._kernels import (
    ABOVE_BOUND,
    BOUND_SLACK,
    DONE,
    F_ERRB,
    F_ERRT,
    F_ERRV,
    F_KAPPA,
    F_TNOW,
    FULL,
    I_ERRJ,
    I_NC,
    I_NKAP,
    I_NREB,
    I_NREF,
    I_NSP,
    I_STATUS,
    KAPPA_WINDOW,
    N_FSTATE,
    N_ISTATE,
    NEGATIVE_INTENSITY,
    NOT_FINITE,
    OK,
    REBASE_AFTER,
    TOO_MANY_SPIKES,
    _exact_chunk,
    _exact_init,
    _next_time,
    kappa_level,
    kappa_unit,
    local_bounds,
    uniform,
    uniforms,
)

__all__ = ["LoopOutput", "run_exact_leaky", "run_exact_python", "make_flow", "REBASE_AFTER", "initial_capacity"]


@dataclass
class LoopOutput:
    """What a loop returns: a status code (``_kernels.OK`` or an error with its time, neuron, value
    and bound), spikes, counters and the recorded states ``(R, N)``.  ``n_renewals`` counts the
    local bounds renewed because kicks went beyond their allowance; ``n_chunks`` the calls of the
    compiled chunk (1 for the Python loops); ``n_kappa`` and ``kappa`` the changes and final value
    of the kick allowance."""

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
    n_renewals: int = 0
    n_chunks: int = 1
    n_kappa: int = 0
    kappa: float = 0.0


#: candidates per estimate of the kick allowance (``_kernels.KAPPA_WINDOW``; tests lower it to make the
#: allowance change often in small networks); read at each run
KAPPA_WINDOW_USED = KAPPA_WINDOW


def initial_capacity(N: int, fsup: float, t_end: float, max_spikes: int) -> int:
    """First size of the spike buffers (grown by doubling, never beyond ``max_spikes + 1``)."""
    est = N * (fsup if math.isfinite(fsup) else 1.0) * t_end * 0.5 + 1024
    return int(min(max(est, 1024), 1 << 22, max_spikes + 1))


def _grown(a: np.ndarray, size: int) -> np.ndarray:
    b = np.empty(size, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


def run_exact_leaky(op, fam_args, *, local: bool, fsup: float, I0: float, xr: float, x0: np.ndarray,
                    keys: np.ndarray, sids: np.ndarray, root1, t_end: float, record_times: np.ndarray,
                    max_spikes: int, monitor: RunMonitor | None = None, chunk_work: int | None = None) -> LoopOutput:
    """Compiled exact loop for the leaky drift and a named intensity family, run in chunks of
    ``chunk_work`` work units (default :data:`solvers.particles._chunks.CHUNK_WORK`); ``monitor`` is
    called between chunks (budget, progress; default: a silent one)."""
    opargs = op.kernel_args()
    fam, p0, p1, p2 = fam_args
    N = x0.shape[0]
    budget = int(_chunks.CHUNK_WORK if chunk_work is None else chunk_work)
    monitor = monitor if monitor is not None else RunMonitor(method="exact", N=N, t_end=t_end, progress=False)
    Y = np.empty(N)
    L = np.empty(N)
    Z = np.empty(N if local else 0)
    tn = np.empty(N)
    ctr = np.zeros(N, dtype=np.uint64)
    heap = np.empty(N, dtype=np.int64)
    pos = np.empty(N, dtype=np.int64)
    flagged = np.empty(N if local else 0, dtype=np.int64)
    xc = np.empty(N if local else 0)
    tc = np.empty(N if local else 0)
    cap = initial_capacity(N, fsup, t_end, max_spikes)
    st = np.empty(cap)
    sn = np.empty(cap, dtype=np.int64)
    states = np.empty((record_times.shape[0], N))
    istate = np.zeros(N_ISTATE, dtype=np.int64)
    fstate = np.zeros(N_FSTATE)
    fstate[[F_ERRT, F_ERRV, F_ERRB]] = np.nan
    istate[I_ERRJ] = -1
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    _exact_init(fam, p0, p1, p2, bool(local), float(fsup), float(I0), x0, keys, sids, root1, Y, L, Z, tn, ctr,
                heap, pos, xc, tc, istate, fstate)
    n_chunks = 0
    while True:
        code = _exact_chunk(opargs, fam, p0, p1, p2, bool(local), float(I0), float(xr), keys, sids, root1,
                            float(t_end), record_times, int(max_spikes), Y, L, Z, tn, ctr, heap, pos, xc, tc,
                            flagged, st, sn, states, istate, fstate, budget, int(KAPPA_WINDOW_USED))
        n_chunks += 1
        if code == DONE:
            break
        if code == FULL:
            size = min(2 * st.shape[0], int(max_spikes) + 1)
            st, sn = _grown(st, size), _grown(sn, size)
        monitor.update(fstate[F_TNOW], istate[I_NSP], istate[I_NC])
    monitor.update(fstate[F_TNOW], istate[I_NSP], istate[I_NC], final=True)
    n_sp = int(istate[I_NSP])
    return LoopOutput(int(istate[I_STATUS]), float(fstate[F_ERRT]), int(istate[I_ERRJ]), float(fstate[F_ERRV]),
                      float(fstate[F_ERRB]), st[:n_sp].copy(), sn[:n_sp].copy(), int(istate[I_NC]), states,
                      int(istate[I_NREB]), int(istate[I_NREF]), n_chunks, int(istate[I_NKAP]),
                      float(fstate[F_KAPPA]))


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
                     ode_step: float, monitor: RunMonitor | None = None) -> LoopOutput:
    """Reference exact loop in Python: any drift, any intensity (slow: O(N) numpy per candidate).

    Same streams, same bounds (:func:`~solvers.particles._kernels.local_bound` and the same kick
    allowance for a named family; for a custom callable the tight static bound ``f(max(X, I0))`` with
    no allowance), same counters and same event order as the compiled loop, so both give the same
    spike trains (up to decisions within rounding of the acceptance threshold and of the validity
    thresholds).  The validity of a bound computed at ``t_c`` from ``x_c`` with headroom ``g`` is
    checked in potential units: ``X(t) <= I0 + kappa + (x_c + g - I0 - kappa) e^{-(t - t_c)}`` (the
    compiled ``Y <= Z + kappa e^{t - t_ref}``).  ``monitor`` is updated every 256 candidates.
    """
    f = model.intensity
    flow = make_flow(model.drift, ode_step)
    I0 = float(model.drift.I0) if local else math.nan
    xr = float(model.reset)
    N = x0.shape[0]
    monitor = monitor if monitor is not None else RunMonitor(method="exact", N=N, t_end=t_end, progress=False)
    X = x0.astype(np.float64).copy()
    t_now = 0.0
    ctr = np.zeros(N, dtype=np.uint64)
    one = np.uint64(1)
    fam = f.compiled_args() if local else None
    unit = float(kappa_unit(*fam)) if fam is not None else math.nan
    kappa = 0.0                   # kick allowance (named families only)
    sum_k = sum_w = 0.0
    n_est = since = n_kap = 0
    xc = np.zeros(N)              # potential, time and headroom at which each local bound was computed
    tc = np.zeros(N)
    gc = np.zeros(N)

    def draw(i: int, t: float) -> float:
        """Next candidate of ``i`` after ``t`` (global bound)."""
        val = _next_time(t, L[i], keys[i], ctr[i], root1)
        ctr[i] += one
        return float(val)

    def renew(idx: np.ndarray, t: float) -> np.ndarray:
        """New local bounds of the neurons ``idx`` at time ``t``; returns their next candidate times."""
        e1 = -np.log(uniforms(keys[idx], ctr[idx], root1))
        ctr[idx] += one
        x = X[idx]
        if fam is not None:
            g, u, lam = local_bounds(fam[0], fam[1], fam[2], fam[3], I0 + kappa, np.ascontiguousarray(x), e1)
        else:
            g = np.zeros(idx.size)
            lam = np.asarray(f(np.maximum(x, I0)), dtype=np.float64)
            with np.errstate(divide="ignore"):
                u = np.where(lam > 0, e1 / np.where(lam > 0, lam, 1.0), math.inf)
        xc[idx], tc[idx], gc[idx], L[idx] = x, t, g, lam
        return t + u

    def fail(status, t, j, v, b=math.nan):
        return LoopOutput(status, t, j, v, b, np.empty(0), np.empty(0, np.int64), n_c,
                          np.empty((0, N)), 0, n_ref)

    n_c = 0
    n_ref = 0
    version = np.zeros(N, dtype=np.int64)
    L = np.full(N, fsup)
    if local:
        first = renew(np.arange(N), 0.0)
    else:
        first = np.array([draw(i, 0.0) for i in range(N)])
    bad = np.flatnonzero(~(L < math.inf))
    if bad.size:
        return fail(NOT_FINITE, 0.0, int(bad[0]), float(L[bad[0]]))
    heap = [(float(first[i]), int(sids[i]), i, 0) for i in range(N)]
    heapq.heapify(heap)
    R = record_times.shape[0]
    states = np.empty((R, N))
    r_idx = 0
    st: list[float] = []
    sn: list[int] = []

    def push(idx: np.ndarray, times: np.ndarray) -> None:
        for i, tn_i in zip(idx, times):
            version[i] += 1
            heapq.heappush(heap, (float(tn_i), int(sids[i]), int(i), int(version[i])))

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
        if n_c % 256 == 0:
            monitor.update(t, len(st), n_c)
        x = float(X[j])
        fx = float(f(x))
        if not (math.isfinite(x) and math.isfinite(fx)):
            return fail(NOT_FINITE, t, j, x if not math.isfinite(x) else fx)
        if fx < 0:
            return fail(NEGATIVE_INTENSITY, t, j, fx)
        if fx > L[j] * (1.0 + BOUND_SLACK):
            return fail(ABOVE_BOUND, t, j, fx, L[j])
        if fam is not None:
            d = math.exp(-(t - tc[j]))
            sum_k += x - I0 - (xc[j] - I0) * d
            sum_w += 1.0 - d
            n_est += 1
            since += 1
        u = float(uniform(keys[j], ctr[j], root1))
        ctr[j] += one
        if u * L[j] < fx:
            if len(st) >= max_spikes:
                return fail(TOO_MANY_SPIKES, t, j, len(st))
            st.append(t)
            sn.append(j)
            X += op.column(j)
            X[j] = xr
            if local:
                limit = I0 + kappa + (xc + gc - I0 - kappa) * np.exp(-(t - tc))
                above = np.flatnonzero(X > limit)
                above = above[above != j]
                if above.size:
                    if fam is not None:
                        for i in above:   # the kick effects since their last bounds, in event order
                            d = math.exp(-(t - tc[i]))
                            sum_k += X[i] - I0 - (xc[i] - I0) * d
                            sum_w += 1.0 - d
                    nxt = renew(above, t)
                    n_ref += int(above.size)
                    bad = above[~(L[above] < math.inf)]
                    if bad.size:
                        return fail(NOT_FINITE, t, int(bad[0]), float(L[bad[0]]))
                    push(above, nxt)
        if local:
            tn_j = renew(np.array([j]), t)
            if not L[j] < math.inf:
                return fail(NOT_FINITE, t, j, float(L[j]))
            push(np.array([j]), tn_j)
        else:
            push(np.array([j]), np.array([draw(j, t)]))
        if fam is not None and n_est >= KAPPA_WINDOW_USED:
            new = float(kappa_level(sum_k / sum_w if sum_w > 0.0 else 0.0, unit))
            n_est, sum_k, sum_w = 0, 0.0, 0.0
            if (new > kappa or new < 0.25 * kappa) and since >= min(N, KAPPA_WINDOW_USED << min(n_kap, 40)):
                kappa, since = new, 0
                n_kap += 1
                every = np.arange(N)
                nxt = renew(every, t)
                bad = np.flatnonzero(~(L < math.inf))
                if bad.size:
                    return fail(NOT_FINITE, t, int(bad[0]), float(L[bad[0]]))
                push(every, nxt)
    while r_idx < R:
        states[r_idx] = flow(X, float(record_times[r_idx]) - t_now)
        r_idx += 1
    monitor.update(t_end, len(st), n_c, final=True)
    return LoopOutput(OK, math.nan, -1, math.nan, math.nan, np.asarray(st, dtype=float),
                      np.asarray(sn, dtype=np.int64), n_c, states, 0, n_ref, 1, n_kap, kappa)
