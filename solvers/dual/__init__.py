"""Dual-backward equation of the mean-field PDE (SPEC section 4)."""
from __future__ import annotations

from . import backward as _backward  # noqa: F401 (registers the schemes)
from .backward import solve_backward
from .base import (
                   DUAL_SCHEMES,
                   DualCounters,
                   DualProblem,
                   DualScheme,
                   DualSolution,
                   GridTerminal,
                   LinearisedSnapshot,
                   TerminalConstants,
                   TerminalFunction,
                   WeakTestFunction,
                   weak_test_function,
)
from .feynman_kac import FeynmanKacEstimate, feynman_kac
from .linearised_forward import LinearisedSolution, Perturbation, linearised_forward, perturbed_initial
from .regularity import Regularity, regularity
from .variance import Prediction, VarianceParts, predicted_variance

__all__ = ["solve_backward", "DualSolution", "DualCounters", "DualProblem", "DualScheme", "DUAL_SCHEMES",
           "TerminalFunction", "GridTerminal", "WeakTestFunction", "weak_test_function", "TerminalConstants",
           "LinearisedSnapshot", "feynman_kac", "FeynmanKacEstimate", "linearised_forward", "LinearisedSolution",
           "Perturbation", "perturbed_initial", "regularity", "Regularity", "predicted_variance", "Prediction",
           "VarianceParts"]
