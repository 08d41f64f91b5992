"""Command-line options that choose the neuron model, shared by the sub-commands.

The model is the standard neuron (SPEC section 1) unless ``--I0``, ``--intensity``/``--param`` or
``--reset`` say otherwise; parameters not given by ``--param`` take the family's defaults (for
``sigmoid`` those are the standard neuron's ``lam=10 beta=5 theta=1``).
"""
from __future__ import annotations

import argparse

from solvers.errors import bad_argument
from solvers.model import INTENSITY_FAMILIES, NeuronModel


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--I0", type=float, default=1.5, help="leaky drift b(x) = -x + I0 (default 1.5)")
    parser.add_argument("--intensity", default="sigmoid", metavar="FAMILY",
                        help=f"intensity family f, one of {sorted(INTENSITY_FAMILIES)} (default: sigmoid); "
                             "parameters not given by --param take the family's defaults (for sigmoid the "
                             "standard neuron's lam=10 beta=5 theta=1)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the intensity family, e.g. --param lam=5 (repeatable)")
    parser.add_argument("--reset", type=float, default=0.0, help="reset value x_r (default 0)")


def model_from_args(args: argparse.Namespace) -> NeuronModel:
    cfg: dict = {"family": args.intensity}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise bad_argument("--param", item, "must look like NAME=VALUE", "write e.g. --param lam=5")
        try:
            cfg[key.strip()] = float(value)
        except ValueError:
            raise bad_argument("--param", item, "VALUE must be a number (inf allowed)",
                               "write e.g. --param cap=inf") from None
    return NeuronModel.from_config({"drift": {"family": "leaky", "I0": args.I0}, "intensity": cfg,
                                    "reset": args.reset})
