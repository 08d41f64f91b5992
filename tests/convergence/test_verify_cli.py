"""``ifmf verify`` end to end on tiny configurations (slow tier: process pools, a Dask cluster, kills).

* Exit codes: a tiny V4 run whose criteria hold exits 0; the same run with one criterion made
  impossible (an order band of [5, 6]) reports FAIL with the number that decided it and exits 1,
  reusing the stored tasks (criteria are not part of the store key).  ``ifmf report`` rebuilds the
  same summary from results.csv and run.json.
* Backends: the same tiny config (every study with random draws: V1, V2, V3, V4 and a user study)
  gives byte-identical results.csv in-process, with 2 loky workers and on a Dask LocalCluster.
* Interruption: a run killed with SIGKILL (its whole process group) at a seeded random moment after
  its first stored task, then re-run, gives the bytes of the uninterrupted run; the killed run had
  stored some but not all tasks.
* The user study with an estimated limit labels everything as an estimate and writes the
  cut-distance Cauchy table.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from solvers.graphons import ring
from verification.cli import main

pytestmark = pytest.mark.slow

TINY = """\
[scaling]
t_end = 0.5
rate_window = [0.25, 0.5]
heatmap_bins = 4
pde = { n_xi = 4, dt = 0.01 }
main = { sizes = [20, 40, 80], reps = 3 }
hub = { sizes = [20, 40, 80], reps = 3 }
variance = { sizes = [40], reps = 4 }

[subsequence]
t_end = 0.5
pde = { n_xi = 4, dt = 0.01 }
w_random = { sizes = [20, 40, 80], reps = 2 }
random_sign = { sizes = [20, 40, 80], reps = 2 }
checkerboard = { sizes = [20, 40], reps = 2, transient = 0.4 }
alternating = { sizes = [20, 21, 40, 41, 80, 81], reps = 2 }

[initial_data]
t_end = 0.5
times = [0.25, 0.5]
pde = { n_xi = 4, dt = 0.01 }
initial = { sizes = [20, 21, 40, 41, 80, 81] }
network = { sizes = [20, 40, 80], reps = 2 }

[solvers]
lagrangian = { dts = [0.04, 0.02, 0.01], t_end = 20.0 }
lagrangian_transient = { dts = [0.1, 0.05, 0.025] }
upwind = { n_x = [300, 600, 1200] }
clock = { dts = [0.2, 0.1, 0.05], N = 20000, reps = 2 }
exact = { N_uncoupled = 20000, N_coupled = 200, reps = 3 }
dual = { enabled = false }
"""

USER = """
[user]
weights = ["W30.npy", "W60.npy", "W120.npy"]
limit = "{limit}"
kernel = "ring"
coarse_cells = 4
t_end = 0.5
rate_window = [0.25, 0.5]
reps = 2
pde = {{ n_xi = 4, dt = 0.01 }}
"""

STUDIES = ("scaling", "subsequence", "initial_data", "solvers", "user")


def _write_user_files(folder) -> None:
    for N in (30, 60, 120):
        np.save(os.path.join(folder, f"W{N}.npy"), ring().weights(N))


def _config(folder, *, extra: str = "", limit: str = "named", with_tiny: bool = True) -> str:
    _write_user_files(folder)
    p = os.path.join(folder, "tiny.toml")
    with open(p, "w") as fh:
        fh.write((TINY if with_tiny else "") + USER.format(limit=limit) + extra)
    return p


def _csv(out, study) -> bytes:
    with open(os.path.join(out, study, "results.csv"), "rb") as fh:
        return fh.read()


V4_ONLY = textwrap.dedent("""\
    [solvers]
    lagrangian = { dts = [0.04, 0.02, 0.01], t_end = 20.0 }
    lagrangian_transient = { dts = [0.1, 0.05, 0.025] }
    upwind = { n_x = [300, 600, 1200] }
    clock = { dts = [0.2, 0.1, 0.05], N = 20000, reps = 2 }
    exact = { N_uncoupled = 20000, N_coupled = 200, reps = 3 }
    dual = { enabled = false }
    """)


def test_exit_codes_and_an_impossible_criterion(tmp_path, capsys):
    cfg = tmp_path / "v4.toml"
    cfg.write_text(V4_ONLY)
    out = tmp_path / "reports"
    assert main(["verify", "--config", str(cfg), "--out", str(out)]) == 0, capsys.readouterr().out
    assert "result: PASS" in capsys.readouterr().out
    cfg.write_text(V4_ONLY + "[solvers.criteria]\nupwind_order = { kind = \"within\", low = 5.0, high = 6.0 }\n")
    assert main(["verify", "--config", str(cfg), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "FAIL upwind_order: upwind_order = " in text and "not in [5, 6]" in text
    assert "0 tasks run" in text  # the stored tasks were reused: criteria are not part of the store key
    summary = (out / "solvers" / "summary.md").read_text()
    assert "**Result: FAIL**" in summary and "not in [5, 6]" in summary
    assert main(["report", str(out / "solvers")]) == 1
    assert (out / "solvers" / "summary.md").read_text() == summary
    assert "[V4 solvers](solvers/summary.md) | FAIL" in (out / "README.md").read_text()


def test_backends_give_the_same_bytes_and_a_killed_run_resumes(tmp_path):
    cfg = _config(str(tmp_path))
    outs = {}
    for name, args in (("serial", ["--workers", "1"]), ("loky", ["--workers", "2"])):
        outs[name] = str(tmp_path / name)
        code = main(["verify", "--config", cfg, "--out", outs[name], *args])
        assert code in (0, 1)  # tiny sizes: some fits are meaningless; the bytes are what is compared
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        outs["dask"] = str(tmp_path / "dask")
        main(["verify", "--config", cfg, "--out", outs["dask"], "--scheduler", cluster.scheduler_address])
    for study in STUDIES:
        ref = _csv(outs["serial"], study)
        assert len(ref) > 1000
        assert _csv(outs["loky"], study) == ref, study
        assert _csv(outs["dask"], study) == ref, study

    # SIGKILL at a seeded random moment after the first stored task, twice, then complete
    killed = str(tmp_path / "killed")
    rng = np.random.default_rng(20240605)
    cmd = [sys.executable, "-c", "import sys; from verification.cli import main; sys.exit(main(sys.argv[1:]))",
           "verify", "--config", cfg, "--out", killed, "--workers", "2"]
    partial = []
    for _ in range(2):
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store = os.path.join(killed, ".store")
        t0 = time.time()
        while time.time() - t0 < 120:
            n = sum(len(os.listdir(os.path.join(store, d, "tasks"))) for d in os.listdir(store)) \
                if os.path.isdir(store) else 0
            if n >= 1:
                break
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 1.5)))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        partial.append(sum(len(os.listdir(os.path.join(store, d, "tasks"))) for d in os.listdir(store)))
    total = sum(len(os.listdir(os.path.join(outs["serial"], ".store", d, "tasks")))
                for d in os.listdir(os.path.join(outs["serial"], ".store")))
    assert 0 < partial[0] and partial[-1] < total, (partial, total)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stderr
    for study in STUDIES:
        assert _csv(killed, study) == _csv(outs["serial"], study), study


def test_user_study_with_an_estimated_limit(tmp_path, capsys):
    cfg = _config(str(tmp_path), limit="estimate", with_tiny=False)
    out = tmp_path / "est"
    main(["verify", "--config", cfg, "--out", str(out)])
    summary = (out / "user" / "summary.md").read_text()
    assert "**ESTIMATE**" in summary and "Cut-distance Cauchy table" in summary
    assert "d_w_exponent (estimated limit)" in summary
    table = (out / "user" / "results.csv").read_text()
    assert "cut_distance_to_N=120" in table and "cut_distance_to_N=60" in table
    shutil.rmtree(out)
