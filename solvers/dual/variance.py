r"""The size of the fluctuations: ``Var <phi_T, mu^N_T> = V / N + o(1/N)`` (SPEC section 4).

With ``phi`` the linearised dual solution from ``phi_T``,

    V = int_0^1 Var_{mu_0(xi)} phi(0, xi, .) dxi
        + int_0^T int_0^1 int f(x) [phi(t, xi, x_r) - phi(t, xi, x) + G(t, xi)]^2 rho(t, xi, dx) dxi dt,

``G(t, xi) = int w(zeta, xi) Psi(t, zeta) dzeta``.  Why (derived for this project; the paper proves the law
of large numbers only): let ``M(t) = (1/N) sum_i phi(t, xi_i, X_i(t))``.  Its drift is a functional
``D(mu^N)`` that is quadratic in the empirical measure (the kicks ``h^N_i = sum_j W_ij f(X_j)`` are linear
in it); its derivative at the limit ``mu`` in a direction ``e`` is
``<d_t phi + (b + h) d_x phi + f (phi(x_r) - phi + G), e>``, which vanishes by the linearised dual
equation.  So ``M(T) - <phi_T, mu(T)>`` is, to first order in ``N^{-1/2}``, the initial fluctuation
``M(0) - <phi(0), mu(0)>`` plus the martingale of the jumps.  A firing of neuron ``j`` at ``(xi_j, x)``
changes ``N M`` by its reset ``phi(xi_j, x_r) - phi(xi_j, x)`` plus the kicks
``sum_i [phi(xi_i, X_i + W_ij) - phi(xi_i, X_i)] ~ sum_i W_ij d_x phi(xi_i, X_i) -> G(xi_j)`` it gives to
every postsynaptic neuron (the transposed kernel); its compensator is ``f(x) dt``.  The quadratic
variation gives the second term divided by ``N``; independent initial states drawn from the slice laws
give the first (deterministic initial states that differ from the limit give an ``O(1/N)`` bias, not a
variance: ``initial="deterministic"`` drops the term).

The frozen contrast drops ``G`` and uses the frozen dual (what neurons that were independent given
the mean input would give); SPEC reports that it overestimates the variance about five-fold for the
standard neuron with ``w = 1``: the kicks that a firing gives to every other neuron pull the
population back (negative feedback through the kernel), which only the linearised dual sees.

Discretisation.  Both terms are computed on the forward cohorts, with the values and slopes of the
dual's columns (:mod:`solvers.dual.backward`): the inner integral is the sum over the cohorts at each
grid time (atoms exact), ``phi(t_n, x_r)`` is the newborn's value corrected by its slope over
``x_new - x_r = O(dt)`` (at ``t_0``, where nothing is born, the linear extrapolation of the two next
values; at ``T`` the terminal function itself), and the time integral is the trapezoid rule on the
grid.  Each piece is ``O(dt^2)``; the discretisation error of ``V`` is estimated by re-solving forward
and dual with ``dt / 2`` (:attr:`Prediction.discretisation_error` ``= (4/3) |V_dt - V_{dt/2}|``, the
Richardson estimate of the error of ``V_dt`` for an order-2 quantity), and ``n_xi`` is the forward's.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.meanfield import solve
from solvers.validation import check_bool, check_choice

from .backward import _check_options, backward_linearised, dual_groups, forward_pass
from .base import DualProblem, dual_problem

__all__ = ["predicted_variance", "Prediction", "VarianceParts"]


@dataclass(frozen=True)
class VarianceParts:
    """``total = initial + martingale`` (``V`` of the module docstring, per unit ``1/N``)."""

    total: float
    initial: float
    martingale: float


@dataclass(frozen=True)
class Prediction:
    """The predicted ``N Var <phi_T, mu^N_T>``.

    Attributes
    ----------
    V : float
        The prediction (linearised dual), at the forward's ``dt``.
    initial, martingale : float
        Its two parts.
    frozen : VarianceParts
        What the frozen dual would predict (no non-local term): the contrast.
    discretisation_error : float
        ``(4/3) |V_dt - V_{dt/2}|`` (``nan`` when not refined).
    refined : VarianceParts or None
        The prediction at ``dt / 2``.
    initial_law : str
        ``"deterministic"`` or ``"iid"``.
    dt, t_end : float
    wall_time : float
    """

    V: float
    initial: float
    martingale: float
    frozen: VarianceParts
    discretisation_error: float
    refined: VarianceParts | None
    initial_law: str
    dt: float
    t_end: float
    wall_time: float


def _parts(pr: DualProblem, *, nonlocal_term: bool, iid: bool, survival_tol: float, tail_tol: float,
           p1=None) -> VarianceParts:
    if p1 is None:
        p1 = forward_pass(pr, with_mass=True, survival_tol=survival_tol, tail_tol=tail_tol)
    dg = dual_groups(pr, p1, tangent=True, nonlocal_term=nonlocal_term)
    lp = backward_linearised(pr, p1, dg, nonlocal_term=nonlocal_term, variance=True)
    J = lp.J @ dg.weight  # (N + 1,): the xi integral of the integrand at each grid time
    mart = float(pr.dt * (0.5 * J[0] + J[1:-1].sum() + 0.5 * J[-1]))
    init = 0.0
    if iid:
        m0 = pr.mass0[dg.rep]
        mean = np.sum(m0 * lp.V0, axis=1)
        var = np.sum(m0 * (lp.V0 - mean[:, None]) ** 2, axis=1)
        init = float(var @ dg.weight)
    return VarianceParts(total=init + mart, initial=init, martingale=mart)


def predicted_variance(forward: Any, phi_T: Any, *, initial: str = "deterministic", refine: bool = True,
                       x_grid: Any = None, model: Any = None, kernel: Any = None,
                       t_end: float | None = None, survival_tol: float = 1e-17,
                       tail_tol: float = 1e-10) -> Prediction:
    """``V`` such that ``Var <phi_T, mu^N_T> ~ V / N`` (module docstring), with the frozen contrast.

    Parameters
    ----------
    forward : MeanFieldSolution
        Lagrangian solution of the mean-field PDE (its horizon, or ``t_end``, is ``T``).
    phi_T : callable, TerminalFunction or array on the default grid
        Terminal function ``phi_T(xi, x)``.
    initial : {"deterministic", "iid"}, keyword
        Initial states of the network: deterministic (no initial variance term) or i.i.d. from the
        slice laws of the forward's initial datum.
    refine : bool, keyword
        Estimate the discretisation error by re-solving forward and dual with ``dt / 2``.
    t_end : float, optional, keyword
        Horizon ``T`` (a forward grid time); default the forward's.
    x_grid : array, optional, keyword
        The dual's ``x`` grid (the grid of an array ``phi_T``; must hold the forward cohorts).
    model, kernel : optional, keyword
        If given, checked to be the forward's.
    survival_tol, tail_tol : float, keyword
        Column truncation of the dual (:func:`solvers.dual.solve_backward`).

    Returns
    -------
    Prediction
    """
    w0 = time.perf_counter()
    initial = check_choice("initial", initial, ("deterministic", "iid"),
                           "pass initial='deterministic' (fixed initial states) or 'iid' (drawn from the slice laws)")
    refine = check_bool("refine", refine)
    tols = _check_options({"survival_tol": survival_tol, "tail_tol": tail_tol, "pilot_stride": 1})
    survival_tol, tail_tol = tols["survival_tol"], tols["tail_tol"]
    pr = dual_problem(forward, phi_T, t_end=t_end, x_grid=x_grid, model=model, kernel=kernel)
    iid = initial == "iid"
    p1 = forward_pass(pr, with_mass=True, survival_tol=survival_tol, tail_tol=tail_tol)
    lin = _parts(pr, nonlocal_term=True, iid=iid, survival_tol=survival_tol, tail_tol=tail_tol, p1=p1)
    fro = _parts(pr, nonlocal_term=False, iid=iid, survival_tol=survival_tol, tail_tol=tail_tol, p1=p1)
    refined = None
    err = math.nan
    if refine:
        fp = forward.problem
        fine = solve(fp.model, fp.kernel, forward.t_end, fp.initial, method="lagrangian", dt=forward.dt / 2,
                     n_xi=fp.n_xi, save_times=[0.0], mass_tol=fp.mass_tol,
                     merge_identical_nodes=fp.merge_identical_nodes, **(forward.options or {}))
        pr2 = dual_problem(fine, pr.terminal, t_end=pr.t_end)
        refined = _parts(pr2, nonlocal_term=True, iid=iid, survival_tol=survival_tol, tail_tol=tail_tol)
        err = 4.0 / 3.0 * abs(lin.total - refined.total)
    return Prediction(V=lin.total, initial=lin.initial, martingale=lin.martingale, frozen=fro,
                      discretisation_error=err, refined=refined, initial_law=initial, dt=pr.dt, t_end=pr.t_end,
                      wall_time=time.perf_counter() - w0)
