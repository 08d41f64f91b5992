"""``ifmf verify``: run the verification studies (V1-V4 of SPEC section 7, and a user study) and write
their reports.

The run configuration is a TOML file whose top-level tables are study names (``[scaling]`` = V1,
``[subsequence]`` = V2, ``[initial_data]`` = V3, ``[solvers]`` = V4, ``[user]``); by default the
embedded full configuration (``--quick``: the embedded quick one).  Everything is validated before
any work starts (unknown keys, types, ranges, weight files, the output folder): a bad input is one
line naming the field, the value, the rule and the fix, exit code 2, and nothing is written.

Each study is a sweep of ``(case, N, rep)`` tasks (in-process, a local process pool with
``--workers``, or a Dask cluster with ``--scheduler``, not both; the bytes of ``results.csv`` do not
depend on the choice).  A scheduler must answer before anything is written.  Finished tasks are stored
under ``OUT/.store`` as they finish, so an interrupted run resumes where it stopped (``--fresh``
discards them).  Reports: ``OUT/<study>/`` (``summary.md``, ``results.csv``, ``run.json``,
``verdicts.json``, ``timings.csv``, ``figures/``) and the headline table ``OUT/README.md``.  Exit code 1
when a study FAILs one of its criteria.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
import warnings

from verification.commands._common import add_json_flag, emit_json, stderr

NAME = "verify"
HELP = ("run the verification studies V1-V4 (and a user study) from a TOML config and write their reports; "
        "exit 1 if a study fails a criterion")
DESCRIPTION = """\
Run the verification studies (docs/studies.md) and write one report per study.

  V1 scaling       O(1/N): bounded kappa_N, N^-1/2 fluctuations, their predicted size (+ hub control)
  V2 subsequence   convergence in d_w after relabelling (W-random, random-sign, checkerboard, alternating)
  V3 initial_data  initial data converging only weakly in xi, carried forward in time
  V4 solvers       observed orders of every solver against exact references
  user             the same machinery on your weight files ([user] section of a --config file)

Without --config the embedded full configuration runs (about half an hour on 2 cores); --quick runs the
embedded quick one (a few minutes).  Print an embedded configuration with --print-config quick|full
and start your own from it."""
EPILOG = """\
exit codes: 0 every criterion passed; 1 a study failed a criterion (its summary.md says which and the
numbers that decided it); 2 bad input (nothing written); 130 interrupted (finished tasks are kept in
OUT/.store and reused by the next run).
examples:
  ifmf verify --quick --workers 2
  ifmf verify --only V1,V3 --out my-reports
  ifmf verify --config mine.toml --scheduler tcp://127.0.0.1:8786"""

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$|^[A-Za-z0-9_.-]+:\d+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="use the embedded quick configuration (a few minutes)")
    parser.add_argument("--only", metavar="STUDIES",
                        help="comma-separated studies to run, by label or name (e.g. V1,V3 or scaling,solvers)")
    parser.add_argument("--config", metavar="FILE", help="a TOML run configuration (sections [scaling], "
                        "[subsequence], [initial_data], [solvers], [user]); default: the embedded full one")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="local worker processes (default 1: in-process; not with --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="address of a Dask distributed scheduler (e.g. tcp://127.0.0.1:8786); needs ifmf[dask] "
                             "on the workers and the user's weight files readable there")
    parser.add_argument("--out", metavar="DIR", default="ifmf-reports",
                        help="folder of the reports (default ./ifmf-reports); the task store is DIR/.store")
    grp = parser.add_mutually_exclusive_group()
    grp.add_argument("--resume", dest="fresh", action="store_false", default=False,
                     help="reuse the tasks stored by an earlier or interrupted run of the same config (default)")
    grp.add_argument("--fresh", dest="fresh", action="store_true", help="discard the stored tasks and recompute")
    parser.add_argument("--print-config", choices=("quick", "full"), metavar="quick|full",
                        help="print an embedded configuration and exit")
    add_json_flag(parser)


def _check_out(path: str) -> str:
    """The output folder exists and is writable, or can be created (checked without creating it)."""
    from solvers.errors import bad_argument

    p = os.path.abspath(path)
    if os.path.exists(p) and not os.path.isdir(p):
        raise bad_argument("--out", path, "exists and is not a folder", "pass a folder path")
    probe = p
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    from verification.commands._output import _probe

    err = _probe(probe) if os.path.isdir(probe) else NotADirectoryError(f"{probe} is not a folder")
    if err is not None:  # a probe file, since permission bits alone do not tell (read-only mounts, root)
        raise bad_argument("--out", path, f"cannot be written (no file can be created in {probe}: {err})",
                           "pass a folder you can write to")
    return p


def _check_scheduler(addr: str | None) -> str | None:
    from solvers.errors import bad_argument

    if addr is None:
        return None
    if not _ADDRESS.match(addr):
        raise bad_argument("--scheduler", addr, "is not a scheduler address", "pass e.g. tcp://127.0.0.1:8786")
    return addr


def run(args: argparse.Namespace) -> int:
    from solvers.errors import bad_argument
    from solvers.validation import check_int
    from verification.experiments import STUDIES, embedded_config_text, load_run_config, resolve_studies

    if args.print_config:
        print(embedded_config_text(args.print_config), end="")
        return 0
    if args.quick and args.config:
        raise bad_argument("--quick", True, "selects the embedded quick configuration and cannot be combined with "
                           "--config", "drop one of them")
    workers = check_int("--workers", args.workers, 1, "pass e.g. --workers 2")
    scheduler = _check_scheduler(args.scheduler)
    if scheduler is not None and workers != 1:
        raise bad_argument("--workers", workers, "sets local worker processes and cannot be combined with "
                           "--scheduler (the Dask cluster's workers run the tasks)",
                           "drop --workers to run on the cluster, or drop --scheduler to run on local processes")
    only = resolve_studies(args.only) if args.only else None
    rc = load_run_config(args.config, quick=args.quick, only=only)
    out = _check_out(args.out)
    if scheduler is not None:  # it answers before the output folder and the store are created
        from verification.sweep import check_scheduler

        check_scheduler(scheduler, flag="--scheduler")
    # ------------------------------------------------------------------ everything validated: work
    from verification.experiments import study_module
    from verification.report import make_run_info, write_report, write_reports_index
    from verification.sweep import run_sweep

    # loky restarts a worker whose memory grew by more than 300 MB since its first task (its leak guard);
    # the studies cache a weight matrix per worker on purpose (N = 8000: 512 MB), so a restart after a size
    # increase is expected, costs one re-import, and changes no result: do not alarm the user with it
    warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given to the executor",
                            category=UserWarning)
    os.makedirs(out, exist_ok=True)
    store = os.path.join(out, ".store")
    failed = []
    summary = []
    say = (lambda text: None) if args.json else print
    t_all = time.perf_counter()
    for name, cfg in rc.studies.items():
        mod = study_module(name)
        holder: dict = {}

        def sweep(fn, tasks, params, _name=name, _cfg=cfg, _holder=holder):
            # the progress bar is drawn on a terminal only: this line tells a log file (or --json's
            # stderr) that a study started, and how big it is
            stderr(f"{STUDIES[_name]} {_name}: {len(tasks)} tasks (those stored in {store} are reused)"
                   f"{'' if sys.stderr.isatty() else '; no progress bar: stderr is not a terminal'}")
            res = run_sweep(fn, tasks, study=_name, seed=_cfg.data["seed"], params=params, store=store,
                            fresh=args.fresh, workers=workers, scheduler=scheduler, progress=True)
            _holder["result"] = res
            return res

        t0 = time.perf_counter()
        table = mod.run(cfg.data, sweep)
        res = holder["result"]
        info = make_run_info(study=name, config=cfg.data, config_hash=cfg.full_hash, seeds=res.seeds,
                             timings=res.timings, wall_s=res.wall_s, backend=res.backend,
                             extra={"label": STUDIES[name], "run_config": rc.source, "quick": bool(args.quick),
                                    "workers": workers, "scheduler": scheduler, "tasks_run": res.n_run,
                                    "tasks_reused": res.n_reused})
        outcome = write_report(table, os.path.join(out, name), run_info=info, timings=res.timings)
        n_pass = sum(v.passed for v in outcome.verdicts)
        wall = time.perf_counter() - t0
        say(f"{STUDIES[name]:>4} {name:<13} {outcome.status} ({n_pass}/{len(outcome.verdicts)} criteria; "
            f"{res.n_run} tasks run, {res.n_reused} reused; {wall:.0f} s) -> "
            f"{os.path.join(outcome.path, 'summary.md')}")
        for v in outcome.verdicts:
            if not v.passed:
                say(f"       FAIL {v.name}: {v.decided_by}")
        if outcome.failed:
            failed.append(name)
        summary.append({"study": name, "label": STUDIES[name], "status": outcome.status, "path": outcome.path,
                        "wall_s": wall, "tasks_run": res.n_run, "tasks_reused": res.n_reused,
                        "verdicts": [v.as_dict() for v in outcome.verdicts]})
    index = write_reports_index(out, title="Verification reports")
    status = "FAIL" if failed else "PASS"
    if args.json:
        emit_json({"status": status, "index": index, "wall_s": time.perf_counter() - t_all, "studies": summary})
    else:
        say(f"index: {index} ({time.perf_counter() - t_all:.0f} s)")
        say(f"result: {status}" + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0
