r"""Compiled passes of the dual solvers (numba through :func:`solvers._compiled.njit`).

Every formula of a model family comes from the one compiled table :mod:`solvers._compiled`; the
survival exponent of a step is the forward Lagrangian scheme's (:mod:`solvers.meanfield.lagrangian`):

* ``survival_rule="hermite"``: ``I = max(0, dt/2 (f0 + f1) + dt^2/12 (g0 - g1))``, ``g = f'(x) (c - x)``;
* ``survival_rule="simpson"``: ``I = dt/6 (f0 + 4 f_mid + f1)``,

along the leaky flow ``x1 = c + (x0 - c) e^{-dt}``, ``c = I0 + hbar``; the survival factor is
``S = exp(-I)``.  The tangents use the exact derivative of this discrete ``I`` with respect to ``x0``
(``dI/dx0``, with ``dx1/dx0 = e^{-dt}``; Hermite needs ``f''``, from the same table), so ``d_x phi``
is the derivative of the computed ``phi`` itself (to rounding), not another approximation.

Layout.  The columns ("slots") of a node are indexed by birth: slots ``0 .. M0 - 1`` are the initial
datum's atoms, slot ``M0 + b - 1`` the cohort born at ``x_r`` during step ``b - 1`` (it exists from
``t_b`` on).  All rows share the slots; a slot is alive from its birth to its death step (pass 1), and
the alive slots of a step always form one contiguous range ``[lo, hi]`` (deaths are taken first in
first out, see :mod:`solvers.dual.backward`), so no compaction is ever needed: a dead slot keeps its
state at death, which is exactly what the backward pass starts from.

Hot loops follow the forward scheme's split form: compiled passes without transcendental calls,
and numpy's SIMD ``np.exp`` in between (``arg`` holds the exponent, then its exponential, in a compact
buffer of the live slots only, so that each exponential is one call on contiguous memory; the passes
loop over contiguous row segments with the family as a constant, so that LLVM vectorises them; see
the comment above pass 1).
The Simpson rule evaluates its midpoint intensity with a scalar exponential inside pass B (slower,
same results as the forward's scalar kernel to rounding).
"""
from __future__ import annotations

import math

import numpy as np

from solvers._compiled import (
    EXPONENTIAL,
    SIGMOID,
    intensity_derivative_from_value,
    intensity_exponent,
    intensity_from_exponential,
    intensity_second_derivative_from_value,
    intensity_value,
    leaky_flow_decayed,
    njit,
)
from solvers.particles._kernels import uniform

#: the forward scheme's fast-math flags: reassociation and contraction, NaN/inf kept IEEE
_FAST = {"reassoc", "contract", "arcp", "nsz"}
_ERRORS = "numpy"


@njit(inline="always")
def _exponent(code, p0, p1, p2, x0, f0, x1, f1, c, dt, eh, hermite):
    """Survival exponent ``I`` of one step from ``x0`` (``f0 = f(x0)``) to ``x1 = flow(x0)``."""
    if hermite:
        g0 = intensity_derivative_from_value(code, p0, p1, p2, x0, f0) * (c - x0)
        g1 = intensity_derivative_from_value(code, p0, p1, p2, x1, f1) * (c - x1)
        return max(0.0, 0.5 * dt * (f0 + f1) + dt * dt / 12.0 * (g0 - g1))
    fm = intensity_value(code, p0, p1, p2, leaky_flow_decayed(c, x0, eh))
    return dt / 6.0 * (f0 + 4.0 * fm + f1)


@njit(inline="always")
def _exponent_dx(code, p0, p1, p2, x0, f0, x1, f1, c, dt, ef, eh, hermite):
    """``(I, dI/dx0)`` for one step (the clipped Hermite value has derivative 0 where it is clipped)."""
    d0 = intensity_derivative_from_value(code, p0, p1, p2, x0, f0)
    d1 = intensity_derivative_from_value(code, p0, p1, p2, x1, f1)
    if hermite:
        g0 = d0 * (c - x0)
        g1 = d1 * (c - x1)
        raw = 0.5 * dt * (f0 + f1) + dt * dt / 12.0 * (g0 - g1)
        if raw <= 0.0:
            return 0.0, 0.0
        e0 = intensity_second_derivative_from_value(code, p0, p1, p2, x0, f0) * (c - x0) - d0
        e1 = intensity_second_derivative_from_value(code, p0, p1, p2, x1, f1) * (c - x1) - d1
        return raw, 0.5 * dt * (d0 + d1 * ef) + dt * dt / 12.0 * (e0 - e1 * ef)
    xm = leaky_flow_decayed(c, x0, eh)
    fm = intensity_value(code, p0, p1, p2, xm)
    dm = intensity_derivative_from_value(code, p0, p1, p2, xm, fm)
    return dt / 6.0 * (f0 + 4.0 * fm + f1), dt / 6.0 * (d0 + 4.0 * dm * eh + d1 * ef)


@njit(inline="always")
def _exponent_dxdc(code, p0, p1, p2, x0, f0, x1, f1, c, dt, ef, eh, hermite):
    """``(I, dI/dx0, dI/dc)`` for one step (``dx1/dc = 1 - e^{-dt}``): the tangent-linear forward."""
    d0 = intensity_derivative_from_value(code, p0, p1, p2, x0, f0)
    d1 = intensity_derivative_from_value(code, p0, p1, p2, x1, f1)
    a = 1.0 - ef
    if hermite:
        g0 = d0 * (c - x0)
        g1 = d1 * (c - x1)
        raw = 0.5 * dt * (f0 + f1) + dt * dt / 12.0 * (g0 - g1)
        if raw <= 0.0:
            return 0.0, 0.0, 0.0
        s0 = intensity_second_derivative_from_value(code, p0, p1, p2, x0, f0)
        s1 = intensity_second_derivative_from_value(code, p0, p1, p2, x1, f1)
        dx = 0.5 * dt * (d0 + d1 * ef) + dt * dt / 12.0 * ((s0 * (c - x0) - d0) - (s1 * (c - x1) - d1) * ef)
        # g1 = f'(x1) (c - x1): d/dc = f''(x1) a (c - x1) + f'(x1) (1 - a); g0: d/dc = f'(x0)
        dc = 0.5 * dt * d1 * a + dt * dt / 12.0 * (d0 - (s1 * a * (c - x1) + d1 * (1.0 - a)))
        return raw, dx, dc
    am = 1.0 - eh
    xm = leaky_flow_decayed(c, x0, eh)
    fm = intensity_value(code, p0, p1, p2, xm)
    dm = intensity_derivative_from_value(code, p0, p1, p2, xm, fm)
    w = dt / 6.0
    return w * (f0 + 4.0 * fm + f1), w * (d0 + 4.0 * dm * eh + d1 * ef), w * (4.0 * dm * am + d1 * a)


# ============================================================================ pass 1 (forward)
# ``rng = (lo1, hi1, lo2, hi2)``: the live initial slots ``[lo1, hi1]`` and the live born slots
# ``[lo2, hi2]`` (either may be empty, ``lo > hi``); ``nb`` the newborn's slot, or -1 for none.
#
# Vectorisation.  Each pass loops over the contiguous row segments of the live ranges in an inlined
# segment function (``_seg_*``, 1-d views indexed from 0, so no wrap-around checks), called with the
# family tag as a literal constant for the sigmoid and exponential families, and for the passes
# with a survival exponent the Hermite rule too (the ``if code == ...`` chains): the branches of the
# family table fold away and LLVM vectorises the loop (about 3 x faster than the generic scalar loop;
# same formulas, results equal to rounding, the sums reassociated).  The other cases (other families;
# the Simpson rule, whose midpoint exponential is a scalar call) run the same segment function with
# the runtime values.  Each constant case is one more compiled copy of the loop: a cold cache compiles
# the dual passes in about twice the time of the generic passes alone.
#
# ``arg`` is a compact scratch buffer, not a ``(rows, slots)`` array: row ``r`` holds its live initial
# slots, then its live born slots (then, in pass 1, the newborn's slot ``nb``) at
# ``arg[r * w : (r + 1) * w]`` (``w`` the sum, :func:`solvers.dual.backward._live_width`), so that
# the exponentials in between are one numpy call on a contiguous array.
@njit(inline="always")
def _parts(rng):
    n0 = rng[1] - rng[0] + 1
    n1 = rng[3] - rng[2] + 1
    return max(n0, 0), max(n1, 0)


@njit(inline="always")
def _seg_fwd_carry(x, a, cr, ef, code, p1, p2):
    for k in range(x.shape[0]):
        x1 = leaky_flow_decayed(cr, x[k], ef)
        x[k] = x1
        a[k] = intensity_exponent(code, p1, p2, x1)


@njit(fastmath=_FAST, error_model=_ERRORS)
def fwd_carry(pos, rng, nb, c, ef, eh, x_r, code, p1, p2, arg):
    """Carry the live slots of every row over one step (``pos`` <- flow) and create the newborn in slot
    ``nb`` at ``x_r`` carried ``dt/2``; ``arg`` <- exponent of ``f`` at the new positions."""
    n0, n1 = _parts(rng)
    w = n0 + n1 + (1 if nb >= 0 else 0)
    for r in range(pos.shape[0]):
        cr = c[r]
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                x, a = pos[r, lo:hi], arg[o:o + hi - lo]
                if code == SIGMOID:
                    _seg_fwd_carry(x, a, cr, ef, SIGMOID, p1, p2)
                elif code == EXPONENTIAL:
                    _seg_fwd_carry(x, a, cr, ef, EXPONENTIAL, p1, p2)
                else:
                    _seg_fwd_carry(x, a, cr, ef, code, p1, p2)
        if nb >= 0:
            xn = leaky_flow_decayed(cr, x_r, eh)
            pos[r, nb] = xn
            arg[r * w + n0 + n1] = intensity_exponent(code, p1, p2, xn)


@njit(inline="always")
def _seg_fwd_exponent(x, fv, lm, a, cr, dt, eh, inv_ef, code, p0, p1, p2, hermite):
    for k in range(x.shape[0]):
        x1 = x[k]
        f1 = intensity_from_exponential(code, p0, p1, p2, x1, a[k])
        x0 = leaky_flow_decayed(cr, x1, inv_ef)
        I = _exponent(code, p0, p1, p2, x0, fv[k], x1, f1, cr, dt, eh, hermite)
        lm[k] += I
        a[k] = -I
        fv[k] = f1


@njit(fastmath=_FAST, error_model=_ERRORS)
def fwd_exponent(pos, fval, lam, rng, nb, c, dt, ef, eh, code, p0, p1, p2, hermite, arg):
    """After ``np.exp(arg)``: ``f`` at the new positions, survival exponents ``I`` of the live slots
    added to ``lam`` (``-I`` written to ``arg``); the newborn gets its ``f`` and ``lam = 0``.  The start
    positions are recovered by the exact inverse flow (as the forward does)."""
    inv_ef = 1.0 / ef
    n0, n1 = _parts(rng)
    w = n0 + n1 + (1 if nb >= 0 else 0)
    for r in range(pos.shape[0]):
        cr = c[r]
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                x, fv, lm, a = pos[r, lo:hi], fval[r, lo:hi], lam[r, lo:hi], arg[o:o + hi - lo]
                if code == SIGMOID and hermite:
                    _seg_fwd_exponent(x, fv, lm, a, cr, dt, eh, inv_ef, SIGMOID, p0, p1, p2, True)
                elif code == EXPONENTIAL and hermite:
                    _seg_fwd_exponent(x, fv, lm, a, cr, dt, eh, inv_ef, EXPONENTIAL, p0, p1, p2, True)
                else:
                    _seg_fwd_exponent(x, fv, lm, a, cr, dt, eh, inv_ef, code, p0, p1, p2, hermite)
        if nb >= 0:
            fval[r, nb] = intensity_from_exponential(code, p0, p1, p2, pos[r, nb], arg[r * w + n0 + n1])
            lam[r, nb] = 0.0
            arg[r * w + n0 + n1] = 0.0


@njit(inline="always")
def _seg_fwd_mass(ms, a):
    acc = 0.0
    for k in range(ms.shape[0]):
        m = ms[k] * a[k]
        ms[k] = m
        acc += m
    return acc


@njit(fastmath=_FAST, error_model=_ERRORS)
def fwd_mass(mass, rng, nb, arg):
    """After ``np.exp(arg)`` (survival factors): masses of the live slots, newborn mass
    ``1 - sum(survivors)`` in slot ``nb`` (the forward's rule; the mass of dropped slots is re-born)."""
    n0, n1 = _parts(rng)
    w = n0 + n1 + (1 if nb >= 0 else 0)
    for r in range(mass.shape[0]):
        s_sum = 0.0
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                s_sum += _seg_fwd_mass(mass[r, lo:hi], arg[o:o + hi - lo])
        mass[r, nb] = 1.0 - s_sum


@njit
def first_alive(lam, lo, hi, lam_max):
    """The smallest slot ``s >= lo`` (at most ``hi + 1``) with ``lam[r, s] <= lam_max`` on some row:
    slots before it have survival below ``exp(-lam_max)`` on every row (first in, first out)."""
    s = lo
    while s <= hi:
        for r in range(lam.shape[0]):
            if lam[r, s] <= lam_max:
                return s
        s += 1
    return s


# ============================================================================ pass 2 (backward)
@njit(inline="always")
def _seg_bwd_carry(x, a, cr, inv_ef, code, p1, p2):
    for k in range(x.shape[0]):
        x0 = leaky_flow_decayed(cr, x[k], inv_ef)
        x[k] = x0
        a[k] = intensity_exponent(code, p1, p2, x0)


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_carry(pos, rng, c, inv_ef, code, p1, p2, arg):
    """Live slots one step back (``pos`` <- exact inverse flow); ``arg`` <- exponent of ``f``."""
    n0, n1 = _parts(rng)
    w = n0 + n1
    for r in range(pos.shape[0]):
        cr = c[r]
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                x, a = pos[r, lo:hi], arg[o:o + hi - lo]
                if code == SIGMOID:
                    _seg_bwd_carry(x, a, cr, inv_ef, SIGMOID, p1, p2)
                elif code == EXPONENTIAL:
                    _seg_bwd_carry(x, a, cr, inv_ef, EXPONENTIAL, p1, p2)
                else:
                    _seg_bwd_carry(x, a, cr, inv_ef, code, p1, p2)


@njit(inline="always")
def _seg_bwd_exponent(x, fv, lm, a, cr, dt, ef, eh, code, p0, p1, p2, hermite):
    for k in range(x.shape[0]):
        x0 = x[k]
        f0 = intensity_from_exponential(code, p0, p1, p2, x0, a[k])
        x1 = leaky_flow_decayed(cr, x0, ef)
        I = _exponent(code, p0, p1, p2, x0, f0, x1, fv[k], cr, dt, eh, hermite)
        lm[k] += I
        a[k] = -I
        fv[k] = f0


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_exponent(pos, fval, lam, rng, c, dt, ef, eh, code, p0, p1, p2, hermite, arg):
    """After ``np.exp(arg)``: ``f`` at the (start) positions; ``arg`` <- ``-I`` of the step that
    starts there, ``I`` added to ``lam``; ``fval`` <- ``f`` at the start (it held ``f`` at the end)."""
    n0, n1 = _parts(rng)
    w = n0 + n1
    for r in range(pos.shape[0]):
        cr = c[r]
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                x, fv, lm, a = pos[r, lo:hi], fval[r, lo:hi], lam[r, lo:hi], arg[o:o + hi - lo]
                if code == SIGMOID and hermite:
                    _seg_bwd_exponent(x, fv, lm, a, cr, dt, ef, eh, SIGMOID, p0, p1, p2, True)
                elif code == EXPONENTIAL and hermite:
                    _seg_bwd_exponent(x, fv, lm, a, cr, dt, ef, eh, EXPONENTIAL, p0, p1, p2, True)
                else:
                    _seg_bwd_exponent(x, fv, lm, a, cr, dt, ef, eh, code, p0, p1, p2, hermite)


@njit(inline="always")
def _seg_bwd_exponent_dx(x, fv, a, di, cr, dt, ef, eh, code, p0, p1, p2, hermite):
    for k in range(x.shape[0]):
        x0 = x[k]
        f0 = intensity_from_exponential(code, p0, p1, p2, x0, a[k])
        x1 = leaky_flow_decayed(cr, x0, ef)
        I, d = _exponent_dx(code, p0, p1, p2, x0, f0, x1, fv[k], cr, dt, ef, eh, hermite)
        a[k] = -I
        di[k] = d
        fv[k] = f0


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_exponent_dx(pos, fval, rng, c, dt, ef, eh, code, p0, p1, p2, hermite, arg, dI):
    """:func:`bwd_exponent` (without ``lam``) plus ``dI/dx0`` in ``dI``."""
    n0, n1 = _parts(rng)
    w = n0 + n1
    for r in range(pos.shape[0]):
        cr = c[r]
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                x, fv, a, di = pos[r, lo:hi], fval[r, lo:hi], arg[o:o + hi - lo], dI[r, lo:hi]
                if code == SIGMOID and hermite:
                    _seg_bwd_exponent_dx(x, fv, a, di, cr, dt, ef, eh, SIGMOID, p0, p1, p2, True)
                elif code == EXPONENTIAL and hermite:
                    _seg_bwd_exponent_dx(x, fv, a, di, cr, dt, ef, eh, EXPONENTIAL, p0, p1, p2, True)
                else:
                    _seg_bwd_exponent_dx(x, fv, a, di, cr, dt, ef, eh, code, p0, p1, p2, hermite)


@njit(inline="always")
def _seg_bwd_values(v, a, q):
    for k in range(v.shape[0]):
        S = a[k]
        v[k] = S * v[k] + (1.0 - S) * q


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_values(V, rng, Q, arg):
    """``V <- S V + (1 - S) Q`` on the live slots (``arg`` holds ``S``; ``Q`` one value per row)."""
    n0, n1 = _parts(rng)
    w = n0 + n1
    for r in range(V.shape[0]):
        q = Q[r]
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                _seg_bwd_values(V[r, lo:hi], arg[o:o + hi - lo], q)


@njit(inline="always")
def _seg_bwd_values_dx(v, dv, ms, a, di, q, ef):
    acc = 0.0
    for k in range(v.shape[0]):
        S = a[k]
        vk = v[k]
        d = -S * di[k] * (vk - q) + S * ef * dv[k]
        v[k] = S * vk + (1.0 - S) * q
        dv[k] = d
        m = ms[k] / S if S > 0.0 else 0.0
        ms[k] = m
        acc += m * d
    return acc


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_values_dx(V, Dv, mass, rng, Q, ef, arg, dI, psi):
    """Values, tangents and masses one step back on the live slots (``arg`` holds ``S``):
    ``V <- S V + (1 - S) Q``, ``D <- S' (V - Q) + S e^{-dt} D`` with ``S' = -S dI/dx0``,
    ``m <- m / S`` (the forward multiplied by ``S``); ``psi[r]`` <- ``sum m D`` (``Psi`` at the start)."""
    n0, n1 = _parts(rng)
    w = n0 + n1
    for r in range(V.shape[0]):
        q = Q[r]
        acc = 0.0
        for part in range(2):
            o = r * w + part * n0
            lo = rng[2 * part]
            hi = rng[2 * part + 1] + 1
            if hi > lo:
                acc += _seg_bwd_values_dx(V[r, lo:hi], Dv[r, lo:hi], mass[r, lo:hi], arg[o:o + hi - lo], dI[r, lo:hi],
                                          q, ef)
        psi[r] = acc


@njit(fastmath=_FAST, error_model=_ERRORS)
def psi_sum(mass, Dv, rng, psi):
    """``psi[r] = sum mass[r, s] Dv[r, s]`` over the live slots."""
    for r in range(mass.shape[0]):
        acc = 0.0
        for part in range(2):
            for s in range(rng[2 * part], rng[2 * part + 1] + 1):
                acc += mass[r, s] * Dv[r, s]
        psi[r] = acc


@njit(fastmath=_FAST, error_model=_ERRORS)
def jump_variance(mass, fval, V, rng, phi_r, G, out):
    """``out[r] = sum_s m f (phi(x_r) - V + G)^2`` over the live slots: the martingale integrand of
    the fluctuation formula at one time (SPEC section 4)."""
    for r in range(V.shape[0]):
        acc = 0.0
        a = phi_r[r] + G[r]
        for part in range(2):
            for s in range(rng[2 * part], rng[2 * part + 1] + 1):
                d = a - V[r, s]
                acc += mass[r, s] * fval[r, s] * d * d
        out[r] = acc


@njit
def enter_positions(pos, fval, slots, M0, n, xnew, beta, ef_pow, code, p0, p1, p2):
    """Positions at ``t_n`` of born slots (cohort ``b = s - M0 + 1``, born at ``xnew[b, r]``) by the
    affine map of the frozen leaky flow, ``Phi_{b->n}(x) = e^{-(n-b) dt} x + beta_n - e^{-(n-b) dt} beta_b``
    (``beta_{m+1} = e^{-dt} beta_m + c_m (1 - e^{-dt})``: rounding-level equal to the sequential flow),
    and ``f`` there."""
    for i in range(slots.shape[0]):
        s = slots[i]
        b = s - M0 + 1
        e = ef_pow[n - b]
        for r in range(pos.shape[0]):
            x = e * xnew[b, r] + beta[n, r] - e * beta[b, r]
            pos[r, s] = x
            fval[r, s] = intensity_value(code, p0, p1, p2, x)


@njit
def enter_tails(V, Dv, pos, slots, last, tangent, err):
    """Start values of born slots whose future is truncated: the quadratic extrapolation in ``x`` of
    the values (and, when ``tangent``, the slopes) of the next three younger slots at the same time,
    processed youngest first (``slots`` decreasing), so each uses slots already set.  Error
    ``O(|d_x^3 phi| dx^3)`` (``dx`` the spacing of neighbouring cohorts, ``O(dt)``); ``err[r, s]`` <- the
    difference between the quadratic and the linear extrapolation (an estimate of the linear one's
    error, which bounds the quadratic one's).  Slots without three younger neighbours (``> last``)
    start at 0 (``err = inf``)."""
    for i in range(slots.shape[0]):
        s = slots[i]
        for r in range(V.shape[0]):
            if s + 3 > last:
                V[r, s] = 0.0
                if tangent:
                    Dv[r, s] = 0.0
                err[r, s] = np.inf
                continue
            x = pos[r, s]
            x1 = pos[r, s + 1]
            x2 = pos[r, s + 2]
            x3 = pos[r, s + 3]
            d12 = x1 - x2
            d13 = x1 - x3
            d23 = x2 - x3
            scale = abs(x1) + abs(x3) + 1e-300
            if abs(d12) <= 1e-13 * scale or abs(d13) <= 1e-13 * scale or abs(d23) <= 1e-13 * scale:
                V[r, s] = V[r, s + 1]
                if tangent:
                    Dv[r, s] = Dv[r, s + 1]
                err[r, s] = abs(V[r, s + 1] - V[r, s + 2])
                continue
            l1 = (x - x2) * (x - x3) / (d12 * d13)
            l2 = (x - x1) * (x - x3) / (-d12 * d23)
            l3 = (x - x1) * (x - x2) / (d13 * d23)
            v1 = V[r, s + 1]
            v2 = V[r, s + 2]
            v3 = V[r, s + 3]
            vq = l1 * v1 + l2 * v2 + l3 * v3
            vl = v1 + (v1 - v2) * (x - x1) / d12
            V[r, s] = vq
            err[r, s] = abs(vq - vl)
            if tangent:
                Dv[r, s] = l1 * Dv[r, s + 1] + l2 * Dv[r, s + 2] + l3 * Dv[r, s + 3]


# ============================================================================ chains (points)
@njit(fastmath=_FAST, error_model=_ERRORS)
def chain_carry(x, row, c, ef, code, p1, p2, arg):
    """Points one step forward (``x`` <- flow with the ``c`` of their row); ``arg`` <- exponent."""
    for i in range(x.shape[0]):
        x1 = leaky_flow_decayed(c[row[i]], x[i], ef)
        x[i] = x1
        arg[i] = intensity_exponent(code, p1, p2, x1)


@njit(fastmath=_FAST, error_model=_ERRORS)
def chain_exponent(x, fval, row, c, dt, ef, eh, code, p0, p1, p2, hermite, arg, dI, tangent):
    """After ``np.exp(arg)``: ``f`` at the new positions, ``arg`` <- ``-I`` of the step just taken
    (start recovered by the inverse flow), ``dI`` <- ``dI/dx0`` when ``tangent``."""
    inv_ef = 1.0 / ef
    for i in range(x.shape[0]):
        cr = c[row[i]]
        x1 = x[i]
        f1 = intensity_from_exponential(code, p0, p1, p2, x1, arg[i])
        x0 = leaky_flow_decayed(cr, x1, inv_ef)
        if tangent:
            I, d = _exponent_dx(code, p0, p1, p2, x0, fval[i], x1, f1, cr, dt, ef, eh, hermite)
            dI[i] = d
        else:
            I = _exponent(code, p0, p1, p2, x0, fval[i], x1, f1, cr, dt, eh, hermite)
        arg[i] = -I
        fval[i] = f1


@njit(fastmath=_FAST, error_model=_ERRORS)
def chain_accumulate(P, acc, row, Qm, arg, dP, dacc, dI, yp, tangent):
    """One step of ``phi_n(x) = sum_m P_m (1 - S_m) Q_m + P_N phi_T(y_N)`` (``arg`` holds ``S_m``) and
    of its ``x``-derivative (``yp = dy_m/dx``); returns ``max P`` after the step."""
    pmax = 0.0
    for i in range(P.shape[0]):
        S = arg[i]
        q = Qm[row[i]]
        p = P[i]
        if tangent:
            Sx = -S * dI[i] * yp
            dp = dP[i]
            dacc[i] += dp * (1.0 - S) * q - p * Sx * q
            dP[i] = dp * S + p * Sx
        acc[i] += p * (1.0 - S) * q
        p = p * S
        P[i] = p
        if p > pmax:
            pmax = p
    return pmax


# ============================================================================ Feynman-Kac
@njit
def feynman_kac_paths(x0, t0, n0, hbar, dt, n_end, I0, x_r, code, p0, p1, p2, keys, root1, out):
    """Exact thinning of independent neurons from ``x0[p]`` at time ``t0`` (inside step ``n0``) to
    ``t_{n_end} = n_end dt``, driven by the piecewise-constant input ``hbar[m]`` on step ``m``.

    On each step the flow moves monotonically towards ``c = I0 + hbar[m]`` and ``f`` is
    non-decreasing, so ``L = max(f(x), f(c))`` dominates ``f`` until the next reset or the end of
    the step; candidates ``t + Exp(L)`` are accepted with probability ``f(x(t)) / L`` (a reset to
    ``x_r``), and a new bound is drawn after every reset and at every step boundary (exact by the
    memoryless property, as in :mod:`solvers.particles.exact`).  Uniforms come from the simulator's
    counter-based streams (one per path).  ``out[p]`` <- the state at the end."""
    T = n_end * dt
    one = np.uint64(1)
    for p in range(x0.shape[0]):
        key = keys[p]
        ctr = np.uint64(0)
        x = x0[p]
        t = t0
        m = n0
        while m < n_end:
            te = (m + 1) * dt
            if m == n_end - 1:
                te = T
            c = I0 + hbar[m]
            fc = intensity_value(code, p0, p1, p2, c)
            while True:
                fx = intensity_value(code, p0, p1, p2, x)
                L = fx if fx > fc else fc
                if L <= 0.0:
                    x = leaky_flow_decayed(c, x, math.exp(-(te - t)))
                    t = te
                    break
                u = uniform(key, ctr, root1)
                ctr += one
                tau = t - math.log(u) / L
                if tau >= te:
                    x = leaky_flow_decayed(c, x, math.exp(-(te - t)))
                    t = te
                    break
                x = leaky_flow_decayed(c, x, math.exp(-(tau - t)))
                t = tau
                u2 = uniform(key, ctr, root1)
                ctr += one
                if u2 * L < intensity_value(code, p0, p1, p2, x):
                    x = x_r
            m += 1
        out[p] = x


# ============================================================================ linearised forward
@njit
def tangent_step(pos, mass, fval, dpos, dmass, lo, hi, c, dh, dt, ef, eh, x_r, code, p0, p1, p2, hermite,
                 out, dout):
    """One step of the cohort scheme and of its tangent-linear model on slots ``[lo, hi]`` of every row
    (rows are nodes), newborn in slot ``hi + 1``.

    Base: ``x1 = flow(x0)``, ``m1 = m0 S``, newborn ``1 - sum m1`` at ``x_r`` carried ``dt/2``.
    Tangent (``dh[r]`` the perturbation of ``hbar`` on the row): ``dx1 = e^{-dt} dx0 + (1 - e^{-dt}) dh``,
    ``dm1 = dm0 S - m0 S (I_x dx0 + I_c dh)``, newborn ``-sum dm1`` at ``dx = (1 - e^{-dt/2}) dh``.
    ``out[r] = (r, mass)``, ``dout[r] = (dr, dmass)`` with ``r = sum m f`` and
    ``dr = sum (dm f + m f' dx)`` after the step."""
    for r in range(pos.shape[0]):
        cr = c[r]
        h = dh[r]
        s_m = 0.0
        s_dm = 0.0
        rate = 0.0
        drate = 0.0
        for s in range(lo, hi + 1):
            x0 = pos[r, s]
            f0 = fval[r, s]
            x1 = leaky_flow_decayed(cr, x0, ef)
            f1 = intensity_value(code, p0, p1, p2, x1)
            I, Ix, Ic = _exponent_dxdc(code, p0, p1, p2, x0, f0, x1, f1, cr, dt, ef, eh, hermite)
            S = math.exp(-I)
            m0 = mass[r, s]
            dx1 = ef * dpos[r, s] + (1.0 - ef) * h
            dm1 = dmass[r, s] * S - m0 * S * (Ix * dpos[r, s] + Ic * h)
            m1 = m0 * S
            pos[r, s] = x1
            fval[r, s] = f1
            mass[r, s] = m1
            dpos[r, s] = dx1
            dmass[r, s] = dm1
            s_m += m1
            s_dm += dm1
            rate += m1 * f1
            drate += dm1 * f1 + m1 * intensity_derivative_from_value(code, p0, p1, p2, x1, f1) * dx1
        n = hi + 1
        xn = leaky_flow_decayed(cr, x_r, eh)
        fn = intensity_value(code, p0, p1, p2, xn)
        mn = 1.0 - s_m
        dxn = (1.0 - eh) * h
        dmn = -s_dm
        pos[r, n] = xn
        fval[r, n] = fn
        mass[r, n] = mn
        dpos[r, n] = dxn
        dmass[r, n] = dmn
        out[r, 0] = rate + mn * fn
        out[r, 1] = s_m + mn
        dout[r, 0] = drate + dmn * fn + mn * intensity_derivative_from_value(code, p0, p1, p2, xn, fn) * dxn
        dout[r, 1] = s_dm + dmn
