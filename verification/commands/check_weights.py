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

from solvers.errors import bad_argument
from solvers.graphons import load_weights
from solvers.model import INTENSITY_FAMILIES, NeuronModel
from verification.hypotheses import VIOLATED, check

NAME = "check-weights"
HELP = ("check the theorem's hypotheses (O(1/N) weights, bounded Lipschitz f, Lipschitz b) on weight "
        "files (.npy, .npz, .csv, .mtx) taken as a sequence in N; exit 1 if one is violated")

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="weight matrices W (row i = postsynaptic neuron i), one per network size")
    parser.add_argument("--intensity", default="sigmoid", metavar="FAMILY",
                        help=f"intensity family f, one of {sorted(INTENSITY_FAMILIES)} (default: sigmoid); "
                             "parameters not given by --param take the family's defaults (for sigmoid the "
                             "standard neuron's lam=10 beta=5 theta=1)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the intensity family, e.g. --param lam=5 (repeatable)")
    parser.add_argument("--I0", type=float, default=1.5, help="leaky drift b(x) = -x + I0 (default 1.5)")
    parser.add_argument("--reset", type=float, default=0.0, help="reset value x_r (default 0)")
    parser.add_argument("--x-range", type=float, nargs=2, default=(-5.0, 10.0), metavar=("LO", "HI"),
                        help="interval on which f and b are sampled (default -5 10)")
    parser.add_argument("--samples", type=int, default=2001, help="sample points on the interval (default 2001)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table per N as CSV")


def _intensity_config(family: str, params: list[str]) -> dict:
    cfg: dict = {"family": family}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise bad_argument("--param", item, "must look like NAME=VALUE", "write e.g. --param lam=5")
        try:
            cfg[key.strip()] = float(value)
        except ValueError:
            raise bad_argument("--param", item, "VALUE must be a number (inf allowed)",
                               "write e.g. --param cap=inf") from None
    return cfg


def run(args: argparse.Namespace) -> int:
    model = NeuronModel.from_config({
        "drift": {"family": "leaky", "I0": args.I0},
        "intensity": _intensity_config(args.intensity, args.param),
        "reset": args.reset,
    })
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
