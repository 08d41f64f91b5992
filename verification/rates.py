"""Fitted convergence rates with intervals, observed orders, ratio intervals and PASS/FAIL verdicts.

Power laws in ``N`` (:func:`fit_power_law`)
    A quantity measured on ``R_N`` replicates at each size ``N`` is summarised per ``N`` by a
    statistic ``s_N`` (mean, median, standard deviation, variance, root mean square, mean absolute
    value) and ``log s_N = log C + p log N`` is fitted by ordinary least squares (every ``N`` has
    the same weight).  The interval of ``p`` (and of ``C``) is a percentile bootstrap: each bootstrap
    sample redraws ``R_N`` replicates with replacement *within each N* (the sizes are the design, the
    replicates the randomness), recomputes every ``s_N`` and refits.  All draws come from one
    ``numpy.random.SeedSequence``, so a fit is a deterministic function of its data and seed.  With
    one value per ``N`` (a deterministic quantity) use ``interval="ols"``: the Student-t interval of
    the least-squares slope from its residuals (needs three sizes or more).

    Coverage of the nominal 95% interval of the slope, measured by ``tests/unit/test_rates.py`` on
    synthetic exact power laws (five sizes): within three binomial standard errors of 0.95 for the
    mean with 40 replicates per size (lognormal noise); about 0.92 for the mean with 10 replicates
    per size and for the standard deviation with 40 (Gaussian noise): the percentile bootstrap's
    known small-sample undercoverage.  Read a fitted interval with that in mind.

Observed orders (:func:`observed_orders`)
    For errors ``e_k`` at refinement parameters ``h_k`` (time steps, ``1/N``, ...):
    ``p_k = log(e_k / e_{k+1}) / log(h_k / h_{k+1})`` (``log2(e_k / e_{k+1})`` when ``h`` halves)
    and the least-squares slope of ``log e`` against ``log h`` with its Student-t interval.

Ratios (:func:`variance_ratio`, :func:`mean_interval`)
    Measured variance (times a scale such as ``N``) over a predicted value, which may itself be a
    bracket ``(lo, hi)``: the ratio interval is ``[L / hi, U / lo]`` for an interval ``[L, U]`` of
    the measured side.  Intervals for the variance: ``"chi2"`` (exact for Gaussian samples:
    measured coverage 0.945 on 2000 sets of 30), ``"delta"`` (asymptotic normal on the log scale with
    the sample kurtosis) or ``"bootstrap"`` (percentile); measured coverage of the last two with 30
    Gaussian samples: about 0.90 and 0.87.  For skewed samples every method undercovers (exponential
    samples, 30 replicates: chi2 0.72, delta 0.80; with 100: chi2 0.66, delta 0.87), so the delta
    method is the choice when the replicates are far from Gaussian and many.

Verdicts (:class:`Criterion` subclasses, :func:`criterion_from_mapping`)
    A criterion is evaluated on an :class:`Estimate` (a value with an interval: a fit, a ratio, a
    bracket) or a :class:`BySize` series, and returns a :class:`Verdict`: ``PASS`` or ``FAIL``
    with the numbers that decided it.  Criteria that bound a quantity use the side that certifies
    the bound: ``at_most`` compares the *upper* end, ``at_least`` the *lower* end.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as _stats

from solvers._random import make_rng
from solvers.errors import bad_argument
from solvers.validation import check_choice, check_int, check_real

__all__ = ["Estimate", "BySize", "PowerLawFit", "ObservedOrders", "fit_power_law", "observed_orders",
           "variance_ratio", "mean_interval", "STATISTICS", "PASS", "FAIL", "Verdict", "Criterion", "Within",
           "IntervalWithin", "Contains", "Excludes", "AtMost", "AtLeast", "ScalesAtMost", "CRITERIA",
           "criterion_from_mapping", "evaluate_all"]

PASS = "PASS"
FAIL = "FAIL"


def _rms(a: np.ndarray, axis: int) -> np.ndarray:
    return np.sqrt(np.mean(a * a, axis=axis))


#: statistic name -> function of an array along ``axis``, and the fewest replicates it needs
STATISTICS: dict[str, tuple[Callable[[np.ndarray, int], np.ndarray], int]] = {
    "mean": (lambda a, axis: np.mean(a, axis=axis), 1),
    "median": (lambda a, axis: np.median(a, axis=axis), 1),
    "std": (lambda a, axis: np.std(a, axis=axis, ddof=1), 2),
    "var": (lambda a, axis: np.var(a, axis=axis, ddof=1), 2),
    "rms": (_rms, 1),
    "mean_abs": (lambda a, axis: np.mean(np.abs(a), axis=axis), 1),
}


@dataclass(frozen=True)
class Estimate:
    """A value with an interval ``[lower, upper]`` and the method that gives the interval.

    ``level`` is the nominal coverage of a statistical interval, ``None`` for a certified bracket
    (both sides proven bounds) or an exact value (``lower == upper == value``).
    """

    value: float
    lower: float
    upper: float
    method: str = "exact"
    level: float | None = None

    @classmethod
    def exact(cls, value: float) -> Estimate:
        v = float(value)
        return cls(v, v, v, "exact", None)

    @classmethod
    def bracket(cls, lower: float, upper: float, method: str = "bracket") -> Estimate:
        """A certified bracket; its value is the midpoint."""
        lo, hi = float(lower), float(upper)
        if not lo <= hi:
            raise bad_argument("lower", lower, f"must be <= upper = {upper}", "pass the bracket as (lower, upper)")
        return cls(0.5 * (lo + hi), lo, hi, method, None)

    def text(self, digits: int = 3) -> str:
        """``value [lower, upper]`` with ``digits`` significant digits."""
        if self.lower == self.upper == self.value:
            return f"{self.value:.{digits}g}"
        return f"{self.value:.{digits}g} [{self.lower:.{digits}g}, {self.upper:.{digits}g}]"


@dataclass(frozen=True)
class BySize:
    """A quantity per network size: ``value[k]`` with interval ``[lower[k], upper[k]]`` at ``N[k]``."""

    N: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def make(cls, N: Any, value: Any, lower: Any = None, upper: Any = None) -> BySize:
        n = np.asarray(N, dtype=float)
        v = np.asarray(value, dtype=float)
        lo = v if lower is None else np.asarray(lower, dtype=float)
        hi = v if upper is None else np.asarray(upper, dtype=float)
        if not (n.ndim == 1 and n.shape == v.shape == lo.shape == hi.shape and n.size >= 1):
            raise bad_argument("N", n, "N, value, lower and upper must be 1-D arrays of one length",
                               "pass one entry per size")
        return cls(n, v, lo, hi)


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`: ``statistic_N ~ prefactor * N^exponent``.

    Attributes
    ----------
    exponent, prefactor : Estimate
        Least-squares values with their intervals.
    N : ndarray (K,)
        The distinct sizes, increasing.
    statistic : ndarray (K,)
        The per-size statistic that was fitted.
    replicates : ndarray of int (K,)
        Replicates per size.
    statistic_name : str
    residual_rms : float
        Root mean square of the log-residuals of the fit.
    n_boot : int
        Bootstrap samples (0 for ``interval="ols"``).
    n_discarded : int
        Bootstrap samples discarded because a resampled statistic was not positive.
    """

    exponent: Estimate
    prefactor: Estimate
    N: np.ndarray
    statistic: np.ndarray
    replicates: np.ndarray
    statistic_name: str
    residual_rms: float
    n_boot: int
    n_discarded: int = 0

    def predict(self, N: Any) -> np.ndarray:
        """``prefactor * N^exponent`` (point estimates)."""
        return self.prefactor.value * np.asarray(N, dtype=float) ** self.exponent.value


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts of the least-squares lines through the columns ``y[..., k]`` over ``x``."""
    xm = x.mean()
    dx = x - xm
    sxx = float(dx @ dx)
    slope = (y - y.mean(axis=-1, keepdims=True)) @ dx / sxx
    return slope, y.mean(axis=-1) - slope * xm


def _level(level: Any) -> float:
    lv = check_real("level", level)
    if not 0 < lv < 1:
        raise bad_argument("level", level, "must be in (0, 1)", "pass e.g. level=0.95")
    return lv


def fit_power_law(N: Any, values: Any, *, statistic: str = "mean", seed: Any = None, n_boot: int = 2000,
                  level: float = 0.95, interval: str = "bootstrap") -> PowerLawFit:
    """Fit ``statistic_N = C N^p`` to replicate values.

    Parameters
    ----------
    N : array_like of int, shape (n,)
        Size of each observation (at least two distinct sizes; three for ``interval="ols"``).
    values : array_like, shape (n,)
        One value per observation (one replicate).
    statistic : {"mean", "median", "std", "var", "rms", "mean_abs"}, keyword
        Per-size summary that is fitted (``"std"``/``"var"`` use ``ddof=1`` and need two replicates per
        size).  Every per-size statistic must be positive.
    seed : int or SeedSequence, keyword
        Seed of the bootstrap (required for ``interval="bootstrap"``).
    n_boot : int, keyword
        Bootstrap samples (>= 100).
    level : float, keyword
        Nominal coverage of the percentile interval.
    interval : {"bootstrap", "ols"}, keyword
        ``"bootstrap"``: resample replicates within each size; ``"ols"``: Student-t interval of the
        slope from the residuals of the per-size statistics.

    Returns
    -------
    PowerLawFit
    """
    check_choice("statistic", statistic, STATISTICS)
    check_choice("interval", interval, ("bootstrap", "ols"))
    lv = _level(level)
    n_arr = np.asarray(N)
    v_arr = np.asarray(values, dtype=float)
    if n_arr.ndim != 1 or v_arr.shape != n_arr.shape or n_arr.size == 0:
        raise bad_argument("values", f"array of shape {v_arr.shape}", f"must be 1-D and match N of shape {n_arr.shape}",
                           "pass one value per observation and its size")
    if not np.all(np.isfinite(v_arr)):
        raise bad_argument("values", v_arr, "must be finite", "drop or investigate the non-finite observations")
    n_arr = n_arr.astype(float)
    if not np.all(np.isfinite(n_arr)) or np.any(n_arr <= 0):
        raise bad_argument("N", N, "sizes must be finite and > 0", "pass the network sizes")
    sizes, inverse = np.unique(n_arr, return_inverse=True)
    need_sizes = 3 if interval == "ols" else 2
    if sizes.size < need_sizes:
        raise bad_argument("N", N, f"needs at least {need_sizes} distinct sizes for interval={interval!r}",
                           "add sizes to the sequence")
    fn, min_reps = STATISTICS[statistic]
    groups = [v_arr[inverse == k] for k in range(sizes.size)]
    reps = np.array([g.size for g in groups])
    if np.any(reps < min_reps) or (interval == "bootstrap" and np.any(reps < 2)):
        k = int(np.argmin(reps))
        need = max(min_reps, 2 if interval == "bootstrap" else 1)
        raise bad_argument("values", f"{reps[k]} replicate(s) at N = {sizes[k]:g}",
                           f"statistic={statistic!r} with interval={interval!r} needs >= {need} replicates per size",
                           "add replicates, or use interval='ols' for one deterministic value per size")
    stat = np.array([fn(g, 0) for g in groups])
    if np.any(~(stat > 0)):
        k = int(np.flatnonzero(~(stat > 0))[0])
        raise bad_argument("values", f"{statistic} = {stat[k]!r} at N = {sizes[k]:g}",
                           "every per-size statistic must be > 0 for a log-log fit", "fit a positive quantity")
    x = np.log(sizes)
    y = np.log(stat)
    slope, intercept = _ols(x, y[None, :])
    slope, intercept = float(slope[0]), float(intercept[0])
    resid = y - (intercept + slope * x)
    rrms = float(np.sqrt(np.mean(resid**2)))
    alpha = 1 - lv
    if interval == "ols":
        dof = sizes.size - 2
        dx = x - x.mean()
        s2 = float(resid @ resid) / dof
        se_slope = math.sqrt(s2 / float(dx @ dx))
        se_int = math.sqrt(s2 * (1 / sizes.size + x.mean() ** 2 / float(dx @ dx)))
        tq = float(_stats.t.ppf(1 - alpha / 2, dof))
        expo = Estimate(slope, slope - tq * se_slope, slope + tq * se_slope, "ols-t", lv)
        pref = Estimate(math.exp(intercept), math.exp(intercept - tq * se_int), math.exp(intercept + tq * se_int),
                        "ols-t", lv)
        return PowerLawFit(expo, pref, sizes, stat, reps, statistic, rrms, 0, 0)
    if seed is None:
        raise bad_argument("seed", seed, "the bootstrap needs a seed", "pass seed=<int> (e.g. from the config)")
    n_boot = check_int("n_boot", n_boot, 100)
    rng = make_rng(seed)
    boot = np.empty((n_boot, sizes.size))
    for k, g in enumerate(groups):  # loop over sizes (a handful), vectorised over samples
        idx = rng.integers(0, g.size, size=(n_boot, g.size))
        boot[:, k] = fn(g[idx], 1)
    ok = np.all(boot > 0, axis=1)
    n_disc = int(n_boot - ok.sum())
    if n_disc > 0.01 * n_boot:
        raise bad_argument("values", f"{n_disc} of {n_boot} bootstrap samples with a non-positive {statistic}",
                           "the fit needs a statistic that stays positive under resampling",
                           "add replicates (a standard deviation of two or three identical values is 0)")
    bs, bi = _ols(x, np.log(boot[ok]))
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    lo_s, hi_s = np.percentile(bs, q)
    lo_i, hi_i = np.percentile(bi, q)
    expo = Estimate(slope, float(lo_s), float(hi_s), "percentile bootstrap over replicates within each N", lv)
    pref = Estimate(math.exp(intercept), math.exp(float(lo_i)), math.exp(float(hi_i)),
                    "percentile bootstrap over replicates within each N", lv)
    return PowerLawFit(expo, pref, sizes, stat, reps, statistic, rrms, n_boot, n_disc)


@dataclass(frozen=True)
class ObservedOrders:
    """Observed orders of convergence.

    Attributes
    ----------
    steps, errors : ndarray (K,)
        Refinement parameters (coarse to fine) and errors.
    orders : ndarray (K-1,)
        ``log(e_k / e_{k+1}) / log(h_k / h_{k+1})``.
    slope : Estimate
        Least-squares slope of ``log e`` on ``log h`` (Student-t interval when ``K >= 3``, else exact).
    """

    steps: np.ndarray
    errors: np.ndarray
    orders: np.ndarray
    slope: Estimate


def observed_orders(steps: Any, errors: Any, *, level: float = 0.95) -> ObservedOrders:
    """Observed orders between successive refinements and the least-squares order.

    Parameters
    ----------
    steps : array_like, shape (K,)
        Refinement parameters, distinct and > 0 (e.g. ``dt`` halving, or ``1/N``), any order: they are
        sorted from coarse (largest) to fine.
    errors : array_like, shape (K,)
        Errors at those steps, finite and > 0.
    level : float, keyword
        Nominal coverage of the slope's Student-t interval.
    """
    lv = _level(level)
    h = np.asarray(steps, dtype=float)
    e = np.asarray(errors, dtype=float)
    if h.ndim != 1 or e.shape != h.shape or h.size < 2:
        raise bad_argument("errors", e, "steps and errors must be 1-D arrays of one length >= 2",
                           "pass one error per refinement")
    if not (np.all(np.isfinite(h)) and np.all(h > 0) and np.unique(h).size == h.size):
        raise bad_argument("steps", h, "must be distinct finite numbers > 0", "pass the step of each refinement")
    if not (np.all(np.isfinite(e)) and np.all(e > 0)):
        raise bad_argument("errors", e, "must be finite and > 0 (a zero error has no order)",
                           "check the reference or drop the exact levels")
    o = np.argsort(-h)
    h, e = h[o], e[o]
    orders = np.log(e[:-1] / e[1:]) / np.log(h[:-1] / h[1:])
    x, y = np.log(h), np.log(e)
    s, c = _ols(x, y[None, :])
    s, c = float(s[0]), float(c[0])
    if h.size >= 3:
        resid = y - (c + s * x)
        dx = x - x.mean()
        se = math.sqrt(float(resid @ resid) / (h.size - 2) / float(dx @ dx))
        tq = float(_stats.t.ppf(0.5 + lv / 2, h.size - 2))
        slope = Estimate(s, s - tq * se, s + tq * se, "least squares, Student-t", lv)
    else:
        slope = Estimate.exact(s)
    return ObservedOrders(h, e, orders, slope)


def _predicted_bracket(predicted: Any) -> tuple[float, float]:
    if np.ndim(predicted) == 0:
        p = check_real("predicted", predicted)
        lo = hi = p
    else:
        try:
            lo, hi = (check_real("predicted", v) for v in predicted)
        except (TypeError, ValueError):
            raise bad_argument("predicted", predicted, "must be a number or a bracket (lo, hi)",
                               "pass the predicted value or its certified bracket") from None
    if not (0 < lo <= hi):
        raise bad_argument("predicted", predicted, "must be > 0 (a bracket needs 0 < lo <= hi)",
                           "pass a positive prediction")
    return lo, hi


def variance_ratio(samples: Any, predicted: Any, *, scale: float = 1.0, method: str = "chi2", level: float = 0.95,
                   seed: Any = None, n_boot: int = 4000) -> Estimate:
    """``scale * Var(samples) / predicted`` with an interval.

    Parameters
    ----------
    samples : array_like, shape (R,)
        Independent replicates (``R >= 3``; the variance uses ``ddof=1``).
    predicted : float or (float, float)
        Predicted value of ``scale * Var``, or a certified bracket of it.
    scale : float, keyword
        E.g. ``N`` for the measured ``N Var <phi, mu^N_T>`` against the predicted ``V``.
    method : {"chi2", "delta", "bootstrap"}, keyword
        Interval of the variance: ``"chi2"`` exact for Gaussian samples, ``"delta"`` asymptotic
        (log scale, sample kurtosis), ``"bootstrap"`` percentile (needs ``seed``).
    level : float, keyword
        Nominal coverage.

    Returns
    -------
    Estimate
        ``value`` uses the bracket's midpoint; ``[lower, upper] = [L / hi, U / lo]``.
    """
    check_choice("method", method, ("chi2", "delta", "bootstrap"))
    lv = _level(level)
    x = np.asarray(samples, dtype=float)
    if x.ndim != 1 or x.size < 3 or not np.all(np.isfinite(x)):
        raise bad_argument("samples", x, "must be a finite 1-D array of at least 3 replicates", "add replicates")
    scale = check_real("scale", scale)
    if scale <= 0:
        raise bad_argument("scale", scale, "must be > 0", "pass e.g. scale=N")
    lo_p, hi_p = _predicted_bracket(predicted)
    R = x.size
    s2 = float(np.var(x, ddof=1))
    if not s2 > 0:
        raise bad_argument("samples", x, "have zero variance: no ratio interval", "check that the replicates differ")
    alpha = 1 - lv
    if method == "chi2":
        lo_v = (R - 1) * s2 / float(_stats.chi2.ppf(1 - alpha / 2, R - 1))
        hi_v = (R - 1) * s2 / float(_stats.chi2.ppf(alpha / 2, R - 1))
        how = "chi-square (Gaussian samples)"
    elif method == "delta":
        d = x - x.mean()
        m4 = float(np.mean(d**4))
        m2 = float(np.mean(d**2))
        kurt = m4 / (m2 * m2)
        var_log = max(kurt - (R - 3) / (R - 1), 1e-12) / R
        z = float(_stats.norm.ppf(1 - alpha / 2))
        lo_v, hi_v = s2 * math.exp(-z * math.sqrt(var_log)), s2 * math.exp(z * math.sqrt(var_log))
        how = "delta method on log variance (sample kurtosis)"
    else:
        if seed is None:
            raise bad_argument("seed", seed, "the bootstrap needs a seed", "pass seed=<int>")
        n_boot = check_int("n_boot", n_boot, 100)
        rng = make_rng(seed)
        bv = np.var(x[rng.integers(0, R, size=(n_boot, R))], axis=1, ddof=1)
        lo_v, hi_v = (float(v) for v in np.percentile(bv, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
        how = "percentile bootstrap"
    mid = 0.5 * (lo_p + hi_p)
    return Estimate(scale * s2 / mid, scale * lo_v / hi_p, scale * hi_v / lo_p, how, lv)


def mean_interval(samples: Any, *, level: float = 0.95) -> Estimate:
    """Sample mean with its Student-t interval (``R >= 2`` finite samples)."""
    lv = _level(level)
    x = np.asarray(samples, dtype=float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise bad_argument("samples", x, "must be a finite 1-D array of at least 2 values", "add replicates")
    m = float(x.mean())
    se = float(x.std(ddof=1)) / math.sqrt(x.size)
    tq = float(_stats.t.ppf(0.5 + lv / 2, x.size - 1))
    return Estimate(m, m - tq * se, m + tq * se, "Student-t", lv)


# ------------------------------------------------------------------------------------------ verdicts
@dataclass(frozen=True)
class Verdict:
    """Outcome of a criterion: ``status`` is :data:`PASS` or :data:`FAIL`.

    ``criterion`` states the rule (``"exponent in [-0.65, -0.35]"``), ``decided_by`` the numbers that
    decided it (``"exponent = -0.49 in [-0.65, -0.35]"``), ``numbers`` the same as a dict.
    """

    name: str
    status: str
    criterion: str
    decided_by: str
    numbers: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "criterion": self.criterion,
                "decided_by": self.decided_by, "numbers": dict(self.numbers)}


def _as_estimate(name: str, quantity: Any) -> Estimate:
    if isinstance(quantity, Estimate):
        return quantity
    if isinstance(quantity, PowerLawFit):
        return quantity.exponent
    if isinstance(quantity, ObservedOrders):
        return quantity.slope
    if np.ndim(quantity) == 0:
        return Estimate.exact(check_real(name, quantity))
    raise bad_argument(name, quantity, "must be an Estimate, a PowerLawFit, an ObservedOrders or a number",
                       "pass the fitted or measured quantity")


def _g(v: float) -> str:
    return f"{v:.4g}"


class Criterion(ABC):
    """A pass criterion; :meth:`evaluate` returns a :class:`Verdict`."""

    kind: str = ""

    @abstractmethod
    def describe(self, name: str) -> str:
        """The rule in words, e.g. ``"exponent in [-0.65, -0.35]"``."""

    @abstractmethod
    def evaluate(self, name: str, quantity: Any) -> Verdict:
        """PASS or FAIL with the numbers that decided it."""

    def as_mapping(self) -> dict:
        """The config form ``{"kind": ..., params...}`` (inverse of :func:`criterion_from_mapping`)."""
        return {"kind": self.kind, **{p: float(getattr(self, p)) for p in CRITERIA[self.kind]}}


def _verdict(name: str, ok: bool, rule: str, decided: str, numbers: Mapping[str, float]) -> Verdict:
    return Verdict(name, PASS if ok else FAIL, rule, decided, {k: float(v) for k, v in numbers.items()})


@dataclass(frozen=True)
class Within(Criterion):
    """The point value lies in ``[low, high]``."""

    low: float
    high: float
    kind = "within"

    def describe(self, name: str) -> str:
        return f"{name} in [{_g(self.low)}, {_g(self.high)}]"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        e = _as_estimate(name, quantity)
        ok = self.low <= e.value <= self.high
        return _verdict(name, ok, self.describe(name),
                        f"{name} = {e.text()} {'in' if ok else 'not in'} [{_g(self.low)}, {_g(self.high)}]",
                        {"value": e.value, "lower": e.lower, "upper": e.upper, "low": self.low, "high": self.high})


@dataclass(frozen=True)
class IntervalWithin(Criterion):
    """The whole interval ``[lower, upper]`` lies in ``[low, high]``."""

    low: float
    high: float
    kind = "interval_within"

    def describe(self, name: str) -> str:
        return f"interval of {name} inside [{_g(self.low)}, {_g(self.high)}]"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        e = _as_estimate(name, quantity)
        ok = self.low <= e.lower and e.upper <= self.high
        return _verdict(name, ok, self.describe(name),
                        f"{name} = {e.text()}: interval {'inside' if ok else 'not inside'} "
                        f"[{_g(self.low)}, {_g(self.high)}]",
                        {"value": e.value, "lower": e.lower, "upper": e.upper, "low": self.low, "high": self.high})


@dataclass(frozen=True)
class Contains(Criterion):
    """The interval contains ``target`` (e.g. a variance ratio's interval contains 1)."""

    target: float
    kind = "contains"

    def describe(self, name: str) -> str:
        return f"interval of {name} contains {_g(self.target)}"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        e = _as_estimate(name, quantity)
        ok = e.lower <= self.target <= e.upper
        return _verdict(name, ok, self.describe(name),
                        f"{name} = {e.text()} {'contains' if ok else 'does not contain'} {_g(self.target)}",
                        {"value": e.value, "lower": e.lower, "upper": e.upper, "target": self.target})


@dataclass(frozen=True)
class Excludes(Criterion):
    """The interval does not contain ``target`` (e.g. a negative control's exponent excludes -0.5)."""

    target: float
    kind = "excludes"

    def describe(self, name: str) -> str:
        return f"interval of {name} excludes {_g(self.target)}"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        e = _as_estimate(name, quantity)
        ok = not (e.lower <= self.target <= e.upper)
        return _verdict(name, ok, self.describe(name),
                        f"{name} = {e.text()} {'excludes' if ok else 'contains'} {_g(self.target)}",
                        {"value": e.value, "lower": e.lower, "upper": e.upper, "target": self.target})


@dataclass(frozen=True)
class AtMost(Criterion):
    """The upper end is ``<= bound`` (the quantity is certified below the bound)."""

    bound: float
    kind = "at_most"

    def describe(self, name: str) -> str:
        return f"{name} <= {_g(self.bound)} (upper end)"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        e = _as_estimate(name, quantity)
        ok = e.upper <= self.bound
        return _verdict(name, ok, self.describe(name),
                        f"upper end of {name} = {_g(e.upper)} {'<=' if ok else '>'} {_g(self.bound)} ({e.text()})",
                        {"value": e.value, "lower": e.lower, "upper": e.upper, "bound": self.bound})


@dataclass(frozen=True)
class AtLeast(Criterion):
    """The lower end is ``>= bound`` (e.g. a distance stays bounded below)."""

    bound: float
    kind = "at_least"

    def describe(self, name: str) -> str:
        return f"{name} >= {_g(self.bound)} (lower end)"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        e = _as_estimate(name, quantity)
        ok = e.lower >= self.bound
        return _verdict(name, ok, self.describe(name),
                        f"lower end of {name} = {_g(e.lower)} {'>=' if ok else '<'} {_g(self.bound)} ({e.text()})",
                        {"value": e.value, "lower": e.lower, "upper": e.upper, "bound": self.bound})


@dataclass(frozen=True)
class ScalesAtMost(Criterion):
    """At every size, the upper end is ``<= constant * N^power`` (e.g. ``d_w <= C/N``: power -1)."""

    constant: float
    power: float
    kind = "scales_at_most"

    def describe(self, name: str) -> str:
        return f"{name} <= {_g(self.constant)} N^{_g(self.power)} at every N (upper end)"

    def evaluate(self, name: str, quantity: Any) -> Verdict:
        if not isinstance(quantity, BySize):
            raise bad_argument(name, quantity, "criterion 'scales_at_most' needs a BySize series",
                               "pass BySize.make(N, value, lower, upper)")
        ratio = quantity.upper / (self.constant * quantity.N**self.power)
        k = int(np.argmax(ratio))
        ok = bool(np.all(ratio <= 1.0))
        worst = (f"N = {quantity.N[k]:g}: upper = {_g(quantity.upper[k])}, "
                 f"bound = {_g(self.constant * quantity.N[k]**self.power)}")
        return _verdict(name, ok, self.describe(name),
                        f"largest upper / (C N^p) = {_g(ratio[k])} {'<=' if ok else '>'} 1 at {worst}",
                        {"worst_ratio": ratio[k], "worst_N": quantity.N[k], "worst_upper": quantity.upper[k],
                         "constant": self.constant, "power": self.power})


#: criterion kind -> its parameters (in config order)
CRITERIA: dict[str, tuple[str, ...]] = {
    "within": ("low", "high"),
    "interval_within": ("low", "high"),
    "contains": ("target",),
    "excludes": ("target",),
    "at_most": ("bound",),
    "at_least": ("bound",),
    "scales_at_most": ("constant", "power"),
}

_CLASSES: dict[str, type] = {"within": Within, "interval_within": IntervalWithin, "contains": Contains,
                             "excludes": Excludes, "at_most": AtMost, "at_least": AtLeast,
                             "scales_at_most": ScalesAtMost}


def criterion_from_mapping(spec: Mapping[str, Any]) -> Criterion:
    """Build a criterion from its config form, e.g. ``{"kind": "within", "low": -0.65, "high": -0.35}``."""
    if not isinstance(spec, Mapping) or spec.get("kind") not in CRITERIA:
        raise bad_argument("criterion", spec, f"must be a mapping with kind in {list(CRITERIA)}",
                           'pass e.g. {"kind": "within", "low": -0.65, "high": -0.35}')
    kind = spec["kind"]
    names = CRITERIA[kind]
    extra = sorted(set(spec) - set(names) - {"kind"})
    missing = [p for p in names if p not in spec]
    if extra or missing:
        raise bad_argument("criterion", spec, f"kind {kind!r} takes exactly the parameters {list(names)}",
                           f"remove {extra}" if extra else f"add {missing}")
    params = {p: check_real(f"criterion.{p}", spec[p]) for p in names}
    if kind in ("within", "interval_within") and not params["low"] < params["high"]:
        raise bad_argument("criterion.low", params["low"], f"must be < high = {params['high']}", "swap low and high")
    if kind == "scales_at_most" and not params["constant"] > 0:
        raise bad_argument("criterion.constant", params["constant"], "must be > 0", "pass the constant C of C N^p")
    return _CLASSES[kind](**params)


def evaluate_all(criteria: Mapping[str, Criterion], quantities: Mapping[str, Any]) -> list[Verdict]:
    """Evaluate ``criteria[name]`` on ``quantities[name]`` for every name (in ``criteria`` order)."""
    missing = [k for k in criteria if k not in quantities]
    if missing:
        raise bad_argument("quantities", sorted(quantities), f"has no entry for criteria {missing}",
                           "compute every quantity that has a criterion")
    return [c.evaluate(k, quantities[k]) for k, c in criteria.items()]
