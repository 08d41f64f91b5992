"""``ifmf simulate``: simulate a network of stochastic integrate-and-fire neurons and summarise it.

The network is a named weight sequence of SPEC section 8 (``--kernel NAME --N N``, any name accepted by
:func:`solvers.graphons.build_weights`) or a user's matrix (``--weights FILE``, see
:func:`solvers.graphons.load_weights`).  The neuron is the standard neuron unless ``--I0``,
``--intensity``/``--param`` or ``--reset`` say otherwise.  Prints a summary table (rates, counters,
speed); ``--out FILE.npz`` stores spikes, recorded states and the run's metadata (written to a
temporary file in the same folder, then renamed, so a crash never leaves a truncated file).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile

import numpy as np

from solvers import __version__
from solvers.errors import bad_argument
from solvers.graphons import WEIGHT_SEQUENCES, build_weights, load_weights
from solvers.particles import METHODS, simulate
from solvers.validation import check_int, check_positive, check_seed
from verification.commands._model_options import add_model_arguments, model_from_args

NAME = "simulate"
HELP = ("simulate a network exactly (event-driven thinning) or with a clock scheme; print rates and "
        "counters, optionally write spikes and recorded states to an .npz file")

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--kernel", metavar="NAME",
                     help=f"named weight sequence, one of {list(WEIGHT_SEQUENCES)} (needs --N)")
    src.add_argument("--weights", metavar="FILE", help="weight matrix file (.npy, .npz, .csv, .mtx)")
    parser.add_argument("--N", type=int, help="number of neurons (with --kernel)")
    parser.add_argument("--t-end", type=float, default=10.0, help="horizon T (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0, an int >= 0) of the dynamics; "
                        "random kernels use its first SeedSequence child")
    parser.add_argument("--method", choices=METHODS, default="exact", help="exact (default) or clock")
    parser.add_argument("--dt", type=float, help="time step of the clock method (rule: dt * sup f <= 1)")
    parser.add_argument("--x0", type=float, default=0.0, help="initial potential of every neuron (default 0)")
    parser.add_argument("--record-every", type=float, metavar="DT",
                        help="record all potentials every DT (default: only at T)")
    parser.add_argument("--bins", type=int, default=10, help="bins of the population rate (default 10)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="storage of dense named weights (default float64)")
    add_model_arguments(parser)
    parser.add_argument("--out", metavar="FILE.npz", help="write spikes, states and metadata here")


def _weights(args: argparse.Namespace):
    if args.weights is not None:
        if args.N is not None:
            raise bad_argument("--N", args.N, "is set by the file given with --weights", "drop --N")
        return load_weights(args.weights), os.path.basename(args.weights)
    if args.N is None:
        raise bad_argument("--N", None, "--kernel needs the number of neurons", "pass e.g. --N 1000")
    dtype = np.float32 if args.dtype == "float32" else np.float64
    # random weights use a child of the seed, so they are independent of the dynamics' streams
    w_seed = np.random.SeedSequence(args.seed).spawn(1)[0]
    return build_weights(args.kernel, args.N, seed=w_seed, dtype=dtype), args.kernel


def _check_out(path: str) -> None:
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise bad_argument("--out", path, "its folder does not exist", "create the folder first")
    if not path.endswith(".npz"):
        raise bad_argument("--out", path, "must end with .npz", "pass e.g. --out run.npz")


def _write_npz_atomic(path: str, arrays: dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", prefix=".ifmf-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args: argparse.Namespace) -> int:
    check_seed(args.seed, "--seed")  # before anything uses it (the kernel's seed is derived from it)
    check_positive("--t-end", args.t_end, "pass e.g. --t-end 10")
    if args.out:
        _check_out(args.out)
    model = model_from_args(args)
    W, source = _weights(args)
    T = float(args.t_end)
    save_times = None
    if args.record_every is not None:
        every = check_positive("--record-every", args.record_every, "pass e.g. --record-every 0.1")
        n = int(math.floor(T / every + 1e-9))
        save_times = np.minimum(np.arange(n + 1) * every, T)
        if save_times[-1] < T:
            save_times = np.append(save_times, T)
    check_int("--bins", args.bins, 1, "pass e.g. --bins 10")
    try:  # a progress bar on stderr when it is a terminal and the run lasts more than a few seconds
        res = simulate(model, W, T, args.x0, args.seed, method=args.method, dt=args.dt, save_times=save_times)
    except KeyboardInterrupt as exc:  # Ctrl-C: the simulator stops within one chunk and discards the run
        where = "; ".join(getattr(exc, "__notes__", [])) or "the partial run is discarded"
        print(f"ifmf simulate: interrupted (Ctrl-C): {where}; nothing was written", file=sys.stderr)
        return 130
    pr = res.population_rate(T / args.bins)
    syn = res.n_spikes * (res.N - 1) / res.wall_time if res.wall_time > 0 else math.nan
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
        ("wall time (s)", f"{res.wall_time:.3f}"),
        ("synaptic events per second", f"{syn:.3e}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.out:
        meta = {"N": res.N, "t_end": T, "seed": args.seed, "method": res.method, "dt": res.dt,
                "network": source, "model": model.to_config(), "n_candidates": res.n_candidates,
                "n_spikes": res.n_spikes, "wall_time": res.wall_time, "x0": args.x0,
                "weights_dtype": res.info.dtype, "record_every": args.record_every,
                "bins": args.bins, "weights_file": args.weights,
                "weights_seed": ("SeedSequence(seed).spawn(1)[0]" if args.kernel is not None else None),
                "ifmf_version": __version__}
        _write_npz_atomic(args.out, {
            "spike_times": res.spike_times, "spike_neurons": res.spike_neurons,
            "save_times": res.save_times, "states": res.states,
            "rate_edges": pr.edges, "rate": pr.rate, "meta_json": np.array(json.dumps(meta)),
        })
        print(f"written {args.out}")
    return 0
