"""Quantities every study compares, for a network run and a mean-field PDE solution alike.

A *source* is either a network run (:class:`solvers.particles.SimulationResult`) or a PDE solution
(:class:`solvers.meanfield.MeanFieldSolution`).  Both are read as an extended measure over
``(xi, x)`` with a uniform ``xi``-marginal (SPEC section 2):

* network: ``N`` units, neuron ``i`` (0-based) at label ``xi_i = (i + 1/2)/N`` unless the caller
  gives labels ``xi`` (after a relabelling ``sigma``, neuron ``i`` sits at ``labels(N)[rank of i]``),
  each of weight ``1/N``; its slice is the Dirac at ``X_i(t)``;
* PDE: ``n_xi`` units, node ``k`` at its quadrature node ``xi_k = (k + 1/2)/n_xi``, each of weight
  ``1/n_xi`` (the solver's ``xi`` quadrature), its slice the solver's law ``mu_t(xi_k)``.

Observables
-----------
:func:`population_rate`
    Spikes per neuron per unit time in each time window ``[e_k, e_{k+1})`` (the last window closed).
    Network: spike counts / (N width).  PDE: ``int_window (1/n_xi) sum_k r(t, xi_k) dt / width``,
    computed exactly for the piecewise-linear interpolant of the rates on the solver's time grid
    (the interpolant of :meth:`MeanFieldSolution.rate`, error ``O(dt^2)``, the scheme's own order).
:func:`bin_rates`, :func:`group_rates`
    The same per ``xi`` bin ``[b_j, b_{j+1})`` (the last bin closed) or per subpopulation (a label
    per unit, e.g. the parity class of each neuron; or a function of ``xi``), averaged over the units
    of the bin or group with equal weights.
:func:`moments`
    Mean, second moment and variance of ``X(t)`` over the units of each ``xi`` bin, read as one
    mixture: ``mean = avg_units E[X]``, ``second = avg_units E[X^2]``, ``variance = second - mean^2``.
    Network: ``X(t)`` must be a recorded time (the state at ``t``, right-continuous).  PDE: the
    solver's stored moments, interpolated linearly in time.
:func:`pairing`
    ``<phi, mu_t> = int int phi(xi, x) mu_t(dxi, dx)`` for a vectorised ``phi(xi, x)``.  Network: the
    extended empirical measure, ``(1/N) sum_i phi(xi_i, X_i(t))`` (exact).  PDE: ``(1/n_xi) sum_k
    <phi(xi_k, .), mu_t(xi_k)>`` with the slice law stored at ``t`` (``t`` must be a save time):
    for the Lagrangian scheme the scheme's own discrete measure (cohort positions and masses, atoms
    exact; the error is the scheme's, ``O(dt^2)``); for the upwind scheme the cell masses at the cell
    midpoints (midpoint rule inside a cell: error ``dx^2 sup|d_x^2 phi| / 24`` per unit mass on top of
    the scheme's error).

Everything is vectorised over neurons, spikes, nodes and cohorts; the only Python loops run over
the handful of bins or groups in argument checks.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.graphons import labels
from solvers.meanfield import CohortSnapshot, GridSnapshot, MeanFieldSolution
from solvers.particles import SimulationResult

__all__ = ["Moments", "GroupRates", "population_rate", "bin_rates", "group_rates", "moments", "pairing",
           "window_edges", "unit_labels"]


@dataclass(frozen=True)
class Moments:
    """Moments of ``X(t)`` per ``xi`` bin: arrays of shape ``(B,)``; ``units`` counts the neurons (network)
    or nodes (PDE) of each bin."""

    t: float
    bins: np.ndarray
    mean: np.ndarray
    second: np.ndarray
    variance: np.ndarray
    units: np.ndarray


@dataclass(frozen=True)
class GroupRates:
    """Rates per subpopulation: ``rates[k, g]`` in window ``k`` for group ``groups[g]`` (sorted);
    ``fraction[g]`` is the group's share of the units."""

    windows: np.ndarray
    groups: np.ndarray
    rates: np.ndarray
    fraction: np.ndarray


def _kind(source: Any) -> str:
    if isinstance(source, SimulationResult):
        return "network"
    if isinstance(source, MeanFieldSolution):
        return "pde"
    raise bad_argument("source", source, "must be a network run (solvers.particles.SimulationResult) or a PDE "
                       "solution (solvers.meanfield.MeanFieldSolution)", "pass the result of simulate() or solve()")


def _t_end(source: Any) -> float:
    _kind(source)  # raises for anything but a network run or a PDE solution
    return float(source.t_end)


def _network_times(res: SimulationResult) -> np.ndarray:
    times = getattr(res, "save_times", None)
    if times is None:
        times = res.record_times
    return np.asarray(times, dtype=float)


def unit_labels(source: Any, xi: Any = None) -> np.ndarray:
    """Label ``xi`` of every unit: neurons ``(N,)`` (``xi`` given, or ``labels(N)``) or PDE nodes ``(n_xi,)``."""
    if _kind(source) == "pde":
        if xi is not None:
            raise bad_argument("xi", xi, "is only for network runs (a PDE's nodes have fixed labels)", "drop xi")
        return np.asarray(source.xi, dtype=float)
    N = int(source.N)
    if xi is None:
        return labels(N)
    a = np.asarray(xi, dtype=float)
    if a.shape != (N,) or not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
        raise bad_argument("xi", xi, f"must be {N} labels in [0, 1], one per neuron",
                           "pass labels(N)[rank], rank[i] = position of neuron i after relabelling")
    return a


def window_edges(t_end: float, width: float, *, t_start: float = 0.0) -> np.ndarray:
    """Edges of windows of ``width`` from ``t_start`` to ``t_end`` (the last one shorter if needed)."""
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
        raise bad_argument("width", width, "must be a finite number > 0", "pass e.g. width=0.1")
    if not 0 <= t_start < t_end:
        raise bad_argument("t_start", t_start, f"must be in [0, t_end = {t_end})", "pass t_start=0")
    n = max(1, int(math.ceil((t_end - t_start) / width - 1e-9)))
    e = t_start + np.arange(n + 1) * float(width)
    e[-1] = t_end
    return e


def _check_windows(windows: Any, t_end: float) -> np.ndarray:
    try:
        e = np.asarray(windows, dtype=float)
    except (TypeError, ValueError):
        raise bad_argument("windows", windows, "must be window edges (an increasing array)",
                           "pass e.g. window_edges(t_end, 0.1)") from None
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0):
        raise bad_argument("windows", windows, "must be a strictly increasing 1-D array of >= 2 edges",
                           "pass e.g. window_edges(t_end, 0.1)")
    if e[0] < 0 or e[-1] > t_end * (1 + 1e-12):
        raise bad_argument("windows", windows, f"must lie in [0, t_end = {t_end}]", "drop the windows outside the run")
    return np.minimum(e, t_end)


def _check_bins(bins: Any) -> np.ndarray:
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise bad_argument("xi_bins", bins, "must be >= 1 (a number of equal bins) or bin edges", "pass e.g. 4")
        return np.linspace(0.0, 1.0, int(bins) + 1)
    try:
        b = np.asarray(bins, dtype=float)
    except (TypeError, ValueError):
        raise bad_argument("xi_bins", bins, "must be a number of bins or increasing edges in [0, 1]",
                           "pass e.g. 4 or [0, 0.5, 1]") from None
    if b.ndim != 1 or b.size < 2 or not np.all(np.diff(b) > 0) or b[0] < 0 or b[-1] > 1:
        raise bad_argument("xi_bins", bins, "must be strictly increasing edges in [0, 1]", "pass e.g. [0, 0.5, 1]")
    return b


def _bin_of(xi: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each label (``[b_j, b_{j+1})``, the last bin closed; -1 outside)."""
    idx = np.searchsorted(edges, xi, side="right") - 1
    idx[xi == edges[-1]] = edges.size - 2
    idx[(xi < edges[0]) | (xi > edges[-1])] = -1
    return idx


def _window_integrals(source: Any, windows: np.ndarray) -> np.ndarray:
    """Per unit, the integral of its rate over each window: shape ``(K, n_units)``.

    Network: spike counts; PDE: exact integrals of the piecewise-linear rate interpolant."""
    if _kind(source) == "network":
        N = int(source.N)
        K = windows.size - 1
        st = np.asarray(source.spike_times, dtype=float)
        sn = np.asarray(source.spike_neurons, dtype=np.int64)
        k = np.searchsorted(windows, st, side="right") - 1
        k[st == windows[-1]] = K - 1
        keep = (k >= 0) & (k < K)
        counts = np.bincount(k[keep] * N + sn[keep], minlength=K * N)
        return counts.reshape(K, N).astype(float)
    t = np.asarray(source.t, dtype=float)
    r = np.asarray(source.rates, dtype=float)
    cum = np.concatenate((np.zeros((1, r.shape[1])), np.cumsum(0.5 * np.diff(t)[:, None] * (r[1:] + r[:-1]), axis=0)))
    i = np.clip(np.searchsorted(t, windows, side="right") - 1, 0, t.size - 2)
    s = windows - t[i]
    dt = (t[i + 1] - t[i])[:, None]
    a = s[:, None] / dt
    r_s = (1 - a) * r[i] + a * r[i + 1]
    C = cum[i] + 0.5 * s[:, None] * (r[i] + r_s)
    return np.diff(C, axis=0)


def population_rate(source: Any, windows: Any) -> np.ndarray:
    """Population rate in each window, shape ``(K,)`` (spikes per neuron per unit time).

    Parameters
    ----------
    source : SimulationResult or MeanFieldSolution
    windows : array_like, shape (K+1,)
        Increasing window edges in ``[0, t_end]`` (see :func:`window_edges`).
    """
    e = _check_windows(windows, _t_end(source))
    return _window_integrals(source, e).mean(axis=1) / np.diff(e)


def _grouped(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values[..., unit]`` over the units of each group: shape ``values.shape[:-1] + (G,)``."""
    onehot = np.zeros((group.size, n_groups))
    onehot[np.arange(group.size), group] = 1.0
    return (values @ onehot) / onehot.sum(axis=0)


def bin_rates(source: Any, windows: Any, xi_bins: Any, *, xi: Any = None) -> np.ndarray:
    """Rate of each ``xi`` bin in each window, shape ``(K, B)``.

    Parameters
    ----------
    source : SimulationResult or MeanFieldSolution
    windows : array_like, shape (K+1,)
        Window edges.
    xi_bins : int or array_like, shape (B+1,)
        ``B`` equal bins of ``[0, 1]``, or increasing edges in ``[0, 1]``.  Every bin must hold a unit.
    xi : array_like (N,), keyword, optional
        Network only: label of each neuron (after a relabelling).
    """
    e = _check_windows(windows, _t_end(source))
    b = _check_bins(xi_bins)
    lab = unit_labels(source, xi)
    idx = _bin_of(lab, b)
    units = np.bincount(idx[idx >= 0], minlength=b.size - 1)
    if np.any(units == 0):
        j = int(np.flatnonzero(units == 0)[0])
        raise bad_argument("xi_bins", b, f"bin [{b[j]:g}, {b[j + 1]:g}) holds no neuron or node",
                           "use fewer or wider bins")
    integ = _window_integrals(source, e)[:, idx >= 0]
    return _grouped(integ, idx[idx >= 0], b.size - 1) / np.diff(e)[:, None]


def _group_index(source: Any, groups: Any, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if callable(groups):
        g = np.asarray(groups(lab))
    else:
        g = np.asarray(groups)
    if g.shape != lab.shape:
        raise bad_argument("groups", groups, f"must give one label per unit (shape {lab.shape}, got {g.shape})",
                           "pass an array with one group label per neuron (network) or node (PDE), or a function of xi")
    names, inv = np.unique(g, return_inverse=True)
    return names, np.asarray(inv).ravel()


def group_rates(source: Any, windows: Any, groups: Any, *, xi: Any = None) -> GroupRates:
    """Rate of each subpopulation in each window.

    Parameters
    ----------
    source : SimulationResult or MeanFieldSolution
    windows : array_like, shape (K+1,)
    groups : array_like (n_units,) or callable
        A group label per unit (neuron or PDE node), e.g. ``np.arange(N) % 2`` for the parity classes,
        or a vectorised function of the unit labels ``xi`` (e.g. ``lambda xi: xi < 0.5``).
    xi : array_like (N,), keyword, optional
        Network only: label of each neuron (used by a callable ``groups``).

    Returns
    -------
    GroupRates
        ``rates`` of shape ``(K, G)`` with the groups sorted as by ``numpy.unique``.
    """
    e = _check_windows(windows, _t_end(source))
    lab = unit_labels(source, xi)
    names, inv = _group_index(source, groups, lab)
    integ = _window_integrals(source, e)
    rates = _grouped(integ, inv, names.size) / np.diff(e)[:, None]
    frac = np.bincount(inv, minlength=names.size) / inv.size
    return GroupRates(windows=e, groups=names, rates=rates, fraction=frac)


def _network_state(res: SimulationResult, t: float) -> np.ndarray:
    times = _network_times(res)
    tol = 1e-12 * max(1.0, float(res.t_end))
    j = int(np.argmin(np.abs(times - t))) if times.size else -1
    if j < 0 or abs(times[j] - t) > tol:
        raise bad_argument("t", t, f"the network state is recorded only at {np.round(times, 12).tolist()[:12]}",
                           "pass one of these times, or simulate again with save_times containing t")
    return np.asarray(res.states[j], dtype=float)


def _check_time(t: Any) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)) or not math.isfinite(float(t)):
        raise bad_argument("t", t, "must be a finite time", "pass a recorded time, e.g. t=t_end")
    return float(t)


def moments(source: Any, t: float, xi_bins: Any = 1, *, xi: Any = None) -> Moments:
    """Mean, second moment and variance of ``X(t)`` over the units of each ``xi`` bin.

    Parameters
    ----------
    source : SimulationResult or MeanFieldSolution
    t : float
        A recorded time (network) or any time in ``[0, t_end]`` (PDE).
    xi_bins : int or array_like, shape (B+1,)
        Bins (default: one bin, the whole population).
    xi : array_like (N,), keyword, optional
        Network only: labels of the neurons.
    """
    t = _check_time(t)
    b = _check_bins(xi_bins)
    lab = unit_labels(source, xi)
    idx = _bin_of(lab, b)
    units = np.bincount(idx[idx >= 0], minlength=b.size - 1)
    if np.any(units == 0):
        j = int(np.flatnonzero(units == 0)[0])
        raise bad_argument("xi_bins", b, f"bin [{b[j]:g}, {b[j + 1]:g}) holds no neuron or node",
                           "use fewer or wider bins")
    if _kind(source) == "network":
        x = _network_state(source, t)
        m1, m2 = x, x * x
    else:
        m1 = np.asarray(source.mean(t), dtype=float)
        m2 = np.asarray(source.variance(t), dtype=float) + m1 * m1
    keep = idx >= 0
    mean = _grouped(m1[keep], idx[keep], b.size - 1)
    second = _grouped(m2[keep], idx[keep], b.size - 1)
    return Moments(t=t, bins=b, mean=mean, second=second, variance=second - mean * mean, units=units)


def _apply(phi: Callable, xi: np.ndarray, x: np.ndarray) -> np.ndarray:
    try:
        out = np.asarray(phi(xi, x), dtype=float)
    except Exception as exc:  # noqa: BLE001 - the user's function: name it in the message
        raise bad_argument("phi", phi, f"raised {type(exc).__name__}: {exc} when called as phi(xi, x) with "
                           f"arrays of shapes {xi.shape} and {x.shape}",
                           "write phi with numpy operations that broadcast xi against x") from exc
    shape = np.broadcast_shapes(xi.shape, x.shape)
    if out.shape != shape:
        try:
            out = np.broadcast_to(out, shape)
        except ValueError:
            raise bad_argument("phi", phi, f"returned shape {out.shape}, expected {shape} (the broadcast of xi and x)",
                               "return an array of the broadcast shape of its arguments") from None
    if not np.all(np.isfinite(out)):
        raise bad_argument("phi", phi, "returned non-finite values", "use a bounded test function")
    return out


def pairing(source: Any, phi: Callable, t: float, *, xi: Any = None) -> float:
    """``<phi, mu_t> = int int phi(xi, x) mu_t(dxi, dx)``.

    Parameters
    ----------
    source : SimulationResult or MeanFieldSolution
    phi : callable
        ``phi(xi, x)``, vectorised: called with broadcastable float arrays, returns their broadcast
        shape (e.g. ``lambda xi, x: np.cos(2 * np.pi * xi) * np.tanh(x)``).
    t : float
        A recorded time (network) or a save time of the PDE solution.
    xi : array_like (N,), keyword, optional
        Network only: labels of the neurons.
    """
    if not callable(phi):
        raise bad_argument("phi", phi, "must be a callable phi(xi, x)", "pass e.g. lambda xi, x: xi * x")
    t = _check_time(t)
    lab = unit_labels(source, xi)
    if _kind(source) == "network":
        x = _network_state(source, t)
        return float(np.mean(_apply(phi, lab, x)))
    snap = source.snapshot(t)
    if isinstance(snap, CohortSnapshot):
        pos = np.asarray(snap.pos, dtype=float)
        mass = np.asarray(snap.mass, dtype=float)
        if snap.node_of is not None:
            pos, mass = pos[snap.node_of], mass[snap.node_of]
        live = mass != 0
        vals = _apply(phi, np.broadcast_to(lab[:, None], pos.shape), np.where(live, pos, 0.0))
        return float(np.sum(np.where(live, mass * vals, 0.0)) / lab.size)
    if isinstance(snap, GridSnapshot):
        edges = np.asarray(snap.edges, dtype=float)
        mid = 0.5 * (edges[1:] + edges[:-1])
        vals = _apply(phi, lab[:, None], mid[None, :])
        return float(np.sum(np.asarray(snap.cells, dtype=float) * vals) / lab.size)
    raise bad_argument("source", type(snap).__name__, "has a slice-law snapshot of unknown type",
                       "pass a solution of the lagrangian or upwind scheme")
