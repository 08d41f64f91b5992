"""``ifmf check-weights FILE...``: the theorem's hypotheses on weight files and a neuron model.

The files (``.npy``, ``.npz``, ``.csv``, ``.mtx``; see :func:`solvers.graphons.load_weights`) are
treated as one sequence of networks, sorted by size N; the neuron model is the standard neuron
unless ``--intensity``/``--param``/``--I0``/``--reset`` say otherwise.  Prints the report of
:func:`verification.hypotheses.check` (verdicts, the table per N, the growth fit of ``kappa_N``,
the sampled model-function bounds) and a one-line result that never claims more than the verdicts
(:meth:`~verification.hypotheses.HypothesisReport.summary`); ``--json`` prints the same as one JSON
object.  Exit code: 1 when a hypothesis is violated or a verdict carries a warning, 0 otherwise, 2
on bad input.
"""
from __future__ import annotations

import argparse
import logging
import os

from verification.commands._common import add_json_flag, emit_json
from verification.commands._model_options import MODEL_ALIASES, add_model_arguments, model_from_args
from verification.commands._output import check_output, report_fallback, save_with_fallback

NAME = "check-weights"
HELP = ("check the theorem's hypotheses (O(1/N) weights, bounded Lipschitz f, Lipschitz b) on weight "
        "files (.npy, .npz, .csv, .mtx) taken as a sequence in N; exit 1 if one is violated")
DESCRIPTION = """\
Check the hypotheses of the mean-field theorem on weight files and a neuron model:
  O(1/N) weights   sup_N kappa_N < inf, kappa_N = N max_{i != j} |W_ij|, judged from the growth of
                   kappa_N over the files: 2 or more sizes (with kappa_N > 0) give a fitted growth
                   exponent, 3 or more also its 95% interval (recommended); one size cannot show
                   growth, but kappa_N > 100 is reported as a warning
  f bounded, f Lipschitz, b Lipschitz, f >= 0   from the model's closed forms, with a sampled check

The files form one sequence of networks (any order; sorted by N).  Make example files with
'ifmf weights NAME --N 250 500 1000'.

The last line is the result: 'violated: ...', 'warning: ...', 'not established: cannot tell for ...'
or 'no hypothesis violated (all 5 hold)'."""
EPILOG = "exit codes: 0 nothing violated and no warning; 1 a hypothesis violated or a warning; 2 bad input."
ALIASES = {**MODEL_ALIASES, "n_samples": "--samples", "x_range": "--x-range", "path": "FILE"}

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="weight matrices W (row i = postsynaptic neuron i), one per network size")
    add_model_arguments(parser)
    parser.add_argument("--x-range", type=float, nargs=2, default=(-5.0, 10.0), metavar=("LO", "HI"),
                        help="interval on which f and b are sampled (default -5 10)")
    parser.add_argument("--samples", type=int, default=2001, help="sample points on the interval (default 2001)")
    parser.add_argument("--csv", metavar="PATH", help="also write the table per N as CSV")
    parser.add_argument("--force", action="store_true", help="replace an existing --csv file")
    add_json_flag(parser)


def run(args: argparse.Namespace) -> int:
    from solvers.graphons import load_weights

    csv = None
    if args.csv is not None:  # before any work
        csv = check_output("--csv", args.csv, force=args.force, suffixes=(".csv",), example="table.csv")
    model = model_from_args(args)
    mats = [load_weights(f) for f in args.files]
    from verification.hypotheses import check  # pandas, scipy.stats: once the files are read

    report = check(model, mats, x_range=tuple(args.x_range), n_samples=args.samples,
                   names=[os.path.basename(f) for f in args.files])
    code = 1 if (report.violated or report.warnings) else 0
    written = None
    if csv is not None:
        data = report.table.to_csv(index=False).encode("utf-8")
        written, reason = save_with_fallback(csv, lambda fh: fh.write(data))
        if written != csv:
            report_fallback(NAME, "--csv", args.csv, written, reason)
            code = max(code, 1)
        logger.info("table written to %s", written)
    if args.json:
        fit = report.growth
        emit_json({
            "result": report.summary(), "violated": report.violated, "warnings": list(report.warnings),
            "verdicts": [{"hypothesis": v.hypothesis, "status": v.status, "reason": v.reason, "warning": v.warning}
                         for v in report.verdicts],
            "table": report.table.to_dict("records"),
            "growth": None if fit is None else {"exponent": fit.exponent, "lower": fit.lower, "upper": fit.upper,
                                                "n_sizes": fit.n_sizes, "growth": fit.growth,
                                                "confidence": fit.confidence},
            "functions": report.functions.to_dict("records"), "csv": written,
        })
        return code
    print(report.to_markdown())
    print(f"result: {report.summary()}")
    return code
