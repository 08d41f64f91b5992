"""The studies' one door to the dual-backward package :mod:`solvers.dual` (issue 8).

The rows that need the dual (V1: measured ``N Var <phi_T, mu^N_T>`` over the predicted ``V``; V3: the
``xi``-regularity of the dual solution and ``<phi(0), mu^N_0 - mu_0>``; V4: the dual's order and
the duality defects) go through this module only.  When :mod:`solvers.dual` cannot be imported,
:func:`available` is ``False``, the tasks emit no dual rows and the analyses report
:data:`NOT_AVAILABLE` as the reason of a FAIL verdict for every criterion that needs them: those
criteria are never passed without the numbers that decide them.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

NOT_AVAILABLE = "dual rows not available: solvers.dual (issue 8, the dual-backward package) is not installed"

_MODULE: Any = None
_TRIED = False


def module() -> Any:
    """:mod:`solvers.dual`, or ``None`` when it cannot be imported (logged once)."""
    global _MODULE, _TRIED
    if not _TRIED:
        _TRIED = True
        try:
            _MODULE = importlib.import_module("solvers.dual")
        except ModuleNotFoundError as exc:
            if exc.name not in ("solvers.dual",):
                raise
            log.info("%s", NOT_AVAILABLE)
            _MODULE = None
    return _MODULE


def available() -> bool:
    """Whether :mod:`solvers.dual` is importable."""
    return module() is not None


def predicted_variance(forward: Any, phi_T: Callable, *, initial: str = "deterministic") -> dict[str, float]:
    """``V`` of SPEC section 4 for ``phi_T`` along the forward solution, with its discretisation error
    and the frozen-dual contrast: keys ``V``, ``error``, ``initial``, ``martingale``, ``frozen``."""
    dual = module()
    pred = dual.predicted_variance(forward, phi_T, initial=initial)
    return {"V": float(pred.value), "error": float(pred.error), "initial": float(pred.initial),
            "martingale": float(pred.martingale), "frozen": float(pred.frozen)}


def solve_backward(forward: Any, phi_T: Callable, *, linearised: bool = True) -> Any:
    """The dual solution from ``phi_T`` (linearised by default: the adjoint that carries initial
    perturbations forward, SPEC section 4)."""
    return module().solve_backward(forward, phi_T, linearised=linearised)


def regularity(solution: Any) -> tuple[Any, Any, Any]:
    """``(t, lipschitz, bound)``: the measured ``xi``-Lipschitz constant of ``phi(t)`` and the derived
    bound ``C exp(L (T - t))`` on the dual's time grid."""
    reg = module().regularity(solution)
    return reg.t, reg.lipschitz, reg.bound


def pairing(solution: Any, t: float, measure: Any) -> float:
    """``<phi(t), measure>`` for a PDE snapshot or a network state."""
    return float(solution.pairing(t, measure))
