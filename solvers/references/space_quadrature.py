"""Space quadrature (the confirming method): ``E[ISI]`` and ``int x S`` in the ``x`` variable, in mpmath.

The ``x``-variable integral ``E[ISI] = int (1/|v|) exp(-G(x)) |dx|``,
``G(x) = int_{x_r}^x f / |v| |dy|``, along the path from ``x_r`` to the fixed point ``x*`` of
``v = b + h``.  With ``d = |x* - x|``, ``kappa = -v'(x*)`` and ``alpha = f(x*) / kappa`` the
logarithmic singularity of ``G`` is subtracted in closed form: ``G = alpha ln(d_r / d) + R(d)``,
``R`` the integral of the bounded function ``f/|v| - alpha/d``.  Panels in ``d`` are geometric
(ratio 1/2 towards ``x*``, refined by bisection on a Legendre-coefficient test), each with
``m = 32`` Gauss-Legendre nodes: ``R`` by the Legendre indefinite-integration matrix, the outer
integrand ``(d/d_r)^alpha e^{-R} / |v|`` by Gauss-Legendre.  The integrand behaves like
``(x* - x)^{f(x*)-1}``; the last piece ``(0, delta)`` is ``e^{-G(delta)} / f(x*)`` up to the
relative error ``exp(L delta) - 1``, also required below the tolerance.

This module never imports :mod:`.age_quadrature`: no inner integral is shared with the age method
(different variable, different rule, different tail); the two share only the problem statement and
the degenerate cases (:mod:`._common`).
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
from ._spectral import _legendre_matrices

__all__ = ["isi_integrals"]

mp = mpmath.mp

_GL_M = 32               # Gauss-Legendre nodes per panel


def isi_integrals(model: NeuronModel, h) -> _Quad:
    """``E[ISI]`` and ``int x/|v| e^{-G} |dx|`` by Gauss-Legendre panels in ``d = |x* - x|``, at the
    ambient precision (``h`` an mpf; the caller sets ``mp.dps = dps + 15``)."""
    prec = mp.prec
    eps = _tolerance()
    xr = mpmath.mpf(model.reset)
    f = model.intensity.mp
    xs, sigma, lam_star, early = _degenerate(model, h, "space")
    if early is not None:
        return early
    leaky = _is_leaky(model)
    kappa = _kappa(model, xs)
    alpha = lam_star / kappa
    v = _drift_mp(model, h)
    d_r = abs(xs - xr)

    if not leaky:
        # |v| near x* loses the digits of d/|x*| to cancellation: x* and |v(x* - sigma d)| are
        # computed with twice the working precision (enough for every d the tail test reaches)
        with mp.workprec(2 * prec):
            lo_b, hi_b = xs - mpmath.ldexp(d_r, -prec // 2), xs + mpmath.ldexp(d_r, -prec // 2)
            xs_hi = mpmath.findroot(v, (lo_b, hi_b), solver="anderson") if v(lo_b) * v(hi_b) < 0 else xs

    def absv(d, x):
        if leaky:
            return d
        with mp.workprec(2 * prec):
            return +abs(v(xs_hi - sigma * d))

    nodes, wts, Q, (c1, c2) = _legendre_matrices(_GL_M, prec)
    kink_d = sorted((abs(xs - xk) for xk in _kinks(model) if 0 < abs(xs - xk) < d_r and
                     mpmath.sign(xk - xr) == sigma), reverse=True)
    T = mpmath.mpf(0)
    M = mpmath.mpf(0)
    R = mpmath.mpf(0)        # R(d) at the current position
    d_hi = d_r
    panels = 0
    while True:
        d_lo = d_hi / 2
        for dk in kink_d:
            if d_lo < dk < d_hi:
                d_lo = dk
                break
        # process [d_lo, d_hi] (from d_hi down to d_lo) by bisection on failure
        stack = [(d_lo, d_hi)]
        while stack:
            lo, hi = stack.pop()
            half = (hi - lo) / 2
            ys = [half * (1 + t) for t in nodes]       # distance travelled from hi
            ds = [hi - y for y in ys]
            xv = [xs - sigma * d for d in ds]
            av = [absv(d, x) for d, x in zip(ds, xv)]
            rho = [f(x) / a - alpha / d for x, a, d in zip(xv, av, ds)]
            tail_r = half * (abs(mpmath.fdot(c1, rho)) + abs(mpmath.fdot(c2, rho)))
            # absolute error of R on the panel (relative error of e^{-R}); rounding noise of
            # f(x) - f(x*) near x* is ~eps_work/d, so the floor eps/1000 per panel is needed
            ok = tail_r < eps * ((hi - lo) / (4 * d_r) + mpmath.mpf(1) / 1000)
            if ok:
                Rn = [R + half * mpmath.fdot(row, rho) for row in Q]
                q = [(d / d_r) ** alpha * mpmath.exp(-r) / a for d, r, a in zip(ds, Rn, av)]
                qmax = max(q)
                # Gauss error ~ (interpolation error)^2: relative tail coefficient squared
                tail_q = abs(mpmath.fdot(c1, q)) + abs(mpmath.fdot(c2, q))
                ok = half * qmax * (tail_q / qmax) ** 2 < eps * (T + half * qmax) / 16
            if not ok:
                if half < mpmath.ldexp(d_r, -60):
                    raise ConvergenceError(f"space quadrature: panel near x = {mpmath.nstr(xs - sigma * hi, 12)} "
                                           f"shrank below 2^-60 d_r without resolving f/|v| (h = {mpmath.nstr(h, 10)})")
                mid = (lo + hi) / 2
                stack.append((lo, mid))
                stack.append((mid, hi))
                continue
            T += half * mpmath.fdot(wts, q)
            M += half * mpmath.fdot(wts, [x * qq for x, qq in zip(xv, q)])
            R += half * mpmath.fdot(wts, rho)
            panels += 1
        d_hi = d_lo
        # last piece (0, delta): e^{-G(delta)}/f(x*) up to the relative error exp(L delta / kappa) - 1
        delta = d_hi
        EG = (delta / d_r) ** alpha * mpmath.exp(-R)
        tail = EG / lam_star
        x1 = xs - sigma * delta
        Lloc = _local_lipschitz(model, min(x1, xs), max(x1, xs))
        rel = mpmath.expm1(min(Lloc * delta / kappa * (1 if leaky else 2), mpmath.mpf(50)))
        if not leaky:
            rel += 4 * delta * (1 + abs(mpmath.diff(model.drift.mp, xs, 2)) / kappa)
        errT = tail * rel
        errM = tail * (abs(xs) * rel + delta * (1 + rel))
        if errT < eps * T / 4 and errM < eps * (abs(M) + T * (abs(xs) + 1)) / 4:
            return _Quad(T + tail, M + xs * tail, xs, panels, "space")
        if delta < mpmath.ldexp(d_r, -(prec + 40)) or panels > _MAX_PANELS:
            raise ConvergenceError(f"space quadrature: reached d = {mpmath.nstr(delta, 5)} from x* without "
                                   f"the tail estimate converging (f(x*) = {mpmath.nstr(lam_star, 8)})")


