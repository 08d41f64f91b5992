"""The studies' task functions and analyses on tiny problems, against independent numbers.

* V3 at t = 0: ``d_w(mu^N_0, mu_0)`` of the alternating 0 / 1.2 state with the ``skew`` kernel is the
  exact ``0.12 / N`` (even N) and ``0.54 / N`` (odd N) measured by the metrics developer (the
  certified bracket must contain it), and the strong distance is exactly ``|0 - 1.2| / 2 = 0.6``.
* V1 rows: the hub's ``kappa_N = N / 2`` (closed form), the density rows parse back to their grid, and
  without :mod:`solvers.dual` the variance criteria FAIL with the reason "dual rows not available".
* V2 checkerboard: the alignment puts every neuron in its parity block; the two PDE predictions
  differ on the transient (the constant kernel feeds the even neurons the odd ones' early spikes).
* V4 analysis on synthetic exact power laws: the observed order is recovered, and a band that
  excludes it FAILs.
* user: coarse-graining of a block matrix is exact.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from verification.config import validate
from verification.experiments import _dual, initial_data, scaling, solvers, subsequence, user
from verification.experiments._common import clear_cache, parse_rho, rho_metric
from verification.rates import FAIL, PASS
from verification.report import make_run_info
from verification.sweep import RESULT_COLUMNS, Task, run_sweep


def _params(mod, overrides):
    cfg = validate(overrides, mod.SCHEMA)
    return cfg.data, mod.plan(cfg.data)[1]


def _rows(rows, metric):
    return [r for r in rows if r["metric"] == metric]


def test_v3_initial_distance_is_the_exact_c_over_n():
    data, params = _params(initial_data, {"pde": {"n_xi": 4}, "t_end": 0.5, "times": [0.25, 0.5]})
    for N, C in ((40, 0.12), (41, 0.54), (400, 0.12), (401, 0.54)):
        rows = initial_data.task(Task("initial", N, 0), np.random.SeedSequence(1), params)
        (dw,) = _rows(rows, "d_w")
        assert dw["lower"] <= C / N * (1 + 1e-9) and C / N * (1 - 1e-9) <= dw["upper"], (N, dw)
        assert dw["upper"] / dw["lower"] < 1.01
        (st,) = _rows(rows, "strong")
        assert st["value"] == pytest.approx(0.6, abs=1e-12)
    clear_cache()


def test_v3_network_task_measures_each_time():
    data, params = _params(initial_data, {"pde": {"n_xi": 4}, "t_end": 0.5, "times": [0.25, 0.5]})
    rows = initial_data.task(Task("network", 60, 0), np.random.SeedSequence(2), params)
    assert sorted(r["t"] for r in _rows(rows, "d_w")) == [0.25, 0.5]
    assert all(0 < r["lower"] <= r["upper"] for r in _rows(rows, "d_w"))
    clear_cache()


def test_v1_rows_hub_kappa_and_density_grid():
    data, params = _params(scaling, {"pde": {"n_xi": 4}, "t_end": 0.5, "rate_window": [0.25, 0.5],
                                     "heatmap_bins": 6})
    hub = scaling.task(Task("hub", 50, 0), np.random.SeedSequence(3), params)
    assert _rows(hub, "kappa_N")[0]["value"] == pytest.approx(25.0)
    main = scaling.task(Task("main", 50, 1), np.random.SeedSequence(3), params)
    assert not _rows(main, "kappa_N")  # kappa_N on rep 0 only
    assert {"rate_window", "pairing_x", "pairing_f", "d_w", "d_wk", "strong", "population_w1"} <= {
        r["metric"] for r in main}
    pde = scaling.task(Task("main", 0, 0), np.random.SeedSequence(3), params)
    dens = [r for r in pde if r["metric"].startswith("rho(")]
    assert len(dens) == 3 * 4 * 6  # three times, four xi nodes, six x bins
    xi, x = parse_rho(dens[0]["metric"])
    assert rho_metric(xi, x) == dens[0]["metric"]
    # each slice integrates to at most 1 over the heat-map range (mass per unit length times width)
    width = (data["heatmap_x"][1] - data["heatmap_x"][0]) / 6
    mass = pd.DataFrame(dens).groupby(["t", "metric"])["value"].sum()
    assert float(mass.max()) * width <= 1 + 1e-9
    clear_cache()


def _tiny_scaling_table(tmp_path):
    data, _ = _params(scaling, {"pde": {"n_xi": 4}, "t_end": 0.5, "rate_window": [0.25, 0.5], "heatmap_bins": 4,
                                "main": {"sizes": [20, 40, 80], "reps": 3}, "hub": {"sizes": [20, 40, 80], "reps": 3},
                                "variance": {"sizes": [40], "reps": 4}})
    table = scaling.run(data, lambda fn, tasks, params: run_sweep(fn, tasks, study="scaling", seed=data["seed"],
                                                                   params=params, progress=False))
    return data, table


def test_v1_variance_criteria_fail_without_the_dual(tmp_path, monkeypatch):
    monkeypatch.setattr(_dual, "available", lambda: False)
    data, table = _tiny_scaling_table(tmp_path)
    table = table[~table["source"].eq("pde-dual")]
    info = make_run_info(study="scaling", config=data, config_hash="0" * 64, seeds={"root": data["seed"]})
    s = scaling.analyse(table, info)
    var = [v for v in s.verdicts if "variance_ratio" in v.name]
    assert len(var) == 4 and all(v.status == FAIL for v in var)
    assert all("dual rows not available" in v.decided_by for v in var)
    assert [v.status for v in s.verdicts if v.name == "hub_kappa_growth"] == [PASS]
    clear_cache()


def test_v2_checkerboard_alignment_and_the_two_predictions():
    data, params = _params(subsequence, {"pde": {"n_xi": 4}, "checkerboard": {"sizes": [40], "reps": 2}})
    rows = subsequence.task(Task("checkerboard", 40, 0), np.random.SeedSequence(4), params)
    assert _rows(rows, "parity_recovered")[0]["value"] == 1.0
    (cut,) = _rows(rows, "cut_aligned")
    assert cut["upper"] <= 2.0 / 40 + 1e-12  # only the zero diagonal differs from 2J 1{same parity}
    (given,) = _rows(rows, "cut_given")
    assert given["lower"] == pytest.approx(0.25, abs=0.03)  # J/4 under the given labels
    pde = pd.DataFrame(subsequence.task(Task("checkerboard", 0, 0), np.random.SeedSequence(4), params))
    even = pde[pde["metric"] == "rate_even"].pivot(index="t", columns="source", values="value")
    early = even[even.index < 0.4]
    assert float((early["pde-constant"] - early["pde-two-population"]).max()) > 1.0
    late = even[even.index > 1.8]
    assert float((late["pde-constant"] - late["pde-two-population"]).abs().max()) < 0.1
    clear_cache()


def _order_table(errors_by_case):
    rows = []
    for case, (steps, errs) in errors_by_case.items():
        for k, (h, e) in enumerate(zip(steps, errs)):
            rows.append(("solvers", case, "solver", 0, k, np.nan, "step", h, np.nan, np.nan))
            rows.append(("solvers", case, "solver", 0, k, np.nan, "error", e, np.nan, np.nan))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def test_v4_analysis_recovers_orders_and_fails_outside_the_band():
    h = np.array([0.04, 0.02, 0.01])
    table = _order_table({"lagrangian": (h, 3.0 * h**2), "lagrangian-transient": (h, 0.5 * h**2),
                          "upwind": (h, 2.0 * h)})
    cfg = validate({"dual": {"enabled": False}}, solvers.SCHEMA).data
    s = solvers.analyse(table, make_run_info(study="solvers", config=cfg, config_hash="0" * 64, seeds={}))
    st = {v.name: v.status for v in s.verdicts}
    assert st["lagrangian_order"] == st["lagrangian_transient_order"] == st["upwind_order"] == PASS
    assert "dual_frozen_order" not in st  # disabled in the config: no verdict at all
    cfg["criteria"]["upwind_order"] = {"kind": "within", "low": 1.8, "high": 2.3}
    s = solvers.analyse(table, make_run_info(study="solvers", config=cfg, config_hash="0" * 64, seeds={}))
    (v,) = [v for v in s.verdicts if v.name == "upwind_order"]
    assert v.status == FAIL and "upwind_order = 1" in v.decided_by


def test_v4_dual_criterion_fails_when_enabled_but_unavailable(monkeypatch):
    monkeypatch.setattr(_dual, "available", lambda: False)
    h = np.array([0.04, 0.02, 0.01])
    table = _order_table({"lagrangian": (h, h**2)})
    cfg = validate({}, solvers.SCHEMA).data
    s = solvers.analyse(table, make_run_info(study="solvers", config=cfg, config_hash="0" * 64, seeds={}))
    (v,) = [v for v in s.verdicts if v.name == "dual_frozen_order"]
    assert v.status == FAIL and "dual rows not available" in v.decided_by


def test_user_coarse_grain_is_exact_on_blocks():
    N, m = 12, 3
    blocks = np.array([[1.0, 2.0, 0.5], [0.0, 1.5, 3.0], [2.5, 0.25, 1.0]])
    W = np.kron(blocks, np.ones((N // m, N // m))) / N
    assert np.allclose(user.coarse_grain(W, m), blocks, rtol=0, atol=1e-14)
    # uneven cells: the mean of N W over each block of neurons
    W2 = np.random.default_rng(5).random((10, 10)) / 10
    cg = user.coarse_grain(W2, 3)
    edges = [0, 3, 7, 10]
    assert cg[1, 2] == pytest.approx(10 * W2[3:7, 7:10].mean())
    assert cg.shape == (3, 3) and edges[-1] == 10


def test_v3_interpolant_integral_is_exact_for_linear_functions():
    xi = (np.arange(8) + 0.5) / 8
    assert initial_data._interpolant_integral(xi, 2.0 + 3.0 * xi) == pytest.approx(2.0 + 1.5, abs=1e-14)
    at = np.array([0.0, 0.03, 0.5, 0.99, 1.0])
    assert np.allclose(initial_data._interpolate(xi, 2.0 + 3.0 * xi, at), 2.0 + 3.0 * at, atol=1e-14)


def test_user_tasks_with_a_step_kernel_file_and_an_alignment(tmp_path):
    from verification.experiments import load_run_config

    rng = np.random.default_rng(6)
    for N in (24, 48, 96):
        perm = rng.permutation(N)
        W = subsequence.checkerboard(N)[np.ix_(perm, perm)]  # labels shuffled
        np.save(tmp_path / f"W{N}.npy", W)
    np.save(tmp_path / "k.npy", np.array([[2.0, 0.0], [0.0, 2.0]]))
    (tmp_path / "u.toml").write_text(
        '[user]\nweights = ["W24.npy", "W48.npy", "W96.npy"]\nlimit = "file"\nkernel_file = "k.npy"\n'
        'alignment = "eigenvector"\nt_end = 0.5\nrate_window = [0.25, 0.5]\nreps = 2\npde = { n_xi = 2 }\n')
    data = load_run_config(str(tmp_path / "u.toml")).studies["user"].data
    tasks, params = user.plan(data)
    assert [t.N for t in tasks if t.rep == 0] == [0, 24, 48, 96]
    rows = user.task(tasks[1], np.random.SeedSequence(7), params)
    (cut,) = _rows(rows, "cut_aligned")
    assert cut["upper"] <= 2.0 / 24 + 1e-12  # the relabelling recovers the two parity blocks
    assert _rows(rows, "aligned_d_w") and _rows(rows, "d_w")
    clear_cache()
