"""Issue 11 through the installed ``ifmf`` command (``subprocess``), as a new user meets it.

All invocations are started at once by one module fixture (the machine's cores run them in
parallel; each costs about half a second of imports) and the tests read their results.  Every
invocation must end without a traceback.  Read-only and full file systems are real ones when the
tests may mount a ``tmpfs`` (root in a container that allows it); otherwise a folder without write
permission stands for the read-only case (non-root), and the full-disk case is skipped here (it is
covered in process by ``test_cli_output.py``).
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from solvers.graphons import build_weights, ring
from verification.commands._common import available_memory


def _installed_ifmf() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "ifmf")
    exe = here if os.access(here, os.X_OK) else shutil.which("ifmf")
    assert exe, "the ifmf command is not installed: pip install -e '.[test]'"
    return exe


def _mount_tmpfs(path, options: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    os.makedirs(path, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return proc.returncode == 0


def _readonly_folder(path):
    """A folder in which no file can be created, or None."""
    if _mount_tmpfs(path, "ro,size=64k"):
        return "mount"
    if os.geteuid() != 0:
        os.makedirs(path)
        os.chmod(path, 0o555)
        return "chmod"
    return None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    exe = _installed_ifmf()
    d = tmp_path_factory.mktemp("installed")
    np.save(d / "r.npy", ring().weights(20))
    np.save(d / "big.npy", build_weights("constant", 30) * 1e8)  # kappa_N = 1e8, one size
    (d / "text.npy").write_text("0,1\n1,0\n")
    (d / "folder").mkdir()
    np.save(d / "folder" / "W_10.npy", ring().weights(10))
    (d / "existing.npz").write_bytes(b"keep me")
    ro = _readonly_folder(d / "ro")
    full = _mount_tmpfs(d / "full", "size=8k")
    (d / "fallback").mkdir()
    mem, _ = available_memory()
    big_n = ["simulate", "--seed", "1", "--kernel", "ring", "--N", "100000"]
    if mem is None or mem > 70 * 2**30:  # never let this machine really try 74.5 GiB
        big_n += ["--max-memory", "8G"]
    sim = ["simulate", "--kernel", "ring", "--N", "60", "--t-end", "1", "--seed", "1"]
    jobs = {
        "help": (["--help"], {}),
        "big_n": (big_n, {}),
        "out_empty": (sim + ["--out", ""], {}),
        "out_exists": (sim + ["--out", "existing.npz"], {}),
        "out_ok": (sim + ["--out", "ok.npz", "--json", "-v"], {"umask": 0o027}),
        "flags": (["solve", "--t-end", "2", "--dt", "3"], {}),
        "cw_big": (["check-weights", "big.npy"], {}),
        "cw_csv_missing": (["check-weights", "r.npy", "--csv", "nofolder/t.csv"], {}),
        "cw_text_npy": (["check-weights", "text.npy"], {}),
        "cw_folder": (["check-weights", "folder"], {}),
    }
    if ro:
        jobs["out_ro"] = (sim + ["--out", "ro/run.npz"], {})
        jobs["cw_csv_ro"] = (["check-weights", "r.npy", "--csv", "ro/t.csv"], {})
    if full:  # the probe (an empty file) fits, the results do not: the write fails at the end
        jobs["out_full"] = (sim + ["--N", "300", "--record-every", "0.05", "--out", "full/run.npz"],
                            {"env": {**os.environ, "TMPDIR": str(d / "fallback")}})

    def launch(item):
        name, (argv, kw) = item
        return name, subprocess.run([exe, *argv], capture_output=True, text=True, timeout=300, cwd=d, **kw)

    try:
        with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
            results = dict(pool.map(launch, jobs.items()))
        results["_dir"] = d
        results["_ro"], results["_full"] = ro, full
        yield results
    finally:
        for name, kind in (("ro", ro), ("full", "mount" if full else None)):
            if kind == "mount":
                subprocess.run(["umount", str(d / name)], capture_output=True)
            elif kind == "chmod":
                os.chmod(d / name, 0o755)


def _ok(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _error_line(proc, command: str, flag: str):
    _ok(proc)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"ifmf {command}: error: argument '{flag}'") and "Fix:" in line, line
    return line


# ------------------------------------------------------------------------------- the command line
def test_help_is_plain_text(runs):
    p = _ok(runs["help"])
    assert p.returncode == 0 and "``" not in p.stdout and ":func:" not in p.stdout
    for cmd in ("simulate", "solve", "stationary", "weights", "check-weights", "cut-norm", "report", "exit codes"):
        assert cmd in p.stdout
    # (the sub-commands' help texts are checked in process: test_cli_commands.py)


def test_error_messages_name_the_flags(runs):
    line = _error_line(runs["flags"], "solve", "--dt")
    assert "--t-end = 2" in line and "t_end" not in line


# ---------------------------------------------------------------------------------- lost work
def test_empty_out_is_an_error(runs):
    _error_line(runs["out_empty"], "simulate", "--out")
    assert "empty path" in runs["out_empty"].stderr


def test_existing_out_is_not_overwritten(runs):
    line = _error_line(runs["out_exists"], "simulate", "--out")
    assert "exists already" in line and "--force" in line
    assert (runs["_dir"] / "existing.npz").read_bytes() == b"keep me"


def test_out_permissions_follow_the_umask_and_verbose_after_the_command(runs):
    p = _ok(runs["out_ok"])
    assert p.returncode == 0, p.stderr
    out = runs["_dir"] / "ok.npz"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640  # umask 027, as open() would give (not 0600)
    d = json.loads(p.stdout)
    assert d["N"] == 60 and d["out"] == str(out)
    assert "INFO solvers.particles.api: simulate exact" in p.stderr  # -v after the command works
    z = np.load(out, allow_pickle=False)
    assert int(z["spike_times"].size) == d["n_spikes"]


def test_read_only_folder_is_refused_before_any_work(runs):
    if not runs["_ro"]:
        pytest.skip("no read-only folder available (root without mount permission)")
    line = _error_line(runs["out_ro"], "simulate", "--out")
    assert "cannot be written" in line
    line = _error_line(runs["cw_csv_ro"], "check-weights", "--csv")
    assert "cannot be written" in line and runs["cw_csv_ro"].stdout == ""  # nothing computed


def test_a_failed_final_write_goes_to_a_fallback_file(runs):
    if not runs["_full"]:
        pytest.skip("cannot mount a small tmpfs here (covered in process by test_cli_output.py)")
    p = _ok(runs["out_full"])
    assert p.returncode == 1, (p.stdout, p.stderr)
    (fb,) = list((runs["_dir"] / "fallback").iterdir())
    assert f"the results were written to {fb} instead" in p.stderr and "No space left" in p.stderr
    assert json.loads(str(np.load(fb, allow_pickle=False)["meta_json"]))["N"] == 300
    assert list((runs["_dir"] / "full").iterdir()) == []


# -------------------------------------------------------------------------------- raw tracebacks
def test_huge_network_is_refused_with_the_memory_and_the_alternatives(runs):
    line = _error_line(runs["big_n"], "simulate", "--N")
    assert "74.5 GiB" in line and "--dtype float32" in line and "sparse" in line and "low-rank" in line


def test_check_weights_csv_into_a_missing_folder(runs):
    line = _error_line(runs["cw_csv_missing"], "check-weights", "--csv")
    assert "does not exist" in line and runs["cw_csv_missing"].stdout == ""


def test_check_weights_text_file_named_npy_and_folder(runs):
    line = _error_line(runs["cw_text_npy"], "check-weights", "FILE")
    assert "not a NumPy .npy file" in line and "pickle" not in line
    line = _error_line(runs["cw_folder"], "check-weights", "FILE")
    assert "is a folder" in line and "W_10.npy" in line


def test_check_weights_large_kappa_warns_and_exits_1(runs):
    p = _ok(runs["cw_big"])
    last = p.stdout.strip().splitlines()[-1]
    assert p.returncode == 1 and last.startswith("result: warning: O(1/N) weights: kappa_N = 1e+08")
    assert "no hypothesis violated" not in p.stdout


@pytest.mark.slow
def test_first_run_says_it_compiles_once(tmp_path):
    """A cold numba cache (an empty IFMF_CACHE_DIR): the first run says once that it compiles, the
    second loads the cache and says nothing (measured about 7 s, then 1 s, on the loaded machine)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "IFMF_"))}
    env["IFMF_CACHE_DIR"] = str(tmp_path / "cache")
    argv = [_installed_ifmf(), "simulate", "--seed", "1", "--kernel", "ring", "--N", "50", "--t-end", "1", "--json"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    second = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert first.stderr.count("compiling numba code for this command") == 1, first.stderr
    assert str(tmp_path / "cache") in first.stderr and "once per install" in first.stderr
    assert "compiling" not in second.stderr, second.stderr
    assert json.loads(first.stdout)["n_spikes"] == json.loads(second.stdout)["n_spikes"]
