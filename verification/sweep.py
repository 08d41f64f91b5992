"""Sweeps of ``(case, N, rep)`` tasks: seeds, backends, a resumable atomic result store, canonical tables.

Tasks and seeds
    A :class:`Task` is ``(case, N, rep)``.  Its random stream is
    ``SeedSequence(root, spawn_key=(study_key, case_key, N, rep))`` where ``root`` is the study's root
    seed and ``study_key``/``case_key`` are the first 8 bytes (little-endian) of the SHA-256 of the
    study's and the case's names.  This is the mechanism of ``SeedSequence.spawn`` (a child is the
    parent's entropy with a longer ``spawn_key``) with a key that names the task instead of counting
    children, so adding a case, an ``N`` or a replicate, or running the tasks in another order or on
    another machine, never changes any other task's stream.  ``N = 0`` is allowed for tasks that
    simulate no network (e.g. a PDE reference of a case).

Task functions
    ``fn(task, seed, params) -> rows``: ``seed`` is the task's ``SeedSequence``, ``params`` the
    study's parameters (a JSON-compatible mapping), ``rows`` a list of mappings (or a DataFrame) with
    keys ``metric`` (str) and ``value`` (finite float), and optionally ``source`` (str, default
    ``"network"``), ``t``, ``lower``, ``upper`` (floats; missing means not applicable).  The sweep adds
    ``study``, ``case``, ``N``, ``rep``.  ``fn`` must be picklable (a module-level function) for the
    process backends.  It runs with BLAS/OpenMP pools limited to one thread (threadpoolctl), in every
    backend, so tasks do not oversubscribe the cores and floating-point reductions do not depend on
    the thread count.

Backends (one code path; the bytes of the final table do not depend on the choice)
    ``workers=1`` and no scheduler: in-process, one task after the other.  ``workers > 1``: a local
    process pool (joblib with loky).  ``scheduler=ADDRESS``: a Dask distributed scheduler
    (``"tcp://host:8786"``; needs the ``dask`` extra).  Results come back to the calling process,
    which alone writes the store (workers need no shared file system).

Store (:class:`ResultStore`)
    ``<store>/<key>/tasks/<case>__N<N>__rep<rep>.json``, one file per finished task, keyed by
    ``key`` = the first 16 hex digits of the SHA-256 of the canonical JSON of
    ``{study, root seed, params}`` (``params`` holds everything a task's rows depend on besides the
    task itself; the task grid is deliberately not in the key, so adding an ``N`` reuses the stored
    tasks).  Each file is written to a temporary file in the same folder, flushed and fsynced, then
    renamed over its final name (``os.replace``, atomic on POSIX) and the folder fsynced: a task is
    stored whole or not at all.  An interrupted sweep (even by SIGKILL) therefore resumes with exactly
    the tasks that are missing: no row is lost or duplicated.  Leftover temporary files of a killed
    run are ignored and removed.

Canonical table
    :attr:`SweepResult.table` lists the tasks in the order given (:func:`make_tasks`: cases in the
    order given, then ``N`` increasing, then ``rep``), each task's rows in the order its function
    returned them, with columns :data:`RESULT_COLUMNS`; :func:`write_table_csv` writes floats by
    their shortest round-trip representation.  Timings (``wall_s`` per task) are not reproducible,
    so they are kept apart in :attr:`SweepResult.timings` (and ``run.json`` / ``timings.csv`` of a
    report), never in ``results.csv``.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from solvers.errors import IfmfError, bad_argument
from solvers.validation import check_int
from verification._files import atomic_write_bytes, atomic_write_text
from verification.config import canonical_json

__all__ = ["Task", "TaskError", "StoreError", "make_tasks", "task_seed", "name_key", "ResultStore", "SweepResult",
           "run_sweep", "store_key", "connect_scheduler", "check_scheduler", "SCHEDULER_TIMEOUT_S", "RESULT_COLUMNS",
           "ROW_KEYS", "write_table_csv", "read_table_csv",
           "atomic_write_bytes", "atomic_write_text"]

log = logging.getLogger(__name__)

#: columns of the tidy table, in order
RESULT_COLUMNS = ("study", "case", "source", "N", "rep", "t", "metric", "value", "lower", "upper")
#: keys a task function may return per row
ROW_KEYS = ("source", "t", "metric", "value", "lower", "upper")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class TaskError(IfmfError, RuntimeError):
    """A task function raised or returned malformed rows; the message names the task.

    ``remote_traceback`` holds the traceback text from the worker."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message, remote_traceback)
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        return str(self.args[0])


class StoreError(IfmfError, RuntimeError):
    """The result store holds a file that does not belong to this sweep, or cannot be written."""


def name_key(name: str) -> int:
    """Stable 64-bit key of a name: the first 8 bytes (little-endian) of its SHA-256."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


@dataclass(frozen=True)
class Task:
    """One unit of work: a case (a named configuration), a network size ``N`` (0: no network) and a
    replicate index ``rep``."""

    case: str
    N: int
    rep: int

    def __post_init__(self) -> None:
        if not isinstance(self.case, str) or not _NAME.match(self.case):
            raise bad_argument("case", self.case, "must be a name of letters, digits and _ . + - (not starting "
                               "with a symbol)", "rename the case, e.g. 'ring' or 'two-block'")
        check_int("N", self.N, 0)
        check_int("rep", self.rep, 0)

    @property
    def label(self) -> str:
        """``case/N=<N>/rep=<rep>`` (used in messages)."""
        return f"{self.case}/N={self.N}/rep={self.rep}"

    @property
    def filename(self) -> str:
        return f"{self.case}__N{self.N}__rep{self.rep}.json"


def task_seed(study: str, root: int, task: Task) -> np.random.SeedSequence:
    """``SeedSequence(root, spawn_key=(name_key(study), name_key(task.case), task.N, task.rep))``."""
    return np.random.SeedSequence(root, spawn_key=(name_key(study), name_key(task.case), task.N, task.rep))


def make_tasks(cases: Sequence[str], sizes: Sequence[int] | Mapping[str, Sequence[int]],
               reps: int | Mapping[str, int]) -> tuple[Task, ...]:
    """All ``(case, N, rep)`` tasks in canonical order: cases as given, ``N`` increasing, ``rep`` increasing.

    Parameters
    ----------
    cases : sequence of str
        Case names (distinct).
    sizes : sequence of int, or mapping case -> sequence of int
        Network sizes (the same for every case, or per case).
    reps : int or mapping case -> int
        Replicates per ``(case, N)``.
    """
    if isinstance(cases, str) or not isinstance(cases, Sequence) or len(cases) == 0:
        raise bad_argument("cases", cases, "must be a non-empty sequence of case names", "pass e.g. ['ring']")
    if len(set(cases)) != len(cases):
        raise bad_argument("cases", cases, "must not repeat a case", "remove the duplicates")
    out = []
    for c in cases:
        ns = sizes[c] if isinstance(sizes, Mapping) else sizes
        r = reps[c] if isinstance(reps, Mapping) else reps
        r = check_int("reps", r, 1)
        ns = [check_int("sizes", n, 0) for n in ns]
        if len(set(ns)) != len(ns):
            raise bad_argument("sizes", ns, f"must not repeat a size (case {c!r})", "remove the duplicates")
        for n in sorted(ns):
            out.extend(Task(c, n, k) for k in range(r))
    return tuple(out)


def store_key(study: str, seed: int, params: Mapping[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``canonical_json({"study", "seed", "params"})``."""
    text = canonical_json({"study": study, "seed": int(seed), "params": params})
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


# ------------------------------------------------------------------------------------- atomic files
# ------------------------------------------------------------------------------------------ rows
def _opt_float(task: Task, i: int, key: str, v: Any) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TaskError(f"task {task.label}: row {i}: {key} = {v!r} is not a number")
    f = float(v)
    if not math.isfinite(f):
        raise TaskError(f"task {task.label}: row {i}: {key} = {f!r} is not finite (use a missing value instead)")
    return f


def _normalise_rows(task: Task, out: Any) -> list[list]:
    """Rows as lists ``[source, t, metric, value, lower, upper]`` (``None`` for missing)."""
    if isinstance(out, pd.DataFrame):
        out = out.to_dict(orient="records")
    if isinstance(out, Mapping) or not isinstance(out, Iterable):
        raise TaskError(f"task {task.label}: the task function returned {type(out).__name__}, expected a list of "
                        "row mappings or a DataFrame")
    rows = []
    for i, r in enumerate(out):
        if not isinstance(r, Mapping):
            raise TaskError(f"task {task.label}: row {i} is a {type(r).__name__}, expected a mapping")
        unknown = sorted(set(r) - set(ROW_KEYS))
        if unknown:
            raise TaskError(f"task {task.label}: row {i} has unknown keys {unknown}; allowed: {list(ROW_KEYS)}")
        metric = r.get("metric")
        if not isinstance(metric, str) or not metric:
            raise TaskError(f"task {task.label}: row {i}: metric = {metric!r} must be a non-empty string")
        source = r.get("source", "network")
        if not isinstance(source, str) or not source:
            raise TaskError(f"task {task.label}: row {i}: source = {source!r} must be a non-empty string")
        value = _opt_float(task, i, "value", r.get("value"))
        if value is None:
            raise TaskError(f"task {task.label}: row {i} (metric {metric!r}) has no finite value")
        rows.append([source, _opt_float(task, i, "t", r.get("t")), metric, value,
                     _opt_float(task, i, "lower", r.get("lower")), _opt_float(task, i, "upper", r.get("upper"))])
    return rows


def _run_task(fn: Callable, task: Task, study: str, root: int, params: Mapping[str, Any]) -> tuple:
    """Run one task in a worker (or in-process); never raises: returns ``("ok", task, rows, wall_s)`` or
    ``("error", task, message, traceback_text)``."""
    from threadpoolctl import threadpool_limits

    seed = task_seed(study, root, task)
    try:
        with threadpool_limits(limits=1):
            t0 = time.perf_counter()
            out = fn(task, seed, params)
            wall = time.perf_counter() - t0
        rows = _normalise_rows(task, out)
    except TaskError as exc:
        return ("error", task, str(exc), traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - reported to the caller with the task's name
        return ("error", task, f"task {task.label} of study {study!r} failed: {type(exc).__name__}: {exc}",
                traceback.format_exc())
    return ("ok", task, rows, wall)


# ------------------------------------------------------------------------------------------ store
class ResultStore:
    """One folder per store key; one JSON file per finished task (see the module docstring).

    Parameters
    ----------
    root : path
        Folder holding the stores (created if needed).
    study : str
    seed : int
        Root seed.
    params : mapping
        The study's task parameters (JSON-compatible).
    """

    FORMAT = 1

    def __init__(self, root: str | os.PathLike, study: str, seed: int, params: Mapping[str, Any]) -> None:
        self.study = study
        self.seed = int(seed)
        self.params = dict(params)
        self.key = store_key(study, self.seed, self.params)
        self.path = os.path.join(os.fspath(root), f"{study}-{self.key}")
        self.tasks_dir = os.path.join(self.path, "tasks")
        try:
            os.makedirs(self.tasks_dir, exist_ok=True)
            meta = os.path.join(self.path, "store.json")
            if not os.path.exists(meta):
                atomic_write_text(meta, json.dumps({"format": self.FORMAT, "study": study, "seed": self.seed,
                                                    "params": self.params, "key": self.key}, indent=1, sort_keys=True))
        except OSError as exc:
            raise StoreError(f"result store {self.path!r} cannot be written: {exc}. "
                             "Fix: pass a writable folder.") from exc

    def clean_temporaries(self) -> int:
        """Remove temporary files left by an interrupted run; return how many."""
        n = 0
        for name in os.listdir(self.tasks_dir):
            if name.startswith(".tmp-"):
                try:
                    os.unlink(os.path.join(self.tasks_dir, name))
                    n += 1
                except FileNotFoundError:  # pragma: no cover
                    pass
        return n

    def clear(self) -> None:
        """Forget every stored task (``--fresh``)."""
        for name in os.listdir(self.tasks_dir):
            os.unlink(os.path.join(self.tasks_dir, name))

    def _file(self, task: Task) -> str:
        return os.path.join(self.tasks_dir, task.filename)

    def has(self, task: Task) -> bool:
        return os.path.exists(self._file(task))

    def save(self, task: Task, rows: list[list], wall_s: float) -> None:
        seed = task_seed(self.study, self.seed, task)
        rec = {"format": self.FORMAT, "study": self.study, "key": self.key,
               "task": {"case": task.case, "N": task.N, "rep": task.rep},
               "spawn_key": [int(k) for k in seed.spawn_key], "wall_s": float(wall_s), "rows": rows}
        try:
            atomic_write_text(self._file(task), json.dumps(rec, allow_nan=False))
        except OSError as exc:
            raise StoreError(f"result store {self.path!r}: task {task.label} cannot be written: {exc}") from exc

    def load(self, task: Task) -> tuple[list[list], float]:
        p = self._file(task)
        try:
            with open(p, encoding="utf-8") as fh:
                rec = json.load(fh)
        except (OSError, ValueError) as exc:
            raise StoreError(f"result store: {p!r} cannot be read ({exc}). "
                             "Fix: delete it, or re-run with --fresh.") from exc
        t = rec.get("task", {})
        if rec.get("key") != self.key or (t.get("case"), t.get("N"), t.get("rep")) != (task.case, task.N, task.rep):
            raise StoreError(f"result store: {p!r} does not hold task {task.label} of store {self.key}. "
                             "Fix: delete it, or re-run with --fresh.")
        return rec["rows"], float(rec["wall_s"])


# ------------------------------------------------------------------------------------------ sweep
@dataclass(frozen=True)
class SweepResult:
    """Outcome of :func:`run_sweep`.

    Attributes
    ----------
    table : DataFrame
        Columns :data:`RESULT_COLUMNS`, canonical order.
    timings : DataFrame
        ``case, N, rep, wall_s, reused`` per task (``reused``: read from the store, not run now).
    seeds : dict
        Root seed, the spawn-key rule and each task's spawn key.
    store : str or None
        The store folder.
    wall_s : float
        Wall time of the whole sweep.
    """

    table: pd.DataFrame
    timings: pd.DataFrame
    seeds: dict
    store: str | None
    wall_s: float
    n_run: int = 0
    n_reused: int = 0
    backend: str = "serial"
    info: dict = field(default_factory=dict)


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="task", file=sys.stderr, leave=False,
                disable=not (enabled and sys.stderr.isatty()))


def _iter_serial(fn, pending, study, seed, params):
    for task in pending:
        yield _run_task(fn, task, study, seed, params)


def _iter_loky(fn, pending, study, seed, params, workers):
    from joblib import Parallel, delayed

    par = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered", batch_size=1,
                   pre_dispatch="2*n_jobs")
    yield from par(delayed(_run_task)(fn, t, study, seed, params) for t in pending)


#: seconds a Dask client waits for the scheduler to answer (:func:`connect_scheduler`)
SCHEDULER_TIMEOUT_S = 20.0


def connect_scheduler(scheduler: str, *, flag: str = "scheduler"):
    """A ``distributed.Client`` connected to the scheduler at ``scheduler``, or ``InvalidArgumentError``
    naming ``flag`` when Dask distributed is not installed or no scheduler answers within
    :data:`SCHEDULER_TIMEOUT_S` seconds.  Nothing is written either way; the caller closes the client."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise bad_argument(flag, scheduler, "needs Dask distributed, which is not installed",
                           "pip install 'ifmf[dask]'") from exc
    try:
        return Client(scheduler, set_as_default=False, timeout=f"{SCHEDULER_TIMEOUT_S}s")
    except (OSError, TimeoutError) as exc:
        raise bad_argument(flag, scheduler, f"no Dask scheduler answered ({exc})",
                           "start one (dask scheduler) and pass its address, e.g. tcp://127.0.0.1:8786") from exc


def check_scheduler(scheduler: str, *, flag: str = "scheduler") -> None:
    """Raise (as :func:`connect_scheduler`) unless a Dask scheduler answers at ``scheduler``; a caller
    that writes files checks this first, so that a bad address leaves nothing behind."""
    connect_scheduler(scheduler, flag=flag).close()


def _iter_dask(fn, pending, study, seed, params, client):
    from distributed import as_completed

    futures = client.map(_run_task, [fn] * len(pending), pending, [study] * len(pending),
                         [seed] * len(pending), [params] * len(pending), pure=False)
    try:
        for fut in as_completed(futures, loop=client.loop):
            yield fut.result()
    finally:
        client.cancel(futures)


def run_sweep(fn: Callable, tasks: Sequence[Task], *, study: str, seed: int, params: Mapping[str, Any] | None = None,
              store: str | os.PathLike | None = None, fresh: bool = False, workers: int = 1,
              scheduler: str | None = None, progress: bool = True) -> SweepResult:
    """Run ``fn`` on every task (skipping those already in the store) and assemble the canonical table.

    Parameters
    ----------
    fn : callable
        ``fn(task, seed, params) -> rows`` (see the module docstring).
    tasks : sequence of Task
        Distinct tasks, in the order of the final table (see :func:`make_tasks`).
    study : str, keyword
        Study name (part of every seed and of the store key).
    seed : int, keyword
        Root seed (``>= 0``).
    params : mapping, keyword
        JSON-compatible parameters passed to every task and hashed into the store key.
    store : path, keyword, optional
        Folder of the result store; without it nothing is written and nothing resumes.
    fresh : bool, keyword
        Discard the stored tasks of this store key first.
    workers : int, keyword
        ``1``: in-process; ``> 1``: a loky process pool of that size.
    scheduler : str, keyword, optional
        Address of a Dask distributed scheduler (then ``workers`` is ignored); it must answer (within
        :data:`SCHEDULER_TIMEOUT_S` seconds) before anything is written.
    progress : bool, keyword
        Show a tqdm bar on stderr (only when stderr is a terminal).

    Raises
    ------
    InvalidArgumentError
        A bad argument, or no Dask scheduler answers at ``scheduler`` (checked before the store is
        created).
    TaskError
        A task function raised or returned malformed rows (the message names the task; tasks that
        finished before are stored).
    StoreError
        The store cannot be written or holds a foreign file.
    """
    if not callable(fn):
        raise bad_argument("fn", fn, "must be a callable fn(task, seed, params)", "pass a module-level function")
    if not isinstance(study, str) or not _NAME.match(study):
        raise bad_argument("study", study, "must be a name of letters, digits and _ . + -", "pass e.g. 'scaling'")
    seed = check_int("seed", seed, 0)
    workers = check_int("workers", workers, 1)
    tasks = tuple(tasks)
    if not tasks or not all(isinstance(t, Task) for t in tasks):
        raise bad_argument("tasks", tasks, "must be a non-empty sequence of Task", "build them with make_tasks")
    if len(set(tasks)) != len(tasks):
        raise bad_argument("tasks", tasks, "must be distinct", "remove the duplicated tasks")
    params = dict(params or {})
    try:
        canonical_json(params)
    except (TypeError, ValueError) as exc:
        raise bad_argument("params", params, f"must be JSON-compatible ({exc})",
                           "pass plain numbers, strings, lists and dicts") from None
    if scheduler is not None and not isinstance(scheduler, str):
        raise bad_argument("scheduler", scheduler, "must be a scheduler address string", "pass e.g. 'tcp://127.0.0.1:8786'")

    t_start = time.perf_counter()
    # the scheduler answers before the store is created: a bad address leaves nothing behind
    client = connect_scheduler(scheduler) if scheduler is not None else None
    try:
        return _sweep(fn, tasks, study, seed, params, store, fresh, workers, scheduler, progress, client, t_start)
    finally:
        if client is not None:
            client.close()


def _sweep(fn, tasks, study, seed, params, store, fresh, workers, scheduler, progress, client, t_start):
    st = ResultStore(store, study, seed, params) if store is not None else None
    done: dict[Task, tuple[list[list], float, bool]] = {}
    if st is not None:
        if fresh:
            st.clear()
        removed = st.clean_temporaries()
        if removed:
            log.info("store %s: removed %d temporary file(s) of an interrupted run", st.path, removed)
        for t in tasks:
            if st.has(t):
                rows, wall = st.load(t)
                done[t] = (rows, wall, True)
    pending = [t for t in tasks if t not in done]
    backend = "dask" if scheduler is not None else ("loky" if workers > 1 and len(pending) > 1 else "serial")
    log.info("sweep %s: %d tasks, %d stored, %d to run (%s)", study, len(tasks), len(done), len(pending), backend)
    if pending:
        if backend == "dask":
            results = _iter_dask(fn, pending, study, seed, params, client)
        elif backend == "loky":
            results = _iter_loky(fn, pending, study, seed, params, workers)
        else:
            results = _iter_serial(fn, pending, study, seed, params)
        bar = _progress(len(tasks), len(done), study, progress)
        try:
            for res in results:
                if res[0] == "error":
                    _, task, message, tb = res
                    raise TaskError(message + (f" (see remote_traceback; {len(done)} task(s) stored)"
                                               if st is not None else ""), tb)
                _, task, rows, wall = res
                if st is not None:
                    st.save(task, rows, wall)
                done[task] = (rows, wall, False)
                bar.update(1)
        finally:
            bar.close()
            close = getattr(results, "close", None)
            if close is not None:
                with warnings.catch_warnings():  # joblib warns that it cancelled the pending tasks: intended
                    warnings.simplefilter("ignore", UserWarning)
                    close()
    records = []
    timings = []
    for t in tasks:
        rows, wall, reused = done[t]
        for src, tt, metric, value, lo, hi in rows:
            records.append((study, t.case, src, t.N, t.rep, tt, metric, value, lo, hi))
        timings.append((t.case, t.N, t.rep, wall, reused))
    table = _frame(records)
    tim = pd.DataFrame(timings, columns=["case", "N", "rep", "wall_s", "reused"])
    seeds = {"root": seed, "rule": "SeedSequence(root, spawn_key=(name_key(study), name_key(case), N, rep)), "
             "name_key = first 8 bytes (little-endian) of SHA-256 of the name",
             "study_key": name_key(study),
             "tasks": [{"case": t.case, "N": t.N, "rep": t.rep,
                        "spawn_key": [int(k) for k in task_seed(study, seed, t).spawn_key]} for t in tasks]}
    n_reused = sum(1 for t in tasks if done[t][2])
    return SweepResult(table=table, timings=tim, seeds=seeds, store=None if st is None else st.path,
                       wall_s=time.perf_counter() - t_start, n_run=len(tasks) - n_reused, n_reused=n_reused,
                       backend=backend, info={"workers": workers, "scheduler": scheduler})


def _frame(records: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
    for c in ("t", "value", "lower", "upper"):
        df[c] = pd.to_numeric(df[c], errors="raise").astype("float64")
    for c in ("N", "rep"):
        df[c] = df[c].astype("int64")
    for c in ("study", "case", "source", "metric"):
        df[c] = df[c].astype(object)
    return df


# ------------------------------------------------------------------------------------------ CSV
def _check_table(table: Any) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise bad_argument("table", table, "must be a pandas DataFrame", "pass SweepResult.table")
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise bad_argument("table", list(table.columns), f"misses the columns {missing}",
                           f"give the columns {list(RESULT_COLUMNS)}")
    return table


def table_csv_bytes(table: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of a tidy table: columns :data:`RESULT_COLUMNS` in order (extra columns
    dropped), ``\\n`` line ends, floats by shortest round-trip repr, missing values empty."""
    df = _check_table(table).loc[:, list(RESULT_COLUMNS)]
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", na_rep="")
    return buf.getvalue().encode("utf-8")


def write_table_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write :func:`table_csv_bytes` atomically to ``path``."""
    atomic_write_bytes(path, table_csv_bytes(table))


def read_table_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table_csv` (floats read back bit for bit)."""
    p = os.fspath(path)
    try:
        # pandas >= 3 parses floats round-trip by default (and deprecates the option); pandas 2 needs it
        exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
        df = pd.read_csv(p, keep_default_na=False, na_values={c: [""] for c in ("t", "value", "lower", "upper")},
                         dtype={"study": str, "case": str, "source": str, "metric": str}, **exact)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise bad_argument("path", p, f"cannot be read as a results table ({exc})",
                           "pass the results.csv of a report") from None
    _check_table(df)
    return _frame(list(df.loc[:, list(RESULT_COLUMNS)].itertuples(index=False, name=None)))
