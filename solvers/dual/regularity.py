r"""Regularity of the dual in ``xi``: the measured Lipschitz constant and modulus of continuity of
``phi(t)`` beside the bound ``C exp(L (T - t))`` (SPEC section 4: the regularity of ``w`` is propagated).

Measured (on the dual's nodes and an ``x`` grid): ``omega(t, delta) = max |phi(t, xi_k, x) - phi(t, xi_l, x)|``
over grid points and node pairs with ``|xi_k - xi_l| <= delta`` (``delta = m / n_xi``), and
``Lip(t) = max_m omega_m / (m / n_xi)`` (pairs at distance exactly ``m``).

A precision on SPEC section 4 ("if ``w`` is Lipschitz in ``xi`` and ``phi_T`` is, so is ``phi(t)``"): ``xi`` enters
in two places with different arguments of the kernel.  The input ``h(t, xi) = int w(xi, zeta) r dzeta``
needs the first argument's bound ``L1``; the linearised dual's ``G(t, xi) = int w(zeta, xi) Psi dzeta`` and
the weak metric's ``T_w^* g`` need the second argument's bound ``L2``.  So the frozen dual propagates
``L1`` and the linearised one needs both (the bound below uses each where it enters).

Derivation of the bound (continuous problem, leaky drift ``b' = -1``, so every ``exp(b' s) <= 1``; on an
interval ``J`` that holds the grid, ``x_r``, the initial datum and ``I0 + h``: invariant, see
:mod:`solvers.dual.base`).  Constants: ``F = sup f``, ``L_f = Lip f`` (the model's); ``W = sup |w|``,
``L1 = sup |d_xi w|`` (first argument, postsynaptic), ``L2 = sup |d_zeta w|`` (second) (the kernel's
stated bounds, ``solvers.graphons``); for ``phi_T``: ``P1 >= sup |d_x phi_T|``,
``P2 >= sup_J Lip_xi phi_T``, ``osc >= sup_xi osc_J phi_T(xi, .)``
(:meth:`~solvers.dual.base.TerminalFunction.constants`; for ``(T_w^* g) psi``: ``P1 = W |g| Lip psi``,
``P2 = L2 |g| sup_J |psi|``, ``osc = W |g| Lip psi |J|``).  Write ``tau = T - t``.

1. Slope.  ``v = d_x phi`` solves ``d_t v + (b + h) d_x v + (b' - f) v + f' (phi(x_r) - phi + G) = 0`` (the
   jump term differentiated), so along the characteristic ``X`` (no jumps), with the killing
   ``E_s = exp(int_t^s (b' - f)) <= exp(-int_t^s f)``,
   ``v(t) = E_T v_T(X_T) + int_t^T E_s f'(X_s) Delta(s) ds``, ``Delta = phi(x_r) - phi + G``.  Two bounds of the
   integral: ``|f'| <= L_f`` gives ``L_f int_t^T |Delta|``; and ``|f'| <= kappa f`` (``kappa = sup f'/f``: ``beta``
   for the sigmoid and exponential families, 0 for the constant, ``inf`` for the relu) gives
   ``kappa sup_s |Delta(s)| int f e^{-int f} <= kappa sup_s |Delta(s)|``.  Frozen: ``G = 0`` and
   ``osc phi(s) <= osc`` (``phi`` is an expectation of ``phi_T`` on ``J``), so
   ``a(t) := sup_J |v(t)| <= A(tau) := P1 + osc min(L_f tau, kappa)``.
   Linearised: ``phi(s) = E[phi_T(Y_T) + int_s^T f(Y) G du]`` gives ``osc phi(s) <= osc + 2 F int_s^T |G|``,
   and ``|G| <= W sup|Psi| <= W a`` (``rho`` is a probability on ``J``); with the ``L_f`` bound,
   ``a(t) <= P1 + L_f osc tau + K int_t^T a``, ``K = L_f W (1 + 2 F T)``, and by Gronwall
   ``a <= (P1 + L_f osc tau) e^{K tau}`` (the ``kappa`` bound does not close this loop: the feedback
   ``kappa W sup a`` has a coefficient above 1 for the standard neuron).
2. ``xi``-difference.  ``u = phi(., xi) - phi(., xi')`` solves the ``xi``-equation with the source
   ``(h(xi) - h(xi')) d_x phi(xi') + f (G(xi) - G(xi'))``; ``|h(xi) - h(xi')| <= L1 F |xi - xi'|`` (``r <= F``)
   and ``|G(xi) - G(xi')| <= L2 sup|Psi| |xi - xi'|``.  Feynman-Kac for ``u`` gives
   ``Lip_xi phi(t) <= B(tau) := P2 + F (L1 + L2 [linearised]) int_0^tau a``:

   * frozen: ``B = P2 + F L1 int_0^tau A = P2 + F L1 (P1 tau + osc [L_f m^2 / 2 + kappa (tau - m)])``,
     ``m = min(tau, kappa / L_f)``;
   * linearised: ``B = P2 + F (L1 + L2) (P1 + L_f osc tau) (e^{K tau} - 1) / K``.

3. The form ``C e^{L tau}``.  Frozen: ``B(tau) <= P2 + Lam tau`` with
   ``Lam = F L1 (P1 + osc min(kappa, L_f T / 2))``, and ``1 + s <= e^s`` gives ``B <= C e^{L tau}`` with
   ``C = P2``, ``L = Lam / P2`` (the terminal regularity, growing at the rate the input's ``xi``-variation
   feeds it).  Linearised: with ``l = L_f osc / P1`` (``P1 + L_f osc tau <= P1 e^{l tau}``),
   ``B <= C e^{L tau}``, ``L = K + l``, ``C = P2 + F (L1 + L2) P1 / K``.  :class:`Regularity` reports ``B``
   (the sharper) and ``C, L``; both are certified bounds of the continuous problem.  The linearised one
   is a Gronwall bound and far from tight for a steep intensity (``K`` is ~550 for the standard neuron
   with the skew kernel at ``T = 1``): the linearised dynamics are stable, which a Lipschitz bound cannot
   see.  The measured constants are those of the discrete solution on the grid, equal to the
   continuous ones up to ``O(dt^2)``, ``O(n_xi^-2)`` (midpoint coupling) and the AB2 input
   (``|hbar(xi) - hbar(xi')|`` can exceed ``|h(xi) - h(xi')|`` by the extrapolation's ``O(dt^2)``): the
   comparison is a check of the discrete solution against the continuous bound, not a proof for it.

Without the constants (a kernel without stated derivative bounds, such as a step kernel, or a
terminal function without stated constants) the bound is ``nan`` and only the measured curves are
reported: with a step kernel ``T_w^* g`` and ``G`` jump where ``w`` jumps, and the measured Lipschitz
constant grows like ``n_xi`` (the smoothness in ``xi`` comes from the kernel).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.validation import check_vector

from .base import DualSolution, TerminalConstants

__all__ = ["regularity", "Regularity", "regularity_bound", "log_derivative_bound"]


@dataclass(frozen=True)
class Regularity:
    """``xi``-regularity of a dual solution over time.

    Attributes
    ----------
    times : ndarray (n_t,)
    lipschitz : ndarray (n_t,)
        Measured ``Lip_xi phi(t)`` on the grid.
    deltas : ndarray (n_xi - 1,)
        ``m / n_xi``.
    modulus : ndarray (n_t, n_xi - 1)
        Measured modulus of continuity ``omega(t, delta)`` (non-decreasing in ``delta``).
    bound : ndarray (n_t,)
        ``B(T - t)`` of the module docstring (``nan`` without the constants).
    C, L : float
        ``B(tau) <= C exp(L tau)``.
    constants : dict
        The constants used (``F, L_f, W, L1, L2, P1, P2, osc, K, J``).
    """

    times: np.ndarray
    lipschitz: np.ndarray
    deltas: np.ndarray
    modulus: np.ndarray
    bound: np.ndarray
    C: float
    L: float
    constants: dict = field(default_factory=dict)

    @property
    def exponential_bound(self) -> np.ndarray:
        """``C exp(L (T - t))`` at :attr:`times`."""
        T = self.constants.get("T", float(self.times[-1]))
        return self.C * np.exp(self.L * (T - self.times))


def log_derivative_bound(intensity) -> float:
    """``kappa = sup f'/f`` of a named family (sigmoid, exponential: ``beta``; constant: 0; relu and user
    callables: ``inf``)."""
    kind = getattr(intensity, "kind", "custom")
    if kind in ("sigmoid", "exponential"):
        return float(intensity.beta)
    if kind == "constant":
        return 0.0
    return math.inf


def regularity_bound(tau: np.ndarray, *, linearised: bool, F: float, L_f: float, kappa: float, W: float,
                     L1: float, L2: float, T: float, tc: TerminalConstants) -> tuple[np.ndarray, float, float, float]:
    """``(B(tau), C, L, K)`` of the module docstring."""
    tau = np.asarray(tau, dtype=float)
    P1, P2, osc = tc.lip_x, tc.lip_xi, tc.osc
    if not linearised:
        if L_f > 0 and math.isfinite(kappa):
            m = np.minimum(tau, kappa / L_f)
            B = P2 + F * L1 * (P1 * tau + osc * (L_f * m ** 2 / 2 + kappa * (tau - m)))
            lam = F * L1 * (P1 + osc * min(kappa, L_f * T / 2))
        else:
            B = P2 + F * L1 * (P1 * tau + L_f * osc * tau ** 2 / 2)
            lam = F * L1 * (P1 + osc * L_f * T / 2)
        if P2 > 0:
            C, L = P2, lam / P2
        else:
            C, L = lam * T, 1.0 / T
        return B, C, L, 0.0
    K = L_f * W * (1 + 2 * F * T)
    growth = np.expm1(K * tau) / K if K > 0 else tau
    B = P2 + F * (L1 + L2) * (P1 + L_f * osc * tau) * growth
    l = L_f * osc / P1 if P1 > 0 else 0.0
    L = K + l
    C = P2 + (F * (L1 + L2) * P1 / K if K > 0 else math.inf)
    return B, C, L, K


def regularity(dual: DualSolution, *, times: Any = None, x: Any = None) -> Regularity:
    """Measured ``xi``-Lipschitz constant and modulus of continuity of ``phi(t)``, beside the bound.

    Parameters
    ----------
    dual : DualSolution
    times : array, optional, keyword
        Grid times (default 21 equally spaced grid times from 0 to ``T``).
    x : array, optional, keyword
        ``x`` points (default the dual's grid; they must lie in the grid's range, where the bound holds).
    """
    N = dual.problem.n_steps
    if times is None:
        idx = np.unique(np.rint(np.linspace(0, N, 21)).astype(np.int64))
    else:
        tt = check_vector("times", np.atleast_1d(np.asarray(times, dtype=float)), fix="pass grid times")
        idx = np.array([dual.step_index(t, "times") for t in tt], dtype=np.int64)
    xs = dual.x_grid if x is None else check_vector("x", x, fix="pass finite x points")
    g = dual.x_grid
    if xs.min() < g[0] - 1e-12 or xs.max() > g[-1] + 1e-12:
        raise bad_argument("x", f"points in [{xs.min():.6g}, {xs.max():.6g}]",
                           f"must lie in the dual's grid range [{g[0]:.6g}, {g[-1]:.6g}] (where the bound holds)",
                           "pass points inside x_grid, or solve with a wider x_grid")
    n_xi = dual.problem.n_xi
    times_arr = idx * dual.dt
    lip = np.zeros(idx.size)
    mod = np.zeros((idx.size, max(n_xi - 1, 0)))
    for a, n in enumerate(idx):
        phi = dual.phi(n * dual.dt, xs)
        for m in range(1, n_xi):
            mod[a, m - 1] = np.max(np.abs(phi[m:] - phi[:-m]))
        if n_xi > 1:
            lip[a] = np.max(mod[a] / (np.arange(1, n_xi) / n_xi))
            mod[a] = np.maximum.accumulate(mod[a])
    pr = dual.problem
    model, kernel = pr.model, pr.kernel
    J = (float(g[0]), float(g[-1]))
    tc = pr.terminal.constants(J)
    F, L_f = float(model.intensity.sup), float(model.intensity.lipschitz)
    W = float(kernel.sup)
    L1, L2 = kernel.lipschitz if kernel.lipschitz is not None else (math.nan, math.nan)
    T = dual.t_end
    kappa = log_derivative_bound(model.intensity)
    B, C, L, K = regularity_bound(T - times_arr, linearised=dual.method == "linearised", F=F, L_f=L_f,
                                  kappa=kappa, W=W, L1=L1, L2=L2, T=T, tc=tc)
    consts = {"F": F, "L_f": L_f, "kappa": kappa, "W": W, "L1": L1, "L2": L2, "P1": tc.lip_x, "P2": tc.lip_xi,
              "osc": tc.osc, "K": K, "J": J, "T": T}
    return Regularity(times=times_arr, lipschitz=lip, deltas=np.arange(1, n_xi) / n_xi, modulus=mod,
                      bound=np.asarray(B, dtype=float), C=float(C), L=float(L), constants=consts)
