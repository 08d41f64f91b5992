"""Exception types of ifmf.

Every error raised on bad input is an :class:`InvalidArgumentError` (a ``ValueError``) whose
message names the argument, shows the value, states the rule and suggests the fix.  Failures
during a computation (blow-up, negative intensity met during a run, loss of mass) are
:class:`SimulationError` (a ``RuntimeError``); no broken result is ever returned.
"""
from __future__ import annotations

from typing import Any

__all__ = ["IfmfError", "InvalidArgumentError", "SimulationError", "ConvergenceError", "bad_argument"]


class IfmfError(Exception):
    """Base class of every error raised by ifmf."""


class InvalidArgumentError(IfmfError, ValueError):
    """An argument violates a documented rule."""


class SimulationError(IfmfError, RuntimeError):
    """A computation hit a state it cannot continue from (non-finite value, negative rate, ...)."""


class ConvergenceError(IfmfError, RuntimeError):
    """An iterative or high-precision computation did not reach its stated accuracy."""


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def bad_argument(name: str, value: Any, rule: str, fix: str) -> InvalidArgumentError:
    """Build the standard error message: argument, value, rule, fix."""
    return InvalidArgumentError(f"argument {name!r} = {_show(value)}: {rule}. Fix: {fix}.")
