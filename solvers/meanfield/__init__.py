"""Solvers of the spatially-extended mean-field PDE (SPEC section 3).

    d_t rho + d_x[(b(x) + h(t, xi)) rho] = -f(x) rho + r(t, xi) delta_{x_r}(x)
    r(t, xi) = int f(x) rho(t, xi, x) dx,   h(t, xi) = int_0^1 w(xi, zeta) r(t, zeta) dzeta

Entry point :func:`solve`; schemes (registered by name in :data:`METHODS`):

* ``"lagrangian"`` (the reference; :mod:`solvers.meanfield.lagrangian`): cohorts carried along
  characteristics with exact mass conservation, second order in ``dt``, atoms carried exactly;
* ``"upwind"`` (baseline; :mod:`solvers.meanfield.upwind`): first-order finite volumes on an ``x`` grid.

Initial data: :class:`Dirac`, :class:`Gaussian`, :class:`Histogram`, :class:`Empirical` (a network
state), a plain number or a network-state array (:mod:`solvers.meanfield.initial`).  The ``xi``
quadrature and the time grid are described in :mod:`solvers.meanfield.base`.

Example
-------
>>> from solvers.model import NeuronModel
>>> from solvers.graphons import ring
>>> sol = solve(NeuronModel.standard(), ring(), 5.0, 0.0, n_xi=16, dt=0.01)
>>> sol.rate(5.0).shape
(16,)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.graphons import Kernel, labels
from solvers.model import Leaky, NeuronModel

from .base import (CohortSnapshot, GridSnapshot, MeanFieldSolution, check_int, check_positive, coupling_matrix,
                   save_indices, time_grid)
from .initial import Dirac, Empirical, Gaussian, Histogram, InitialSpec, as_initial
from .lagrangian import solve_lagrangian
from .upwind import solve_upwind

__all__ = ["solve", "METHODS", "MeanFieldSolution", "CohortSnapshot", "GridSnapshot",
           "Dirac", "Gaussian", "Histogram", "Empirical", "InitialSpec", "default_x_range"]

#: scheme name -> order of accuracy
METHODS = {"lagrangian": 2, "upwind": 1}


def default_x_range(model: NeuronModel, K: np.ndarray, spec: InitialSpec, n_xi: int) -> tuple[float, float]:
    """A grid range that holds every trajectory (leaky drift with bounded intensity only).

    All mass stays between the initial support, ``x_r`` and the fixed points ``I0 + h`` of the drift,
    with ``h`` in ``[min_k sum_j min(K_kj, 0), max_k sum_j max(K_kj, 0)] * sup f / n_xi``; the range is
    that hull widened by ``0.5 + 2%``.
    """
    f_sup = model.intensity.sup
    if not isinstance(model.drift, Leaky) or not math.isfinite(f_sup):
        raise bad_argument("x_range", None, "has no automatic default for this model (it needs a leaky drift "
                           "and a bounded intensity)", "pass x_range=(x_min, x_max) holding all the mass")
    h_hi = float(np.max(np.clip(K, 0, None).sum(axis=1))) * f_sup / n_xi
    h_lo = float(np.min(np.clip(K, None, 0).sum(axis=1))) * f_sup / n_xi
    lo0, hi0 = spec.support(n_xi)
    lo = min(lo0, model.reset, model.drift.I0 + h_lo)
    hi = max(hi0, model.reset, model.drift.I0 + h_hi)
    pad = 0.5 + 0.02 * (hi - lo)
    return lo - pad, hi + pad


def solve(model: NeuronModel, kernel: Kernel, t_end: float, initial: Any, method: str = "lagrangian", *,
          dt: float | None = None, n_xi: int = 64, save_times=None, n_x: int = 400,
          x_range: tuple[float, float] | None = None, cfl: float = 0.9, drop_tol: float = 1e-15,
          prune_every: int = 16, merge_tol: float = 1e-14, survival_rule: str = "hermite",
          mass_tol: float = 1e-9, merge_identical_nodes: bool = True) -> MeanFieldSolution:
    """Solve the spatially-extended mean-field PDE on ``[0, t_end]``.

    Parameters
    ----------
    model : NeuronModel
        Drift ``b``, intensity ``f`` and reset ``x_r``.
    kernel : solvers.graphons.Kernel
        ``w(xi, zeta)`` (``zeta`` presynaptic); discretised as in :mod:`solvers.meanfield.base`.
    t_end : float
        Final time, ``> 0``.
    initial : number, 1-D array of length N, or Dirac / Gaussian / Histogram / Empirical
        Initial slice laws (see :mod:`solvers.meanfield.initial`).
    method : {"lagrangian", "upwind"}
        Scheme; order 2 (in ``dt``) and order 1 (in ``dx`` and ``dt``) respectively.
    dt : float, optional, keyword
        Time step (shrunk by less than one step so that ``t_end`` is a grid point).  Default: ``0.01``
        for ``lagrangian``; for ``upwind`` ``cfl * dx / v_max`` with ``v_max`` the largest ``|b + h|``
        on the grid for ``h`` within its a-priori bound (the Courant number is checked every step).
    n_xi : int, keyword
        Number of ``xi`` nodes (``>= 1``).
    save_times : array, optional, keyword
        Times at which slice laws are stored for :meth:`MeanFieldSolution.cdf` (default 11 equally
        spaced times including 0 and ``t_end``; snapped to the time grid).
    n_x : int, keyword
        Number of ``x`` cells (upwind only).
    x_range : (float, float), optional, keyword
        ``x`` grid of the upwind scheme (default :func:`default_x_range`).
    cfl : float, keyword
        Courant number of the default upwind ``dt``, in ``(0, 1]``.
    drop_tol : float, keyword
        Lagrangian cohorts whose mass is below this on every node are dropped (mass re-injected and
        reported in ``counters["dropped_mass"]``).
    prune_every : int, keyword
        Lagrangian: steps between two pruning (and merging) passes.
    merge_tol : float, keyword
        Lagrangian: neighbouring born cohorts are merged into their centre of mass when the weak-error
        cost ``m1 m2 / (m1 + m2) (x1 - x2)^2`` is below this on every node (default 1e-14; 0: never).  Each
        merge changes ``<psi, mu>`` by at most ``sup|psi''| merge_tol / 2``; the total is reported.
    survival_rule : {"hermite", "simpson"}, keyword
        Lagrangian: quadrature of ``int f`` along a cohort's path over one step.  ``"hermite"``: corrected
        trapezoid with the exact derivative ``f'(x) (b + h)`` (one intensity evaluation per cohort and
        step; named families with the leaky drift); ``"simpson"``: start / mid / end (two evaluations;
        always used for user callables).  Both have local error ``O(dt^5)`` on smooth paths.
    mass_tol : float, keyword
        Largest tolerated ``|mass - 1|`` or negative mass before :class:`SimulationError` is raised.
    merge_identical_nodes : bool, keyword
        Compute nodes with identical coupling rows and identical initial data once (exact).

    Returns
    -------
    MeanFieldSolution

    Raises
    ------
    InvalidArgumentError
        Bad arguments (``t_end <= 0``, ``dt <= 0``, ``n_xi < 1``, unknown method, unknown initial spec, ...).
    SimulationError
        Blow-up (non-finite state), negative mass or intensity, mass not conserved, Courant number above
        1 or mass reaching the end of the upwind grid; the message names ``t``, ``xi`` and the scheme.
    """
    if not isinstance(model, NeuronModel):
        raise bad_argument("model", model, "must be a solvers.model.NeuronModel",
                           "pass e.g. NeuronModel.standard()")
    if not isinstance(kernel, Kernel):
        raise bad_argument("kernel", kernel, "must be a solvers.graphons.Kernel",
                           "pass e.g. solvers.graphons.ring() or step_kernel(W)")
    t_end = check_positive("t_end", t_end, "pass a final time > 0, e.g. t_end=10.0")
    if not isinstance(method, str) or method not in METHODS:
        raise bad_argument("method", method, f"unknown scheme; valid: {sorted(METHODS)}",
                           "pass method='lagrangian' (reference) or method='upwind' (baseline)")
    n_xi = check_int("n_xi", n_xi, 1, "pass e.g. n_xi=64")
    spec = as_initial(initial)
    mass_tol = check_positive("mass_tol", mass_tol, "pass e.g. mass_tol=1e-9")
    merge = bool(merge_identical_nodes)
    xi = labels(n_xi)
    K, quadrature = coupling_matrix(kernel, n_xi)

    if method == "lagrangian":
        dt = 0.01 if dt is None else check_positive("dt", dt, "pass a time step > 0, e.g. dt=0.01")
        drop_tol = float(drop_tol)
        if not (0.0 <= drop_tol < 1e-6):
            raise bad_argument("drop_tol", drop_tol, "must be in [0, 1e-6)", "pass e.g. drop_tol=1e-15")
        prune_every = check_int("prune_every", prune_every, 1, "pass e.g. prune_every=16")
        if survival_rule not in ("hermite", "simpson"):
            raise bad_argument("survival_rule", survival_rule, "unknown survival quadrature; valid: "
                               "['hermite', 'simpson']", "pass survival_rule='hermite' (default)")
        merge_tol = float(merge_tol)
        if not (0.0 <= merge_tol < 1e-6):
            raise bad_argument("merge_tol", merge_tol, "must be in [0, 1e-6)", "pass e.g. merge_tol=1e-14 (0: no merging)")
        n_steps, _ = time_grid(t_end, dt)
        idx = save_indices(save_times, t_end, n_steps)
        return solve_lagrangian(model, K, quadrature, xi, t_end, n_steps, spec, idx, drop_tol=drop_tol,
                                prune_every=prune_every, mass_tol=mass_tol, merge_identical_nodes=merge,
                                merge_tol=merge_tol, survival_rule=survival_rule)

    # upwind
    n_x = check_int("n_x", n_x, 2, "pass e.g. n_x=400")
    if x_range is None:
        x_range = default_x_range(model, K, spec, n_xi)
    try:
        lo, hi = (float(v) for v in x_range)
    except (TypeError, ValueError):
        raise bad_argument("x_range", x_range, "must be a pair (x_min, x_max)", "pass e.g. x_range=(-1, 6)") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise bad_argument("x_range", x_range, "must be finite with x_min < x_max", "pass e.g. x_range=(-1, 6)")
    if not lo <= model.reset < hi:
        raise bad_argument("x_range", x_range, f"must contain the reset value x_r = {model.reset}",
                           "widen x_range")
    edges = np.linspace(lo, hi, n_x + 1)
    if dt is None:
        cfl = check_positive("cfl", cfl, "pass a Courant number in (0, 1]")
        if cfl > 1:
            raise bad_argument("cfl", cfl, "must be <= 1 for the explicit upwind scheme", "pass e.g. cfl=0.9")
        f_sup = model.intensity.sup
        f_bound = f_sup if math.isfinite(f_sup) else float(np.max(model.intensity(edges)))
        h_bound = float(np.max(np.abs(K).sum(axis=1))) * f_bound / n_xi
        v_max = float(np.max(np.abs(model.drift(edges)))) + h_bound
        dt = cfl * (hi - lo) / n_x / max(v_max, 1e-300)
    else:
        dt = check_positive("dt", dt, "pass a time step > 0 satisfying the CFL condition")
    n_steps, _ = time_grid(t_end, dt)
    idx = save_indices(save_times, t_end, n_steps)
    return solve_upwind(model, K, quadrature, xi, t_end, n_steps, spec, idx, edges=edges, mass_tol=mass_tol,
                        merge_identical_nodes=merge)
