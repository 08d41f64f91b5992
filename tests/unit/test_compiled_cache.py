"""The numba on-disk cache of :mod:`solvers._compiled`, checked in fresh processes.

Each subprocess runs a copy of the ``solvers`` package (so edits and the absence of cache files
beside the sources can be checked without touching the repository) with ``IFMF_CACHE_DIR`` pointing
into ``tmp_path``, and compiles one small loop (:func:`solvers._compiled.drift_values`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from solvers import _compiled as C

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, logging, sys
logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(message)s")
import numpy as np
import solvers
from solvers import _compiled as C
warm_before = C.cache_is_warm()
fired = []
with C.on_first_compile(lambda: fired.append(1)):
    values = C.drift_values(C.LEAKY, 1.5, np.array([0.0, 2.0]))
print(json.dumps({"file": solvers.__file__, "dir": C.cache_directory(), "warm_before": warm_before,
                  "compiled": bool(fired), "values": values.tolist(), "warm_after": C.cache_is_warm(),
                  "warm_fn": C.cache_is_warm(C.drift_values), "key": C.source_key()}))
"""


def _copy_package(dest: Path) -> Path:
    src = dest / "src"
    shutil.copytree(REPO / "solvers", src / "solvers", ignore=shutil.ignore_patterns("__pycache__"))
    return src


def _run(src: Path, cache: Path | str, cwd: Path) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "IFMF_"))}
    env.update(PYTHONPATH=str(src), IFMF_CACHE_DIR=str(cache), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _cache_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")]


def test_cache_lives_in_the_keyed_directory_and_follows_every_compiled_source(tmp_path):
    src = _copy_package(tmp_path)
    cache = tmp_path / "cache"

    first, _ = _run(src, cache, tmp_path)
    assert Path(first["file"]).resolve().is_relative_to(src.resolve())  # the copy ran, not the repository
    key = C.source_key(C.compiled_sources(src), base=src)
    assert first["key"] == key
    assert Path(first["dir"]) == cache / f"numba-{key}"
    assert first["values"] == [1.5, -0.5]
    assert not first["warm_before"] and first["compiled"] and first["warm_after"] and first["warm_fn"]
    assert _cache_files(Path(first["dir"])), "no cache files in the keyed directory"
    assert _cache_files(src) == [], "cache files written beside the sources"

    # a second process loads the cache: nothing is compiled
    second, _ = _run(src, cache, tmp_path)
    assert second["dir"] == first["dir"] and second["warm_before"] and not second["compiled"]

    # editing ANOTHER compiled file (not the one defining drift_values) moves every loop to a new
    # folder: numba alone would have reused the entry, since _compiled.py did not change
    kernels = src / "solvers" / "particles" / "_kernels.py"
    kernels.write_text(kernels.read_text() + "\n# an edit\n")
    third, _ = _run(src, cache, tmp_path)
    assert third["dir"] != first["dir"] and Path(third["dir"]).parent == cache
    assert not third["warm_before"] and third["compiled"]
    assert sorted(p.name for p in cache.iterdir()) == sorted([Path(first["dir"]).name, Path(third["dir"]).name])
    assert _cache_files(src) == []


def test_unwritable_cache_directory_runs_without_cache_and_says_so_once(tmp_path):
    src = _copy_package(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    out, err = _run(src, blocker / "cache", tmp_path)  # cannot be created: its parent is a file
    assert out["dir"] is None and out["values"] == [1.5, -0.5]
    assert out["compiled"] and not out["warm_before"] and not out["warm_after"]
    assert len(re.findall(r"numba on-disk cache disabled", err)) == 1, err
    assert _cache_files(src) == [] and _cache_files(tmp_path) == []


def test_cache_root_environment():
    assert C.cache_root({"IFMF_CACHE_DIR": "/x/y", "XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/x/y")
    assert C.cache_root({"IFMF_CACHE_DIR": "", "XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/ifmf")
    assert C.cache_root({"XDG_CACHE_HOME": "relative", "HOME": "/h"}) == Path("/h/.cache/ifmf")
    assert C.cache_root({"HOME": "/h"}) == Path("/h/.cache/ifmf")
    assert C.cache_root({"IFMF_CACHE_DIR": "rel"}) == Path(os.path.abspath("rel"))


def test_source_key_changes_with_any_compiled_source_and_not_with_others(tmp_path):
    src = _copy_package(tmp_path)
    names = {p.relative_to(src).as_posix() for p in C.compiled_sources(src)}
    assert {"solvers/_compiled.py", "solvers/particles/_kernels.py", "solvers/meanfield/lagrangian.py"} <= names
    key = C.source_key(C.compiled_sources(src), base=src)
    model = src / "solvers" / "model.py"  # no compiled code: not part of the key
    model.write_text(model.read_text() + "\n# an edit\n")
    assert C.source_key(C.compiled_sources(src), base=src) == key
    lag = src / "solvers" / "meanfield" / "lagrangian.py"
    lag.write_text(lag.read_text() + "\n# an edit\n")
    assert C.source_key(C.compiled_sources(src), base=src) != key


def test_every_compiled_module_goes_through_the_keyed_cache():
    """No ifmf module decorates with numba directly (that would write its cache beside the sources
    and escape the key); only solvers/_compiled.py imports numba's jit."""
    direct = re.compile(r"numba\.(n?jit|vectorize|guvectorize|cfunc)\b|from numba import")
    offenders = []
    for pkg in ("solvers", "verification"):
        for path in (REPO / pkg).rglob("*.py"):
            if path.name != "_compiled.py" and direct.search(path.read_text()):
                offenders.append(path.relative_to(REPO).as_posix())
    assert offenders == []


def test_njit_refuses_a_cache_option():
    with pytest.raises(TypeError, match="cache"):
        C.njit(cache=False)
