"""Checks of the mean-field theorem's hypotheses on a user's model and weights.

The theorem (Jabin, Schmutz, Zhou 2024; SPEC sections 1-2) assumes

* **O(1/N) weights**: ``sup_N kappa_N < inf`` with ``kappa_N = N max_ij |W_ij|`` -- a statement
  about a *sequence* of weight matrices;
* **f bounded**, **f Lipschitz**, **b Lipschitz** and **f >= 0** for the intensity ``f`` and the
  drift ``b`` of the neuron model.

:func:`check` turns these into numbers and a verdict per hypothesis: ``"holds"``, ``"violated"`` or
``"cannot tell"``, each with its reason.  Finite data can only give evidence, so every rule is stated
here and repeated in the report.

Weights
-------
``kappa_N`` uses the **off-diagonal** entries only: ``W_jj`` is ignored by the dynamics (at a firing
of ``j`` the reset wins, SPEC section 1), so a large diagonal cannot break the hypothesis; its size
is reported in its own column.  Per matrix the table also gives the largest row sum of ``|W|`` (the
total input scale a neuron can receive), the largest column sum (the total output of one neuron:
``N/2`` for the ``hub`` control), ``||w_N||_1 = sum_ij |W_ij| / N`` and the fraction of non-zero
off-diagonal entries.

Growth rule for ``kappa_N`` (constants :data:`EXPONENT_THRESHOLD`, :data:`GROWTH_THRESHOLD`,
:data:`CONFIDENCE`): fit ``log kappa_N = a log N + c`` by least squares over every matrix with
``kappa_N > 0``.

* at least 3 distinct sizes: a ``CONFIDENCE`` (95%) Student-t interval ``[a_lo, a_hi]`` for ``a``.
  **violated** if ``a_lo > 0.1`` and ``kappa`` grew by more than a factor 1.5 from the smallest to
  the largest N; **holds** if ``a_hi < 0.1``; otherwise **cannot tell**.
* exactly 2 distinct sizes: no interval; the same thresholds are applied to the point estimate
  ``a`` (the reason says so).
* 1 size: **cannot tell** (``kappa_N`` is reported and is finite, but the hypothesis is about a
  sequence).

Size warning (constant :data:`KAPPA_WARNING`): when the verdict is **cannot tell** and the largest
``kappa_N`` exceeds 100, the verdict carries a warning: no finite sequence proves growth, but a step
kernel reaching ``sup |w_N| = kappa_N > 100`` (the named kernels of the suite have ``sup |w| <= 2``)
is more likely a matrix whose entries are not scaled by ``1/N`` than the first term of a bounded
sequence.  :meth:`HypothesisReport.summary` reports the warning, and never a conclusion stronger
than the verdicts (it says "not established" while a verdict is **cannot tell**).

Limitation: growth slower than any power is not detected over a practical range of N.  For
i.i.d. Gaussian weights ``W_ij = Z_ij / N`` (``kappa_N ~ 2 sqrt(log N)``, unbounded) the fitted
exponent over N = 100..1600 is about 0.07 and the verdict is "cannot tell"; with other seeds or
sizes it can be "holds".  Bounded entries (W-random, random-sign, checkerboard) have exactly constant
``kappa_N``.

Model functions
---------------
Each family states its supremum and Lipschitz constant (closed forms, :mod:`solvers.model`); these
decide the verdict, and a sampled check is always run beside them: values and finite-difference
slopes on ``n_samples`` equispaced points of ``x_range``.  Sampled values give only **lower
bounds** of ``sup |f|`` and of the Lipschitz constant (a difference quotient never exceeds the
Lipschitz constant); a sample above a stated bound proves the stated bound wrong (**violated**), and
a negative sample of ``f`` proves ``f >= 0`` wrong.  For a custom callable without a stated
constant the verdict is **cannot tell**, unless sampled growth is *evident*: the sampled bound grows
by at least :data:`SAMPLED_GROWTH_FACTOR` (1.5x) at each of three successive doublings of the range
about its centre (unbounded growth, e.g. ``x^2`` or ``exp``), or, for Lipschitz constants, by at least
2x when the grid is refined 16-fold (a jump or an infinite slope).  Evident growth is reported as
**violated** with the evidence; it is not a proof.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from solvers.errors import bad_argument
from solvers.graphons import WRandomGraph, validate_weights
from solvers.model import NeuronModel
from solvers.validation import check_instance, check_int, check_interval, check_real

__all__ = [
    "HOLDS",
    "VIOLATED",
    "CANNOT_TELL",
    "HYPOTHESES",
    "EXPONENT_THRESHOLD",
    "GROWTH_THRESHOLD",
    "CONFIDENCE",
    "SAMPLED_GROWTH_FACTOR",
    "KAPPA_WARNING",
    "Verdict",
    "GrowthFit",
    "HypothesisReport",
    "weight_statistics",
    "fit_growth",
    "check",
]

logger = logging.getLogger(__name__)

HOLDS = "holds"
VIOLATED = "violated"
CANNOT_TELL = "cannot tell"
HYPOTHESES = ("O(1/N) weights", "f bounded", "f Lipschitz", "b Lipschitz", "f >= 0")

EXPONENT_THRESHOLD = 0.1
"""A fitted growth exponent of ``kappa_N`` above this (interval lower end) counts as growth."""
GROWTH_THRESHOLD = 1.5
"""... and ``kappa`` must also have grown by more than this factor across the sizes."""
CONFIDENCE = 0.95
"""Level of the Student-t interval on the growth exponent."""
SAMPLED_GROWTH_FACTOR = 1.5
"""Per-doubling growth of a sampled bound that counts as evident unbounded growth."""
KAPPA_WARNING = 100.0
"""A ``kappa_N`` above this, with a "cannot tell" verdict, is reported as a warning (module docstring)."""
_REFINE = 16
_REFINE_FACTOR = 2.0
_DOUBLINGS = 3
_ROW_CHUNK_ELEMENTS = 1 << 22


# ----------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Verdict:
    """The verdict on one hypothesis: ``status`` is ``"holds"``, ``"violated"`` or ``"cannot tell"``;
    ``warning`` is empty or says why a "cannot tell" is suspicious (see :data:`KAPPA_WARNING`)."""

    hypothesis: str
    status: str
    reason: str
    warning: str = ""


@dataclass(frozen=True)
class GrowthFit:
    """Least-squares fit ``log kappa_N = exponent log N + c``.

    ``lower``/``upper`` bound a ``confidence`` Student-t interval on the exponent (``nan`` with
    fewer than 3 distinct sizes); ``growth`` is ``kappa`` at the largest N over ``kappa`` at the
    smallest (means over repeated sizes).
    """

    exponent: float
    lower: float
    upper: float
    n_points: int
    n_sizes: int
    confidence: float
    growth: float

    @property
    def has_interval(self) -> bool:
        return self.n_sizes >= 3


@dataclass(frozen=True, eq=False)
class HypothesisReport:
    """Result of :func:`check`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per matrix, sorted by N: ``source``, ``N``, ``kappa_N`` (off-diagonal),
        ``max_row_abs_sum``, ``max_col_abs_sum``, ``l1_norm`` (``sum |W_ij| / N``),
        ``offdiag_density``, ``max_abs_diagonal`` (ignored by the dynamics).
    growth : GrowthFit or None
        Fitted growth exponent of ``kappa_N`` (``None`` with fewer than 2 sizes with ``kappa > 0``).
    verdicts : tuple of Verdict
        One per entry of :data:`HYPOTHESES`, in that order.
    functions : pandas.DataFrame
        Stated and sampled bounds of ``f`` and ``b``: ``function``, ``family``, ``quantity``,
        ``stated``, ``sampled_lower_bound``, ``sampling``.
    settings : dict
        ``x_range``, ``n_samples`` and the thresholds of the rules.
    """

    table: pd.DataFrame
    growth: GrowthFit | None
    verdicts: tuple[Verdict, ...]
    functions: pd.DataFrame
    settings: Mapping[str, Any] = field(default_factory=dict)

    def verdict(self, hypothesis: str) -> Verdict:
        """The :class:`Verdict` of one hypothesis (one of :data:`HYPOTHESES`)."""
        for v in self.verdicts:
            if v.hypothesis == hypothesis:
                return v
        raise bad_argument("hypothesis", hypothesis, "unknown hypothesis", f"use one of {list(HYPOTHESES)}")

    @property
    def statuses(self) -> dict[str, str]:
        """``{hypothesis: status}``."""
        return {v.hypothesis: v.status for v in self.verdicts}

    @property
    def violated(self) -> bool:
        """True when at least one hypothesis is violated."""
        return any(v.status == VIOLATED for v in self.verdicts)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings of the verdicts (``"hypothesis: text"``), empty when there is none."""
        return tuple(f"{v.hypothesis}: {v.warning}" for v in self.verdicts if v.warning)

    def summary(self) -> str:
        """One line that never claims more than the verdicts: ``"violated: ..."`` when one is violated,
        ``"warning: ..."`` when a verdict carries a warning, ``"not established: cannot tell for ..."``
        while a verdict is "cannot tell", ``"no hypothesis violated (all N hold)"`` otherwise; the
        other groups follow after ``;``."""
        groups = {status: [v.hypothesis for v in self.verdicts if v.status == status]
                  for status in (VIOLATED, CANNOT_TELL, HOLDS)}
        parts = []
        if groups[VIOLATED]:
            parts.append(f"violated: {', '.join(groups[VIOLATED])}")
        if self.warnings:
            parts.append(f"warning: {'; '.join(self.warnings)}")
        if groups[CANNOT_TELL]:
            parts.append(("not established: " if not groups[VIOLATED] else "") +
                         f"cannot tell for {', '.join(groups[CANNOT_TELL])}")
        if not parts:
            return f"no hypothesis violated (all {len(self.verdicts)} hold)"
        if groups[HOLDS]:
            parts.append(f"holds: {', '.join(groups[HOLDS])}")
        return "; ".join(parts)

    def to_markdown(self) -> str:
        """The report as Markdown: verdicts, the weights table with the growth fit, the function checks."""
        lines = ["## Hypotheses of the mean-field theorem", ""]
        lines += _md_table(["hypothesis", "verdict", "reason"],
                           [[v.hypothesis, v.status, v.reason + (f" WARNING: {v.warning}" if v.warning else "")]
                            for v in self.verdicts])
        lines += ["", "### Weights (off-diagonal entries; W_jj is ignored by the dynamics)", ""]
        cols = ["source", "N", "kappa_N", "max_row_abs_sum", "max_col_abs_sum", "l1_norm",
                "offdiag_density", "max_abs_diagonal"]
        lines += _md_table(cols, [[r[c] for c in cols] for r in self.table.to_dict("records")])
        lines += ["", _growth_sentence(self.growth)]
        lines += ["", "### Model functions", ""]
        fcols = ["function", "family", "quantity", "stated", "sampled_lower_bound", "sampling"]
        lines += _md_table(fcols, [[r[c] for c in fcols] for r in self.functions.to_dict("records")])
        lines += ["", "Sampled values are lower bounds of sup |f| and of Lipschitz constants; "
                  "a sample above a stated bound, or a negative f, is a certificate of violation."]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()


# ------------------------------------------------------------------------------ weight numbers
def weight_statistics(W) -> dict[str, float]:
    """Scale numbers of one weight matrix, off-diagonal entries only (``W_jj`` is ignored).

    Parameters
    ----------
    W : (N, N) array_like or scipy sparse matrix

    Returns
    -------
    dict
        ``N``, ``kappa_N = N max_{i != j} |W_ij|``, ``max_row_abs_sum = max_i sum_{j != i} |W_ij|``,
        ``max_col_abs_sum = max_j sum_{i != j} |W_ij|``, ``l1_norm = sum_{i != j} |W_ij| / N``,
        ``offdiag_density`` (fraction of non-zero off-diagonal entries), ``max_abs_diagonal``.
        Dense matrices are processed in row blocks (no full-size temporary).
    """
    W = validate_weights(W, "weights")
    N = W.shape[0]
    if sp.issparse(W):
        C = W.tocoo()
        off = C.row != C.col
        a = np.abs(C.data[off]).astype(np.float64)
        r, c = C.row[off], C.col[off]
        diag = np.abs(C.data[~off])
        kmax = float(a.max()) if a.size else 0.0
        rows = np.bincount(r, weights=a, minlength=N)
        cols = np.bincount(c, weights=a, minlength=N)
        nnz = int(np.count_nonzero(a))
        total = float(a.sum())
        dmax = float(diag.max()) if diag.size else 0.0
    else:
        step = max(1, _ROW_CHUNK_ELEMENTS // N)
        kmax, total, nnz, dmax = 0.0, 0.0, 0, 0.0
        rows = np.empty(N)
        cols = np.zeros(N)
        for r0 in range(0, N, step):  # blocks of rows, vectorised inside
            r1 = min(N, r0 + step)
            A = np.abs(np.asarray(W[r0:r1], dtype=np.float64))
            k = np.arange(r1 - r0)
            dmax = max(dmax, float(A[k, r0 + k].max()))
            A[k, r0 + k] = 0.0
            kmax = max(kmax, float(A.max()))
            rows[r0:r1] = A.sum(axis=1)
            cols += A.sum(axis=0)
            nnz += int(np.count_nonzero(A))
            total += float(rows[r0:r1].sum())
    return {
        "N": N,
        "kappa_N": N * kmax,
        "max_row_abs_sum": float(rows.max()),
        "max_col_abs_sum": float(cols.max()),
        "l1_norm": total / N,
        "offdiag_density": nnz / (N * (N - 1)) if N > 1 else 0.0,
        "max_abs_diagonal": dmax,
    }


def fit_growth(sizes: Sequence[float], kappas: Sequence[float], *, confidence: float = CONFIDENCE) -> GrowthFit:
    """Least-squares growth exponent of ``kappa`` in ``N`` on log-log axes, with a Student-t interval.

    Parameters
    ----------
    sizes, kappas : sequences of positive floats, same length >= 2, at least 2 distinct sizes.
    confidence : float, keyword
        Level of the interval (used with at least 3 distinct sizes; ``nan`` bounds otherwise).
    """
    confidence = check_real("confidence", confidence, "pass a level in (0, 1), e.g. confidence=0.95")
    if not 0 < confidence < 1:
        raise bad_argument("confidence", confidence, "must be in (0, 1)", "pass e.g. confidence=0.95")
    try:
        x = np.log(np.asarray(sizes, dtype=float))
        k = np.asarray(kappas, dtype=float)
    except (TypeError, ValueError):
        raise bad_argument("sizes/kappas", (sizes, kappas), "must be sequences of positive numbers",
                           "pass matching sequences of sizes and positive kappa values") from None
    if x.shape != k.shape or x.size < 2 or np.any(k <= 0) or not np.all(np.isfinite(x)):
        raise bad_argument("kappas", list(kappas), "need >= 2 positive values, one per size",
                           "pass matching sequences of sizes and positive kappa values")
    n_sizes = int(np.unique(x).size)
    if n_sizes < 2:
        raise bad_argument("sizes", list(sizes), "need at least 2 distinct sizes to fit a growth",
                           "add matrices of other sizes")
    y = np.log(k)
    xm = x - x.mean()
    sxx = float(xm @ xm)
    a = float(xm @ (y - y.mean()) / sxx)
    lo = hi = math.nan
    if n_sizes >= 3:
        resid = y - y.mean() - a * xm
        dof = x.size - 2
        se = math.sqrt(float(resid @ resid) / dof / sxx)
        t = float(stats.t.ppf(0.5 + confidence / 2, dof))
        lo, hi = a - t * se, a + t * se
    xs = np.asarray(sizes, dtype=float)
    growth = float(k[xs == xs.max()].mean() / k[xs == xs.min()].mean())
    return GrowthFit(exponent=a, lower=lo, upper=hi, n_points=int(x.size), n_sizes=n_sizes,
                     confidence=confidence, growth=growth)


def _kappa_verdict(table: pd.DataFrame, fit: GrowthFit | None) -> Verdict:
    name = HYPOTHESES[0]
    kap = table["kappa_N"].to_numpy()
    n_sizes = int(table["N"].nunique())
    top = float(kap.max())
    warning = ""
    if top > KAPPA_WARNING:
        i = int(np.argmax(kap))
        warning = (f"kappa_N = {top:.4g} > {KAPPA_WARNING:g} at N = {int(table['N'].iloc[i])} (max |W_ij| = "
                   f"{top / int(table['N'].iloc[i]):.4g}): entries this large are unlikely to be O(1/N) "
                   "(check that the weights are divided by N)")
    if n_sizes < 2:
        return Verdict(name, CANNOT_TELL,
                       f"one size only (N = {int(table['N'].iloc[0])}): kappa_N = {top:.4g} is finite, "
                       "but the hypothesis sup_N kappa_N < inf is about a sequence; give >= 2 sizes to fit a growth "
                       "(>= 3 for an interval)",
                       warning)
    if fit is None:  # fewer than 2 sizes with kappa > 0
        return Verdict(name, HOLDS, f"kappa_N = 0 at all but at most one size (max {kap.max():.4g}): no growth")
    rule = (f"rule: violated if the exponent's {'interval lower end' if fit.has_interval else 'point estimate'} "
            f"> {EXPONENT_THRESHOLD} and kappa grew > {GROWTH_THRESHOLD}x; holds if "
            f"{'its upper end' if fit.has_interval else 'the point estimate'} < {EXPONENT_THRESHOLD}")
    if fit.has_interval:
        lo, hi = fit.lower, fit.upper
        what = (f"kappa_N ~ N^{fit.exponent:.3f} ({100 * fit.confidence:.0f}% interval [{lo:.3f}, {hi:.3f}], "
                f"{fit.n_sizes} sizes), grew {fit.growth:.3g}x")
    else:
        lo = hi = fit.exponent
        what = (f"kappa_N ~ N^{fit.exponent:.3f} from 2 sizes only (no interval; give >= 3 sizes), "
                f"grew {fit.growth:.3g}x")
    if lo > EXPONENT_THRESHOLD and fit.growth > GROWTH_THRESHOLD:
        return Verdict(name, VIOLATED, f"{what}: kappa_N grows, weights are not O(1/N); {rule}")
    if hi < EXPONENT_THRESHOLD:
        return Verdict(name, HOLDS, f"{what}, max kappa_N = {kap.max():.4g}: no growth; {rule}")
    return Verdict(name, CANNOT_TELL, f"{what}: growth neither excluded nor established; {rule}", warning)


# ---------------------------------------------------------------------------- function checks
def _grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.linspace(lo, hi, n)


def _sampled(func: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and finite-difference quotients of ``func`` on the grid ``x`` (non-finite allowed)."""
    with np.errstate(all="ignore"):
        y = np.asarray(func(x), dtype=float) * np.ones_like(x)
        s = np.abs(np.diff(y)) / np.diff(x)
    return y, s


def _max(a: np.ndarray) -> float:
    if np.any(np.isnan(a)):
        return math.nan
    return float(np.max(a)) if a.size else 0.0


def _evident(seq: Sequence[float], factor: float) -> bool:
    """Every successive ratio >= factor (an inf counts as growth; nan or 0 as no evidence)."""
    for a, b in zip(seq[:-1], seq[1:]):
        if math.isnan(a) or math.isnan(b) or a <= 0:
            return False
        if not (b == math.inf or b >= factor * a):
            return False
    return True


@dataclass(frozen=True)
class _Samples:
    sup: tuple[float, ...]  # max |g| on x_range and on its 2x, 4x, 8x widenings
    lip: tuple[float, ...]  # max difference quotient, same ranges
    lip_fine: float  # on x_range refined 16-fold
    min_value: float
    argmin: float
    nan_at: float | None


def _sample_function(func: Callable, x_range: tuple[float, float], n: int) -> _Samples:
    lo, hi = x_range
    c, r = 0.5 * (lo + hi), 0.5 * (hi - lo)
    sups, lips = [], []
    nan_at = None
    y0 = None
    for k in range(_DOUBLINGS + 1):
        x = _grid(c - r * 2 ** k, c + r * 2 ** k, n)
        y, s = _sampled(func, x)
        if k == 0:
            y0, x0 = y, x
        if nan_at is None and np.any(np.isnan(y)):
            nan_at = float(x[np.argmax(np.isnan(y))])
        sups.append(_max(np.abs(y)))
        lips.append(_max(s))
    _, sf = _sampled(func, _grid(lo, hi, (n - 1) * _REFINE + 1))
    i = int(np.nanargmin(y0)) if not np.all(np.isnan(y0)) else 0
    return _Samples(sup=tuple(sups), lip=tuple(lips), lip_fine=_max(sf), min_value=float(y0[i]),
                    argmin=float(x0[i]), nan_at=nan_at)


def _bound_verdict(name: str, what: str, stated: float, sampled: float, widened: Sequence[float],
                   fine: float | None, family: str, sampling: str) -> Verdict:
    """Verdict for 'what is finite' given a stated constant (nan = unknown) and sampled lower bounds."""
    if math.isnan(sampled):
        return Verdict(name, CANNOT_TELL, f"the callable returned NaN on {sampling}")
    if math.isnan(stated):
        growth = _evident(widened, SAMPLED_GROWTH_FACTOR)
        jump = fine is not None and (fine == math.inf or (sampled > 0 and fine >= _REFINE_FACTOR * sampled))
        if growth:
            seq = ", ".join(f"{v:.3g}" for v in widened)
            return Verdict(name, VIOLATED,
                           f"{family} states no {what}; sampled lower bounds {seq} on the range doubled "
                           f"{_DOUBLINGS} times grow >= {SAMPLED_GROWTH_FACTOR}x each time: evident unbounded "
                           "growth (sampling is evidence, not proof)")
        if jump:
            return Verdict(name, VIOLATED,
                           f"{family} states no {what}; the sampled slope grows from {sampled:.3g} to {fine:.3g} "
                           f"when the grid is refined {_REFINE}x: a jump or an infinite slope (evidence, not proof)")
        return Verdict(name, CANNOT_TELL,
                       f"{family} states no {what}; sampling on {sampling} gives only the lower bound "
                       f"{sampled:.4g} (no evident growth)")
    if math.isinf(stated):
        return Verdict(name, VIOLATED, f"{family}: {what} is infinite (closed form); sampled lower bound "
                       f"{sampled:.4g} on {sampling}")
    tol = 1e-9 * max(1.0, abs(stated))
    if sampled > stated + tol or (fine is not None and fine > stated + tol):
        worst = max(sampled, fine or 0.0)
        return Verdict(name, VIOLATED, f"{family} states {what} {stated:.6g} but a sample gives {worst:.6g}: "
                       "the stated constant is wrong")
    return Verdict(name, HOLDS, f"{family} states {what} {stated:.6g}; sampled lower bound {sampled:.4g} "
                   f"on {sampling} is consistent")


def _family_name(obj) -> str:
    if obj.kind == "custom":
        return f"custom callable {getattr(obj, 'name', 'custom')!r}"
    params = ", ".join(f"{k}={getattr(obj, k):g}" for k in obj.__dataclass_fields__)
    return f"{type(obj).__name__}({params})"


def _function_checks(model: NeuronModel, x_range, n_samples) -> tuple[list[Verdict], pd.DataFrame]:
    lo, hi = x_range
    sampling = f"{n_samples} equispaced points of [{lo:g}, {hi:g}]"
    f, b = model.intensity, model.drift
    fs = _sample_function(f, x_range, n_samples)
    bs = _sample_function(b, x_range, n_samples)
    fam_f, fam_b = _family_name(f), _family_name(b)
    custom_f = f.kind == "custom"
    f_sup = float(f.sup) if not (custom_f and getattr(f, "bound", None) is None) else math.nan
    verdicts = [
        _bound_verdict("f bounded", "sup f", f_sup, fs.sup[0], fs.sup, None, fam_f, sampling),
        _bound_verdict("f Lipschitz", "Lipschitz constant", float(f.lipschitz), fs.lip[0], fs.lip, fs.lip_fine,
                       fam_f, sampling),
        _bound_verdict("b Lipschitz", "Lipschitz constant", float(b.lipschitz), bs.lip[0], bs.lip, bs.lip_fine,
                       fam_b, sampling),
    ]
    if fs.min_value < 0:
        pos = Verdict("f >= 0", VIOLATED, f"f({fs.argmin:.6g}) = {fs.min_value:.6g} < 0 (a sample is a certificate)")
    elif fs.nan_at is not None:
        pos = Verdict("f >= 0", CANNOT_TELL, f"f returned NaN at x = {fs.nan_at:g}")
    elif custom_f:
        pos = Verdict("f >= 0", CANNOT_TELL, f"all samples on {sampling} are >= 0 (min {fs.min_value:.4g}); "
                      "sampling cannot certify the sign between or beyond the samples")
    else:
        pos = Verdict("f >= 0", HOLDS, f"{fam_f} is >= 0 by its closed form (parameters validated); "
                      f"sampled min {fs.min_value:.4g}")
    verdicts.append(pos)
    fine = f"{(n_samples - 1) * _REFINE + 1} points of [{lo:g}, {hi:g}]"
    rows = [
        ("f", fam_f, "sup |f|", f_sup, fs.sup[0], sampling),
        ("f", fam_f, "Lipschitz", float(f.lipschitz), fs.lip[0], sampling),
        ("f", fam_f, "Lipschitz (refined grid)", float(f.lipschitz), fs.lip_fine, fine),
        ("f", fam_f, "min f", math.nan, fs.min_value, sampling),
        ("b", fam_b, "Lipschitz", float(b.lipschitz), bs.lip[0], sampling),
        ("b", fam_b, "Lipschitz (refined grid)", float(b.lipschitz), bs.lip_fine, fine),
    ]
    table = pd.DataFrame(rows, columns=["function", "family", "quantity", "stated", "sampled_lower_bound",
                                       "sampling"])
    return verdicts, table


# ------------------------------------------------------------------------------------ the check
def _as_matrices(weights, sizes, names) -> tuple[list, list[str]]:
    if callable(weights) and not isinstance(weights, np.ndarray) and not sp.issparse(weights):
        if sizes is None:
            raise bad_argument("sizes", sizes, "a callable N -> matrix needs the sizes to evaluate it at",
                               "pass sizes=[250, 500, 1000, 2000]")
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
            raise bad_argument("sizes", sizes, "must be a list of integers >= 2", "pass e.g. sizes=[250, 500, 1000]")
        sizes = [check_int(f"sizes[{k}]", s, 2, "pass integer sizes >= 2, e.g. sizes=[250, 500, 1000]")
                 for k, s in enumerate(sizes)]
        if not sizes:
            raise bad_argument("sizes", sizes, "must be a non-empty list of integers >= 2",
                               "pass e.g. sizes=[250, 500, 1000]")
        mats = []
        for N in sizes:
            W = weights(N)
            if isinstance(W, WRandomGraph):
                W = W.weights
            W = validate_weights(W, f"weights({N})")
            if W.shape[0] != N:
                raise bad_argument("weights", f"callable returning shape {W.shape} for N = {N}",
                                   "must return an N x N matrix", "check the callable")
            mats.append(W)
        labels_ = [f"weights({N})" for N in sizes] if names is None else list(names)
    else:
        if sizes is not None:
            raise bad_argument("sizes", sizes, "only used with a callable N -> matrix",
                               "drop sizes= (the sizes are read from the matrices)")
        if isinstance(weights, WRandomGraph) or sp.issparse(weights) or isinstance(weights, np.ndarray):
            items = [weights]
        elif isinstance(weights, (list, tuple)) and weights and all(
                isinstance(w, (np.ndarray, WRandomGraph)) or sp.issparse(w) for w in weights):
            items = list(weights)
        elif isinstance(weights, (list, tuple)) and weights and np.ndim(weights) == 2:
            items = [np.asarray(weights)]  # one matrix as nested lists
        elif isinstance(weights, (list, tuple)) and weights:
            items = list(weights)
        else:
            raise bad_argument("weights_sequence_or_matrix", weights,
                               "must be a matrix, a non-empty list of matrices, or a callable N -> matrix",
                               "pass e.g. [W_250, W_500, W_1000] or (lambda N: ring().weights(N), sizes=[...])")
        mats = [validate_weights(w.weights if isinstance(w, WRandomGraph) else w, f"weights[{k}]")
                for k, w in enumerate(items)]
        labels_ = [f"matrix {k}" for k in range(len(mats))] if names is None else list(names)
    if len(labels_) != len(mats):
        raise bad_argument("names", names, f"must give one name per matrix ({len(mats)})", "fix the list of names")
    return mats, [str(s) for s in labels_]


def check(model: NeuronModel, weights_sequence_or_matrix, *, sizes: Iterable[int] | None = None,
          x_range: tuple[float, float] = (-5.0, 10.0), n_samples: int = 2001,
          names: Sequence[str] | None = None) -> HypothesisReport:
    """Check the theorem's hypotheses on a model and a weight matrix or a sequence of them.

    Parameters
    ----------
    model : NeuronModel
        Drift ``b``, intensity ``f``, reset.
    weights_sequence_or_matrix : matrix, list of matrices, or callable
        One ``(N, N)`` matrix (dense or scipy sparse), a list of them (any sizes, any order; they
        are sorted by N), or a callable ``N -> matrix`` evaluated at ``sizes``.  A
        :class:`~solvers.graphons.WRandomGraph` stands for its ``weights``.
    sizes : iterable of int, keyword
        Sizes for a callable (required then; rejected otherwise).
    x_range : (float, float), keyword
        Interval on which ``f`` and ``b`` are sampled (default ``(-5, 10)``).
    n_samples : int, keyword
        Number of equispaced sample points (>= 3; default 2001; the refined grid has 16x more).
    names : sequence of str, keyword
        Labels of the matrices in the table (e.g. file names).

    Returns
    -------
    HypothesisReport
        Table per N, growth fit, verdicts (see the module docstring for every rule).
    """
    check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    x_range = check_interval("x_range", x_range, "pass e.g. x_range=(-5, 10)")
    n_samples = check_int("n_samples", n_samples, 3, "pass e.g. n_samples=2001")
    mats, labels_ = _as_matrices(weights_sequence_or_matrix, sizes, names)
    rows = []
    for lab, W in zip(labels_, mats):
        st = weight_statistics(W)
        rows.append({"source": lab, **st})
        logger.info("weights %s: N = %d, kappa_N = %.4g", lab, st["N"], st["kappa_N"])
    table = pd.DataFrame(rows).sort_values("N", kind="stable").reset_index(drop=True)
    pos = table[table["kappa_N"] > 0]
    fit = fit_growth(pos["N"], pos["kappa_N"]) if pos["N"].nunique() >= 2 else None
    verdicts = [_kappa_verdict(table, fit)]
    fverdicts, ftable = _function_checks(model, x_range, int(n_samples))
    verdicts += fverdicts
    settings = {"x_range": x_range, "n_samples": int(n_samples), "exponent_threshold": EXPONENT_THRESHOLD,
                "growth_threshold": GROWTH_THRESHOLD, "confidence": CONFIDENCE,
                "sampled_growth_factor": SAMPLED_GROWTH_FACTOR, "refine": _REFINE}
    return HypothesisReport(table=table, growth=fit, verdicts=tuple(verdicts), functions=ftable, settings=settings)


# ------------------------------------------------------------------------------------ markdown
def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[_fmt(c) for c in r] for r in rows]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in cells]
    return out


def _growth_sentence(fit: GrowthFit | None) -> str:
    if fit is None:
        return ("Growth of kappa_N: not fitted (fewer than 2 sizes with kappa_N > 0; 2 sizes give an exponent, "
                "3 or more also its interval).")
    if fit.has_interval:
        return (f"Growth of kappa_N: exponent {fit.exponent:.4f}, {100 * fit.confidence:.0f}% interval "
                f"[{fit.lower:.4f}, {fit.upper:.4f}] (least squares on log-log axes, {fit.n_points} matrices, "
                f"{fit.n_sizes} sizes); kappa grew {fit.growth:.4g}x from the smallest to the largest N.")
    return (f"Growth of kappa_N: exponent {fit.exponent:.4f} from 2 sizes (no interval); kappa grew "
            f"{fit.growth:.4g}x.")
