"""``ifmf solve [CONFIG.toml]``: one run of the mean-field PDE solver, from flags or a TOML config.

The run is described by :data:`SCHEMA` (a :class:`verification.config.Table`): a config file gives
any of its fields, the flags override the file, and the merged description is validated and hashed
(:func:`verification.config.validate`), so the printed config hash names exactly what was solved.
Without a file every field takes its default (the standard neuron on the ``ring`` kernel from
``x0 = 0`` up to ``t_end = 10``).  The kernel is a named kernel (``kernel.name``) or the step kernel
``N W`` of a weight file (``kernel.file``; relative to the config file's folder when it comes from
the config).  Prints a summary (population rate over time, final rates, mass error, counters), or
one JSON object with ``--json``; ``--out FILE.npz`` stores the time series (rules of
:mod:`verification.commands._output`).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any

from solvers.graphons import KERNELS
from solvers.model import INTENSITY_FAMILIES
from verification.commands._common import add_json_flag, emit_json
from verification.commands._model_options import (
    INTENSITY_PARAMETERS,
    MODEL_ALIASES,
    MODEL_DEFAULTS,
    add_model_arguments,
    model_config_from_args,
    model_from_config,
)
from verification.commands._output import check_output, report_fallback, save_with_fallback
from verification.config import Integer, Real, String, Table, describe_schema, load_config, validate

NAME = "solve"
COMPILES = True  # numba loops: the CLI says once when they are being compiled
KERNEL_PARAMETERS = ("J0", "J1", "a", "b", "J")

SCHEMA = Table({
    "t_end": Real(minimum=0.0, exclusive_minimum=True, default=10.0, doc="horizon T (membrane time constants)"),
    "dt": Real(minimum=0.0, exclusive_minimum=True, default=None, doc="time step (default: the scheme's)"),
    "n_xi": Integer(minimum=1, default=64, doc="number of xi nodes"),
    "method": String(choices=("lagrangian", "upwind"), default="lagrangian", doc="the scheme"),
    "x0": Real(default=0.0, doc="initial potential of every neuron (a Dirac mass on every slice)"),
    "x0_file": String(default=None, doc="per-neuron initial potentials (.npy/.csv/.txt), instead of x0"),
    "save_every": Real(minimum=0.0, exclusive_minimum=True, default=None,
                       doc="interval of the printed population rates (default t_end / 10)"),
    "kernel": Table({
        "name": String(choices=tuple(KERNELS), default=None, doc="a named kernel (default ring)"),
        "file": String(default=None, doc="a weight file: the step kernel N W"),
        "params": Table({k: Real(default=None) for k in KERNEL_PARAMETERS},
                        doc="parameters of the named kernel (ring: J0, J1; two-block: a, b; constant: J)"),
    }),
    "model": Table({
        "I0": Real(default=MODEL_DEFAULTS["I0"], doc="leaky drift b(x) = -x + I0"),
        "intensity": String(choices=tuple(INTENSITY_FAMILIES), default=MODEL_DEFAULTS["intensity"]),
        "reset": Real(default=MODEL_DEFAULTS["reset"], doc="reset value x_r"),
        "params": Table({k: Real(default=None) for k in INTENSITY_PARAMETERS},
                        doc="parameters of the intensity family (the family's defaults otherwise)"),
    }),
})
"""The fields of an ``ifmf solve`` config (TOML)."""

HELP = "solve the mean-field PDE once, from flags or a TOML config file; print rates and counters"
DESCRIPTION = """\
Solve the spatially-extended mean-field PDE
    d_t rho + d_x[(b(x) + h(t, xi)) rho] = -f(x) rho + r(t, xi) delta_{x_r}(x)
    r(t, xi) = int f(x) rho dx,   h(t, xi) = int_0^1 w(xi, zeta) r(t, zeta) dzeta
from a Dirac mass at x0 on every slice (or per-neuron values), with the Lagrangian scheme (order 2
in dt, the reference) or the upwind baseline (order 1).

  ifmf solve --kernel ring --t-end 5 --dt 0.01
  ifmf solve run.toml                      (a config file; flags given as well override it)

Config fields (TOML; every field optional):
""" + "\n".join(f"  {line}" for line in describe_schema(SCHEMA)) + """

Time is in membrane time constants; rates are spikes per unit time.  --out FILE.npz stores
t (n_t,), xi (n_xi,), rates, inputs, masses, means, second_moments (n_t, n_xi) and meta_json
(the config, its hash, the counters)."""
ALIASES = {**MODEL_ALIASES, "t_end": "--t-end", "n_xi": "--n-xi", "initial": "--x0", "kernel": "--kernel",
           "params": "--kernel-param", "name": "--kernel", "path": "--weights", "W": "--weights"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", metavar="CONFIG.toml", help="a TOML config file (fields above)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--kernel", metavar="NAME", help=f"a named kernel, one of {list(KERNELS)} (default ring)")
    src.add_argument("--weights", metavar="FILE", help="a weight file: solve with the step kernel N W")
    parser.add_argument("--kernel-param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the named kernel, e.g. --kernel-param J1=0.8 (repeatable)")
    parser.add_argument("--t-end", type=float, help="horizon T (default 10)")
    parser.add_argument("--dt", type=float, help="time step (default: the scheme's; a step that does not divide "
                        "T is shrunk to the nearest one that does, and the change is reported)")
    parser.add_argument("--n-xi", type=int, help="number of xi nodes (default 64)")
    parser.add_argument("--method", help="lagrangian (default) or upwind")
    init = parser.add_mutually_exclusive_group()
    init.add_argument("--x0", type=float, help="initial potential of every neuron (default 0)")
    init.add_argument("--x0-file", metavar="FILE", help="per-neuron initial potentials (a network state)")
    parser.add_argument("--save-every", type=float, metavar="DT", help="interval of the printed rates (default T/10)")
    add_model_arguments(parser, defaults=False)
    parser.add_argument("--out", metavar="FILE.npz", help="write the time series here")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    add_json_flag(parser)


def _kernel_params(items: list[str]) -> dict[str, float]:
    from solvers.errors import bad_argument

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value) if sep else None
        except ValueError:
            out[key.strip()] = None
        if not sep or out[key.strip()] is None or key.strip() not in KERNEL_PARAMETERS:
            raise bad_argument("--kernel-param", item, f"must look like NAME=NUMBER with NAME one of "
                               f"{list(KERNEL_PARAMETERS)}", "write e.g. --kernel-param J1=0.8")
    return out


def _flag(flag: str, ftype, value: Any) -> Any:
    """A flag's value checked by its config field type; the error names the flag."""
    from solvers.errors import bad_argument
    from verification.config import ConfigError

    try:
        return ftype.check(flag, value)
    except ConfigError:
        raise bad_argument(flag, value, f"must be {ftype.describe()}", f"pass e.g. {flag} {_example(ftype)}") from None


def _example(ftype) -> str:
    if isinstance(ftype, String) and ftype.choices:
        return ftype.choices[0]
    if isinstance(ftype, Integer):
        return "64"
    return "10" if getattr(ftype, "exclusive_minimum", False) else "1.5"


def merged_config(args: argparse.Namespace):
    """The validated :class:`~verification.config.Config` of the config file (if any) with the flags
    given on top (each flag checked first, so that an error names the flag)."""
    f = SCHEMA.fields
    data: dict[str, Any] = {}
    if args.config is not None:
        data = json.loads(json.dumps(load_config(args.config, SCHEMA).data))
        folder = os.path.dirname(os.path.abspath(args.config))
        for holder, key in ((data["kernel"], "file"), (data, "x0_file")):
            if holder.get(key) is not None and not os.path.isabs(holder[key]):
                holder[key] = os.path.join(folder, holder[key])
    for dest, flag in (("t_end", "--t-end"), ("dt", "--dt"), ("n_xi", "--n-xi"), ("method", "--method"),
                       ("save_every", "--save-every"), ("x0", "--x0")):
        if getattr(args, dest) is not None:
            data[dest] = _flag(flag, f[dest], getattr(args, dest))
    if args.x0 is not None:
        data["x0_file"] = None
    if args.x0_file is not None:
        data["x0_file"] = args.x0_file
    kernel = data.setdefault("kernel", {})
    if args.kernel is not None:
        kernel.update(name=_flag("--kernel", f["kernel"].fields["name"], args.kernel), file=None)
    if args.weights is not None:
        kernel.update(name=None, file=args.weights)
    if args.kernel_param:
        kernel["params"] = {**(kernel.get("params") or {}), **_kernel_params(args.kernel_param)}
    model = data.setdefault("model", {})
    given = model_config_from_args(args)
    mf = f["model"].fields
    if "intensity" in given:
        family = _flag("--intensity", mf["intensity"], given["intensity"])
        if family != model.get("intensity", MODEL_DEFAULTS["intensity"]):
            model["params"] = {}  # another family: the file's parameters were for the old one
        model["intensity"] = family
    for key, flag in (("I0", "--I0"), ("reset", "--reset")):
        if key in given:
            model[key] = _flag(flag, mf[key], given[key])
    if "params" in given:
        unknown = [k for k in given["params"] if k not in INTENSITY_PARAMETERS]
        if unknown:
            from solvers.errors import bad_argument

            raise bad_argument("--param", unknown[0], f"is not a parameter of any intensity family "
                               f"({list(INTENSITY_PARAMETERS)})", "see --help for the parameters of each family")
        model["params"] = {**(model.get("params") or {}), **given["params"]}
    return validate(_drop_none(data), SCHEMA, source=args.config)


def _drop_none(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    return d


def _kernel(cfg: dict):
    from solvers.errors import bad_argument
    from solvers.graphons import load_weights, named_kernel, step_kernel

    k = cfg["kernel"]
    params = {p: v for p, v in k["params"].items() if v is not None}
    if k["file"] is not None:
        if k["name"] is not None:
            raise bad_argument("kernel", k, "give kernel.name or kernel.file, not both", "remove one of them")
        if params:
            raise bad_argument("--kernel-param", params, "only applies to a named kernel", "drop the kernel parameters")
        return step_kernel(load_weights(k["file"]), name=os.path.basename(k["file"])), k["file"]
    name = k["name"] or "ring"
    return named_kernel(name, **params), name


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from solvers import __version__
    from solvers.meanfield import solve
    from verification.commands._common import read_values_file

    out = None
    if args.out is not None:
        out = check_output("--out", args.out, force=args.force, suffixes=(".npz",), example="solution.npz")
    config = merged_config(args)
    cfg = config.data
    model = model_from_config({"I0": cfg["model"]["I0"], "intensity": cfg["model"]["intensity"],
                               "reset": cfg["model"]["reset"], "params": cfg["model"]["params"]})
    kernel, kernel_label = _kernel(cfg)
    initial = read_values_file("--x0-file", cfg["x0_file"]) if cfg["x0_file"] is not None else cfg["x0"]
    T = cfg["t_end"]
    every = cfg["save_every"] or T / 10
    n_print = int(np.floor(T / every + 1e-9))
    if n_print > 10**5:
        from solvers.errors import bad_argument

        raise bad_argument("--save-every", every, f"prints {n_print + 1} lines", "pass a larger interval")
    times = np.append(np.arange(n_print + 1) * every, T) if n_print * every < T * (1 - 1e-12) else \
        np.arange(n_print + 1) * every
    times = np.minimum(times, T)
    sol = solve(model, kernel, T, initial, method=cfg["method"], dt=cfg["dt"], n_xi=cfg["n_xi"], save_times=[0.0, T])
    pop = sol.rate(times).mean(axis=-1)
    mass_err = float(np.max(np.abs(sol.masses - 1.0)))
    counters = sol.counters.as_dict() if sol.counters is not None else {}
    summary = {"config": cfg, "config_hash": config.hash, "kernel": kernel_label, "method": sol.method,
               "order": sol.order, "quadrature": sol.quadrature, "t": times, "population_rate": pop,
               "xi": sol.xi, "rate_final": sol.rates[-1], "mean_final": sol.means[-1], "mass_error": mass_err,
               "counters": counters, "out": None}
    code = 0
    if out is not None:
        meta = {"config": cfg, "config_hash": config.full_hash, "counters": counters, "method": sol.method,
                "quadrature": sol.quadrature, "kernel": kernel_label, "ifmf_version": __version__}
        arrays = {"t": sol.t, "xi": sol.xi, "rates": sol.rates, "inputs": sol.inputs, "masses": sol.masses,
                  "means": sol.means, "second_moments": sol.second_moments,
                  "meta_json": np.array(json.dumps(meta, default=float))}
        where, reason = save_with_fallback(out, lambda fh: np.savez_compressed(fh, **arrays))
        summary["out"] = where
        if where != out:
            code = report_fallback(NAME, "--out", args.out, where, reason)
    if args.json:
        emit_json(summary)
        return code
    c = counters
    dt_note = (f" (requested {c['dt_requested']:g}, adjusted to divide T)" if c.get("dt_adjusted") else "")
    print(f"mean-field PDE, kernel {kernel_label}, {sol.method} (order {sol.order}), n_xi = {sol.xi.size} "
          f"({sol.quadrature}), config {config.hash}")
    print(f"T = {T:g}, dt = {sol.dt:g}{dt_note}, {c.get('steps')} steps, {c.get('wall_time', float('nan')):.3f} s, "
          f"{c.get('distinct_nodes')} distinct nodes computed")
    print("population rate (mean over xi, spikes per unit time):")
    for t, r in zip(times, pop):
        print(f"  t = {t:<8.4g} {r:.8g}")
    r = sol.rates[-1]
    print(f"rate at T over xi: min {r.min():.8g}, max {r.max():.8g}; max |mass - 1| = {mass_err:.3g}")
    if out is not None and summary["out"] == out:
        print(f"written {args.out}")
    return code
