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

NOT_AVAILABLE = "dual rows not available: solvers.dual (the dual-backward package) cannot be imported"

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


def predicted_variance(forward: Any, phi_T: Any, *, initial: str = "deterministic") -> dict[str, float]:
    """``V`` of the fluctuations (:func:`solvers.dual.predicted_variance`, refined once for its
    discretisation error) for ``phi_T`` along the forward solution, with the frozen-dual contrast:
    keys ``V``, ``error``, ``initial``, ``martingale``, ``frozen``."""
    pred = module().predicted_variance(forward, phi_T, initial=initial)
    err = float(pred.discretisation_error)
    return {"V": float(pred.V), "error": err if err == err else 0.0, "initial": float(pred.initial),
            "martingale": float(pred.martingale), "frozen": float(pred.frozen.total)}


def weak_test_function(kernel: Any, g: Callable, psi: Callable, dpsi: Callable) -> Any:
    """The weak metric's test function ``(T_w^* g)(xi) psi(x)`` with ``Lip(psi) <= 1`` (its constants
    feed the dual's regularity bound)."""
    return module().weak_test_function(kernel, g, psi, dpsi=dpsi, lipschitz_psi=1.0)


def solve_backward(forward: Any, phi_T: Any, *, linearised: bool = True) -> Any:
    """The dual solution from ``phi_T`` (linearised by default: the adjoint that carries initial
    perturbations forward)."""
    return module().solve_backward(forward, phi_T, linearised=linearised)


def regularity(solution: Any) -> tuple[Any, Any, Any]:
    """``(t, lipschitz, bound)``: the measured ``xi``-Lipschitz constant of ``phi(t)`` and the derived
    bound ``B(T - t) <= C exp(L (T - t))`` on the dual's grid times."""
    reg = module().regularity(solution)
    return reg.times, reg.lipschitz, reg.bound


def pairing(solution: Any, t: float, measure: Any) -> float:
    """``<phi(t), measure>`` for a PDE snapshot, a network state or an extended measure."""
    return float(solution.pairing(t, measure))
