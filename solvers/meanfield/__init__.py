"""Solvers of the spatially-extended mean-field PDE (SPEC section 3).

    d_t rho + d_x[(b(x) + h(t, xi)) rho] = -f(x) rho + r(t, xi) delta_{x_r}(x)
    r(t, xi) = int f(x) rho(t, xi, x) dx,   h(t, xi) = int_0^1 w(xi, zeta) r(t, zeta) dzeta

Entry point :func:`solve`; schemes (registered by name in :data:`SCHEMES`, orders in :data:`METHODS`;
the contract a scheme follows is :class:`~solvers.meanfield.base.Scheme`):

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

from typing import Any

from solvers.graphons import Kernel, labels
from solvers.model import NeuronModel
from solvers.validation import check_bool, check_instance, check_int, check_positive

from . import lagrangian as _lagrangian  # noqa: F401 (registers the scheme)
from . import upwind as _upwind  # noqa: F401 (registers the scheme)
from .base import (
    METHODS,
    SCHEMES,
    CohortKind,
    CohortSnapshot,
    GridSnapshot,
    MeanFieldProblem,
    MeanFieldSolution,
    Scheme,
    SchemeCounters,
    SchemeRegistry,
    coupling_matrix,
    save_indices,
    time_grid,
)
from .initial import Dirac, Empirical, Gaussian, Histogram, InitialSpec, as_initial
from .lagrangian import LagrangianCounters
from .upwind import UpwindCounters, default_x_range

__all__ = ["solve", "METHODS", "SCHEMES", "MeanFieldSolution", "CohortSnapshot", "CohortKind", "GridSnapshot",
           "SchemeCounters", "LagrangianCounters", "UpwindCounters", "Scheme", "SchemeRegistry",
           "MeanFieldProblem", "Dirac", "Gaussian", "Histogram", "Empirical", "InitialSpec", "default_x_range"]


def solve(model: NeuronModel, kernel: Kernel, t_end: float, initial: Any, *, method: str = "lagrangian",
          dt: float | None = None, n_xi: int = 64, save_times: Any = None, mass_tol: float = 1e-9,
          merge_identical_nodes: bool = True, **options: Any) -> MeanFieldSolution:
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
    method : str, keyword
        Name of a registered scheme (:data:`SCHEMES`): ``"lagrangian"`` (order 2 in ``dt``, the
        reference) or ``"upwind"`` (order 1 in ``dx`` and ``dt``, baseline).
    dt : float, optional, keyword
        Time step, ``<= t_end``; a step that does not divide ``t_end`` is shrunk to the nearest divisor
        step ``t_end / ceil(t_end / dt)`` (logged; ``counters.dt_requested`` / ``counters.dt_adjusted``).
        Default: the scheme's (``0.01`` for ``lagrangian``; for ``upwind`` ``cfl * dx / v_max`` with
        ``v_max`` the largest ``|b + h|`` on the grid for ``h`` within its a-priori bound).
    n_xi : int, keyword
        Number of ``xi`` nodes (``>= 1``).
    save_times : array, optional, keyword
        Times at which slice laws are stored for :meth:`MeanFieldSolution.cdf` (default 11 equally
        spaced times including 0 and ``t_end``; snapped to the time grid).
    mass_tol : float, keyword
        Largest tolerated ``|mass - 1|`` or negative mass before :class:`SimulationError` is raised.
    merge_identical_nodes : bool, keyword
        Compute nodes with identical coupling rows and identical initial data once (exact).
    **options
        Options of the scheme; any other keyword is refused.  ``lagrangian``: ``drop_tol`` (cohorts
        whose mass is below it on every node are dropped, mass re-injected and reported in
        ``counters.dropped_mass``; default 1e-15), ``prune_every`` (steps between pruning and merging
        passes; 16), ``merge_tol`` (neighbouring born cohorts merged into their centre of mass when
        ``m1 m2 / (m1 + m2) (x1 - x2)^2`` is below it on every node, each merge moving ``<psi, mu>`` by
        at most ``sup|psi''| merge_tol / 2``, total in ``counters.merge_cost``; default 1e-14, 0: never),
        ``survival_rule`` (``"hermite"``: corrected trapezoid with the exact ``f'(x) (b + h)``, one
        intensity evaluation per cohort and step, named families with the leaky drift; ``"simpson"``:
        start / mid / end, always used for user callables; both local error ``O(dt^5)``).
        ``upwind``: ``n_x`` (cells; 400), ``x_range`` (default :func:`default_x_range`), ``cfl``
        (Courant number of the default ``dt``, in ``(0, 1]``; 0.9).

    Returns
    -------
    MeanFieldSolution
        With typed counters (:class:`LagrangianCounters` or :class:`UpwindCounters`).

    Raises
    ------
    InvalidArgumentError
        Bad arguments (``t_end <= 0``, ``dt <= 0`` or ``> t_end``, ``n_xi < 1``, unknown method (the
        message lists the registered ones), an option the scheme does not have, unknown initial spec, ...).
    SimulationError
        Blow-up (non-finite state), negative mass or intensity, mass not conserved, Courant number above
        1 or mass reaching the end of the upwind grid; the message names ``t``, ``xi`` and the scheme.
    """
    check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.ring() or step_kernel(W)")
    t_end = check_positive("t_end", t_end, "pass a final time > 0, e.g. t_end=10.0")
    SCHEMES.get_scheme(method)
    n_xi = check_int("n_xi", n_xi, 1, "pass e.g. n_xi=64")
    spec = as_initial(initial)
    mass_tol = check_positive("mass_tol", mass_tol, "pass e.g. mass_tol=1e-9")
    merge = check_bool("merge_identical_nodes", merge_identical_nodes)
    if dt is not None:
        dt = check_positive("dt", dt, "pass a time step > 0, e.g. dt=0.01")
    K, quadrature = coupling_matrix(kernel, n_xi)
    problem = MeanFieldProblem(model=model, kernel=kernel, K=K, quadrature=quadrature, xi=labels(n_xi),
                               t_end=t_end, initial=spec, mass_tol=mass_tol, merge_identical_nodes=merge)
    scheme = SCHEMES.create(method, problem, options)
    grid = time_grid(t_end, scheme.default_dt() if dt is None else dt, dt_given=dt is not None)
    return scheme.run(grid, save_indices(save_times, t_end, grid.n_steps))
