"""The ``ifmf`` commands in process: solve (flags and TOML config), stationary, weights, cut-norm,
check-weights' result line, the memory refusal, the help texts, flag names in errors, ``-v``.

Reference values are independent of the command under test: closed forms (cut norms of constant
matrices), mpmath (the homogeneous stationary rate against the spatial Newton solve), or the library
API called directly (the command must be a faithful front end of it).
"""
from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest
import scipy.sparse as sp

from solvers.graphons import KERNELS, WEIGHT_SEQUENCES, build_weights, load_weights, ring
from solvers.meanfield import METHODS as PDE_METHODS
from solvers.meanfield import solve
from solvers.model import NeuronModel, Sigmoid
from solvers.particles import METHODS as NETWORK_METHODS
from solvers.particles import simulate
from solvers.references import stationary_rate
from verification.cli import build_parser, main, translate


@pytest.fixture
def run(capsys):
    def _run(*argv):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def _json(out: str):
    return json.loads(out)


# ------------------------------------------------------------------------------ parser and messages
def test_verbose_before_or_after_the_command():
    p = build_parser()
    base = ["simulate", "--seed", "1", "--kernel", "ring", "--N", "5"]
    assert p.parse_args(base).verbose is False
    assert p.parse_args(["-v"] + base).verbose is True
    assert p.parse_args(base + ["-v"]).verbose is True
    assert p.parse_args(["check-weights", "a.npy", "--verbose"]).verbose is True


def test_translate_names_the_flags():
    flags = {"t_end": "--t-end", "x_range": "--x-range", "n_samples": "--samples", "dt": "--dt",
             "lam": "--param lam="}
    msg = ("argument 't_end' = -1 (type int): must be > 0. Fix: pass e.g. t_end=10.0; "
           "dt must be <= t_end = 2; x_range=(-5, 10); argument 'lam' = -1; pass lam=5; argument 'other' = 1; "
           "t_end_extra and my_t_end stay")
    out = translate(msg, flags)
    assert "argument '--t-end' = -1" in out and "pass e.g. --t-end 10.0" in out
    assert "<= --t-end = 2" in out and "--x-range -5 10" in out
    assert "argument '--param lam' = -1" in out and "pass --param lam=5" in out
    assert "argument 'other'" in out and "t_end_extra and my_t_end stay" in out


def test_library_errors_name_the_flag(run, tmp_path):
    # dt > t_end is found by the mean-field library (time_grid), which names 'dt' and 't_end'
    code, _, err = run("solve", "--t-end", "2", "--dt", "3", "--n-xi", "2")
    assert code == 2 and "argument '--dt'" in err and "--t-end = 2" in err and "t_end" not in err
    code, _, err = run("simulate", "--seed", "1", "--kernel", "ring", "--N", "5", "--method", "clock", "--dt", "0.5")
    assert code == 2 and "argument '--dt'" in err and "Traceback" not in err
    code, _, err = run("check-weights", tmp_path / "none.npy", "--x-range", "2", "1")
    assert code == 2 and "does not exist" in err


def test_unknown_param_names_the_flag_and_the_family_parameters(run):
    code, _, err = run("simulate", "--seed", "1", "--kernel", "ring", "--N", "5", "--param", "foo=1")
    assert code == 2 and "argument '--param foo' = 1.0" in err and "'--intensity'" not in err
    assert "whose parameters are lam, beta, theta" in err and "--param lam=10" in err and "Traceback" not in err
    code, _, err = run("stationary", "--intensity", "relu", "--param", "lam=3")
    assert code == 2 and "argument '--param lam'" in err and "slope, theta, cap" in err
    # a parameter of another family (so not caught by solve's any-family check) is named as well
    code, _, err = run("solve", "--param", "c=2", "--n-xi", "2")
    assert code == 2 and "argument '--param c'" in err and "lam, beta, theta" in err


def test_help_texts_are_plain_and_list_the_registry(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    top = capsys.readouterr().out
    assert exc.value.code == 0 and "``" not in top and ":func:" not in top
    for name in ("simulate", "solve", "stationary", "weights", "check-weights", "cut-norm", "report"):
        assert name in top
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    assert "``" not in text
    for name, seq in WEIGHT_SEQUENCES.items():  # the one registry, every name with its description
        assert f"  {name} " in text and " ".join(seq.summary.split()[:3]) in " ".join(text.split())
    for needle in ("membrane time constant", "spike_times", "states (R, N)", "meta_json", "--x0-file",
                   "per neuron"):
        assert needle in text, needle
    for cmd in ("simulate", "solve", "stationary", "weights", "cut-norm", "check-weights", "report"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        text = capsys.readouterr().out
        assert exc.value.code == 0 and "--json" in text and "``" not in text, cmd


def test_one_list_of_names_for_the_cli_and_the_library():
    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "command").choices
    method = {a.dest: a for a in sub["simulate"]._actions}["method"]
    assert tuple(method.choices) == tuple(NETWORK_METHODS)
    from verification.commands.solve import SCHEMA

    assert SCHEMA.fields["method"].choices == tuple(PDE_METHODS)
    assert SCHEMA.fields["kernel"].fields["name"].choices == tuple(KERNELS)
    assert {s.name for s in WEIGHT_SEQUENCES.values() if s.kernel} == set(KERNELS)


# ----------------------------------------------------------------------------------------- memory
def test_memory_estimate_refuses_before_allocating(run):
    code, _, err = run("simulate", "--seed", "1", "--kernel", "ring", "--N", "2000", "--max-memory", "10MB")
    assert code == 2
    assert "argument '--N' = 2000" in err and "30.5 MiB" in err and "10 MB" not in err  # 2000^2 * 8 bytes
    assert "--dtype float32" in err and "erdos-renyi" in err and "--operator low-rank" in err
    assert "--operator on-the-fly" in err  # the matrix-free paths of the named kernels
    code, _, err = run("simulate", "--seed", "1", "--kernel", "random-sign", "--N", "2000", "--dtype", "float32",
                       "--max-memory", "10MB")
    assert code == 2 and "--dtype float32" not in err.split("Fix:")[1] and "temporaries" in err
    code, out, _ = run("simulate", "--seed", "1", "--kernel", "ring", "--N", "200", "--t-end", "0.2",
                       "--max-memory", "10MB")
    assert code == 0


# ---------------------------------------------------------------------------------------- simulate
def test_simulate_json_and_per_neuron_initial_state(run, tmp_path):
    x0 = np.linspace(-0.5, 1.0, 25)
    np.save(tmp_path / "x0.npy", x0)
    np.savetxt(tmp_path / "x0.txt", x0)
    ref = simulate(NeuronModel.standard(), build_weights("ring", 25), 1.0, x0, 4)
    for f in ("x0.npy", "x0.txt"):
        code, out, err = run("simulate", "--kernel", "ring", "--N", "25", "--t-end", "1", "--seed", "4",
                             "--x0-file", tmp_path / f, "--json")
        assert code == 0, err
        d = _json(out)
        assert d["n_spikes"] == ref.n_spikes and d["mean_rate"] == pytest.approx(ref.mean_rate, rel=1e-15)
        assert d["N"] == 25 and d["out"] is None and len(d["rate"]) == 10
    np.save(tmp_path / "short.npy", x0[:5])
    code, _, err = run("simulate", "--seed", "1", "--kernel", "ring", "--N", "25", "--x0-file", tmp_path / "short.npy")
    assert code == 2 and "argument '--x0-file'" in err and "(25,)" in err
    (tmp_path / "text.npy").write_text("0.1\n0.2\n")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for name, match in (("text.npy", "is not a NumPy .npy file"), ("obj.npy", "never unpickled"),
                        ("missing.npy", "does not exist")):
        code, _, err = run("solve", "--x0-file", tmp_path / name, "--n-xi", "2", "--t-end", "0.1")
        assert code == 2 and "argument '--x0-file'" in err and match in err and "pickled data" not in err, err


# ----------------------------------------------------------------------------------------- weights
def test_weights_files_are_the_library_matrices(run, tmp_path):
    code, out, err = run("weights", "hub", "--N", "10", "20", "--out-dir", tmp_path)
    assert code == 0, err
    for N in (10, 20):
        np.testing.assert_array_equal(load_weights(tmp_path / f"hub_{N}.npy"), build_weights("hub", N))
    code, _, err = run("weights", "hub", "--N", "10", "--out-dir", tmp_path)
    assert code == 2 and "exists already" in err
    code, out, _ = run("weights", "erdos-renyi", "--N", "64", "--seed", "3", "--out-dir", tmp_path, "--json")
    d = _json(out)["files"][0]
    A = load_weights(tmp_path / "erdos-renyi_64.npz")
    assert code == 0 and sp.issparse(A) and d["format"] == "npz" and d["kappa_N"] == pytest.approx(8.0)
    for fmt in ("csv", "mtx"):
        assert run("weights", "skew", "--N", "7", "--format", fmt, "--out-dir", tmp_path)[0] == 0
        B = load_weights(tmp_path / f"skew_7.{fmt}")
        np.testing.assert_array_equal(B.toarray() if sp.issparse(B) else B, build_weights("skew", 7))
    assert "needs a seed" in run("weights", "random-sign", "--N", "8", "--out-dir", tmp_path)[2]
    assert "is deterministic" in run("weights", "ring", "--N", "8", "--seed", "1", "--out-dir", tmp_path)[2]
    assert "unknown weight sequence" in run("weights", "nope", "--N", "8", "--out-dir", tmp_path)[2]


def test_weights_file_is_the_matrix_simulate_uses(run, tmp_path):
    """``ifmf weights NAME --seed S`` writes the matrix ``ifmf simulate --kernel NAME --seed S`` simulates."""
    assert run("weights", "random-sign", "--N", "40", "--seed", "9", "--out-dir", tmp_path)[0] == 0
    a = _json(run("simulate", "--kernel", "random-sign", "--N", "40", "--seed", "9", "--t-end", "1", "--json")[1])
    b = _json(run("simulate", "--weights", tmp_path / "random-sign_40.npy", "--seed", "9", "--t-end", "1",
                  "--json")[1])
    assert a["n_spikes"] == b["n_spikes"] and a["rate"] == b["rate"]


# ------------------------------------------------------------------------------------------- solve
def test_solve_flags_match_the_library(run, tmp_path):
    code, out, err = run("solve", "--kernel", "skew", "--t-end", "0.5", "--dt", "0.05", "--n-xi", "4", "--x0",
                         "0.3", "--json", "--out", tmp_path / "s.npz")
    assert code == 0, err
    d = _json(out)
    ref = solve(NeuronModel.standard(), KERNELS["skew"](), 0.5, 0.3, dt=0.05, n_xi=4)
    np.testing.assert_allclose(d["rate_final"], ref.rates[-1], rtol=1e-14)
    assert d["population_rate"][-1] == pytest.approx(float(ref.rates[-1].mean()), rel=1e-14)
    assert d["counters"]["steps"] == 10 and d["mass_error"] < 1e-12
    z = np.load(tmp_path / "s.npz", allow_pickle=False)
    np.testing.assert_allclose(z["rates"], ref.rates, rtol=1e-14)
    assert json.loads(str(z["meta_json"]))["config"]["kernel"]["name"] == "skew"
    # a dt that does not divide T is adjusted and reported
    code, out, _ = run("solve", "--t-end", "1", "--dt", "0.3", "--n-xi", "2")
    assert code == 0 and "requested 0.3, adjusted to divide T" in out


def test_solve_config_and_flag_overrides(run, tmp_path, monkeypatch):
    W = ring().weights(6)
    np.save(tmp_path / "W.npy", W)
    cfg = tmp_path / "c.toml"
    cfg.write_text('t_end = 0.4\nn_xi = 6\ndt = 0.02\n[kernel]\nfile = "W.npy"\n'
                   '[model]\nparams = { lam = 6.0 }\n')
    monkeypatch.chdir(tmp_path.parent)  # kernel.file is relative to the config's folder, not the working folder
    code, out, err = run("solve", cfg, "--json")
    assert code == 0, err
    d = _json(out)
    model = NeuronModel(NeuronModel.standard().drift, Sigmoid(lam=6.0))
    from solvers.graphons import step_kernel

    ref = solve(model, step_kernel(W), 0.4, 0.0, dt=0.02, n_xi=6)
    np.testing.assert_allclose(d["rate_final"], ref.rates[-1], rtol=1e-13)
    # flags override the file; the hash names what was solved: same run from flags only, same hash
    code, out2, _ = run("solve", cfg, "--t-end", "0.2", "--json")
    d2 = _json(out2)
    assert code == 0 and d2["config"]["t_end"] == 0.2 and d2["config_hash"] != d["config_hash"]
    flags_only = _json(run("solve", "--weights", tmp_path / "W.npy", "--t-end", "0.2", "--n-xi", "6", "--dt",
                           "0.02", "--param", "lam=6", "--json")[1])
    assert flags_only["config_hash"] == d2["config_hash"] and flags_only["rate_final"] == d2["rate_final"]
    # changing the family drops the file's parameters of the old family
    d3 = _json(run("solve", cfg, "--intensity", "constant", "--t-end", "0.1", "--json")[1])
    assert d3["config"]["model"]["params"]["lam"] is None
    np.testing.assert_allclose(d3["rate_final"], 1.0, rtol=1e-12)  # Constant(lam0=1): r = lam0 exactly
    (tmp_path / "bad.toml").write_text("t_end = -1\n")
    code, _, err = run("solve", tmp_path / "bad.toml")
    assert code == 2 and "field 't_end'" in err and "bad.toml" in err


# -------------------------------------------------------------------------------------- stationary
def test_stationary_homogeneous_and_spatial_agree(run):
    """The homogeneous mpmath rate (two quadratures) and the spatial Newton state of two-block, whose
    state is homogeneous with J = (1.5 + 0.2)/2 = 0.85, are independent computations of one number."""
    code, out, err = run("stationary", "--J", "0.85", "--dps", "16", "--json")
    assert code == 0, err
    (state,) = _json(out)["states"]
    r_mp = mpmath.mpf(state["rate"])
    assert state["digits_agreed"] >= 11
    assert abs(r_mp - stationary_rate(NeuronModel.standard(), 0.85, dps=16).rate) < mpmath.mpf(10) ** -14
    code, out, err = run("stationary", "--kernel", "two-block", "--n-xi", "8", "--no-stability", "--json")
    d = _json(out)
    assert code == 0 and d["unique"] is True
    np.testing.assert_allclose(d["rate"], float(r_mp), rtol=1e-10)
    code, out, _ = run("stationary", "--J", "0.85", "--dps", "16")
    assert code == 0 and mpmath.nstr(r_mp, 12) in out


def test_stationary_prints_the_requested_digits_and_says_where_the_agreement_is_measured(run):
    """--dps 20 gives 20 significant digits in the table and in --json (a 32-digit mpmath computation,
    independent of the CLI, is the reference); digits_agreed is measured at dps + 15 working digits
    and the table says so."""
    ref = stationary_rate(NeuronModel.standard(), 1.0, dps=32).rate
    code, out, err = run("stationary", "--J", "1", "--dps", "20")
    assert code == 0, err
    assert f"rate r = {mpmath.nstr(ref, 20)}\n" in out
    assert "working precision dps + 15 = 35 digits" in out
    code, out, err = run("stationary", "--J", "1", "--dps", "20", "--json")
    (state,) = _json(out)["states"]
    assert state["rate"] == mpmath.nstr(ref, 20) and state["digits"] == 20 and state["working_dps"] == 35
    assert 15 <= state["digits_agreed"] <= 35
    code, out, _ = run("stationary", "--J", "1", "--dps", "32", "--json")
    assert _json(out)["states"][0]["rate"] == mpmath.nstr(ref, 32)  # not cut at 30 digits


# ---------------------------------------------------------------------------------------- cut-norm
def test_cut_norm_closed_forms(run, tmp_path):
    """N W = 1 off the diagonal: ||N W||_box = 1 - 1/N (S = T = everything); against w = 1 the
    difference is minus the identity on the diagonal cells: ||.||_box = 1/N; W - W = 0."""
    N = 12
    np.save(tmp_path / "c.npy", build_weights("constant", N))
    d = _json(run("cut-norm", tmp_path / "c.npy", "--json")[1])["bracket"]
    assert d["lower"] <= 1 - 1 / N + 1e-12 and d["upper"] >= 1 - 1 / N - 1e-12 and d["lower"] >= 1 - 1 / N - 1e-9
    d = _json(run("cut-norm", tmp_path / "c.npy", "--kernel", "constant", "--json")[1])["bracket"]
    assert d["lower"] <= 1 / N + 1e-12 <= d["upper"] + 2e-12 and d["lower"] == pytest.approx(1 / N, rel=1e-9)
    d = _json(run("cut-norm", tmp_path / "c.npy", "--minus", tmp_path / "c.npy", "--json")[1])["bracket"]
    assert d["lower"] == 0 and d["upper"] == 0
    code, out, err = run("cut-norm", tmp_path / "c.npy", "--kernel", "ring", "--align", "--distance",
                         "--permutation-out", tmp_path / "p.npy", "--json")
    assert code == 0, err
    d = _json(out)
    assert d["alignment"]["bracket"]["upper"] <= d["bracket"]["upper"] + 1e-12  # the best is no worse
    assert d["cut_distance"]["lower"] <= d["cut_distance"]["upper"]
    assert sorted(np.load(tmp_path / "p.npy")) == list(range(N))
    np.save(tmp_path / "small.npy", build_weights("constant", 5))
    code, _, err = run("cut-norm", tmp_path / "c.npy", "--minus", tmp_path / "small.npy")
    assert code == 2 and "argument '--minus'" in err
    assert "needs a kernel" in run("cut-norm", tmp_path / "c.npy", "--align")[2]


# ---------------------------------------------------------------------------------- check-weights
def test_check_weights_large_kappa_is_a_warning_and_the_summary_never_contradicts(run, tmp_path):
    W = build_weights("constant", 50) * 1e8  # kappa_N = 1e8 exactly, one size
    np.save(tmp_path / "big.npy", W)
    code, out, _ = run("check-weights", tmp_path / "big.npy")
    result = out.strip().splitlines()[-1]
    assert code == 1
    assert result.startswith("result: warning: O(1/N) weights: kappa_N = 1e+08 > 100")
    assert "cannot tell for O(1/N) weights" in result and "no hypothesis violated" not in out
    assert "| O(1/N) weights | cannot tell |" in out and "WARNING" in out
    d = _json(run("check-weights", tmp_path / "big.npy", "--json")[1])
    assert d["violated"] is False and d["warnings"] and d["verdicts"][0]["status"] == "cannot tell"
    # one ordinary size: not established, exit 0, never "no hypothesis violated"
    np.save(tmp_path / "r.npy", ring().weights(50))
    code, out, _ = run("check-weights", tmp_path / "r.npy")
    assert code == 0 and out.strip().splitlines()[-1] == (
        "result: not established: cannot tell for O(1/N) weights; holds: f bounded, f Lipschitz, b Lipschitz, "
        "f >= 0")


def test_check_weights_json_matches_the_report(run, tmp_path):
    files = []
    for N in (20, 40, 80):
        np.save(tmp_path / f"h{N}.npy", build_weights("hub", N))
        files.append(tmp_path / f"h{N}.npy")
    code, out, _ = run("check-weights", *files, "--json")
    d = _json(out)
    assert code == 1 and d["violated"] and d["result"].startswith("violated: O(1/N) weights")
    assert [r["kappa_N"] for r in d["table"]] == [10.0, 20.0, 40.0]
    assert math.isclose(d["growth"]["exponent"], 1.0, rel_tol=1e-12)


# ------------------------------------------------------------------------------ compile notice
def test_compile_notice_is_said_once_on_stderr(run, monkeypatch):
    """Commands with compiled loops say once when numba compiles (a cold cache); the wiring is tested
    here with a stand-in for solvers._compiled.on_first_compile that fires twice, and for real in
    a fresh process with an empty cache folder in test_cli_installed.py (slow)."""
    import contextlib

    from solvers import _compiled

    @contextlib.contextmanager
    def fake(callback):
        fired = []

        def once():
            if not fired:
                fired.append(1)
                callback()

        once()
        yield
        once()

    monkeypatch.setattr(_compiled, "on_first_compile", fake)
    code, out, err = run("solve", "--t-end", "0.1", "--n-xi", "2", "--json")
    assert code == 0 and err.count("compiling numba code for this command") == 1 and json.loads(out)
    code, out, err = run("stationary", "--J", "0.5", "--dps", "15", "--json")
    assert code == 0 and "compiling" not in err  # no compiled loops in this command: no listener, no notice


def test_simulate_needs_a_seed_and_names_it(run, tmp_path):
    """The output is random: ``ifmf simulate`` never defaults the seed (the Python ``simulate`` does not)."""
    code, out, err = run("simulate", "--kernel", "ring", "--N", "20", "--t-end", "0.1", "--out", tmp_path / "r.npz")
    assert code == 2 and "argument '--seed' = None" in err and "Fix: pass e.g. --seed 1" in err and not out
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize("operator", ["low-rank", "on-the-fly"])
def test_simulate_operators_give_the_dense_networks_counts(run, operator):
    """``--operator low-rank`` / ``on-the-fly`` simulate the named kernel's network without a matrix;
    for ``two-block`` (rank 2, exact expansion) the law is the dense network's: the population's
    spike count over 4 seeds agrees with the dense runs' within 4 standard errors of the difference."""
    def counts(op):
        out = []
        for seed in range(4):
            code, text, _ = run("simulate", "--kernel", "two-block", "--N", "400", "--t-end", "1", "--seed", seed,
                                "--operator", op, "--json")
            assert code == 0
            res = json.loads(text)
            out.append(res["n_spikes"])
        return np.asarray(out, dtype=float), res
    dense, _ = counts("dense")
    other, res = counts(operator)
    assert res["operator"] != "DenseOperator" and res["N"] == 400
    se = math.sqrt(dense.var(ddof=1) / 4 + other.var(ddof=1) / 4)
    assert abs(dense.mean() - other.mean()) <= 4 * se + 1e-9, (dense, other)


def test_simulate_operator_needs_a_named_kernel(run):
    code, _, err = run("simulate", "--kernel", "hub", "--N", "50", "--seed", "1", "--operator", "low-rank")
    assert code == 2 and "argument '--operator'" in err and "--operator dense" in err
