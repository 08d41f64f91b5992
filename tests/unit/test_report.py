"""verification.report and ``ifmf report``: a report folder written from the tidy table alone, figures
that show the table's numbers, rebuild from results.csv + run.json (same summary bytes), exit codes,
atomic writing and the reports/README.md index.

The demo study's table is synthetic with a known answer: a fluctuation ``0.8 N^{-1/2} (1 + 0.05 z)``
on 8 replicates per size, so the fitted exponent is near -1/2 and the criterion
``exponent in [-0.65, -0.35]`` passes while ``[-0.2, 0.0]`` fails.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from test_sweep_tasks import rate_task

from verification.cli import main
from verification.rates import FAIL, PASS, criterion_from_mapping
from verification.report import (
    ANALYSES,
    FigureEntry,
    FitEntry,
    ReportError,
    Summary,
    fit_metric,
    heatmap_figure,
    loglog_figure,
    make_run_info,
    markdown_table,
    metric_frame,
    metrics_vs_n_figure,
    rebuild_report,
    register_analysis,
    save_figure,
    time_curves_figure,
    write_report,
    write_reports_index,
)
from verification.sweep import RESULT_COLUMNS, make_tasks, read_table_csv, run_sweep, table_csv_bytes

SIZES = [100, 200, 400, 800]


def demo_table(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for N in SIZES:
        for rep in range(8):
            rows.append(("demo", "ring", "network", N, rep, np.nan, "fluct",
                         0.8 * N ** -0.5 * (1 + 0.05 * rng.standard_normal()), np.nan, np.nan))
        d = 0.6 / N
        rows.append(("demo", "ring", "network", N, 0, np.nan, "d_w", d, 0.9 * d, 1.1 * d))
        rows.append(("demo", "ring", "network", N, 0, np.nan, "strong", 0.3, 0.3, 0.3))
    t = np.linspace(0.0, 2.0, 21)
    for src, shift in (("network", 0.02), ("pde", 0.0)):
        for tt in t:
            rows.append(("demo", "ring", src, 800 if src == "network" else 0, 0, tt, "rate",
                         1.0 + np.exp(-tt) + shift, np.nan, np.nan))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


@register_analysis("demo")
def demo_analysis(table, run_info):
    crit = criterion_from_mapping(run_info["config"]["criteria"]["exponent"])
    fit = fit_metric(table, "fluct", run_info, case="ring", statistic="mean", n_boot=500)
    s = Summary(title="demo: fluctuations", text="Synthetic table.")
    s.verdicts.append(crit.evaluate("exponent", fit))
    s.fits.append(FitEntry("fluctuation", fit, -0.5))
    means = metric_frame(table, "fluct").groupby("N")["value"].mean()
    s.figures.append(FigureEntry("fluct.png", loglog_figure(means.index, means.values, fit=fit, reference_slope=-0.5,
                                                            ylabel="fluctuation"), "fluctuation vs N"))
    dw, st = metric_frame(table, "d_w"), metric_frame(table, "strong")
    s.figures.append(FigureEntry("distances.png", metrics_vs_n_figure(
        {"d_w": (dw.N, dw.value, dw.lower, dw.upper), "strong": (st.N, st.value)}, reference_slope=-1.0),
        "weak and strong distances"))
    net, pde = metric_frame(table, "rate", source="network", t=None), metric_frame(table, "rate", source="pde")
    s.figures.append(FigureEntry("rate.png", time_curves_figure({"network": (net.t, net.value),
                                                                 "pde": (pde.t, pde.value)}, shade=(0, 1.2)),
                                 "rate vs t"))
    s.tables.append(("Distances", dw[["N", "value", "lower", "upper"]]))
    return s


def _run_info(criterion=None):
    crit = criterion or {"kind": "within", "low": -0.65, "high": -0.35}
    return make_run_info(study="demo", config={"seed": 1, "criteria": {"exponent": crit}}, config_hash="ab" * 32,
                         seeds={"root": 1}, wall_s=1.5)


def test_write_report_and_rebuild(tmp_path):
    table = demo_table()
    out = write_report(table, tmp_path / "demo", run_info=_run_info())
    assert out.status == PASS and len(out.verdicts) == 1
    d = tmp_path / "demo"
    for f in ("results.csv", "run.json", "summary.md", "verdicts.json", "figures/fluct.png", "figures/distances.png",
              "figures/rate.png"):
        assert (d / f).is_file(), f
    assert (d / "results.csv").read_bytes() == table_csv_bytes(table)
    summary = (d / "summary.md").read_text()
    v = out.verdicts[0]
    assert "**Result: PASS** (1 of 1 criteria passed)" in summary
    assert v.decided_by in summary and "exponent in [-0.65, -0.35]" in summary
    assert f"{v.numbers['value']:.4g}" in summary and "## Fitted rates" in summary
    assert abs(v.numbers["value"] + 0.5) < 0.05 and v.numbers["lower"] < -0.5 < v.numbers["upper"]
    assert "![fluctuation vs N](figures/fluct.png)" in summary
    run = json.loads((d / "run.json").read_text())
    for key in ("config", "config_hash", "git_commit", "versions", "seeds", "timings", "platform"):
        assert key in run
    assert run["versions"]["numpy"] == np.__version__
    # rebuild from results.csv + run.json: same summary bytes (the bootstrap is seeded from run.json)
    (d / "summary.md").write_text("stale")
    os.unlink(d / "figures" / "rate.png")
    assert main(["report", str(d)]) == 0
    assert (d / "summary.md").read_text() == summary and (d / "figures" / "rate.png").is_file()


def test_failing_criterion_exits_nonzero(tmp_path, capsys):
    out = write_report(demo_table(), tmp_path / "demo",
                       run_info=_run_info({"kind": "within", "low": -0.2, "high": 0.0}))
    assert out.status == FAIL and out.failed
    assert "**Result: FAIL** (0 of 1 criteria passed)" in (tmp_path / "demo" / "summary.md").read_text()
    assert main(["report", str(tmp_path / "demo"), "--index"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL exponent in [-0.2, 0]" in printed and "not in [-0.2, 0]" in printed
    index = (tmp_path / "README.md").read_text()
    assert "| [demo](demo/summary.md) | FAIL | 0/1 |" in index


def test_report_of_a_real_sweep_with_the_generic_analysis(tmp_path):
    params = {"t_end": 1.0, "window": 0.25}
    res = run_sweep(rate_task, make_tasks(["ring"], [20, 40], 3), study="smoke", seed=3, params=params, progress=False)
    info = make_run_info(study="smoke", config=params, config_hash="0" * 64, seeds=res.seeds, timings=res.timings,
                         wall_s=res.wall_s)
    out = write_report(res.table, tmp_path / "smoke", run_info=info, timings=res.timings)
    assert out.status == "NO CRITERIA"
    d = tmp_path / "smoke"
    assert read_table_csv(d / "results.csv").equals(res.table)
    assert (d / "figures" / "ring_rate_vs_t.png").is_file()
    assert (d / "figures" / "ring_network_mean_rate_vs_N.png").is_file()
    summary = (d / "summary.md").read_text()
    assert "| ring | network | mean_rate | 20 |" in summary
    assert json.loads((d / "run.json").read_text())["timings"]["tasks"] == 6
    assert pd.read_csv(d / "timings.csv").shape == (6, 5)
    assert main(["report", str(d)]) == 0


def test_figures_show_the_numbers(tmp_path):
    N = np.array([100.0, 200.0, 400.0])
    y = 0.6 / N
    fig = loglog_figure(N, y, lower=0.9 * y, upper=1.1 * y, reference_slope=-1.0, ylabel="d_w")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    pts = [ln for ln in ax.lines if ln.get_marker() == "o"]
    np.testing.assert_allclose(pts[0].get_ydata(), y)
    ref = [ln for ln in ax.lines if ln.get_linestyle() == "--"][0]
    xr, yr = ref.get_xdata(), ref.get_ydata()
    assert np.log(yr[-1] / yr[0]) / np.log(xr[-1] / xr[0]) == pytest.approx(-1.0)
    save_figure(fig, tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    t = np.linspace(0, 2, 11)
    fig = time_curves_figure({"network": (t, t**2), "pde": (t, t, t - 0.1, t + 0.1)}, shade=(0, 1.2))
    lines = fig.axes[0].lines
    np.testing.assert_allclose(lines[0].get_ydata(), t**2)
    np.testing.assert_allclose(lines[1].get_ydata(), t)
    assert [ln.get_label() for ln in lines] == ["network", "pde"]
    z = np.arange(6.0).reshape(2, 3)
    fig = heatmap_figure(z, [0, 1, 2, 3], [0, 0.5, 1.0], colorbar_label="rho")
    np.testing.assert_allclose(np.asarray(fig.axes[0].collections[0].get_array()).reshape(2, 3), z)
    with pytest.raises(Exception, match="shape"):
        heatmap_figure(z, [0, 1, 2], [0, 1])


def test_unwritable_folder_writes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="cannot be written"):
        write_report(demo_table(), blocker / "demo", run_info=_run_info())
    # a bad table is refused before any file is written
    with pytest.raises(Exception, match="columns"):
        write_report(pd.DataFrame({"a": [1]}), tmp_path / "bad", run_info=_run_info())
    assert os.listdir(tmp_path / "bad") == []


def test_rebuild_errors_and_markdown(tmp_path):
    assert main(["report", str(tmp_path)]) == 2
    df = pd.DataFrame({"a": [1.23456789, np.nan], "b": ["x|y", "z"]})
    assert markdown_table(df) == "| a | b |\n|---|---|\n| 1.235 | x\\|y |\n|  | z |"
    assert "demo" in ANALYSES
    os.makedirs(tmp_path / "none")
    index = write_reports_index(tmp_path / "none")
    assert "No report has been written yet." in open(index).read()
    with pytest.raises(Exception, match="has no"):
        rebuild_report(tmp_path / "none")


def test_analysis_is_imported_from_the_experiments_package(monkeypatch):
    """An unregistered study S makes analysis_for import verification.experiments.S (which registers it);
    a study with no such module gets the generic analysis."""
    import verification.report as rep
    from verification.report import analysis_for, generic_analysis

    imported = []

    def fake_import(name):
        imported.append(name)
        if name == "verification.experiments.late_study":
            rep.ANALYSES["late-study"] = demo_analysis
            return None
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(rep.importlib, "import_module", fake_import)
    monkeypatch.delitem(rep.ANALYSES, "late-study", raising=False)
    assert analysis_for("late-study") is demo_analysis
    assert analysis_for("nothing") is generic_analysis
    assert imported == ["verification.experiments.late_study", "verification.experiments.nothing"]
    rep.ANALYSES.pop("late-study")


def test_n_axis_labels_one_size_per_cluster():
    """Sizes 500 and 501 (the alternating sequence) would print their labels over each other: one
    label per cluster of sizes within 10%, at the first size of the cluster."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from verification.report import _n_axis

    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.plot([500, 8001], [1, 2])
    _n_axis(ax, [500, 501, 1000, 1001, 2000, 2001, 8000, 8001])
    assert list(ax.get_xticks()) == [500, 1000, 2000, 8000]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["500", "1000", "2000", "8000"]
    plt.close(fig)
