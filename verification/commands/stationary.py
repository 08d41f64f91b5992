"""``ifmf stationary``: stationary firing rates of the mean-field equation.

Two references of :mod:`solvers.references`:

* homogeneous (``--J J``, default 1; the kernel ``w = J``): every fixed point ``r = Phi(J r)``
  (:func:`~solvers.references.stationary_states`) in mpmath, each confirmed by two independent
  quadratures (age and space variables) at working precision ``dps + 15``, printed to ``--dps``
  digits (fewer only if the two agree on fewer) with the digits on which they agree;
* spatially extended (``--kernel NAME``): ``r(xi) = Phi(int w(xi, zeta) r(zeta) dzeta)`` by Newton on
  an ``--n-xi`` Nystrom grid (:func:`~solvers.references.spatial_stationary`, double precision),
  with the uniqueness and stability information it reports.
"""
from __future__ import annotations

import argparse
import math

from verification.commands._common import add_json_flag, emit_json
from verification.commands._model_options import MODEL_ALIASES, add_model_arguments, model_from_args

NAME = "stationary"
HELP = "stationary firing rates of the mean-field equation (homogeneous w = J in mpmath, or a named kernel)"
DESCRIPTION = """\
Stationary states of the mean-field equation for the neuron model (default: the standard neuron).
  ifmf stationary --J 1                 every fixed point r = Phi(J r) of the homogeneous kernel w = J,
                                        mpmath to --dps digits, confirmed by two quadratures
  ifmf stationary --kernel ring         r(xi) = Phi(int w(xi, zeta) r(zeta) dzeta) on an --n-xi grid
                                        (Newton, double precision), with uniqueness and stability
Rates are spikes per unit time (the membrane time constant is the time unit).
Kernels for --kernel: ring, two-block, constant, skew, product."""
ALIASES = {**MODEL_ALIASES, "J": "--J", "dps": "--dps", "n_xi": "--n-xi", "n": "--n-xi", "kernel": "--kernel",
           "name": "--kernel"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--J", type=float, help="homogeneous kernel w = J (default 1)")
    which.add_argument("--kernel", metavar="NAME", help="a named kernel: the spatially-extended state")
    parser.add_argument("--dps", type=int, default=30, help="digits of the homogeneous computation (default 30)")
    parser.add_argument("--n-xi", type=int, default=64, help="grid of the spatially-extended state (default 64)")
    parser.add_argument("--no-stability", action="store_true",
                        help="skip the linear stability of the PDE (spatial state; saves about a second)")
    add_model_arguments(parser)
    add_json_flag(parser)


def _homogeneous(args: argparse.Namespace, model) -> int:
    import mpmath

    from solvers.references import stationary_states

    J = 1.0 if args.J is None else args.J
    states = stationary_states(model, J, dps=args.dps)
    # the references compute at dps + 15 working digits (solvers.references); digits_agreed is how far
    # the age and space quadratures agree there (at least dps - 5, else the reference raises)
    working = args.dps + 15
    out = []
    for s in states:
        # the requested digits, fewer only when the two quadratures do not confirm that many
        shown = max(1, min(args.dps, math.floor(s.digits_agreed)))
        out.append({**{k: mpmath.nstr(getattr(s, k), shown)
                       for k in ("rate", "input", "fixed_point", "mean", "rate_age", "rate_space")},
                    "digits": shown, "digits_agreed": s.digits_agreed, "working_dps": working})
    if args.json:
        emit_json({"kind": "homogeneous", "J": J, "dps": args.dps, "states": out})
        return 0
    print(f"homogeneous stationary states, w = J = {J:g} ({len(states)} found; mpmath, {args.dps} digits)")
    for k, (s, o) in enumerate(zip(states, out)):
        print(f"state {k}: rate r = {o['rate']}")
        print(f"  input h = J r = {o['input']}; x* = {o['fixed_point']} (zero of b + h)")
        print(f"  mean E[X] = {o['mean']}")
        print(f"  the age and space quadratures agree to {s.digits_agreed:.1f} digits (working precision "
              f"dps + 15 = {working} digits); {o['digits']} digits shown")
    return 0


def _spatial(args: argparse.Namespace, model) -> int:
    import numpy as np

    from solvers.graphons import named_kernel
    from solvers.references import spatial_stationary

    kernel = named_kernel(args.kernel)
    st = spatial_stationary(model, kernel, args.n_xi, check_pde_stability=not args.no_stability)
    stab = st.pde_stability
    out = {"kind": "spatial", "kernel": kernel.name, "n_xi": int(st.xi.size), "quadrature": st.quadrature,
           "xi": st.xi, "rate": st.rate, "input": st.input, "iterations": st.iterations, "residual": st.residual,
           "spectral_radius": st.spectral_radius, "rate_dynamics_stable": st.rate_dynamics_stable,
           "contraction_estimate": st.contraction_estimate, "unique": st.unique,
           "pde_stable": None if stab is None else stab.stable}
    if args.json:
        emit_json(out)
        return 0
    r = st.rate
    print(f"spatially-extended stationary state, kernel {kernel.name}, n_xi = {st.xi.size} ({st.quadrature})")
    print(f"rate r(xi): min {r.min():.12g}, mean {np.mean(r):.12g}, max {r.max():.12g}")
    print(f"Newton: {st.iterations} iterations, residual {st.residual:.3g}")
    print(f"unique: {'yes (contraction)' if st.unique else 'unknown'} (contraction estimate "
          f"{st.contraction_estimate:.4g}); rate dynamics {'stable' if st.rate_dynamics_stable else 'unstable'}")
    if stab is not None:
        print(f"PDE linear stability (homogeneous state): {'stable' if stab.stable else 'unstable'} "
              f"(numerical, argument principle; min margin {float(np.min(stab.margin)):.3g})")
    return 0


def run(args: argparse.Namespace) -> int:
    model = model_from_args(args)
    if args.kernel is not None:
        return _spatial(args, model)
    return _homogeneous(args, model)
