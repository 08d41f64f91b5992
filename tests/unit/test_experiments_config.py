"""Run configurations of ``ifmf verify``: the embedded configs validate, every bad input is a clear
error before any work, and nothing is written when the input is bad.

Bad inputs covered: unknown section, unknown key, wrong type, out-of-range value, a study rule
(checkerboard parity, alternating sizes, V3 times), ``--only`` naming an unknown or absent study,
``--quick`` with ``--config``, an output folder that cannot be written, weight files that are not
square, not finite, pickled object arrays, of an unsupported extension, or that break the size
sequence, and a missing kernel file.  Each error names the field (``study.field``), shows the value
and states the rule; the CLI exits with code 2 and leaves the output folder absent.
"""
from __future__ import annotations

import os
import stat
import sys
import textwrap

import numpy as np
import pytest

from verification.cli import main
from verification.config import ConfigError
from verification.experiments import STUDIES, load_run_config, resolve_studies, study_module


def write(tmp_path, text: str, name: str = "run.toml") -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


@pytest.mark.parametrize("kind", ["quick", "full"])
def test_embedded_configs_validate_and_state_every_criterion(kind):
    rc = load_run_config(quick=(kind == "quick"))
    assert rc.names() == ["scaling", "subsequence", "initial_data", "solvers"]
    for name, cfg in rc.studies.items():
        schema_criteria = set(study_module(name).SCHEMA.fields["criteria"].fields)
        assert set(cfg.data["criteria"]) == schema_criteria
        assert len(cfg.hash) == 16
    # the same text gives the same hashes (the store key of a resumed run)
    again = load_run_config(quick=(kind == "quick"))
    assert {k: v.full_hash for k, v in rc.studies.items()} == {k: v.full_hash for k, v in again.studies.items()}


def test_quick_and_full_differ_only_in_sizes_and_budgets():
    q, f = load_run_config(quick=True), load_run_config()
    assert q.studies["scaling"].data["kernel"] == f.studies["scaling"].data["kernel"] == "skew"
    assert max(q.studies["scaling"].data["main"]["sizes"]) < max(f.studies["scaling"].data["main"]["sizes"])


def test_resolve_studies_by_label_and_name():
    assert resolve_studies("V3,v1") == ["scaling", "initial_data"]
    assert resolve_studies("solvers, subsequence") == ["subsequence", "solvers"]
    with pytest.raises(ConfigError, match=r"--only: unknown study 'V7'"):
        resolve_studies("V1,V7")
    assert set(STUDIES) == {"scaling", "subsequence", "initial_data", "solvers", "user"}


@pytest.mark.parametrize("text, match", [
    ("[scaling]\nseed = 1\n[nonsense]\nx = 1\n", r"field 'nonsense' is not a known study section"),
    ("[scaling]\nsead = 1\n", r"field 'scaling.sead' .* is not a known key"),
    ("[scaling]\nt_end = \"2\"\n", r"field 'scaling.t_end' = '2' \(type str\): must be a finite real number"),
    ("[scaling.main]\nreps = 1\n", r"field 'scaling.main.reps' = 1 .*must be an integer in \[2, 100000\]"),
    ("[scaling.main]\nsizes = [100, 50, 200]\n", r"field 'scaling.main.sizes' .*must be sorted"),
    ("[scaling]\nrate_window = [1.0, 5.0]\n", r"field 'scaling.rate_window' .*inside \[0, t_end = 2.0\]"),
    ("[scaling.criteria]\nd_w_exponent = { kind = \"within\", low = 1.0 }\n",
     r"field 'scaling.criteria.d_w_exponent.high' is missing"),
    ("[scaling.model]\nintensity = \"sigmoid\"\nslope = 2.0\n", r"field 'scaling.model': not a valid neuron model"),
    ("[subsequence.checkerboard]\nsizes = [400, 801, 1600]\n", r"field 'subsequence.checkerboard.sizes'.*must be even"),
    ("[subsequence.alternating]\nsizes = [100, 200, 300, 400, 501, 601]\n",
     r"'subsequence.alternating.sizes'.*at least 3 even and 3 odd"),
    ("[initial_data]\ntimes = [0.5, 3.0]\n", r"field 'initial_data.times'.*must lie in \(0, t_end = 2.0\]"),
    ("[solvers.clock]\ndts = [0.9, 0.5, 0.25]\n", r"field 'solvers.clock.dts'.*dt \* lam0 <= 1"),
    ("[scaling\n", r"not valid TOML"),
])
def test_bad_configs_name_the_field(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_run_config(write(tmp_path, text))


def test_only_must_name_a_study_of_the_config(tmp_path):
    p = write(tmp_path, "[scaling]\nseed = 3\n")
    assert load_run_config(p, only=["scaling"]).names() == ["scaling"]
    with pytest.raises(ConfigError, match=r"--only asks for \['solvers'\], which the config does not hold"):
        load_run_config(p, only=["solvers"])


# ------------------------------------------------------------------------------------------ user files
def _user_config(tmp_path, files, extra: str = "") -> str:
    lst = ", ".join(f'"{f}"' for f in files)
    return write(tmp_path, f"[user]\nweights = [{lst}]\n{extra}")


def _save(tmp_path, name, arr):
    p = tmp_path / name
    if name.endswith(".npz"):
        np.savez(p, W=arr)
    else:
        np.save(p, arr, allow_pickle=True)
    return name


def test_user_files_resolved_relative_to_the_config_with_hashes(tmp_path):
    names = [_save(tmp_path, f"W{n}.npy", np.full((n, n), 1.0 / n)) for n in (10, 20, 40)]
    rc = load_run_config(_user_config(tmp_path, names))
    files = rc.studies["user"].data["resolved_weights"]
    assert [f["N"] for f in files] == [10, 20, 40]
    assert all(os.path.isabs(f["path"]) and len(f["sha256"]) == 64 for f in files)
    # changing a file's content changes the config hash (the store never reuses stale tasks)
    h = rc.studies["user"].full_hash
    np.save(tmp_path / names[0], np.full((10, 10), 2.0 / 10))
    assert load_run_config(_user_config(tmp_path, names)).studies["user"].full_hash != h


@pytest.mark.parametrize("case, match", [
    ("not-square", r"user.weights\[1\].*not a usable weight matrix.*square"),
    ("nan", r"user.weights\[1\].*not a usable weight matrix.*finite"),
    ("pickled", r"user.weights\[1\].*not a usable weight matrix"),
    ("csv", r"user.weights\[1\].*must be a .npy or .npz file \(never unpickled\)"),
    ("decreasing", r"user.weights\[1\].*has N = 5, not larger than the previous file's N = 10"),
    ("missing", r"user.weights\[1\].*file does not exist"),
])
def test_bad_weight_files(tmp_path, case, match):
    a = _save(tmp_path, "a.npy", np.full((10, 10), 0.1))
    c = _save(tmp_path, "c.npy", np.full((40, 40), 1 / 40))
    if case == "not-square":
        b = _save(tmp_path, "b.npy", np.zeros((20, 21)))
    elif case == "nan":
        m = np.full((20, 20), 0.05)
        m[3, 4] = np.nan
        b = _save(tmp_path, "b.npz", m)
    elif case == "pickled":
        b = _save(tmp_path, "b.npy", np.array([{"W": 1}, None], dtype=object))
    elif case == "csv":
        b = "b.csv"
        np.savetxt(tmp_path / b, np.full((20, 20), 0.05), delimiter=",")
    elif case == "decreasing":
        b = _save(tmp_path, "b.npy", np.full((5, 5), 0.2))
    else:
        b = "absent.npy"
    with pytest.raises(ConfigError, match=match):
        load_run_config(_user_config(tmp_path, [a, b, c]))


def test_kernel_file_rules(tmp_path):
    names = [_save(tmp_path, f"W{n}.npy", np.full((n, n), 1.0 / n)) for n in (10, 20, 40)]
    with pytest.raises(ConfigError, match=r"user.kernel_file.*is required with limit = 'file'"):
        load_run_config(_user_config(tmp_path, names, 'limit = "file"\n'))
    with pytest.raises(ConfigError, match=r"user.kernel_file.*only used with limit = 'file'"):
        load_run_config(_user_config(tmp_path, names, 'kernel_file = "k.npy"\n'))
    _save(tmp_path, "k.npy", np.eye(4))
    rc = load_run_config(_user_config(tmp_path, names, 'limit = "file"\nkernel_file = "k.npy"\n'))
    assert rc.studies["user"].data["resolved_kernel_file"]["m"] == 4


# ------------------------------------------------------------------------------------------ the CLI
def test_cli_bad_config_writes_nothing(tmp_path, capsys):
    out = tmp_path / "reports"
    code = main(["verify", "--config", write(tmp_path, "[scaling]\nsead = 1\n"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "ifmf verify: error:" in err and "scaling.sead" in err
    assert not out.exists()


def test_cli_quick_with_config_is_refused(tmp_path, capsys):
    code = main(["verify", "--quick", "--config", write(tmp_path, "[scaling]\n"), "--out", str(tmp_path / "o")])
    assert code == 2 and "cannot be combined with --config" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs POSIX permissions and a non-root user")
def test_cli_unwritable_output_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code = main(["verify", "--only", "V4", "--quick", "--out", str(locked / "reports")])
        err = capsys.readouterr().err
        assert code == 2 and "--out" in err and "cannot be written" in err
        assert os.listdir(locked) == []
    finally:
        locked.chmod(stat.S_IRWXU)


def test_cli_output_under_a_file(tmp_path, capsys):
    """Also as root: a folder cannot be created under a regular file."""
    f = tmp_path / "plain.txt"
    f.write_text("x")
    code = main(["verify", "--only", "V4", "--quick", "--out", str(f / "reports")])
    assert code == 2 and "cannot be written" in capsys.readouterr().err
    code = main(["verify", "--only", "V4", "--quick", "--out", str(f)])
    assert code == 2 and "exists and is not a folder" in capsys.readouterr().err
    assert f.read_text() == "x"


def test_cli_bad_workers_and_scheduler(tmp_path, capsys):
    assert main(["verify", "--quick", "--workers", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["verify", "--quick", "--scheduler", "not an address", "--out", str(tmp_path / "o")]) == 2
    assert "is not a scheduler address" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_unreachable_scheduler_writes_nothing(tmp_path, capsys, monkeypatch):
    """Exit 2 and nothing written (verify --help promises it): the scheduler is asked before the
    output folder and the task store exist; a folder that existed before keeps exactly its files."""
    import verification.sweep as sweep

    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT_S", 0.5)
    out = tmp_path / "o"
    code = main(["verify", "--quick", "--only", "V1", "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "argument '--scheduler' = 'tcp://127.0.0.1:1'" in err and "no Dask scheduler answered" in err
    assert not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("x")
    assert main(["verify", "--quick", "--only", "V1", "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)]) == 2
    assert sorted(os.listdir(out)) == ["mine.txt"]


def test_cli_workers_with_scheduler_is_refused(tmp_path, capsys):
    code = main(["verify", "--quick", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "argument '--workers' = 2" in err and "cannot be combined with --scheduler" in err
    assert "Fix: drop --workers" in err
    assert not (tmp_path / "o").exists()


def test_cli_says_on_stderr_when_a_study_starts(tmp_path, capsys, monkeypatch):
    """Without a terminal there is no progress bar: one line per study on stderr when it starts (its
    task count), and with --json stdout stays for the JSON alone (the sweep is stopped at its start)."""
    import verification.sweep as sweep

    seen = {}

    class Stop(Exception):
        pass

    def stop(fn, tasks, **kwargs):
        seen["n"] = len(tasks)
        raise Stop

    monkeypatch.setattr(sweep, "run_sweep", stop)
    with pytest.raises(Stop):
        main(["verify", "--quick", "--only", "V1", "--json", "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert out == "" and seen["n"] > 0
    assert f"V1 scaling: {seen['n']} tasks" in err and "stderr is not a terminal" in err


def test_cli_help_and_print_config(capsys):
    with pytest.raises(SystemExit) as info:
        main(["verify", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--quick", "--only", "--config", "--workers", "--scheduler", "--out", "--resume", "--fresh"):
        assert flag in out
    assert main(["verify", "--print-config", "quick"]) == 0
    assert "[scaling.criteria]" in capsys.readouterr().out
