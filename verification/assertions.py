"""Convergence assertions for users' test suites: each runs the smallest study that can decide, and on
failure raises ``AssertionError`` whose message says why (the table, the fit, the criterion).

:func:`assert_mean_field_convergence`
    Networks of the sizes ``sizes`` (weights ``weights_for(N)``, ``replicates`` runs each, one random
    stream per ``(N, replicate)``: ``SeedSequence(seed, spawn_key=(N, r))``, so adding a size never
    changes the others) against the mean-field PDE of ``kernel``.  Per run the distance of the
    observable to the PDE's (``observable="state"``: ``metric`` between the extended empirical
    measure, relabelled by the neurons' positions, and the PDE's at each time of ``times``, the
    largest over the times; for ``d_w`` the upper side of the certified bracket, so a small value is a
    proven small distance; computed with 32 zeta cells for a kernel with a smooth separable form, 4 random
    starts, 4 roundings and 50 Burer-Monteiro iterations: each side is certified whatever these are,
    they only tighten the bracket).  Per ``N``: the mean with its Student-t interval.  Fit ``mean_N = C
    N^p`` (:func:`verification.rates.fit_power_law`, percentile bootstrap over the replicates within
    each ``N``, level ``level``; about ``p +- 1.96`` bootstrap standard errors at 0.95).  **Criteria**, all
    needed: *consistent*, the interval of ``p`` meets the band ``[expected_exponent - tolerance,
    expected_exponent + tolerance]`` (a study whose true exponent lies in the band fails it with
    probability at most ``(1 - level) / 2``, 2.5%, up to the bootstrap's undercoverage stated in
    :mod:`verification.rates`); *decays*, the interval lies below 0 (the distance provably decreases:
    a distance that stays O(1) passes this with probability about 2.5%); *resolved*, the interval is at
    most ``max_width`` wide (default 0.6, the exponent known to +-0.3), so that a noisy study can never
    pass by saying nothing (raise the budget).  ``tolerance`` (default 0.2) allows for pre-asymptotic
    curvature at small ``N``.  Measured with the defaults (sizes 100-800, 12 replicates) on 30 cases
    drawn from :func:`~verification.strategies.kernels` (values in ``[-1, 2]``), the four bounded weight
    families, :func:`~verification.strategies.neuron_models` and
    :func:`~verification.strategies.initial_data`: every case passed, fitted exponents -0.69 to -0.39,
    interval widths at most 0.30, upper ends at most -0.31.  On drawn ``hub`` cases (kernels in
    ``[0.25, 2]``): with intensities of rate at least 4 none of 30 passed; with rates down to 1, 4 of
    30 passed: a hub that fires about twice in the horizon moves the distance little beside its
    ``N^-1/2`` part at these sizes (use larger sizes or budgets to see weak controls fail).  (Loaded
    2-core machine: about 0.3 s per study.)
    **Reference**: the Lagrangian solver at ``n_xi`` nodes and step ``dt``; its resolution is checked
    against a solve at ``2 n_xi`` nodes and ``dt / 2`` (and twice the quadrature atoms of a
    continuous initial law): the metric between the two (for ``d_w`` the certified upper side) must
    be at most ``resolution_fraction`` (0.25) of the smallest per-size mean, else
    :class:`~solvers.errors.ConvergenceError` (an unresolved reference decides nothing; the error
    says what to refine).  This is an estimate of the reference's error, not a bound.
:func:`assert_hypotheses_hold`
    :func:`verification.hypotheses.check` on a weight sequence (and a model): fails when a hypothesis
    is violated (or cannot be told, unless allowed), with the ``kappa_N`` table and the fitted growth
    exponent of ``kappa_N`` with its interval.
:func:`assert_duality`
    The dual-backward equation against the forward one at refined steps ``dts``: the frozen dual is
    the exact adjoint of the forward step (defect to rounding: ``<= frozen_tolerance`` relative), and
    the linearised dual satisfies ``<phi(0), nu_0> = d/d eps <phi_T, mu_eps(T)>`` with ``d/d eps`` a
    central difference (``eps``) of the *nonlinear* forward solver (an independent oracle); the
    least-squares order of the linearised defect must lie in ``expected_order +- tolerance``.

Budget (``--ifmf-budget`` of the pytest plugin): a budget ``b`` multiplies the replicates by ``b``
(at least 2) and the sizes by ``sqrt(b)``, so a study costs about ``b^1.5`` times more.  Resolution
order: the ``budget=`` argument, then :func:`use_budget`, then the environment variable
``IFMF_BUDGET`` (what the plugin sets), then 1.

Each assertion returns its study (:class:`ConvergenceStudy`, the ``HypothesisReport``,
:class:`DualityStudy`) when it passes; ``study.report()`` is the text of the failure message.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from solvers.errors import ConvergenceError, bad_argument
from solvers.graphons import Kernel, StepKernel, WRandomGraph, labels
from solvers.model import NeuronModel
from solvers.validation import (
    check_bool,
    check_choice,
    check_instance,
    check_int,
    check_positive,
    check_real,
    check_seed,
)
from verification.rates import FAIL, PASS, PowerLawFit, Verdict, Within, fit_power_law, mean_interval

__all__ = ["assert_mean_field_convergence", "assert_hypotheses_hold", "assert_duality", "ConvergenceStudy",
           "DualityStudy", "current_budget", "use_budget", "BUDGET_ENV", "OBSERVABLES", "STATE_METRICS",
           "SCALAR_METRICS"]

BUDGET_ENV = "IFMF_BUDGET"
"""Environment variable holding the default budget (set by the pytest plugin's ``--ifmf-budget``)."""

#: observables of :func:`assert_mean_field_convergence` (besides a callable ``phi(xi, x)``)
OBSERVABLES = ("state", "population_rate")
#: metrics between states (``observable="state"``)
STATE_METRICS = ("d_w", "kernel_mmd", "population_w1", "strong")
#: metrics of scalar observables (``"population_rate"`` and pairings): largest or RMS absolute difference
SCALAR_METRICS = ("abs", "rms")

class _Required:
    """Marker of a required keyword that was not given (the error is the library's, not a TypeError)."""

    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: Any = _Required()

#: the largest finite-difference floor (relative to max(1, |derivative|)) the duality oracle may have
_ORACLE = 1e-6
#: distances at or below this are rounding: a study whose means all are has nothing to fit
_SILENT = 1e-10

_BUDGET: contextvars.ContextVar[float | None] = contextvars.ContextVar("ifmf_budget", default=None)


# ------------------------------------------------------------------------------------------ budget
def _check_budget(name: str, value: Any) -> float:
    return check_positive(name, value, "pass a budget > 0 (1 = the default cost, 4 = about 8 times the cost)")


def current_budget() -> float:
    """The budget in force: :func:`use_budget`'s, else ``IFMF_BUDGET``'s, else 1."""
    b = _BUDGET.get()
    if b is not None:
        return b
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise bad_argument(BUDGET_ENV, text, "must be a number > 0",
                           f"unset {BUDGET_ENV} or set it to e.g. 2") from None
    return _check_budget(BUDGET_ENV, value)


@contextlib.contextmanager
def use_budget(budget: float) -> Iterator[float]:
    """Run the assertions inside the ``with`` block with ``budget`` (see the module docstring)."""
    token = _BUDGET.set(_check_budget("budget", budget))
    try:
        yield _BUDGET.get()
    finally:
        _BUDGET.reset(token)


def _scaled(sizes: list[int], replicates: int, budget: float) -> tuple[list[int], int]:
    reps = max(2, int(math.ceil(replicates * budget - 1e-9)))
    scaled = sorted({max(2, int(round(N * math.sqrt(budget)))) for N in sizes})
    return scaled, reps


# -------------------------------------------------------------------------------------- formatting
def _g(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}"


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[k]) for r in rows)) if rows else len(h) for k, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join("    " + line for line in lines)


# ------------------------------------------------------------------------------------ convergence
@dataclass(frozen=True, eq=False)
class ConvergenceStudy:
    """Result of :func:`assert_mean_field_convergence`.

    Attributes
    ----------
    table : pandas.DataFrame
        Per size: ``N``, ``replicates``, ``kappa_N``, ``mean``, ``lower``, ``upper`` (Student-t interval
        of the mean at ``level``), ``bracket_lower``, ``bracket_upper`` (means of the certified sides
        for ``d_w``; equal to ``mean`` for exact metrics).
    values : pandas.DataFrame
        Per run: ``N``, ``replicate``, ``value``, ``bracket_lower``, ``bracket_upper``.
    fit : PowerLawFit
        The fitted ``mean_N = C N^p``.
    verdicts : tuple of verification.rates.Verdict
        The three criteria on the exponent: consistent with the band, decays, resolved (module docstring).
    resolution : float
        The metric between the reference and its refinement (module docstring).
    claim : str
        What is asserted, in words.
    settings : dict
        Everything the study used (model, kernel, sizes, replicates, budget, seed, grids, ...).
    """

    table: pd.DataFrame
    values: pd.DataFrame
    fit: PowerLawFit
    verdicts: tuple[Verdict, ...]
    resolution: float
    claim: str
    settings: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def report(self) -> str:
        """The study as text (the ``AssertionError`` message on failure)."""
        s = self.settings
        e = self.fit.exponent
        lv = f"{100 * s['level']:.0f}%"
        rows = []
        for r in self.table.to_dict("records"):
            rows.append([str(int(r["N"])), _g(r["kappa_N"]), str(int(r["replicates"])), _g(r["mean"]),
                         f"[{_g(r['lower'])}, {_g(r['upper'])}]",
                         f"[{_g(r['bracket_lower'])}, {_g(r['bracket_upper'])}]"])
        head = ["N", "kappa_N", "replicates", "mean", f"{lv} interval (Student-t)", "mean bracket [lower, upper]"]
        status = PASS if self.passed else FAIL
        lines = [f"ifmf mean-field convergence: {status}",
                 f"  claim: {self.claim}",
                 f"  fitted exponent: {e.text()} ({lv} {e.method}, about +-{_g(s['z'], 3)} standard errors), "
                 f"prefactor {self.fit.prefactor.value:.4g}"]
        lines += [f"  criterion ({v.status}): {v.criterion}: {v.decided_by}" for v in self.verdicts]
        lines += [_text_table(head, rows)]
        kap = self.table["kappa_N"].to_numpy()
        if kap[0] > 0 and kap[-1] / kap[0] > 1.5 and self.table["N"].iloc[-1] > self.table["N"].iloc[0]:
            lines.append(f"  note: kappa_N = N max|W_ij| grows from {_g(kap[0])} to {_g(kap[-1])}: the weights "
                         "are not O(1/N), outside the theorem's hypotheses (see assert_hypotheses_hold)")
        smallest = _g(float(self.table["mean"].min()), 3)
        lines += [f"  reference: mean-field PDE (Lagrangian), n_xi = {s['n_xi']}, dt = {_g(s['dt'])}; resolution "
                  f"check against 2 n_xi, dt/2: {_g(self.resolution, 3)} (smallest mean {smallest})",
                  f"  model: {s['model']!r}",
                  f"  kernel: {s['kernel']!r}",
                  f"  weights: {s['weights']}",
                  f"  initial: {s['initial']!r}; t_end = {_g(s['t_end'])}, times = {list(s['times'])}",
                  f"  seed: {s['seed']}; budget {_g(s['budget'])} (replicates x b, sizes x sqrt(b))"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _as_initial(initial: Any):
    from verification.strategies import InitialData

    if isinstance(initial, InitialData):
        return initial
    if isinstance(initial, (int, float, np.integer, np.floating)) and not isinstance(initial, (bool, np.bool_)):
        return InitialData("constant", (check_real("initial", initial),))
    raise bad_argument("initial", initial, "must be a number (every neuron starts there) or an InitialData",
                       "pass e.g. initial=0.0 or an element of verification.strategies.initial_data()")


def _labelled(value: Any, N: int) -> tuple[Any, np.ndarray]:
    """``(weights, positions)`` from what ``weights_for(N)`` returned."""
    from solvers.graphons import validate_weights
    from verification.strategies import LabelledWeights

    if isinstance(value, LabelledWeights):
        W, pos = value.weights, np.asarray(value.positions, dtype=float)
    elif isinstance(value, WRandomGraph):
        W, pos = value.weights, np.asarray(value.positions, dtype=float)
    else:
        W, pos = validate_weights(value, f"weights_for({N})"), labels(N)
    if W.shape != (N, N):
        raise bad_argument("weights_for", f"a callable returning shape {W.shape} for N = {N}",
                           "must return an N x N matrix", "check the callable")
    if pos.shape != (N,) or not np.all(np.isfinite(pos)):
        raise bad_argument("weights_for", f"positions of shape {pos.shape} for N = {N}",
                           "must give one finite position per neuron", "return LabelledWeights with N positions")
    return W, pos


def _weights_name(weights_for: Any) -> str:
    return repr(weights_for) if not getattr(weights_for, "__name__", None) else \
        f"{getattr(weights_for, '__module__', '')}.{weights_for.__name__}".lstrip(".")


def _check_sizes(sizes: Any) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple, np.ndarray, range)):
        raise bad_argument("sizes", sizes, "must be a list of network sizes", "pass e.g. sizes=[100, 200, 400, 800]")
    out = [check_int(f"sizes[{k}]", N, 2, "pass integer sizes >= 2") for k, N in enumerate(sizes)]
    if len(set(out)) < 3:
        raise bad_argument("sizes", sizes, "needs at least 3 distinct sizes (a rate is a slope over sizes)",
                           "pass e.g. sizes=[100, 200, 400, 800]")
    return sorted(set(out))


def _check_times(times: Any, t_end: float, dt: float) -> np.ndarray:
    from solvers.validation import check_times

    t = check_times("times", times, t_end, default=[t_end])
    if t.size == 0 or t[0] <= 0:
        raise bad_argument("times", times, "must be non-empty times in (0, t_end]",
                           f"pass e.g. times=[{t_end:g}] (at t = 0 the network and the PDE are the initial data)")
    n_steps = max(1, int(math.ceil(t_end / dt - 1e-9)))
    k = t / t_end * n_steps
    if np.any(np.abs(k - np.rint(k)) > 1e-6):
        raise bad_argument("times", times, f"must lie on the PDE's time grid (steps of t_end / {n_steps} = "
                           f"{t_end / n_steps:g})", "pass times that are multiples of dt")
    return np.unique(t)


def _state_metric(metric: str, kernel: Kernel, bandwidth: float, *, cheap: bool = False):
    from verification.metrics import kernel_mmd, population_w1, strong_distance, weak_distance

    if metric == "d_w":
        separable = not isinstance(kernel, StepKernel) and kernel.separable_terms() is not None
        opts: dict[str, Any] = {"zeta_cells": 32} if separable else {}
        if cheap:  # the resolution check: the certified entrywise upper side is enough
            opts.update(sdp=False, restarts=1, roundings=0)
        else:
            opts.update(restarts=4, roundings=4, sdp_iterations=50)

        def f(a, b):
            br = weak_distance(a, b, kernel, **opts)
            return br.upper, br.lower, br.upper
        return f
    if metric == "kernel_mmd":
        def f(a, b):  # the binned FFT path (the exact pairwise sums cost O(P^2) over P atoms and segments)
            m = kernel_mmd(a, b, kernel, bandwidth=bandwidth, method="binned")
            return m.value, m.value, m.value
        return f
    fn = population_w1 if metric == "population_w1" else strong_distance

    def f(a, b):
        v = fn(a, b)
        return v, v, v
    return f


def _reduce(diffs: np.ndarray, metric: str) -> float:
    d = np.abs(np.asarray(diffs, dtype=float))
    return float(d.max()) if metric == "abs" else float(np.sqrt(np.mean(d * d)))


def _exponent_verdicts(fit: PowerLawFit, p0: float, tol: float, max_width: float) -> tuple[Verdict, ...]:
    """*consistent*: the interval meets ``[p0 - tol, p0 + tol]``; *decays*: it lies below 0; *resolved*: it is
    at most ``max_width`` wide (module docstring)."""
    e = fit.exponent
    nums = {"value": e.value, "lower": e.lower, "upper": e.upper}
    lo, hi = p0 - tol, p0 + tol
    meets = e.lower <= hi and e.upper >= lo
    band = f"[{_g(lo)}, {_g(hi)}]"
    consistent = Verdict("exponent", PASS if meets else FAIL,
                         f"the interval of the exponent meets {band} (expected {_g(p0)} +- tolerance {_g(tol)})",
                         f"exponent = {e.text()} {'meets' if meets else 'lies outside'} {band}",
                         dict(nums, low=lo, high=hi))
    below = e.upper < 0
    decays = Verdict("exponent", PASS if below else FAIL, "the interval lies below 0 (the distance decreases with N)",
                     f"upper end {_g(e.upper)} {'<' if below else '>='} 0" +
                     ("" if below else ": no decrease with N is shown"), nums)
    width = e.upper - e.lower
    ok = width <= max_width
    resolved = Verdict("exponent", PASS if ok else FAIL, f"the interval is at most {_g(max_width)} wide (resolved)",
                       f"width {_g(width, 3)} {'<=' if ok else '>'} {_g(max_width)}"
                       + ("" if ok else ": too noisy to decide, raise the budget or the replicates"),
                       {"width": width, "max_width": max_width})
    return consistent, decays, resolved


def assert_mean_field_convergence(model: NeuronModel, kernel: Kernel, weights_for: Callable[[int], Any],
                                  sizes: Sequence[int], *, observable: str | Callable = _REQUIRED,
                                  seed: Any = _REQUIRED,
                                  metric: str = "d_w", expected_exponent: float = -0.5, tolerance: float = 0.2,
                                  max_width: float = 0.6, level: float = 0.95, replicates: int = 12, t_end: float = 2.0,
                                  times: Sequence[float] | None = None, initial: Any = 0.0, n_xi: int | None = None,
                                  dt: float = 0.02, window: float | None = None, bandwidth: float = 0.5,
                                  budget: float | None = None, resolution_fraction: float = 0.25,
                                  n_boot: int = 2000) -> ConvergenceStudy:
    """Assert that networks converge to the mean-field PDE at the rate ``N^expected_exponent``.

    Parameters
    ----------
    model : NeuronModel
        The neuron model of the network and of the PDE.
    kernel : solvers.graphons.Kernel
        The limit kernel ``w`` (the PDE's).
    weights_for : callable N -> weights
        The network's weights at size ``N``: an ``(N, N)`` matrix (dense or scipy sparse; the labels
        are the positions), a :class:`~solvers.graphons.WRandomGraph` or a
        :class:`~verification.strategies.LabelledWeights` (relabelled by their positions), e.g. a
        :class:`~verification.strategies.WeightSequence`.
    sizes : sequence of int
        At least 3 distinct sizes ``>= 2`` (scaled by ``sqrt(budget)``).
    observable : {"state", "population_rate"} or callable, keyword
        ``"state"``: the extended empirical measure at ``times`` against the PDE's, in ``metric``
        (:data:`STATE_METRICS`: ``"d_w"``, ``"kernel_mmd"`` (Gaussian, ``bandwidth``; the binned FFT
        path of :func:`verification.metrics.kernel_mmd`, error estimated there, not certified),
        ``"population_w1"``, ``"strong"``).  ``"population_rate"``: the population rate in windows of
        width ``window`` (default ``t_end / 10``); a callable ``phi(xi, x)``: the pairing
        ``<phi, mu_t>`` at ``times``.  Both compared by ``metric`` ``"abs"`` (largest absolute
        difference) or ``"rms"``.
    seed : int or SeedSequence, keyword
        Root of every random draw (required).
    metric : str, keyword
        See ``observable`` (default ``"d_w"``).
    expected_exponent, tolerance, max_width, level : float, keyword
        The criteria (module docstring): the ``level`` interval of the fitted exponent must meet
        ``expected_exponent +- tolerance`` and be at most ``max_width`` wide.
    replicates : int, keyword
        Runs per size (scaled by the budget, at least 2).
    t_end : float, keyword
        Horizon.
    times : sequence of float, keyword, optional
        Observation times in ``(0, t_end]`` on the PDE's time grid (default ``[t_end]``).
    initial : float or InitialData, keyword
        Initial data (:func:`verification.strategies.initial_data`); a number: every neuron there.
    n_xi : int, keyword, optional
        PDE nodes (default 32, raised to a multiple of a step kernel's cells).
    dt : float, keyword
        PDE step (second-order scheme).
    window, bandwidth : float, keyword
        See ``observable``.
    budget : float, keyword, optional
        Cost multiplier (module docstring); default :func:`current_budget`.
    resolution_fraction : float, keyword
        The reference's resolution check (module docstring).
    n_boot : int, keyword
        Bootstrap samples of the fit.

    Returns
    -------
    ConvergenceStudy
        When the criterion holds.

    Raises
    ------
    AssertionError
        The criterion fails (or no rate can be fitted); the message is :meth:`ConvergenceStudy.report`.
    ConvergenceError
        The reference PDE is not resolved enough to decide (the message says what to refine).
    InvalidArgumentError
        Bad arguments.
    """
    from solvers.meanfield import solve
    from solvers.measures import ExtendedMeasure
    from solvers.particles import simulate
    from verification import observables as obs
    from verification.hypotheses import weight_statistics

    check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.ring()")
    if observable is _REQUIRED:
        raise bad_argument("observable", None, "is required (what is compared with the PDE)",
                           "pass observable='state' (with metric='d_w'), 'population_rate' or a callable phi(xi, x)")
    if seed is _REQUIRED:
        raise bad_argument("seed", None, "is required (never defaulted: a study is reproducible from it)",
                           "pass e.g. seed=2024")
    if not callable(weights_for):
        raise bad_argument("weights_for", weights_for, "must be a callable N -> weights",
                           "pass e.g. ring().weights or a WeightSequence")
    sizes = _check_sizes(sizes)
    if callable(observable) and not isinstance(observable, str):
        kind = "pairing"
        check_choice("metric", metric, SCALAR_METRICS,
                     f"a pairing observable is a number: use metric in {SCALAR_METRICS}")
    else:
        kind = check_choice("observable", observable, OBSERVABLES,
                            "use 'state', 'population_rate' or a callable phi(xi, x)")
        valid = STATE_METRICS if kind == "state" else SCALAR_METRICS
        check_choice("metric", metric, valid, f"observable={kind!r} takes metric in {valid}")
    root = check_seed(seed)
    p0 = check_real("expected_exponent", expected_exponent)
    tol = check_positive("tolerance", tolerance, "pass e.g. tolerance=0.2")
    max_width = check_positive("max_width", max_width, "pass e.g. max_width=0.6")
    level = check_real("level", level)
    if not 0 < level < 1:
        raise bad_argument("level", level, "must be in (0, 1)", "pass e.g. level=0.95")
    replicates = check_int("replicates", replicates, 2, "pass e.g. replicates=8")
    t_end = check_positive("t_end", t_end, "pass e.g. t_end=2.0")
    dt = check_positive("dt", dt, "pass e.g. dt=0.01")
    if dt > t_end:
        raise bad_argument("dt", dt, f"must be <= t_end = {t_end:g}", "pass a smaller dt")
    times_a = _check_times(times, t_end, dt)
    shown_times = [float(t) for t in times_a]
    init = _as_initial(initial)
    if n_xi is None:
        n_xi = 32
        if isinstance(kernel, StepKernel):
            n_xi = kernel.n * int(math.ceil(32 / kernel.n))
    n_xi = check_int("n_xi", n_xi, 1, "pass e.g. n_xi=32")
    window = t_end / 10 if window is None else check_positive("window", window)
    bandwidth = check_positive("bandwidth", bandwidth)
    b = current_budget() if budget is None else _check_budget("budget", budget)
    frac = check_positive("resolution_fraction", resolution_fraction)
    n_boot = check_int("n_boot", n_boot, 100, "pass e.g. n_boot=2000")
    sizes_b, reps = _scaled(sizes, replicates, b)

    # reference and its refinement
    sol = solve(model, kernel, t_end, init.pde(n_xi), n_xi=n_xi, dt=dt, save_times=times_a)
    fine = solve(model, kernel, t_end, init.pde(2 * n_xi, resolution=2), n_xi=2 * n_xi, dt=dt / 2,
                 save_times=times_a)
    if kind == "state":
        dist = _state_metric(metric, kernel, bandwidth)
        ref = [ExtendedMeasure.from_solution(sol, float(t)) for t in times_a]
        cheap = _state_metric(metric, kernel, bandwidth, cheap=True)
        resolution = max(cheap(r, ExtendedMeasure.from_solution(fine, float(t)))[2] for r, t in zip(ref, times_a))
        what = {"d_w": "d_w (upper side of the certified bracket)", "kernel_mmd": f"d_w,k (Gaussian, bandwidth "
                f"{bandwidth:g})", "population_w1": "W_1 of the xi-averages", "strong": "int W_1(mu(xi), nu(xi)) dxi"}
        claim = (f"{what[metric]} between mu^N_t and the PDE's mu_t, largest over t in {shown_times}, decays "
                 f"like N^{p0:g}")
    elif kind == "population_rate":
        windows = obs.window_edges(t_end, window)
        ref_rate = obs.population_rate(sol, windows)
        resolution = _reduce(ref_rate - obs.population_rate(fine, windows), metric)
        claim = (f"the population rate in windows of width {window:g} ({metric} difference to the PDE's) decays "
                 f"like N^{p0:g}")
    else:
        phi = observable
        ref_pair = np.array([obs.pairing(sol, phi, float(t)) for t in times_a])
        resolution = _reduce(ref_pair - np.array([obs.pairing(fine, phi, float(t)) for t in times_a]), metric)
        claim = f"<phi, mu^N_t> - <phi, mu_t> ({metric} over t in {shown_times}) decays like N^{p0:g}"

    rows, per_size = [], []
    for N in sizes_b:
        W, pos = _labelled(weights_for(N), N)
        kappa = weight_statistics(W)["kappa_N"]
        order = np.argsort(pos, kind="stable")
        rank = np.empty(N, dtype=np.int64)
        rank[order] = np.arange(N)
        vals = []
        for r in range(reps):
            child = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (N, r))
            s_init, s_sim = child.spawn(2)
            X0 = init.network(pos, seed=s_init)
            res = simulate(model, W, t_end, X0, s_sim, save_times=times_a)
            if kind == "state":
                trip = [dist(ExtendedMeasure.from_network(res.states[k][order]), ref[k]) for k in range(times_a.size)]
                v, lo_b, hi_b = (max(t[j] for t in trip) for j in range(3))
            elif kind == "population_rate":
                v = _reduce(obs.population_rate(res, windows) - ref_rate, metric)
                lo_b = hi_b = v
            else:
                xi = labels(N)[rank]
                net = np.array([obs.pairing(res, phi, float(t), xi=xi) for t in times_a])
                v = _reduce(net - ref_pair, metric)
                lo_b = hi_b = v
            rows.append({"N": N, "replicate": r, "value": float(v), "bracket_lower": float(lo_b),
                         "bracket_upper": float(hi_b)})
            vals.append(float(v))
        del W
        mi = mean_interval(vals, level=level)
        blo = float(np.mean([x["bracket_lower"] for x in rows[-reps:]]))
        bhi = float(np.mean([x["bracket_upper"] for x in rows[-reps:]]))
        per_size.append({"N": N, "replicates": reps, "kappa_N": kappa, "mean": mi.value, "lower": mi.lower,
                         "upper": mi.upper, "bracket_lower": blo, "bracket_upper": bhi})
    table = pd.DataFrame(per_size)
    values = pd.DataFrame(rows)
    from scipy import stats as _stats

    settings = {"model": model, "kernel": kernel, "weights": _weights_name(weights_for), "initial": init,
                "sizes": sizes_b, "sizes_requested": sizes, "replicates": reps, "budget": b, "seed": seed,
                "t_end": t_end, "times": tuple(float(t) for t in times_a), "n_xi": n_xi, "dt": dt,
                "observable": kind if kind != "pairing" else observable, "metric": metric,
                "expected_exponent": p0, "tolerance": tol, "max_width": max_width, "level": level,
                "z": float(_stats.norm.ppf(0.5 + level / 2)), "resolution_fraction": frac}
    smallest = float(table["mean"].min())
    if float(table["mean"].max()) <= _SILENT:
        raise AssertionError(
            f"ifmf mean-field convergence: FAIL\n  claim: {claim}\n  no rate: every mean distance is <= {_SILENT:g} "
            f"(largest {float(table['mean'].max()):.3g}): the networks equal the limit to rounding, nothing "
            "fluctuates (e.g. no neuron fires, or a zero kernel for d_w)\n"
            + _text_table(["N", "mean"], [[str(int(n)), f"{m:.3g}"] for n, m in zip(table["N"], table["mean"])])
            + f"\n  model: {model!r}\n  kernel: {kernel!r}\n  weights: {settings['weights']}")
    if resolution > frac * smallest:
        raise ConvergenceError(
            f"the reference PDE is not resolved enough to decide: the {metric} between the solutions at n_xi = "
            f"{n_xi}, dt = {dt:g} and at n_xi = {2 * n_xi}, dt = {dt / 2:g} is {resolution:.3g}, more than "
            f"{frac:g} x the smallest measured mean {smallest:.3g}. Fix: pass a larger n_xi and a smaller dt, or "
            "smaller sizes")
    fit = fit_power_law(values["N"].to_numpy(), values["value"].to_numpy(), statistic="mean",
                        seed=np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (0, 0, 0)),
                        n_boot=n_boot, level=level)
    study = ConvergenceStudy(table=table, values=values, fit=fit, verdicts=_exponent_verdicts(fit, p0, tol, max_width),
                             resolution=float(resolution),
                             claim=claim, settings=settings)
    if not study.passed:
        raise AssertionError(study.report())
    return study


# ------------------------------------------------------------------------------------- hypotheses
def assert_hypotheses_hold(weights: Any, *, sizes: Sequence[int] | None = None, model: NeuronModel | None = None,
                           allow_cannot_tell: bool = False, x_range: tuple[float, float] = (-5.0, 10.0),
                           n_samples: int = 2001):
    """Assert the theorem's hypotheses on weights (and a model).

    Parameters
    ----------
    weights : matrix, list of matrices, or callable N -> weights
        As :func:`verification.hypotheses.check`; a callable may also return
        :class:`~verification.strategies.LabelledWeights` (e.g. a ``WeightSequence``).
    sizes : sequence of int, keyword
        Sizes at which a callable is evaluated (required then).
    model : NeuronModel, keyword, optional
        If given, its hypotheses (``f`` bounded and Lipschitz, ``b`` Lipschitz, ``f >= 0``) are asserted
        too; else only the O(1/N) hypothesis of the weights.
    allow_cannot_tell : bool, keyword
        Accept "cannot tell" verdicts (default: they fail, a hypothesis not established is not held).
    x_range, n_samples : keyword
        Sampling of the model's functions (:func:`verification.hypotheses.check`).

    Returns
    -------
    HypothesisReport
        When every asserted hypothesis holds.

    Raises
    ------
    AssertionError
        With the ``kappa_N`` table, the growth fit and the verdicts.
    """
    from verification import hypotheses as hyp
    from verification.strategies import LabelledWeights

    allow = check_bool("allow_cannot_tell", allow_cannot_tell)
    if model is not None:
        check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard(), or model=None")

    def unwrap(w):
        return w.weights if isinstance(w, LabelledWeights) else w

    if callable(weights) and not isinstance(weights, np.ndarray) and not sp.issparse(weights):
        def target(N):
            return unwrap(weights(N))
    elif isinstance(weights, (list, tuple)):
        target = [unwrap(w) for w in weights]
    else:
        target = unwrap(weights)
    report = hyp.check(model if model is not None else NeuronModel.standard(), target, sizes=sizes,
                       x_range=x_range, n_samples=n_samples)
    asserted = hyp.HYPOTHESES if model is not None else ("O(1/N) weights",)
    bad = [v for v in report.verdicts if v.hypothesis in asserted and
           (v.status == hyp.VIOLATED or (v.status == hyp.CANNOT_TELL and not allow))]
    if bad:
        rows = [[str(int(r["N"])), _g(r["kappa_N"]), _g(r["max_col_abs_sum"]), _g(r["max_row_abs_sum"])]
                for r in report.table.to_dict("records")]
        lines = ["ifmf hypotheses: FAIL",
                 f"  asserted: {', '.join(asserted)}" + ("" if allow else " (a 'cannot tell' verdict fails)"),
                 "  criterion: kappa_N = N max|W_ij| bounded: the fitted growth exponent of kappa_N (95% Student-t "
                 f"interval) below {hyp.EXPONENT_THRESHOLD:g}; violated when its interval lies above "
                 f"{hyp.EXPONENT_THRESHOLD:g} and kappa_N grew more than {hyp.GROWTH_THRESHOLD:g} times",
                 f"  {hyp._growth_sentence(report.growth)}",
                 _text_table(["N", "kappa_N", "max column sum", "max row sum"], rows)]
        lines += [f"  {v.hypothesis}: {v.status}: {v.reason}" + (f" WARNING: {v.warning}" if v.warning else "")
                  for v in report.verdicts if v.hypothesis in asserted]
        raise AssertionError("\n".join(lines))
    return report


# ---------------------------------------------------------------------------------------- duality
@dataclass(frozen=True, eq=False)
class DualityStudy:
    """Result of :func:`assert_duality`.

    Attributes
    ----------
    table : pandas.DataFrame
        Per step: ``dt``, ``frozen_defect`` (``|<phi(0), mu(0)> - <phi(T), mu(T)>|``, frozen dual, the
        scheme's own measures), ``pairing`` (``<phi_T, mu(T)>``), ``derivative`` (central difference of
        ``<phi_T, mu_eps(T)>``), ``linearised`` (``<phi(0), nu_0>``), ``defect`` (their difference).
    order : verification.rates.ObservedOrders or None
        Orders of the linearised defect (``None`` when every defect is below the finite-difference floor).
    verdicts : tuple of Verdict
    floor : float
        The finite-difference accuracy of the derivative at the finest step (``|D(eps) - D(eps/2)| 4/3``
        plus ``1e-12`` relative; the column ``floor`` of the table has it per step).
    settings : dict
    """

    table: pd.DataFrame
    order: Any
    verdicts: tuple
    floor: float
    settings: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def report(self) -> str:
        s = self.settings
        rows = [[_g(r["dt"]), f"{r['frozen_defect']:.3g}", _g(r["derivative"], 8), _g(r["linearised"], 8),
                 f"{r['defect']:.3g}"] for r in self.table.to_dict("records")]
        status = "PASS" if self.passed else "FAIL"
        lines = [f"ifmf duality: {status}",
                 "  claim: the frozen dual is the exact adjoint of the forward step, and <phi(0), nu_0> = "
                 "d/deps <phi_T, mu_eps(T)> (linearised dual) with a defect of order "
                 f"{_g(s['expected_order'])} in dt",
                 _text_table(["dt", "frozen defect", "d/deps <phi_T, mu_eps(T)>", "<phi(0), nu_0>", "defect"], rows)]
        if self.order is not None:
            lines.append(f"  fitted order of the defect: {self.order.slope.text()} (successive: "
                         f"{', '.join(_g(o, 3) for o in self.order.orders)})")
        lines.append(f"  finite-difference floor (eps = {_g(s['eps'])}): {self.floor:.3g}")
        lines += [f"  criterion: {v.criterion}: {v.status} ({v.decided_by})" for v in self.verdicts]
        lines += [f"  model: {s['model']!r}", f"  kernel: {s['kernel']!r}", f"  initial: {s['initial']!r}; "
                  f"t_end = {_g(s['t_end'])}, n_xi = {s['n_xi']}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _default_terminal(xi, x):
    """``phi_T(xi, x) = sin(x) (1 + xi) / 2``: smooth, ``|phi_T| <= 1``, ``Lip_x <= 1``."""
    return np.sin(x) * (1.0 + np.asarray(xi, dtype=float)) / 2.0


def assert_duality(model: NeuronModel, kernel: Kernel, *, terminal: Any = None, initial: Any = 0.5,
                   t_end: float = 1.0, dts: Sequence[float] = (0.02, 0.01, 0.005), n_xi: int = 8,
                   perturbation: Any = None, eps: float = 1e-4, expected_order: float = 2.0,
                   tolerance: float = 0.35, frozen_tolerance: float = 1e-9) -> DualityStudy:
    """Assert the duality identities of the dual-backward equation for a model and a kernel.

    Parameters
    ----------
    model : NeuronModel
        Leaky drift and a named intensity family (the dual solvers are compiled for those).
    kernel : Kernel
    terminal : callable, TerminalFunction or None, keyword
        ``phi_T(xi, x)`` (default ``sin(x) (1 + xi) / 2``), e.g. :func:`solvers.dual.weak_test_function`.
    initial : float, InitialData or InitialSpec, keyword
        The forward's initial datum.
    t_end : float, keyword
    dts : sequence of float, keyword
        At least 3 steps, distinct (fitted order of the defect).
    n_xi : int, keyword
    perturbation : solvers.dual.Perturbation, keyword, optional
        ``nu_0`` (default: the initial atoms moved by ``1 + 0.5 sin(2 pi xi)``).
    eps : float, keyword
        Step of the central difference of the nonlinear forward solver.
    expected_order, tolerance : float, keyword
        The least-squares order of the linearised defect must lie in ``expected_order +- tolerance``.
    frozen_tolerance : float, keyword
        The frozen defect must be ``<= frozen_tolerance max(1, |<phi_T, mu(T)>|)`` at every step.

    Returns
    -------
    DualityStudy

    Raises
    ------
    AssertionError
        A criterion fails; the message is :meth:`DualityStudy.report`.
    ConvergenceError
        The oracle is not accurate: its finite-difference floor exceeds ``1e-6 max(1, |derivative|)``
        (intensities with kinks, ``relu``, make ``mu_eps`` non-differentiable in ``eps`` where a cohort
        crosses a kink: use smooth intensities); or the finest defect is within 3 times the floor while
        a coarser one is not (the order cannot be read).

    Notes
    -----
    When every defect is within 3 times its step's finite-difference floor the identity holds to the
    accuracy of the oracle (e.g. a constant intensity, where the forward map is affine): that passes.
    """
    from solvers.dual import Perturbation, linearised_forward, perturbed_initial, solve_backward
    from solvers.meanfield import solve
    from solvers.meanfield.initial import InitialSpec
    from verification.rates import observed_orders
    from verification.strategies import InitialData

    check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.skew()")
    terminal = _default_terminal if terminal is None else terminal
    t_end = check_positive("t_end", t_end)
    n_xi = check_int("n_xi", n_xi, 1, "pass e.g. n_xi=8")
    if isinstance(dts, (str, bytes)) or not isinstance(dts, (list, tuple, np.ndarray)):
        raise bad_argument("dts", dts, "must be a list of time steps", "pass e.g. dts=(0.02, 0.01, 0.005)")
    steps = sorted({check_positive(f"dts[{k}]", d) for k, d in enumerate(dts)}, reverse=True)
    if len(steps) < 3:
        raise bad_argument("dts", dts, "needs at least 3 distinct steps (an order is a slope)",
                           "pass e.g. dts=(0.02, 0.01, 0.005)")
    if steps[0] > t_end:
        raise bad_argument("dts", dts, f"every step must be <= t_end = {t_end:g}", "pass smaller steps")
    eps = check_positive("eps", eps)
    p_exp = check_real("expected_order", expected_order)
    tol = check_positive("tolerance", tolerance)
    ftol = check_positive("frozen_tolerance", frozen_tolerance)
    if isinstance(initial, InitialData):
        spec = initial.pde(n_xi)
    elif isinstance(initial, InitialSpec):
        spec = initial
    else:
        spec = _as_initial(initial).pde(n_xi)
    if perturbation is None:
        pos0, _ = spec.cohorts(n_xi)
        a = 1.0 + 0.5 * np.sin(2 * np.pi * labels(n_xi))
        perturbation = Perturbation(position=a[:, None] * np.ones((1, pos0.shape[1])))
    check_instance("perturbation", perturbation, Perturbation, "pass a solvers.dual.Perturbation")

    rows = []
    floor = 0.0
    for step in steps:
        fw = solve(model, kernel, t_end, spec, n_xi=n_xi, dt=step)
        frozen = solve_backward(fw, terminal, linearised=False)
        pT = frozen.pairing(t_end, fw)
        fz = abs(frozen.pairing(0.0, fw) - pT)
        lin = solve_backward(fw, terminal, linearised=True)

        def deriv(e, fw=fw, lin=lin, step=step):
            """Central difference of ``<phi_T, mu_eps(T)>`` with the nonlinear forward solver."""
            fp = solve(model, kernel, t_end, perturbed_initial(fw, perturbation, e), n_xi=n_xi, dt=step)
            fm = solve(model, kernel, t_end, perturbed_initial(fw, perturbation, -e), n_xi=n_xi, dt=step)
            return (lin.pairing(t_end, fp) - lin.pairing(t_end, fm)) / (2 * e)

        d = deriv(eps)
        left = lin.pairing(0.0, linearised_forward(fw, perturbation, save_times=[0.0]).snapshot(0.0))
        fd_floor = abs(d - deriv(eps / 2)) * 4.0 / 3.0 + 1e-12 * max(1.0, abs(d))
        rows.append({"dt": step, "frozen_defect": fz, "pairing": pT, "derivative": d, "linearised": left,
                     "defect": abs(left - d), "floor": fd_floor})
    table = pd.DataFrame(rows)
    floors = table["floor"].to_numpy()
    floor = float(floors[-1])
    oracle = _ORACLE * max(1.0, float(np.max(np.abs(table["derivative"]))))
    if float(floors.max()) > oracle:
        k = int(np.argmax(floors))
        raise ConvergenceError(
            f"the central difference of <phi_T, mu_eps(T)> is not accurate enough to be an oracle: at dt = "
            f"{steps[k]:g} its values for eps = {eps:g} and eps / 2 differ by {floors[k]:.3g} (> {oracle:.3g}); "
            "the forward map is not smooth in eps (an intensity with kinks, such as relu, when a cohort "
            "crosses a kink). Fix: use a smooth intensity (sigmoid, constant), or another eps")
    scale = max(1.0, float(np.max(np.abs(table["pairing"]))))
    verdicts = [Within(0.0, ftol * scale).evaluate("frozen defect", float(table["frozen_defect"].max()))]
    defects = table["defect"].to_numpy()
    order = None
    settings = {"model": model, "kernel": kernel, "initial": initial, "t_end": t_end, "n_xi": n_xi, "eps": eps,
                "expected_order": p_exp, "tolerance": tol, "dts": tuple(steps)}
    if np.all(defects <= 3 * floors):
        ratio = float(np.max(defects / floors))
        verdicts.append(Within(0.0, 3.0).evaluate("linearised defect / finite-difference floor", ratio))
    else:
        if defects[-1] <= 3 * floor:
            raise ConvergenceError(
                f"the linearised duality defect at dt = {steps[-1]:g} ({defects[-1]:.3g}) is within 3 times the "
                f"finite-difference floor {floor:.3g} (eps = {eps:g}): the order cannot be read. Fix: pass coarser "
                "dts or a different eps")
        order = observed_orders(table["dt"].to_numpy(), defects)
        verdicts.append(Within(p_exp - tol, p_exp + tol).evaluate("order of the linearised defect", order))
    study = DualityStudy(table=table, order=order, verdicts=tuple(verdicts), floor=float(floor), settings=settings)
    if not study.passed:
        raise AssertionError(study.report())
    return study
