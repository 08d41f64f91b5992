"""Shared pieces of the references: the drift's fixed point, local constants, the degenerate cases.

Used by both stationary quadratures (:mod:`.age_quadrature`, :mod:`.space_quadrature`), which never
import each other: what they share is only the problem statement (the fixed point ``x*`` of
``v = b + h``, the contraction rate ``kappa = -v'(x*)``, a local Lipschitz constant of ``f``, the
kinks of ``f``, the tolerance) and the closed-form answers of the two degenerate cases.  The last
two helpers are the double-precision evaluations of ``f, f'`` and ``b'`` used by
:mod:`.transfer_double` and :mod:`.linear_response`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from solvers.errors import ConvergenceError, bad_argument
from solvers.model import Leaky, NeuronModel, ReLU
from solvers.validation import check_real

mp = mpmath.mp

_GUARD_DPS = 15          # extra working digits
_MAX_PANELS = 20000      # panels per quadrature before ConvergenceError


# ============================================================================== helpers (mp)
def _drift_mp(model: NeuronModel, h) -> Callable:
    b = model.drift
    return lambda x: b.mp(x) + h


def _is_leaky(model: NeuronModel) -> bool:
    return isinstance(model.drift, Leaky)


def _kinks(model: NeuronModel) -> list:
    """``x`` values where the intensity is not smooth (ReLU corners)."""
    f = model.intensity
    out = []
    if isinstance(f, ReLU) and f.slope > 0:
        out.append(mpmath.mpf(f.theta))
        if math.isfinite(f.cap):
            out.append(mpmath.mpf(f.theta) + mpmath.mpf(f.cap) / mpmath.mpf(f.slope))
    return out


def _fixed_point_mp(model: NeuronModel, h) -> tuple:
    """``(x*, sigma)``: first zero of ``v = b + h`` met from ``x_r`` and the direction of motion
    (``sigma = sign(v(x_r))``, 0 if ``v(x_r) = 0``)."""
    xr = mpmath.mpf(model.reset)
    if _is_leaky(model):
        xs = mpmath.mpf(model.drift.I0) + h
        return xs, int(mpmath.sign(xs - xr))
    v = _drift_mp(model, h)
    v0 = v(xr)
    if v0 == 0:
        return xr, 0
    sigma = int(mpmath.sign(v0))
    step = mpmath.mpf(1) / 8
    a = xr
    for _ in range(200):
        b = a + sigma * step
        if mpmath.sign(v(b)) != sigma:
            lo, hi = (a, b) if sigma > 0 else (b, a)
            xs = mpmath.findroot(v, (lo, hi), solver="anderson")
            return mpmath.mpf(xs), sigma
        a = b
        step *= 2
    raise bad_argument("model.drift", model.drift,
                       f"v(x) = b(x) + h (h = {mpmath.nstr(h, 8)}) has no zero reachable from x_r = "
                       f"{model.reset}; the stationary references need a stable fixed point x*",
                       "use a drift with a stable zero (e.g. Leaky)")


def _intensity_derivative_mp(model: NeuronModel, x):
    return mpmath.diff(model.intensity.mp, x)


def _local_lipschitz(model: NeuronModel, lo, hi):
    """An upper estimate of ``|f'|`` on ``[lo, hi]``: exact for the named families (global constant,
    or ``beta f(hi)`` for the exponential), ``2 max(|f'(lo)|, |f'(hi)|)`` (heuristic) otherwise."""
    f = model.intensity
    if f.kind == "exponential":
        return mpmath.mpf(f.beta) * f.mp(max(lo, hi))
    L = f.lipschitz
    if math.isfinite(L):
        return mpmath.mpf(L)
    return 2 * max(abs(_intensity_derivative_mp(model, lo)), abs(_intensity_derivative_mp(model, hi))) + 1


def _kappa(model: NeuronModel, xs):
    """``-v'(x*)``: contraction rate of the flow at ``x*`` (1 for the leaky drift)."""
    if _is_leaky(model):
        return mpmath.mpf(1)
    k = -mpmath.diff(model.drift.mp, xs)
    if not k > 0:
        raise ConvergenceError(f"the fixed point x* = {mpmath.nstr(xs, 12)} of the drift is not strictly "
                               f"stable (v'(x*) = {mpmath.nstr(-k, 6)}); the stationary quadratures need v'(x*) < 0")
    return k


def _tolerance():
    """Target relative accuracy of one quadrature: ``10^-(dps + 3)`` for the requested ``dps``
    (the ambient working precision carries ``_GUARD_DPS`` more digits)."""
    return mpmath.mpf(10) ** (-(mp.dps - _GUARD_DPS + 3))


# ============================================================================== one quadrature's result
@dataclass(frozen=True)
class _Quad:
    """Result of one quadrature: ``T = E[ISI]``, ``M = int x S`` (so ``mean = M / T``)."""

    T: Any
    M: Any
    xs: Any
    panels: int
    method: str


def _degenerate(model: NeuronModel, h, method: str):
    """Common start of both quadratures: the fixed point ``x*`` of ``v = b + h``, the side ``sigma``
    of ``x_r`` relative to it, ``f(x*)``, and the closed-form answer (or ``None``) in the two
    degenerate cases: ``x_r = x*`` (the neuron sits at ``x*`` and fires at rate ``f(x*)``) and
    ``f(x*) = 0`` (it may never fire: infinite mean interspike interval)."""
    xs, sigma = _fixed_point_mp(model, h)
    lam_star = model.intensity.mp(xs)
    if lam_star <= 0:
        return xs, sigma, lam_star, _Quad(mpmath.inf, mpmath.inf, xs, 0, method)
    if sigma == 0:
        xr = mpmath.mpf(model.reset)
        return xs, sigma, lam_star, _Quad(1 / lam_star, xr / lam_star, xs, 0, method)
    return xs, sigma, lam_star, None




# ============================================================================== inputs, digits
def _as_mpf(name: str, value: Any):
    """``value`` as an mpf at the ambient precision (an mpf is kept as is; anything else must be a
    finite real, :func:`~solvers.validation.check_real`)."""
    if isinstance(value, mpmath.mpf):
        return value
    return mpmath.mpf(check_real(name, value))


def _digits(a, b):
    """Number of agreeing significant digits of ``a`` and ``b`` (``mp.dps`` when equal)."""
    if a == b:
        return mp.dps
    scale = max(abs(a), abs(b))
    if scale == 0:
        return mp.dps
    return float(-mpmath.log10(abs(a - b) / scale))


# ============================================================================== double precision
def _intensity_and_derivative(model: NeuronModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = model.intensity
    return f(x), np.asarray(f.derivative(x), dtype=float)


def _drift_derivative(model: NeuronModel, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.drift.derivative(x), dtype=float)
