"""``ifmf check-weights``: files of every supported format, exit codes 0 / 1 / 2 and the printed report.

The parser is built with only this sub-command registered (``verification.cli.COMMANDS`` patched),
so that a failure here points at check-weights and not at another sub-command's import;
``test_registered`` checks that the real command list contains it.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

import verification.cli as cli
from solvers.graphons import hub, ring, sparse_erdos_renyi
from verification.commands import COMMANDS
from verification.commands import check_weights as cmd


@pytest.fixture
def run(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ("check_weights",))

    def _run(*argv):
        code = cli.main(["check-weights", *map(str, argv)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def test_registered():
    assert "check_weights" in COMMANDS and cmd.NAME == "check-weights"
    assert callable(cmd.add_arguments) and callable(cmd.run) and cmd.HELP


def test_hub_sequence_in_mixed_formats_exits_1(tmp_path, run):
    np.save(tmp_path / "h40.npy", hub(40))
    np.savetxt(tmp_path / "h10.csv", hub(10), delimiter=",", fmt="%.17g")
    scipy.io.mmwrite(tmp_path / "h20.mtx", hub(20))
    code, out, err = run(tmp_path / "h40.npy", tmp_path / "h10.csv", tmp_path / "h20.mtx")
    assert code == 1, err
    assert "| O(1/N) weights | violated |" in out
    assert "result: violated: O(1/N) weights" in out
    # the table is sorted by N, with the file names as sources and kappa_N = N/2
    rows = [line for line in out.splitlines() if line.startswith("| h") and "| hypothesis |" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["h10.csv", "h20.mtx", "h40.npy"]
    assert [float(r.split("|")[3]) for r in rows] == [5.0, 10.0, 20.0]


def test_sparse_erdos_renyi_exits_1(tmp_path, run):
    files = []
    for N in (100, 400, 1600):
        sp.save_npz(tmp_path / f"er{N}.npz", sparse_erdos_renyi(N, seed=N))
        files.append(tmp_path / f"er{N}.npz")
    code, out, _ = run(*files)
    assert code == 1 and "| O(1/N) weights | violated |" in out and "N^0.500" in out


def test_ring_sequence_exits_0(tmp_path, run):
    np.savez(tmp_path / "r20.npz", W=ring().weights(20))
    sp.save_npz(tmp_path / "r40.npz", sp.csr_matrix(ring().weights(40)))
    scipy.io.mmwrite(tmp_path / "r80.mtx", sp.coo_matrix(ring().weights(80)))
    csv = tmp_path / "table.csv"
    code, out, err = run(tmp_path / "r80.mtx", tmp_path / "r20.npz", tmp_path / "r40.npz", "--csv", csv)
    assert code == 0, err
    assert "| O(1/N) weights | holds |" in out and "result: no hypothesis violated" in out
    table = pd.read_csv(csv)
    assert list(table["N"]) == [20, 40, 80]
    np.testing.assert_allclose(table["kappa_N"], [1 + 0.5 * np.cos(2 * np.pi / N) for N in (20, 40, 80)],
                               rtol=1e-12)


def test_single_file_cannot_tell_exits_0(tmp_path, run):
    np.save(tmp_path / "hub.npy", hub(30))
    code, out, _ = run(tmp_path / "hub.npy")
    assert code == 0 and "| O(1/N) weights | cannot tell |" in out and "kappa_N = 15" in out


def test_help_and_report_state_the_sizes_the_fit_needs(tmp_path, run, capsys):
    """Two sizes give a fitted exponent (no interval), three an interval: the help and the one-size
    report say so (the help said '3 or more' while the report said 'fewer than 2')."""
    with pytest.raises(SystemExit):
        run("--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "2 or more sizes (with kappa_N > 0) give a fitted growth exponent, 3 or more also its 95% interval" \
        in help_text
    for N in (20, 40, 80):
        np.save(tmp_path / f"r{N}.npy", ring().weights(N))
    code, out, _ = run(tmp_path / "r20.npy")
    assert code == 0 and "give >= 2 sizes to fit a growth (>= 3 for an interval)" in out
    assert "fewer than 2 sizes with kappa_N > 0; 2 sizes give an exponent, 3 or more also its interval" in out
    code, out, _ = run(tmp_path / "r20.npy", tmp_path / "r40.npy", "--json")
    growth = json.loads(out)["growth"]
    assert code == 0 and growth["n_sizes"] == 2 and growth["lower"] is None  # fitted, no interval
    code, out, _ = run(tmp_path / "r20.npy", tmp_path / "r40.npy", tmp_path / "r80.npy", "--json")
    growth = json.loads(out)["growth"]
    assert growth["n_sizes"] == 3 and growth["lower"] <= growth["exponent"] <= growth["upper"]


def test_model_options(tmp_path, run):
    np.save(tmp_path / "r.npy", ring().weights(10))
    code, out, _ = run(tmp_path / "r.npy", "--intensity", "exponential")
    assert code == 1 and "| f bounded | violated |" in out and "Exponential(c=1" in out
    code, out, _ = run(tmp_path / "r.npy", "--intensity", "relu", "--param", "cap=inf", "--param", "slope=2")
    assert code == 1 and "| f bounded | violated |" in out and "| f Lipschitz | holds |" in out
    code, out, _ = run(tmp_path / "r.npy", "--intensity", "sigmoid", "--param", "lam=3", "--I0", "0.5",
                       "--x-range", "-1", "2", "--samples", "301")
    assert code == 0 and "Sigmoid(lam=3, beta=5, theta=1)" in out and "301 equispaced points of [-1, 2]" in out
    assert "Leaky(I0=0.5)" in out


@pytest.mark.parametrize("setup,extra,match", [
    ("rect", [], "square"),
    ("missing", [], "does not exist"),
    ("txt", [], "unknown extension"),
    ("nan", [], "finite"),
    ("ok", ["--intensity", "tanh"], "unknown intensity family"),
    ("ok", ["--param", "lam"], "NAME=VALUE"),
    ("ok", ["--param", "lam=big"], "number"),
    ("ok", ["--param", "gain=2"], "argument '--param gain' = 2.0 (type float): is not a parameter"),
    ("ok", ["--samples", "1"], "--samples"),
])
def test_bad_input_exits_2(tmp_path, run, setup, extra, match):
    path = tmp_path / {"rect": "a.npy", "missing": "b.npy", "txt": "c.txt", "nan": "d.csv", "ok": "e.npy"}[setup]
    if setup == "rect":
        np.save(path, np.ones((3, 4)))
    elif setup == "txt":
        path.write_text("0,1\n1,0\n")
    elif setup == "nan":
        path.write_text("0,nan\n1,0\n")
    elif setup == "ok":
        np.save(path, ring().weights(8))
    code, out, err = run(path, *extra)
    assert code == 2
    assert err.startswith("ifmf check-weights: error:") and match in err
