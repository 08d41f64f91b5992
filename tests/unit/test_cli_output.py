"""Output files of the ``ifmf`` commands (issue 11: no lost run, no silent overwrite, umask permissions).

In-process tests of :mod:`verification.commands._output` and of ``ifmf simulate --out`` /
``check-weights --csv`` through :func:`verification.cli.main`; the same behaviours are checked
through the installed command in ``test_cli_installed.py``.
"""
from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np
import pytest

from solvers.errors import InvalidArgumentError
from solvers.graphons import ring
from verification.cli import main
from verification.commands import _output


@pytest.fixture
def umask():
    """Set a umask for the test and restore the previous one."""
    old = os.umask(0o022)
    os.umask(old)

    def _set(mask):
        os.umask(mask)

    yield _set
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------------- check_output
@pytest.mark.parametrize("path,match", [("", "empty path"), ("   ", "empty path"), (None, "empty path"),
                                        ("run.txt", "must end with .npz"), ("sub", "is a folder"),
                                        ("missing/run.npz", "does not exist"), ("old.npz", "exists already")])
def test_check_output_refuses(tmp_path, monkeypatch, path, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub.npz").mkdir()
    (tmp_path / "old.npz").write_bytes(b"old")
    if path == "sub":
        path = "sub.npz"
    with pytest.raises(InvalidArgumentError, match=match) as exc:
        _output.check_output("--out", path, force=False, suffixes=(".npz",))
    assert "argument '--out'" in str(exc.value) and "Fix:" in str(exc.value)
    assert (tmp_path / "old.npz").read_bytes() == b"old"


def test_check_output_force_and_ok(tmp_path):
    (tmp_path / "old.npz").write_bytes(b"old")
    assert _output.check_output("--out", str(tmp_path / "old.npz"), force=True) == str(tmp_path / "old.npz")
    assert _output.check_output("--out", str(tmp_path / "new.npz"), force=False) == str(tmp_path / "new.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.npz"]  # the probe file is gone


def test_check_output_unwritable_folder(tmp_path, monkeypatch):
    """A folder where no file can be created (read-only file system, permissions): refused before any
    work.  The probe is what decides (permission bits do not, e.g. for root or a read-only mount)."""
    def refuse(folder):
        return OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_output, "_probe", refuse)
    with pytest.raises(InvalidArgumentError, match="cannot be written.*Read-only file system"):
        _output.check_output("--csv", str(tmp_path / "t.csv"), force=False)


# ---------------------------------------------------------------------------------- write_atomic
@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)])
def test_write_atomic_gives_the_umask_permissions(tmp_path, umask, mask, expected):
    umask(mask)
    p = tmp_path / "f.bin"
    _output.write_atomic(str(p), lambda fh: fh.write(b"abc"))
    with open(tmp_path / "ref.bin", "wb") as fh:  # what open() gives under the same umask
        fh.write(b"x")
    assert p.read_bytes() == b"abc"
    assert _mode(p) == expected == _mode(tmp_path / "ref.bin")
    assert sorted(q.name for q in tmp_path.iterdir()) == ["f.bin", "ref.bin"]  # no temporary left


def test_write_atomic_keeps_the_mode_of_a_replaced_file_and_cleans_up_on_error(tmp_path, umask):
    umask(0o022)
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    os.chmod(p, 0o600)
    _output.write_atomic(str(p), lambda fh: fh.write(b"new"))
    assert p.read_bytes() == b"new" and _mode(p) == 0o600

    def broken(fh):
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        _output.write_atomic(str(p), broken)
    assert p.read_bytes() == b"new"  # old contents intact, never a part
    assert [q.name for q in tmp_path.iterdir()] == ["f.bin"]


# ------------------------------------------------------------------------------ fallback on failure
def _failing_for(monkeypatch, *targets):
    real = _output.write_atomic

    def fake(path, write):
        if os.path.abspath(path) in {os.path.abspath(t) for t in targets} or "*" in targets:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(_output, "write_atomic", fake)


def test_save_with_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(_output, "fallback_folders", lambda: [str(tmp_path / "fb")])
    (tmp_path / "fb").mkdir()
    target = str(tmp_path / "out" / "r.npz")
    os.mkdir(tmp_path / "out")
    _failing_for(monkeypatch, target)
    where, reason = _output.save_with_fallback(target, lambda fh: fh.write(b"data"))
    assert reason == "No space left on device" and os.path.dirname(where) == str(tmp_path / "fb")
    assert os.path.basename(where).startswith("ifmf-r-") and where.endswith(".npz")
    assert open(where, "rb").read() == b"data"
    _failing_for(monkeypatch, "*")
    assert _output.save_with_fallback(target, lambda fh: fh.write(b"data")) == (None, "No space left on device")


def test_simulate_out_fallback_when_the_final_write_fails(tmp_path, monkeypatch, capsys):
    """The run is kept: written to a fallback file, the user is told where, exit code 1."""
    monkeypatch.setattr(_output, "fallback_folders", lambda: [str(tmp_path / "fb")])
    (tmp_path / "fb").mkdir()
    out = tmp_path / "run.npz"
    _failing_for(monkeypatch, str(out))
    code = main(["simulate", "--kernel", "ring", "--N", "30", "--t-end", "1", "--seed", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    (fb,) = list((tmp_path / "fb").iterdir())
    assert f"could not write --out {out} (No space left on device); the results were written to {fb}" in err
    z = np.load(fb, allow_pickle=False)
    assert json.loads(str(z["meta_json"]))["N"] == 30 and z["spike_times"].size > 0
    # nowhere to write at all: said so, exit 1
    _failing_for(monkeypatch, "*")
    assert main(["simulate", "--kernel", "ring", "--N", "30", "--t-end", "1", "--seed", "2", "--out", str(out)]) == 1
    assert "the results were NOT saved" in capsys.readouterr().err


def test_simulate_out_rules_in_process(tmp_path, monkeypatch, capsys, umask):
    monkeypatch.chdir(tmp_path)
    umask(0o027)
    base = ["simulate", "--kernel", "ring", "--N", "20", "--t-end", "0.5", "--seed", "1"]
    assert main(base + ["--out", ""]) == 2
    assert "argument '--out' = ''" in capsys.readouterr().err
    assert main(base + ["--out", "r.npz"]) == 0 and _mode("r.npz") == 0o640
    first = open("r.npz", "rb").read()
    assert main(base + ["--seed", "5", "--out", "r.npz"]) == 2  # refused: nothing run, nothing replaced
    assert "exists already" in capsys.readouterr().err and open("r.npz", "rb").read() == first
    assert main(base + ["--seed", "5", "--out", "r.npz", "--force"]) == 0
    assert open("r.npz", "rb").read() != first and _mode("r.npz") == 0o640
    assert sorted(os.listdir()) == ["r.npz"]


def test_check_weights_csv_rules(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save("r.npy", ring().weights(10))
    assert main(["check-weights", "r.npy", "--csv", "missing/t.csv"]) == 2
    assert "argument '--csv'" in capsys.readouterr().err
    assert main(["check-weights", "r.npy", "--csv", "t.csv"]) == 0
    assert main(["check-weights", "r.npy", "--csv", "t.csv"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["check-weights", "r.npy", "--csv", "t.csv", "--force"]) == 0
    monkeypatch.setattr(_output, "fallback_folders", lambda: [str(tmp_path / "fb")])
    os.mkdir("fb")
    _failing_for(monkeypatch, str(tmp_path / "u.csv"))
    assert main(["check-weights", "r.npy", "--csv", "u.csv"]) == 1
    assert "the results were written to" in capsys.readouterr().err and len(os.listdir("fb")) == 1
