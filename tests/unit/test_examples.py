"""The files of ``examples/`` run as a user would run them: copied to a fresh folder (no conftest, no
ini file of ours: only the installed ifmf and its pytest plugin), ``pytest --strict-markers`` in a
subprocess.  The convergence example passes; the hub example fails, and its output says why in the
words its docstring promises (slow: each runs small studies)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    shutil.copy(EXAMPLES / name, tmp_path / name)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("IFMF_BUDGET", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--strict-markers", *args, name],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def test_the_examples_folder_holds_the_two_files():
    assert sorted(p.name for p in EXAMPLES.glob("test_*.py")) == ["test_hub_counterexample.py",
                                                                  "test_mean_field_convergence.py"]


def test_the_convergence_example_passes(tmp_path):
    r = _run("test_mean_field_convergence.py", tmp_path)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "ifmf: budget 1 (replicates x B, sizes x sqrt(B)); hypothesis profile 'ifmf' registered" in r.stdout
    assert "1 passed" in r.stdout


def test_the_hub_example_fails_and_says_why(tmp_path):
    r = _run("test_hub_counterexample.py", tmp_path, "--tb=short")
    out = r.stdout
    assert r.returncode == 1, out[-4000:] + r.stderr[-2000:]
    assert "Failing test case" in out or "Falsifying example" in out
    # the shrunk counterexample (the docstring's): constant kernel 0.25, Poisson neurons at rate 1, start at 0
    for part in ("intensity=Constant(lam0=1.0)", "drift=Leaky(I0=1.0)", "'hub'", "coefficients=array([[0.25]])",
                 "InitialData(kind='constant', params=(0.0,))"):
        assert part in out, part
    # the message: claim, fit, criteria, the table and the note on kappa_N
    for part in ("AssertionError: ifmf mean-field convergence: FAIL",
                 "claim: d_w (upper side of the certified bracket)", "fitted exponent:", "criterion (FAIL):",
                 "interval (Student-t)",
                 "note: kappa_N = N max|W_ij| grows from 50 to 400: the weights are not O(1/N)"):
        assert part in out, part
    # rows N, kappa_N = N / 2, 12 replicates
    assert re.search(r"\s100\s+50\s+12\s", out) and re.search(r"\s800\s+400\s+12\s", out)
