"""Shared pieces of the mean-field solvers: the scheme contract and registry, coupling matrix, time
grid, snapshots, typed counters, solution object.

Scheme contract: :class:`Scheme` (numbered docstring) and :class:`SchemeRegistry`; the schemes
register themselves in :data:`SCHEMES` and :func:`solvers.meanfield.solve` looks them up by name.

Quadrature in ``xi`` (stated once for every scheme): nodes ``xi_k = (k + 1/2)/n_xi``; the input is
``h_k = (1/n_xi) sum_j K_kj r_j`` with ``K, rule = coupling_matrix(kernel, n_xi)``: exact cell averages
for step kernels (exact when the blocks align with the grid and ``r`` is constant on them) and
midpoint values otherwise (error ``O(n_xi^-2)`` for kernels and rates that are smooth in ``xi``).
One matrix-vector product per stage.

Time grid (:func:`time_grid`): ``n_steps = ceil(t_end / dt)`` equal steps of ``t_end / n_steps``.  A
``dt`` given by the caller must be ``<= t_end``; one that does not divide ``t_end`` is shrunk (by less
than one step) to the nearest divisor step, and the change is logged and reported in the counters
(``dt``, ``dt_requested``, ``dt_adjusted``).  Rates, inputs, masses, means and second moments are
stored at every grid time; between grid times :meth:`MeanFieldSolution.rate` and the other time series
interpolate linearly (error ``dt^2 max|r''| / 8``, the same order as the Lagrangian scheme).  Slice
laws are stored at ``save_times`` (each snapped to the nearest grid time, the snapped time is what
:attr:`MeanFieldSolution.save_times` reports).
"""
from __future__ import annotations

import dataclasses
import enum
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from solvers.errors import bad_argument
from solvers.graphons import Kernel, coupling_matrix
from solvers.model import NeuronModel
from solvers.validation import check_times

from .initial import InitialSpec

__all__ = ["MeanFieldSolution", "CohortSnapshot", "CohortKind", "GridSnapshot", "SchemeCounters", "Scheme",
           "SchemeRegistry", "SCHEMES", "METHODS", "MeanFieldProblem", "TimeGrid", "time_grid", "save_indices",
           "coupling_matrix", "distinct_nodes"]

logger = logging.getLogger(__name__)


def distinct_nodes(K: np.ndarray, *rows: np.ndarray, merge: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact node compression: nodes with identical coupling rows and identical initial data
    (``rows``, arrays with one row per node) have identical solutions.

    Returns ``(rep, node_of, Kred)``: representative node indices (in node order), the group of every
    node, and the reduced coupling ``Kred[a, g] = (1/n_xi) sum_{j in group g} K[rep_a, j]`` so that
    ``h_rep = Kred @ r_rep``.  With ``merge=False`` every node is its own group.
    """
    n_xi = K.shape[0]
    if merge:
        key = np.concatenate((K,) + tuple(r.reshape(n_xi, -1) for r in rows), axis=1)
        _, rep, node_of = np.unique(key, axis=0, return_index=True, return_inverse=True)
        node_of = np.asarray(node_of).ravel()
        order = np.argsort(rep)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        rep, node_of = rep[order], rank[node_of]
    else:
        rep, node_of = np.arange(n_xi), np.arange(n_xi)
    Kred = np.zeros((rep.size, rep.size))
    np.add.at(Kred.T, node_of, K[rep].T)
    return rep, node_of, Kred / n_xi


# -------------------------------------------------------------------------------------- time grid
@dataclass(frozen=True)
class TimeGrid:
    """The time grid of a solve: ``n_steps`` equal steps ``dt = t_end / n_steps``.

    ``dt_requested`` is the step asked for (the caller's ``dt``, or the scheme's default when the
    caller gave none); ``dt`` differs from it when it did not divide ``t_end`` (see :func:`time_grid`).
    """

    t_end: float
    n_steps: int
    dt: float
    dt_requested: float
    dt_given: bool

    @property
    def adjusted(self) -> bool:
        """Whether ``dt`` differs from ``dt_requested`` (beyond rounding, relative 1e-9)."""
        return not math.isclose(self.dt, self.dt_requested, rel_tol=1e-9, abs_tol=0.0)

    @property
    def times(self) -> np.ndarray:
        """``t_n = n t_end / n_steps``, shape ``(n_steps + 1,)``."""
        return np.linspace(0.0, self.t_end, self.n_steps + 1)


def time_grid(t_end: float, dt: float, *, dt_given: bool = True) -> TimeGrid:
    """The grid for horizon ``t_end`` and requested step ``dt`` (both already checked ``> 0``).

    Rule: a step given by the caller must satisfy ``dt <= t_end`` (else
    :class:`~solvers.errors.InvalidArgumentError`: a step longer than the horizon was silently cut to
    ``t_end`` before, and gave a wrong rate); a default step longer than the horizon becomes one step
    of ``t_end``.  A step that does not divide ``t_end`` is replaced by the nearest smaller divisor
    step ``t_end / ceil(t_end / dt)``; the change is logged (warning when the caller gave ``dt``, info
    for a default step) and reported in the solution's counters (``dt``, ``dt_requested``,
    ``dt_adjusted``).
    """
    if dt_given and dt > t_end * (1.0 + 1e-12):
        raise bad_argument("dt", dt, f"must be <= t_end = {t_end:g} (at least one step must fit in the horizon)",
                           f"pass a step dt <= {t_end:g}, e.g. dt={t_end / 100:g}")
    n_steps = max(1, int(math.ceil(t_end / dt - 1e-9)))
    grid = TimeGrid(t_end=float(t_end), n_steps=n_steps, dt=t_end / n_steps, dt_requested=float(dt),
                    dt_given=dt_given)
    if grid.adjusted:
        level = logging.WARNING if dt_given else logging.INFO
        logger.log(level, "solve: %s dt = %.6g does not divide t_end = %.6g; using dt = %.6g (%d steps)",
                   "requested" if dt_given else "default", dt, t_end, grid.dt, n_steps)
    return grid


def save_indices(save_times: Any, t_end: float, n_steps: int) -> np.ndarray:
    """Grid indices of the requested save times (default: 11 equally spaced times including 0 and
    ``t_end``), in increasing order without repeats; any order is accepted (a set of times)."""
    st = save_times
    if save_times is not None and not isinstance(save_times, (str, bytes)):
        try:
            arr = np.atleast_1d(np.asarray(save_times, dtype=float))
            st = np.sort(arr) if arr.ndim == 1 else arr
        except (TypeError, ValueError):
            st = save_times  # check_times names the problem
    st = check_times("save_times", st, t_end, default=np.linspace(0.0, t_end, 11))
    return np.unique(np.clip(np.rint(st / t_end * n_steps).astype(np.int64), 0, n_steps))


# -------------------------------------------------------------------------------------- snapshots
class CohortKind(enum.Enum):
    """What a column of a :class:`CohortSnapshot` is (and how the slice CDF treats it)."""

    #: a cohort born at ``x_r`` during the run (one per step, columns in birth order); continuous part
    BORN = "born"
    #: a genuine atom of an atomic initial datum (:class:`~solvers.meanfield.Dirac`, ``Empirical``)
    ATOM = "atom"
    #: a quadrature atom of a continuous initial datum (``Gaussian``, ``Histogram``; quantile order)
    QUADRATURE = "quadrature"


@dataclass(frozen=True)
class CohortSnapshot:
    """Slice laws of the Lagrangian scheme at one time.

    ``pos``/``mass`` have shape ``(n_rows, M)``, one row per distinct node; ``node_of[k]`` is the row of
    node ``k`` (``None``: row ``k``).  ``born[j]`` (bool, shape ``(M,)``) says that column ``j`` is a
    cohort born at ``x_r`` (:attr:`CohortKind.BORN`); the other columns are the initial datum's, all of
    kind ``initial_kind`` (:attr:`CohortKind.ATOM` or :attr:`CohortKind.QUADRATURE`: one initial datum
    per solve).  :meth:`kind_mask` gives the columns of a kind.

    CDF (right-continuous): ``ATOM`` columns are exact jumps.  ``BORN`` and ``QUADRATURE`` columns
    represent continuous laws: each atom's mass is spread uniformly between the midpoints to its
    neighbours in column order (the end intervals mirrored), so the CDF is piecewise linear through
    the cumulative masses; for the born cohorts the youngest edge is ``x_r + O(dt^2)``.  A kind with a
    single column is an atom.
    """

    time: float
    pos: np.ndarray
    mass: np.ndarray
    born: np.ndarray
    initial_kind: CohortKind
    node_of: np.ndarray | None = None

    def __post_init__(self):
        if self.initial_kind not in (CohortKind.ATOM, CohortKind.QUADRATURE):
            raise bad_argument("initial_kind", self.initial_kind, "must be CohortKind.ATOM or CohortKind.QUADRATURE",
                               "pass the kind of the initial datum's columns")
        born = np.asarray(self.born)
        if born.dtype != np.bool_ or born.shape != (self.pos.shape[1],):
            raise bad_argument("born", born, f"must be a boolean mask of shape ({self.pos.shape[1]},)",
                               "pass one flag per column")

    def kind_mask(self, kind: CohortKind) -> np.ndarray:
        """Boolean mask of the columns of ``kind``, shape ``(M,)``."""
        if not isinstance(kind, CohortKind):
            raise bad_argument("kind", kind, "must be a CohortKind", "pass e.g. CohortKind.BORN")
        if kind is CohortKind.BORN:
            return self.born.copy()
        return ~self.born if kind is self.initial_kind else np.zeros_like(self.born)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Slice CDFs at ``x``, shape ``(n_xi, len(x))``."""
        out = self._cdf_rows(np.asarray(x, dtype=float))
        return out if self.node_of is None else out[self.node_of]

    def _cdf_rows(self, x: np.ndarray) -> np.ndarray:
        n_xi = self.pos.shape[0]
        out = np.zeros((n_xi, x.size))
        atoms = self.kind_mask(CohortKind.ATOM)
        if np.any(atoms):
            p, m = self.pos[:, atoms], self.mass[:, atoms]
            for k in range(n_xi):  # per node: sort atoms, cumulative mass, right-continuous lookup
                o = np.argsort(p[k], kind="stable")
                cum = np.concatenate(([0.0], np.cumsum(m[k, o])))
                out[k] += cum[np.searchsorted(p[k, o], x, side="right")]
        for kind in (CohortKind.BORN, CohortKind.QUADRATURE):
            cols = self.kind_mask(kind)
            if not np.any(cols):
                continue
            p, m = self.pos[:, cols], self.mass[:, cols]
            for k in range(n_xi):
                out[k] += _continuous_cdf(p[k], m[k], x)
        return out


def _continuous_cdf(p: np.ndarray, m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """CDF of atoms ``p`` (in column order) with masses ``m`` spread between neighbour midpoints."""
    if p.size == 1:
        return m[0] * (x >= p[0])
    mid = 0.5 * (p[1:] + p[:-1])
    e = np.concatenate(([2 * p[0] - mid[0]], mid, [2 * p[-1] - mid[-1]]))
    d = np.diff(e)
    if np.all(d > 0) or np.all(d < 0):
        if d[0] < 0:
            e, m = e[::-1], m[::-1]
        cum = np.concatenate(([0.0], np.cumsum(m)))
        return np.interp(x, e, cum, left=0.0, right=cum[-1])
    lo = np.minimum(e[:-1], e[1:])
    hi = np.maximum(e[:-1], e[1:])
    out = np.zeros(x.size)
    for a in range(0, p.size, 512):  # chunked: (512, len(x)) at a time
        sl = slice(a, a + 512)
        width = (hi[sl] - lo[sl])[:, None]
        frac = np.where(width > 0, np.clip((x[None, :] - lo[sl, None]) / np.where(width > 0, width, 1.0), 0, 1),
                        (x[None, :] >= lo[sl, None]).astype(float))
        out += m[sl] @ frac
    return out


@dataclass(frozen=True)
class GridSnapshot:
    """Slice laws of the upwind scheme at one time: cell masses ``(n_xi, n_cells)`` on ``edges``,
    uniform within a cell (piecewise-linear CDF; atoms are smeared over one cell)."""

    time: float
    edges: np.ndarray
    cells: np.ndarray

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        cum = np.concatenate((np.zeros((self.cells.shape[0], 1)), np.cumsum(self.cells, axis=1)), axis=1)
        return np.stack([np.interp(x, self.edges, c, left=0.0, right=c[-1]) for c in cum])


# -------------------------------------------------------------------------------------- solution
@dataclass(frozen=True)
class MeanFieldSolution:
    """Solution of the spatially-extended mean-field PDE on ``n_xi`` nodes.

    Attributes
    ----------
    method : str
        ``"lagrangian"`` or ``"upwind"``.
    order : int
        Order of accuracy in ``dt`` (and ``dx`` for upwind) claimed by the scheme and measured by the
        convergence tests.
    xi : ndarray, shape (n_xi,)
        Node positions ``(k + 1/2)/n_xi``.
    t : ndarray, shape (n_steps + 1,)
        Time grid.
    rates, inputs, masses, means, second_moments : ndarray, shape (n_steps + 1, n_xi)
        ``r(t_n, xi_k)``, ``h(t_n, xi_k)``, slice mass, ``E[X]`` and ``E[X^2]`` at every grid time.
    save_times : ndarray
        Times at which slice laws were stored (for :meth:`cdf` and :meth:`density`).
    snapshots : tuple of CohortSnapshot or GridSnapshot
        Slice laws at :attr:`save_times`.
    counters : SchemeCounters
        Typed counters: ``steps``, ``dt``, ``dt_requested``, ``dt_adjusted``, ``wall_time``,
        ``distinct_nodes`` and the scheme's own (:class:`~solvers.meanfield.lagrangian.LagrangianCounters`,
        :class:`~solvers.meanfield.upwind.UpwindCounters`).
    quadrature : str
        The ``xi`` quadrature of the coupling.
    step_inputs : ndarray, shape (n_steps, n_xi), or None
        The input ``hbar`` each step actually used (Lagrangian scheme: the Heun value on the first
        step, the AB2 extrapolation after it); what the dual-backward solvers of :mod:`solvers.dual`
        freeze.  ``None`` for schemes that do not record it.
    problem : MeanFieldProblem or None
        The validated problem that was solved (model, kernel, coupling matrix, initial datum), so that
        the solution can be replayed or refined; ``None`` when not recorded.
    options : dict or None
        The scheme's normalised options (e.g. ``drop_tol``, ``prune_every``, ``merge_tol``,
        ``survival_rule`` for the Lagrangian scheme).
    """

    method: str
    order: int
    xi: np.ndarray
    t: np.ndarray
    rates: np.ndarray
    inputs: np.ndarray
    masses: np.ndarray
    means: np.ndarray
    second_moments: np.ndarray
    snapshots: tuple = field(repr=False)
    counters: SchemeCounters | None = None
    quadrature: str = ""
    step_inputs: np.ndarray | None = field(default=None, repr=False)
    problem: MeanFieldProblem | None = field(default=None, repr=False)
    options: Mapping[str, Any] | None = None

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    @property
    def dt(self) -> float:
        return float(self.t[1] - self.t[0])

    @property
    def save_times(self) -> np.ndarray:
        return np.array([s.time for s in self.snapshots])

    # time series (linear interpolation between grid times) ----------------------------------
    def _interp(self, t, values: np.ndarray, what: str) -> np.ndarray:
        tt = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(tt)) or np.any(tt < -1e-12 * self.t_end) or np.any(tt > self.t_end * (1 + 1e-12)):
            raise bad_argument("t", t, f"must lie in [0, t_end = {self.t_end}] for {what}",
                               "query times inside the solved interval")
        flat = np.clip(np.atleast_1d(tt).ravel(), 0.0, self.t_end)
        n = len(self.t) - 1
        u = flat / self.t_end * n
        i = np.clip(np.floor(u).astype(np.int64), 0, n - 1)
        a = (u - i)[:, None]
        out = (1 - a) * values[i] + a * values[i + 1]
        return out[0] if tt.ndim == 0 else out.reshape(tt.shape + (values.shape[1],))

    def rate(self, t) -> np.ndarray:
        """Firing rate ``r(t, xi)``: shape ``(n_xi,)`` for scalar ``t``, ``t.shape + (n_xi,)`` otherwise."""
        return self._interp(t, self.rates, "rate")

    def input(self, t) -> np.ndarray:
        """Input ``h(t, xi) = int w(xi, zeta) r(t, zeta) dzeta`` (shapes as :meth:`rate`)."""
        return self._interp(t, self.inputs, "input")

    def mass(self, t) -> np.ndarray:
        """Mass of each slice (1 up to round-off for a conservative scheme)."""
        return self._interp(t, self.masses, "mass")

    def mean(self, t) -> np.ndarray:
        """``E[X(t) | xi]`` per node (shapes as :meth:`rate`)."""
        return self._interp(t, self.means, "mean")

    def variance(self, t) -> np.ndarray:
        """``Var[X(t) | xi]`` per node (from the stored first and second moments)."""
        m = self._interp(t, self.means, "variance")
        return self._interp(t, self.second_moments, "variance") - m * m

    # slice laws ---------------------------------------------------------------------------
    def snapshot(self, t: float):
        """The stored slice laws at save time ``t`` (tolerance ``1e-9 t_end``)."""
        st = self.save_times
        j = int(np.argmin(np.abs(st - float(t)))) if st.size else -1
        if j < 0 or abs(st[j] - float(t)) > 1e-9 * max(1.0, self.t_end):
            raise bad_argument("t", t, f"slice laws are stored only at save_times = {np.round(st, 12).tolist()}",
                               "pass one of these times, or re-solve with save_times containing t")
        return self.snapshots[j]

    def cdf(self, t: float, x) -> np.ndarray:
        """Slice CDFs ``F(t, xi_k, x)`` (right-continuous, atoms exact for the Lagrangian scheme),
        shape ``(n_xi, len(x))``; ``t`` must be one of :attr:`save_times`."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise bad_argument("x", x, "must be a finite 1-D array", "pass e.g. np.linspace(-1, 5, 200)")
        return self.snapshot(t).cdf(x)

    def density(self, t: float, edges) -> np.ndarray:
        """Mass per unit length in the bins ``[edges[i], edges[i+1])``, shape ``(n_xi, len(edges) - 1)``
        (for plotting; atoms count in the bin that holds them)."""
        e = np.asarray(edges, dtype=float)
        if e.ndim != 1 or e.size < 2 or not np.all(np.diff(e) > 0):
            raise bad_argument("edges", edges, "must be a strictly increasing 1-D array of length >= 2",
                               "pass e.g. np.linspace(-1, 5, 101)")
        F = self.snapshot(t).cdf(np.nextafter(e, -np.inf))  # left limits: mass of [e_i, e_{i+1})
        return np.diff(F, axis=1) / np.diff(e)[None, :]


# -------------------------------------------------------------------------------------- counters
@dataclass(frozen=True)
class SchemeCounters:
    """Counters every scheme reports (typed; each scheme extends this class with its own).

    Attributes
    ----------
    steps : int
        Number of time steps.
    dt : float
        The step used, ``t_end / steps``.
    dt_requested : float
        The step asked for (the caller's ``dt``, or the scheme's default); it differs from ``dt`` when
        it did not divide ``t_end`` (then ``dt_adjusted`` is True and the change was logged).
    wall_time : float
        Seconds spent in the scheme (setup and time loop; argument checks excluded).
    distinct_nodes : int
        Nodes actually computed (identical nodes are computed once, see :func:`distinct_nodes`).
    """

    steps: int
    dt: float
    dt_requested: float
    wall_time: float
    distinct_nodes: int

    @property
    def dt_adjusted(self) -> bool:
        """Whether the requested step was changed to divide ``t_end`` (beyond rounding, relative 1e-9)."""
        return not math.isclose(self.dt, self.dt_requested, rel_tol=1e-9, abs_tol=0.0)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict (for logs and JSON output)."""
        d = dataclasses.asdict(self)
        d["dt_adjusted"] = self.dt_adjusted
        return d


# -------------------------------------------------------------------------------------- scheme contract
@dataclass(frozen=True)
class MeanFieldProblem:
    """The validated common input of every scheme (built once by :func:`solvers.meanfield.solve`).

    ``K`` is the ``(n_xi, n_xi)`` coupling matrix of :func:`coupling_matrix` (``quadrature`` its rule),
    ``xi`` the nodes ``(k + 1/2)/n_xi``, ``initial`` the initial datum as an
    :class:`~solvers.meanfield.initial.InitialSpec`.
    """

    model: NeuronModel
    kernel: Kernel
    K: np.ndarray
    quadrature: str
    xi: np.ndarray
    t_end: float
    initial: InitialSpec
    mass_tol: float
    merge_identical_nodes: bool

    @property
    def n_xi(self) -> int:
        return int(self.xi.size)


class Scheme:
    """Base class of the mean-field schemes; the contract a scheme follows, like scipy's ``OdeSolver``.

    A new scheme (including the coming dual, backward-in-time schemes, which use their own problem
    type and their own :class:`SchemeRegistry` but the same contract) is one subclass that:

    1. **Names itself**: class attributes ``name`` (unique key of its registry, lower case; what the
       caller passes as ``method=``), ``order`` (the order of accuracy it claims, in ``dt`` and, for
       grid schemes, ``dx``) and ``summary`` (one line for error messages and docs).  Its module
       docstring states the scheme, its order and why the order holds.
    2. **Declares its options**: ``options``, a mapping ``option name -> default``.  The registry
       refuses any other keyword (naming the scheme, its options, and the schemes that do accept it),
       so :func:`~solvers.meanfield.solve` never lists a scheme's options itself.
    3. **Checks its options** in :meth:`check_options` with :mod:`solvers.validation` (every error
       through :func:`~solvers.errors.bad_argument`: argument, value, rule, fix) and returns them
       normalised; it may read the problem (e.g. a default grid range from the model and the kernel).
    4. **Gives a default step** in :meth:`default_dt` (used when the caller passes no ``dt``).  The time
       grid itself is the caller's, built by :func:`time_grid` (``dt <= t_end``; a non-dividing ``dt``
       shrunk to the nearest divisor step, logged and reported): a scheme never changes the grid.
    5. **Runs** in :meth:`run`: it advances the common :class:`MeanFieldProblem` on the given
       :class:`TimeGrid` and returns a :class:`MeanFieldSolution` with ``method = name``,
       ``order = order``, the time series (rates, inputs, masses, means, second moments) at every grid
       time with shape ``(n_steps + 1, n_xi)``, one snapshot (with a ``cdf(x)`` method) per index of
       ``save_idx`` in increasing order, and ``quadrature = problem.quadrature``.
    6. **Reports typed counters**: an instance of a frozen dataclass subclass of :class:`SchemeCounters`
       (``steps``, ``dt``, ``dt_requested``, ``wall_time``, ``distinct_nodes`` filled from the grid and
       the run, plus its own fields), also logged at debug level.
    7. **Fails loudly**: a non-finite state, a negative mass or intensity, or a slice mass off 1 by
       more than ``problem.mass_tol`` raises :class:`~solvers.errors.SimulationError` naming the scheme,
       ``t`` and ``xi``; no solution is ever returned after a failure.
    8. **Computes identical nodes once** when ``problem.merge_identical_nodes`` (exact, via
       :func:`distinct_nodes`) and expands the results to all ``n_xi`` nodes.
    9. **Registers itself** with ``@SCHEMES.register`` (or its own registry) in its module, and that
       module is imported by the package ``__init__``; a convergence test in ``tests/convergence``
       measures ``order`` against an independent reference.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 0
    summary: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, problem: MeanFieldProblem, **options: Any):
        for key in options:
            if key not in self.options:
                raise bad_argument(key, options[key], f"is not an option of method={self.name!r} (its options: "
                                   f"{sorted(self.options)})", "drop it")
        self.problem = problem
        self.opts = self.check_options(problem, {**self.options, **options})

    def check_options(self, problem: MeanFieldProblem, options: dict[str, Any]) -> dict[str, Any]:
        """Validate and normalise the options (all keys of :attr:`options` are present)."""
        return options

    def default_dt(self) -> float:  # pragma: no cover - abstract
        """The step used when the caller gives no ``dt``."""
        raise NotImplementedError

    def run(self, grid: TimeGrid, save_idx: np.ndarray) -> MeanFieldSolution:  # pragma: no cover - abstract
        """Solve on ``grid``; store slice laws at the grid indices ``save_idx``."""
        raise NotImplementedError


class SchemeRegistry(Mapping):
    """Schemes by name (a read-only mapping ``name -> Scheme subclass``); ``what`` names the family in
    messages ("mean-field scheme", later "dual scheme")."""

    def __init__(self, what: str):
        self.what = what
        self._schemes: dict[str, type[Scheme]] = {}

    def register(self, cls: type[Scheme]) -> type[Scheme]:
        """Class decorator: add ``cls`` under ``cls.name`` (a second scheme with the same name is a bug)."""
        if not (isinstance(cls, type) and issubclass(cls, Scheme)):
            raise TypeError(f"{cls!r} is not a Scheme subclass")
        if not cls.name or not isinstance(cls.order, int) or cls.order < 1:
            raise TypeError(f"{cls.__name__} must set a name and an integer order >= 1 (contract point 1)")
        if cls.name in self._schemes and self._schemes[cls.name] is not cls:
            raise RuntimeError(f"two {self.what}s named {cls.name!r}: {self._schemes[cls.name]} and {cls}")
        self._schemes[cls.name] = cls
        return cls

    def __getitem__(self, name: str) -> type[Scheme]:
        return self._schemes[name]

    def __iter__(self):
        return iter(self._schemes)

    def __len__(self) -> int:
        return len(self._schemes)

    def get_scheme(self, name: Any) -> type[Scheme]:
        """The scheme called ``name``; an unknown name raises an error listing the valid ones."""
        valid = sorted(self._schemes)
        if not isinstance(name, str) or name not in self._schemes:
            lines = "; ".join(f"{n!r} (order {c.order}: {c.summary})" for n, c in sorted(self._schemes.items()))
            raise bad_argument("method", name, f"unknown {self.what}; valid: {valid}", f"pass one of {lines}")
        return self._schemes[name]

    def create(self, name: Any, problem: Any, options: Mapping[str, Any]) -> Scheme:
        """Look ``name`` up, refuse options it does not declare, and build the scheme."""
        cls = self.get_scheme(name)
        for key in options:
            if key not in cls.options:
                others = [n for n, c in sorted(self._schemes.items()) if key in c.options]
                hint = f"it is an option of method={others[0]!r}" if others else "check the spelling"
                raise bad_argument(key, options[key], f"is not an option of method={cls.name!r} (its options: "
                                   f"{sorted(cls.options)})", f"drop it ({hint})")
        return cls(problem, **options)


class _Orders(Mapping):
    """Read-only live view ``name -> order`` of a registry."""

    def __init__(self, registry: SchemeRegistry):
        self._registry = registry

    def __getitem__(self, name: str) -> int:
        return self._registry[name].order

    def __iter__(self):
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def __repr__(self) -> str:
        return repr(dict(self))


#: the forward mean-field schemes; ``solve(method=name)`` looks them up here
SCHEMES = SchemeRegistry("mean-field scheme")
#: ``scheme name -> order of accuracy`` (live view of :data:`SCHEMES`)
METHODS = _Orders(SCHEMES)
