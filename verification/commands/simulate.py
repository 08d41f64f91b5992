"""``ifmf simulate``: simulate a network of stochastic integrate-and-fire neurons and summarise it.

The network is a named weight sequence (``--kernel NAME --N N``, a name of
:data:`solvers.graphons.WEIGHT_SEQUENCES`) or a user's matrix (``--weights FILE``, see
:func:`solvers.graphons.load_weights`).  The neuron is the standard neuron unless ``--I0``,
``--intensity``/``--param`` or ``--reset`` say otherwise.  Prints a summary table (rates, counters,
speed) or, with ``--json``, one JSON object; ``--out FILE.npz`` stores spikes, recorded states and
the run's metadata (see :mod:`verification.commands._output` for the rules: checked before the run,
written atomically, never overwritten without ``--force``, a fallback file when the write fails).
The memory of dense named weights is estimated before they are built (``--max-memory``).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys

import numpy as np

from verification.commands._common import (
    add_json_flag,
    add_memory_flag,
    emit_json,
    named_weights,
    read_values_file,
    sequences_help,
)
from verification.commands._model_options import MODEL_ALIASES, add_model_arguments, model_from_args
from verification.commands._output import check_output, report_fallback, save_with_fallback

NAME = "simulate"
COMPILES = True  # numba loops: the CLI says once when they are being compiled
HELP = ("simulate a network exactly (event-driven thinning) or with a clock scheme; print rates and "
        "counters, optionally write spikes and recorded states to an .npz file")
DESCRIPTION = f"""\
Simulate N stochastic integrate-and-fire neurons: between spikes dX_i/dt = b(X_i); neuron j fires
at rate f(X_j); at a spike of j, X_j is reset to x_r and every other X_i jumps by W_ij.

Time unit: the membrane time constant (the leaky drift b(x) = -x + I0 relaxes at rate 1), so
--t-end 10 is ten time constants and rates are spikes per neuron per unit time.

Network: --kernel NAME --N N (a named sequence, below) or --weights FILE (.npy, .npz, .csv, .mtx;
row i = postsynaptic neuron i).  Named sequences:
{sequences_help()}

Initial state: --x0 VALUE (every neuron) or --x0-file FILE (one value per neuron: .npy holding a
1-D array of length N, or .csv/.txt with one number per line).

Output: a summary table (or one JSON object with --json).  --out FILE.npz also stores
  spike_times (n_spikes,), spike_neurons (n_spikes,)  every spike, sorted by time
  save_times (R,), states (R, N)                      all potentials at the recorded times
                                                      (--record-every; default only at T)
  rate_edges (bins + 1,), rate (bins,)                population rate histogram (--bins)
  meta_json                                           JSON text: N, T, seed, method, model, counters
Read it with numpy.load(FILE) (no pickle needed)."""
ALIASES = {**MODEL_ALIASES, "t_end": "--t-end", "initial": "--x0", "x0": "--x0", "save_times": "--record-every",
           "weights": "--weights", "model.intensity": "--intensity", "bin_width": "--bins", "name": "--kernel",
           "path": "--weights"}

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--kernel", metavar="NAME", help="named weight sequence (list above; needs --N)")
    src.add_argument("--weights", metavar="FILE", help="weight matrix file (.npy, .npz, .csv, .mtx)")
    parser.add_argument("--N", type=int, help="number of neurons (with --kernel)")
    parser.add_argument("--t-end", type=float, default=10.0, help="horizon T in membrane time constants (default 10)")
    parser.add_argument("--seed", type=int, help="random seed (required, an int >= 0) of the dynamics; "
                        "random kernels use its first SeedSequence child")
    parser.add_argument("--operator", choices=("dense", "low-rank", "on-the-fly"), default="dense",
                        help="how the weights of a named kernel (--kernel ring, two-block, constant, skew, "
                             "product) are held: dense N x N matrix (default), low-rank factors U diag(s) V^T / N "
                             "(O(R) per event, O(N R) memory: N = 10^6 fits in under 1 GB), or evaluated on the "
                             "fly, w(xi_i, xi_j) / N for the firing column (O(N) per spike, no matrix)")
    parser.add_argument("--method", choices=("exact", "clock"), default="exact", help="exact (default) or clock")
    parser.add_argument("--dt", type=float, help="time step of the clock method (rule: dt * sup f <= 1)")
    init = parser.add_mutually_exclusive_group()
    init.add_argument("--x0", type=float, default=0.0, help="initial potential of every neuron (default 0)")
    init.add_argument("--x0-file", metavar="FILE", help="per-neuron initial potentials (.npy 1-D array of length N, "
                      "or .csv/.txt with one value per line)")
    parser.add_argument("--record-every", type=float, metavar="DT",
                        help="record all potentials every DT (default: only at T)")
    parser.add_argument("--bins", type=int, default=10, help="bins of the population rate (default 10)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="storage of dense named weights (default float64)")
    add_memory_flag(parser)
    add_model_arguments(parser)
    parser.add_argument("--out", metavar="FILE.npz", help="write spikes, states and metadata here")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    add_json_flag(parser)


def _weights(args: argparse.Namespace):
    from solvers.errors import bad_argument
    from solvers.graphons import load_weights

    if args.weights is not None:
        if args.N is not None:
            raise bad_argument("--N", args.N, "is set by the file given with --weights", "drop --N")
        return load_weights(args.weights), os.path.basename(args.weights)
    if args.N is None:
        raise bad_argument("--N", None, "--kernel needs the number of neurons", "pass e.g. --N 1000")
    if args.operator != "dense":
        from solvers.graphons import KERNELS, named_kernel, sequence_info
        from solvers.validation import check_int

        key = sequence_info(args.kernel).name  # the one registry of names (unknown names raise there)
        if key not in KERNELS:
            raise bad_argument("--operator", args.operator, f"needs a named kernel, not the sequence {args.kernel!r}",
                               f"use --kernel one of {sorted(KERNELS)}, or --operator dense")
        N = check_int("--N", args.N, 1, "pass e.g. --N 1000")
        kernel = named_kernel(key)
        if args.operator == "low-rank":
            from solvers.particles import LowRankOperator

            return LowRankOperator.from_kernel(kernel, N), f"{key} (low rank)"
        from solvers.particles import OnTheFlyOperator

        return OnTheFlyOperator(kernel, N), f"{key} (on the fly)"
    return named_weights("--kernel", args.kernel, args.N, seed=args.seed, dtype=args.dtype,
                         max_memory=args.max_memory), args.kernel


def _initial(args: argparse.Namespace, N: int):
    if args.x0_file is None:
        return args.x0
    return read_values_file("--x0-file", args.x0_file, N)


def _save_times(args: argparse.Namespace, T: float):
    from solvers.validation import check_positive

    if args.record_every is None:
        return None
    every = check_positive("--record-every", args.record_every, "pass e.g. --record-every 0.1")
    n = int(math.floor(T / every + 1e-9))
    if n > 10**6:
        from solvers.errors import bad_argument

        raise bad_argument("--record-every", every, f"records {n + 1} states of the network (more than 10^6)",
                           "pass a larger interval")
    times = np.minimum(np.arange(n + 1) * every, T)
    if times[-1] < T:
        times = np.append(times, T)
    return times


def run(args: argparse.Namespace) -> int:
    from solvers import __version__
    from solvers.validation import check_int, check_positive, check_seed

    if args.seed is None:  # the output is random: never a silent default seed
        from solvers.errors import bad_argument

        raise bad_argument("--seed", None, "is required (the run is random; the same seed gives the same spikes)",
                           "pass e.g. --seed 1")
    check_seed(args.seed, "--seed")  # before anything uses it (the kernel's seed is derived from it)
    T = check_positive("--t-end", args.t_end, "pass e.g. --t-end 10")
    check_int("--bins", args.bins, 1, "pass e.g. --bins 10")
    out = None
    if args.out is not None:  # before any work: an empty path, a folder, an existing file, a read-only folder
        out = check_output("--out", args.out, force=args.force, suffixes=(".npz",), example="run.npz")
    model = model_from_args(args)
    save_times = _save_times(args, T)
    W, source = _weights(args)
    x0 = _initial(args, (W.N if hasattr(W, "N") else W.shape[0]))
    from solvers.particles import simulate  # numba: imported once the inputs are known to be good

    try:  # a progress bar on stderr when it is a terminal and the run lasts more than a few seconds
        res = simulate(model, W, T, x0, args.seed, method=args.method, dt=args.dt, save_times=save_times)
    except KeyboardInterrupt as exc:  # Ctrl-C: the simulator stops within one chunk and discards the run
        where = "; ".join(getattr(exc, "__notes__", [])) or "the partial run is discarded"
        print(f"ifmf simulate: interrupted (Ctrl-C): {where}; nothing was written", file=sys.stderr)
        return 130
    pr = res.population_rate(T / args.bins)
    syn = res.n_spikes * (res.N - 1) / res.wall_time if res.wall_time > 0 else math.nan
    summary = {
        "network": source, "operator": res.info.operator, "weights_dtype": res.info.dtype, "N": res.N, "t_end": T,
        "method": res.method, "dt": res.dt, "bound": res.info.describe_bound(), "seed": args.seed,
        "n_spikes": res.n_spikes, "mean_rate": res.mean_rate, "rate_first_bin": float(pr.rate[0]),
        "rate_last_bin": float(pr.rate[-1]), "rate_edges": pr.edges, "rate": pr.rate,
        "n_candidates": res.n_candidates, "acceptance_ratio": res.acceptance_ratio, "wall_time": res.wall_time,
        "synaptic_events_per_second": syn, "out": None,
    }
    code = 0
    if out is not None:
        meta = {"N": res.N, "t_end": T, "seed": args.seed, "method": res.method, "dt": res.dt,
                "network": source, "model": model.to_config(), "n_candidates": res.n_candidates,
                "n_spikes": res.n_spikes, "wall_time": res.wall_time,
                "x0": args.x0 if args.x0_file is None else None, "x0_file": args.x0_file,
                "weights_dtype": res.info.dtype, "record_every": args.record_every,
                "bins": args.bins, "weights_file": args.weights,
                "weights_seed": ("SeedSequence(seed).spawn(1)[0]" if args.kernel is not None else None),
                "ifmf_version": __version__}
        arrays = {"spike_times": res.spike_times, "spike_neurons": res.spike_neurons,
                  "save_times": res.save_times, "states": res.states, "rate_edges": pr.edges, "rate": pr.rate,
                  "meta_json": np.array(json.dumps(meta))}
        where, reason = save_with_fallback(out, lambda fh: np.savez_compressed(fh, **arrays))
        summary["out"] = where
        if where != out:
            code = report_fallback(NAME, "--out", args.out, where, reason)
    if args.json:
        emit_json(summary)
        return code
    rows = [
        ("network", f"{source} ({res.info.operator}, {res.info.dtype})"),
        ("N", f"{res.N}"),
        ("T", f"{T:g}"),
        ("method", f"{res.method}" + (f" (dt = {res.dt:g})" if res.dt else f" (bound {res.info.describe_bound()})")),
        ("seed", f"{args.seed}"),
        ("spikes", f"{res.n_spikes}"),
        ("mean rate (per neuron per unit time)", f"{res.mean_rate:.4f}"),
        (f"rate in first bin [0, {pr.edges[1]:g})", f"{pr.rate[0]:.4f}"),
        (f"rate in last bin [{pr.edges[-2]:g}, {pr.edges[-1]:g}]", f"{pr.rate[-1]:.4f}"),
        ("candidates" if res.method == "exact" else "Bernoulli trials", f"{res.n_candidates}"),
        ("acceptance ratio", f"{res.acceptance_ratio:.4f}"),
        ("wall time (s)", f"{res.wall_time:.3g}"),
        ("synaptic events per second" + ("" if args.operator == "dense" else " (spikes x (N - 1) / wall)"),
         f"{syn:.3e}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if out is not None and summary["out"] == out:
        print(f"written {args.out}")
    return code
