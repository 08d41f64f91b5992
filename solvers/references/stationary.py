"""Homogeneous stationary state of SPEC section 3 (``w = J`` constant), in mpmath, by two methods.

The stationary rate solves ``r = Phi(J r)``, ``h = J r``, and the stationary mean is
``E[X] = r int_0^inf x(s) S(s) ds``.  Both are computed twice, by the age quadrature
(:mod:`.age_quadrature`) and by the independent space quadrature (:mod:`.space_quadrature`), at
working precision ``dps + 15`` digits; the two must agree to ``dps - 5`` digits, else
:class:`~solvers.errors.ConvergenceError` naming both values.

The fixed point ``r = Phi(J r)`` is bracketed by a scan of ``g(r) = Phi(J r) - r`` over
``[0, r_max]`` (``r_max = sup f``, or ``Phi(0)`` when ``J < 0`` and ``f`` is unbounded, or
``max(10 Phi(0), 10)`` for unbounded ``f`` with ``J > 0``) on ``n_scan = 400`` points with the
double-precision ``Phi`` (:func:`~solvers.references.phi_double`), polished by Newton in double
precision, then solved by a secant iteration (safeguarded by the bracket) for each method
separately, in mpmath.  For ``J <= 0`` and non-decreasing ``Phi`` the fixed point is unique.  For
``J > 0`` (e.g. a sigmoid) several may exist: :func:`stationary_states` returns all those found by
the scan (two roots closer than the scan step, or a tangency, can be missed), and
:func:`stationary_rate` takes ``which="unique"`` (default: raise if the scan finds more than
one), ``"lowest"``, ``"highest"`` or an index.  ``"lowest"`` is the state reached by the monotone
iteration ``r_{k+1} = Phi(J r_k)`` from ``r_0 = 0`` when ``J > 0`` and ``Phi`` is non-decreasing.

Degenerate cases: ``x* = x_r`` (the neuron never moves: ``Phi = f(x_r)``, mean ``x_r``) and
``f(x*) = 0`` (the neuron stops firing with positive probability: ``E[ISI] = inf``,
``Phi = 0``, the stationary state is the Dirac at ``x*``).
"""
from __future__ import annotations

import functools
import logging
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from solvers.errors import ConvergenceError, bad_argument
from solvers.model import NeuronModel
from solvers.validation import check_choice, check_instance, check_int, check_real

from . import age_quadrature as _age
from . import space_quadrature as _space
from ._common import _GUARD_DPS, _digits
from .transfer_double import phi_double

__all__ = ["StationaryState", "stationary_mean", "stationary_rate", "stationary_states"]

logger = logging.getLogger(__name__)
mp = mpmath.mp


@dataclass(frozen=True)
class StationaryState:
    """Homogeneous stationary state of SPEC section 3 for ``w = J``.

    Attributes
    ----------
    rate : mpf
        ``r`` (from the age quadrature).
    rate_age, rate_space : mpf
        Fixed points ``r = Phi(J r)`` solved separately with each quadrature.
    input : mpf
        ``h = J r``.
    fixed_point : mpf
        ``x*``, zero of ``b + h``.
    mean, mean_age, mean_space : mpf
        Stationary ``E[X] = r int x(s) S(s) ds`` (``mean = mean_age``).
    J : float
    dps : int
        Requested digits.
    digits_agreed : float
        ``-log10`` of the relative difference of the two methods (rate and mean, the smaller).
    all_rates : tuple of float
        Every fixed point found by the scan (see module docstring).
    """

    rate: Any
    rate_age: Any
    rate_space: Any
    input: Any
    fixed_point: Any
    mean: Any
    mean_age: Any
    mean_space: Any
    J: float
    dps: int
    digits_agreed: float
    all_rates: tuple = field(default=())

    def __float__(self) -> float:
        return float(self.rate)


def _phi_age(model, h):
    q = _age.isi_integrals(model, h)
    return (1 / q.T if q.T != mpmath.inf else mpmath.mpf(0)), q


def _phi_space(model, h):
    q = _space.isi_integrals(model, h)
    return (1 / q.T if q.T != mpmath.inf else mpmath.mpf(0)), q


def _secant(g: Callable, r0, r1, bracket, tol, what: str):
    """Secant iteration for ``g(r) = 0`` from ``r0, r1`` (started within ~1e-12 of the root by the
    double-precision Newton polish); a step leaving ``bracket = (lo, hi)`` is replaced by the
    midpoint of the bracket.  Stops when the step is below ``tol |r|``."""
    lo, hi = bracket
    g0 = g(r0)
    if g0 == 0:
        return r0
    g1 = g(r1)
    for _ in range(60):
        if g1 == 0:
            return r1
        r2 = r1 - g1 * (r1 - r0) / (g1 - g0) if g1 != g0 else r1
        if lo is not None and not (lo <= r2 <= hi):
            r2 = (lo + hi) / 2
        if abs(r2 - r1) <= tol * max(abs(r2), mpmath.mpf(10) ** -6):
            return r2
        r0, g0 = r1, g1
        r1, g1 = r2, g(r2)
    raise ConvergenceError(f"{what}: the secant iteration did not converge in 60 steps "
                           f"(last r = {mpmath.nstr(r1, 20)})")


def _scan_fixed_points(model: NeuronModel, J: float, n_scan: int = 400) -> list[tuple[float, float, float]]:
    """Brackets ``(lo, hi, r_newton)`` of the zeros of ``g(r) = Phi(J r) - r`` on ``[0, r_max]``."""
    P0, _ = phi_double(model, np.array([0.0]))
    P0 = float(P0[0])
    sup = model.intensity.sup
    if math.isfinite(sup):
        r_max = sup
    elif J < 0:
        r_max = P0
    else:
        r_max = max(10 * P0, 10.0)
    if r_max <= 0:
        return [(0.0, 0.0, 0.0)]
    # a little beyond r_max: g < 0 there when Phi <= sup f, so a root at r_max is bracketed
    grid = np.linspace(0.0, r_max * (1 + 1e-6) + 1e-9, n_scan + 1)
    P, _ = phi_double(model, J * grid)
    g = P - grid
    out = []
    for i in range(n_scan):
        a, b = g[i], g[i + 1]
        if a == 0:
            out.append((grid[i], grid[i], grid[i]))
        elif a * b < 0:
            lo, hi = grid[i], grid[i + 1]
            r = lo - a * (hi - lo) / (b - a)
            for _ in range(30):  # Newton in double precision, kept in the bracket
                Pr, Ppr = phi_double(model, np.array([J * r]))
                gr = float(Pr[0]) - r
                dg = J * float(Ppr[0]) - 1.0
                rn = r - gr / dg if dg != 0 else 0.5 * (lo + hi)
                if not lo <= rn <= hi:
                    rn = 0.5 * (lo + hi)
                if abs(rn - r) < 1e-14 * max(1.0, abs(r)):
                    r = rn
                    break
                r = rn
            out.append((lo, hi, r))
    if g[-1] == 0:
        out.append((grid[-1], grid[-1], grid[-1]))
    return out


def _solve_state(model: NeuronModel, J: float, dps: int, lo: float, hi: float, r0: float,
                 all_rates: tuple) -> StationaryState:
    with mp.workdps(dps + _GUARD_DPS):
        Jm = mpmath.mpf(J)
        tol = mpmath.mpf(10) ** (-(dps + 1))
        if J == 0:
            ra, qa = _phi_age(model, mpmath.mpf(0))
            rs, qs = _phi_space(model, mpmath.mpf(0))
        else:
            def ga(r):
                return _phi_age(model, Jm * r)[0] - r

            def gs(r):
                return _phi_space(model, Jm * r)[0] - r

            bracket = (mpmath.mpf(lo), mpmath.mpf(hi)) if lo < hi else (None, None)
            rr0 = mpmath.mpf(r0)
            rr1 = rr0 * (1 + mpmath.mpf(10) ** -9) + mpmath.mpf(10) ** -12
            ra = _secant(ga, rr0, rr1, bracket, tol, f"stationary_rate (age, J = {J})")
            ra1 = ra * (1 + mpmath.mpf(10) ** -(dps // 2)) + mpmath.mpf(10) ** -(dps // 2 + 3)
            rs = _secant(gs, ra, ra1, bracket, tol, f"stationary_rate (space, J = {J})")
            qa = _age.isi_integrals(model, Jm * ra)
            qs = _space.isi_integrals(model, Jm * rs)
        ma = qa.M / qa.T if qa.T != mpmath.inf else qa.xs
        ms = qs.M / qs.T if qs.T != mpmath.inf else qs.xs
        dig = min(_digits(ra, rs), _digits(ma, ms) if (ma != 0 or ms != 0) else mp.dps)
        logger.debug("stationary state J=%s: rate %s (age, %d panels) / %s (space, %d panels), %.1f digits",
                     J, mpmath.nstr(ra, dps), qa.panels, mpmath.nstr(rs, dps), qs.panels, dig)
        need = max(dps - 5, 1)
        if dig < need:
            raise ConvergenceError(
                f"stationary state (J = {J}): age and space quadratures agree to {dig:.1f} < {need} digits: "
                f"rate {mpmath.nstr(ra, dps)} vs {mpmath.nstr(rs, dps)}, mean {mpmath.nstr(ma, dps)} vs "
                f"{mpmath.nstr(ms, dps)}")
        return StationaryState(rate=ra, rate_age=ra, rate_space=rs, input=Jm * ra, fixed_point=qa.xs,
                               mean=ma, mean_age=ma, mean_space=ms, J=float(J), dps=dps,
                               digits_agreed=min(float(dig), float(dps + _GUARD_DPS)), all_rates=all_rates)


@functools.lru_cache(maxsize=256)
def _states_cached(model: NeuronModel, J: float, dps: int) -> tuple:
    if J == 0:
        return (_solve_state(model, 0.0, dps, 0.0, 0.0, 0.0, ()),)
    found = _scan_fixed_points(model, J)
    rates = tuple(float(r) for _, _, r in found)
    return tuple(_solve_state(model, J, dps, lo, hi, r, rates) for lo, hi, r in found)


def stationary_states(model: NeuronModel, J, *, dps: int = 30) -> tuple[StationaryState, ...]:
    """All homogeneous stationary states found by the scan (see the module docstring), ascending rate.

    Parameters
    ----------
    model : NeuronModel
    J : float
        Constant kernel value ``w = J``.
    dps : int, keyword, default 30
        Requested significant digits; the two quadratures must agree to ``dps - 5`` digits, else
        :class:`~solvers.errors.ConvergenceError`.
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    J = check_real("J", J)
    dps = check_int("dps", dps, 15, "pass e.g. dps=30", maximum=200)
    try:
        hash(model)
    except TypeError:  # pragma: no cover - unhashable custom callables
        return _states_cached.__wrapped__(model, J, dps)
    return _states_cached(model, J, dps)


def stationary_rate(model: NeuronModel, J, *, dps: int = 30, which: str | int = "unique") -> StationaryState:
    """Homogeneous stationary state ``r = Phi(J r)`` (SPEC section 3), confirmed by two quadratures.

    Parameters
    ----------
    model : NeuronModel
    J : float
        Constant kernel ``w = J``; input ``h = J r``.
    dps : int, keyword, default 30
        Requested significant digits (the age and space quadratures must agree to ``dps - 5``
        digits, i.e. 25 for the default, else :class:`~solvers.errors.ConvergenceError` naming both).
    which : {"unique", "lowest", "highest"} or int, keyword
        Which fixed point when several exist (``J > 0``): ``"unique"`` raises
        :class:`~solvers.errors.ConvergenceError` listing them.

    Returns
    -------
    StationaryState
        ``float(state)`` is the rate.
    """
    index = isinstance(which, numbers.Integral) and not isinstance(which, bool)
    if not index:   # checked before the (expensive) computation
        which = check_choice("which", which, ("unique", "lowest", "highest"),
                             "use 'unique', 'lowest', 'highest' or an int index")
    states = stationary_states(model, J, dps=dps)
    if index:
        if not -len(states) <= which < len(states):
            raise bad_argument("which", which, f"index out of range: {len(states)} fixed point(s) found",
                               f"pass an index in [0, {len(states) - 1}]")
        return states[which]
    if which == "unique":
        if len(states) > 1:
            raise ConvergenceError(f"J = {J}: {len(states)} fixed points r = Phi(J r) found "
                                   f"({', '.join(f'{float(s.rate):.12g}' for s in states)}); "
                                   "pass which='lowest', 'highest' or an index")
        return states[0]
    return states[0] if which == "lowest" else states[-1]


def stationary_mean(model: NeuronModel, J, *, dps: int = 30, which: str | int = "unique"):
    """Stationary mean ``E[X]`` of the homogeneous state (both quadratures agree to ``dps - 5``
    digits, else :class:`~solvers.errors.ConvergenceError`).  Returns an mpf."""
    return stationary_rate(model, J, dps=dps, which=which).mean


