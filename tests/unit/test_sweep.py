"""verification.sweep: task seeds keyed by the task, the canonical table, the store (resume, atomic
files, foreign files), errors naming the task, in-process.  The process backends (loky, Dask) and the
SIGKILL resume test are in test_sweep_backends.py."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
from test_sweep_tasks import failing_task, malformed_task, rate_task

from solvers.errors import InvalidArgumentError
from verification.sweep import (
    RESULT_COLUMNS,
    StoreError,
    Task,
    TaskError,
    make_tasks,
    name_key,
    read_table_csv,
    run_sweep,
    store_key,
    table_csv_bytes,
    task_seed,
    write_table_csv,
)

PARAMS = {"t_end": 1.0, "window": 0.25}
TASKS = make_tasks(["ring", "two-block"], [20, 40], 2)


def test_make_tasks_canonical_order():
    tasks = make_tasks(["b", "a"], {"b": [40, 20], "a": [10]}, {"b": 2, "a": 1})
    assert [t.label for t in tasks] == ["b/N=20/rep=0", "b/N=20/rep=1", "b/N=40/rep=0", "b/N=40/rep=1", "a/N=10/rep=0"]
    with pytest.raises(InvalidArgumentError, match="repeat a case"):
        make_tasks(["a", "a"], [10], 1)
    with pytest.raises(InvalidArgumentError, match="case"):
        Task("bad name", 10, 0)
    with pytest.raises(InvalidArgumentError, match="N"):
        Task("a", -1, 0)


def test_seed_is_keyed_by_the_task():
    """SeedSequence(root, spawn_key=(key(study), key(case), N, rep)) with key = first 8 bytes of SHA-256."""
    t = Task("ring", 40, 3)
    s = task_seed("scaling", 7, t)
    k = int.from_bytes(hashlib.sha256(b"ring").digest()[:8], "little")
    assert name_key("ring") == k
    ref = np.random.SeedSequence(7, spawn_key=(name_key("scaling"), k, 40, 3))
    np.testing.assert_array_equal(s.generate_state(4), ref.generate_state(4))
    # distinct tasks, studies and roots give distinct streams
    states = {tuple(task_seed(st, r, tt).generate_state(2)) for st in ("a", "b") for r in (1, 2)
              for tt in (Task("ring", 40, 3), Task("ring", 40, 4), Task("ring", 80, 3), Task("skew", 40, 3))}
    assert len(states) == 16


def test_adding_sizes_and_reps_keeps_the_other_rows(tmp_path):
    small = run_sweep(rate_task, make_tasks(["ring"], [20], 2), study="demo", seed=3, params=PARAMS, progress=False)
    big = run_sweep(rate_task, make_tasks(["ring", "skew"], [10, 20], 3), study="demo", seed=3, params=PARAMS,
                    progress=False)
    sub = big.table[(big.table.case == "ring") & (big.table.N == 20) & (big.table.rep < 2)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub, small.table)


def test_table_columns_and_seeds_record():
    res = run_sweep(rate_task, TASKS[:2], study="demo", seed=3, params=PARAMS, progress=False)
    assert tuple(res.table.columns) == RESULT_COLUMNS
    assert len(res.table) == 2 * (4 + 2)  # 4 windows + mean_x + mean_rate per task
    row = res.table.iloc[4]
    assert (row.study, row.case, row.source, row.N, row.rep, row.metric) == ("demo", "ring", "network", 20, 0, "mean_x")
    assert row.lower < row.value < row.upper
    assert np.isnan(res.table.iloc[5].t) and np.isnan(res.table.iloc[5].lower)
    assert res.seeds["root"] == 3 and res.seeds["tasks"][1]["spawn_key"] == [name_key("demo"), name_key("ring"), 20, 1]
    assert list(res.timings.columns) == ["case", "N", "rep", "wall_s", "reused"] and res.n_run == 2


def test_csv_round_trip_is_exact(tmp_path):
    res = run_sweep(rate_task, TASKS[:3], study="demo", seed=5, params=PARAMS, progress=False)
    p = tmp_path / "results.csv"
    write_table_csv(res.table, p)
    back = read_table_csv(p)
    pd.testing.assert_frame_equal(back, res.table, check_exact=True)
    assert table_csv_bytes(back) == p.read_bytes()
    assert p.read_bytes().startswith(b"study,case,source,N,rep,t,metric,value,lower,upper\n")


def test_seed_changes_the_bytes():
    a = run_sweep(rate_task, TASKS[:2], study="demo", seed=11, params=PARAMS, progress=False)
    c = run_sweep(rate_task, TASKS[:2], study="demo", seed=12, params=PARAMS, progress=False)
    assert table_csv_bytes(c.table) != table_csv_bytes(a.table)


def test_store_resumes_and_reuses(tmp_path):
    store = tmp_path / "store"
    first = run_sweep(rate_task, TASKS[:3], study="demo", seed=2, params=PARAMS, store=store, progress=False)
    assert first.n_run == 3 and first.n_reused == 0
    key = store_key("demo", 2, PARAMS)
    files = sorted(os.listdir(store / f"demo-{key}" / "tasks"))
    assert files == ["ring__N20__rep0.json", "ring__N20__rep1.json", "ring__N40__rep0.json"]
    rec = json.loads((store / f"demo-{key}" / "tasks" / files[0]).read_text())
    assert rec["task"] == {"case": "ring", "N": 20, "rep": 0} and rec["key"] == key
    # a leftover temporary file of a killed run is ignored and removed
    (store / f"demo-{key}" / "tasks" / ".tmp-abc-ring__N40__rep1.json").write_text('{"trunc')
    full = run_sweep(rate_task, TASKS, study="demo", seed=2, params=PARAMS, store=store, progress=False)
    assert full.n_reused == 3 and full.n_run == len(TASKS) - 3
    assert not any(f.startswith(".tmp-") for f in os.listdir(store / f"demo-{key}" / "tasks"))
    ref = run_sweep(rate_task, TASKS, study="demo", seed=2, params=PARAMS, progress=False)
    assert table_csv_bytes(full.table) == table_csv_bytes(ref.table)
    # other params: another store key, nothing reused
    other = run_sweep(rate_task, TASKS[:1], study="demo", seed=2, params={**PARAMS, "window": 0.5}, store=store,
                      progress=False)
    assert other.n_reused == 0
    # fresh discards
    again = run_sweep(rate_task, TASKS[:1], study="demo", seed=2, params=PARAMS, store=store, fresh=True,
                      progress=False)
    assert again.n_run == 1


def test_store_refuses_a_foreign_file(tmp_path):
    store = tmp_path / "store"
    run_sweep(rate_task, TASKS[:1], study="demo", seed=2, params=PARAMS, store=store, progress=False)
    d = store / f"demo-{store_key('demo', 2, PARAMS)}" / "tasks"
    # a file under the name of rep 1 that holds the record of rep 0 (e.g. copied by hand)
    (d / "ring__N20__rep1.json").write_text((d / "ring__N20__rep0.json").read_text())
    with pytest.raises(StoreError, match="does not hold task ring/N=20/rep=1"):
        run_sweep(rate_task, TASKS[:2], study="demo", seed=2, params=PARAMS, store=store, progress=False)


def test_unwritable_store(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot be written"):
        run_sweep(rate_task, TASKS[:1], study="demo", seed=2, params=PARAMS, store=blocker / "sub", progress=False)


def test_unreachable_scheduler_is_refused_before_the_store_exists(tmp_path, monkeypatch):
    import verification.sweep as sweep

    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT_S", 0.5)
    with pytest.raises(InvalidArgumentError, match="no Dask scheduler answered"):
        run_sweep(rate_task, TASKS[:1], study="demo", seed=2, params=PARAMS, store=tmp_path / "store",
                  scheduler="tcp://127.0.0.1:1", progress=False)
    assert not (tmp_path / "store").exists()


def test_failing_task_is_named_and_earlier_tasks_are_stored(tmp_path, workers=1):
    store = tmp_path / "store"
    params = {**PARAMS, "bad_N": 40}
    msg = r"task ring/N=40/rep=1 of study 'demo' failed: ValueError: deliberate failure"
    with pytest.raises(TaskError, match=msg) as info:
        run_sweep(failing_task, TASKS, study="demo", seed=2, params=params, store=store, workers=workers,
                  progress=False)
    assert "deliberate failure" in info.value.remote_traceback
    d = store / f"demo-{store_key('demo', 2, params)}" / "tasks"
    assert sorted(os.listdir(d)) == ["ring__N20__rep0.json", "ring__N20__rep1.json", "ring__N40__rep0.json"]


def test_malformed_rows_are_named():
    with pytest.raises(TaskError, match=r"task ring/N=20/rep=0: row 0 \(metric 'x'\) has no finite value"):
        run_sweep(malformed_task, TASKS[:1], study="demo", seed=1, progress=False)
    with pytest.raises(TaskError, match="unknown keys"):
        run_sweep(_bad_keys, TASKS[:1], study="demo", seed=1, progress=False)


def _bad_keys(task, seed, params):
    return [{"metric": "x", "value": 1.0, "wall_s": 2.0}]


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="seed"):
        run_sweep(rate_task, TASKS, study="demo", seed=-1)
    with pytest.raises(InvalidArgumentError, match="distinct"):
        run_sweep(rate_task, TASKS[:1] * 2, study="demo", seed=1)
    with pytest.raises(InvalidArgumentError, match="JSON"):
        run_sweep(rate_task, TASKS, study="demo", seed=1, params={"x": object()})
    with pytest.raises(InvalidArgumentError, match="study"):
        run_sweep(rate_task, TASKS, study="a b", seed=1)
    with pytest.raises(InvalidArgumentError, match="columns"):
        table_csv_bytes(pd.DataFrame({"a": [1]}))


def test_atomic_files_get_the_umask_permissions_not_mkstemp_0600(tmp_path):
    """Reports and stored rows are written with the mode open() would give (0o666 minus the umask)."""
    import os

    from verification.sweep import atomic_write_text

    old = os.umask(0o022)
    try:
        p = tmp_path / "summary.md"
        atomic_write_text(p, "x")
        assert (p.stat().st_mode & 0o777) == 0o644
        os.chmod(p, 0o600)  # a replaced file keeps its own mode
        atomic_write_text(p, "y")
        assert (p.stat().st_mode & 0o777) == 0o600 and p.read_text() == "y"
    finally:
        os.umask(old)
