"""Independent high-precision references (SPEC section 3), computed without the PDE solvers.

This module never imports :mod:`solvers.meanfield` or :mod:`solvers.particles`: it is the oracle
they are tested against.  Three references are provided.

1. Homogeneous stationary state (``w = J`` constant)
----------------------------------------------------
One neuron with constant input ``h`` has drift ``v(x) = b(x) + h``; ``x*`` is the first zero of
``v`` met from the reset value ``x_r`` (the flow from ``x_r`` converges to it, from either side).
The transfer function is ``Phi(h) = 1 / E[ISI]`` and the stationary rate solves ``r = Phi(J r)``,
``h = J r``.  ``E[ISI]`` and the stationary mean ``E[X] = r int_0^inf x(s) S(s) ds`` are computed
by two genuinely independent quadratures, at working precision ``dps + 15`` digits:

* **age method** (primary): the age ``s`` (time since reset), ``x(s)`` the flow from ``x_r``
  (closed form ``c + (x_r - c) e^{-s}`` for :class:`~solvers.model.Leaky`, ``mpmath.odefun``
  otherwise), ``S(s) = exp(-Lambda(s))``, ``Lambda(s) = int_0^s f(x(u)) du``, and
  ``E[ISI] = int_0^inf S(s) ds``.  Adaptive panels in ``s`` with ``n = 33`` Chebyshev-Lobatto
  nodes: ``Lambda`` by the spectral (Clenshaw-Curtis) indefinite-integration matrix, ``int S`` and
  ``int x S`` by Clenshaw-Curtis; a panel is accepted when the last two Chebyshev coefficients of
  ``f(x(s))``, ``S`` and ``x`` are below the tolerance, else halved.  Kinks of the intensity (ReLU)
  are panel boundaries.  Tail beyond ``s_1``: ``S(s_1) / f(x*)``, with the error bound
  ``S(s_1)/f(x*) (exp(L |x(s_1) - x*| / kappa) - 1)`` (``L`` a local Lipschitz constant of
  ``f``, ``kappa = -v'(x*)``) required below the tolerance before stopping.
* **space method** (confirmation): the ``x``-variable integral
  ``E[ISI] = int (1/|v|) exp(-G(x)) |dx|``, ``G(x) = int_{x_r}^x f / |v| |dy|`` along the path from
  ``x_r`` to ``x*``.  With ``d = |x* - x|`` and ``alpha = f(x*) / kappa`` the logarithmic
  singularity of ``G`` is subtracted in closed form: ``G = alpha ln(d_r / d) + R(d)``, ``R`` the
  integral of the bounded function ``f/|v| - alpha/d``.  Panels in ``d`` are geometric (ratio 1/2
  towards ``x*``, refined by bisection on a Legendre-coefficient test), each with ``m = 32``
  Gauss-Legendre nodes: ``R`` by the Legendre indefinite-integration matrix, the outer integrand
  ``(d/d_r)^alpha e^{-R} / |v|`` by Gauss-Legendre.  The integrand behaves like
  ``(x* - x)^{f(x*)-1}``; the last piece ``(0, delta)`` is ``e^{-G(delta)} / f(x*)`` up to the
  relative error ``exp(L delta) - 1``, also required below the tolerance.  No inner integral is
  shared with the age method (different variable, different rule, different tail).

The fixed point ``r = Phi(J r)`` is bracketed by a scan of ``g(r) = Phi(J r) - r`` over
``[0, r_max]`` (``r_max = sup f``, or ``Phi(0)`` when ``J < 0`` and ``f`` is unbounded, or
``max(10 Phi(0), 10)`` for unbounded ``f`` with ``J > 0``) on ``n_scan = 400`` points with a
double-precision ``Phi`` (see :func:`phi_double`), polished by Newton in double precision, then
solved by a secant iteration (safeguarded by the bracket) for each method separately, in mpmath.
For ``J <= 0`` and non-decreasing ``Phi`` the fixed point is unique.  For ``J > 0`` (e.g. a
sigmoid) several may exist: :func:`stationary_states` returns all those found by the scan (two
roots closer than the scan step, or a tangency, can be missed), and :func:`stationary_rate` takes
``which="unique"`` (default: raise if the scan finds more than one), ``"lowest"``,
``"highest"`` or an index.  ``"lowest"`` is the state reached by the monotone iteration
``r_{k+1} = Phi(J r_k)`` from ``r_0 = 0`` when ``J > 0`` and ``Phi`` is non-decreasing.

Degenerate cases: ``x* = x_r`` (the neuron never moves: ``Phi = f(x_r)``, mean ``x_r``) and
``f(x*) = 0`` (the neuron stops firing with positive probability: ``E[ISI] = inf``,
``Phi = 0``, the stationary state is the Dirac at ``x*``).

2. Spatially-extended stationary state
--------------------------------------
``r(xi) = Phi(int w(xi, zeta) r(zeta) dzeta)`` on the Nystrom grid ``xi_i = (i - 1/2)/n``
with midpoint weights ``K_ij / n``, ``K = kernel.matrix(n, "midpoint")`` (exact for step kernels
whose blocks align with the grid, second order in ``1/n`` for smooth kernels), solved by Newton
with the double-precision ``Phi`` and its derivative (:func:`phi_double`).  See
:func:`spatial_stationary` for the stability and uniqueness information reported.

3. Exact law for constant intensity
-----------------------------------
:func:`constant_intensity_law`: closed forms (no quadrature) of SPEC section 3.

4. Linear response and PDE stability of homogeneous states (leaky drift)
------------------------------------------------------------------------
:func:`susceptibility` is the rate response ``chi(i omega)`` of the renewal form of the PDE to an
input modulation (``chi(0) = Phi'(h)``); :func:`pde_stability` counts, for each eigenvalue ``mu``
of the kernel operator, the zeros of ``1 - mu chi(lam)`` in ``Re lam > 0`` by the argument
principle.  This sees oscillatory (Hopf) instabilities that the rate-dynamics criterion of
:func:`spatial_stationary` (``max Re spec(diag(Phi') K/n) < 1``, the real-axis crossing) cannot.
Numerical (trapezoid in age, sampled frequencies), not certified; a margin is reported.

Precision note: mpmath numbers returned here carry ``dps + 15`` digits; print them with
``mpmath.nstr(value, 20)`` (``str`` uses the global ``mpmath.mp.dps``).
"""
from __future__ import annotations

import functools
import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import mpmath
import numpy as np
from scipy.integrate import cumulative_trapezoid, solve_ivp
from scipy.special import ndtr

from solvers.errors import ConvergenceError, bad_argument
from solvers.graphons import cell_index, labels
from solvers.model import Constant, Leaky, NeuronModel, ReLU

__all__ = [
    "StationaryState",
    "SpatialStationaryState",
    "ConstantIntensityLaw",
    "stationary_rate",
    "stationary_states",
    "stationary_mean",
    "phi",
    "phi_prime",
    "phi_double",
    "isi_moments",
    "spatial_stationary",
    "susceptibility",
    "PdeStability",
    "pde_stability",
    "constant_intensity_law",
]

logger = logging.getLogger(__name__)
mp = mpmath.mp

_GUARD_DPS = 15          # extra working digits
_CHEB_N = 33             # Chebyshev-Lobatto nodes per panel (age method)
_GL_M = 32               # Gauss-Legendre nodes per panel (space method)
_MAX_PANELS = 20000


# ============================================================================== validation
def _check_model(model: Any) -> NeuronModel:
    if not isinstance(model, NeuronModel):
        raise bad_argument("model", model, "must be a solvers.model.NeuronModel",
                           "pass e.g. NeuronModel.standard()")
    return model


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, mpmath.mpf)):
        raise bad_argument(name, value, "must be a real number", f"pass a finite float for {name}")
    v = float(value)
    if not math.isfinite(v):
        raise bad_argument(name, value, "must be finite", f"pass a finite float for {name}")
    return v


def _check_dps(dps: Any) -> int:
    if isinstance(dps, bool) or not isinstance(dps, numbers.Integral) or not 15 <= dps <= 200:
        raise bad_argument("dps", dps, "must be an integer in [15, 200]", "pass e.g. dps=30")
    return int(dps)


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


# ---------------------------------------------------------------------- spectral matrices (cached)
@functools.lru_cache(maxsize=16)
def _cheb_matrices(n: int, prec: int):
    """Chebyshev-Lobatto nodes ``t_j = -cos(pi j / N)`` on ``[-1, 1]`` (ascending) and matrices:
    ``Q`` (indefinite integral from -1 evaluated at the nodes), ``A`` (values -> coefficients)."""
    with mp.workprec(prec):
        N = n - 1
        t = [-mpmath.cos(mp.pi * j / N) for j in range(n)]
        # T_k(t_j) = (-1)^k cos(pi k j / N), k = 0..N+1
        T = [[(-1) ** k * mpmath.cos(mp.pi * k * j / N) for k in range(N + 2)] for j in range(n)]
        # coefficients a_k = (2/N) sum'' F_j T_k(t_j), a_0 and a_N halved
        A = []
        for k in range(N + 1):
            row = []
            for j in range(n):
                wgt = mpmath.mpf(1) / N if j in (0, N) else mpmath.mpf(2) / N
                row.append(wgt * T[j][k])
            if k in (0, N):
                row = [r / 2 for r in row]
            A.append(row)
        # integral coefficients C (N+2) from a (N+1)
        B = [[mpmath.mpf(0)] * (N + 1) for _ in range(N + 2)]
        B[1][0] += 1
        if N >= 2:
            B[1][2] -= mpmath.mpf(1) / 2
        for k in range(2, N + 2):
            if k - 1 <= N:
                B[k][k - 1] += mpmath.mpf(1) / (2 * k)
            if k + 1 <= N:
                B[k][k + 1] -= mpmath.mpf(1) / (2 * k)
        for k in range(1, N + 2):  # C_0 = -sum_k C_k (-1)^k
            for i in range(N + 1):
                B[0][i] -= (-1) ** k * B[k][i]
        BA = [[mpmath.fdot(B[k], [A[i][j] for i in range(N + 1)]) for j in range(n)] for k in range(N + 2)]
        Q = [[mpmath.fdot(T[j], [BA[k][i] for k in range(N + 2)]) for i in range(n)] for j in range(n)]
        return tuple(t), tuple(tuple(r) for r in Q), (tuple(A[N - 1]), tuple(A[N]))


def _legendre_all(m: int, x):
    """``[P_0(x), ..., P_m(x)]`` by the three-term recurrence."""
    p = [mpmath.mpf(1), x]
    for k in range(1, m):
        p.append(((2 * k + 1) * x * p[k] - k * p[k - 1]) / (k + 1))
    return p[: m + 1]


@functools.lru_cache(maxsize=16)
def _legendre_matrices(m: int, prec: int):
    """Gauss-Legendre nodes/weights on ``[-1, 1]``, the indefinite-integration matrix ``P``
    (``int_{-1}^{x_j}`` of the interpolant) and the rows giving the last two Legendre coefficients."""
    with mp.workprec(prec + 20):
        x0, _ = np.polynomial.legendre.leggauss(m)
        nodes, weights = [], []
        for guess in x0:
            x = mpmath.mpf(float(guess))
            for _ in range(100):
                p = _legendre_all(m, x)
                dp = m * (x * p[m] - p[m - 1]) / (x * x - 1)
                dx = p[m] / dp
                x -= dx
                if abs(dx) < mpmath.ldexp(1, -(prec + 10)):
                    break
            p = _legendre_all(m, x)
            dp = m * (x * p[m] - p[m - 1]) / (x * x - 1)
            nodes.append(x)
            weights.append(2 / ((1 - x * x) * dp * dp))
        P = [_legendre_all(m + 1, x) for x in nodes]  # P[j][k]
        # coefficient c_k = (2k+1)/2 sum_i w_i P_k(x_i) g_i
        Cm = [[(2 * k + 1) * weights[i] * P[i][k] / 2 for i in range(m)] for k in range(m)]
        # int_{-1}^{x_j} P_k = x_j + 1 (k = 0), (P_{k+1} - P_{k-1})/(2k+1) (k >= 1)
        I = [[(nodes[j] + 1) if k == 0 else (P[j][k + 1] - P[j][k - 1]) / (2 * k + 1) for k in range(m)]
             for j in range(m)]
        Q = [[mpmath.fdot(I[j], [Cm[k][i] for k in range(m)]) for i in range(m)] for j in range(m)]
    with mp.workprec(prec):
        return (tuple(+x for x in nodes), tuple(+w for w in weights), tuple(tuple(+q for q in r) for r in Q),
                (tuple(+c for c in Cm[m - 2]), tuple(+c for c in Cm[m - 1])))


# ============================================================================= age quadrature
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


def _age_quadrature(model: NeuronModel, h) -> _Quad:
    """E[ISI] and int x S ds by adaptive Chebyshev panels in the age variable (ambient precision)."""
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


# =========================================================================== space quadrature
def _space_quadrature(model: NeuronModel, h) -> _Quad:
    """E[ISI] and int x/|v| e^{-G} |dx| by Gauss-Legendre panels in d = |x* - x| (ambient precision)."""
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


# ============================================================================ public: Phi (mp)
def _as_mpf(name: str, value: Any):
    if isinstance(value, mpmath.mpf):
        return value
    return mpmath.mpf(_check_real(name, value))


def _digits(a, b):
    if a == b:
        return mp.dps
    scale = max(abs(a), abs(b))
    if scale == 0:
        return mp.dps
    return float(-mpmath.log10(abs(a - b) / scale))


def isi_moments(model: NeuronModel, h, dps: int = 30, *, method: str = "age") -> tuple:
    """``(E[ISI], int_0^inf x(s) S(s) ds)`` of one neuron with constant input ``h``.

    Parameters
    ----------
    model : NeuronModel
    h : float or mpf
        Constant input.
    dps : int
        Requested significant digits (work is done at ``dps + 15``).
    method : {"age", "space"}
        Which quadrature (see the module docstring).

    Returns
    -------
    (mpf, mpf)
        ``E[ISI]`` (``inf`` when the neuron stops firing) and the first moment integral, so that
        the stationary mean is the ratio of the two.
    """
    model = _check_model(model)
    dps = _check_dps(dps)
    if method not in ("age", "space"):
        raise bad_argument("method", method, "unknown quadrature", "use 'age' or 'space'")
    with mp.workdps(dps + _GUARD_DPS):
        hh = _as_mpf("h", h)
        q = _age_quadrature(model, hh) if method == "age" else _space_quadrature(model, hh)
        return q.T, q.M


def phi(model: NeuronModel, h, dps: int = 30, *, check: bool = True):
    """Transfer function ``Phi(h) = 1 / E[ISI]`` of one neuron with constant input ``h``.

    Parameters
    ----------
    model : NeuronModel
    h : float or mpf
    dps : int, default 30
        Requested significant digits.
    check : bool, keyword, default True
        Also compute the independent space quadrature and raise
        :class:`~solvers.errors.ConvergenceError` if they differ by more than ``10^-(dps-5)``
        (relative).

    Returns
    -------
    mpf
        ``Phi(h)`` (0 when the neuron stops firing), by the age quadrature.
    """
    model = _check_model(model)
    dps = _check_dps(dps)
    with mp.workdps(dps + _GUARD_DPS):
        hh = _as_mpf("h", h)
        qa = _age_quadrature(model, hh)
        ra = 1 / qa.T if qa.T != mpmath.inf else mpmath.mpf(0)
        if check:
            qs = _space_quadrature(model, hh)
            rs = 1 / qs.T if qs.T != mpmath.inf else mpmath.mpf(0)
            if _digits(ra, rs) < dps - 5:
                raise ConvergenceError(f"Phi({mpmath.nstr(hh, 12)}): age quadrature {mpmath.nstr(ra, dps)} and space "
                                       f"quadrature {mpmath.nstr(rs, dps)} agree to fewer than {dps - 5} digits")
        return ra


def phi_prime(model: NeuronModel, h, dps: int = 30):
    """Derivative ``Phi'(h)`` by the five-point central difference of the age quadrature with step
    ``eta = 10^-(dps+3)/5`` (truncation ``O(eta^4)``, rounding ``O(10^-(dps+3)/eta)``): about
    ``0.8 dps`` correct digits for smooth ``f`` (at a ReLU kink, the central difference).

    Returns
    -------
    mpf
    """
    model = _check_model(model)
    dps = _check_dps(dps)
    with mp.workdps(dps + _GUARD_DPS):
        hh = _as_mpf("h", h)

        def g(y):
            q = _age_quadrature(model, y)
            return 1 / q.T if q.T != mpmath.inf else mpmath.mpf(0)

        eta = mpmath.mpf(10) ** (-(dps + 3) / mpmath.mpf(5))
        return (8 * (g(hh + eta) - g(hh - eta)) - (g(hh + 2 * eta) - g(hh - 2 * eta))) / (12 * eta)


# ==================================================================== double-precision Phi
def _intensity_and_derivative(model: NeuronModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = model.intensity
    return f(x), np.asarray(f.derivative(x), dtype=float)


def _drift_derivative(model: NeuronModel, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.drift.derivative(x), dtype=float)


def phi_double(model: NeuronModel, h, *, rtol: float = 1e-13) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised double-precision ``Phi(h)`` and ``Phi'(h)``.

    Method: one DOP853 integration (order 8, ``rtol``, ``atol = 1e-3 rtol``) in the age variable of
    the stacked system ``Lambda' = f(x)``, ``Lambda_h' = f'(x) xi``, ``T' = S``, ``T_h' = -S
    Lambda_h``, ``S = e^{-Lambda}``, with ``x(s)`` and ``xi = dx/dh`` in closed form for the leaky
    drift (``xi = 1 - e^{-s}``) or integrated (``x' = v(x)``, ``xi' = v'(x) xi + 1``) otherwise, up
    to ``s = 40 / kappa`` (leaky: ``|x - x*| < 5e-18 |x_r - x*|``), plus the tail
    ``S/f(x*)`` and its ``h``-derivative.  ``Phi = 1/T``, ``Phi' = -T_h / T^2``.  Accuracy about
    ``1e-12`` relative (validated against :func:`phi` in the tests).

    Parameters
    ----------
    model : NeuronModel
    h : array_like, shape (n,)
        Inputs.

    Returns
    -------
    (ndarray, ndarray), each shape like ``h``
        ``Phi(h)`` and ``Phi'(h)``.
    """
    model = _check_model(model)
    rtol = _check_real("rtol", rtol)
    if not 1e-14 <= rtol <= 1e-3:
        raise bad_argument("rtol", rtol, "must be in [1e-14, 1e-3]", "pass e.g. rtol=1e-13")
    h_arr = np.asarray(h, dtype=float)
    if not np.all(np.isfinite(h_arr)):
        raise bad_argument("h", h, "must be finite", "pass finite inputs")
    shape = h_arr.shape
    hv = h_arr.ravel()
    n = hv.size
    if n == 0:
        return np.zeros(shape), np.zeros(shape)
    xr = model.reset
    leaky = _is_leaky(model)
    if leaky:
        c = model.drift.I0 + hv
        D = xr - c
        s_end = 40.0
        # kinks of f (ReLU) are crossed at ages a_k = ln(D / (x_k - c)); a piecewise-linear time
        # change tau -> s per input aligns them at the integers, so one batched integration never
        # steps across a kink
        kinks = [float(k) for k in _kinks(model)]
        B = np.zeros((n, len(kinks) + 2))
        B[:, -1] = s_end
        if kinks:
            with np.errstate(divide="ignore", invalid="ignore"):
                ages = []
                for xk in kinks:
                    ratio = (xk - c) / D
                    ages.append(np.where((ratio > 0) & (ratio < 1), -np.log(np.where(ratio > 0, ratio, 1.0)), 0.0))
            B[:, 1:-1] = np.sort(np.minimum(np.stack(ages, axis=1), s_end), axis=1)
        y = np.zeros(4 * n)
        for j in range(len(kinks) + 1):
            s0, Lj = B[:, j], B[:, j + 1] - B[:, j]

            def rhs(tau, y, s0=s0, Lj=Lj):
                Y = y.reshape(4, n)
                e = np.exp(-(s0 + tau * Lj))
                x = c + D * e
                F, Fp = _intensity_and_derivative(model, x)
                S = np.exp(-Y[0])
                return np.concatenate([F * Lj, Fp * (1.0 - e) * Lj, S * Lj, -S * Y[1] * Lj])

            sol = solve_ivp(rhs, (0.0, 1.0), y, method="DOP853", rtol=rtol, atol=1e-3 * rtol, t_eval=[1.0])
            if not sol.success:
                raise ConvergenceError(f"phi_double: DOP853 failed ({sol.message})")
            y = sol.y[:, -1]
        Y = y.reshape(4, n)
        e = math.exp(-s_end)
        x_e = c + D * e
        xi_e = np.full(n, 1.0 - e)
    else:
        def rhs(s, y):
            Y = y.reshape(6, n)
            x = Y[4]
            F, Fp = _intensity_and_derivative(model, x)
            S = np.exp(-Y[0])
            v = model.drift(x) + hv
            return np.concatenate([F, Fp * Y[5], S, -S * Y[1], v, _drift_derivative(model, x) * Y[5] + 1.0])

        y0 = np.concatenate([np.zeros(4 * n), np.full(n, xr), np.zeros(n)])
        s_end, s0, Y = 0.0, 0.0, None
        for _ in range(20):
            s_end = s0 + 40.0
            sol = solve_ivp(rhs, (s0, s_end), y0, method="DOP853", rtol=rtol, atol=1e-3 * rtol, t_eval=[s_end])
            if not sol.success:
                raise ConvergenceError(f"phi_double: DOP853 failed ({sol.message})")
            y0 = sol.y[:, -1]
            Y = y0.reshape(6, n)
            # stop when x has reached x* (tail formula exact to ~1e-12) or the survival is negligible
            lam_e = _intensity_and_derivative(model, Y[4])[0]
            near = np.abs(model.drift(Y[4]) + hv) < 1e-12 * (1.0 + np.abs(Y[4]))
            gone = np.exp(-Y[0]) < 1e-17 * lam_e * Y[2]
            if np.all(near | gone):
                break
            s0 = s_end
        x_e, xi_e = Y[4], Y[5]
    lam, lam_p = _intensity_and_derivative(model, x_e)
    S = np.exp(-Y[0])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        T = Y[2] + np.where(lam > 0, S / lam, np.inf)
        Th = Y[3] - np.where(lam > 0, S * (Y[1] / lam + lam_p * xi_e / lam**2), 0.0)
        P = np.where(np.isfinite(T), 1.0 / T, 0.0)
        Pp = np.where(np.isfinite(T), -Th / T**2, 0.0)
    return P.reshape(shape), Pp.reshape(shape)


# ============================================================================ stationary state
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
    q = _age_quadrature(model, h)
    return (1 / q.T if q.T != mpmath.inf else mpmath.mpf(0)), q


def _phi_space(model, h):
    q = _space_quadrature(model, h)
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
    raise ConvergenceError(f"{what}: the secant iteration did not converge in 60 steps (last r = {mpmath.nstr(r1, 20)})")


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
            qa = _age_quadrature(model, Jm * ra)
            qs = _space_quadrature(model, Jm * rs)
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


def stationary_states(model: NeuronModel, J, dps: int = 30) -> tuple[StationaryState, ...]:
    """All homogeneous stationary states found by the scan (see the module docstring), ascending rate.

    Parameters
    ----------
    model : NeuronModel
    J : float
        Constant kernel value ``w = J``.
    dps : int, default 30
        Requested significant digits; the two quadratures must agree to ``dps - 5`` digits, else
        :class:`~solvers.errors.ConvergenceError`.
    """
    model = _check_model(model)
    J = _check_real("J", J)
    dps = _check_dps(dps)
    try:
        hash(model)
    except TypeError:  # pragma: no cover - unhashable custom callables
        return _states_cached.__wrapped__(model, J, dps)
    return _states_cached(model, J, dps)


def stationary_rate(model: NeuronModel, J, dps: int = 30, *, which: str | int = "unique") -> StationaryState:
    """Homogeneous stationary state ``r = Phi(J r)`` (SPEC section 3), confirmed by two quadratures.

    Parameters
    ----------
    model : NeuronModel
    J : float
        Constant kernel ``w = J``; input ``h = J r``.
    dps : int, default 30
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
    states = stationary_states(model, J, dps)
    if isinstance(which, numbers.Integral) and not isinstance(which, bool):
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
    if which == "lowest":
        return states[0]
    if which == "highest":
        return states[-1]
    raise bad_argument("which", which, "unknown choice", "use 'unique', 'lowest', 'highest' or an int index")


def stationary_mean(model: NeuronModel, J, dps: int = 30, *, which: str | int = "unique"):
    """Stationary mean ``E[X]`` of the homogeneous state (both quadratures agree to ``dps - 5``
    digits, else :class:`~solvers.errors.ConvergenceError`).  Returns an mpf."""
    return stationary_rate(model, J, dps, which=which).mean


# ==================================================================== spatial stationary state
@dataclass(frozen=True)
class SpatialStationaryState:
    """Spatially-extended stationary state ``r(xi) = Phi(T_w r)`` on a Nystrom grid.

    Attributes
    ----------
    xi : ndarray, shape (n,)
        Nodes ``labels(n)``.
    rate, input : ndarray, shape (n,)
        ``r(xi_i)`` and ``h_i = sum_j K_ij r_j / n``.
    iterations : int
        Newton iterations.
    residual : float
        ``max_i |r_i - Phi(h_i)|``.
    phi_prime : ndarray, shape (n,)
        ``Phi'(h_i)``.
    jacobian_eigenvalues : ndarray of complex, shape (n,)
        Spectrum of ``A = diag(Phi'(h)) K / n`` (the Jacobian of ``r -> Phi(K r / n)``).
    spectral_radius : float
        ``max |spec A|``: the fixed-point iteration ``r <- Phi(K r/n)`` is locally convergent iff < 1.
    max_real_eigenvalue : float
        ``max Re spec A``.
    rate_dynamics_stable : bool
        ``max Re spec A < 1``: linear stability for the *rate* (Wilson-Cowan) dynamics
        ``tau dr/dt = -r + Phi(K r / n)``, whose Jacobian is ``-I + A``.  This is not a statement on
        the full PDE: its linearisation also carries the single-neuron renewal dynamics, which can
        make a state oscillatory-unstable although the rate dynamics are stable.
    contraction_estimate : float
        ``Lhat ||K/n||_inf`` with ``Lhat = max |Phi'|`` sampled on 401 points of the input range
        reachable from rates in ``[0, sup f]`` (``nan`` when ``f`` is unbounded).  ``Lhat`` is a grid
        estimate, not a certified bound.
    unique : bool or None
        True when ``contraction_estimate < 1`` (the map is then a contraction of the box
        ``[0, sup f]^n`` in the sup norm, which contains every fixed point: uniqueness by Banach);
        None (unknown) otherwise.
    pde_stability : PdeStability or None
        For a homogeneous state (``max r - min r <= 1e-9 max(1, r)``) with the leaky drift: the
        linear stability of the full PDE, mode by mode over the eigenvalues of ``K/n``
        (:func:`pde_stability`); None otherwise (an inhomogeneous state couples the modes).
    """

    xi: np.ndarray
    rate: np.ndarray
    input: np.ndarray
    iterations: int
    residual: float
    phi_prime: np.ndarray
    jacobian_eigenvalues: np.ndarray
    spectral_radius: float
    max_real_eigenvalue: float
    rate_dynamics_stable: bool
    contraction_estimate: float
    unique: bool | None
    pde_stability: PdeStability | None = None


def spatial_stationary(model: NeuronModel, kernel, n_xi: int, tol: float = 1e-12, *,
                       max_iter: int = 50, initial=None, check_pde_stability: bool = True) -> SpatialStationaryState:
    """Solve ``r(xi) = Phi(int w(xi, zeta) r(zeta) dzeta)`` by Newton on the Nystrom grid.

    Parameters
    ----------
    model : NeuronModel
    kernel : solvers.graphons.Kernel
        Anything with ``matrix(n, "midpoint")``.
    n_xi : int
        Grid size; nodes ``xi_i = (i - 1/2)/n_xi``, midpoint weights ``1/n_xi`` (exact for step
        kernels whose blocks align with the grid, ``O(n_xi^-2)`` for smooth kernels).
    tol : float, default 1e-12
        Stop when the Newton step is below ``tol max(1, max |r|)`` and the residual
        ``max |r - Phi(K r/n)|`` below ``10 tol max(1, max |r|)`` (``Phi`` is accurate to about 1e-12 relative: do not ask for less
        than 1e-13).
    max_iter : int, keyword, default 50
    initial : array_like, shape (n_xi,), optional, keyword
        Starting rates (default: 10 fixed-point iterations from ``Phi(0)``).  For kernels with
        several solutions this selects the one found.
    check_pde_stability : bool, keyword, default True
        Compute ``pde_stability`` when the state is homogeneous (about 1-2 s).

    Returns
    -------
    SpatialStationaryState

    Raises
    ------
    InvalidArgumentError
        Bad arguments.
    ConvergenceError
        Newton did not reach ``tol`` in ``max_iter`` iterations.
    """
    model = _check_model(model)
    if not hasattr(kernel, "matrix"):
        raise bad_argument("kernel", kernel, "must be a kernel with .matrix(n, 'midpoint')",
                           "pass e.g. solvers.graphons.ring()")
    if isinstance(n_xi, bool) or not isinstance(n_xi, numbers.Integral) or n_xi < 1:
        raise bad_argument("n_xi", n_xi, "must be an integer >= 1", "pass e.g. n_xi=64")
    n = int(n_xi)
    tol = _check_real("tol", tol)
    if not 0 < tol < 1:
        raise bad_argument("tol", tol, "must be in (0, 1)", "pass e.g. tol=1e-12")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise bad_argument("max_iter", max_iter, "must be an integer >= 1", "pass e.g. max_iter=50")
    K = np.asarray(kernel.matrix(n, "midpoint"), dtype=float)
    if K.shape != (n, n) or not np.all(np.isfinite(K)):
        raise bad_argument("kernel", kernel, f"kernel.matrix({n}) must be a finite {n} x {n} array",
                           "check the kernel")
    Kn = K / n
    xi = labels(n)
    if initial is None:
        r = np.full(n, float(phi_double(model, np.array([0.0]))[0][0]))
        for _ in range(10):
            r = phi_double(model, Kn @ r)[0]
    else:
        r = np.asarray(initial, dtype=float).copy()
        if r.shape != (n,) or not np.all(np.isfinite(r)):
            raise bad_argument("initial", initial, f"must be a finite array of shape ({n},)",
                               "pass one starting rate per grid node")
    it = 0
    for it in range(1, max_iter + 1):
        hv = Kn @ r
        P, Pp = phi_double(model, hv)
        F = r - P
        Jac = np.eye(n) - Pp[:, None] * Kn
        try:
            step = np.linalg.solve(Jac, F)
        except np.linalg.LinAlgError:
            raise ConvergenceError(f"spatial_stationary: singular Newton Jacobian at iteration {it} "
                                   "(a bifurcation point?); try another initial guess") from None
        r = r - step
        scale = max(1.0, float(np.max(np.abs(r))))
        if np.max(np.abs(step)) <= tol * scale and np.max(np.abs(F)) <= 10 * tol * scale:
            break
    else:
        raise ConvergenceError(f"spatial_stationary: Newton did not converge in {max_iter} iterations "
                               f"(last step {np.max(np.abs(step)):.3e}, residual {np.max(np.abs(F)):.3e})")
    hv = Kn @ r
    P, Pp = phi_double(model, hv)
    residual = float(np.max(np.abs(r - P)))
    if not residual <= 10 * tol * max(1.0, float(np.max(np.abs(r)))):
        raise ConvergenceError(f"spatial_stationary: residual {residual:.3e} above 10 tol after Newton")
    A = Pp[:, None] * Kn
    eig = np.linalg.eigvals(A)
    rho = float(np.max(np.abs(eig)))
    mre = float(np.max(eig.real))
    sup = model.intensity.sup
    if math.isfinite(sup):
        lo_h = sup * float(np.min(np.minimum(Kn, 0.0).sum(axis=1)))
        hi_h = sup * float(np.max(np.maximum(Kn, 0.0).sum(axis=1)))
        hgrid = np.linspace(lo_h, hi_h, 401)
        Lhat = float(np.max(np.abs(phi_double(model, hgrid)[1])))
        contraction = Lhat * float(np.max(np.abs(Kn).sum(axis=1)))
    else:
        contraction = math.nan
    unique = True if contraction < 1 else None
    pde = None
    if check_pde_stability and _is_leaky(model) and np.ptp(r) <= 1e-9 * max(1.0, float(np.max(np.abs(r)))):
        mus = np.linalg.eigvals(Kn)
        mus = mus[np.abs(mus) > 1e-12 * max(1.0, float(np.max(np.abs(mus))))]   # mu = 0 modes: G = 1
        pde = pde_stability(model, float(np.mean(hv)), mus)
    return SpatialStationaryState(xi=xi, rate=r, input=hv, iterations=it, residual=residual, phi_prime=Pp,
                                  jacobian_eigenvalues=eig, spectral_radius=rho, max_real_eigenvalue=mre,
                                  rate_dynamics_stable=bool(mre < 1), contraction_estimate=contraction,
                                  unique=unique, pde_stability=pde)


# ================================================================ linear response, PDE stability
_AGE_END = 40.0


def _age_profile(model: NeuronModel, h: float, da: float):
    """Stationary age profile for the leaky drift on ``[0, 40]`` (trapezoid, step ``da``)."""
    c = model.drift.I0 + h
    D = model.reset - c
    n = int(round(_AGE_END / da))
    a = np.linspace(0.0, _AGE_END, n + 1)
    x = c + D * np.exp(-a)
    F, Fp = _intensity_and_derivative(model, x)
    Lam = cumulative_trapezoid(F, a, initial=0.0)
    S = np.exp(-Lam)
    lam_star = float(model.intensity(np.array([c]))[0])
    return a, S, Fp, lam_star


def susceptibility(model: NeuronModel, h, omega, *, da: float = 2e-3) -> np.ndarray:
    """Rate response ``chi(i omega)`` of one neuron in its stationary state to an input modulation.

    For the leaky drift, an input ``h + eps e^{lam t}`` moves a neuron of age ``a`` by
    ``eps e^{lam t} phi_lam(a)``, ``phi_lam(a) = (1 - e^{-(lam+1) a}) / (lam + 1)``.  Linearising the
    age-structured (renewal) form of the PDE of SPEC section 3 and using conservation of mass gives

        chi(lam) = r0 / S^(lam) int_0^inf f'(x0(v)) phi_lam(v) int_0^inf S(v + u) e^{-lam u} du dv,

    ``S^(lam) = int_0^inf S(a) e^{-lam a} da`` (no zero in ``Re lam >= 0``), ``r0 = 1 / S^(0)``.
    At ``lam = 0``, ``chi(0) = Phi'(h)`` (tested to 5e-5); at ``omega = 4`` it matches an
    independent time-domain cohort simulation to 2e-3 (tested).  Trapezoid rule on ``[0, 40]`` with step ``da``
    (error ``O(da^2 (1 + omega^2))``), exact exponential tails beyond (``x = x*`` there to 4e-18).

    Parameters
    ----------
    model : NeuronModel
        Leaky drift.
    h : float
        Stationary input.
    omega : array_like, shape (k,)
        Angular frequencies; ``lam = i omega``.

    Returns
    -------
    ndarray of complex, shape (k,)
    """
    model = _check_model(model)
    if not isinstance(model.drift, Leaky):
        raise bad_argument("model.drift", model.drift, "the susceptibility is implemented for the leaky drift",
                           "use solvers.model.Leaky(I0)")
    h = _check_real("h", h)
    da = _check_real("da", da)
    if not 0 < da <= 0.05:
        raise bad_argument("da", da, "must be in (0, 0.05]", "pass e.g. da=2e-3")
    om = np.atleast_1d(np.asarray(omega, dtype=float))
    if om.ndim != 1 or not np.all(np.isfinite(om)):
        raise bad_argument("omega", omega, "must be a finite 1-D array", "pass real angular frequencies")
    a, S, Fp, lam_star = _age_profile(model, h, da)
    if lam_star <= 0:
        return np.zeros(om.shape, dtype=complex)   # the neuron stops firing: r0 = 0, no response
    T = np.trapezoid(S, a) + S[-1] / lam_star
    r0 = 1.0 / T
    out = np.empty(om.shape, dtype=complex)
    chunk = 32
    for k0 in range(0, om.size, chunk):
        lam = 1j * om[k0:k0 + chunk, None]
        E = np.exp(-lam * a[None, :])
        SE = S[None, :] * E
        tail = S[-1] * E[:, -1:] / (lam + lam_star)                  # int_40^inf S e^{-lam a}
        cum = cumulative_trapezoid(SE, a, axis=1, initial=0.0)
        Shat = cum[:, -1:] + tail
        U = (cum[:, -1:] - cum) + tail                              # int_v^inf S e^{-lam a} da
        W = U / E                                                   # int_0^inf S(v+u) e^{-lam u} du
        phi_l = (1.0 - E * np.exp(-a)[None, :]) / (lam + 1.0)
        N = np.trapezoid(Fp[None, :] * phi_l * W, a, axis=1)[:, None]
        N += Fp[-1] * S[-1] / ((lam + 1.0) * (lam + lam_star) * lam_star)
        out[k0:k0 + chunk] = (r0 * N / Shat)[:, 0]
    return out


@dataclass(frozen=True)
class PdeStability:
    """Linear stability of a homogeneous stationary state of the PDE, mode by mode.

    A perturbation along an eigenvector of the kernel operator with eigenvalue ``mu`` grows like
    ``e^{lam t}`` where ``1 = mu chi(lam)`` (or a zero of ``S^(lam)``, never in ``Re lam >= 0``).
    ``unstable[k]`` counts the zeros of ``G(lam) = 1 - mu_k chi(lam)`` in ``Re lam > 0`` by the
    argument principle on the imaginary axis (``G -> 1`` at infinity; numerical, not certified):
    the state is linearly stable when every count is 0.  ``margin[k] = min_omega |G(i omega)|``:
    counts are trustworthy when it is well above the discretisation error of ``chi`` (~1e-3).

    Attributes
    ----------
    mu : ndarray, shape (m,)
    unstable : ndarray of int, shape (m,)
    margin : ndarray, shape (m,)
    omega_max : float
        Largest frequency sampled (``|mu chi| < 1/4`` beyond it).
    """

    mu: np.ndarray
    unstable: np.ndarray
    margin: np.ndarray
    omega_max: float

    @property
    def stable(self) -> bool:
        return bool(np.all(self.unstable == 0))


def pde_stability(model: NeuronModel, h, mu, *, omega_step: float = 0.02, da: float = 2e-3) -> PdeStability:
    """Count unstable modes of the homogeneous stationary state with input ``h`` (see
    :class:`PdeStability`).  ``mu`` are the eigenvalues of the kernel operator (``[J]`` for
    ``w = J``; the spectrum of ``K/n`` on a grid), real or complex.

    Returns
    -------
    PdeStability
    """
    mus = np.atleast_1d(np.asarray(mu, dtype=complex))
    if mus.ndim != 1 or not np.all(np.isfinite(mus)):
        raise bad_argument("mu", mu, "must be a finite 1-D array of kernel eigenvalues", "pass e.g. [J]")
    step = _check_real("omega_step", omega_step)
    if not 0 < step <= 1:
        raise bad_argument("omega_step", omega_step, "must be in (0, 1]", "pass e.g. 0.02")
    mu_max = float(np.max(np.abs(mus))) if mus.size else 0.0
    W = 20.0
    while True:
        chi_W = susceptibility(model, h, [W], da=da)[0]
        if mu_max * abs(chi_W) < 0.25 or W >= 5000:
            break
        W *= 2
    for _ in range(6):
        # frequency grid: step `step` up to 5, then growing like step * omega / 5
        pts = [0.0]
        while pts[-1] < W:
            pts.append(pts[-1] + step * max(1.0, pts[-1] / 5.0))
        om_pos = np.array(pts)
        chi_pos = susceptibility(model, h, om_pos, da=da)
        om = np.concatenate([-om_pos[:0:-1], om_pos])
        chi = np.concatenate([np.conj(chi_pos[:0:-1]), chi_pos])      # chi(-i omega) = conj chi(i omega)
        G = 1.0 - mus[:, None] * chi[None, :]
        theta = np.unwrap(np.angle(G), axis=1)
        if np.max(np.abs(np.diff(theta, axis=1)), initial=0.0) < math.pi / 4:
            break
        step /= 2
    else:
        raise ConvergenceError("pde_stability: the phase of 1 - mu chi(i omega) varies too fast to track")
    # argument principle, contour = imaginary axis upwards + right half circle (G -> 1 there):
    # number of zeros in Re lam > 0 is -(change of arg G along omega = -inf..inf) / (2 pi)
    Z = np.rint(-(theta[:, -1] - theta[:, 0]) / (2 * math.pi)).astype(int)
    margin = np.min(np.abs(G), axis=1)
    return PdeStability(mu=mus, unstable=Z, margin=margin, omega_max=float(om[-1]))


# ======================================================================= constant intensity law
@dataclass(frozen=True)
class ConstantIntensityLaw:
    """Exact law at time ``t`` for ``f = lam0`` and leaky drift (SPEC section 3), closed forms only.

    With ``c(xi) = I0 + lam0 d(xi)`` (``d`` the degree), the law of ``X(t, xi)`` is the mixture of

    * the no-firing part, mass ``exp(-lam0 t)``: ``X = c + (X0 - c) e^{-t}``; an atom at
      ``c + (x0 - c) e^{-t}`` for a Dirac datum (``sigma = 0``), the Gaussian
      ``N(c + (x0 - c) e^{-t}, sigma^2 e^{-2t})`` otherwise;
    * the reset cohort, mass ``1 - exp(-lam0 t)``: ``X = c + (x_r - c) e^{-a}``, the age ``a``
      with density ``lam0 e^{-lam0 a}`` on ``(0, t)``.  Its CDF is ``1 - ((c - x)/(c - x_r))^lam0``
      on ``[x_r, x_t)`` when ``x_r < c`` and ``((x - c)/(x_r - c))^lam0 - e^{-lam0 t}`` on
      ``[x_t, x_r)`` when ``x_r > c`` (``x_t = c + (x_r - c) e^{-t}``); if ``c = x_r`` the cohort is
      an atom at ``x_r`` (:meth:`cohort_atom_mass`).

    Methods are vectorised over ``xi`` (and ``x``, broadcasting).  ``degree`` values given directly
    (finite network) are looked up by cell: ``xi`` in cell ``i`` uses ``degree[i]``
    (``c_i = I0 + lam0 sum_j W_ij``; give ``xi = labels(N)``).
    """

    lam0: float
    I0: float
    reset: float
    t: float
    x0: float
    sigma: float
    degree_function: Callable = field(repr=False)

    # ---------------------------------------------------------------- basic pieces
    def c(self, xi) -> np.ndarray:
        """Asymptotic potential ``c(xi) = I0 + lam0 d(xi)`` (input-shifted leak target)."""
        xi = np.asarray(xi, dtype=float)
        return self.I0 + self.lam0 * np.asarray(self.degree_function(xi), dtype=float) * np.ones_like(xi)

    @property
    def no_fire_mass(self) -> float:
        """``exp(-lam0 t)``: probability of no firing in ``(0, t]``."""
        return math.exp(-self.lam0 * self.t)

    @property
    def atom_mass(self) -> float:
        """Mass of the moving atom: ``exp(-lam0 t)`` for a Dirac datum, 0 for a Gaussian one."""
        return self.no_fire_mass if self.sigma == 0 else 0.0

    def atom_position(self, xi) -> np.ndarray:
        """Position ``c + (x0 - c) e^{-t}`` of the no-firing part (the atom for a Dirac datum; the
        mean of the Gaussian otherwise)."""
        c = self.c(xi)
        return c + (self.x0 - c) * math.exp(-self.t)

    def cohort_atom_mass(self, xi) -> np.ndarray:
        """``1 - exp(-lam0 t)`` where ``c(xi) == x_r`` (the cohort is an atom at ``x_r``), else 0."""
        c = self.c(xi)
        return np.where(c == self.reset, -math.expm1(-self.lam0 * self.t), 0.0)

    # ---------------------------------------------------------------- moments
    def mean(self, xi) -> np.ndarray:
        """``E[X(t, xi)] = e^{-lam t} m_t + c (1 - e^{-lam t}) + (x_r - c) lam/(lam+1) (1 - e^{-(lam+1) t})``."""
        c = self.c(xi)
        lam, t = self.lam0, self.t
        D = self.reset - c
        return (self.no_fire_mass * self.atom_position(xi) + c * (-math.expm1(-lam * t))
                + D * lam / (lam + 1) * (-math.expm1(-(lam + 1) * t)))

    def second_moment(self, xi) -> np.ndarray:
        """``E[X(t, xi)^2]`` in closed form."""
        c = self.c(xi)
        lam, t = self.lam0, self.t
        D = self.reset - c
        m_t = self.atom_position(xi)
        s2 = self.sigma**2 * math.exp(-2 * t)
        nofire = self.no_fire_mass * (m_t**2 + s2)
        cohort = (c * c * (-math.expm1(-lam * t)) + 2 * c * D * lam / (lam + 1) * (-math.expm1(-(lam + 1) * t))
                  + D * D * lam / (lam + 2) * (-math.expm1(-(lam + 2) * t)))
        return nofire + cohort

    def variance(self, xi) -> np.ndarray:
        """``Var X(t, xi)`` (second moment minus squared mean, clipped at 0)."""
        return np.maximum(self.second_moment(xi) - self.mean(xi) ** 2, 0.0)

    # ---------------------------------------------------------------- CDF
    def cdf(self, xi, x) -> np.ndarray:
        """``P(X(t, xi) <= x)`` (right-continuous; the atom adds a jump of ``atom_mass``).

        Parameters
        ----------
        xi, x : array_like, broadcastable
        """
        xi = np.asarray(xi, dtype=float)
        x = np.asarray(x, dtype=float)
        xi, x = np.broadcast_arrays(xi, x)
        c = self.c(xi)
        lam, t, xr = self.lam0, self.t, self.reset
        p = -math.expm1(-lam * t)
        q = self.no_fire_mass
        m_t = c + (self.x0 - c) * math.exp(-t)
        if self.sigma == 0:
            nofire = q * (x >= m_t)
        else:
            nofire = q * ndtr((x - m_t) / (self.sigma * math.exp(-t)))
        D = xr - c
        x_t = c + D * math.exp(-t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # x_r < c: increasing cohort on [x_r, x_t]
            ratio_up = np.clip((c - x) / np.where(D < 0, c - xr, 1.0), 0.0, 1.0)
            up = np.where(x < xr, 0.0, np.where(x >= x_t, p, 1.0 - ratio_up**lam))
            # x_r > c: decreasing cohort on [x_t, x_r]
            ratio_dn = np.clip((x - c) / np.where(D > 0, xr - c, 1.0), 0.0, 1.0)
            dn = np.where(x < x_t, 0.0, np.where(x >= xr, p, ratio_dn**lam - q))
        at = p * (x >= xr)
        cohort = np.where(D < 0, up, np.where(D > 0, dn, at))
        cohort = np.clip(cohort, 0.0, p)
        return nofire + cohort


def constant_intensity_law(model: NeuronModel, kernel=None, t: float = 0.0, x0: float = 0.0, *,
                           sigma: float = 0.0, degree=None) -> ConstantIntensityLaw:
    """Exact law of SPEC section 3 for constant intensity and leaky drift.

    Parameters
    ----------
    model : NeuronModel
        Drift :class:`~solvers.model.Leaky`, intensity :class:`~solvers.model.Constant`.
    kernel : object with ``.degree(xi)``, optional
        The kernel (``h = lam0 d(xi)``).  Exactly one of ``kernel`` and ``degree`` is given.
    t : float
        Time, ``>= 0``.
    x0 : float
        Initial value (Dirac) or mean of the Gaussian initial datum.
    sigma : float, keyword, default 0
        Standard deviation of the Gaussian initial datum (0: Dirac).
    degree : float or array_like, shape (N,), keyword
        Degrees given directly: a scalar (homogeneous), or per neuron of a finite network
        (``degree[i] = sum_j W_ij``), looked up by the cell of ``xi``.

    Returns
    -------
    ConstantIntensityLaw
    """
    model = _check_model(model)
    if not isinstance(model.drift, Leaky):
        raise bad_argument("model.drift", model.drift, "the exact law needs the leaky drift",
                           "use solvers.model.Leaky(I0)")
    if not isinstance(model.intensity, Constant):
        raise bad_argument("model.intensity", model.intensity, "the exact law needs a constant intensity",
                           "use solvers.model.Constant(lam0)")
    t = _check_real("t", t)
    if t < 0:
        raise bad_argument("t", t, "must be >= 0", "pass a non-negative time")
    x0 = _check_real("x0", x0)
    sigma = _check_real("sigma", sigma)
    if sigma < 0:
        raise bad_argument("sigma", sigma, "must be >= 0", "pass sigma=0 for a Dirac datum or a positive std")
    if (kernel is None) == (degree is None):
        raise bad_argument("kernel", kernel, "give exactly one of 'kernel' and 'degree'",
                           "pass a kernel with .degree(xi), or degree=<values> for a finite network")
    if kernel is not None:
        if not callable(getattr(kernel, "degree", None)):
            raise bad_argument("kernel", kernel, "must have a .degree(xi) method",
                               "pass e.g. solvers.graphons.product()")
        deg_fn = kernel.degree
    else:
        dv = np.asarray(degree, dtype=float)
        if not np.all(np.isfinite(dv)) or dv.ndim > 1 or dv.size == 0:
            raise bad_argument("degree", degree, "must be a finite scalar or a non-empty 1-D array",
                               "pass degree=W.sum(axis=1)")
        if dv.ndim == 0:
            val = float(dv)

            def deg_fn(xi, _v=val):
                return np.full_like(np.asarray(xi, dtype=float), _v)
        else:
            vals = dv.copy()
            vals.setflags(write=False)
            N = vals.size

            def deg_fn(xi, _v=vals, _N=N):
                xi = np.asarray(xi, dtype=float)
                return _v[cell_index(xi, _N)]
    return ConstantIntensityLaw(lam0=float(model.intensity.lam0), I0=float(model.drift.I0),
                                reset=float(model.reset), t=t, x0=x0, sigma=sigma, degree_function=deg_fn)
