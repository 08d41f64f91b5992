"""Command-line options that choose the neuron model, shared by the sub-commands.

The model is the standard neuron (leaky drift ``b(x) = -x + 1.5``, sigmoid intensity
``f(x) = 10 / (1 + exp(-5 (x - 1)))``, reset to 0) unless ``--I0``, ``--intensity``/``--param`` or
``--reset`` say otherwise; parameters not given by ``--param`` take the family's defaults (for
``sigmoid`` those are the standard neuron's ``lam=10 beta=5 theta=1``).
"""
from __future__ import annotations

import argparse
from typing import Any

from solvers.errors import bad_argument
from solvers.model import INTENSITY_FAMILIES, NeuronModel

__all__ = ["add_model_arguments", "model_from_args", "model_config_from_args", "MODEL_ALIASES", "MODEL_DEFAULTS",
           "INTENSITY_PARAMETERS"]

MODEL_DEFAULTS = {"I0": 1.5, "intensity": "sigmoid", "reset": 0.0}

#: every parameter name of the intensity families (for configs: each is optional)
INTENSITY_PARAMETERS = tuple(sorted({k for fam in INTENSITY_FAMILIES.values() for k in fam.__dataclass_fields__}))

#: the library's names of model arguments -> the flags (for error messages)
MODEL_ALIASES = {"intensity.family": "--intensity", "intensity": "--intensity", "drift": "--I0", "I0": "--I0",
                 "reset": "--reset", **{k: f"--param {k}=" for k in INTENSITY_PARAMETERS}}


def add_model_arguments(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """Add ``--I0``, ``--intensity``, ``--param`` and ``--reset``.  With ``defaults=False`` an option
    not given is ``None`` (so that a config file can provide it)."""
    d = MODEL_DEFAULTS if defaults else {k: None for k in MODEL_DEFAULTS}
    g = parser.add_argument_group("neuron model (default: the standard neuron)")
    g.add_argument("--I0", type=float, default=d["I0"], help="leaky drift b(x) = -x + I0 (default 1.5)")
    g.add_argument("--intensity", default=d["intensity"], metavar="FAMILY",
                   help=f"intensity family f, one of {sorted(INTENSITY_FAMILIES)} (default: sigmoid); "
                        "parameters not given by --param take the family's defaults (for sigmoid the "
                        "standard neuron's lam=10 beta=5 theta=1)")
    g.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the intensity family, e.g. --param lam=5 (repeatable); "
                        "sigmoid: lam, beta, theta; exponential: c, beta, theta; constant: lam0; "
                        "relu: slope, theta, cap")
    g.add_argument("--reset", type=float, default=d["reset"], help="reset value x_r (default 0)")


def _params(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise bad_argument("--param", item, "must look like NAME=VALUE", "write e.g. --param lam=5")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise bad_argument("--param", item, "VALUE must be a number (inf allowed)",
                               "write e.g. --param cap=inf") from None
    return out


def _check_family_params(family: str, params: dict[str, Any]) -> None:
    """Each ``--param`` name is a parameter of ``family`` (an unknown family is left to the library,
    whose message lists the families)."""
    cls = INTENSITY_FAMILIES.get(family)
    if cls is None:
        return
    fields = cls.__dataclass_fields__
    names = list(fields)
    for key, value in params.items():
        if key not in names:  # the fix is written NAME=VALUE, which the CLI prints as --param NAME=VALUE
            raise bad_argument(f"--param {key}", value, f"is not a parameter of the intensity family {family!r}, "
                               f"whose parameters are {', '.join(names)}",
                               f"use one of them, e.g. {names[0]}={fields[names[0]].default:g}, or choose "
                               "another --intensity")


def model_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The model options given on the command line as a partial config
    ``{"I0": ..., "intensity": ..., "params": {...}, "reset": ...}`` (options not given are left out)."""
    out: dict[str, Any] = {k: getattr(args, k) for k in MODEL_DEFAULTS if getattr(args, k) is not None}
    params = _params(args.param)
    if params:
        out["params"] = params
    return out


def model_from_config(cfg: dict[str, Any]) -> NeuronModel:
    """The model of a (partial) config of :func:`model_config_from_args`, defaults filled in."""
    full = {**MODEL_DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    intensity: dict[str, Any] = {"family": full["intensity"]}
    params = {k: v for k, v in (full.get("params") or {}).items() if v is not None}
    _check_family_params(str(full["intensity"]).lower(), params)
    intensity.update(params)
    return NeuronModel.from_config({"drift": {"family": "leaky", "I0": full["I0"]}, "intensity": intensity,
                                    "reset": full["reset"]})


def model_from_args(args: argparse.Namespace) -> NeuronModel:
    return model_from_config(model_config_from_args(args))
