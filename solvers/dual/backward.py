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
``R_{m+1}``, ``m >= b``.  All cohorts are tracked as columns ("slots") over their lifetimes, and the
values are carried backwards column by column (pass 2): each column starts at its "death", carried
back with the exact inverse flow through the adjoint step, and the value of the column born at ``n`` at
``t_n`` is ``R_n``.  A column's death is the step at which its survival since birth falls below a
tolerance on every node; deaths are taken first in, first out within each kind, so the live columns of a
step are two contiguous ranges (initial atoms, born cohorts) and no compaction is needed.

* Initial atoms die at ``survival_tol`` (default 1e-17) and start at 0: a truncation of at most
  ``survival_tol sup|phi|``, below rounding.
* Born cohorts die at ``tail_tol`` (default 1e-10) and start at the quadratic extrapolation in ``x`` of
  the values of the three next-younger cohorts at the same time (they are alive, and neighbours in
  ``x`` at distance ``O(dt)``): the truncation is ``tail_tol O(|d_x^3 phi| dx^3)``, reported as
  ``counters.tail_error`` (survival at death times the difference of the quadratic and the linear
  extrapolation; ~1e-18 in the benchmark).  This shortens the lifetimes by 40% at no loss of accuracy.
* The lifetimes come from pass 1, forward in time with the forward's flow and survival exponents.  The
  frozen scheme runs it as a pilot on every ``pilot_stride``-th newborn (default 16), takes each
  cohort's lifetime as the larger of its two neighbouring pilots' plus one step, and checks it a
  posteriori: pass 2 accumulates each column's survival exponent from its death back to its birth, and
  if any born cohort's survival at its death exceeds ``100 tail_tol`` the full pass 1 is run instead
  (logged).  Positions at death come from the affine form of the frozen leaky flow.

Cost: pass 2 is the forward's own work per (step, live column) pair (two exponentials), on 1.5 times
the forward's columns (the forward merges old cohorts, which the dual cannot do exactly); the pilot
adds a sixteenth of a pass.

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
from solvers.validation import check_bool, check_int, check_positive

from . import _passes
from .base import DUAL_SCHEMES, DualCounters, DualProblem, DualScheme, DualSolution, checked_terminal, dual_problem

__all__ = ["solve_backward", "FrozenScheme", "LinearisedScheme", "Lifetimes", "ForwardPass", "forward_pass",
           "DualGroups", "dual_groups", "backward_frozen", "backward_linearised", "adjoint_coupling", "reward_weight",
           "ORDER"]

logger = logging.getLogger(__name__)

ORDER = 2


# ================================================================================ pass 1
@dataclass
class Lifetimes:
    """When each column is tracked.  Slots ``0 .. M0 - 1`` are the initial atoms, slot ``M0 + b - 1``
    the cohort born in step ``b - 1``; ``death[s]`` is the step from which its future is dropped
    (``n_steps``: alive at ``T``).  Deaths are first in, first out within each kind, so the live
    columns at ``t_n`` are two contiguous ranges (:meth:`rng`)."""

    death: np.ndarray
    M0: int
    N: int
    lo_init: np.ndarray
    lo_born: np.ndarray

    @classmethod
    def from_death(cls, death: np.ndarray, M0: int, N: int) -> Lifetimes:
        # live at t_n: death > n for n < N (what a backward step from t_{n+1} to t_n carries); death == N at t_N
        steps = np.arange(N + 1)
        lo_i = np.searchsorted(death[:M0], steps, side="right")
        lo_b = M0 + np.searchsorted(death[M0:], steps, side="right")
        lo_i[N] = np.searchsorted(death[:M0], N, side="left")
        lo_b[N] = M0 + np.searchsorted(death[M0:], N, side="left")
        return cls(death=death, M0=M0, N=N, lo_init=lo_i, lo_born=lo_b)

    def rng(self, n: int) -> np.ndarray:
        """``(lo1, hi1, lo2, hi2)``: the live initial and born slots at ``t_n``."""
        return np.array([self.lo_init[n], self.M0 - 1, self.lo_born[n], self.M0 - 1 + n], dtype=np.int64)

    def entering_born(self, n: int) -> np.ndarray:
        """Born slots whose tracking starts at ``t_{n+1}`` (``death == n + 1``), youngest first."""
        return np.arange(self.lo_born[n + 1] - 1, self.lo_born[n] - 1, -1, dtype=np.int64) if n + 1 < self.N \
            else np.zeros(0, dtype=np.int64)

    @property
    def alive_T(self) -> np.ndarray:
        return np.flatnonzero(self.death == self.N)

    @property
    def max_alive(self) -> int:
        return int(max((self.M0 - self.lo_init[n]) + (n - (self.lo_born[n] - self.M0)) for n in range(self.N + 1)))


@dataclass
class ForwardPass:
    """Pass 1: the columns of the forward groups (rows) over their lifetimes (``stride`` 1), or a pilot
    that tracks the initial atoms and every ``stride``-th newborn (``stride > 1``).  ``pos``, ``fval``,
    ``mass`` ``(G, slots)`` hold each tracked slot's state at its death (``mass`` only when asked)."""

    life: Lifetimes
    pos: np.ndarray
    fval: np.ndarray
    mass: np.ndarray | None
    stride: int
    wall: float


def _lam(tol: float) -> float:
    return -math.log(tol)


def _live_width(rng: np.ndarray, nb: int = -1) -> int:
    """Row width of the compact ``arg`` buffer (:mod:`solvers.dual._passes`): live slots and newborn."""
    return max(int(rng[1] - rng[0]) + 1, 0) + max(int(rng[3] - rng[2]) + 1, 0) + (1 if nb >= 0 else 0)


def _exp_live(arg: np.ndarray, rows: int, width: int) -> None:
    """``arg <- exp(arg)`` on the compact buffer's first ``rows * width`` entries (one contiguous call)."""
    sl = arg[:rows * width]
    np.exp(sl, out=sl)


def forward_pass(pr: DualProblem, *, with_mass: bool, survival_tol: float, tail_tol: float,
                 stride: int = 1) -> ForwardPass:
    """Carry the initial atoms and the newborns (every ``stride``-th) with the forward's flow and
    survival exponents; a column dies once its survival since birth is below ``survival_tol`` (initial
    atoms) or ``tail_tol`` (born cohorts) on every row; masses by the forward's rule when ``with_mass``."""
    w0 = time.perf_counter()
    rep = pr.rep
    G, M0, N = rep.size, pr.pos0.shape[1], pr.n_steps
    n_born = N if stride == 1 else N // stride
    S = M0 + n_born
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
        if stride != 1:
            raise RuntimeError("masses need every newborn (stride 1)")
        mass = np.zeros((G, S))
        mass[:, :M0] = pr.mass0[rep]
    arg = np.zeros(G * S)  # compact scratch (rows of the live width, see solvers.dual._passes)
    hb = np.ascontiguousarray(pr.hbar[:, rep])
    death = np.full(S, N, dtype=np.int64)
    lam_i, lam_b = _lam(survival_tol), _lam(tail_tol)
    has_exp = code in (SIGMOID, EXPONENTIAL)
    lo_i, lo_b, hi_b = 0, M0, M0 - 1
    x_r = pr.model.reset
    rng = np.empty(4, dtype=np.int64)
    for m in range(N):
        c = pr.I0 + hb[m]
        if stride == 1:
            nb = M0 + m
        else:
            nb = M0 + (m + 1) // stride - 1 if (m + 1) % stride == 0 else -1
        rng[:] = (lo_i, M0 - 1, lo_b, hi_b)
        w = _live_width(rng, nb)
        _passes.fwd_carry(pos, rng, nb, c, ef, eh, x_r, code, p1, p2, arg)
        if has_exp:
            _exp_live(arg, G, w)
        _passes.fwd_exponent(pos, fval, lam, rng, nb, c, dt, ef, eh, code, p0, p1, p2, pr.hermite, arg)
        if with_mass:
            _exp_live(arg, G, w)  # the newborn's entry is exp(0) = 1, unused
            _passes.fwd_mass(mass, rng, nb, arg)
        if nb >= 0:
            hi_b = nb
        new_i = _passes.first_alive(lam, lo_i, M0 - 1, lam_i)
        death[lo_i:new_i] = m + 1
        lo_i = new_i
        new_b = _passes.first_alive(lam, lo_b, hi_b - 1, lam_b)  # the newest column is never dropped
        death[lo_b:new_b] = m + 1
        lo_b = new_b
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(fval))):
        bad = np.argwhere(~(np.isfinite(pos) & np.isfinite(fval)))[0]
        raise SimulationError(f"dual pass 1: non-finite cohort state in slot {int(bad[1])} at xi = "
                              f"{pr.xi[rep[bad[0]]]:.6g} (blow-up of the forward model: reduce dt or check the model)")
    if stride == 1:
        life = Lifetimes.from_death(death, M0, N)
    else:
        life = Lifetimes.from_death(_interpolate_deaths(death[:M0], death[M0:], stride, N), M0, N)
    return ForwardPass(life=life, pos=pos, fval=fval, mass=mass, stride=stride, wall=time.perf_counter() - w0)


def _interpolate_deaths(d_init: np.ndarray, d_pilot: np.ndarray, stride: int, N: int) -> np.ndarray:
    """Deaths of every newborn from the pilot's (births ``stride (j + 1)``): lifetime = the larger of
    the two neighbouring pilots' plus one step (``N`` if either reaches ``T``), made non-decreasing
    (first in, first out).  Checked a posteriori by the backward pass (:func:`backward_frozen`)."""
    b = np.arange(1, N + 1)
    bp = stride * (np.arange(d_pilot.size) + 1)
    life = d_pilot - bp
    censored = d_pilot >= N
    d = np.full(N, N, dtype=np.int64)
    if d_pilot.size:
        j1 = np.clip(b // stride - 1, 0, d_pilot.size - 1)
        j2 = np.clip(j1 + 1, 0, d_pilot.size - 1)
        L = np.maximum(life[j1], life[j2]) + 1
        cens = censored[j1] | censored[j2]
        d = np.where(cens, N, np.minimum(N, b + L))
        d = np.maximum(d, b + 1)
    d = np.minimum(np.maximum.accumulate(d), N)
    return np.concatenate((d_init, d))


# ================================================================================ node groups
@dataclass
class DualGroups:
    """Dual node groups: ``rep`` (representative node of each group), ``group_of`` ``(n_xi,)``, ``fwd``
    (forward group of each dual group), ``alive_T`` (slots alive at ``T``) with their positions
    ``posT`` ``(D, n_alive_T)`` and terminal values/derivatives ``tv``/``td``, ``KT`` ``(D, D)`` the reduced
    transposed coupling (``G_a = sum_b KT[a, b] Psi_b``), ``weight`` ``(D,)`` the nodes' share ``count / n_xi``."""

    rep: np.ndarray
    group_of: np.ndarray
    fwd: np.ndarray
    alive_T: np.ndarray
    posT: np.ndarray
    tv: np.ndarray
    td: np.ndarray | None
    KT: np.ndarray
    weight: np.ndarray


def reward_weight(f_new: np.ndarray, dt: float) -> np.ndarray:
    """Mean number of rewards ``G`` collected per firing in a step: ``1 + f(x_new) dt / 2`` (the firing
    itself, and a second firing from ``x_r`` over the rest of the step; module docstring).  Without the
    second term the linearised scheme is first order (measured: 1.04-1.09 against the closed form);
    one function, so that the convergence test can show it."""
    return 1.0 + 0.5 * dt * f_new


def adjoint_coupling(K: np.ndarray) -> np.ndarray:
    """The coupling of the non-local term: ``K^T`` (``G_k = (1/n_xi) sum_j K[j, k] Psi_j``; ``zeta`` is
    the postsynaptic variable).  One function, so that the mutation tests can replace it."""
    return K.T


@dataclass
class _Affine:
    """Newborn positions ``xnew[b]`` (``b = 1 .. N``) and the prefix ``beta`` of the leaky flow's affine
    map per row (see :func:`solvers.dual._passes.enter_positions`); ``ef_pow[k] = e^{-k dt}``."""

    xnew: np.ndarray
    beta: np.ndarray
    ef_pow: np.ndarray


def _affine(pr: DualProblem, hb: np.ndarray) -> _Affine:
    N, dt = pr.n_steps, pr.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    c = pr.I0 + hb
    xnew = np.zeros((N + 1, hb.shape[1]))
    xnew[1:] = c + (pr.model.reset - c) * eh
    beta = np.zeros((N + 1, hb.shape[1]))
    for m in range(N):
        beta[m + 1] = ef * beta[m] + c[m] * (1.0 - ef)
    return _Affine(xnew=np.ascontiguousarray(xnew), beta=beta, ef_pow=ef ** np.arange(N + 1))


def _terminal_positions(pr: DualProblem, p1: ForwardPass, alive_T: np.ndarray) -> np.ndarray:
    """Positions at ``T`` of the slots alive there, per forward group ``(G, n_alive_T)``."""
    if p1.stride == 1:
        return p1.pos[:, alive_T]
    G = pr.rep.size
    M0 = p1.life.M0
    out = np.zeros((G, alive_T.size))
    init = alive_T < M0
    out[:, init] = p1.pos[:, alive_T[init]]
    born = alive_T[~init]
    if born.size:
        aff = _affine(pr, np.ascontiguousarray(pr.hbar[:, pr.rep]))
        tmp_pos = np.zeros((G, M0 + pr.n_steps))
        tmp_f = np.zeros_like(tmp_pos)
        code, p0, p1_, p2 = pr.family
        _passes.enter_positions(tmp_pos, tmp_f, born, M0, pr.n_steps, aff.xnew, aff.beta, aff.ef_pow, code, p0, p1_, p2)
        out[:, ~init] = tmp_pos[:, born]
    return out


def dual_groups(pr: DualProblem, p1: ForwardPass, *, tangent: bool, nonlocal_term: bool) -> DualGroups:
    """Group the nodes whose duals are identical (module docstring)."""
    n_xi = pr.n_xi
    alive_T = p1.life.alive_T
    g = pr.node_of
    posT_g = _terminal_positions(pr, p1, alive_T)
    nodes = np.repeat(np.arange(n_xi), alive_T.size)
    pts = posT_g[g].ravel()
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
    return DualGroups(rep=rep, group_of=group_of, fwd=g[rep], alive_T=alive_T, posT=posT_g[g[rep]], tv=tv[rep],
                      td=None if td is None else td[rep], KT=KT, weight=weight)


# ================================================================================ pass 2
def _check_finite(pr: DualProblem, dg: DualGroups, A: np.ndarray, scheme: str) -> None:
    if not np.all(np.isfinite(A)):
        n, a = np.argwhere(~np.isfinite(A))[0]
        raise SimulationError(f"dual ({scheme}): non-finite value at t = {(n + 1) * pr.dt:.6g}, "
                              f"xi = {pr.xi[dg.rep[a]]:.6g} (check the terminal function and the model)")


@dataclass
class FrozenPass:
    """Pass 2 of the frozen dual: ``R`` ``(N + 1, D)`` (``R_0 = nan``), ``Q`` ``(N, D)``; ``tail_weight``
    the largest survival since birth at which a born column's future was truncated, ``tail_error`` the
    estimated effect on ``R`` (survival times the extrapolation error estimate)."""

    R: np.ndarray
    Q: np.ndarray
    tail_weight: float
    tail_error: float


def backward_frozen(pr: DualProblem, p1: ForwardPass, dg: DualGroups) -> FrozenPass:
    """Pass 2 of the frozen dual (module docstring)."""
    life = p1.life
    N, M0 = pr.n_steps, life.M0
    code, p0, p1_, p2 = pr.family
    dt = pr.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    inv_ef = 1.0 / ef
    D = dg.rep.size
    S = M0 + N
    hb = np.ascontiguousarray(pr.hbar[:, dg.rep])
    x = np.zeros((D, S))
    f = np.zeros((D, S))
    V = np.zeros((D, S))
    lam = np.zeros((D, S))
    err = np.zeros((D, S))
    x[:, :M0] = p1.pos[dg.fwd, :M0]
    f[:, :M0] = p1.fval[dg.fwd, :M0]
    pilot = p1.stride != 1
    if pilot:
        aff = _affine(pr, hb)
    else:
        x[:, M0:] = p1.pos[dg.fwd, M0:]
        f[:, M0:] = p1.fval[dg.fwd, M0:]
    aT = dg.alive_T
    born_T = aT[aT >= M0]
    if pilot and born_T.size:
        _passes.enter_positions(x, f, born_T, M0, N, aff.xnew, aff.beta, aff.ef_pow, code, p0, p1_, p2)
    x[:, aT] = dg.posT  # the same positions the terminal values were evaluated at
    V[:, aT] = dg.tv
    arg = np.zeros(D * S)  # compact scratch (rows of the live width, see solvers.dual._passes)
    has_exp = code in (SIGMOID, EXPONENTIAL)
    R = np.full((N + 1, D), np.nan)
    Q = np.empty((N, D))
    R[N] = V[:, M0 - 1 + N]
    for n in range(N - 1, -1, -1):
        rng = life.rng(n)
        hi = int(rng[3])
        ent = life.entering_born(n)
        if ent.size:
            if pilot:
                _passes.enter_positions(x, f, ent, M0, n + 1, aff.xnew, aff.beta, aff.ef_pow, code, p0, p1_, p2)
            _passes.enter_tails(V, V, x, ent, hi + 1, False, err)
        Qn = V[:, hi + 1].copy()
        Q[n] = Qn
        c = pr.I0 + hb[n]
        w = _live_width(rng)
        _passes.bwd_carry(x, rng, c, inv_ef, code, p1_, p2, arg)
        if has_exp:
            _exp_live(arg, D, w)
        _passes.bwd_exponent(x, f, lam, rng, c, dt, ef, eh, code, p0, p1_, p2, pr.hermite, arg)
        _exp_live(arg, D, w)
        _passes.bwd_values(V, rng, Qn, arg)
        if n >= 1:
            R[n] = V[:, hi]
    _check_finite(pr, dg, R[1:], "frozen")
    trunc = np.flatnonzero(life.death[M0:] < N) + M0
    if trunc.size:
        P = np.exp(-lam[:, trunc])
        weight = float(P.max())
        error = float(np.max(P * err[:, trunc]))
    else:
        weight = error = 0.0
    return FrozenPass(R=R, Q=Q, tail_weight=weight, tail_error=error)


@dataclass
class LinearisedPass:
    """Pass 2 with tangents and masses: ``R, Rd`` ``(N + 1, D)`` (value and ``d_x phi`` at the newborn),
    ``Q`` ``(N, D)``, ``G, Psi`` ``(N + 1, D)``, and, when asked, the fluctuation integrands ``J``
    ``(N + 1, D)``; ``V0, D0`` ``(D, M0)`` the values and slopes at the initial atoms."""

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
    life = p1.life
    N, M0 = pr.n_steps, life.M0
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
    err = np.zeros_like(x)
    V[:, dg.alive_T] = dg.tv
    Dv[:, dg.alive_T] = dg.td
    arg = np.zeros(x.size)  # compact scratch (rows of the live width, see solvers.dual._passes)
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
    rngN = life.rng(N)
    _passes.psi_sum(m, Dv, rngN, psi)
    Psi[N] = psi
    G[N] = KT @ psi
    if variance:
        phi_r = checked_terminal(pr.terminal, dg.rep, pr.xi[dg.rep], np.full(D, x_r))
        _passes.jump_variance(m, f, V, rngN, phi_r, G[N], J[N])
        phi_r_hist = {N: phi_r}

    def step(n, rng, hi, Gmid):
        Qn = V[:, hi + 1] + Gmid * reward_weight(f[:, hi + 1], dt)
        c = pr.I0 + hb[n]
        w = _live_width(rng)
        _passes.bwd_carry(x, rng, c, inv_ef, code, p1_, p2, arg)
        if has_exp:
            _exp_live(arg, D, w)
        _passes.bwd_exponent_dx(x, f, rng, c, dt, ef, eh, code, p0, p1_, p2, pr.hermite, arg, dI)
        _exp_live(arg, D, w)
        _passes.bwd_values_dx(V, Dv, m, rng, Qn, ef, arg, dI, psi)
        return Qn

    for n in range(N - 1, -1, -1):
        rng = life.rng(n)
        hi = int(rng[3])
        ent = life.entering_born(n)
        if ent.size:
            _passes.enter_tails(V, Dv, x, ent, hi + 1, True, err)
        if n == N - 1:  # Heun predictor-corrector on the first backward step
            saved = [a.copy() for a in (x, f, m, V, Dv)]
            step(n, rng, hi, G[N])
            G_pred = KT @ psi
            for a, s in zip((x, f, m, V, Dv), saved):
                a[...] = s
            Gmid = 0.5 * (G[N] + G_pred)
        else:
            Gmid = 1.5 * G[n + 1] - 0.5 * G[n + 2]
        Q[n] = step(n, rng, hi, Gmid)
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
            _passes.jump_variance(m, f, V, rng, phi_r, G[n], J[n])
    _check_finite(pr, dg, np.concatenate((R[1:], G[1:]), axis=0), "linearised")
    return LinearisedPass(R=R, Rd=Rd, Q=Q, G=G, Psi=Psi, J=J, V0=V[:, :M0].copy(), D0=Dv[:, :M0].copy())


# ================================================================================ schemes
def _check_options(options: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, default in (("survival_tol", 1e-17), ("tail_tol", 1e-10)):
        tol = check_positive(name, options[name], f"pass e.g. {name}={default:g}")
        if not tol < 1e-6:
            raise bad_argument(name, tol, "must be in (0, 1e-6)", f"pass e.g. {name}={default:g}")
        out[name] = tol
    if "pilot_stride" in options:
        out["pilot_stride"] = check_int("pilot_stride", options["pilot_stride"], 1, "pass e.g. pilot_stride=16")
    return out


class _Base(DualScheme):
    options = {"survival_tol": 1e-17, "tail_tol": 1e-10, "pilot_stride": 16}

    def check_options(self, problem, options):
        return _check_options(options)

    def _finish(self, p1, dg, R, Q, G, Psi, wall0, extras=None, tail_weight=0.0, tail_error=0.0) -> DualSolution:
        pr = self.problem
        counters = DualCounters(steps=pr.n_steps, dt=pr.dt, wall_time=time.perf_counter() - wall0,
                                distinct_nodes=int(dg.rep.size), slots=int(p1.life.death.size),
                                max_alive=p1.life.max_alive, survival_rule="hermite" if pr.hermite else "simpson",
                                survival_tol=self.opts["survival_tol"], tail_tol=self.opts["tail_tol"],
                                tail_weight=tail_weight, tail_error=tail_error)
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
        pr, o = self.problem, self.opts
        p1 = forward_pass(pr, with_mass=False, survival_tol=o["survival_tol"], tail_tol=o["tail_tol"],
                          stride=o["pilot_stride"])
        dg = dual_groups(pr, p1, tangent=False, nonlocal_term=False)
        fp = backward_frozen(pr, p1, dg)
        if p1.stride > 1 and fp.tail_weight > 100 * o["tail_tol"]:
            # the pilot's interpolated lifetimes were too short somewhere: track every newborn
            logger.info("dual frozen: pilot lifetimes too short (tail weight %.3g); full pass 1", fp.tail_weight)
            p1 = forward_pass(pr, with_mass=False, survival_tol=o["survival_tol"], tail_tol=o["tail_tol"])
            dg = dual_groups(pr, p1, tangent=False, nonlocal_term=False)
            fp = backward_frozen(pr, p1, dg)
        Z = np.zeros((pr.n_steps + 1, dg.rep.size))
        return self._finish(p1, dg, fp.R, fp.Q, Z, Z.copy(), w0, tail_weight=fp.tail_weight,
                            tail_error=fp.tail_error)


@DUAL_SCHEMES.register
class LinearisedScheme(_Base):
    """Adjoint of the linearised forward equation: frozen part plus the non-local source ``f G``."""

    name = "linearised"
    order = ORDER
    summary = "frozen adjoint plus the transposed non-local term f(x) int w(zeta, xi) Psi dzeta (AB2/Heun)"
    #: the linearised identities hold to O(dt^2), so a cohort's future is dropped earlier than in the
    #: frozen scheme (its effect, ~tail_tol relative, stays far below the discretisation error)
    options = {"survival_tol": 1e-17, "tail_tol": 1e-8}

    def run(self) -> DualSolution:
        w0 = time.perf_counter()
        pr, o = self.problem, self.opts
        p1 = forward_pass(pr, with_mass=True, survival_tol=o["survival_tol"], tail_tol=o["tail_tol"])
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
        ``survival_tol`` (default 1e-17): the future of an initial atom is dropped once its survival
        is below it on every node (truncation ``<= survival_tol sup|phi|``); ``tail_tol`` (frozen 1e-10,
        linearised 1e-8): the same for a born cohort, whose dropped future is replaced by the quadratic
        extrapolation of its younger neighbours (truncation ``~ tail_tol |d_x^3 phi| dx^3``); ``pilot_stride``
        (frozen, default 16): the lifetimes of the born cohorts are taken from a pilot pass that tracks
        every ``pilot_stride``-th one, checked a posteriori (1: track all).

    Returns
    -------
    DualSolution
    """
    linearised = check_bool("linearised", linearised)
    pr = dual_problem(forward, phi_T, model=model, kernel=kernel, t_end=t_end, dt=dt, x_grid=x_grid)
    scheme = DUAL_SCHEMES.create("linearised" if linearised else "frozen", pr, options)
    return scheme.run()
