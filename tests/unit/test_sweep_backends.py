"""verification.sweep across backends and interruptions (real tasks: exact network simulations).

* The same config and seed give byte-identical results.csv in-process (1 worker), with a loky pool
  of 2 workers, and on a Dask ``LocalCluster`` (2 worker processes, 127.0.0.1 only).
* A sweep run in a subprocess is killed with SIGKILL (its whole process group) twice, each time at a
  random point (seeded) after its first task was stored, then re-run: it completes with no lost or
  duplicated rows and the same bytes as an uninterrupted run; the killed runs had stored some but not
  all tasks (so the kills really interrupted the sweep).
* A task that raises in a worker process gives a TaskError naming the task.

Marked slow: process pools and a Dask cluster start in a few seconds each on a loaded 2-core machine.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from test_sweep_tasks import failing_task, rate_task

from verification.sweep import TaskError, make_tasks, run_sweep, store_key, table_csv_bytes

PARAMS = {"t_end": 1.0, "window": 0.25}
TASKS = make_tasks(["ring", "two-block"], [20, 40], 2)
HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.slow


def test_loky_and_dask_give_the_bytes_of_one_worker(tmp_path):
    ref = run_sweep(rate_task, TASKS, study="demo", seed=11, params=PARAMS, workers=1, progress=False)
    loky = run_sweep(rate_task, TASKS, study="demo", seed=11, params=PARAMS, workers=2, progress=False,
                     store=tmp_path / "s")
    assert loky.backend == "loky"
    assert table_csv_bytes(loky.table) == table_csv_bytes(ref.table)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        dask = run_sweep(rate_task, TASKS, study="demo", seed=11, params=PARAMS, scheduler=cluster.scheduler_address,
                         progress=False, store=tmp_path / "d")
        assert dask.backend == "dask" and dask.n_run == len(TASKS)
        assert table_csv_bytes(dask.table) == table_csv_bytes(ref.table)
        with pytest.raises(TaskError, match=r"task ring/N=40/rep=1 of study 'demo' failed: ValueError"):
            run_sweep(failing_task, TASKS, study="demo", seed=11, params={**PARAMS, "bad_N": 40},
                      scheduler=cluster.scheduler_address, progress=False)


def test_failing_task_in_a_loky_worker_is_named():
    with pytest.raises(TaskError, match=r"task ring/N=40/rep=1 of study 'demo' failed: ValueError: deliberate") as info:
        run_sweep(failing_task, TASKS, study="demo", seed=2, params={**PARAMS, "bad_N": 40}, workers=2,
                  progress=False)
    assert "deliberate failure" in info.value.remote_traceback


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    from test_sweep_tasks import rate_task
    from verification.sweep import make_tasks, run_sweep
    run_sweep(rate_task, make_tasks({cases!r}, {sizes!r}, {reps!r}), study="demo", seed=4, params={params!r},
              store={store!r}, progress=False)
""")


def test_sigkill_then_resume_gives_the_same_bytes(tmp_path):
    cases, sizes, reps = ["ring", "two-block"], [20, 40, 80], 4
    params = {**PARAMS, "sleep": 0.03}
    tasks = make_tasks(cases, sizes, reps)
    store = str(tmp_path / "store")
    tasks_dir = os.path.join(store, f"demo-{store_key('demo', 4, params)}", "tasks")
    script = SCRIPT.format(here=HERE, cases=cases, sizes=sizes, reps=reps, params=params, store=store)
    rng = np.random.default_rng(20240607)

    def stored() -> int:
        return len([f for f in os.listdir(tasks_dir) if f.endswith(".json") and not f.startswith(".")]) \
            if os.path.isdir(tasks_dir) else 0

    counts = []
    for _ in range(2):
        before = stored()
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while stored() == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.0, 0.25)))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        proc.stderr.close()
        counts.append(stored())
    assert 0 < counts[0] < counts[1] < len(tasks), counts
    resumed = run_sweep(rate_task, tasks, study="demo", seed=4, params=params, store=store, progress=False)
    assert resumed.n_reused == counts[1] and resumed.n_run == len(tasks) - counts[1]
    fresh = run_sweep(rate_task, tasks, study="demo", seed=4, params=params, progress=False)
    assert table_csv_bytes(resumed.table) == table_csv_bytes(fresh.table)
    t = resumed.table
    assert len(t) == len(tasks) * 6
    assert not t.duplicated(["case", "N", "rep", "metric", "t"]).any()
    assert set(zip(t.case, t.N, t.rep)) == {(k.case, k.N, k.rep) for k in tasks}
