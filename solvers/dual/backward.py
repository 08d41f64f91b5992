r"""Frozen and linearised dual-backward schemes (SPEC section 4) — second order in ``dt``.

Frozen (``linearised=False``).  With the forward's input frozen,

    d_t phi + (b(x) + h(t, xi)) d_x phi + f(x) [phi(t, xi, x_r) - phi(t, xi, x)] = 0,   phi(T) = phi_T.

The scheme is the exact adjoint of the forward Lagrangian step with the input ``hbar_n`` that step
used.  One forward step maps a slice measure linearly,
``mu_{n+1} = sum_j m_j [S_n(x_j) delta_{Phi_n(x_j)} + (1 - S_n(x_j)) delta_{x_new,n+1}]`` (``Phi_n`` the
leaky flow with ``c = I0 + hbar_n``, ``S_n`` the forward's survival factor, ``x_new,n+1`` the newborn
at ``x_r`` carried ``dt/2``; the newborn mass is ``1 - sum survivors = sum m_j (1 - S_j)`` because the
slice has unit mass).  Its adjoint is

    phi_n(x) = S_n(x) phi_{n+1}(Phi_n(x)) + (1 - S_n(x)) R_{n+1},    R_{n+1} = phi_{n+1}(x_new,n+1),

so ``<phi_n, mu_n> = <phi_{n+1}, mu_{n+1}>`` holds to rounding for the discrete pair (whatever ``x``
is).  Unrolled, ``phi_n(x) = sum_{m >= n} P_m (1 - S_m) R_{m+1} + P_N phi_T(y_N)`` along the discrete
chain ``y_{m+1} = Phi_m(y_m)``, ``P_{m+1} = P_m S_m(y_m)``: from ``x``, survive with ``S`` and follow the
flow, or reset to the newborn.  Order 2: it is the forward scheme's own weak error (the module
docstring of :mod:`solvers.meanfield.lagrangian`: ``O(dt^3)`` per step in the positions and survival,
``O(dt)`` mass placed at the midpoint birth age), seen from the dual side; the convergence tests measure
it against the closed form for constant intensity, against Feynman-Kac Monte Carlo and against an
independently refined forward solution.

Computing ``R``.  ``R_b`` is the chain from the cohort born at step ``b``, which needs every
``R_{m+1}``, ``m >= b``.  All cohorts are tracked as columns ("slots") over their lifetime: pass 1 (forward
in time) carries the initial atoms and one newborn per step with the forward's flow and survival
exponents and records when the survival of a column since its birth falls below ``survival_tol`` on
every node (its "death"; deaths are taken first in, first out, so the live columns of a step are one
contiguous range); pass 2 (backward in time) starts each column at its death with value 0 (a
truncation of at most ``survival_tol sup|phi|``; with the default ``1e-17``, below rounding), or at
``T`` with ``phi_T``, carries it back with the exact inverse flow and applies the adjoint step; the
value of the column born at ``n`` at ``t_n`` is ``R_n``.  Cost: two passes over the (step, live column)
pairs, the forward's own work (two exponentials per pair in pass 2, one in pass 1).

Linearised (``linearised=True``).  The adjoint of the linearisation of the forward equation around
``rho`` adds the non-local term of SPEC section 4:

    ... + f(x) G(t, xi) = 0,   G(t, xi) = int w(zeta, xi) Psi(t, zeta) dzeta,
    Psi(t, zeta) = int d_x phi(t, zeta, y) rho(t, zeta, dy),

with the transposed kernel: ``G_k = (1/n_xi) sum_j K[j, k] Psi_j`` on the nodes (``K`` the forward's
coupling, ``h = K r / n_xi``), and ``Psi`` summed over the forward cohorts (``sum_j m_j d_x phi(x_j)``:
the atoms and the jump of ``rho`` at ``x_r`` are exact).  ``f G`` is a reward collected at every firing,
so the step becomes ``phi_n(x) = S phi_{n+1}(Phi x) + (1 - S) Q_n`` with
``Q_n = R_{n+1} + Gbar_n (1 + f(x_new,n+1) dt / 2)``: by Duhamel, a potential that fires at ``t_n + u``
collects ``G`` then and, restarted at ``x_r``, again with rate ``f(x_r)`` over the rest of the step, which
``phi_{n+1}(x_new)`` does not contain; its mean ``f dt/2`` keeps the local error ``O(dt^3)``.  ``Gbar_n`` is
the step mean of ``G``: the backward Adams-Bashforth-2 value ``1.5 G_{n+1} - 0.5 G_{n+2}`` and, on the
first backward step, a Heun predictor-corrector ``(G_N + G_{N-1}^pred) / 2`` (the forward's own input
rule, mirrored).  ``d_x phi`` at the columns is carried by the exact derivative of the discrete step
(``S' = -S dI/dx0`` with the derivative of the forward's survival quadrature), the masses by the
forward's ``m_{n+1} = m_n S_n`` read backwards.  The identities are continuous-level ones, so the scheme
is checked to its order: the duality defect with the linearised forward equation vanishes as ``dt^2``
(nu from central differences of the nonlinear solver) and the closed form for constant intensity is
matched at order 2 (tests in ``tests/convergence``).

Nodes with the same forward data, the same terminal values (and, linearised, derivatives) on the
live columns at ``T`` and, linearised, the same column of ``K`` have identical duals and are computed
once (exact).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers._compiled import EXPONENTIAL, SIGMOID, intensity_values
from solvers.errors import SimulationError, bad_argument
from solvers.validation import check_bool, check_positive

from . import _passes
from .base import DUAL_SCHEMES, DualCounters, DualProblem, DualScheme, DualSolution, checked_terminal, dual_problem

__all__ = ["solve_backward", "FrozenScheme", "LinearisedScheme", "ForwardPass", "forward_pass", "DualGroups",
           "dual_groups", "backward_linearised", "adjoint_coupling", "ORDER"]

logger = logging.getLogger(__name__)

ORDER = 2


# ================================================================================ pass 1
@dataclass
class ForwardPass:
    """Pass 1: the columns of the forward groups (rows) over their lifetimes.

    ``death[s]`` is the step at which slot ``s`` stops being tracked (``n_steps`` for the columns
    alive at ``T``); ``pos``, ``fval``, ``mass`` ``(G, S)`` hold every slot's state at its death
    (``mass`` only when requested); ``lo_of[n]`` is the first slot alive at ``t_n`` (``death > n``).
    """

    death: np.ndarray
    pos: np.ndarray
    fval: np.ndarray
    mass: np.ndarray | None
    M0: int
    lo_of: np.ndarray
    max_alive: int
    wall: float


def forward_pass(pr: DualProblem, *, with_mass: bool, survival_tol: float) -> ForwardPass:
    """Carry the initial atoms and the newborns of every step with the forward's flow and survival
    exponents (see the module docstring); masses by the forward's rule when ``with_mass``."""
    w0 = time.perf_counter()
    rep = pr.rep
    G, M0, N = rep.size, pr.pos0.shape[1], pr.n_steps
    S = M0 + N
    code, p0, p1, p2 = pr.family
    dt = pr.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    pos = np.zeros((G, S))
    pos[:, :M0] = pr.pos0[rep]
    fval = np.zeros((G, S))
    fval[:, :M0] = intensity_values(code, p0, p1, p2, pos[:, :M0].ravel()).reshape(G, M0)
    lam = np.zeros((G, S))
    mass = None
    if with_mass:
        mass = np.zeros((G, S))
        mass[:, :M0] = pr.mass0[rep]
    arg = np.zeros((G, S))
    newborn = np.empty(G)
    hb = np.ascontiguousarray(pr.hbar[:, rep])
    death = np.full(S, N, dtype=np.int64)
    lam_max = -math.log(survival_tol)
    has_exp = code in (SIGMOID, EXPONENTIAL)
    lo, hi = 0, M0 - 1
    max_alive = M0
    x_r = pr.model.reset
    for m in range(N):
        c = pr.I0 + hb[m]
        _passes.fwd_carry(pos, lo, hi, c, ef, eh, x_r, code, p1, p2, arg)
        if has_exp:
            sl = arg[:, lo:hi + 2]
            np.exp(sl, out=sl)
        _passes.fwd_exponent(pos, fval, lam, lo, hi, c, dt, ef, eh, code, p0, p1, p2, pr.hermite, arg)
        if with_mass:
            sl = arg[:, lo:hi + 1]
            np.exp(sl, out=sl)
            _passes.fwd_mass(mass, lo, hi, arg, newborn)
        hi += 1
        new_lo = _passes.first_alive(lam, lo, hi, lam_max)
        death[lo:new_lo] = m + 1
        lo = new_lo
        max_alive = max(max_alive, hi - lo + 1)
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(fval))):
        bad = np.argwhere(~(np.isfinite(pos) & np.isfinite(fval)))[0]
        raise SimulationError(f"dual pass 1: non-finite cohort state in slot {int(bad[1])} at xi = "
                              f"{pr.xi[rep[bad[0]]]:.6g} (blow-up of the forward model: reduce dt or check the model)")
    # alive at t_n: death > n for n < N (the columns a backward step from t_{n+1} to t_n carries),
    # and death == N at t_N
    lo_of = np.searchsorted(death, np.arange(N + 1), side="right")
    lo_of[N] = np.searchsorted(death, N, side="left")
    return ForwardPass(death=death, pos=pos, fval=fval, mass=mass, M0=M0, lo_of=lo_of, max_alive=max_alive,
                       wall=time.perf_counter() - w0)


# ================================================================================ node groups
@dataclass
class DualGroups:
    """Dual node groups: ``rep`` (representative node of each group), ``group_of`` ``(n_xi,)``, ``fwd``
    (forward group of each dual group), ``tv``/``td`` ``(D, n_alive_T)`` terminal values/derivatives
    on the columns alive at ``T`` (slots ``alive_T``), ``KT`` ``(D, D)`` the reduced transposed coupling
    (``G_a = sum_b KT[a, b] Psi_b``), ``weight`` ``(D,)`` the nodes' share ``count / n_xi``."""

    rep: np.ndarray
    group_of: np.ndarray
    fwd: np.ndarray
    alive_T: np.ndarray
    tv: np.ndarray
    td: np.ndarray | None
    KT: np.ndarray
    weight: np.ndarray


def adjoint_coupling(K: np.ndarray) -> np.ndarray:
    """The coupling of the non-local term: ``K^T`` (``G_k = (1/n_xi) sum_j K[j, k] Psi_j``; ``zeta`` is
    the postsynaptic variable).  One function, so that the mutation tests can replace it."""
    return K.T


def dual_groups(pr: DualProblem, p1: ForwardPass, *, tangent: bool, nonlocal_term: bool) -> DualGroups:
    """Group the nodes whose duals are identical (module docstring)."""
    n_xi = pr.n_xi
    alive_T = np.flatnonzero(p1.death == pr.n_steps)
    g = pr.node_of
    nodes = np.repeat(np.arange(n_xi), alive_T.size)
    pts = p1.pos[g][:, alive_T].ravel()
    tv = checked_terminal(pr.terminal, nodes, pr.xi[nodes], pts).reshape(n_xi, alive_T.size)
    td = checked_terminal(pr.terminal, nodes, pr.xi[nodes], pts, derivative=True).reshape(n_xi, alive_T.size) \
        if tangent else None
    KA = adjoint_coupling(pr.K)
    if pr.forward.problem.merge_identical_nodes:
        parts = [g[:, None].astype(float), tv]
        if tangent:
            parts.append(td)
        if nonlocal_term:
            parts.append(KA)
        _, rep, group_of = np.unique(np.concatenate(parts, axis=1), axis=0, return_index=True, return_inverse=True)
        group_of = np.asarray(group_of).ravel()
        order = np.argsort(rep)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        rep, group_of = rep[order], rank[group_of]
    else:
        rep, group_of = np.arange(n_xi), np.arange(n_xi)
    D = rep.size
    KT = np.zeros((D, D))
    if nonlocal_term:
        np.add.at(KT.T, group_of, KA[rep].T)
        KT /= n_xi
    weight = np.bincount(group_of, minlength=D) / n_xi
    return DualGroups(rep=rep, group_of=group_of, fwd=g[rep], alive_T=alive_T, tv=tv[rep],
                      td=None if td is None else td[rep], KT=KT, weight=weight)


# ================================================================================ pass 2
def backward_frozen(pr: DualProblem, p1: ForwardPass, dg: DualGroups):
    """Pass 2 of the frozen dual: ``R`` ``(N + 1, D)`` (``R_0 = nan``) and ``Q`` ``(N, D)`` (``Q_m = R_{m+1}``)."""
    N, M0 = pr.n_steps, p1.M0
    code, p0, p1_, p2 = pr.family
    dt = pr.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    inv_ef = 1.0 / ef
    x = p1.pos[dg.fwd].copy()
    f = p1.fval[dg.fwd].copy()
    V = np.zeros_like(x)
    V[:, dg.alive_T] = dg.tv
    arg = np.zeros_like(x)
    hb = np.ascontiguousarray(pr.hbar[:, dg.rep])
    has_exp = code in (SIGMOID, EXPONENTIAL)
    R = np.full((N + 1, dg.rep.size), np.nan)
    Q = np.empty((N, dg.rep.size))
    R[N] = V[:, M0 - 1 + N]
    for n in range(N - 1, -1, -1):
        hi = M0 - 1 + n
        lo = int(p1.lo_of[n])
        Qn = V[:, hi + 1].copy()
        Q[n] = Qn
        c = pr.I0 + hb[n]
        _passes.bwd_carry(x, lo, hi, c, inv_ef, code, p1_, p2, arg)
        if has_exp:
            sl = arg[:, lo:hi + 1]
            np.exp(sl, out=sl)
        _passes.bwd_exponent(x, f, lo, hi, c, dt, ef, eh, code, p0, p1_, p2, pr.hermite, arg)
        sl = arg[:, lo:hi + 1]
        np.exp(sl, out=sl)
        _passes.bwd_values(V, lo, hi, Qn, arg)
        if n >= 1:
            R[n] = V[:, hi]
    _check_finite(pr, dg, R[1:], "frozen")
    return R, Q


def _check_finite(pr: DualProblem, dg: DualGroups, A: np.ndarray, scheme: str) -> None:
    if not np.all(np.isfinite(A)):
        n, a = np.argwhere(~np.isfinite(A))[0]
        raise SimulationError(f"dual ({scheme}): non-finite value at t = {(n + 1) * pr.dt:.6g}, "
                              f"xi = {pr.xi[dg.rep[a]]:.6g} (check the terminal function and the model)")


@dataclass
class LinearisedPass:
    """Pass 2 with tangents and masses: ``R, Rd`` ``(N + 1, D)`` (value and ``d_x phi`` at the newborn),
    ``Q`` ``(N, D)``, ``G, Psi`` ``(N + 1, D)``, and, when asked, the fluctuation integrands ``J``
    ``(N + 1, D)`` and the values at the initial atoms ``V0`` ``(D, M0)``."""

    R: np.ndarray
    Rd: np.ndarray
    Q: np.ndarray
    G: np.ndarray
    Psi: np.ndarray
    J: np.ndarray | None
    V0: np.ndarray
    D0: np.ndarray


def backward_linearised(pr: DualProblem, p1: ForwardPass, dg: DualGroups, *, nonlocal_term: bool,
                        variance: bool) -> LinearisedPass:
    """Pass 2 with tangents, masses and (``nonlocal_term``) the source ``f G``; ``variance`` also
    accumulates the fluctuation integrand ``sum_j m_j f_j [phi(x_r) - phi(x_j) + G]^2`` at every grid time."""
    N, M0 = pr.n_steps, p1.M0
    code, p0, p1_, p2 = pr.family
    dt = pr.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    inv_ef = 1.0 / ef
    x_r = pr.model.reset
    D = dg.rep.size
    x = p1.pos[dg.fwd].copy()
    f = p1.fval[dg.fwd].copy()
    m = p1.mass[dg.fwd].copy()
    V = np.zeros_like(x)
    Dv = np.zeros_like(x)
    V[:, dg.alive_T] = dg.tv
    Dv[:, dg.alive_T] = dg.td
    arg = np.zeros_like(x)
    dI = np.zeros_like(x)
    hb = np.ascontiguousarray(pr.hbar[:, dg.rep])
    has_exp = code in (SIGMOID, EXPONENTIAL)
    KT = dg.KT if nonlocal_term else np.zeros((D, D))
    R = np.full((N + 1, D), np.nan)
    Rd = np.full((N + 1, D), np.nan)
    Q = np.empty((N, D))
    G = np.zeros((N + 1, D))
    Psi = np.zeros((N + 1, D))
    J = np.zeros((N + 1, D)) if variance else None
    psi = np.empty(D)
    hiN = M0 - 1 + N
    R[N], Rd[N] = V[:, hiN], Dv[:, hiN]
    _passes.psi_sum(m, Dv, int(p1.lo_of[N]), hiN, psi)
    Psi[N] = psi
    G[N] = KT @ psi
    if variance:
        xi_rep = pr.xi[dg.rep]
        phi_r = checked_terminal(pr.terminal, dg.rep, xi_rep, np.full(D, x_r))
        _passes.jump_variance(m, f, V, int(p1.lo_of[N]), hiN, phi_r, G[N], J[N])
        phi_r_hist = {N: phi_r}

    def step(n, lo, hi, Gmid):
        Qn = V[:, hi + 1] + Gmid * (1.0 + f[:, hi + 1] * (0.5 * dt))
        c = pr.I0 + hb[n]
        _passes.bwd_carry(x, lo, hi, c, inv_ef, code, p1_, p2, arg)
        if has_exp:
            sl = arg[:, lo:hi + 1]
            np.exp(sl, out=sl)
        _passes.bwd_exponent_dx(x, f, lo, hi, c, dt, ef, eh, code, p0, p1_, p2, pr.hermite, arg, dI)
        sl = arg[:, lo:hi + 1]
        np.exp(sl, out=sl)
        _passes.bwd_values_dx(V, Dv, m, lo, hi, Qn, ef, arg, dI, psi)
        return Qn

    for n in range(N - 1, -1, -1):
        hi = M0 - 1 + n
        lo = int(p1.lo_of[n])
        if n == N - 1:  # Heun predictor-corrector on the first backward step
            saved = [a[:, lo:hi + 1].copy() for a in (x, f, m, V, Dv)]
            step(n, lo, hi, G[N])
            G_pred = KT @ psi
            for a, s in zip((x, f, m, V, Dv), saved):
                a[:, lo:hi + 1] = s
            Gmid = 0.5 * (G[N] + G_pred)
        else:
            Gmid = 1.5 * G[n + 1] - 0.5 * G[n + 2]
        Q[n] = step(n, lo, hi, Gmid)
        Psi[n] = psi
        G[n] = KT @ psi
        if n >= 1:
            R[n], Rd[n] = V[:, hi], Dv[:, hi]
        if variance:
            if n >= 1:  # phi(t_n, x_r) from the newborn's value and slope (x_new - x_r = O(dt))
                phi_r = R[n] - Rd[n] * (x[:, hi] - x_r)
            else:  # nothing is born at t_0: linear extrapolation in time, O(dt^2)
                phi_r = 2.0 * phi_r_hist[1] - phi_r_hist[2] if N >= 2 else phi_r_hist[1]
            phi_r_hist[n] = phi_r
            _passes.jump_variance(m, f, V, lo, hi, phi_r, G[n], J[n])
    _check_finite(pr, dg, np.concatenate((R[1:], G[1:]), axis=0), "linearised")
    return LinearisedPass(R=R, Rd=Rd, Q=Q, G=G, Psi=Psi, J=J, V0=V[:, :M0].copy(), D0=Dv[:, :M0].copy())


# ================================================================================ schemes
def _check_tol(options: dict[str, Any]) -> dict[str, Any]:
    tol = check_positive("survival_tol", options["survival_tol"], "pass e.g. survival_tol=1e-17")
    if not tol < 1e-6:
        raise bad_argument("survival_tol", tol, "must be in (0, 1e-6)", "pass e.g. survival_tol=1e-17")
    return {"survival_tol": tol}


class _Base(DualScheme):
    options = {"survival_tol": 1e-17}

    def check_options(self, problem, options):
        return _check_tol(options)

    def _finish(self, p1, dg, R, Q, G, Psi, wall0, extras=None) -> DualSolution:
        pr = self.problem
        counters = DualCounters(steps=pr.n_steps, dt=pr.dt, wall_time=time.perf_counter() - wall0,
                                distinct_nodes=int(dg.rep.size), slots=int(p1.death.size),
                                max_alive=int(p1.max_alive), survival_rule="hermite" if pr.hermite else "simpson",
                                survival_tol=self.opts["survival_tol"])
        logger.debug("dual %s: %s", self.name, counters)
        return DualSolution(method=self.name, order=self.order, problem=pr, Q=Q, R=R, G=G, Psi=Psi,
                            group_of=dg.group_of, group_hbar=np.ascontiguousarray(pr.hbar[:, dg.rep]),
                            counters=counters, survival_tol=self.opts["survival_tol"], extras=extras or {})


@DUAL_SCHEMES.register
class FrozenScheme(_Base):
    """Frozen input: the exact adjoint of the forward Lagrangian step (module docstring)."""

    name = "frozen"
    order = ORDER
    summary = "exact adjoint of the Lagrangian step with the forward's input frozen"

    def run(self) -> DualSolution:
        w0 = time.perf_counter()
        pr = self.problem
        p1 = forward_pass(pr, with_mass=False, survival_tol=self.opts["survival_tol"])
        dg = dual_groups(pr, p1, tangent=False, nonlocal_term=False)
        R, Q = backward_frozen(pr, p1, dg)
        D = dg.rep.size
        Z = np.zeros((pr.n_steps + 1, D))
        return self._finish(p1, dg, R, Q, Z, Z.copy(), w0)


@DUAL_SCHEMES.register
class LinearisedScheme(_Base):
    """Adjoint of the linearised forward equation: frozen part plus the non-local source ``f G``."""

    name = "linearised"
    order = ORDER
    summary = "frozen adjoint plus the transposed non-local term f(x) int w(zeta, xi) Psi dzeta (AB2/Heun)"

    def run(self) -> DualSolution:
        w0 = time.perf_counter()
        pr = self.problem
        p1 = forward_pass(pr, with_mass=True, survival_tol=self.opts["survival_tol"])
        dg = dual_groups(pr, p1, tangent=True, nonlocal_term=True)
        lp = backward_linearised(pr, p1, dg, nonlocal_term=True, variance=False)
        return self._finish(p1, dg, lp.R, lp.Q, lp.G, lp.Psi, w0)


def solve_backward(forward: Any, phi_T: Any, *, linearised: bool, dt: float | None = None, x_grid: Any = None,
                   t_end: float | None = None, model: Any = None, kernel: Any = None,
                   **options: Any) -> DualSolution:
    """Solve the dual-backward equation of SPEC section 4 on the forward solution's grid.

    Parameters
    ----------
    forward : MeanFieldSolution
        A Lagrangian solution (``solvers.meanfield.solve(..., method="lagrangian")``); its recorded step
        inputs are frozen, its cohorts give ``Psi``.
    phi_T : callable, TerminalFunction or array
        Terminal data: ``phi_T(xi, x)`` (vectorised), a :class:`~solvers.dual.TerminalFunction` (e.g.
        :func:`~solvers.dual.weak_test_function`), or values ``(n_xi, n_x)`` / ``(n_x,)`` on ``x_grid``.
    linearised : bool, keyword
        ``False``: frozen input; ``True``: adjoint of the linearisation (non-local transposed term).
    dt : float, optional, keyword
        Must be the forward's step if given (the dual freezes the input of each forward step).
    x_grid : array, optional, keyword
        Output grid of :meth:`DualSolution.phi` (and the grid of an array ``phi_T``); must hold the
        forward cohorts (the interval ``J``).  Default: 201 points on ``J`` widened by 2%.
    t_end : float, optional, keyword
        Horizon ``T`` of the dual (a grid time ``<= forward.t_end``; default the forward's).
    model, kernel : optional, keyword
        If given, checked to be the forward's (an error names the mismatch).
    **options
        ``survival_tol`` (default 1e-17): a column's future is dropped once its survival since birth
        is below it on every node (truncation ``<= survival_tol sup|phi|``).

    Returns
    -------
    DualSolution
    """
    linearised = check_bool("linearised", linearised)
    pr = dual_problem(forward, phi_T, model=model, kernel=kernel, t_end=t_end, dt=dt, x_grid=x_grid)
    scheme = DUAL_SCHEMES.create("linearised" if linearised else "frozen", pr, options)
    return scheme.run()
