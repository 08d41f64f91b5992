"""``ifmf report DIR``: rebuild a study's report (summary.md, verdicts.json, figures) from its
``results.csv`` and ``run.json`` alone.

The analysis is the one registered for the study named in ``run.json`` (see
:mod:`verification.report`); its random steps are seeded from the study's root seed, so the rebuilt
numbers equal the original ones.  ``--index`` also rewrites the ``README.md`` headline table of the
folder that holds DIR.  Exit code: 1 when a criterion FAILs, 0 otherwise, 2 on bad input.
"""
from __future__ import annotations

import argparse
import os

from verification.commands._common import add_json_flag, emit_json

NAME = "report"
HELP = ("rebuild a report folder (summary.md, verdicts, figures) from its results.csv and run.json; "
        "exit 1 if a criterion fails")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="report folder holding results.csv and run.json")
    parser.add_argument("--index", action="store_true",
                        help="also rewrite the README.md headline table of the parent folder")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    from verification.report import rebuild_report, write_reports_index

    out = rebuild_report(args.dir)
    index = write_reports_index(os.path.dirname(os.path.abspath(args.dir))) if args.index else None
    if args.json:
        emit_json({"path": out.path, "status": out.status, "verdicts": [v.as_dict() for v in out.verdicts],
                   "files": list(out.files), "index": index})
        return 1 if out.failed else 0
    print(f"{out.path}: {out.status}")
    for v in out.verdicts:
        print(f"  {v.status} {v.criterion}: {v.decided_by}")
    if index is not None:
        print(f"index: {index}")
    return 1 if out.failed else 0
