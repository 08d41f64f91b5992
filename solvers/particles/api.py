"""Entry point :func:`simulate`: validation, dispatch to the compiled or Python loops, errors."""
from __future__ import annotations

import logging
import math
import numbers
import time
from typing import Any

import numpy as np

from solvers._random import as_seed_sequence
from solvers.errors import SimulationError, bad_argument
from solvers.model import NeuronModel
from solvers.particles import clock as _clock
from solvers.particles import exact as _exact
from solvers.particles._streams import root_key, stream_keys
from solvers.particles.operators import make_operator
from solvers.particles.result import SimulationResult

__all__ = ["simulate", "METHODS", "PATHS"]

log = logging.getLogger(__name__)

METHODS = ("exact", "clock")
PATHS = ("auto", "compiled", "python")


def _positive_float(name: str, value: Any, fix: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_argument(name, value, "must be a real number", fix)
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise bad_argument(name, value, "must be finite and > 0", fix)
    return v


def _check_x0(x0: Any, N: int) -> np.ndarray:
    try:
        a = np.asarray(x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad_argument("x0", x0, "must be a real scalar or an array of length N",
                           f"pass a float or an array of shape ({N},)") from None
    if a.ndim == 0:
        a = np.full(N, float(a))
    if a.shape != (N,):
        raise bad_argument("x0", f"array of shape {a.shape}", f"must be a scalar or have shape ({N},) "
                           f"to match the {N} x {N} weights", f"pass an array of length {N}")
    if not np.all(np.isfinite(a)):
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise bad_argument("x0", f"array with x0[{i}] = {a[i]}", "must be finite", "remove NaN/inf")
    return np.ascontiguousarray(a)


def _check_record_times(record_times: Any, t_end: float) -> np.ndarray:
    if record_times is None:
        return np.array([t_end])
    try:
        r = np.atleast_1d(np.asarray(record_times, dtype=np.float64))
    except (TypeError, ValueError):
        raise bad_argument("record_times", record_times, "must be real numbers",
                           "pass a sorted array of times in [0, t_end]") from None
    if r.ndim != 1:
        raise bad_argument("record_times", f"array of shape {r.shape}", "must be 1-D", "pass a flat array")
    if r.size and not (np.all(np.isfinite(r)) and r[0] >= 0 and r[-1] <= t_end):
        raise bad_argument("record_times", record_times, f"must lie in [0, t_end = {t_end}]",
                           "drop the times outside the simulated window")
    if np.any(np.diff(r) < 0):
        raise bad_argument("record_times", record_times, "must be sorted (non-decreasing)",
                           "pass np.sort(record_times)")
    return np.ascontiguousarray(r)


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


def _raise_status(out: _exact.LoopOutput, method: str, model: NeuronModel) -> None:
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
        raise SimulationError(f"{scheme}: non-finite value {v!r} (potential or intensity) for neuron {j} "
                              f"at t = {t!r}; the network blew up (check weights and intensity growth)")
    if out.status == _exact.TOO_MANY_SPIKES:
        raise SimulationError(f"{scheme}: more than max_spikes = {int(v)} spikes before t = {t!r} "
                              f"(neuron {j}); the run is exploding or max_spikes is too small")
    if out.status != _exact.OK:  # pragma: no cover - defensive
        raise SimulationError(f"{scheme}: unknown loop status {out.status}")


def simulate(model: NeuronModel, weights: Any, t_end: float, x0: Any, seed: Any, method: str = "exact",
             dt: float | None = None, record_times: Any = None, *, stream_ids: Any = None,
             max_spikes: int = 10**8, ode_step: float = 1e-2, path: str = "auto") -> SimulationResult:
    """Simulate the network of SPEC section 1 on ``[0, t_end]``.

    Between events ``dX_i/dt = b(X_i)``; neuron ``j`` fires at intensity ``f(X_j(t-))``; at a firing
    of ``j`` at ``tau``, ``X_j(tau) = x_r`` and ``X_i(tau) = X_i(tau-) + W_ij`` for ``i != j``
    (``W_jj`` ignored: the reset wins).

    Parameters
    ----------
    model : NeuronModel
        Drift, intensity and reset.
    weights : ndarray (N, N), scipy sparse matrix, or SynapticOperator
        ``W_ij`` (row ``i`` postsynaptic).  Dense float32 stays float32 (the state is float64); dense
        arrays are used in Fortran order (no copy if already so, one copy otherwise).  Sparse
        matrices are used in CSC format.
    t_end : float
        Horizon, ``> 0``.
    x0 : float or ndarray (N,)
        Initial potentials (copied, never modified).
    seed : int or numpy.random.SeedSequence
        Root of all random streams (``SeedSequence(seed).generate_state``).
    method : {"exact", "clock"}
        ``"exact"``: event-driven thinning, exact in law (see :mod:`solvers.particles.exact`): for
        the leaky drift the potentials are exact up to rounding; for other drifts the flow is RK4
        with steps ``<= ode_step`` (order 4).  ``"clock"``: time step ``dt``, weak order 1 (see
        :mod:`solvers.particles.clock`).
    dt : float, optional
        Clock step (required for ``"clock"``, must be ``None`` for ``"exact"``); rule
        ``dt <= t_end`` and ``dt * sup f <= 1``.
    record_times : array_like (R,), optional
        Sorted times in ``[0, t_end]`` at which ``X`` is recorded; default ``[t_end]``.
    stream_ids : array_like of int (N,), keyword, optional
        Random stream of each neuron (default ``arange(N)``); must be distinct.  Every random number
        of neuron ``i`` is a function of ``(seed, stream_ids[i], counter)`` only, and events are
        ordered by ``(time, stream_id)``.  Hence relabelling is exactly equivariant: for a
        permutation ``s``, ``simulate(model, W[s][:, s], t_end, x0[s], seed, stream_ids=s)`` gives
        the spikes of ``simulate(model, W, t_end, x0, seed)`` with neuron ``s[k]`` renamed ``k``
        (identical times, bit for bit, with ``method="exact"``; the clock method is equivariant up
        to the rounding of the order in which simultaneous kicks are summed).
    max_spikes : int, keyword
        Abort with :class:`SimulationError` beyond this many spikes (runaway protection).
    ode_step : float, keyword
        Largest RK4 step for drifts without an exact flow.
    path : {"auto", "compiled", "python"}, keyword
        ``"auto"`` runs the compiled loop when the drift is ``Leaky`` and the intensity a named
        family, and the Python reference loop otherwise (custom callables: one Python call of ``f``
        per candidate and O(N) numpy work per candidate, so use it for small N only).  ``"python"``
        forces the reference loop (same random streams, for cross-checks).

    Returns
    -------
    SimulationResult
        Spikes (sorted by time), states at ``record_times`` (shape ``(R, N)``), counters.

    Raises
    ------
    InvalidArgumentError
        Bad input (message names the argument, the value, the rule and the fix).
    SimulationError
        Negative intensity, intensity above its dominating bound, non-finite state, too many spikes,
        or ``dt * f > 1`` in the clock scheme met during the run; no partial result is returned.
    """
    if not isinstance(model, NeuronModel):
        raise bad_argument("model", model, "must be a solvers.model.NeuronModel",
                           "pass NeuronModel.standard() or NeuronModel(drift=..., intensity=...)")
    if not isinstance(method, str) or method not in METHODS:
        raise bad_argument("method", method, "unknown simulation method", f"use one of {list(METHODS)}")
    if not isinstance(path, str) or path not in PATHS:
        raise bad_argument("path", path, "unknown execution path", f"use one of {list(PATHS)}")
    op = make_operator(weights, "weights")
    N = op.N
    t_end = _positive_float("t_end", t_end, "pass a positive finite horizon, e.g. t_end=10.0")
    x0a = _check_x0(x0, N)
    seed_seq = as_seed_sequence(seed)
    rec = _check_record_times(record_times, t_end)
    sids = _check_stream_ids(stream_ids, N)
    if isinstance(max_spikes, bool) or not isinstance(max_spikes, numbers.Integral) or max_spikes < 0:
        raise bad_argument("max_spikes", max_spikes, "must be an int >= 0", "pass e.g. 10**8")
    ode_step = _positive_float("ode_step", ode_step, "pass e.g. ode_step=1e-2")
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
    info = {"operator": type(op).__name__, "dtype": str(op.dtype), "stream_ids": stream_ids is not None}

    if method == "exact":
        if dt is not None:
            raise bad_argument("dt", dt, "is only used by method='clock'", "drop dt or pass method='clock'")
        if math.isfinite(fsup):
            local = False
        elif intensity.increasing and drift.kind == "leaky":
            local = True
        else:
            raise bad_argument("model.intensity", intensity,
                               "exact thinning needs a dominating rate: a bounded intensity (finite sup), "
                               "or a non-decreasing one with the leaky drift",
                               "give CustomIntensity(bound=...) or increasing=True, or use method='clock'")
        info["bound"] = "local" if local else f"global {fsup}"
        if use_compiled:  # compile or load the loop for these types outside the timed region
            tiny = op.tiny()
            _exact.run_exact_leaky(tiny, fam, local=local, fsup=fsup, I0=drift.I0, xr=model.reset,
                                   x0=np.zeros(tiny.N), keys=keys[:tiny.N], sids=sids[:tiny.N], root1=root[1],
                                   t_end=1e-300,
                                   record_times=rec[:0], max_spikes=1)
        t0 = time.perf_counter()
        if use_compiled:
            out = _exact.run_exact_leaky(op, fam, local=local, fsup=fsup, I0=drift.I0, xr=model.reset,
                                         x0=x0a, keys=keys, sids=sids, root1=root[1], t_end=t_end,
                                         record_times=rec, max_spikes=int(max_spikes))
        else:
            out = _exact.run_exact_python(op, model, local=local, fsup=fsup, x0=x0a, keys=keys, sids=sids,
                                          root1=root[1], t_end=t_end, record_times=rec,
                                          max_spikes=int(max_spikes), ode_step=ode_step)
        wall = time.perf_counter() - t0
        dt_used = None
    else:
        if dt is None:
            raise bad_argument("dt", dt, "method='clock' needs a time step", "pass e.g. dt=1e-3")
        dt_used = _positive_float("dt", dt, "pass a small positive step, e.g. dt=1e-3")
        if dt_used > t_end:
            raise bad_argument("dt", dt, f"must be <= t_end = {t_end}", "pass a smaller step")
        if math.isfinite(fsup) and dt_used * fsup > 1.0:
            raise bad_argument("dt", dt, f"rule dt * sup f <= 1 is violated (sup f = {fsup}, "
                               f"dt * sup f = {dt_used * fsup:g})", f"pass dt <= {1.0 / fsup:g}")
        grid = _clock.step_grid(t_end, dt_used)
        if use_compiled:
            tiny = op.tiny()
            _clock.run_clock_leaky(tiny, fam, I0=drift.I0, xr=model.reset, x0=np.zeros(tiny.N), keys=keys[:tiny.N],
                                   root1=root[1], grid=grid[:1], record_times=rec[:0], max_spikes=1, fsup=fsup)
        t0 = time.perf_counter()
        if use_compiled:
            out = _clock.run_clock_leaky(op, fam, I0=drift.I0, xr=model.reset, x0=x0a, keys=keys,
                                         root1=root[1], grid=grid, record_times=rec,
                                         max_spikes=int(max_spikes), fsup=fsup)
        else:
            out = _clock.run_clock_python(op, model, x0=x0a, keys=keys, root1=root[1], grid=grid,
                                          record_times=rec, max_spikes=int(max_spikes), ode_step=ode_step)
        wall = time.perf_counter() - t0
    _raise_status(out, method, model)
    res = SimulationResult(spike_times=out.spike_times, spike_neurons=out.spike_neurons, record_times=rec,
                           states=out.states, t_end=t_end, N=N, n_candidates=int(out.n_candidates),
                           n_spikes=int(out.spike_times.shape[0]), wall_time=wall, seed=seed, method=method,
                           dt=dt_used, path="compiled" if use_compiled else "python",
                           n_rebases=int(out.n_rebases), info=info)
    log.info("simulate %s/%s: N=%d T=%g spikes=%d candidates=%d wall=%.3fs", method, res.path, N, t_end,
             res.n_spikes, res.n_candidates, wall)
    return res
