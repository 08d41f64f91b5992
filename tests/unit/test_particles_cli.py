"""``ifmf simulate``: summary table, the .npz file (atomic write) and error handling."""
from __future__ import annotations

import json

import numpy as np

from solvers.graphons import build_weights
from solvers.model import NeuronModel
from solvers.particles import simulate
from verification.cli import main


def test_simulate_named_kernel_writes_npz_matching_api(tmp_path, capsys):
    out = tmp_path / "run.npz"
    code = main(["simulate", "--kernel", "ring", "--N", "200", "--t-end", "2", "--seed", "3",
                 "--record-every", "0.5", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for key in ("spikes", "mean rate", "candidates", "acceptance ratio", "wall time", "synaptic events"):
        assert key in text
    z = np.load(out, allow_pickle=False)
    ref = simulate(NeuronModel.standard(), build_weights("ring", 200), 2.0, 0.0, 3,
                   save_times=np.arange(5) * 0.5)
    np.testing.assert_array_equal(z["spike_times"], ref.spike_times)
    np.testing.assert_array_equal(z["spike_neurons"], ref.spike_neurons)
    np.testing.assert_array_equal(z["save_times"], [0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(z["states"], ref.states)
    meta = json.loads(str(z["meta_json"]))
    assert meta["n_spikes"] == ref.n_spikes and meta["N"] == 200 and meta["method"] == "exact"
    assert f"{ref.n_spikes}" in text
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary file left


def test_simulate_weights_file_clock_and_model_options(tmp_path, capsys):
    W = build_weights("skew", 50)
    path = tmp_path / "W.npy"
    np.save(path, W)
    code = main(["simulate", "--seed", "1", "--weights", str(path), "--method", "clock", "--dt", "0.02", "--t-end", "1",
                 "--intensity", "sigmoid", "--param", "lam=5", "--param", "beta=2", "--param", "theta=1",
                 "--I0", "2.0", "--x0", "0.5"])
    assert code == 0
    assert "clock (dt = 0.02)" in capsys.readouterr().out


def test_simulate_errors_exit_2(tmp_path, capsys):
    assert main(["simulate", "--seed", "1", "--kernel", "ring"]) == 2
    assert "--N" in capsys.readouterr().err
    assert main(["simulate", "--seed", "1", "--kernel", "ring", "--N", "10", "--method", "clock"]) == 2
    assert "dt" in capsys.readouterr().err
    assert main(["simulate", "--seed", "1", "--kernel", "nope", "--N", "10"]) == 2
    assert main(["simulate", "--seed", "1", "--kernel", "ring", "--N", "10",
                 "--out", str(tmp_path / "x" / "r.npz")]) == 2
    assert "folder" in capsys.readouterr().err


def test_benchmark_script_runs(capsys):
    """benchmarks/particles.py runs end to end on a tiny case (guards the script against bit-rot)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "particles.py"
    spec = importlib.util.spec_from_file_location("bench_particles", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--N", "300", "--t-end", "1", "--lowrank-N", "2000", "--onthefly-N", "500",
                     "--onthefly-t-end", "0.1"]) == 0  # tiny rows of each block (the defaults are 10^6, 10^5)
    out = capsys.readouterr().out
    assert "events/s" in out and "ratio" in out and "exponential" in out and "vs sig" in out
    assert "fl/wall" in out and "col/wall" in out  # the low-rank and on-the-fly rows with their baselines
    assert mod.main(["--N", "200", "--t-end", "1", "--chunks"]) == 0
    out = capsys.readouterr().out
    assert "us/chunk" in out and "implied" in out and "exponential" in out
    W = mod.ring_weights(40)
    from solvers.graphons import ring

    np.testing.assert_allclose(W, ring().weights(40), rtol=0, atol=1e-15)


def _installed_ifmf() -> str:
    """The ``ifmf`` console script of the environment running the tests (installed by pip)."""
    import os
    import shutil
    import sys

    here = os.path.join(os.path.dirname(sys.executable), "ifmf")
    exe = here if os.access(here, os.X_OK) else shutil.which("ifmf")
    assert exe, "the ifmf command is not installed: pip install -e '.[test]'"
    return exe


def test_installed_cli_checks_the_seed_before_using_it(tmp_path):
    """Issue 11: ``--seed -3`` reached SeedSequence (for the kernel's seed) before any check: raw traceback."""
    import subprocess

    exe = _installed_ifmf()
    # the command, and a negative horizon that reached np.arange through --record-every (IndexError)
    for argv, flag in ([["--kernel", "ring", "--N", "100", "--seed", "-3"], "--seed"],
                       [["--kernel", "ring", "--N", "50", "--seed", "1", "--t-end", "-1",
                         "--record-every", "0.5"], "--t-end"]):
        proc = subprocess.run([exe, "simulate", *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert f"argument '{flag}'" in proc.stderr and "Fix:" in proc.stderr, proc.stderr
        assert list(tmp_path.iterdir()) == []  # nothing written
