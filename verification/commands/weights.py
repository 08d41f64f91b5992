"""``ifmf weights NAME --N N...``: write the weight matrices of a named sequence to files.

One file per size, ``DIR/NAME_N.EXT``: ``.npy`` for dense matrices and ``.npz``
(``scipy.sparse.save_npz``) for the sparse ``erdos-renyi``, unless ``--format`` asks for ``csv`` or
``mtx``.  Random sequences take ``--seed`` (required for them); the matrix is the one
``ifmf simulate --kernel NAME --N N --seed S`` simulates (see
:func:`verification.commands._common.weights_seed`).  Every file is checked before any matrix is
built and written atomically (:mod:`verification.commands._output`).  ``--json`` prints the list of
files with their size, format and ``kappa_N``.
"""
from __future__ import annotations

import argparse
import io
import os

from verification.commands._common import add_json_flag, add_memory_flag, emit_json, sequences_help
from verification.commands._output import check_output, report_fallback, save_with_fallback

NAME = "weights"
HELP = "write the weight matrices of a named sequence (ring, hub, ...) to files, one per size N"
DESCRIPTION = f"""\
Write W for each size N of a named sequence to DIR/NAME_N.EXT, e.g.
  ifmf weights hub --N 250 500 1000     (hub_250.npy, hub_500.npy, hub_1000.npy)
then check them with 'ifmf check-weights hub_*.npy' or simulate one with --weights.

Named sequences (W_ii = 0; row i = postsynaptic neuron i):
{sequences_help()}

Formats: npy (dense, default) and npz (scipy.sparse.save_npz; the default for erdos-renyi) are read
back exactly; csv writes 17 significant digits (exact for float64); mtx is MatrixMarket."""
ALIASES = {"name": "NAME", "N": "--N"}

_EXT = {"npy": ".npy", "npz": ".npz", "csv": ".csv", "mtx": ".mtx"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="a named sequence (list above)")
    parser.add_argument("--N", type=int, nargs="+", required=True, metavar="N", help="one or more sizes")
    parser.add_argument("--seed", type=int, help="seed of a random sequence (required for them, an int >= 0)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="storage of dense matrices (default float64)")
    parser.add_argument("--format", choices=sorted(_EXT), help="file format (default npy, npz for sparse)")
    parser.add_argument("--out-dir", default=".", metavar="DIR", help="folder of the files (default: here)")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    add_memory_flag(parser)
    add_json_flag(parser)


def _writer(W, fmt: str):
    import numpy as np
    import scipy.io
    import scipy.sparse as sp

    def write(fh) -> None:
        if fmt == "npy":
            np.save(fh, W.toarray() if sp.issparse(W) else W, allow_pickle=False)
        elif fmt == "npz":
            if sp.issparse(W):
                sp.save_npz(fh, W)
            else:
                np.savez_compressed(fh, W=W)
        elif fmt == "csv":
            text = io.StringIO()
            np.savetxt(text, W.toarray() if sp.issparse(W) else W, delimiter=",", fmt="%.17g")
            fh.write(text.getvalue().encode("ascii"))
        else:
            scipy.io.mmwrite(fh, sp.coo_matrix(W) if sp.issparse(W) else W, precision=17)

    return write


def run(args: argparse.Namespace) -> int:
    from solvers.errors import bad_argument
    from solvers.graphons import sequence_info
    from solvers.validation import check_int, check_seed
    from verification.commands._common import named_weights
    from verification.hypotheses import weight_statistics

    info = sequence_info(args.name)
    sizes = [check_int("--N", n, 2 if info.name == "hub" else 1, "pass e.g. --N 250 500 1000") for n in args.N]
    if len(set(sizes)) != len(sizes):
        raise bad_argument("--N", args.N, "repeats a size (the files would have the same name)", "list each N once")
    if info.random:
        if args.seed is None:
            raise bad_argument("--seed", None, f"sequence {info.name!r} is random and needs a seed",
                               "pass e.g. --seed 1")
        check_seed(args.seed, "--seed")
    elif args.seed is not None:
        raise bad_argument("--seed", args.seed, f"sequence {info.name!r} is deterministic", "drop --seed")
    fmt = args.format or ("npz" if info.sparse else "npy")
    if not os.path.isdir(args.out_dir):
        raise bad_argument("--out-dir", args.out_dir, "is not a folder", f"create it first (mkdir -p {args.out_dir})")
    paths = {N: os.path.normpath(os.path.join(args.out_dir, f"{info.name}_{N}{_EXT[fmt]}")) for N in sizes}
    for p in paths.values():  # every file checked before any matrix is built
        check_output("--out-dir", p, force=args.force, suffixes=(_EXT[fmt],), example=os.path.basename(p))
    rows, code = [], 0
    for N in sizes:
        W = named_weights("NAME", info.name, N, seed=args.seed if info.random else 0, dtype=args.dtype,
                          max_memory=args.max_memory)
        where, reason = save_with_fallback(paths[N], _writer(W, fmt))
        if where != os.path.abspath(paths[N]):
            code = report_fallback(NAME, "--out-dir", paths[N], where, reason)
        st = weight_statistics(W)
        shown = paths[N] if where == os.path.abspath(paths[N]) else where
        rows.append({"name": info.name, "N": N, "path": shown, "format": fmt, "dtype": str(W.dtype),
                     "sparse": bool(info.sparse), "kappa_N": st["kappa_N"], "seed": args.seed})
        del W
    if args.json:
        emit_json({"files": rows})
        return code
    for r in rows:
        if r["path"] is not None:
            print(f"{r['path']}  N = {r['N']}  kappa_N = {r['kappa_N']:.6g}  ({r['format']}, {r['dtype']})")
    return code
