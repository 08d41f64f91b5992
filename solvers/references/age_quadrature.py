"""Age quadrature (the primary method): ``E[ISI]`` and ``int x S`` in the age variable, in mpmath.

One neuron with constant input ``h`` has drift ``v(x) = b(x) + h``; ``x*`` is the first zero of
``v`` met from the reset value ``x_r``.  The age ``s`` is the time since reset, ``x(s)`` the flow
from ``x_r`` (closed form ``c + (x_r - c) e^{-s}`` for :class:`~solvers.model.Leaky`,
``mpmath.odefun`` otherwise), ``S(s) = exp(-Lambda(s))``, ``Lambda(s) = int_0^s f(x(u)) du``, and
``E[ISI] = int_0^inf S(s) ds``.

Adaptive panels in ``s`` with ``n = 33`` Chebyshev-Lobatto nodes: ``Lambda`` by the spectral
(Clenshaw-Curtis) indefinite-integration matrix, ``int S`` and ``int x S`` by Clenshaw-Curtis; a
panel is accepted when the last two Chebyshev coefficients of ``f(x(s))``, ``S`` and ``x`` are
below the tolerance, else halved.  Kinks of the intensity (ReLU) are panel boundaries.  Tail
beyond ``s_1``: ``S(s_1) / f(x*)``, with the error bound
``S(s_1)/f(x*) (exp(L |x(s_1) - x*| / kappa) - 1)`` (``L`` a local Lipschitz constant of ``f``,
``kappa = -v'(x*)``) required below the tolerance before stopping.

This module never imports :mod:`.space_quadrature` (the confirming method): the two share only the
problem statement and the degenerate cases (:mod:`._common`).
"""
from __future__ import annotations

import mpmath

from solvers.errors import ConvergenceError
from solvers.model import NeuronModel

from ._common import (
    _MAX_PANELS,
    _degenerate,
    _drift_mp,
    _is_leaky,
    _kappa,
    _kinks,
    _local_lipschitz,
    _Quad,
    _tolerance,
)
from ._spectral import _cheb_matrices

__all__ = ["isi_integrals"]

mp = mpmath.mp

_CHEB_N = 33             # Chebyshev-Lobatto nodes per panel


def isi_integrals(model: NeuronModel, h) -> _Quad:
    """``E[ISI]`` and ``int x S ds`` by adaptive Chebyshev panels in the age variable, at the ambient
    precision (``h`` an mpf; the caller sets ``mp.dps = dps + 15``)."""
    prec = mp.prec
    eps = _tolerance()
    xr = mpmath.mpf(model.reset)
    f = model.intensity.mp
    xs, sigma, lam_star, early = _degenerate(model, h, "age")
    if early is not None:
        return early
    kappa = _kappa(model, xs)
    if _is_leaky(model):
        c = xs
        D = xr - c

        def xpath(s):
            return c + D * mpmath.exp(-s)

        def age_of(xk):
            return mpmath.log(D / (xk - c))
    else:
        sol = mpmath.odefun(lambda s, x: model.drift.mp(x) + h, 0, xr)

        def xpath(s):
            return sol(s)

        v = _drift_mp(model, h)

        def age_of(xk):
            return mpmath.quad(lambda y: 1 / v(y), [xr, xk])

    lo, hi = (xr, xs) if sigma > 0 else (xs, xr)
    ages = sorted(age_of(xk) for xk in _kinks(model) if lo < xk < hi)
    tnodes, Q, (a1, a2) = _cheb_matrices(_CHEB_N, prec)
    wcc = Q[-1]
    s0 = mpmath.mpf(0)
    Lam0 = mpmath.mpf(0)
    T = mpmath.mpf(0)
    M = mpmath.mpf(0)
    L = mpmath.mpf(1) / 4
    Lmax = mpmath.mpf(4)
    panels = 0
    while True:
        b = s0 + L
        for a_k in ages:
            if s0 < a_k < b:
                b = a_k
                break
        half = (b - s0) / 2
        ss = [s0 + half * (1 + tj) for tj in tnodes]
        xv = [xpath(s) for s in ss]
        Fv = [f(x) for x in xv]
        tailF = half * (abs(mpmath.fdot(a1, Fv)) + abs(mpmath.fdot(a2, Fv)))
        ok = tailF < eps * max(b - s0, mpmath.mpf(1) / 16) / 16
        if ok:
            Lam = [Lam0 + half * mpmath.fdot(row, Fv) for row in Q]
            S = [mpmath.exp(-lv) for lv in Lam]
            tailS = half * (abs(mpmath.fdot(a1, S)) + abs(mpmath.fdot(a2, S)))
            tailX = abs(mpmath.fdot(a1, xv)) + abs(mpmath.fdot(a2, xv))
            ok = tailS < eps * (T + half * S[0]) / 16 and tailX < eps * (abs(xv[0]) + abs(xs) + 1)
        if not ok:
            L = (b - s0) / 2
            if L < mpmath.mpf(10) ** -12 * (1 + s0):
                raise ConvergenceError(f"age quadrature: panel at s = {mpmath.nstr(s0, 10)} shrank below 1e-12 "
                                       f"without resolving f(x(s)) (h = {mpmath.nstr(h, 10)})")
            continue
        T += half * mpmath.fdot(wcc, S)
        M += half * mpmath.fdot(wcc, [x * sv for x, sv in zip(xv, S)])
        panels += 1
        L = min(2 * (b - s0), Lmax)
        s0, Lam0 = b, Lam[-1]
        # tail beyond s0: S(s0) exp(-lam* (s - s0)) up to the relative error exp(delta) - 1
        x1, S1 = xv[-1], S[-1]
        dist = abs(x1 - xs)
        delta = _local_lipschitz(model, min(x1, xs), max(x1, xs)) * dist / kappa
        if not _is_leaky(model):
            delta *= 2
        tail = S1 / lam_star
        rel = mpmath.expm1(min(delta, mpmath.mpf(50)))
        errT = tail * rel
        errM = tail * (abs(xs) * rel + dist * (1 + rel))
        if errT < eps * T / 4 and errM < eps * (abs(M) + T * (abs(xs) + 1)) / 4:
            return _Quad(T + tail, M + xs * tail, xs, panels, "age")
        if panels > _MAX_PANELS:
            raise ConvergenceError(f"age quadrature: more than {_MAX_PANELS} panels (s = {mpmath.nstr(s0, 8)}, "
                                   f"f(x*) = {mpmath.nstr(lam_star, 8)}); the tail is too long")


