"""Reports written from the tidy table alone: ``reports/<study>/`` with summary, table, figures, provenance.

Layout of a report folder (every file written atomically: a temporary file, fsync, ``os.replace``)::

    results.csv     the tidy table (verification.sweep.RESULT_COLUMNS), canonical bytes
    run.json        config, its hash, git commit, package versions, seeds, timings, platform
    timings.csv     wall time of every task (not reproducible, hence not in results.csv)
    summary.md      verdicts with the numbers that decided them, fitted rates with intervals, tables
    verdicts.json   the verdicts, machine-readable (read by the reports/README.md index)
    figures/*.png   matplotlib figures (Agg backend, no display needed)

A study turns its table into a :class:`Summary` with an *analysis* function registered under the
study's name (:func:`register_analysis`); the analysis may use the config stored in ``run.json``
(e.g. its pass criteria) but nothing else, so :func:`rebuild_report` (``ifmf report DIR``)
regenerates the summary, verdicts and figures from ``results.csv`` and ``run.json``.  Random
steps of an analysis (bootstrap intervals) are seeded by :func:`analysis_seed` from the study's
root seed and a name, so a rebuild reproduces the same numbers.  The analysis of a study ``S`` is
looked up in :data:`ANALYSES` after importing ``verification.experiments.S`` if ``S`` is not
registered yet (so ``ifmf report`` finds the studies' analyses); a study without one gets
:func:`generic_analysis`: per-``N`` summaries of every metric, a figure of every time-dependent
metric per source, log-log figures of the metrics given at several ``N``; no fits, no verdicts.

Figure helpers (each returns a matplotlib ``Figure``; :func:`save_figure` writes it):
:func:`loglog_figure` (a quantity against ``N`` with intervals, the fitted line and a reference
slope), :func:`time_curves_figure` (a metric against time for several sources, e.g. network vs
PDE), :func:`metrics_vs_n_figure` (several metrics against ``N`` on one log-log plot, e.g. weak and
strong distance), :func:`heatmap_figure` (e.g. ``rho(t, x)`` of one ``xi`` slice).
"""
from __future__ import annotations

import datetime as _dt
import importlib
import importlib.metadata
import io
import json
import logging
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from solvers.errors import IfmfError, bad_argument
from verification.rates import FAIL, PASS, PowerLawFit, Verdict, fit_power_law
from verification.sweep import atomic_write_bytes, atomic_write_text, name_key, read_table_csv, table_csv_bytes

__all__ = ["Summary", "FitEntry", "FigureEntry", "ReportOutcome", "register_analysis", "ANALYSES", "generic_analysis",
           "write_report", "rebuild_report", "analysis_for", "make_run_info", "analysis_seed", "write_reports_index",
           "markdown_table", "loglog_figure", "time_curves_figure", "metrics_vs_n_figure", "heatmap_figure",
           "save_figure", "metric_frame", "fit_metric", "ReportError"]

log = logging.getLogger(__name__)

#: packages whose versions go into run.json
PACKAGES = ("ifmf", "numpy", "scipy", "pandas", "numba", "mpmath", "matplotlib", "joblib", "threadpoolctl", "tqdm",
            "dask", "distributed")


class ReportError(IfmfError, RuntimeError):
    """A report folder cannot be read or written."""


@dataclass(frozen=True)
class FitEntry:
    """A fitted rate for the summary: ``name``, the fit, the theory's slope (or ``None``)."""

    name: str
    fit: PowerLawFit
    reference_slope: float | None = None


@dataclass
class FigureEntry:
    """A figure to write: ``filename`` (``.png``) inside ``figures/``, the matplotlib figure, a caption."""

    filename: str
    figure: Any
    caption: str = ""


@dataclass
class Summary:
    """What a study's analysis returns; :func:`write_report` renders it."""

    title: str
    text: str = ""
    verdicts: list[Verdict] = field(default_factory=list)
    fits: list[FitEntry] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[FigureEntry] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``PASS`` if every verdict passed, ``FAIL`` if one failed, ``"NO CRITERIA"`` without verdicts."""
        if not self.verdicts:
            return "NO CRITERIA"
        return PASS if all(v.passed for v in self.verdicts) else FAIL


@dataclass(frozen=True)
class ReportOutcome:
    """Where the report was written and its verdicts."""

    path: str
    status: str
    verdicts: tuple[Verdict, ...]
    files: tuple[str, ...]

    @property
    def failed(self) -> bool:
        return self.status == FAIL


#: study name -> analysis ``f(table, run_info) -> Summary``
ANALYSES: dict[str, Callable[[pd.DataFrame, Mapping[str, Any]], Summary]] = {}


def register_analysis(study: str) -> Callable:
    """Decorator: register ``f(table, run_info) -> Summary`` as the analysis of ``study``."""
    def deco(fn: Callable) -> Callable:
        ANALYSES[study] = fn
        return fn
    return deco


def analysis_seed(run_info: Mapping[str, Any], name: str) -> np.random.SeedSequence:
    """Seed of a random step of an analysis: ``SeedSequence(root, spawn_key=(name_key("analysis"),
    name_key(name)))`` with the study's root seed (``run_info["seeds"]["root"]``, 0 if absent)."""
    root = int(run_info.get("seeds", {}).get("root", 0))
    return np.random.SeedSequence(root, spawn_key=(name_key("analysis"), name_key(name)))


# ------------------------------------------------------------------------------------ provenance
def _git_commit(cwd: str) -> tuple[str | None, bool | None]:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None, None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True,
                               text=True, timeout=10)
        return head.stdout.strip(), bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None, None


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def make_run_info(*, study: str, config: Mapping[str, Any], config_hash: str, seeds: Mapping[str, Any],
                  timings: pd.DataFrame | None = None, wall_s: float | None = None, backend: str | None = None,
                  extra: Mapping[str, Any] | None = None) -> dict:
    """The content of ``run.json``: study, config and hash, git commit (``None`` outside a repository)
    and whether the work tree had uncommitted changes, package versions, seeds, timings, platform."""
    here = os.path.dirname(os.path.abspath(__file__))
    commit, dirty = _git_commit(here)
    tim: dict[str, Any] = {"sweep_wall_s": wall_s}
    if timings is not None and len(timings):
        w = timings["wall_s"].to_numpy(dtype=float)
        tim.update({"tasks": int(len(timings)), "task_wall_s_sum": float(w.sum()), "task_wall_s_max": float(w.max()),
                    "tasks_reused": int(np.sum(timings["reused"].to_numpy(dtype=bool)))
                    if "reused" in timings else 0})
    return {
        "study": study,
        "config": dict(config),
        "config_hash": config_hash,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": _versions(),
        "seeds": dict(seeds),
        "timings": tim,
        "backend": backend,
        "platform": {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
                     "system": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(sys.argv),
        **(dict(extra) if extra else {}),
    }


# ------------------------------------------------------------------------------------ tables
def _fmt(v: Any, digits: int) -> str:
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        return f"{v:.{digits}g}"
    return str(v)


def markdown_table(df: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table (floats with ``digits`` significant digits, NaN empty)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_fmt(v, digits).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def metric_frame(table: pd.DataFrame, metric: str, *, case: str | None = None, source: str | None = None,
                 t: float | None = None) -> pd.DataFrame:
    """Rows of one metric (optionally one case, one source, one time; ``t=None`` keeps the rows
    without a time when the metric has some, else all rows)."""
    sel = table["metric"] == metric
    if case is not None:
        sel &= table["case"] == case
    if source is not None:
        sel &= table["source"] == source
    df = table[sel]
    if t is not None:
        df = df[np.isclose(df["t"].to_numpy(dtype=float), t, rtol=0, atol=1e-12 * max(1.0, abs(t)))]
    elif df["t"].isna().any():
        df = df[df["t"].isna()]
    if df.empty:
        raise bad_argument("metric", metric, f"has no rows (case={case!r}, source={source!r}, t={t!r})",
                           "check the metric name and the filters against the table")
    return df


def fit_metric(table: pd.DataFrame, metric: str, run_info: Mapping[str, Any], *, case: str | None = None,
               source: str | None = None, t: float | None = None, statistic: str = "mean",
               n_boot: int = 2000) -> PowerLawFit:
    """:func:`~verification.rates.fit_power_law` of one metric against ``N`` (rows with ``N > 0``),
    bootstrap seeded by :func:`analysis_seed` with the name ``metric/case/source/statistic``."""
    df = metric_frame(table, metric, case=case, source=source, t=t)
    df = df[df["N"] > 0]
    name = f"{metric}/{case}/{source}/{statistic}"
    return fit_power_law(df["N"].to_numpy(), df["value"].to_numpy(), statistic=statistic,
                         seed=analysis_seed(run_info, name), n_boot=n_boot)


# ------------------------------------------------------------------------------------ figures
def _mpl():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 110) -> None:
    """Write ``fig`` as PNG to ``path`` atomically and close it."""
    plt = _mpl()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _n_axis(ax: Any, n: Any) -> None:
    """Label the ``N`` axis of a log-log plot at the sizes themselves (a dozen at most, one per
    cluster of sizes within 10%); minor tick labels off (over less than two decades matplotlib labels
    minor ticks, and they overlap)."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    sizes = np.unique(np.asarray(n, dtype=float))
    sizes = sizes[sizes > 0]
    if sizes.size:  # one label per cluster of sizes within 10% (500 and 501 would print over each other)
        keep = [sizes[0]]
        for v in sizes[1:]:
            if v > 1.1 * keep[-1]:
                keep.append(v)
        sizes = np.asarray(keep)
    ax.xaxis.set_minor_formatter(NullFormatter())
    if 1 <= sizes.size <= 12:
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.set_xticklabels([f"{v:g}" for v in sizes], rotation=45 if sizes.size > 6 else 0, fontsize=8)


def loglog_figure(N: Any, values: Any, *, lower: Any = None, upper: Any = None, fit: PowerLawFit | None = None,
                  reference_slope: float | None = None, ylabel: str = "value", title: str = "",
                  label: str = "measured") -> Any:
    """A quantity against ``N`` on log-log axes: points with interval bars, the fitted line (its
    exponent and interval in the legend) and a reference line of slope ``reference_slope`` through
    the geometric-mean point of the data."""
    plt = _mpl()
    n = np.asarray(N, dtype=float)
    v = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(5.2, 3.8), layout="constrained")
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        ax.errorbar(n, v, yerr=[v - lo, hi - v], fmt="o", color="C0", capsize=3, label=label)
    else:
        ax.plot(n, v, "o", color="C0", label=label)
    grid = np.geomspace(n.min(), n.max(), 50)
    if fit is not None:
        e = fit.exponent
        ax.plot(grid, fit.predict(grid), "-", color="C1",
                label=f"fit: slope {e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}]")
    if reference_slope is not None:
        x0 = math.exp(np.mean(np.log(n)))
        y0 = math.exp(np.mean(np.log(v[v > 0]))) if np.any(v > 0) else 1.0
        ax.plot(grid, y0 * (grid / x0) ** reference_slope, "--", color="0.4",
                label=f"reference slope {reference_slope:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _n_axis(ax, n)
    ax.set_xlabel("N")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def time_curves_figure(curves: Mapping[str, tuple], *, ylabel: str = "value", title: str = "",
                       xlabel: str = "t", shade: tuple[float, float] | None = None) -> Any:
    """Several curves against time: ``curves[label] = (t, y)`` or ``(t, y, lower, upper)`` (a band).
    ``shade=(t0, t1)`` marks a time window (e.g. the transient a verdict is judged on)."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    for k, (label, c) in enumerate(curves.items()):
        t, y = np.asarray(c[0], dtype=float), np.asarray(c[1], dtype=float)
        style = "-" if k == 0 else ["--", "-.", ":", (0, (5, 1))][(k - 1) % 4]
        ax.plot(t, y, linestyle=style, color=f"C{k}", label=label, lw=1.6)
        if len(c) == 4:
            ax.fill_between(t, np.asarray(c[2], dtype=float), np.asarray(c[3], dtype=float), color=f"C{k}", alpha=0.2)
    if shade is not None:
        ax.axvspan(shade[0], shade[1], color="0.85", alpha=0.5, zorder=0, label="judged window")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def metrics_vs_n_figure(series: Mapping[str, tuple], *, ylabel: str = "value", title: str = "",
                        reference_slope: float | None = None, reference_series: str | None = None) -> Any:
    """Several metrics against ``N`` on one log-log plot: ``series[label] = (N, y)`` or
    ``(N, y, lower, upper)`` (bars, e.g. a certified bracket).  The reference line of slope
    ``reference_slope`` passes through the geometric-mean point of ``reference_series`` (default: the
    first series)."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(5.4, 3.8), layout="constrained")
    allN, ally = [], []
    for k, (label, s) in enumerate(series.items()):
        n, y = np.asarray(s[0], dtype=float), np.asarray(s[1], dtype=float)
        if len(s) == 4:
            lo, hi = np.asarray(s[2], dtype=float), np.asarray(s[3], dtype=float)
            ax.errorbar(n, y, yerr=[y - lo, hi - y], fmt="o-", color=f"C{k}", capsize=3, label=label)
        else:
            ax.plot(n, y, "o-", color=f"C{k}", label=label)
        allN.append(n)
        ally.append(y)
    if reference_slope is not None:
        labels_ = list(series)
        k = labels_.index(reference_series) if reference_series is not None else 0
        n, y = allN[k], ally[k]
        grid = np.geomspace(min(a.min() for a in allN), max(a.max() for a in allN), 50)
        x0, y0 = math.exp(np.mean(np.log(n))), math.exp(np.mean(np.log(y[y > 0])))
        ax.plot(grid, y0 * (grid / x0) ** reference_slope, "--", color="0.4",
                label=f"slope {reference_slope:g} (through {labels_[k]})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _n_axis(ax, np.concatenate(allN) if allN else [])
    ax.set_xlabel("N")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def heatmap_figure(values: Any, x_edges: Any, y_edges: Any, *, xlabel: str = "x", ylabel: str = "t",
                   colorbar_label: str = "", title: str = "", cmap: str = "viridis") -> Any:
    """``values[i, j]`` on the cell ``[y_edges[i], y_edges[i+1]) x [x_edges[j], x_edges[j+1])``
    (``values`` of shape ``(len(y_edges) - 1, len(x_edges) - 1)``), e.g. ``rho(t, x)`` of one slice."""
    plt = _mpl()
    z = np.asarray(values, dtype=float)
    xe, ye = np.asarray(x_edges, dtype=float), np.asarray(y_edges, dtype=float)
    if z.shape != (ye.size - 1, xe.size - 1):
        raise bad_argument("values", f"array of shape {z.shape}", f"must have shape ({ye.size - 1}, {xe.size - 1}) "
                           "to match the edges", "pass one value per cell")
    fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    mesh = ax.pcolormesh(xe, ye, z, cmap=cmap, shading="flat")
    cb = fig.colorbar(mesh, ax=ax)
    if colorbar_label:
        cb.set_label(colorbar_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig


# ------------------------------------------------------------------------------------ analyses
def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def generic_analysis(table: pd.DataFrame, run_info: Mapping[str, Any]) -> Summary:
    """Default analysis: per-``N`` mean, standard deviation and replicate count of every metric
    without a time; a figure per time-dependent metric and case (mean over replicates per source and
    the largest ``N``); a log-log figure per positive metric given at two sizes or more (mean and
    min-max over replicates).  No fits (whether a power law is meaningful is the study's call) and no
    verdicts."""
    study = str(run_info.get("study", table["study"].iloc[0] if len(table) else "study"))
    summ = Summary(title=f"{study}: results", text="No pass criteria are registered for this study; the tables "
                   "summarise the rows of results.csv.")
    static = table[table["t"].isna()]
    if len(static):
        g = static.groupby(["case", "source", "metric", "N"], sort=False)["value"]
        agg = g.agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "replicates"})
        summ.tables.append(("Metrics per N (mean and standard deviation over replicates)", agg))
        for (case, source, metric), df in static.groupby(["case", "source", "metric"], sort=False):
            df = df[df["N"] > 0]
            counts = df.groupby("N")["value"].count()
            means = df.groupby("N")["value"].mean()
            if counts.size >= 2 and np.all(means > 0):
                lo = df.groupby("N")["value"].min().to_numpy()
                hi = df.groupby("N")["value"].max().to_numpy()
                summ.figures.append(FigureEntry(
                    f"{_safe(case)}_{_safe(source)}_{_safe(metric)}_vs_N.png",
                    loglog_figure(means.index.to_numpy(), means.to_numpy(), lower=lo, upper=hi, ylabel=metric,
                                  title=f"{metric} ({case}, {source})", label="mean over replicates (bars: min-max)"),
                    f"{metric} against N: mean over replicates, bars from the smallest to the largest replicate"))
    timed = table[table["t"].notna()]
    for (case, metric), df in timed.groupby(["case", "metric"], sort=False):
        curves = {}
        for source, ds in df.groupby("source", sort=False):
            n_max = ds["N"].max()
            ds = ds[ds["N"] == n_max]
            m = ds.groupby("t")["value"].mean()
            curves[f"{source} (N={n_max})" if n_max > 0 else source] = (m.index.to_numpy(), m.to_numpy())
        summ.figures.append(FigureEntry(f"{_safe(case)}_{_safe(metric)}_vs_t.png",
                                        time_curves_figure(curves, ylabel=metric, title=f"{metric} ({case})"),
                                        f"{metric} against time, mean over replicates, largest N of each source"))
    return summ


# ------------------------------------------------------------------------------------ writing
def _summary_markdown(summ: Summary, run_info: Mapping[str, Any], figure_names: Sequence[tuple[str, str]]) -> str:
    lines = [f"# {summ.title}", ""]
    lines.append(f"**Result: {summ.status}**" + (f" ({sum(v.passed for v in summ.verdicts)} of {len(summ.verdicts)} "
                                                  "criteria passed)" if summ.verdicts else ""))
    lines.append("")
    commit = run_info.get("git_commit")
    lines.append(f"Config hash `{str(run_info.get('config_hash', ''))[:16]}`, root seed "
                 f"{run_info.get('seeds', {}).get('root', 'n/a')}, git commit "
                 f"`{commit[:12] if commit else 'unknown'}`"
                 f"{' (uncommitted changes)' if run_info.get('git_dirty') else ''}."
                 " Rebuild with `ifmf report <this folder>`.")
    lines.append("")
    if summ.text:
        lines += [summ.text, ""]
    if summ.verdicts:
        lines += ["## Verdicts", ""]
        vdf = pd.DataFrame([(v.name, v.status, v.criterion, v.decided_by) for v in summ.verdicts],
                           columns=["quantity", "status", "criterion", "decided by"])
        lines += [markdown_table(vdf), ""]
    if summ.fits:
        lines += ["## Fitted rates", ""]
        rows = []
        for f in summ.fits:
            e, p = f.fit.exponent, f.fit.prefactor
            rows.append((f.name, f.fit.statistic_name, f"{e.value:.4g}", f"[{e.lower:.4g}, {e.upper:.4g}]",
                         "" if f.reference_slope is None else f"{f.reference_slope:g}", f"{p.value:.4g}",
                         ", ".join(f"{n:g}" for n in f.fit.N), int(f.fit.replicates.min()),
                         f"{e.level:g} {e.method}" if e.level is not None else e.method))
        fdf = pd.DataFrame(rows, columns=["quantity", "statistic", "exponent", "interval", "reference", "prefactor",
                                          "N", "min replicates", "interval method"])
        lines += [markdown_table(fdf), ""]
    for caption, df in summ.tables:
        lines += [f"## {caption}", "", markdown_table(df), ""]
    if figure_names:
        lines += ["## Figures", ""]
        for fname, caption in figure_names:
            lines += [f"![{caption or fname}](figures/{fname})", "", f"*{caption or fname}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def _json(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, default=_json_default, allow_nan=False) + "\n"


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _render(table: pd.DataFrame, out_dir: str, run_info: Mapping[str, Any], summ: Summary) -> list[str]:
    fig_dir = os.path.join(out_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    written = []
    names = []
    for fe in summ.figures:
        if not fe.filename.endswith(".png") or os.path.basename(fe.filename) != fe.filename:
            raise bad_argument("figure filename", fe.filename, "must be a plain file name ending in .png",
                               "name the figure e.g. 'rate_vs_N.png'")
        save_figure(fe.figure, os.path.join(fig_dir, fe.filename))
        names.append((fe.filename, fe.caption))
        written.append(os.path.join("figures", fe.filename))
    atomic_write_text(os.path.join(out_dir, "summary.md"), _summary_markdown(summ, run_info, names))
    verdicts = {"study": run_info.get("study"), "status": summ.status, "config_hash": run_info.get("config_hash"),
                "verdicts": [v.as_dict() for v in summ.verdicts],
                "fits": [{"name": f.name, "exponent": f.fit.exponent.value, "lower": f.fit.exponent.lower,
                          "upper": f.fit.exponent.upper, "reference_slope": f.reference_slope} for f in summ.fits]}
    atomic_write_text(os.path.join(out_dir, "verdicts.json"), _json(verdicts))
    written += ["summary.md", "verdicts.json"]
    return written


def analysis_for(study: Any) -> Callable[[pd.DataFrame, Mapping[str, Any]], Summary]:
    """The analysis registered for ``study``; if none is, the module ``verification.experiments.<study>``
    is imported first (it registers its analysis when imported); else :func:`generic_analysis`."""
    if isinstance(study, str) and study not in ANALYSES and study.replace("-", "_").isidentifier():
        name = f"verification.experiments.{study.replace('-', '_')}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in ("verification.experiments", name):
                raise
    return ANALYSES.get(study, generic_analysis)


def _analyse(table: pd.DataFrame, run_info: Mapping[str, Any]) -> Summary:
    study = run_info.get("study")
    fn = analysis_for(study)
    summ = fn(table, run_info)
    if not isinstance(summ, Summary):
        raise ReportError(f"the analysis of study {study!r} returned {type(summ).__name__}, expected a Summary")
    return summ


def write_report(table: pd.DataFrame, out_dir: str | os.PathLike, *, run_info: Mapping[str, Any],
                 timings: pd.DataFrame | None = None, summary: Summary | None = None) -> ReportOutcome:
    """Write a whole report folder (see the module docstring) and return its verdicts.

    Parameters
    ----------
    table : DataFrame
        The tidy table (columns :data:`verification.sweep.RESULT_COLUMNS`).
    out_dir : path
        The report folder, e.g. ``reports/scaling`` (created; its files are replaced).
    run_info : mapping, keyword
        Content of ``run.json`` (see :func:`make_run_info`).
    timings : DataFrame, keyword, optional
        Per-task wall times (``SweepResult.timings``) for ``timings.csv``.
    summary : Summary, keyword, optional
        Default: the registered analysis of ``run_info["study"]`` (or :func:`generic_analysis`).
    """
    out = os.fspath(out_dir)
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-probe")
        atomic_write_text(probe, "")
        os.unlink(probe)
    except OSError as exc:
        raise ReportError(f"report folder {out!r} cannot be written: {exc}. "
                          "Fix: pass a writable --out folder.") from exc
    csv = table_csv_bytes(table)  # validates the columns before anything is written
    run_text = _json(run_info)
    summ = summary if summary is not None else _analyse(table, run_info)
    atomic_write_bytes(os.path.join(out, "results.csv"), csv)
    atomic_write_text(os.path.join(out, "run.json"), run_text)
    files = ["results.csv", "run.json"]
    if timings is not None:
        atomic_write_bytes(os.path.join(out, "timings.csv"), timings.to_csv(index=False, lineterminator="\n").encode())
        files.append("timings.csv")
    files += _render(table, out, run_info, summ)
    log.info("report %s: %s (%d files)", out, summ.status, len(files))
    return ReportOutcome(path=out, status=summ.status, verdicts=tuple(summ.verdicts), files=tuple(files))


def rebuild_report(report_dir: str | os.PathLike) -> ReportOutcome:
    """Regenerate summary, verdicts and figures of a report from its ``results.csv`` and ``run.json``."""
    d = os.fspath(report_dir)
    csv, rj = os.path.join(d, "results.csv"), os.path.join(d, "run.json")
    for p in (csv, rj):
        if not os.path.isfile(p):
            raise bad_argument("DIR", d, f"has no {os.path.basename(p)}", "pass a report folder written by ifmf verify")
    try:
        with open(rj, encoding="utf-8") as fh:
            run_info = json.load(fh)
    except (OSError, ValueError) as exc:
        raise bad_argument("DIR", d, f"run.json cannot be read ({exc})",
                           "restore run.json from the original run") from None
    table = read_table_csv(csv)
    summ = _analyse(table, run_info)
    files = _render(table, d, run_info, summ)
    return ReportOutcome(path=d, status=summ.status, verdicts=tuple(summ.verdicts), files=tuple(files))


def write_reports_index(root: str | os.PathLike, *, title: str = "Verification reports") -> str:
    """Write ``<root>/README.md``: one headline row per report folder under ``root`` (study, result,
    criteria passed, the criteria that failed, link to its summary), in the order of the studies'
    labels (``run.json``'s ``label``: V1, V2, ...; unlabelled folders after, by name), then one row per
    criterion with the numbers that decided it.  Returns the path."""
    r = os.fspath(root)
    found = []
    for name in sorted(os.listdir(r)) if os.path.isdir(r) else []:
        vpath = os.path.join(r, name, "verdicts.json")
        if not os.path.isfile(vpath):
            continue
        with open(vpath, encoding="utf-8") as fh:
            v = json.load(fh)
        label, info = "", {}
        rpath = os.path.join(r, name, "run.json")
        if os.path.isfile(rpath):
            try:
                with open(rpath, encoding="utf-8") as fh:
                    info = json.load(fh)
                label = str(info.get("label") or "")
            except (OSError, ValueError):
                label, info = "", {}
        found.append((label == "", label, name, v, info))
    rows, crit_rows, runs = [], [], []
    for _, label, name, v, info in sorted(found, key=lambda e: e[:3]):
        vs = v.get("verdicts", [])
        study = v.get("study", name)
        shown = f"{label} {study}" if label else study
        failed = ", ".join(x["name"] for x in vs if x["status"] != PASS) or ("none" if vs else "no criteria")
        n_pass = sum(x["status"] == PASS for x in vs)
        rows.append((f"[{shown}]({name}/summary.md)", v.get("status", ""), f"{n_pass}/{len(vs)}", failed))
        crit_rows += [(shown, x["name"], x["status"], x["decided_by"]) for x in vs]
        if info:
            tim = info.get("timings", {}) or {}
            commit = info.get("git_commit") or "unknown"
            cmd = str(info.get("command", "")).split(" ", 1)
            cmd = " ".join([os.path.basename(cmd[0])] + cmd[1:]) if cmd[0] else ""
            runs.append((shown, cmd, f"{commit[:12]}{' (dirty)' if info.get('git_dirty') else ''}",
                         info.get("created_utc", ""), tim.get("sweep_wall_s"), tim.get("task_wall_s_sum"),
                         tim.get("tasks"), tim.get("tasks_reused"), (info.get("platform") or {}).get("cpus")))
    lines = [f"# {title}", "", "Each folder holds `summary.md`, `results.csv`, `run.json`, `verdicts.json` and "
             "`figures/`; `ifmf report <folder>` rebuilds a summary from its table.", ""]
    if rows:
        lines.append(markdown_table(pd.DataFrame(rows, columns=["study", "result", "criteria passed", "failed"])))
        lines += ["", "## Every criterion and the numbers that decided it", "",
                  markdown_table(pd.DataFrame(crit_rows, columns=["study", "criterion", "status", "decided by"]))]
        if runs:
            df = pd.DataFrame(runs, columns=["study", "command", "git commit", "created (UTC)", "sweep wall (s)",
                                             "sum of task walls (s)", "tasks", "reused", "cpus"])
            walls = pd.to_numeric(df["sweep wall (s)"], errors="coerce")
            lines += ["", "## How these reports were made", "",
                      f"Sweep wall time of all studies: {walls.sum() / 60:.1f} min (from run.json; timings of a "
                      "shared machine).", "", markdown_table(df)]
    else:
        lines.append("No report has been written yet.")
    path = os.path.join(r, "README.md")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
