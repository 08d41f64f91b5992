"""Unit tests of solvers.meanfield: initial-data specs, CDF with atoms, solution API, error paths.

Exact facts used (independent of the code under test):
* constant intensity ``f = lam0``: the initial Dirac stays an atom of mass ``exp(-lam0 t)`` at
  ``c + (x0 - c) e^{-t}`` with ``c = I0 + lam0 d(xi)`` (SPEC section 3); the Lagrangian scheme carries
  it with the exact leaky flow and an exact survival (Simpson is exact on a constant), so its mass and
  position are exact to round-off, and ``r = lam0`` exactly;
* mass is 1 on every slice by construction of the Lagrangian scheme (round-off only).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from solvers.errors import InvalidArgumentError, SimulationError
from solvers.graphons import constant, product, ring, skew, two_block
from solvers.meanfield import (
    METHODS,
    SCHEMES,
    CohortKind,
    Dirac,
    Empirical,
    Gaussian,
    Histogram,
    LagrangianCounters,
    SchemeCounters,
    UpwindCounters,
    solve,
)
from solvers.model import Constant, CustomDrift, CustomIntensity, Exponential, Leaky, NeuronModel, ReLU, Sigmoid

STD = NeuronModel.standard()


# ------------------------------------------------------------------------------ initial specs
def test_dirac_scalar_and_per_node():
    pos, mass = Dirac(0.3).cohorts(4)
    assert pos.shape == (4, 1) and np.all(pos == 0.3) and np.all(mass == 1.0)
    pos, mass = Dirac(np.array([0.0, 1.0, 2.0])).cohorts(3)
    assert pos[:, 0].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(InvalidArgumentError, match="values"):
        Dirac(np.zeros(5)).cohorts(3)


def test_gaussian_quantile_atoms_moments():
    pos, mass = Gaussian(mean=np.array([0.0, 1.0]), sd=0.5, n_atoms=400).cohorts(2)
    assert np.allclose(mass.sum(axis=1), 1.0, atol=1e-14)
    assert np.allclose((mass * pos).sum(axis=1), [0.0, 1.0], atol=1e-12)  # symmetric quantiles
    var = (mass * (pos - pos.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    # conditional means of the quantile cells: by the law of total variance the atoms' variance is the
    # true one minus the mean within-cell variance, so strictly below it; the deficit is 4.4e-4 relative
    # at M = 400 (mostly the two tail cells); a mid-quantile placement would give -3.2e-3
    assert np.all(var / 0.25 - 1 < 0) and np.all(var / 0.25 - 1 > -1e-3)
    edges = np.linspace(-5, 6, 111)
    cells = Gaussian(0.0, 0.5).cell_masses(2, edges)
    assert np.allclose(cells.sum(axis=1), 1.0, atol=1e-14)
    with pytest.raises(InvalidArgumentError, match="x_range"):
        Gaussian(0.0, 0.5).cell_masses(1, np.linspace(0.0, 1.0, 11))
    with pytest.raises(InvalidArgumentError, match="sd"):
        Gaussian(0.0, 0.0).cohorts(1)


def test_histogram_normalised_and_exact_cell_masses():
    h = Histogram(edges=[0.0, 1.0, 3.0], weights=[1.0, 3.0], atoms_per_bin=4)
    pos, mass = h.cohorts(2)
    assert np.allclose(mass.sum(axis=1), 1.0)
    assert np.allclose((mass * pos).sum(axis=1), 0.25 * 0.5 + 0.75 * 2.0)  # midpoint rule exact for x
    cells = h.cell_masses(1, np.array([0.0, 0.5, 2.0, 3.0]))
    assert np.allclose(cells, [[0.125, 0.125 + 0.375, 0.375]])
    with pytest.raises(InvalidArgumentError, match="weights"):
        Histogram(edges=[0.0, 1.0], weights=[-1.0])
    with pytest.raises(InvalidArgumentError, match="edges"):
        Histogram(edges=[1.0, 0.0], weights=[1.0])


def test_empirical_assigns_neurons_to_cells():
    states = np.arange(8.0)
    pos, mass = Empirical(states).cohorts(4)  # N multiple of n_xi: two neurons per node
    assert np.allclose(np.sort(pos, axis=1), [[0, 1], [2, 3], [4, 5], [6, 7]])
    assert np.allclose(mass, 0.5)
    pos, mass = Empirical(np.arange(5.0)).cohorts(2)  # labels 0.1,0.3 | 0.5 -> cell 0 (closed right), 0.7,0.9
    assert np.allclose(mass.sum(axis=1), 1.0)
    assert sorted(pos[0][mass[0] > 0].tolist()) == [0.0, 1.0, 2.0]
    assert sorted(pos[1][mass[1] > 0].tolist()) == [3.0, 4.0]
    with pytest.raises(InvalidArgumentError, match="n_xi"):
        Empirical(np.zeros(3)).cohorts(4)


def test_network_state_equals_dirac_when_N_equals_n_xi():
    vals = np.linspace(0.0, 1.0, 8)
    a = solve(STD, two_block(), 0.5, vals, n_xi=8, dt=0.05)
    b = solve(STD, two_block(), 0.5, Dirac(vals), n_xi=8, dt=0.05)
    assert np.array_equal(a.rates, b.rates)


# ------------------------------------------------------------------------- CDF with atoms
def test_constant_intensity_atom_is_exact_and_cdf_right_continuous():
    lam0, t, x0 = 2.0, 1.0, 0.7
    model = NeuronModel(Leaky(1.5), Constant(lam0), reset=0.0)
    sol = solve(model, product(), t, x0, n_xi=4, dt=0.05, save_times=[0.0, t])
    assert np.allclose(sol.rates, lam0, rtol=0, atol=1e-13)
    c = 1.5 + lam0 * sol.xi  # degree of the product kernel is xi (midpoint rule exact here)
    atom = c + (x0 - c) * math.exp(-t)
    # the carried atom sits at the exact position up to round-off (20 products of e^{-dt}): look at a
    # window of +-1e-12 around it; the continuous part puts at most density * 2e-12 in it
    jump = np.diag(sol.cdf(t, atom + 1e-12)) - np.diag(sol.cdf(t, atom - 1e-12))
    assert np.allclose(jump, math.exp(-lam0 * t), rtol=0, atol=1e-11)
    F0 = sol.cdf(0.0, [x0 - 1e-12, x0])
    assert np.all(F0[:, 0] == 0.0) and np.allclose(F0[:, 1], 1.0, atol=1e-15)
    F = sol.cdf(t, np.linspace(-1, 6, 300))
    assert np.all(np.diff(F, axis=1) >= -1e-15) and np.allclose(F[:, -1], 1.0, atol=1e-12)


def test_cdf_matches_exact_constant_intensity_law():
    references = pytest.importorskip("solvers.references")
    lam0, t = 1.5, 1.2
    model = NeuronModel(Leaky(1.5), Constant(lam0), reset=0.0)
    x = np.linspace(-0.5, 4.0, 91)
    law = references.constant_intensity_law(model, kernel=product(), t=t, initial=0.4)
    errs = []
    for dt in (0.02, 0.01):
        sol = solve(model, product(), t, 0.4, n_xi=8, dt=dt, save_times=[t])
        exact = np.stack([law.cdf(xi, x) for xi in sol.xi])
        errs.append(np.max(np.abs(sol.cdf(t, x) - exact)))
    # atom exact; the continuous part is interpolated linearly between cohorts (edges at midpoints),
    # measured second order in sup norm (7.3e-5 -> 1.8e-5); assert at least order 1.5
    assert errs[1] < 1e-4 and errs[0] / errs[1] > 2 ** 1.5, errs


def test_density_integrates_to_mass():
    sol = solve(STD, ring(), 2.0, Gaussian(0.5, 0.2), n_xi=4, dt=0.02, save_times=[2.0])
    edges = np.linspace(-2.0, 6.0, 801)
    d = sol.density(2.0, edges)
    assert np.allclose((d * np.diff(edges)).sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="save_times"):
        sol.cdf(1.234, [0.0])


# -------------------------------------------------------------------------- solution API
def test_time_series_interpolation_and_shapes():
    sol = solve(STD, skew(), 1.0, 0.0, n_xi=6, dt=0.1)
    assert sol.method == "lagrangian" and sol.order == 2 and METHODS["upwind"] == 1
    assert sol.rate(0.3).shape == (6,) and sol.rate(np.array([0.0, 0.5])).shape == (2, 6)
    assert np.allclose(sol.rate(0.3), sol.rates[3])
    assert np.allclose(sol.rate(0.35), 0.5 * (sol.rates[3] + sol.rates[4]))
    assert np.allclose(sol.input(0.0), skew().matrix(6) @ sol.rates[0] / 6)
    assert np.all(sol.variance(1.0) >= 0)
    assert isinstance(sol.counters, LagrangianCounters) and isinstance(sol.counters, SchemeCounters)
    assert sol.counters.steps == 10 and sol.counters.dt == pytest.approx(0.1) and not sol.counters.dt_adjusted
    for key in ("cohorts_alive", "cohorts_max", "cohorts_dropped", "dropped_mass", "wall_time"):
        assert getattr(sol.counters, key) >= 0
    with pytest.raises(InvalidArgumentError, match="t_end"):
        sol.rate(1.5)


def test_lagrangian_mass_is_one_to_roundoff():
    sol = solve(STD, two_block(), 5.0, Dirac(np.linspace(0, 2, 8)), n_xi=8, dt=0.01)
    assert np.max(np.abs(sol.masses - 1.0)) < 1e-13


def test_merge_identical_nodes_is_exact():
    init = Dirac(np.repeat([0.0, 1.0], 4))
    a = solve(STD, two_block(), 2.0, init, n_xi=8, dt=0.02)
    b = solve(STD, two_block(), 2.0, init, n_xi=8, dt=0.02, merge_identical_nodes=False)
    assert a.counters.distinct_nodes == 2 and b.counters.distinct_nodes == 8
    assert np.max(np.abs(a.rates - b.rates)) < 1e-12


def test_numpy_path_equals_compiled_path():
    """User callables (vectorised numpy path) give the compiled result for the same functions."""
    sig = Sigmoid(10.0, 5.0, 1.0)
    custom = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: sig(x), bound=10.0), reset=0.0)
    a = solve(STD, skew(), 2.0, Dirac(np.linspace(0, 1, 5)), n_xi=5, dt=0.02, survival_rule="simpson")
    b = solve(custom, skew(), 2.0, Dirac(np.linspace(0, 1, 5)), n_xi=5, dt=0.02)
    assert a.counters.compiled and not b.counters.compiled
    assert np.max(np.abs(a.rates - b.rates)) < 1e-11


def test_survival_rules_agree_far_below_the_time_error():
    """Hermite (corrected trapezoid) and Simpson survival quadratures are both O(dt^5) locally: they
    must agree far below the scheme's own O(dt^2) error (measured by halving dt)."""
    init = Dirac(np.linspace(0, 1.2, 4))
    a = solve(STD, skew(), 3.0, init, n_xi=4, dt=0.01, survival_rule="simpson").rates
    b = solve(STD, skew(), 3.0, init, n_xi=4, dt=0.01, survival_rule="hermite").rates
    c = solve(STD, skew(), 3.0, init, n_xi=4, dt=0.005, survival_rule="hermite").rates[::2]
    assert np.max(np.abs(a - b)) < 0.01 * np.max(np.abs(b - c))
    with pytest.raises(InvalidArgumentError, match="survival_rule"):
        solve(STD, skew(), 1.0, 0.0, survival_rule="trapezoid")


def test_rk2_path_for_general_drift_is_second_order():
    """A leaky drift given as a plain callable goes through the RK2 path; its distance to the exact-flow
    result must shrink by ~4 when dt halves (order 2 of the ODE step)."""
    model = NeuronModel(CustomDrift(func=lambda x: 1.5 - x), Sigmoid(10.0, 5.0, 1.0))
    diffs = []
    for dt in (0.04, 0.02):
        a = solve(STD, constant(1.0), 2.0, 0.0, n_xi=1, dt=dt)
        b = solve(model, constant(1.0), 2.0, 0.0, n_xi=1, dt=dt)
        diffs.append(np.max(np.abs(a.rates - b.rates)))
    ratio = diffs[0] / diffs[1]
    assert 3.0 < ratio < 5.5, (diffs, ratio)


def test_upwind_conserves_mass_and_stays_positive():
    sol = solve(STD, two_block(), 2.0, Gaussian(np.linspace(0, 1, 4), 0.2), method="upwind", n_xi=4, n_x=200,
                x_range=(-1.5, 6.0))
    assert sol.method == "upwind" and sol.order == 1
    assert np.max(np.abs(sol.masses - 1.0)) < 1e-12
    assert sol.counters.max_courant <= 1.0
    F = sol.cdf(2.0, np.linspace(-1.5, 6.0, 50))
    assert np.all(np.diff(F, axis=1) >= -1e-14)


# ---------------------------------------------------------------------------- error paths
@pytest.mark.parametrize("kwargs, match", [
    ({"t_end": 0.0}, "t_end"),
    ({"t_end": -1.0}, "t_end"),
    ({"dt": 0.0}, "dt"),
    ({"dt": -0.1}, "dt"),
    ({"n_xi": 0}, "n_xi"),
    ({"method": "spectral"}, "lagrangian"),
    ({"initial": "zero"}, "initial"),
    ({"initial": {"mean": 0}}, "initial"),
    ({"initial": float("nan")}, "initial"),
    ({"kernel": np.ones((2, 2))}, "kernel"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {"model": STD, "kernel": ring(), "t_end": 1.0, "initial": 0.0}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        solve(args.pop("model"), args.pop("kernel"), args.pop("t_end"), args.pop("initial"), **args)


def test_unknown_method_lists_valid_ones():
    with pytest.raises(InvalidArgumentError) as exc:
        solve(STD, ring(), 1.0, 0.0, method="spectral")
    assert "upwind" in str(exc.value) and "lagrangian" in str(exc.value)


@pytest.mark.parametrize("method", ["lagrangian", "upwind"])
def test_blow_up_raises_naming_t_xi_scheme(method):
    """An intensity that returns NaN beyond x = 1 must stop the run, never return a broken solution."""
    bad = CustomIntensity(func=lambda x: np.where(x > 1.0, np.nan, 1.0), bound=1.0)
    model = NeuronModel(Leaky(1.5), bad)
    grid = {"x_range": (-1, 3), "n_x": 50} if method == "upwind" else {}
    with pytest.raises(SimulationError) as exc:
        solve(model, constant(0.0), 5.0, 0.0, method=method, n_xi=2, dt=0.01, **grid)
    msg = str(exc.value)
    assert method in msg and "t = " in msg and ("xi = " in msg or "f(" in msg)


def test_negative_intensity_raises():
    model = NeuronModel(Leaky(1.5), CustomIntensity(func=lambda x: 1.0 - x, bound=1.0))
    with pytest.raises(SimulationError, match="lagrangian.*negative"):
        solve(model, constant(0.0), 5.0, 0.0, n_xi=1, dt=0.01)


def test_exponential_blow_up_raises():
    """Unbounded intensity with strong excitation: rates explode in finite time."""
    model = NeuronModel(Leaky(1.5), Exponential(c=1.0, beta=3.0, theta=1.0))
    with pytest.raises(SimulationError, match="lagrangian"):
        solve(model, constant(50.0), 5.0, 0.0, n_xi=1, dt=0.01)


def test_upwind_boundary_and_courant_errors():
    with pytest.raises(SimulationError, match="upwind.*x_range"):
        solve(STD, constant(1.0), 2.0, 0.0, method="upwind", n_xi=1, n_x=50, x_range=(-0.5, 2.0), dt=0.005)
    with pytest.raises(SimulationError, match="upwind.*Courant"):
        solve(STD, constant(1.0), 1.0, 0.0, method="upwind", n_xi=1, n_x=200, x_range=(-0.5, 5.5), dt=0.05)
    with pytest.raises(InvalidArgumentError, match="x_range"):
        solve(STD, constant(1.0), 1.0, 3.0, method="upwind", n_xi=1, x_range=(-0.5, 2.0))
    with pytest.raises(InvalidArgumentError, match="x_range"):
        solve(NeuronModel(CustomDrift(func=lambda x: -x), Sigmoid()), constant(1.0), 1.0, 0.0, method="upwind")


def test_cohort_merging_is_bounded_and_reported():
    """Merging conserves mass exactly, reduces the cohort count, and moves the rates by no more than
    the reported weak-error budget allows: |dr| <= sup|f''|/2 * merge_cost per merge at the time of
    merging (sup|f''| = lam beta^2 / (6 sqrt 3) ~ 24 for the standard sigmoid), with a factor 10 of room
    for the propagation of these perturbations over t in [0, 5]."""
    init = Dirac(np.linspace(0.0, 1.0, 4))
    a = solve(STD, skew(), 5.0, init, n_xi=4, dt=0.01, merge_tol=0.0)
    b = solve(STD, skew(), 5.0, init, n_xi=4, dt=0.01, merge_tol=1e-10)
    assert a.counters.cohorts_merged == 0 and b.counters.cohorts_merged > 100
    assert b.counters.cohorts_max < a.counters.cohorts_max
    assert np.max(np.abs(b.masses - 1.0)) < 1e-13
    fpp = 10.0 * 25.0 / (6 * math.sqrt(3))
    budget = 10 * 0.5 * fpp * b.counters.merge_cost
    diff = np.max(np.abs(a.rates - b.rates))
    assert 0 < diff <= budget, (diff, budget)
    with pytest.raises(InvalidArgumentError, match="merge_tol"):
        solve(STD, skew(), 1.0, 0.0, merge_tol=-1.0)


@pytest.mark.parametrize("intensity", [Sigmoid(10.0, 5.0, 1.0), Exponential(1.0, 1.0, 1.0),
                                       ReLU(2.0, 0.5, 5.0), Constant(2.0)], ids=lambda f: f.kind)
def test_split_hermite_step_equals_scalar_kernel(monkeypatch, intensity):
    """The split step (numba passes around numpy's SIMD exp) is the same scheme as the scalar kernel:
    equal to round-off for every named family."""
    import solvers.meanfield.lagrangian as lag

    model = NeuronModel(Leaky(1.5), intensity)
    init = Dirac(np.linspace(0.0, 1.2, 6))
    a = solve(model, skew(), 3.0, init, n_xi=6, dt=0.01, save_times=[3.0])
    monkeypatch.setattr(lag, "_SPLIT_HERMITE", False)
    b = solve(model, skew(), 3.0, init, n_xi=6, dt=0.01, save_times=[3.0])
    assert np.max(np.abs(a.rates - b.rates)) < 1e-12
    assert np.max(np.abs(a.means - b.means)) < 1e-12
    assert np.max(np.abs(a.snapshots[-1].mass - b.snapshots[-1].mass)) < 1e-12


# ------------------------------------------------------------------ time step rule (issue 11)
def test_dt_longer_than_the_horizon_is_an_error():
    """Before: dt = 2 on t_end = 1 was cut to one step of 1 without a word (rate 4.55 instead of 3.24)."""
    with pytest.raises(InvalidArgumentError, match=r"'dt'.*t_end = 1"):
        solve(STD, constant(1.0), 1.0, 0.0, n_xi=1, dt=2.0)
    with pytest.raises(InvalidArgumentError, match="'dt'"):
        solve(STD, constant(1.0), 1.0, 0.0, method="upwind", n_xi=1, dt=1.5, x_range=(-0.5, 5.5))
    ok = solve(STD, constant(1.0), 1.0, 0.0, n_xi=1, dt=1.0)  # dt == t_end: one step, allowed
    assert ok.counters.steps == 1 and not ok.counters.dt_adjusted
    short = solve(STD, constant(1.0), 0.004, 0.0, n_xi=1)  # the default dt 0.01 > t_end: one step of t_end
    assert short.counters.steps == 1 and short.counters.dt == 0.004 and short.counters.dt_requested == 0.01


def test_non_dividing_dt_is_adjusted_reported_and_logged(caplog):
    with caplog.at_level("WARNING", logger="solvers.meanfield.base"):
        sol = solve(STD, constant(1.0), 1.0, 0.0, n_xi=1, dt=0.3)
    c = sol.counters
    assert c.steps == 4 and c.dt == 0.25 and c.dt_requested == 0.3 and c.dt_adjusted
    assert sol.dt == 0.25 and sol.t[-1] == 1.0
    assert any("dt = 0.3" in r.getMessage() and "0.25" in r.getMessage() for r in caplog.records)
    same = solve(STD, constant(1.0), 1.0, 0.0, n_xi=1, dt=0.25)  # exactly the divisor step
    assert np.array_equal(sol.rates, same.rates) and not same.counters.dt_adjusted
    caplog.clear()
    with caplog.at_level("INFO", logger="solvers.meanfield.base"):
        up = solve(STD, constant(1.0), 1.0, 0.0, method="upwind", n_xi=1, n_x=100, x_range=(-0.5, 5.5))
    assert isinstance(up.counters, UpwindCounters) and up.counters.dt <= up.counters.dt_requested
    assert up.counters.max_courant <= 0.9 + 1e-12  # the default dt only shrinks: Courant <= cfl
    assert all(r.levelname == "INFO" for r in caplog.records if "does not divide" in r.getMessage())


# ------------------------------------------------------------------ scheme registry (issue 7)
def test_scheme_options_are_checked_by_the_scheme():
    with pytest.raises(InvalidArgumentError, match=r"'n_x'.*not an option of method='lagrangian'.*upwind"):
        solve(STD, ring(), 1.0, 0.0, n_xi=2, n_x=50)
    with pytest.raises(InvalidArgumentError, match=r"'survival_rule'.*not an option of method='upwind'"):
        solve(STD, ring(), 1.0, 0.0, method="upwind", n_xi=2, survival_rule="simpson")
    with pytest.raises(InvalidArgumentError, match=r"'drop_tl'.*spelling"):
        solve(STD, ring(), 1.0, 0.0, n_xi=2, drop_tl=1e-15)
    with pytest.raises(InvalidArgumentError, match="cfl"):
        solve(STD, ring(), 1.0, 0.0, method="upwind", n_xi=2, cfl=1.5)
    with pytest.raises(InvalidArgumentError, match="prune_every"):
        solve(STD, ring(), 1.0, 0.0, n_xi=2, prune_every=0)
    with pytest.raises(InvalidArgumentError, match="merge_identical_nodes"):
        solve(STD, ring(), 1.0, 0.0, n_xi=2, merge_identical_nodes=1)  # no integer flags
    with pytest.raises(TypeError):
        solve(STD, ring(), 1.0, 0.0, "upwind")  # method is keyword-only


def test_registry_dispatches_a_new_scheme_without_changing_solve(monkeypatch):
    """A scheme registered by name is found by solve (the registry, not solve, knows the schemes)."""
    from solvers.meanfield.base import SchemeRegistry
    from solvers.meanfield.lagrangian import LagrangianScheme

    class SimpsonOnly(LagrangianScheme):
        name = "lagrangian-simpson"
        summary = "the Lagrangian scheme with Simpson survival only"
        options = {"drop_tol": 1e-15}

        def check_options(self, problem, options):
            return super().check_options(problem, {**LagrangianScheme.options, **options,
                                                   "survival_rule": "simpson"})

    monkeypatch.setitem(SCHEMES._schemes, SimpsonOnly.name, SimpsonOnly)
    assert METHODS["lagrangian-simpson"] == 2
    a = solve(STD, skew(), 1.0, 0.0, method="lagrangian-simpson", n_xi=3, dt=0.05)
    b = solve(STD, skew(), 1.0, 0.0, n_xi=3, dt=0.05, survival_rule="simpson")
    assert np.array_equal(a.rates, b.rates) and a.counters.survival_rule == "simpson"
    with pytest.raises(InvalidArgumentError, match="'prune_every'.*lagrangian-simpson"):
        solve(STD, skew(), 1.0, 0.0, method="lagrangian-simpson", n_xi=3, prune_every=4)
    reg = SchemeRegistry("test scheme")
    reg.register(SimpsonOnly)
    with pytest.raises(RuntimeError, match="two test schemes"):
        reg.register(type("Clash", (SimpsonOnly,), {}))
    with pytest.raises(TypeError, match="order"):
        reg.register(type("NoOrder", (SimpsonOnly,), {"name": "x", "order": 0}))
    with pytest.raises(InvalidArgumentError, match=r"unknown test scheme; valid: \['lagrangian-simpson'\]"):
        reg.get_scheme("euler")


# ------------------------------------------------------------------ named cohort kinds (issue 7)
def test_snapshot_columns_have_named_kinds():
    a = solve(STD, ring(), 0.5, Dirac(np.linspace(0, 1, 4)), n_xi=4, dt=0.05, save_times=[0.0, 0.5])
    s0, s1 = a.snapshots
    assert s0.initial_kind is CohortKind.ATOM and not np.any(s0.born)
    assert np.count_nonzero(s1.born) == 10 and np.count_nonzero(~s1.born) == 1  # 10 births, one Dirac
    assert np.array_equal(s1.kind_mask(CohortKind.ATOM), ~s1.born)
    assert not np.any(s1.kind_mask(CohortKind.QUADRATURE))
    g = solve(STD, ring(), 0.5, Gaussian(0.5, 0.1, n_atoms=32), n_xi=2, dt=0.05, save_times=[0.5]).snapshots[0]
    assert g.initial_kind is CohortKind.QUADRATURE and np.count_nonzero(g.kind_mask(CohortKind.QUADRATURE)) == 32
    masks = [g.kind_mask(k) for k in CohortKind]
    assert np.array_equal(np.sum(masks, axis=0), np.ones(g.pos.shape[1]))  # every column has exactly one kind
    with pytest.raises(InvalidArgumentError, match="kind"):
        g.kind_mask(0)
