"""``user`` -- the V1/V2 machinery on a user's sequence of weight matrices.

Input: ``weights``, a list of ``.npy`` / ``.npz`` files (read with ``allow_pickle=False``: never
unpickled), one square finite matrix each (row ``i`` = postsynaptic neuron ``i``), sizes strictly
increasing in the order given (at least 3).  Relative paths are read from the config file's folder.

The limit kernel (``limit``)

``named``
    A kernel of SPEC section 8 (``kernel``).
``file``
    A step kernel on an ``m x m`` grid: the values ``w`` on the cells (``kernel_file``, ``.npy`` or
    ``.npz``), ``w(xi, zeta) = values[i, j]`` on cell ``(i, j)`` of the uniform ``m x m`` grid.
``estimate``
    No limit given: the cut-distance **Cauchy table** of the sequence (certified brackets of
    ``delta_box(w_{N_a}, w_{N_b})`` for every pair, :func:`verification.graphs.cut_distance`) and the
    PDE of the **coarse-grained step kernel of the largest N** (block averages of ``N W`` on
    ``coarse_cells`` cells).  Everything measured against it is labelled as an estimate.

Per network (``reps`` exact simulations of each file, ``X_i(0) = initial``): ``kappa_N``, the
population rate in ``rate_window`` and in bins, ``d_w(mu^N_T, mu_T)`` (certified bracket) and
``d_{w,k}`` under the given labels and, with ``alignment`` other than ``identity``, after the
relabelling found by :func:`verification.graphs.align` against the limit kernel.

Verdicts (``[user.criteria]``): growth exponent of ``kappa_N`` (the hypothesis), the slope of the
rate fluctuations and of the mean ``d_w`` (aligned when an alignment is configured).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from solvers.errors import InvalidArgumentError
from solvers.graphons import StepKernel, load_weights, named_kernel, step_kernel
from solvers.meanfield import solve
from solvers.measures import ExtendedMeasure
from solvers.particles import simulate
from verification.config import Array, Integer, Real, String, Table
from verification.graphs import ORDERINGS, align, cut_distance
from verification.hypotheses import fit_growth, weight_statistics
from verification.observables import population_rate, window_edges
from verification.rates import Estimate
from verification.report import (
    FigureEntry,
    FitEntry,
    Summary,
    metrics_vs_n_figure,
    register_analysis,
    time_curves_figure,
)
from verification.sweep import Task

from ._common import (
    bracket_row,
    cached,
    cached_weights,
    check_model,
    child_seeds,
    config_error,
    criterion_field,
    curve_rows,
    distance_rows,
    evaluate,
    fit,
    kernel_field,
    model_from_config,
    model_schema,
    pde_schema,
    reps_field,
    row,
    select,
    window_field,
)
from ._figures import band

NAME = "user"
LABEL = "user"
TITLE = "user: convergence of a user's weight sequence to its mean-field limit"

ALIGN_METHODS = tuple(m for m in ("best",) + ORDERINGS if m != "positions")
EXTENSIONS = (".npy", ".npz")

SCHEMA = Table({
    "seed": Integer(minimum=0, default=1, doc="root seed of every random stream"),
    "weights": Array(String(), min_length=3, unique=True, doc="weight files (.npy/.npz), sizes increasing"),
    "limit": String(choices=("named", "file", "estimate"), default="estimate",
                    doc="the limit kernel: named, a step kernel from a file, or estimated from the sequence"),
    "kernel": kernel_field("ring", "the named limit kernel (limit = 'named')"),
    "kernel_file": String(default=None, doc="m x m step-kernel values (.npy/.npz) (limit = 'file')"),
    "coarse_cells": Integer(minimum=1, maximum=256, default=16,
                            doc="cells of the coarse-grained step kernel of the largest N (limit = 'estimate')"),
    "alignment": String(choices=ALIGN_METHODS, default="identity",
                        doc="relabelling before measuring (identity: the given labels)"),
    "initial": Real(default=0.0, doc="X_i(0) for every neuron"),
    "t_end": Real(minimum=0.0, exclusive_minimum=True, maximum=50.0, default=2.0, doc="horizon T"),
    "rate_window": window_field([1.0, 2.0], "window of the population rate whose fluctuations are fitted"),
    "curve_bin": Real(minimum=0.0, exclusive_minimum=True, default=0.1, doc="bin width of the rate curves"),
    "mmd_bandwidth": Real(minimum=0.0, exclusive_minimum=True, default=0.25, doc="bandwidth of d_{w,k}"),
    "reps": reps_field(8, minimum=2),
    "model": model_schema(),
    "pde": pde_schema(64, 0.01),
    "criteria": Table({
        "kappa_growth": criterion_field({"kind": "at_most", "bound": 0.1}, "growth exponent of kappa_N"),
        "rate_fluctuation_exponent": criterion_field({"kind": "within", "low": -0.8, "high": -0.3},
                                                     "slope of std(population rate in the window)"),
        "d_w_exponent": criterion_field({"kind": "within", "low": -0.8, "high": -0.3},
                                        "slope of mean d_w(mu^N_T, mu_T) (upper side)"),
    }),
})


# ------------------------------------------------------------------------------------------ config
def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve(path: str, base_dir: str | None) -> str:
    p = os.path.expanduser(path)
    if not os.path.isabs(p):
        p = os.path.join(base_dir or os.getcwd(), p)
    return os.path.abspath(p)


def _load_matrix(field: str, path: str) -> Any:
    """A weight matrix from ``.npy``/``.npz`` (no pickle), as a ConfigError naming the field when bad."""
    if os.path.splitext(path)[1].lower() not in EXTENSIONS:
        raise config_error(field, path, f"must be a {' or '.join(EXTENSIONS)} file (never unpickled)",
                           "save the matrix with numpy.save or numpy.savez")
    try:
        return load_weights(path)
    except InvalidArgumentError as exc:
        raise config_error(field, path, f"is not a usable weight matrix ({exc})",
                           "pass a square finite matrix saved with numpy.save (allow_pickle is never used)") from None


def _load_step_values(field: str, path: str) -> np.ndarray:
    if os.path.splitext(path)[1].lower() not in EXTENSIONS:
        raise config_error(field, path, "must be a .npy or .npz file", "save the m x m values with numpy.save")
    W = _load_matrix(field, path)
    if not isinstance(W, np.ndarray):
        W = W.toarray()
    return np.asarray(W, dtype=float)


def validate(data: Mapping[str, Any], *, base_dir: str | None = None) -> dict:
    """Load and check every file (square, finite, sizes increasing), resolve the paths and record the
    files' sizes and SHA-256 (part of the store key: a changed file is never mistaken for the old one)."""
    check_model(data["model"], "user.model")
    a, b = data["rate_window"]
    if b > data["t_end"]:
        raise config_error("user.rate_window", data["rate_window"], f"must lie inside [0, t_end = {data['t_end']}]",
                           "shorten the window or raise t_end")
    files = []
    prev = 0
    for k, f in enumerate(data["weights"]):
        field = f"user.weights[{k}]"
        p = _resolve(f, base_dir)
        if not os.path.isfile(p):
            raise config_error(field, f, f"file does not exist (looked for {p})", "check the path (relative paths "
                               "are read from the config file's folder)")
        W = _load_matrix(field, p)
        N = int(W.shape[0])
        if N <= prev:
            raise config_error(field, f, f"has N = {N}, not larger than the previous file's N = {prev}: the sizes must "
                               "increase strictly in the order given", "sort the files by size and drop duplicates")
        if N < 2:
            raise config_error(field, f, "is a 1 x 1 matrix", "give networks of at least 2 neurons")
        prev = N
        files.append({"path": p, "N": N, "sha256": _sha256(p)})
        del W
    out = dict(data)
    out["resolved_weights"] = files
    out["resolved_kernel_file"] = None
    if data["limit"] == "file":
        if not data["kernel_file"]:
            raise config_error("user.kernel_file", data["kernel_file"], "is required with limit = 'file'",
                               "give the m x m step-kernel values, or use limit = 'named' / 'estimate'")
        p = _resolve(data["kernel_file"], base_dir)
        if not os.path.isfile(p):
            raise config_error("user.kernel_file", data["kernel_file"], f"file does not exist (looked for {p})",
                               "check the path")
        vals = _load_step_values("user.kernel_file", p)
        out["resolved_kernel_file"] = {"path": p, "m": int(vals.shape[0]), "sha256": _sha256(p)}
    elif data["kernel_file"]:
        raise config_error("user.kernel_file", data["kernel_file"], f"is only used with limit = 'file' (limit is "
                           f"{data['limit']!r})", "drop kernel_file or set limit = 'file'")
    if data["limit"] == "estimate" and data["coarse_cells"] > files[-1]["N"]:
        raise config_error("user.coarse_cells", data["coarse_cells"], f"must be <= the largest N = {files[-1]['N']}",
                           "use fewer cells")
    return out


def plan(data: Mapping[str, Any]) -> tuple[tuple[Task, ...], dict]:
    files = data["resolved_weights"]
    tasks = [Task("sequence", 0, 0)]
    tasks += [Task("sequence", f["N"], r) for f in files for r in range(data["reps"])]
    if data["limit"] == "estimate":
        tasks += [Task("cauchy", f["N"], 0) for f in files[:-1]]
    params = {k: v for k, v in data.items() if k not in ("seed", "criteria", "reps", "weights", "kernel_file")}
    return tuple(tasks), params


def run(data: Mapping[str, Any], sweep) -> pd.DataFrame:
    tasks, params = plan(data)
    return sweep(task, tasks, params).table


# ------------------------------------------------------------------------------------------ tasks
def _file(params: Mapping[str, Any], N: int) -> dict:
    return next(f for f in params["resolved_weights"] if f["N"] == N)


def _weights(params: Mapping[str, Any], N: int):
    f = _file(params, N)
    return cached_weights({"user-weights": f["path"], "sha256": f["sha256"]}, lambda: load_weights(f["path"]))


def _dense(W) -> np.ndarray:
    return W if isinstance(W, np.ndarray) else W.toarray()


def coarse_grain(W, m: int) -> np.ndarray:
    """Block averages of the step kernel ``N W`` on ``m`` (nearly) equal cells of neurons."""
    A = _dense(W) * W.shape[0]
    edges = np.linspace(0, A.shape[0], m + 1).round().astype(int)
    out = np.empty((m, m))
    for a in range(m):  # m <= 256 blocks: a loop over cells, vectorised within
        rows = A[edges[a]:edges[a + 1]]
        out[a] = np.add.reduceat(rows.sum(axis=0), edges[:-1]) / (np.diff(edges) * rows.shape[0])
    return out


def limit_kernel(params: Mapping[str, Any]):
    """The limit kernel (named, from a file, or the coarse-grained estimate)."""
    if params["limit"] == "named":
        return named_kernel(params["kernel"])
    if params["limit"] == "file":
        kf = params["resolved_kernel_file"]
        return cached({"user-kernel-file": kf}, lambda: StepKernel(values=_load_step_values("kernel_file", kf["path"])))
    big = params["resolved_weights"][-1]
    return cached({"user-estimate": big, "m": params["coarse_cells"]},
                  lambda: StepKernel(values=coarse_grain(load_weights(big["path"]), params["coarse_cells"])))


def _pde(params: Mapping[str, Any]):
    key = {"study": NAME, "limit": params["limit"], "kernel": params["kernel"],
           "file": params["resolved_kernel_file"], "estimate": params["resolved_weights"][-1],
           "m": params["coarse_cells"], "model": params["model"], "pde": params["pde"], "t_end": params["t_end"],
           "initial": params["initial"]}

    def build():
        sol = solve(model_from_config(params["model"]), limit_kernel(params), params["t_end"], params["initial"],
                    n_xi=params["pde"]["n_xi"], dt=params["pde"]["dt"], save_times=[params["t_end"]])
        return sol, ExtendedMeasure.from_solution(sol, params["t_end"])

    return cached(key, build)


def task(t: Task, seed: np.random.SeedSequence, params: Mapping[str, Any]) -> list[dict]:
    T = params["t_end"]
    edges = window_edges(T, params["curve_bin"])
    win = np.array(params["rate_window"], dtype=float)
    if t.case == "cauchy":
        Wa = _weights(params, t.N)
        rows = []
        for f in params["resolved_weights"]:
            if f["N"] <= t.N:
                continue
            Wb = load_weights(f["path"])
            br = cut_distance(Wa, step_kernel(_dense(Wb)), method=params["alignment"], seed=0)
            rows.append(bracket_row(f"cut_distance_to_N={f['N']}", br, source="weights"))
        return rows
    sol, ref = _pde(params)
    if t.N == 0:
        rows = curve_rows("rate", edges, population_rate(sol, edges), source="pde")
        rows.append(row("rate_window", population_rate(sol, win)[0], source="pde"))
        return rows
    seeds = child_seeds(seed, ["dynamics", "metric"])
    model = model_from_config(params["model"])
    W = _weights(params, t.N)
    rows = [row("kappa_N", weight_statistics(W)["kappa_N"], source="weights")] if t.rep == 0 else []
    res = simulate(model, W, T, params["initial"], seeds["dynamics"], save_times=[T])
    rows.append(row("rate_window", population_rate(res, win)[0]))
    rows += curve_rows("rate", edges, population_rate(res, edges), source="network")
    X = res.states[-1]
    kern = limit_kernel(params)
    rows += distance_rows(ExtendedMeasure.from_network(X), ref, kern, t=T, seed=seeds["metric"],
                          bandwidth=params["mmd_bandwidth"], strong=False)
    if params["alignment"] != "identity":
        al = cached({"user-align": _file(params, t.N), "method": params["alignment"], "limit": params["limit"],
                     "kernel": params["kernel"]}, lambda: align(_dense(W), kern, method=params["alignment"], seed=0,
                                                                refine=1))
        if t.rep == 0:
            rows.append(bracket_row("cut_aligned", al.bracket, source="weights"))
        rows += distance_rows(ExtendedMeasure.from_network(X[al.permutation]), ref, kern, t=T, prefix="aligned_",
                              seed=seeds["metric"], bandwidth=params["mmd_bandwidth"], strong=False, population=False)
    return rows


# ------------------------------------------------------------------------------------------ analysis
@register_analysis(NAME)
def analyse(table: pd.DataFrame, run_info: Mapping[str, Any]) -> Summary:
    cfg = run_info["config"]
    crit = cfg["criteria"]
    s = Summary(title=TITLE)
    files = cfg.get("resolved_weights", [])
    if cfg["limit"] == "named":
        lim = f"the named kernel `{cfg['kernel']}` (given)"
    elif cfg["limit"] == "file":
        lim = f"the step kernel read from `{cfg['resolved_kernel_file']['path']}` (given)"
    else:
        lim = (f"**ESTIMATE**: the coarse-grained step kernel ({cfg['coarse_cells']} x {cfg['coarse_cells']} cells) "
               f"of the largest network (N = {files[-1]['N'] if files else '?'}); the distances below are to the PDE "
               "of this estimate, not to a known limit")
    names = ", ".join("{} (N = {})".format(os.path.basename(f["path"]), f["N"]) for f in files)
    s.text = (f"Weight files: {names}. "
              f"Limit kernel: {lim}. X_i(0) = {cfg['initial']:g}, exact simulation on [0, {cfg['t_end']:g}], "
              f"{cfg['reps']} replicates per file; labels: "
              f"{'as given' if cfg['alignment'] == 'identity' else 'relabelled by align (' + cfg['alignment'] + ')'}.")
    fits = []
    kap = select(table, "kappa_N", case="sequence", source="weights")
    est = None
    if kap["N"].nunique() >= 3:
        g = fit_growth(kap["N"].to_numpy(dtype=float), kap["value"].to_numpy(dtype=float))
        est = Estimate(g.exponent, g.lower, g.upper, f"least squares, Student-t (grew {g.growth:.3g}x)", 0.95)
    s.verdicts.append(evaluate("kappa_growth", crit["kappa_growth"], est, "fewer than 3 sizes"))
    why: dict[str, str] = {}
    fr = fit(select(table, "rate_window", case="sequence", network_only=True), "value", run_info,
             "user/rate_window/std", statistic="std", reasons=why)
    fits.append(("std of the population rate in the window", fr))
    s.verdicts.append(evaluate("rate_fluctuation_exponent", crit["rate_fluctuation_exponent"], fr,
                               why.get("user/rate_window/std", "")))
    metric = "d_w" if cfg["alignment"] == "identity" else "aligned_d_w"
    fd = fit(select(table, metric, case="sequence", network_only=True), "upper", run_info, f"user/{metric}/upper",
             reasons=why)
    fits.append((f"mean {metric} upper side" + (" (to the ESTIMATED limit)" if cfg["limit"] == "estimate" else ""), fd))
    s.verdicts.append(evaluate("d_w_exponent" + (" (estimated limit)" if cfg["limit"] == "estimate" else ""),
                               crit["d_w_exponent"], fd, why.get(f"user/{metric}/upper", "")))
    for name, f in fits:
        if f is not None:
            s.fits.append(FitEntry(name, f, -0.5))
    rows = []
    for N, g in select(table, "rate_window", case="sequence", network_only=True).groupby("N"):
        r = {"N": int(N), "replicates": len(g), "rate std": g["value"].std(ddof=1)}
        k = kap[kap["N"] == N]
        r["kappa_N"] = float(k["value"].iloc[0]) if len(k) else np.nan
        for m in ("d_w", "aligned_d_w", "d_wk", "population_w1"):
            d = select(table, m, case="sequence")
            d = d[d["N"] == N]
            if len(d):
                r[f"{m} mean"] = d["value"].mean()
        rows.append(r)
    s.tables.append(("Per weight file (means over replicates)", pd.DataFrame(rows)))
    cau = table[(table["case"] == "cauchy") & table["metric"].str.startswith("cut_distance_to_N=")]
    if len(cau):
        tab = pd.DataFrame({"N_a": cau["N"].astype(int), "N_b": cau["metric"].str.split("=").str[1].astype(int),
                            "lower": cau["lower"], "upper": cau["upper"]}).reset_index(drop=True)
        s.tables.append(("Cut-distance Cauchy table delta_box(w_{N_a}, w_{N_b}) (certified brackets; small for large "
                         "N_a, N_b means the sequence has a limit in cut distance)", tab))
    series = {}
    for m, lab in (("d_w", "d_w (given labels)"), ("aligned_d_w", "d_w (aligned)"), ("d_wk", "d_{w,k}")):
        d = select(table, m, case="sequence", network_only=True)
        if len(d):
            gg = d.groupby("N")
            series[lab] = ((gg["value"].mean().index, gg["value"].mean(), gg["lower"].mean(), gg["upper"].mean())
                           if d["lower"].notna().all() else (gg["value"].mean().index, gg["value"].mean().to_numpy()))
    if series:
        s.figures.append(FigureEntry("distances_vs_N.png", metrics_vs_n_figure(
            series, ylabel="distance to the PDE at T", reference_slope=-0.5,
            title="user sequence" + (" (limit ESTIMATED)" if cfg["limit"] == "estimate" else "")),
            "Distances of the user's networks to the PDE of the limit kernel against N."))
    net = select(table, "rate", case="sequence", source="network")
    pde = select(table, "rate", case="sequence", source="pde")
    if len(net) and len(pde):
        n_max = int(net["N"].max())
        tt, m, lo, hi = band(net[net["N"] == n_max])
        s.figures.append(FigureEntry("rate_curves.png", time_curves_figure(
            {f"network N = {n_max} (mean, +-2 SE)": (tt, m, lo, hi),
             "PDE" + (" of the ESTIMATED kernel" if cfg["limit"] == "estimate" else ""): (pde["t"], pde["value"])},
            ylabel="population rate", title="user sequence: network vs PDE"),
            "Population rate: largest network vs PDE."))
    return s
