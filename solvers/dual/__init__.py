"""The dual-backward equation of the mean-field PDE (SPEC section 4); mathematics in docs/dual.md.

* :func:`solve_backward` (:mod:`solvers.dual.backward`): the frozen dual (``linearised=False``; the exact
  adjoint of the forward Lagrangian step, so ``<phi(t), mu(t)>`` is constant to rounding for the
  scheme's own measures) and the linearised dual (``linearised=True``; the transposed non-local term
  ``f(x) int w(zeta, xi) Psi(t, zeta) dzeta``), both second order in ``dt``, on the grid of a forward
  Lagrangian solution whose recorded step inputs they freeze.  :class:`DualSolution` gives ``phi(t)``,
  ``d_x phi(t)``, pairings with PDE snapshots, network states and extended measures
  (:mod:`solvers.dual.pairing`), and the regularity curve.
* :func:`linearised_forward` (:mod:`solvers.dual.linearised_forward`): the linearised forward equation.
* :func:`feynman_kac` (:mod:`solvers.dual.feynman_kac`): Monte Carlo of the frozen dual, exact thinning.
* :func:`regularity` (:mod:`solvers.dual.regularity`): ``xi``-Lipschitz constant and modulus of
  continuity of ``phi(t)`` beside the derived bound ``C exp(L (T - t))``.
* :func:`predicted_variance` (:mod:`solvers.dual.variance`): ``V`` with ``Var <phi_T, mu^N_T> ~ V / N``,
  its parts, the frozen contrast and the discretisation error.

The schemes follow the contract of :class:`solvers.meanfield.base.Scheme` with their own problem type
(:class:`DualProblem`) and registry (:data:`DUAL_SCHEMES`); compiled passes in :mod:`solvers.dual._passes`.
"""
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
