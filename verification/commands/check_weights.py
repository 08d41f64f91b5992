"""``ifmf check-weights FILE...``: the theorem's hypotheses on weight files and a neuron model.

The files (``.npy``, ``.npz``, ``.csv``, ``.mtx``; see :func:`solvers.graphons.load_weights`) are
treated as one sequence of networks, sorted by size N; the neuron model is the standard neuron
unless ``--intensity``/``--param``/``--I0``/``--reset`` say otherwise.  Prints the report of
:func:`verification.hypotheses.check` (verdicts, the table per N, the growth fit of ``kappa_N``,
the sampled model-function bounds).  Exit code: 1 when a hypothesis is violated, 0 otherwise, 2 on
bad input.
"""
from __future__ import annotations

import argparse
import logging
import os

from solvers.graphons import load_weights
from verification.commands._model_options import add_model_arguments, model_from_args
from verification.hypotheses import VIOLATED, check

NAME = "check-weights"
HELP = ("check the theorem's hypotheses (O(1/N) weights, bounded Lipschitz f, Lipschitz b) on weight "
        "files (.npy, .npz, .csv, .mtx) taken as a sequence in N; exit 1 if one is violated")

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="weight matrices W (row i = postsynaptic neuron i), one per network size")
    add_model_arguments(parser)
    parser.add_argument("--x-range", type=float, nargs=2, default=(-5.0, 10.0), metavar=("LO", "HI"),
                        help="interval on which f and b are sampled (default -5 10)")
    parser.add_argument("--samples", type=int, default=2001, help="sample points on the interval (default 2001)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table per N as CSV")


def run(args: argparse.Namespace) -> int:
    model = model_from_args(args)
    mats = [load_weights(f) for f in args.files]
    report = check(model, mats, x_range=tuple(args.x_range), n_samples=args.samples,
                   names=[os.path.basename(f) for f in args.files])
    print(report.to_markdown())
    if args.csv:
        report.table.to_csv(args.csv, index=False)
        logger.info("table written to %s", args.csv)
    bad = [v.hypothesis for v in report.verdicts if v.status == VIOLATED]
    if bad:
        print(f"result: violated: {', '.join(bad)}")
        return 1
    print("result: no hypothesis violated")
    return 0
