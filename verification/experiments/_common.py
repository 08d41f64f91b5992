"""Pieces shared by the studies: config fragments, the neuron model, cached PDE references, measure
and metric rows, and the analysis helpers that turn rows into fits and verdicts.

Rows
    Task functions return rows ``{"metric", "value", "source", "t", "lower", "upper"}`` (see
    :mod:`verification.sweep`).  A certified bracket (``d_w``) is one row with ``value`` the midpoint
    and ``lower``/``upper`` its two certified sides; an exact number has no ``lower``/``upper``.
    Sources: ``"network"`` for quantities of a simulated network, ``"pde"`` (or ``"pde-<name>"`` when a
    study compares several PDE solutions) for the mean-field references, ``"weights"`` for properties
    of the weight matrices alone, ``"solver"`` for the solver studies.

Density rows
    The heat maps of ``rho(t, xi, x)`` are stored as rows with metric
    ``rho(xi=<xi>,x=<x>)`` (cell centres written with ``repr``, parsed back by :func:`parse_rho`)
    and ``t`` the time, so that a report is rebuilt from ``results.csv`` alone.

PDE references
    A task that compares a network with a PDE solution solves the PDE itself, through
    :func:`cached_solve`: a per-process cache keyed by the canonical JSON of everything the solution
    depends on, so a worker that runs many tasks of one case solves once.  The solution is a
    deterministic function of its key, hence the rows do not depend on which worker ran them.
"""
from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from solvers.errors import InvalidArgumentError
from solvers.graphons import KERNELS, Kernel, named_kernel
from solvers.measures import ExtendedMeasure
from solvers.model import INTENSITY_FAMILIES, NeuronModel
from verification.config import Array, ConfigError, Criterion, Integer, Interval, Real, String, Table, canonical_json
from verification.rates import FAIL, BySize, Estimate, PowerLawFit, Verdict, criterion_from_mapping, fit_power_law
from verification.report import analysis_seed

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------ config pieces
_PARAMS = ("lam", "beta", "theta", "c", "lam0", "slope", "cap")


def model_schema() -> Table:
    """``[model]``: leaky drift ``b(x) = -x + I0``, an intensity family and its parameters, reset.

    Parameters not given take the family's defaults (the standard neuron for ``sigmoid``)."""
    return Table({
        "I0": Real(default=1.5, doc="leaky drift b(x) = -x + I0"),
        "reset": Real(default=0.0, doc="reset value x_r"),
        "intensity": String(choices=tuple(sorted(INTENSITY_FAMILIES)), default="sigmoid",
                            doc="intensity family f"),
        **{p: Real(default=None, doc=f"parameter {p} of the intensity family (default: the family's)")
           for p in _PARAMS},
    }, doc="the neuron model (default: the standard neuron of docs/mathematics/network.md)")


def pde_schema(n_xi: int = 64, dt: float = 0.01) -> Table:
    """``[pde]``: resolution of the Lagrangian reference solve (second order in ``dt``)."""
    return Table({
        "n_xi": Integer(minimum=1, maximum=1024, default=n_xi, doc="xi nodes of the mean-field reference"),
        "dt": Real(minimum=0.0, exclusive_minimum=True, maximum=0.1, default=dt, doc="time step of the reference"),
    }, doc="mean-field reference resolution")


def sizes_field(default: Sequence[int], *, minimum: int = 2, min_length: int = 3, doc: str = "") -> Array:
    return Array(Integer(minimum=minimum, maximum=100_000), min_length=min_length, sorted=True, unique=True,
                 default=list(default), doc=doc or "network sizes N (increasing)")


def reps_field(default: int, *, minimum: int = 2, doc: str = "") -> Integer:
    return Integer(minimum=minimum, maximum=100_000, default=default, doc=doc or "replicates per N")


def criterion_field(default: Mapping[str, Any], doc: str) -> Criterion:
    return Criterion(default=dict(default), doc=doc)


def kernel_field(default: str, doc: str = "") -> String:
    return String(choices=tuple(sorted(KERNELS)), default=default,
                  doc=doc or "a named kernel (docs/modules/solvers.graphons.md)")


def window_field(default: Sequence[float], doc: str) -> Interval:
    return Interval(minimum=0.0, default=list(default), doc=doc)


def model_from_config(cfg: Mapping[str, Any]) -> NeuronModel:
    """The :class:`NeuronModel` of a validated ``[model]`` table."""
    inten: dict[str, Any] = {"family": cfg["intensity"]}
    if cfg["intensity"] == "sigmoid":
        inten.update({"lam": 10.0, "beta": 5.0, "theta": 1.0})
    inten.update({p: cfg[p] for p in _PARAMS if cfg.get(p) is not None})
    return NeuronModel.from_config({"drift": {"family": "leaky", "I0": cfg["I0"]}, "intensity": inten,
                                    "reset": cfg["reset"]})


def check_model(cfg: Mapping[str, Any], path: str) -> NeuronModel:
    """Build the model, turning a library error into a :class:`ConfigError` naming ``path``."""
    try:
        return model_from_config(cfg)
    except InvalidArgumentError as exc:
        raise ConfigError(f"config: field {path!r}: not a valid neuron model: {exc}") from None


def config_error(path: str, value: Any, rule: str, fix: str) -> ConfigError:
    """A :class:`ConfigError` in the format of :mod:`verification.config`."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return ConfigError(f"config: field {path!r} = {text} (type {type(value).__name__}): {rule}. Fix: {fix}.")


# ------------------------------------------------------------------------------------ seeds
def child_seeds(seed: np.random.SeedSequence, names: Sequence[str]) -> dict[str, np.random.SeedSequence]:
    """Independent named children of a task's seed (``spawn`` in a fixed order of ``names``)."""
    kids = seed.spawn(len(names))
    return dict(zip(names, kids))


# ------------------------------------------------------------------------------------ PDE cache
_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 6


def cached(key: Mapping[str, Any], build: Callable[[], Any]) -> Any:
    """``build()`` memoised per process under the canonical JSON of ``key`` (LRU of a few entries)."""
    k = canonical_json(key)
    if k in _CACHE:
        _CACHE.move_to_end(k)
        return _CACHE[k]
    value = build()
    _CACHE[k] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


_WEIGHTS: dict[str, Any] = {}


def cached_weights(key: Mapping[str, Any], build: Callable[[], Any]) -> Any:
    """``build()`` memoised per process for the last key only (a weight matrix can be large: tasks run
    in canonical order, ``N`` increasing, so a worker meets the same matrix for consecutive replicates)."""
    k = canonical_json(key)
    if k not in _WEIGHTS:
        _WEIGHTS.clear()
        _WEIGHTS[k] = build()
    return _WEIGHTS[k]


def clear_cache() -> None:
    _CACHE.clear()
    _WEIGHTS.clear()


def kernel_by_name(name: str) -> Kernel:
    return named_kernel(name)


# ------------------------------------------------------------------------------------ rows
def row(metric: str, value: float, *, source: str = "network", t: float | None = None,
        lower: float | None = None, upper: float | None = None) -> dict:
    out: dict[str, Any] = {"metric": metric, "value": float(value), "source": source}
    if t is not None:
        out["t"] = float(t)
    if lower is not None:
        out["lower"] = float(lower)
    if upper is not None:
        out["upper"] = float(upper)
    return out


def bracket_row(metric: str, br: Any, *, source: str = "network", t: float | None = None) -> dict:
    """A certified bracket as one row (value = midpoint)."""
    lo, hi = float(br.lower), float(br.upper)
    return row(metric, 0.5 * (lo + hi), source=source, t=t, lower=lo, upper=hi)


#: replicates (``rep < STRONG_REPS``) on which the strong distance is computed: it stays O(1) and costs
#: more than the weak metric (common refinement of N cells), so a few replicates show it
STRONG_REPS = 3


def distance_rows(net: ExtendedMeasure, ref: ExtendedMeasure, kernel: Kernel, *, t: float, prefix: str = "",
                  seed: Any = 0, bandwidth: float | None = 0.25, strong: bool = True,
                  population: bool = True) -> list[dict]:
    """``d_w`` (bracket), ``d_wk`` (kernel MMD), strong and population distances between two measures.

    The weak metric uses the certified bracket of :func:`verification.metrics.weak_distance`;
    ``d_wk`` the Gaussian kernel of ``bandwidth`` (``None``: not computed)."""
    from verification.metrics import kernel_mmd, population_w1, strong_distance, weak_distance

    rows = [bracket_row(f"{prefix}d_w", weak_distance(net, ref, kernel, seed=seed), t=t)]
    if bandwidth is not None:
        rows.append(row(f"{prefix}d_wk", kernel_mmd(net, ref, kernel, bandwidth=bandwidth).value, t=t))
    if strong:
        rows.append(row(f"{prefix}strong", strong_distance(net, ref), t=t))
    if population:
        rows.append(row(f"{prefix}population_w1", population_w1(net, ref), t=t))
    return rows


def curve_rows(metric: str, edges: np.ndarray, values: np.ndarray, *, source: str) -> list[dict]:
    """One row per window, ``t`` the window centre."""
    return [row(metric, v, source=source, t=0.5 * (a + b)) for a, b, v in zip(edges[:-1], edges[1:], values)]


def rho_metric(xi: float, x: float) -> str:
    return f"rho(xi={float(xi)!r},x={float(x)!r})"


_RHO = re.compile(r"^rho\(xi=([^,]+),x=([^)]+)\)$")


def parse_rho(metric: str) -> tuple[float, float] | None:
    m = _RHO.match(metric)
    return (float(m.group(1)), float(m.group(2))) if m else None


def density_rows(solution: Any, times: Sequence[float], x_edges: np.ndarray, *, max_nodes: int = 32,
                 source: str = "pde") -> list[dict]:
    """Rows of ``rho(t, xi, x)`` (mass per unit length in the ``x`` bins) at the given save times, on
    at most ``max_nodes`` equally spaced ``xi`` nodes of the solution."""
    xi = np.asarray(solution.xi, dtype=float)
    step = max(1, int(math.ceil(xi.size / max_nodes)))
    nodes = np.arange(0, xi.size, step)
    xc = 0.5 * (x_edges[1:] + x_edges[:-1])
    rows = []
    for t in times:
        dens = solution.density(t, x_edges)[nodes]
        for k, node in enumerate(nodes):
            for j in range(xc.size):
                rows.append(row(rho_metric(xi[node], xc[j]), dens[k, j], source=source, t=t))
    return rows


def rho_grid(table: pd.DataFrame, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(xi_centres, x_centres, values[xi, x])`` of the density rows at time ``t``, or ``None``."""
    df = table[table["metric"].str.startswith("rho(") & np.isclose(table["t"].to_numpy(dtype=float), t)]
    if df.empty:
        return None
    parsed = [parse_rho(m) for m in df["metric"]]
    xi = np.array([p[0] for p in parsed])
    x = np.array([p[1] for p in parsed])
    xs, xis = np.unique(x), np.unique(xi)
    vals = np.full((xis.size, xs.size), np.nan)
    vals[np.searchsorted(xis, xi), np.searchsorted(xs, x)] = df["value"].to_numpy(dtype=float)
    return xis, xs, vals


def centres_to_edges(c: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Cell edges of equally spaced (or nearly) centres."""
    c = np.asarray(c, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5]) if lo is None else np.array([lo, hi])
    mid = 0.5 * (c[1:] + c[:-1])
    e = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    if lo is not None:
        e[0] = max(e[0], lo)
    if hi is not None:
        e[-1] = min(e[-1], hi)
    return e


# ------------------------------------------------------------------------------------ analysis
def select(table: pd.DataFrame, metric: str, *, case: str | None = None, source: str | None = None,
           t: float | None = None, network_only: bool = False) -> pd.DataFrame:
    """Rows of one metric (``t=None``: every time), optionally one case, source, time; possibly empty."""
    sel = table["metric"] == metric
    if case is not None:
        sel &= table["case"] == case
    if source is not None:
        sel &= table["source"] == source
    df = table[sel]
    if t is not None:
        df = df[np.isclose(df["t"].to_numpy(dtype=float), t, rtol=0, atol=1e-9 * max(1.0, abs(t)))]
    if network_only:
        df = df[df["N"] > 0]
    return df


def fit(df: pd.DataFrame, column: str, run_info: Mapping[str, Any], name: str, *, statistic: str = "mean",
        n_boot: int = 2000, reasons: dict[str, str] | None = None) -> PowerLawFit | None:
    """:func:`fit_power_law` of ``df[column]`` against ``df.N`` (bootstrap over replicates within each N,
    seeded from the study's root seed and ``name``); ``None`` when the rows cannot be fitted: the
    reason is logged and, if ``reasons`` is given, stored under ``name`` (the verdict that needed the
    fit fails with it)."""
    if df.empty:
        msg = "no rows to fit"
    else:
        try:
            return fit_power_law(df["N"].to_numpy(), df[column].to_numpy(dtype=float), statistic=statistic,
                                 seed=analysis_seed(run_info, name), n_boot=n_boot)
        except InvalidArgumentError as exc:
            msg = f"cannot be fitted: {exc}"
    log.info("fit %s: %s", name, msg)
    if reasons is not None:
        reasons[name] = msg
    return None


def ols_fit(N: Any, values: Any) -> PowerLawFit | None:
    """Least-squares power law of a deterministic quantity (one value per N; Student-t interval)."""
    try:
        return fit_power_law(np.asarray(N), np.asarray(values, dtype=float), interval="ols")
    except InvalidArgumentError as exc:
        log.warning("ols fit: %s", exc)
        return None


def missing_verdict(name: str, spec: Mapping[str, Any], reason: str) -> Verdict:
    """A FAIL verdict for a criterion whose quantity could not be computed (never a silent pass)."""
    crit = criterion_from_mapping(spec)
    return Verdict(name, FAIL, crit.describe(name), f"not evaluated: {reason}", {})


def evaluate(name: str, spec: Mapping[str, Any], quantity: Any, reason: str = "") -> Verdict:
    """Evaluate the config criterion ``spec`` on ``quantity`` (``None``: a FAIL naming ``reason``)."""
    if quantity is None:
        return missing_verdict(name, spec, reason or "the quantity could not be computed from the rows")
    return criterion_from_mapping(spec).evaluate(name, quantity)


def per_size(df: pd.DataFrame, column: str = "value", how: str = "mean") -> pd.Series:
    g = df.groupby("N")[column]
    return getattr(g, how)()


def floor_estimate(df: pd.DataFrame) -> Estimate | None:
    """The smallest per-``N`` mean of the certified lower side (``lower`` column, else ``value``): an
    :class:`Estimate` whose lower end is that minimum (for "stays bounded below" criteria)."""
    if df.empty:
        return None
    col = "lower" if df["lower"].notna().all() else "value"
    m = df.groupby("N")[col].mean()
    k = m.idxmin()
    v = float(m.min())
    return Estimate(v, v, float(df.groupby("N")["upper" if col == "lower" else "value"].mean()[k]),
                    f"smallest per-N mean of the lower side (at N = {int(k)})", None)


def by_size(df: pd.DataFrame) -> BySize | None:
    if df.empty:
        return None
    g = df.groupby("N")
    lo = g["lower"].max() if df["lower"].notna().all() else g["value"].max()
    hi = g["upper"].max() if df["upper"].notna().all() else g["value"].max()
    return BySize.make(g["value"].max().index.to_numpy(dtype=float), g["value"].max().to_numpy(), lo.to_numpy(),
                       hi.to_numpy())


def fit_table(fits: Sequence[tuple[str, PowerLawFit | None]]) -> pd.DataFrame:
    """Table of fitted exponents (name, exponent, interval, prefactor, sizes)."""
    rows = []
    for name, f in fits:
        if f is None:
            rows.append((name, "", "", "", "", "not fitted"))
            continue
        e = f.exponent
        rows.append((name, f"{e.value:.4g}", f"[{e.lower:.4g}, {e.upper:.4g}]", f"{f.prefactor.value:.4g}",
                     ", ".join(f"{n:g}" for n in f.N), e.method))
    return pd.DataFrame(rows, columns=["quantity", "exponent", "95% interval", "prefactor", "N", "method"])
