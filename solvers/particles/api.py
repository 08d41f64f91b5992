"""Entry point :func:`simulate`: validation, dispatch to the compiled or Python loops, errors."""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
import warnings
from typing import Any

import numpy as np

from solvers.errors import SimulationError, bad_argument
from solvers.model import NeuronModel
from solvers.particles import clock as _clock
from solvers.particles import exact as _exact
from solvers.particles import lowrank as _lowrank
from solvers.particles._chunks import RunMonitor
from solvers.particles._streams import root_key, stream_keys
from solvers.particles.operators import make_operator
from solvers.particles.result import SimulationInfo, SimulationResult
from solvers.validation import (
    check_bool,
    check_choice,
    check_instance,
    check_int,
    check_positive,
    check_seed,
    check_times,
    check_vector,
)

__all__ = ["simulate", "METHODS", "PATHS"]

log = logging.getLogger(__name__)

METHODS = ("exact", "clock")
PATHS = ("auto", "compiled", "python")


class _Missing:
    """Marker of an argument that was not given (``None`` is a value the checks must see)."""

    def __repr__(self) -> str:
        return "<not given>"


_MISSING: Any = _Missing()


def _renamed(new_name: str, new: Any, old_name: str, old: Any, new_default: Any) -> tuple[Any, str]:
    """The value of an argument renamed in 0.2 (``x0`` -> ``initial``, ``record_times`` -> ``save_times``):
    the old keyword still works for one release, with a DeprecationWarning."""
    if old is _MISSING:
        return new, new_name
    if new is not new_default:
        raise bad_argument(old_name, old, f"is the deprecated name of {new_name!r} and both were given",
                           f"pass only {new_name}=")
    warnings.warn(f"simulate({old_name}=...) is deprecated and will be removed in the next release; "
                  f"use {new_name}=...", DeprecationWarning, stacklevel=3)
    return old, old_name


def _check_stream_ids(stream_ids: Any, N: int) -> np.ndarray:
    if stream_ids is None:
        return np.arange(N, dtype=np.uint64)
    a = np.asarray(stream_ids)
    if a.shape != (N,) or not np.issubdtype(a.dtype, np.integer):
        raise bad_argument("stream_ids", f"array of shape {a.shape} and dtype {a.dtype}",
                           f"must be {N} integers (one random stream per neuron)",
                           "pass e.g. stream_ids=perm for weights W[perm][:, perm]")
    if np.any(a < 0):
        raise bad_argument("stream_ids", stream_ids, "must be >= 0", "pass non-negative integers")
    if np.unique(a).size != N:
        raise bad_argument("stream_ids", stream_ids, "must be distinct (one stream per neuron)",
                           "pass a permutation of arange(N) or other distinct integers")
    return np.ascontiguousarray(a.astype(np.uint64))


def _raise_status(out: _exact.LoopOutput, method: str, model: NeuronModel, N: int) -> None:
    scheme = f"method={method!r}"
    t, j, v = out.err_t, out.err_j, out.err_value
    if out.status == _exact.NEGATIVE_INTENSITY:
        raise SimulationError(f"{scheme}: negative intensity f(X) = {v!r} for neuron {j} at t = {t!r}; "
                              "an intensity must be >= 0 (fix the intensity function)")
    if out.status == _exact.ABOVE_BOUND:
        if method == "clock":
            raise SimulationError(f"{scheme}: dt * f(X) = {v / out.err_bound!r} > 1 for neuron {j} at "
                                  f"t = {t!r} (f = {v!r}); the clock rule is dt * f <= 1: reduce dt")
        raise SimulationError(f"{scheme}: intensity f(X) = {v!r} of neuron {j} at t = {t!r} exceeds its "
                              f"dominating bound {out.err_bound!r} (intensity {model.intensity!r}); "
                              "give a correct bound (CustomIntensity(bound=...)) or a correct 'increasing'")
    if out.status == _exact.NOT_FINITE:
        raise SimulationError(f"{scheme}: non-finite value {v!r} (potential, intensity or its dominating bound) "
                              f"for neuron {j} at t = {t!r}; the network blew up (check weights and intensity growth)")
    if out.status == _exact.TOO_MANY_SPIKES:
        rate = f"{v / (N * t):.3g} spikes per neuron per unit time" if t > 0 else "no simulated time passed"
        raise SimulationError(f"{scheme}: more than max_spikes = {int(v)} spikes before t = {t!r} "
                              f"(neuron {j}; {rate}); the run is exploding or max_spikes is too small")
    if out.status != _exact.OK:  # pragma: no cover - defensive
        raise SimulationError(f"{scheme}: unknown loop status {out.status}")


def simulate(model: NeuronModel, weights: Any, t_end: float, initial: Any = _MISSING, seed: Any = _MISSING, *,
             method: str = "exact", dt: float | None = None, save_times: Any = None, stream_ids: Any = None,
             max_spikes: int = 10**8, ode_step: float = 1e-2, path: str = "auto",
             max_wall_time: float | None = None, progress: bool | None = None, x0: Any = _MISSING,
             record_times: Any = _MISSING) -> SimulationResult:
    """Simulate the network of SPEC section 1 on ``[0, t_end]``.

    Between events ``dX_i/dt = b(X_i)``; neuron ``j`` fires at intensity ``f(X_j(t-))``; at a firing
    of ``j`` at ``tau``, ``X_j(tau) = x_r`` and ``X_i(tau) = X_i(tau-) + W_ij`` for ``i != j``
    (``W_jj`` ignored: the reset wins).

    Parameters
    ----------
    model : NeuronModel
        Drift, intensity and reset.
    weights : ndarray (N, N), scipy sparse matrix, or SynapticOperator
        ``W_ij`` (row ``i`` postsynaptic); a :class:`~solvers.particles.LowRankOperator` runs its own
        compiled loops (``O(R)`` per event, see :mod:`solvers.particles.lowrank`); an
        :class:`~solvers.particles.OnTheFlyOperator` evaluates ``w(xi_i, xi_j) / N`` for the firing
        column (``O(N)`` per spike, no ``N x N`` memory, see :mod:`solvers.particles.onthefly`).  Dense float32
        stays float32 (the state is float64); dense arrays are used in Fortran order (no copy if
        already so, one copy otherwise).  Sparse matrices are used in CSC format.
    t_end : float
        Horizon, ``> 0``.
    initial : float or ndarray (N,)
        Initial potentials (copied, never modified); required.  (``x0=`` is its deprecated name.)
    seed : int or numpy.random.SeedSequence
        Root of all random streams (``SeedSequence(seed).generate_state``); required, never defaulted.
    method : {"exact", "clock"}, keyword
        ``"exact"``: event-driven thinning, exact in law (see :mod:`solvers.particles.exact`): for
        the leaky drift the potentials are exact up to rounding; for other drifts the flow is RK4
        with steps ``<= ode_step`` (order 4).  ``"clock"``: time step ``dt``, weak order 1 (see
        :mod:`solvers.particles.clock`).
    dt : float, optional, keyword
        Clock step (required for ``"clock"``, must be ``None`` for ``"exact"``); rule
        ``dt <= t_end`` and ``dt * sup f <= 1``.
    save_times : array_like (R,), optional, keyword
        Sorted times in ``[0, t_end]`` at which ``X`` is saved; default ``[t_end]``.  (``record_times=``
        is its deprecated name.)
    stream_ids : array_like of int (N,), keyword, optional
        Random stream of each neuron (default ``arange(N)``); must be distinct.  Every random number
        of neuron ``i`` is a function of ``(seed, stream_ids[i], counter)`` only, and events are
        ordered by ``(time, stream_id)``.  Hence relabelling is exactly equivariant: for a
        permutation ``s``, ``simulate(model, W[s][:, s], t_end, x[s], seed, stream_ids=s)`` gives
        the spikes of ``simulate(model, W, t_end, x, seed)`` with neuron ``s[k]`` renamed ``k``
        (identical times, bit for bit, with ``method="exact"``; the clock method is equivariant up
        to the rounding of the order in which simultaneous kicks are summed).
    max_spikes : int, keyword
        Abort with :class:`SimulationError` beyond this many spikes (runaway protection).
    max_wall_time : float, optional, keyword
        Wall-clock budget in seconds of the event loop (validation and numba compilation excluded):
        beyond it the run stops with :class:`SimulationError` (time reached, spikes, rate so far).
        Default: no budget.
    progress : bool, optional, keyword
        Progress bar on simulated time (tqdm, on stderr).  ``None`` (default): shown only when stderr
        is a terminal and the run has lasted 3 s; ``True``: always; ``False``: never.
    ode_step : float, keyword
        Largest RK4 step for drifts without an exact flow.
    path : {"auto", "compiled", "python"}, keyword
        ``"auto"`` runs the compiled loop when the drift is ``Leaky`` and the intensity a named
        family, and the Python reference loop otherwise (custom callables: one Python call of ``f``
        per candidate and O(N) numpy work per candidate, so use it for small N only).  ``"python"``
        forces the reference loop (same random streams, for cross-checks).

    Long runs: the compiled loops run in chunks of bounded work (a few milliseconds each) that return
    to Python, so Ctrl-C (SIGINT) stops a run promptly: ``KeyboardInterrupt`` propagates, with a note
    giving the simulated time reached, and the partial run is discarded (nothing is returned).  A
    chunked run is bit-identical to an unchunked one (see :mod:`solvers.particles._chunks`).

    Returns
    -------
    SimulationResult
        Spikes (sorted by time), states at ``save_times`` (shape ``(R, N)``), counters and a typed
        :class:`SimulationInfo`.

    Raises
    ------
    InvalidArgumentError
        Bad input (message names the argument, the value, the rule and the fix).
    SimulationError
        Negative intensity, intensity above its dominating bound, non-finite state or bound (a
        blow-up: the time and the neuron are named), too many spikes, the wall-clock budget used up,
        or ``dt * f > 1`` in the clock scheme met during the run; no partial result is returned.
    KeyboardInterrupt
        Ctrl-C during the run (propagated after at most one chunk; the partial run is discarded).
    """
    initial, initial_name = _renamed("initial", initial, "x0", x0, _MISSING)
    save_times, times_name = _renamed("save_times", save_times, "record_times", record_times, None)
    check_instance("model", model, NeuronModel,
                   "pass NeuronModel.standard() or NeuronModel(drift=..., intensity=...)")
    method = check_choice("method", method, METHODS)
    path = check_choice("path", path, PATHS)
    if initial is _MISSING:
        raise bad_argument("initial", None, "is required (the initial potentials)",
                           "pass e.g. simulate(model, W, t_end, 0.0, seed)")
    if seed is _MISSING:
        raise bad_argument("seed", None, "is required (never defaulted: every run is reproducible from it)",
                           "pass e.g. seed=1")
    seed_seq = check_seed(seed)
    op = make_operator(weights, "weights")
    N = op.N
    t_end = check_positive("t_end", t_end, "pass a positive finite horizon, e.g. t_end=10.0")
    x0a = check_vector(initial_name, initial, N, broadcast_scalar=True, what="potentials",
                       fix=f"pass a float or an array of shape ({N},) matching the {N} x {N} weights")
    rec = check_times(times_name, save_times, t_end, default=[t_end])
    sids = _check_stream_ids(stream_ids, N)
    max_spikes = check_int("max_spikes", max_spikes, 0, "pass e.g. max_spikes=10**8")
    ode_step = check_positive("ode_step", ode_step, "pass e.g. ode_step=1e-2")
    if max_wall_time is not None:
        max_wall_time = check_positive("max_wall_time", max_wall_time,
                                       "pass a positive number of seconds, e.g. max_wall_time=60, or None")
    if progress is not None:
        progress = check_bool("progress", progress, "pass progress=True, False or None (automatic)")
    drift, intensity = model.drift, model.intensity
    fsup = float(intensity.sup)
    fam = intensity.compiled_args()
    compiled_ok = drift.kind == "leaky" and fam is not None
    if path == "compiled" and not compiled_ok:
        raise bad_argument("path", path, "the compiled loop needs a Leaky drift and a named intensity family",
                           "use path='auto' (the Python loop handles custom callables)")
    use_compiled = compiled_ok and path != "python"
    root = root_key(seed_seq)
    keys = stream_keys(sids, root)
    info = SimulationInfo(operator=type(op).__name__, dtype=str(op.dtype), stream_ids_given=stream_ids is not None)
    local = False

    if method == "exact":
        if dt is not None:
            raise bad_argument("dt", dt, "is only used by method='clock'", "drop dt or pass method='clock'")
        if math.isfinite(fsup):
            log.info("exact thinning: global dominating rate sup f = %g (bounded intensity %r)", fsup, intensity)
        elif intensity.increasing and drift.kind == "leaky":
            local = True
            if fam is not None:
                log.info("exact thinning: local dominating rates (unbounded non-decreasing %r with the leaky drift: "
                         "between kicks potentials relax monotonically to I0 = %g), each renewed at its neuron's "
                         "candidates and when kicks use up its headroom", intensity, drift.I0)
            else:
                log.info("exact thinning: tight local dominating rates f(max(X_i, I0)) on the Python reference "
                         "loop (custom callable %r: compiled code cannot call it, and no headroom rule is known "
                         "for it); O(N) numpy work per candidate", intensity)
        else:
            raise bad_argument("model.intensity", intensity,
                               "exact thinning needs a dominating rate: a bounded intensity (finite sup), "
                               "or a non-decreasing one with the leaky drift",
                               "give CustomIntensity(bound=...) or increasing=True, or use method='clock'")
        info = dataclasses.replace(info, bound="local" if local else "global", bound_value=None if local else fsup)
        # a LowRankOperator has its own compiled loop (same arguments; its global stream needs root[0])
        run_exact = (functools.partial(_lowrank.run_exact, root0=root[0])
                     if isinstance(op, _lowrank.LowRankOperator) else _exact.run_exact_leaky)
        if use_compiled:  # compile or load the loop for these types outside the timed region
            tiny = op.tiny()
            run_exact(tiny, fam, local=local, fsup=fsup, I0=drift.I0, xr=model.reset, x0=np.zeros(tiny.N),
                      keys=keys[:tiny.N], sids=sids[:tiny.N], root1=root[1], t_end=1e-300, record_times=rec[:0],
                      max_spikes=1)
        t0 = time.perf_counter()
        with RunMonitor(method=method, N=N, t_end=t_end, max_wall_time=max_wall_time, progress=progress) as mon:
            if use_compiled:
                out = run_exact(op, fam, local=local, fsup=fsup, I0=drift.I0, xr=model.reset, x0=x0a, keys=keys,
                                sids=sids, root1=root[1], t_end=t_end, record_times=rec,
                                max_spikes=int(max_spikes), monitor=mon)
            else:
                out = _exact.run_exact_python(op, model, local=local, fsup=fsup, x0=x0a, keys=keys, sids=sids,
                                              root1=root[1], t_end=t_end, record_times=rec,
                                              max_spikes=int(max_spikes), ode_step=ode_step, monitor=mon)
        wall = time.perf_counter() - t0
        dt_used = None
    else:
        if dt is None:
            raise bad_argument("dt", dt, "method='clock' needs a time step", "pass e.g. dt=1e-3")
        dt_used = check_positive("dt", dt, "pass a small positive step, e.g. dt=1e-3")
        if dt_used > t_end:
            raise bad_argument("dt", dt, f"must be <= t_end = {t_end}", "pass a smaller step")
        if math.isfinite(fsup) and dt_used * fsup > 1.0:
            raise bad_argument("dt", dt, f"rule dt * sup f <= 1 is violated (sup f = {fsup}, "
                               f"dt * sup f = {dt_used * fsup:g})", f"pass dt <= {1.0 / fsup:g}")
        grid = _clock.step_grid(t_end, dt_used)
        run_clock = _lowrank.run_clock if isinstance(op, _lowrank.LowRankOperator) else _clock.run_clock_leaky
        if use_compiled:
            tiny = op.tiny()
            run_clock(tiny, fam, I0=drift.I0, xr=model.reset, x0=np.zeros(tiny.N), keys=keys[:tiny.N],
                                   root1=root[1], grid=grid[:1], record_times=rec[:0], max_spikes=1, fsup=fsup)
        t0 = time.perf_counter()
        with RunMonitor(method=method, N=N, t_end=t_end, max_wall_time=max_wall_time, progress=progress) as mon:
            if use_compiled:
                out = run_clock(op, fam, I0=drift.I0, xr=model.reset, x0=x0a, keys=keys, root1=root[1], grid=grid,
                                record_times=rec, max_spikes=int(max_spikes), fsup=fsup, monitor=mon)
            else:
                out = _clock.run_clock_python(op, model, x0=x0a, keys=keys, root1=root[1], grid=grid,
                                              record_times=rec, max_spikes=int(max_spikes), ode_step=ode_step,
                                              monitor=mon)
        wall = time.perf_counter() - t0
    _raise_status(out, method, model, N)
    if method == "exact" and local and fam is not None:
        info = dataclasses.replace(info, kick_allowance=float(out.kappa), kick_allowance_changes=int(out.n_kappa))
    res = SimulationResult(spike_times=out.spike_times, spike_neurons=out.spike_neurons, save_times=rec,
                           states=out.states, t_end=t_end, N=N, n_candidates=int(out.n_candidates),
                           n_spikes=int(out.spike_times.shape[0]), wall_time=wall, seed=seed, method=method,
                           dt=dt_used, path="compiled" if use_compiled else "python",
                           n_rebases=int(out.n_rebases), n_renewals=int(out.n_renewals), info=info)
    log.info("simulate %s/%s: N=%d T=%g spikes=%d candidates=%d bound renewals=%d kick allowance=%g (%d changes) "
             "chunks=%d wall=%.3fs", method, res.path, N, t_end, res.n_spikes, res.n_candidates, res.n_renewals,
             out.kappa, out.n_kappa, out.n_chunks, wall)
    return res
