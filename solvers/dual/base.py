r"""Shared pieces of the dual solvers: terminal functions, the validated problem, the solution object
(``phi(t)``, pairings) and the scheme contract and registry.

The problem (:class:`DualProblem`, built by :func:`dual_problem` from a forward Lagrangian solution)
freezes what the forward scheme used: the input ``hbar_n`` of every step (``forward.step_inputs``),
the survival rule, the model and the coupling matrix ``K`` of the ``xi`` nodes.  The dual runs on the
forward's time grid ``t_n = n dt`` up to its horizon ``T`` (``t_end``, a grid time ``<= forward.t_end``).

The invariant interval ``J``.  Along the frozen dynamics a potential moves towards ``c = I0 + hbar``
(the leaky flow is a convex combination of the start and ``c``) and resets to ``x_r``; so the interval
hull ``J`` of ``x_r``, the initial datum's atoms and ``I0 + [min hbar, max hbar]`` holds every forward
cohort at every step, and every interval containing ``J`` is invariant.  The dual's ``x`` grid must
hold ``J`` (:func:`dual_problem`); the regularity bounds of :mod:`solvers.dual.regularity` are stated
on the grid's range.

Pairings (:meth:`DualSolution.pairing`), ``<phi(t), mu> = int int phi(t, xi, x) mu(dxi, dx)``: the dual
is known on the nodes ``xi_k`` and is used as constant on the node cells ``((k-1)/n_xi, k/n_xi]`` (the
cells the forward solver's nodes stand for: exact for the PDE's own measures and for step kernels
aligned with the grid, ``O(1/n_xi)`` for a measure whose slices vary inside a cell, e.g. a network state
with ``N > n_xi``, paired with a ``phi`` that varies in ``xi``).  In ``x`` every atom is exact (the chain
value at the atom itself); a continuous part (piecewise-linear CDF) is integrated piece by piece with
3-point Gauss-Legendre (error ``O(h^6 sup |phi^(6)|)`` per piece).  A Lagrangian snapshot is the
discrete measure of its cohorts (every column an atom): that is the measure the scheme evolves, so the
frozen duality holds for it to rounding.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.interpolate import CubicSpline

from solvers._compiled import EXPONENTIAL, LEAKY, SIGMOID, intensity_values
from solvers.errors import bad_argument
from solvers.graphons import Kernel, StepKernel, cell_index, coupling_matrix, labels
from solvers.meanfield.base import (
    MeanFieldSolution,
    Scheme,
    SchemeRegistry,
    distinct_nodes,
)
from solvers.model import NeuronModel
from solvers.quadrature import gauss_legendre, overlap_matrix
from solvers.validation import check_instance, check_positive, check_real, check_vector

from . import _passes

__all__ = ["TerminalFunction", "GridTerminal", "WeakTestFunction", "weak_test_function", "as_terminal",
           "DualProblem", "dual_problem", "DualSolution", "DualCounters", "DualScheme", "DUAL_SCHEMES",
           "LinearisedSnapshot", "TerminalConstants", "checked_terminal"]


# ================================================================================ terminal data
@dataclass(frozen=True)
class TerminalConstants:
    """Constants of a terminal function on an ``x`` interval ``J`` (for the regularity bounds):
    ``lip_x >= sup |d_x phi_T|``, ``lip_xi >= sup_{x in J} Lip_xi phi_T(., x)``,
    ``osc >= sup_xi (max_J phi_T(xi, .) - min_J phi_T(xi, .))``; ``nan`` when unknown."""

    lip_x: float
    lip_xi: float
    osc: float


class TerminalFunction:
    """Terminal data ``phi_T(xi, x)`` of the dual equation, evaluated point by point.

    Parameters
    ----------
    func : callable
        Vectorised ``func(xi, x)`` (arrays of one shape) returning ``phi_T``.
    derivative : callable, optional, keyword
        ``d_x phi_T(xi, x)``; without it a central difference with step ``1e-6 (1 + |x|)`` (relative
        error ~1e-10 for a smooth ``func``).
    lipschitz_x, lipschitz_xi : float, optional, keyword
        Stated bounds ``sup |d_x phi_T|`` and ``sup_x Lip_xi phi_T`` (used by the regularity bound;
        ``None``: unknown).
    name : str, keyword

    A plain callable given as ``phi_T`` to the dual solvers is wrapped in this class.
    """

    def __init__(self, func: Callable, *, derivative: Callable | None = None, lipschitz_x: float | None = None,
                 lipschitz_xi: float | None = None, name: str = "phi_T"):
        if not callable(func):
            raise bad_argument("phi_T", func, "must be callable as phi_T(xi, x) or an array on x_grid",
                               "pass e.g. lambda xi, x: x")
        if derivative is not None and not callable(derivative):
            raise bad_argument("derivative", derivative, "must be callable or None", "pass d_x phi_T(xi, x)")
        self.func = func
        self._derivative = derivative
        for label, value in (("lipschitz_x", lipschitz_x), ("lipschitz_xi", lipschitz_xi)):
            if value is not None and check_real(label, value) < 0:
                raise bad_argument(label, value, "must be >= 0", f"pass a bound {label} >= 0, or None")
        self.lipschitz_x = None if lipschitz_x is None else float(lipschitz_x)
        self.lipschitz_xi = None if lipschitz_xi is None else float(lipschitz_xi)
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def values(self, nodes: np.ndarray, xi: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``phi_T(xi, x)`` at points (``nodes`` the node index of each point, ``xi`` its node position)."""
        return np.asarray(self.func(xi, x), dtype=float) * np.ones_like(x)

    def derivatives(self, nodes: np.ndarray, xi: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``d_x phi_T(xi, x)`` at points."""
        if self._derivative is not None:
            return np.asarray(self._derivative(xi, x), dtype=float) * np.ones_like(x)
        h = 1e-6 * (1.0 + np.abs(x))
        return (self.values(nodes, xi, x + h) - self.values(nodes, xi, x - h)) / (2.0 * h)

    def constants(self, J: tuple[float, float]) -> TerminalConstants:
        """Stated constants on ``J`` (``osc <= lipschitz_x |J|``)."""
        lx = math.nan if self.lipschitz_x is None else self.lipschitz_x
        lxi = math.nan if self.lipschitz_xi is None else self.lipschitz_xi
        return TerminalConstants(lip_x=lx, lip_xi=lxi, osc=lx * (J[1] - J[0]))


class GridTerminal(TerminalFunction):
    """Terminal data given on a grid: ``values[k, j] = phi_T(xi_k, x_grid[j])`` (or one row for every
    node), interpolated in ``x`` by a not-a-knot cubic spline per node (error ``O(dx^4)`` for a smooth
    ``phi_T``, derivative ``O(dx^3)``).  Only defined on ``[x_grid[0], x_grid[-1]]``."""

    def __init__(self, x_grid: np.ndarray, values: np.ndarray, n_xi: int):
        self.x_grid = x_grid
        v = np.asarray(values, dtype=float)
        if v.ndim == 1:
            v = np.broadcast_to(v, (n_xi, v.size))
        self.grid_values = np.ascontiguousarray(v)
        k = min(4, x_grid.size)
        bc = "not-a-knot" if k >= 4 else "natural"
        self._splines = [CubicSpline(x_grid, row, bc_type=bc) for row in self.grid_values] if x_grid.size >= 2 \
            else None
        super().__init__(lambda xi, x: x, name="phi_T on x_grid")

    def _eval(self, nodes, x, nu):
        lo, hi = self.x_grid[0], self.x_grid[-1]
        span = 1e-12 * max(1.0, hi - lo)
        if x.size and (np.min(x) < lo - span or np.max(x) > hi + span):
            bad = x[(x < lo - span) | (x > hi + span)][0]
            raise bad_argument("x", float(bad), f"phi_T given on x_grid is only defined on [{lo:.6g}, {hi:.6g}]",
                               "pass a grid that holds every point the dual is evaluated at (the forward "
                               "cohorts lie in the interval J of the problem), or a callable phi_T")
        out = np.empty(x.shape)
        for k in np.unique(nodes):
            sel = nodes == k
            out[sel] = self._splines[int(k)](np.clip(x[sel], lo, hi), nu)
        return out

    def values(self, nodes, xi, x):
        return self._eval(nodes, x, 0)

    def derivatives(self, nodes, xi, x):
        return self._eval(nodes, x, 1)

    def constants(self, J):
        return TerminalConstants(math.nan, math.nan, math.nan)


class WeakTestFunction(TerminalFunction):
    """A test function of the weak metric (SPEC section 5): ``phi_T(xi, x) = (T_w^* g)(xi) psi(x)`` with
    ``(T_w^* g)(xi) = int_0^1 g(zeta) w(zeta, xi) dzeta`` (note the transpose: ``xi`` is the kernel's
    second argument, the presynaptic one).  Build it with :func:`weak_test_function`."""

    def __init__(self, kernel: Kernel, g_edges: np.ndarray, g_values: np.ndarray, psi: Callable,
                 dpsi: Callable | None, lipschitz_psi: float, order: int):
        self.kernel = kernel
        self.g_edges = g_edges
        self.g_values = g_values
        self.psi = psi
        self.dpsi = dpsi
        self.lipschitz_psi = lipschitz_psi
        self.order = order
        self._cache: dict[float, float] = {}
        gmax = float(np.max(np.abs(g_values)))
        lz = kernel.lipschitz[1] if kernel.lipschitz is not None else math.nan
        self.g_sup = gmax
        self.tg_sup = float(kernel.sup) * gmax  # |T_w^* g| <= sup|w| sup|g|
        self.tg_lipschitz = lz * gmax  # |d_xi T_w^* g| <= sup |d_zeta... second argument| sup|g|
        super().__init__(lambda xi, x: self.tg(xi) * np.asarray(psi(x), dtype=float),
                         lipschitz_x=None, name="(T_w^* g)(xi) psi(x)")

    def tg(self, xi) -> np.ndarray:
        """``(T_w^* g)(xi)`` (cached per distinct ``xi``): exact partition overlaps for a step kernel,
        Gauss-Legendre with ``order`` nodes on every cell of the refinement of ``g``'s cells to width
        ``<= 1/64`` otherwise (error ``O(64^{-2 order})`` for a kernel smooth in ``zeta``)."""
        xi = np.asarray(xi, dtype=float)
        flat = xi.ravel()
        uniq = np.unique(flat)
        missing = np.array([u for u in uniq if float(u) not in self._cache])
        if missing.size:
            for u, v in zip(missing, self._integrate(missing)):
                self._cache[float(u)] = float(v)
        return np.array([self._cache[float(u)] for u in flat]).reshape(xi.shape)

    def _integrate(self, xi: np.ndarray) -> np.ndarray:
        k = self.kernel
        if isinstance(k, StepKernel):
            P = overlap_matrix(self.g_edges, k.n)  # |Z_z cap B_b|
            cols = k.values[:, cell_index(xi, k.n)]  # w(zeta in B_b, xi): values[b, cell(xi)]
            return self.g_values @ (P @ cols)
        out = np.zeros(xi.size)
        for z in range(self.g_values.size):
            a, b = self.g_edges[z], self.g_edges[z + 1]
            m = max(1, int(math.ceil((b - a) * 64 - 1e-9)))
            sub = np.linspace(a, b, m + 1)
            for j in range(m):
                nodes, w = gauss_legendre(self.order, (sub[j], sub[j + 1]))
                out += self.g_values[z] * (k(nodes[:, None], xi[None, :]) * w[:, None]).sum(axis=0)
        return out

    def derivatives(self, nodes, xi, x):
        if self.dpsi is not None:
            d = np.asarray(self.dpsi(x), dtype=float) * np.ones_like(x)
        else:
            h = 1e-6 * (1.0 + np.abs(x))
            d = (np.asarray(self.psi(x + h), dtype=float) - np.asarray(self.psi(x - h), dtype=float)) / (2 * h)
        return self.tg(xi) * d

    def constants(self, J):
        """``lip_x = sup|T_w^* g| Lip(psi)``, ``lip_xi = Lip(T_w^* g) sup_J |psi|`` with
        ``sup_J |psi| <= |psi(mid J)| + Lip(psi) |J| / 2``, ``osc = sup|T_w^* g| Lip(psi) |J|``."""
        mid = 0.5 * (J[0] + J[1])
        psi_sup = abs(float(np.asarray(self.psi(np.array([mid])), dtype=float)[0])) + \
            self.lipschitz_psi * (J[1] - J[0]) / 2
        return TerminalConstants(lip_x=self.tg_sup * self.lipschitz_psi, lip_xi=self.tg_lipschitz * psi_sup,
                                 osc=self.tg_sup * self.lipschitz_psi * (J[1] - J[0]))


def weak_test_function(kernel: Kernel, g: Any, psi: Callable, *, dpsi: Callable | None = None,
                       lipschitz_psi: float = 1.0, order: int = 8) -> WeakTestFunction:
    """The weak metric's test function ``(T_w^* g)(xi) psi(x)`` (SPEC section 5).

    Parameters
    ----------
    kernel : Kernel
        ``w(zeta, xi)``.
    g : array_like (n_g,) or callable
        Values of ``g`` on ``n_g`` uniform cells of ``[0, 1]`` (a step function, e.g. the sign vector
        of a weak-metric maximiser), or a callable ``g(zeta)`` (sampled at the midpoints of 512 cells:
        an error ``O(1/512)`` at a jump of ``g``).
    psi : callable
        ``psi(x)`` (vectorised).
    dpsi : callable, optional, keyword
        ``psi'`` (else a central difference).
    lipschitz_psi : float, keyword
        ``Lip(psi)`` (the metric's class has ``Lip(psi) <= 1``), used by the regularity bound.
    order : int, keyword
        Gauss-Legendre nodes per cell of the ``zeta`` integral for a continuous kernel.
    """
    check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.skew()")
    if callable(g):
        n = 512
        mids = (np.arange(n) + 0.5) / n
        vals = check_vector("g", np.asarray(g(mids), dtype=float), n, fix="g(zeta) must return finite values")
    else:
        vals = check_vector("g", g, fix="pass one value of g per uniform zeta cell")
        if vals.size < 1:
            raise bad_argument("g", g, "must have at least one cell", "pass e.g. g=[1.0, -1.0]")
        n = vals.size
    if not callable(psi):
        raise bad_argument("psi", psi, "must be callable psi(x)", "pass e.g. psi=lambda x: x")
    lp = check_real("lipschitz_psi", lipschitz_psi)
    if lp < 0:
        raise bad_argument("lipschitz_psi", lipschitz_psi, "must be >= 0", "pass Lip(psi), e.g. 1.0")
    return WeakTestFunction(kernel, np.arange(n + 1) / n, vals, psi, dpsi, lp, int(order))


def as_terminal(phi_T: Any, x_grid: np.ndarray, n_xi: int) -> TerminalFunction:
    """Read ``phi_T``: a :class:`TerminalFunction` as is, a callable ``(xi, x)`` wrapped, an array of
    shape ``(n_xi, n_x)`` or ``(n_x,)`` on ``x_grid`` as a :class:`GridTerminal` (all values finite)."""
    if isinstance(phi_T, TerminalFunction):
        return phi_T
    if callable(phi_T):
        return TerminalFunction(phi_T)
    if isinstance(phi_T, (np.ndarray, list, tuple)):
        v = np.asarray(phi_T, dtype=float)
        if v.shape not in ((x_grid.size,), (n_xi, x_grid.size)):
            raise bad_argument("phi_T", f"array of shape {v.shape}",
                               f"values on the grid must have shape ({x_grid.size},) or ({n_xi}, {x_grid.size}) "
                               "(x_grid has that many points)", "pass phi_T[k, j] = phi_T(xi_k, x_grid[j])")
        bad = ~np.isfinite(v)
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise bad_argument("phi_T", f"array with phi_T{list(idx)} = {v[idx]}",
                               "the terminal function must be finite on the grid", "replace the NaN/inf values")
        return GridTerminal(x_grid, v, n_xi)
    raise bad_argument("phi_T", phi_T, "must be a callable phi_T(xi, x), a TerminalFunction, or an array on x_grid",
                       "pass e.g. lambda xi, x: x, or solvers.dual.weak_test_function(kernel, g, psi)")


def checked_terminal(term: TerminalFunction, nodes, xi, x, *, derivative: bool = False) -> np.ndarray:
    """Terminal values (or ``d_x`` values) at points, refused when not finite (naming a bad point)."""
    v = term.derivatives(nodes, xi, x) if derivative else term.values(nodes, xi, x)
    v = np.asarray(v, dtype=float)
    if v.shape != x.shape:
        raise bad_argument("phi_T", term, f"returned shape {v.shape} for points of shape {x.shape}",
                           "make phi_T(xi, x) vectorised (broadcasting its two arguments)")
    bad = ~np.isfinite(v)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        what = "d_x phi_T" if derivative else "phi_T"
        raise bad_argument("phi_T", term, f"{what}(xi={xi[i]:.6g}, x={x[i]:.6g}) = {v[i]}: the terminal function must "
                           "be finite on the grid and at every forward cohort", "fix phi_T (no NaN/inf on the grid)")
    return v


# ================================================================================ the problem
@dataclass(frozen=True)
class DualProblem:
    """The validated input of every dual scheme (from :func:`dual_problem`).

    ``hbar`` ``(n_steps, n_xi)`` is the forward's ``step_inputs`` up to the horizon ``T = n_steps dt``;
    ``K`` the forward's coupling matrix; ``pos0, mass0`` ``(n_xi, M0)`` the initial cohorts;
    ``rep, node_of`` the forward's identical-node groups (:func:`~solvers.meanfield.base.distinct_nodes`);
    ``J`` the invariant interval (module docstring); ``x_grid`` the dual's output grid (holds ``J``).
    """

    forward: MeanFieldSolution
    model: NeuronModel
    kernel: Kernel
    K: np.ndarray
    xi: np.ndarray
    dt: float
    n_steps: int
    hbar: np.ndarray
    pos0: np.ndarray
    mass0: np.ndarray
    rep: np.ndarray
    node_of: np.ndarray
    J: tuple[float, float]
    x_grid: np.ndarray
    terminal: TerminalFunction
    hermite: bool
    family: tuple
    I0: float

    @property
    def n_xi(self) -> int:
        return int(self.xi.size)

    @property
    def t_end(self) -> float:
        return self.n_steps * self.dt

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.n_steps + 1) * self.dt


def _forward_parts(forward: Any):
    check_instance("forward", forward, MeanFieldSolution, "pass the result of solvers.meanfield.solve(...)")
    if forward.method != "lagrangian" or forward.step_inputs is None or forward.problem is None:
        raise bad_argument("forward", f"MeanFieldSolution(method={forward.method!r})",
                           "the dual solvers need a Lagrangian solution that records its step inputs and problem",
                           "solve the forward with solvers.meanfield.solve(..., method='lagrangian')")
    p = forward.problem
    drift_args = p.model.drift.compiled_args()
    fam = p.model.intensity.compiled_args()
    if drift_args is None or drift_args[0] != LEAKY or fam is None:
        raise bad_argument("forward", f"model {p.model!r}",
                           "the dual solvers run compiled and need the leaky drift and a named intensity family "
                           "(solvers.model.Sigmoid, Exponential, Constant, ReLU)",
                           "use a named family (user callables are not supported by solvers.dual)")
    if not p.model.intensity.increasing:
        raise bad_argument("forward", p.model.intensity, "the intensity must be non-decreasing",
                           "use a named intensity family")
    return p, drift_args, fam


def dual_problem(forward: Any, phi_T: Any, *, model: NeuronModel | None = None, kernel: Kernel | None = None,
                 t_end: float | None = None, dt: float | None = None, x_grid: Any = None) -> DualProblem:
    """Validate the dual's input against the forward solution.

    Rules (each violation raises :class:`~solvers.errors.InvalidArgumentError` naming the argument, the
    value, the rule and the fix): ``forward`` is a Lagrangian solution of a compiled model; ``model`` and
    ``kernel``, when given, are the forward's (same model; same coupling matrix on its nodes); ``t_end``
    (default the forward's horizon) is a grid time ``<= forward.t_end``; ``dt``, when given, is the
    forward's step (the dual freezes the input of each forward step); ``x_grid`` is finite, strictly
    increasing and holds the invariant interval ``J`` (so it holds every forward cohort); ``phi_T`` is
    finite on the grid.
    """
    p, drift_args, fam = _forward_parts(forward)
    if model is not None:
        check_instance("model", model, NeuronModel, "pass the NeuronModel of the forward solution, or omit it")
        if model != p.model:
            raise bad_argument("model", model, f"is not the model the forward solution was computed with "
                               f"({p.model!r})", "pass the forward solution of this model, or omit model=")
    if kernel is not None:
        check_instance("kernel", kernel, Kernel, "pass the kernel of the forward solution, or omit it")
        K2, _ = coupling_matrix(kernel, p.n_xi)
        if K2.shape != p.K.shape or not np.array_equal(K2, p.K):
            raise bad_argument("kernel", kernel, f"its coupling matrix on the forward's {p.n_xi} nodes differs "
                               "from the forward's (another kernel)",
                               "pass the forward solution of this kernel, or omit kernel=")
    fdt = forward.dt
    if dt is not None:
        dt = check_positive("dt", dt, "omit dt (the dual runs on the forward's grid)")
        if not math.isclose(dt, fdt, rel_tol=1e-9):
            raise bad_argument("dt", dt, f"the dual runs on the forward's time grid (dt = {fdt:g}): it freezes the "
                               "input of each forward step", f"omit dt, or re-solve the forward with dt={dt:g}")
    T_f = forward.t_end
    if t_end is None:
        n_steps = forward.t.size - 1
    else:
        t_end = check_positive("t_end", t_end, f"pass a horizon in (0, {T_f:g}]")
        if t_end > T_f * (1 + 1e-12):
            raise bad_argument("t_end", t_end, f"is beyond the forward solution's horizon t_end = {T_f:g}",
                               f"pass t_end <= {T_f:g}, or re-solve the forward to t_end = {t_end:g}")
        n_steps = int(round(t_end / fdt))
        if n_steps < 1 or abs(n_steps * fdt - t_end) > 1e-9 * max(1.0, T_f):
            raise bad_argument("t_end", t_end, f"must be a time of the forward grid (multiples of dt = {fdt:g})",
                               f"pass t_end={max(1, n_steps) * fdt:g}")
    hbar = np.ascontiguousarray(forward.step_inputs[:n_steps])
    pos0, mass0 = p.initial.cohorts(p.n_xi)
    rep, node_of, _ = distinct_nodes(p.K, pos0, mass0, merge=p.merge_identical_nodes)
    I0 = float(drift_args[1])
    live = mass0 > 0
    lo = min(p.model.reset, float(np.min(pos0[live])), I0 + float(np.min(hbar)))
    hi = max(p.model.reset, float(np.max(pos0[live])), I0 + float(np.max(hbar)))
    J = (lo, hi)
    if x_grid is None:
        width = max(hi - lo, 1e-3)
        grid = np.linspace(lo - 0.02 * width, hi + 0.02 * width, 201)
    else:
        grid = check_vector("x_grid", x_grid, fix="pass a finite increasing grid, e.g. np.linspace(-0.5, 5, 201)")
        if grid.size < 2 or np.any(np.diff(grid) <= 0):
            raise bad_argument("x_grid", x_grid, "must be strictly increasing with at least 2 points",
                               "pass e.g. np.linspace(-0.5, 5, 201)")
        tol = 1e-12 * max(1.0, hi - lo)
        if grid[0] > lo + tol or grid[-1] < hi - tol:
            raise bad_argument("x_grid", f"grid on [{grid[0]:.6g}, {grid[-1]:.6g}]",
                               f"must hold every forward cohort: they lie in J = [{lo:.6g}, {hi:.6g}] (reset, "
                               "initial datum and the range I0 + hbar of the frozen input)",
                               f"pass a grid covering [{lo:.6g}, {hi:.6g}], e.g. np.linspace({lo - 0.1:.3g}, "
                               f"{hi + 0.1:.3g}, 201)")
    term = as_terminal(phi_T, grid, p.n_xi)
    nodes = np.repeat(np.arange(p.n_xi), grid.size)
    checked_terminal(term, nodes, p.xi[nodes], np.tile(grid, p.n_xi))
    rule = (forward.options or {}).get("survival_rule", "hermite")
    return DualProblem(forward=forward, model=p.model, kernel=p.kernel, K=p.K, xi=p.xi, dt=fdt, n_steps=n_steps,
                       hbar=hbar, pos0=pos0, mass0=mass0, rep=rep, node_of=node_of, J=J, x_grid=grid,
                       terminal=term, hermite=rule == "hermite", family=tuple(fam), I0=I0)


# ================================================================================ snapshots of nu
@dataclass(frozen=True)
class LinearisedSnapshot:
    """A perturbation ``nu(t) = sum_j dmass_j delta_{x_j} - mass_j dpos_j delta'_{x_j}`` of the cohort
    measure ``sum_j mass_j delta_{x_j}`` on every node (arrays ``(n_xi, M)``): its pairing with a
    function is ``sum_j dmass_j phi(x_j) + mass_j dpos_j phi'(x_j)``."""

    time: float
    pos: np.ndarray
    mass: np.ndarray
    dpos: np.ndarray
    dmass: np.ndarray


# ================================================================================ the solution
@dataclass(frozen=True)
class DualCounters:
    """Counters of a dual solve.

    Attributes
    ----------
    steps : int
        Backward steps (``T / dt``).
    dt : float
    wall_time : float
        Seconds of the solve (passes 1 and 2; validation excluded).
    distinct_nodes : int
        Nodes computed (identical nodes, with identical terminal data on the cohorts, computed once).
    slots : int
        Cohort columns tracked (initial atoms plus one per step).
    max_alive : int
        Largest number of columns alive in one step.
    survival_rule : str
        The forward's survival quadrature, used by the dual.
    survival_tol, tail_tol : float
        The future of an initial atom (of a born cohort) is dropped once its survival since birth is
        below ``survival_tol`` (``tail_tol``) on every node.
    tail_weight, tail_error : float
        Frozen scheme: the largest survival since birth at which a born cohort's future was dropped, and
        the estimated effect on the reset values (that survival times the extrapolation error estimate).
    """

    steps: int
    dt: float
    wall_time: float
    distinct_nodes: int
    slots: int
    max_alive: int
    survival_rule: str
    survival_tol: float
    tail_tol: float = 0.0
    tail_weight: float = 0.0
    tail_error: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class DualSolution:
    """Solution ``phi(t, xi, x)`` of the dual-backward equation on the forward's time grid.

    ``phi`` is held as the discrete backward chain of the scheme: from ``(t_n, x)`` a potential follows
    the forward's flow, survives step ``m`` with the forward's factor ``S_m`` or fires and receives
    ``Q_m`` (``R_{m+1} = phi_{m+1}`` at the newborn position, plus the non-local source for the
    linearised dual), so ``phi_n(x) = sum_{m >= n} P_m (1 - S_m) Q_m + P_N phi_T(y_N)``.  Every value is
    computed from that sum (:meth:`phi`, :meth:`dphi`, :meth:`pairing`), exactly as the scheme defines it.

    Attributes
    ----------
    method : {"frozen", "linearised"}
    order : int
        2 (measured by the convergence tests).
    xi : ndarray (n_xi,)
    t : ndarray (n_steps + 1,)
        Grid times ``0 .. T``.
    x_grid : ndarray (n_x,)
        The default ``x`` points of :meth:`phi`.
    J : (float, float)
        Invariant interval holding the forward cohorts.
    counters : DualCounters
    """

    method: str
    order: int
    problem: DualProblem = field(repr=False)
    Q: np.ndarray = field(repr=False)
    R: np.ndarray = field(repr=False)
    G: np.ndarray = field(repr=False)
    Psi: np.ndarray = field(repr=False)
    group_of: np.ndarray = field(repr=False)
    group_hbar: np.ndarray = field(repr=False)
    counters: DualCounters | None = None
    survival_tol: float = 1e-17
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- grid --------------------------------------------------------------------------------
    @property
    def xi(self) -> np.ndarray:
        return self.problem.xi

    @property
    def t(self) -> np.ndarray:
        return self.problem.times

    @property
    def t_end(self) -> float:
        return self.problem.t_end

    @property
    def dt(self) -> float:
        return self.problem.dt

    @property
    def x_grid(self) -> np.ndarray:
        return self.problem.x_grid

    @property
    def J(self) -> tuple[float, float]:
        return self.problem.J

    @property
    def terminal(self) -> TerminalFunction:
        return self.problem.terminal

    def step_index(self, t: Any, name: str = "t") -> int:
        """Grid index of the grid time ``t`` (tolerance ``1e-9 T``)."""
        tt = check_real(name, t, f"pass a grid time in [0, {self.t_end:g}]")
        n = int(round(tt / self.dt))
        if tt < -1e-12 or tt > self.t_end * (1 + 1e-12) or abs(n * self.dt - tt) > 1e-9 * max(1.0, self.t_end):
            near = min(max(n, 0), self.problem.n_steps) * self.dt
            raise bad_argument(name, t, f"must be a time of the dual's grid: multiples of dt = {self.dt:g} in "
                               f"[0, T = {self.t_end:g}]", f"pass e.g. {name}={near:g}")
        return n

    # -- node-wise expanded arrays -----------------------------------------------------------
    @property
    def reset_values(self) -> np.ndarray:
        """``R_n = phi(t_n, xi_k, x_new_n)``, shape ``(n_steps + 1, n_xi)`` (the value at the newborn
        cohort of step ``n``; ``R_0`` is ``nan``: nothing is born at ``t_0``)."""
        return self.R[:, self.group_of]

    @property
    def source(self) -> np.ndarray:
        """The non-local term ``G(t_n, xi_k) = (1/n_xi) sum_j K[j, k] Psi(t_n, xi_j)``, shape
        ``(n_steps + 1, n_xi)`` (zeros for the frozen dual)."""
        return self.G[:, self.group_of]

    @property
    def psi(self) -> np.ndarray:
        """``Psi(t_n, xi_k) = int d_x phi rho`` on the forward cohorts, ``(n_steps + 1, n_xi)`` (linearised)."""
        return self.Psi[:, self.group_of]

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, t: Any, nodes: np.ndarray, x: np.ndarray, *, tangent: bool = False):
        """``phi(t, xi_{nodes[i]}, x[i])`` (and ``d_x phi`` when ``tangent``) at a grid time ``t``.

        Returns ``values`` (shape of ``x``), or ``(values, derivatives)`` when ``tangent``.
        """
        n0 = self.step_index(t)
        nodes = np.asarray(nodes, dtype=np.int64).ravel()
        x = np.ascontiguousarray(np.asarray(x, dtype=float).ravel())
        if nodes.shape != x.shape:
            raise bad_argument("nodes", nodes, f"must have the shape of x {x.shape}", "pass one node per point")
        if not np.all(np.isfinite(x)):
            raise bad_argument("x", x, "must be finite", "remove NaN/inf points")
        vals, ders = _chain_values(self, n0, nodes, x, tangent)
        return (vals, ders) if tangent else vals

    def _grid_points(self, x):
        xs = self.x_grid if x is None else check_vector("x", x, fix="pass a finite 1-D array of x points")
        n_xi = self.problem.n_xi
        return np.repeat(np.arange(n_xi), xs.size), np.tile(xs, n_xi), xs.size

    def phi(self, t: Any, x: Any = None) -> np.ndarray:
        """``phi(t, xi_k, x_j)`` on every node, shape ``(n_xi, n_x)`` (``x`` default :attr:`x_grid`)."""
        nodes, pts, n_x = self._grid_points(x)
        return self.evaluate(t, nodes, pts).reshape(self.problem.n_xi, n_x)

    def dphi(self, t: Any, x: Any = None) -> np.ndarray:
        """``d_x phi(t, xi_k, x_j)``, shape ``(n_xi, n_x)`` (exact derivative of the discrete chain)."""
        nodes, pts, n_x = self._grid_points(x)
        return self.evaluate(t, nodes, pts, tangent=True)[1].reshape(self.problem.n_xi, n_x)

    def pairing(self, t: Any, measure: Any) -> float:
        """``<phi(t), measure> = int int phi(t, xi, x) measure(dxi, dx)`` (module docstring).

        ``measure``: a :class:`~solvers.meanfield.CohortSnapshot` or ``GridSnapshot`` at time ``t``, a
        :class:`~solvers.meanfield.MeanFieldSolution` (its snapshot at ``t``), a network state (1-D array
        of ``N`` potentials on the labels ``xi_i = (i + 1/2)/N``), a :class:`LinearisedSnapshot`, or an
        extended measure (``solvers.measures.ExtendedMeasure``: any object with ``edges``, ``atom_ptr``,
        ``atom_x``, ``atom_m``, ``cont_ptr``, ``cont_x``, ``cont_F``).
        """
        from .pairing import pair

        return pair(self, t, measure)

    def regularity(self, **options: Any):
        """The ``xi``-regularity curve (:func:`solvers.dual.regularity.regularity`)."""
        from .regularity import regularity

        return regularity(self, **options)


def terminal_shift(sol: DualSolution) -> np.ndarray:
    """``B_n`` (``(n_steps + 1, D)``) of the affine terminal map ``y_N = e^{-(N - n) dt} x + B_n`` of the
    frozen leaky flow from ``t_n`` (``B_N = 0``, ``B_n = e^{-(N-n-1) dt} c_n (1 - e^{-dt}) + B_{n+1}``)."""
    B = sol.extras.get("terminal_shift")
    if B is None:
        pr = sol.problem
        N, ef = pr.n_steps, math.exp(-pr.dt)
        B = np.zeros((N + 1, sol.group_hbar.shape[1]))
        for m in range(N - 1, -1, -1):
            B[m] = ef ** (N - 1 - m) * (pr.I0 + sol.group_hbar[m]) * (1.0 - ef) + B[m + 1]
        sol.extras["terminal_shift"] = B
    return B


def _chain_values(sol: DualSolution, n0: int, nodes: np.ndarray, x: np.ndarray, tangent: bool):
    """Vectorised chains from ``(t_{n0}, x)`` (see :class:`DualSolution`)."""
    pr = sol.problem
    N = pr.n_steps
    xi = pr.xi[nodes]
    term = pr.terminal
    if n0 == N:
        v = checked_terminal(term, nodes, xi, x)
        return v, (checked_terminal(term, nodes, xi, x, derivative=True) if tangent else None)
    rows = np.ascontiguousarray(sol.group_of[nodes])
    dt = pr.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    code, p0, p1, p2 = pr.family
    # terminal positions by the affine terminal map of the leaky flow (rounding-level equal to the chain's)
    hb = sol.group_hbar
    yN = ef ** (N - n0) * x + terminal_shift(sol)[n0, rows]
    tv = checked_terminal(term, nodes, xi, yN)
    td = checked_terminal(term, nodes, xi, yN, derivative=True) if tangent else np.zeros(0)
    xc = x.copy()
    f = intensity_values(code, p0, p1, p2, xc)
    P = np.ones(x.size)
    acc = np.zeros(x.size)
    dP = np.zeros(x.size if tangent else 1)
    dacc = np.zeros(x.size if tangent else 1)
    dI = np.zeros(x.size if tangent else 1)
    arg = np.empty(x.size)
    has_exp = code in (SIGMOID, EXPONENTIAL)
    yp = 1.0
    reached = True
    for m in range(n0, N):
        c = pr.I0 + hb[m]
        _passes.chain_carry(xc, rows, c, ef, code, p1, p2, arg)
        if has_exp:
            np.exp(arg, out=arg)
        _passes.chain_exponent(xc, f, rows, c, dt, ef, eh, code, p0, p1, p2, pr.hermite, arg, dI, tangent)
        np.exp(arg, out=arg)
        pmax = _passes.chain_accumulate(P, acc, rows, sol.Q[m], arg, dP, dacc, dI, yp, tangent)
        yp *= ef
        if pmax < sol.survival_tol:
            reached = False
            break
    if reached:
        acc += P * tv
        if tangent:
            dacc += dP * tv + P * td * yp
    return acc, (dacc if tangent else None)


# ================================================================================ scheme contract
class DualScheme(Scheme):
    """Base class of the dual schemes (the contract of :class:`solvers.meanfield.base.Scheme`, with
    the dual's own problem type :class:`DualProblem` and registry :data:`DUAL_SCHEMES`).

    A dual scheme is one subclass that (1) names itself (``name``, ``order``, ``summary``; its module
    docstring states the scheme, its order and why), (2) declares its ``options`` and (3) checks them
    in :meth:`check_options` through :mod:`solvers.validation`; (4) runs on the forward's grid (its
    ``default_dt`` is the forward's step: the dual never changes the grid); (5) returns a
    :class:`DualSolution` from :meth:`run` with ``method = name`` and ``order = order``; (6) reports
    :class:`DualCounters`; (7) fails loudly (a non-finite value raises
    :class:`~solvers.errors.SimulationError` naming the scheme, ``t`` and ``xi``); (8) computes nodes with
    identical data once; (9) registers itself with ``@DUAL_SCHEMES.register`` and a convergence test
    measures its order against an independent reference.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 0
    summary: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Any]] = {}

    def default_dt(self) -> float:
        return self.problem.dt

    def run(self) -> DualSolution:  # type: ignore[override]  # pragma: no cover - abstract
        raise NotImplementedError


#: the dual schemes; :func:`solvers.dual.solve_backward` looks them up here
DUAL_SCHEMES = SchemeRegistry("dual scheme")


def is_network_state(measure: Any) -> bool:
    return isinstance(measure, (np.ndarray, list, tuple)) and np.asarray(measure).ndim == 1 and \
        np.asarray(measure).size > 0 and np.issubdtype(np.asarray(measure).dtype, np.number)


def node_cells(N: int, n_xi: int) -> np.ndarray:
    """The node (``0 .. n_xi - 1``) whose cell holds each label ``(i + 1/2)/N``."""
    return cell_index(labels(N), n_xi)

