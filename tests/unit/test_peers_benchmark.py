"""benchmarks/peers.py without the peers: the same network as ifmf's, the extrapolation, the ifmf rows.

The peers themselves (Brian2, NEST) live in a virtual environment of their own that the tests never
create; what is checked here is what the comparison rests on: the peers are given the ring weights
that ifmf simulates, the table's ``dt -> 0`` extrapolation and its standard error are the stated
formulas, and the script runs end to end on the ifmf rows.
"""
from __future__ import annotations

import importlib.util
import math
import pathlib

import numpy as np
import pytest

from solvers.graphons import ring

PATH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("bench_peers", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("N", [7, 40, 101])
def test_the_peers_weights_are_ifmfs_ring(peers, N):
    """The numpy-only matrix given to NEST (targets x sources) is ``ring().weights(N)``."""
    np.testing.assert_allclose(peers.ring_weights(N), ring().weights(N), rtol=0, atol=1e-15)


@pytest.mark.parametrize("N", [7, 40])
def test_brian2_weight_expression_is_the_same_ring(peers, N):
    """Brian2's string, evaluated with numpy for the synapse source i -> target j, is ``W[j, i]``."""
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    w = eval(peers.BRIAN2_WEIGHT, {"cos": np.cos, "pi": np.pi},  # noqa: S307 - the script's own constant
             {"i": i, "j": j, "NN": N, "J0": peers.J0, "J1": peers.J1})
    W = ring().weights(N)
    off = ~np.eye(N, dtype=bool)
    np.testing.assert_allclose(w[off], W.T[off], rtol=0, atol=1e-15)


def test_float32_row_changes_the_weights_by_at_most_2_to_the_minus_24(peers):
    W = peers.ring_weights(300)
    W32 = W.astype(np.float32).astype(np.float64)
    assert np.max(np.abs(W32 - W) / np.maximum(np.abs(W), 1e-300)) <= 2.0 ** -24


def test_extrapolation_and_its_standard_error(peers):
    """``2 r(dt/2) - r(dt)``, s.e. ``sqrt(4 s2^2 + s1^2)``, by hand on two samples."""
    m, se = peers.extrapolated([1.0, 2.0], [3.0, 5.0])  # means 1.5, 4; s.e. 0.5, 1
    assert m == pytest.approx(6.5, abs=1e-15)
    assert se == pytest.approx(math.sqrt(4.25), abs=1e-15)
    mean, s = peers.stats([2.0])
    assert mean == 2.0 and math.isnan(s)


def test_dt_pair_must_halve(peers, capsys):
    with pytest.raises(SystemExit):
        peers.main(["--N", "50", "--dt", "0.001", "0.0004", "--peers"])
    assert "dt/2" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--N", "1"], ["--seeds", "0"], ["--t-end", "0"]])
def test_bad_sizes_are_refused_before_any_run(peers, capsys, args):
    with pytest.raises(SystemExit):
        peers.main(args + ["--peers"])
    assert "need N >= 2, seeds >= 1 and T > 0" in capsys.readouterr().err


def test_ifmf_rows_run_without_peers(peers, capsys, tmp_path):
    """No peer asked for: no virtual environment is made, the ifmf rows are printed and written."""
    out_json = tmp_path / "peers.json"
    assert peers.main(["--N", "200", "--t-end", "1", "--seeds", "2", "--peers", "--venv", str(tmp_path / "venv"),
                       "--json", str(out_json)]) == 0
    assert not (tmp_path / "venv").exists()
    out = capsys.readouterr().out
    for name in ("ifmf exact dense", "ifmf exact dense float32", "ifmf exact low-rank (global)",
                 "ifmf exact low-rank (per-neuron)"):
        assert name in out
    import json

    rows = json.loads(out_json.read_text())["rows"]
    assert len(rows) == 6 and all(len(r["rates"]) == 2 and min(r["spikes"]) > 0 for r in rows)
    by = {(r["name"], r["model"]): r for r in rows}
    for model in ("standard", "exponential"):  # float32 weights: the same seeds give (nearly) the same runs
        a, b = by[("ifmf exact dense", model)], by[("ifmf exact dense float32", model)]
        assert np.allclose(a["spikes"], b["spikes"], rtol=1e-3, atol=2)


def test_read_ceiling_and_the_goal_lines(peers, capsys):
    """The read ceiling is a finite rate over the given columns; the goal lines compare the peers' best
    events/s times the goal factor with it."""
    W = peers.ring_weights(300)
    cols = np.random.default_rng(0).integers(0, 300, 500)
    c64 = peers.read_ceiling(W, cols, repeat=1)
    assert 0 < c64 < np.inf
    ceilings = [{"name": "weight-read ceiling float64", "events_s": 1e9, "columns": 500},
                {"name": "weight-read ceiling float32", "events_s": 2e9, "columns": 500}]
    rows = [{"name": "NEST 3.10.0", "model": "exponential", "dt": 1e-3, "rates": [1.0], "loop_s": [2.0],
             "spikes": [1000]}]
    peers.print_ceilings(301, rows, ceilings)
    out = capsys.readouterr().out
    # NEST's events/s: 1000 * 300 / 2 = 1.5e5; 50 x = 7.5e6 = 0.0075 x the float64 ceiling
    assert "50 x NEST's best events/s = 7.50e+06: 0.01 x the float64 read ceiling, 0.00 x the float32" in out
    assert "Brian2" not in out.split("read ceiling (any")[1].split("\n", 3)[-1]
