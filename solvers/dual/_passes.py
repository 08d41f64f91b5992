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
and numpy's SIMD ``np.exp`` in between (``arg`` arrays hold the exponent, then its exponential).
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
def _has_exp(code):
    return code == SIGMOID or code == EXPONENTIAL


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
@njit(fastmath=_FAST, error_model=_ERRORS)
def fwd_carry(pos, lo, hi, c, ef, eh, x_r, code, p1, p2, arg):
    """Carry slots ``[lo, hi]`` of every row over one step (``pos`` <- flow) and create the newborn in
    slot ``hi + 1`` at ``x_r`` carried ``dt/2``; ``arg`` <- exponent of ``f`` at the new positions."""
    for r in range(pos.shape[0]):
        cr = c[r]
        for s in range(lo, hi + 1):
            x1 = leaky_flow_decayed(cr, pos[r, s], ef)
            pos[r, s] = x1
            arg[r, s] = intensity_exponent(code, p1, p2, x1)
        xn = leaky_flow_decayed(cr, x_r, eh)
        pos[r, hi + 1] = xn
        arg[r, hi + 1] = intensity_exponent(code, p1, p2, xn)


@njit(fastmath=_FAST, error_model=_ERRORS)
def fwd_exponent(pos, fval, lam, lo, hi, c, dt, ef, eh, code, p0, p1, p2, hermite, arg):
    """After ``np.exp(arg)``: ``f`` at the new positions, survival exponents ``I`` of slots ``[lo, hi]``
    added to ``lam`` (``-I`` written to ``arg``); the newborn (slot ``hi + 1``) gets its ``f`` and
    ``lam = 0``.  The start positions are recovered by the exact inverse flow (as the forward does)."""
    inv_ef = 1.0 / ef
    for r in range(pos.shape[0]):
        cr = c[r]
        for s in range(lo, hi + 1):
            x1 = pos[r, s]
            f1 = intensity_from_exponential(code, p0, p1, p2, x1, arg[r, s])
            x0 = leaky_flow_decayed(cr, x1, inv_ef)
            I = _exponent(code, p0, p1, p2, x0, fval[r, s], x1, f1, cr, dt, eh, hermite)
            lam[r, s] += I
            arg[r, s] = -I
            fval[r, s] = f1
        n = hi + 1
        fval[r, n] = intensity_from_exponential(code, p0, p1, p2, pos[r, n], arg[r, n])
        lam[r, n] = 0.0
        arg[r, n] = 0.0


@njit(fastmath=_FAST, error_model=_ERRORS)
def fwd_mass(mass, lo, hi, arg, out):
    """After ``np.exp(arg)`` (survival factors): masses of slots ``[lo, hi]``, newborn mass
    ``1 - sum(survivors)`` in slot ``hi + 1`` (the forward's rule); ``out[r]`` <- the newborn mass."""
    for r in range(mass.shape[0]):
        s_sum = 0.0
        for s in range(lo, hi + 1):
            m = mass[r, s] * arg[r, s]
            mass[r, s] = m
            s_sum += m
        mass[r, hi + 1] = 1.0 - s_sum
        out[r] = 1.0 - s_sum


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
@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_carry(pos, lo, hi, c, inv_ef, code, p1, p2, arg):
    """Slots ``[lo, hi]`` one step back (``pos`` <- exact inverse flow); ``arg`` <- exponent of ``f``."""
    for r in range(pos.shape[0]):
        cr = c[r]
        for s in range(lo, hi + 1):
            x0 = leaky_flow_decayed(cr, pos[r, s], inv_ef)
            pos[r, s] = x0
            arg[r, s] = intensity_exponent(code, p1, p2, x0)


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_exponent(pos, fval, lo, hi, c, dt, ef, eh, code, p0, p1, p2, hermite, arg):
    """After ``np.exp(arg)``: ``f`` at the (start) positions; ``arg`` <- ``-I`` of the step that
    starts there; ``fval`` <- ``f`` at the start (it held ``f`` at the end)."""
    for r in range(pos.shape[0]):
        cr = c[r]
        for s in range(lo, hi + 1):
            x0 = pos[r, s]
            f0 = intensity_from_exponential(code, p0, p1, p2, x0, arg[r, s])
            x1 = leaky_flow_decayed(cr, x0, ef)
            arg[r, s] = -_exponent(code, p0, p1, p2, x0, f0, x1, fval[r, s], cr, dt, eh, hermite)
            fval[r, s] = f0


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_exponent_dx(pos, fval, lo, hi, c, dt, ef, eh, code, p0, p1, p2, hermite, arg, dI):
    """:func:`bwd_exponent` plus ``dI/dx0`` in ``dI``."""
    for r in range(pos.shape[0]):
        cr = c[r]
        for s in range(lo, hi + 1):
            x0 = pos[r, s]
            f0 = intensity_from_exponential(code, p0, p1, p2, x0, arg[r, s])
            x1 = leaky_flow_decayed(cr, x0, ef)
            I, d = _exponent_dx(code, p0, p1, p2, x0, f0, x1, fval[r, s], cr, dt, ef, eh, hermite)
            arg[r, s] = -I
            dI[r, s] = d
            fval[r, s] = f0


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_values(V, lo, hi, Q, arg):
    """``V <- S V + (1 - S) Q`` on slots ``[lo, hi]`` (``arg`` holds ``S``; ``Q`` one value per row)."""
    for r in range(V.shape[0]):
        q = Q[r]
        for s in range(lo, hi + 1):
            S = arg[r, s]
            V[r, s] = S * V[r, s] + (1.0 - S) * q


@njit(fastmath=_FAST, error_model=_ERRORS)
def bwd_values_dx(V, Dv, mass, lo, hi, Q, ef, arg, dI, psi):
    """Values, tangents and masses one step back on slots ``[lo, hi]`` (``arg`` holds ``S``):
    ``V <- S V + (1 - S) Q``, ``D <- S' (V - Q) + S e^{-dt} D`` with ``S' = -S dI/dx0``,
    ``m <- m / S`` (the forward multiplied by ``S``); ``psi[r]`` <- ``sum m D`` (``Psi`` at the start)."""
    for r in range(V.shape[0]):
        q = Q[r]
        acc = 0.0
        for s in range(lo, hi + 1):
            S = arg[r, s]
            v = V[r, s]
            d = -S * dI[r, s] * (v - q) + S * ef * Dv[r, s]
            V[r, s] = S * v + (1.0 - S) * q
            Dv[r, s] = d
            m = mass[r, s] / S if S > 0.0 else 0.0
            mass[r, s] = m
            acc += m * d
        psi[r] = acc


@njit(fastmath=_FAST, error_model=_ERRORS)
def psi_sum(mass, Dv, lo, hi, psi):
    """``psi[r] = sum_{s in [lo, hi]} mass[r, s] Dv[r, s]``."""
    for r in range(mass.shape[0]):
        acc = 0.0
        for s in range(lo, hi + 1):
            acc += mass[r, s] * Dv[r, s]
        psi[r] = acc


@njit(fastmath=_FAST, error_model=_ERRORS)
def jump_variance(mass, fval, V, lo, hi, phi_r, G, out):
    """``out[r] = sum_s m f (phi(x_r) - V + G)^2`` on slots ``[lo, hi]``: the martingale integrand of
    the fluctuation formula at one time (SPEC section 4)."""
    for r in range(V.shape[0]):
        acc = 0.0
        a = phi_r[r] + G[r]
        for s in range(lo, hi + 1):
            d = a - V[r, s]
            acc += mass[r, s] * fval[r, s] * d * d
        out[r] = acc


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
