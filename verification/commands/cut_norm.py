"""``ifmf cut-norm FILE``: certified cut-norm brackets of weight matrices, and alignments to a kernel.

Three questions, all answered by a bracket ``[lower, upper]`` with the method that certifies each
side (:class:`verification.graphs.Bracket`):

* ``ifmf cut-norm W.npy``: ``||w_N||_box`` of the step kernel ``w_N = N W``;
* ``ifmf cut-norm W.npy --minus V.npy``: ``||w_N - v_N||_box`` (same N) under the given labels;
* ``ifmf cut-norm W.npy --kernel ring``: ``||w_N - w||_box`` under the given labels
  (:func:`verification.graphs.align` with ``method="identity"``); with ``--align`` also the best
  relabelling found (:func:`verification.graphs.align`, every ordering and graph matching) and, with
  ``--distance``, the cut-distance bracket ``delta_box(w_N, w)``
  (:func:`verification.graphs.cut_distance`).  ``--permutation-out FILE.npy`` saves the winning
  permutation ``sigma`` (``N W[sigma][:, sigma]`` is the aligned step kernel).
"""
from __future__ import annotations

import argparse
import os

from verification.commands._common import add_json_flag, emit_json
from verification.commands._output import check_output, report_fallback, save_with_fallback

NAME = "cut-norm"
HELP = "certified cut-norm brackets of a weight matrix, of a difference, or against a named kernel (with alignment)"
DESCRIPTION = """\
Bracket the cut norm ||U||_box = max over sets S, T of |int_{S x T} U| (normalised, as for kernels on
[0, 1]^2) with a certified lower side (explicit sets S, T) and a certified upper side (Grothendieck
SDP dual or spectral bound):
  ifmf cut-norm W.npy                      U = N W, the step kernel of W
  ifmf cut-norm W.npy --minus V.npy        U = N W - N V (same size, given labels)
  ifmf cut-norm W.npy --kernel ring        U = N W - w under the given labels; --align adds the best
                                           relabelling found, --distance the cut-distance bracket
Kernels for --kernel: ring, two-block, constant, skew, product.
The searches are seeded (--seed, default 0); the brackets are certified whatever the seed."""
ALIASES = {"path": "FILE", "U": "FILE", "W": "FILE", "kernel": "--kernel", "name": "--kernel"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="weight matrix (.npy, .npz, .csv, .mtx)")
    other = parser.add_mutually_exclusive_group()
    other.add_argument("--minus", metavar="FILE2", help="subtract the step kernel of this matrix (same N)")
    other.add_argument("--kernel", metavar="NAME", help="compare with this named kernel")
    parser.add_argument("--align", action="store_true", help="with --kernel: also the best relabelling found")
    parser.add_argument("--distance", action="store_true", help="with --kernel: also the cut-distance bracket")
    parser.add_argument("--permutation-out", metavar="FILE.npy", help="with --align: save the winning permutation")
    parser.add_argument("--force", action="store_true", help="replace an existing --permutation-out file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the searches' restarts (default 0)")
    add_json_flag(parser)


def _bracket(b) -> dict:
    return {"lower": b.lower, "upper": b.upper, "ratio": b.ratio, "lower_method": b.lower_method,
            "upper_method": b.upper_method}


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from solvers.errors import bad_argument
    from solvers.graphons import load_weights, named_kernel, step_values
    from solvers.validation import check_seed
    from verification.graphs import align, cut_distance, cut_norm

    check_seed(args.seed, "--seed")
    if (args.align or args.distance) and args.kernel is None:
        raise bad_argument("--align" if args.align else "--distance", True, "needs a kernel to compare with",
                           "add --kernel NAME, e.g. --kernel ring")
    if args.permutation_out is not None and not args.align:
        raise bad_argument("--permutation-out", args.permutation_out, "saves the permutation found by --align",
                           "add --align")
    perm_out = None
    if args.permutation_out is not None:
        perm_out = check_output("--permutation-out", args.permutation_out, force=args.force, suffixes=(".npy",),
                                example="perm.npy")
    kernel = named_kernel(args.kernel) if args.kernel is not None else None
    W = load_weights(args.file)
    N = W.shape[0]
    result: dict = {"file": args.file, "N": N}
    rows = []
    if args.minus is not None:
        V = load_weights(args.minus)
        if V.shape != W.shape:
            raise bad_argument("--minus", args.minus, f"holds a {V.shape[0]} x {V.shape[1]} matrix, FILE an "
                               f"{N} x {N} one", "compare matrices of the same size (or use --kernel)")
        b = cut_norm(step_values(W, "FILE") - step_values(V, "--minus"), seed=args.seed)
        result["quantity"] = f"||N W - N V||_box, V = {os.path.basename(args.minus)}"
        result["bracket"] = _bracket(b)
        rows.append((result["quantity"], b))
    elif kernel is None:
        b = cut_norm(step_values(W, "FILE"), seed=args.seed)
        result["quantity"] = "||N W||_box"
        result["bracket"] = _bracket(b)
        rows.append((result["quantity"], b))
    else:
        given = align(W, kernel, method="identity", seed=args.seed)
        result["quantity"] = f"||w_N - {kernel.name}||_box, given labels"
        result["bracket"] = _bracket(given.bracket)
        result["l1_certified"] = given.l1_certified
        rows.append((result["quantity"], given.bracket))
        if args.align:
            best = align(W, kernel, seed=args.seed)
            result["alignment"] = {"method": best.method, "bracket": _bracket(best.bracket),
                                   "candidates": {k: _bracket(v) for k, v in best.candidates.items()}}
            rows.append((f"||w_N^sigma - {kernel.name}||_box, best relabelling ({best.method})", best.bracket))
            if perm_out is not None:
                perm = np.asarray(best.permutation, dtype=np.int64)
                where, reason = save_with_fallback(perm_out, lambda fh: np.save(fh, perm, allow_pickle=False))
                result["permutation_out"] = where
                if where != perm_out:
                    return report_fallback(NAME, "--permutation-out", args.permutation_out, where, reason)
        if args.distance:
            d = cut_distance(W, kernel, seed=args.seed)
            result["cut_distance"] = _bracket(d)
            rows.append((f"delta_box(w_N, {kernel.name})", d))
    if args.json:
        emit_json(result)
        return 0
    print(f"{args.file}: N = {N}")
    for label, b in rows:
        print(f"{label}: [{b.lower:.6g}, {b.upper:.6g}]  (upper/lower {b.ratio:.4g})")
        print(f"  lower: {b.lower_method}")
        print(f"  upper: {b.upper_method}")
    if perm_out is not None:
        print(f"permutation written to {args.permutation_out}")
    return 0
