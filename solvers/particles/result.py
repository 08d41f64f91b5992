"""The result of a network simulation: spikes, states at the save times, typed counters."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from solvers.errors import bad_argument
from solvers.validation import check_nonnegative, check_positive

__all__ = ["SimulationResult", "SimulationInfo", "PopulationRate"]


@dataclass(frozen=True)
class SimulationInfo:
    """How a run was made (typed; replaces the string-keyed ``info`` dict of earlier versions).

    Attributes
    ----------
    operator : str
        Class name of the synaptic operator (``"DenseOperator"``, ``"SparseOperator"``, ...).
    dtype : str
        Storage dtype of the weights (``"float64"`` or ``"float32"``; the state is always float64).
    stream_ids_given : bool
        Whether the caller gave ``stream_ids`` (else neuron ``i`` used stream ``i``).
    bound : {"global", "local"} or None
        Dominating rate of the exact thinning: ``"global"`` (``L = sup f``, bounded intensity) or
        ``"local"`` (recomputed per neuron, unbounded non-decreasing intensity); ``None`` for the clock
        scheme, which needs no bound.
    bound_value : float or None
        ``sup f`` when ``bound == "global"``, else ``None``.
    kick_allowance : float or None
        Local bounds of a named family: the kick allowance ``kappa`` (potential units) in force at the
        end of the run, and ``kick_allowance_changes`` the number of times it changed (each renewed
        every bound; see :mod:`solvers.particles.exact`).  ``None`` otherwise.
    kick_allowance_changes : int or None
        See ``kick_allowance``.
    """

    operator: str
    dtype: str
    stream_ids_given: bool = False
    bound: str | None = None
    bound_value: float | None = None
    kick_allowance: float | None = None
    kick_allowance_changes: int | None = None

    def describe_bound(self) -> str:
        """``"global 10"``, ``"local"`` or ``"none"`` (for summaries)."""
        if self.bound == "global":
            return f"global {self.bound_value:g}"
        return self.bound or "none"


class PopulationRate(NamedTuple):
    """Binned population rate: ``rate[k]`` = spikes in ``[edges[k], edges[k+1])`` / (N * width_k).

    Shapes: ``edges (K+1,)``, ``centres (K,)``, ``rate (K,)`` in spikes per neuron per unit time,
    ``counts (K,)`` the raw spike counts.
    """

    edges: np.ndarray
    centres: np.ndarray
    rate: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class SimulationResult:
    """Spike trains, recorded states and counters of one run of :func:`~solvers.particles.simulate`.

    Attributes
    ----------
    spike_times : ndarray, shape (n_spikes,)
        Spike times, non-decreasing (strictly increasing for ``method="exact"``; equal within a step
        for ``"clock"``, where neurons are then in increasing index order).
    spike_neurons : ndarray of int64, shape (n_spikes,)
        Index (0-based) of the neuron that fired.
    save_times : ndarray, shape (R,)
        Times at which the state was saved (``record_times`` is a deprecated alias).
    states : ndarray, shape (R, N)
        ``X(save_times[r])`` (right-continuous: a spike at exactly a save time is included).
    t_end, N : float, int
        Horizon and network size.
    n_candidates : int
        Candidate events examined (exact) or Bernoulli trials ``N * n_steps`` (clock).
    n_spikes : int
        ``len(spike_times)``.
    wall_time : float
        Seconds spent in the event loop (validation and numba compilation / cache loading excluded).
    seed : int or SeedSequence
        The seed the run was made with.
    method : str
        ``"exact"`` or ``"clock"``.
    dt : float or None
        Clock step.
    path : str
        ``"compiled"`` or ``"python"`` (custom callables).
    n_rebases : int
        Integrating-factor rebases (exact leaky path).
    n_renewals : int
        Local dominating rates renewed because the kicks a neuron received went beyond what its bound
        allows (exact path with an unbounded intensity; 0 otherwise).
    info : SimulationInfo
        Operator, weight dtype, stream ids given or not, dominating-bound kind.
    """

    spike_times: np.ndarray
    spike_neurons: np.ndarray
    save_times: np.ndarray
    states: np.ndarray
    t_end: float
    N: int
    n_candidates: int
    n_spikes: int
    wall_time: float
    seed: Any
    method: str
    dt: float | None = None
    path: str = "compiled"
    n_rebases: int = 0
    n_renewals: int = 0
    info: SimulationInfo = field(default_factory=lambda: SimulationInfo(operator="", dtype=""))

    @property
    def record_times(self) -> np.ndarray:
        """Deprecated alias of :attr:`save_times` (one name per idea: ``solve`` uses ``save_times``)."""
        warnings.warn("SimulationResult.record_times is deprecated; use save_times", DeprecationWarning,
                      stacklevel=2)
        return self.save_times

    @property
    def acceptance_ratio(self) -> float:
        """``n_spikes / n_candidates`` (nan when there was no candidate)."""
        return self.n_spikes / self.n_candidates if self.n_candidates else math.nan

    @property
    def mean_rate(self) -> float:
        """Spikes per neuron per unit time over ``[0, t_end]``."""
        return self.n_spikes / (self.N * self.t_end)

    def spike_counts(self) -> np.ndarray:
        """Number of spikes of each neuron, shape ``(N,)``."""
        return np.bincount(self.spike_neurons, minlength=self.N)

    def spike_train(self, i: int) -> np.ndarray:
        """Spike times of neuron ``i``."""
        return self.spike_times[self.spike_neurons == i]

    def population_rate(self, bin_width: float, *, t_start: float = 0.0) -> PopulationRate:
        """Population rate in bins of width ``bin_width`` from ``t_start`` to ``t_end`` (the last
        bin is shorter if ``bin_width`` does not divide the window; the last bin includes ``t_end``)."""
        bw = check_positive("bin_width", bin_width, "pass e.g. bin_width=0.1")
        t_start = check_nonnegative("t_start", t_start, "pass t_start=0")
        if not t_start < self.t_end:
            raise bad_argument("t_start", t_start, f"must be in [0, t_end = {self.t_end})", "pass 0")
        n = max(1, int(math.ceil((self.t_end - t_start) / bw - 1e-9)))
        edges = t_start + np.arange(n + 1) * bw
        edges[-1] = self.t_end
        idx = np.searchsorted(edges, self.spike_times, side="right") - 1
        idx[self.spike_times == self.t_end] = n - 1
        keep = (idx >= 0) & (idx < n)
        counts = np.bincount(idx[keep], minlength=n)
        widths = np.diff(edges)
        return PopulationRate(edges=edges, centres=0.5 * (edges[:-1] + edges[1:]),
                              rate=counts / (self.N * widths), counts=counts)
