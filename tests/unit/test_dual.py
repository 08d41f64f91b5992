"""Fast tests of solvers.dual (SPEC section 4).

Oracles (never the code under test): the forward solver's own discrete measures (the frozen duality
for the discrete pair is an identity between two independent computations: the forward scheme's
cohorts and the dual's chains); closed forms for constant intensity (``phi_T = x``: the backward
solution is affine in ``x``); exact integrals of polynomials against atoms and uniform pieces
(pairings); central differences of the nonlinear forward solver (linearised forward); scipy quadrature
(the weak metric's test functions).  Slow convergence tests are in tests/convergence/test_dual_*.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from solvers.dual import (
    DUAL_SCHEMES,
    Perturbation,
    TerminalFunction,
    feynman_kac,
    linearised_forward,
    perturbed_initial,
    predicted_variance,
    regularity,
    solve_backward,
    weak_test_function,
)
from solvers.dual.backward import forward_pass
from solvers.dual.base import dual_problem
from solvers.errors import InvalidArgumentError
from solvers.graphons import cell_index, constant, labels, ring, skew, two_block
from solvers.meanfield import Gaussian, solve
from solvers.model import Constant, Leaky, NeuronModel, Sigmoid
from solvers.quadrature import overlap_matrix

STD = NeuronModel.standard()


def phi_sin(xi, x):
    return np.sin(x) * (1.0 + xi)


@pytest.fixture(scope="module")
def fw_exact():
    """Standard neuron, skew kernel, slice laws at every step, no cohort merging or dropping: the
    forward measure is exactly the discrete chain the frozen dual is the adjoint of."""
    T, dt = 1.0, 0.02
    return solve(STD, skew(), T, 0.0, n_xi=4, dt=dt, save_times=np.arange(0, T + 1e-9, dt), merge_tol=0.0,
                 drop_tol=0.0)


@pytest.fixture(scope="module")
def fw_small():
    return solve(STD, skew(), 1.0, 0.0, n_xi=6, dt=0.02)


# --------------------------------------------------------------------------- frozen duality
@pytest.mark.parametrize("rule", ["hermite", "simpson"])
def test_frozen_duality_holds_to_rounding_for_the_discrete_pair(rule):
    T, dt = 1.0, 0.02
    fw = solve(STD, skew(), T, Gaussian(0.5, 0.3, n_atoms=8), n_xi=4, dt=dt, save_times=np.arange(0, T + 1e-9, dt),
               merge_tol=0.0, drop_tol=0.0, survival_rule=rule)
    d = solve_backward(fw, phi_sin, linearised=False)
    vals = np.array([d.pairing(t, fw) for t in fw.save_times])
    # 50 steps, each exact up to the rounding of sums of O(1) terms
    assert np.max(np.abs(vals - vals[-1])) < 5e-14, vals - vals[-1]
    assert abs(vals[-1]) > 0.1  # not a trivial zero


def test_frozen_duality_with_merging_forward_is_within_the_forward_merge_cost():
    """With the forward's default cohort merging and dropping, the defect is bounded by what those
    operations move: sup|phi''| merge_cost / 2 + sup|phi| dropped mass (SPEC: a 1e-14-level effect)."""
    T, dt = 2.0, 0.01
    fw = solve(STD, skew(), T, 0.0, n_xi=4, dt=dt, save_times=np.linspace(0, T, 11))
    assert fw.counters.cohorts_merged > 0
    d = solve_backward(fw, phi_sin, linearised=False)
    vals = np.array([d.pairing(t, fw) for t in fw.save_times])
    bound = 2.0 * fw.counters.merge_cost / 2 + 2.0 * fw.counters.dropped_mass + 1e-13  # |phi|, |phi''| <= 2
    assert np.max(np.abs(vals - vals[-1])) <= bound, (vals - vals[-1], bound)


def test_chain_values_agree_with_the_reset_values(fw_exact):
    """R_n (backward column pass) equals the chain evaluated at the newborn position (two computations)."""
    d = solve_backward(fw_exact, phi_sin, linearised=False)
    pr = d.problem
    c = pr.I0 + pr.hbar
    n = 20
    xnew = c[n - 1] + (pr.model.reset - c[n - 1]) * math.exp(-0.5 * pr.dt)
    vals = d.evaluate(n * pr.dt, np.arange(pr.n_xi), xnew)
    np.testing.assert_allclose(vals, d.reset_values[n], rtol=0, atol=1e-14)


def test_pilot_lifetimes_give_the_reset_values_of_the_full_pass():
    fw = solve(STD, skew(), 6.0, 0.0, n_xi=4, dt=0.02)
    a = solve_backward(fw, phi_sin, linearised=False)
    b = solve_backward(fw, phi_sin, linearised=False, pilot_stride=1)
    c = solve_backward(fw, phi_sin, linearised=False, pilot_stride=1, tail_tol=1e-17)  # no tail extrapolation
    assert a.counters.tail_weight <= 100 * 1e-10 and a.counters.tail_error < 1e-15
    np.testing.assert_allclose(a.R[1:], c.R[1:], rtol=0, atol=5e-14)
    np.testing.assert_allclose(b.R[1:], c.R[1:], rtol=0, atol=5e-14)
    assert a.counters.max_alive < c.counters.max_alive


def test_pilot_falls_back_to_the_full_pass_when_its_lifetimes_are_too_short(monkeypatch, caplog):
    import logging

    import solvers.dual.backward as backward

    fw = solve(STD, skew(), 4.0, 0.0, n_xi=3, dt=0.02)
    full = solve_backward(fw, phi_sin, linearised=False, pilot_stride=1)

    def too_short(d_init, d_pilot, stride, N):
        b = np.arange(1, N + 1)
        return np.concatenate((d_init, np.minimum(np.maximum.accumulate(b + 3), N)))

    monkeypatch.setattr(backward, "_interpolate_deaths", too_short)
    with caplog.at_level(logging.INFO, logger="solvers.dual.backward"):
        d = solve_backward(fw, phi_sin, linearised=False)
    assert "pilot lifetimes too short" in caplog.text
    assert d.counters.tail_weight <= 100 * 1e-10  # the reported truncation is the fallback's
    np.testing.assert_allclose(d.R[1:], full.R[1:], rtol=0, atol=1e-15)


def test_derivative_is_the_derivative_of_the_computed_chain(fw_small):
    for lin in (False, True):
        d = solve_backward(fw_small, phi_sin, linearised=lin)
        x = np.linspace(-0.3, 3.0, 9)
        h = 1e-5
        fd = (d.phi(0.2, x + h) - d.phi(0.2, x - h)) / (2 * h)
        np.testing.assert_allclose(d.dphi(0.2, x), fd, rtol=0, atol=1e-7)


# --------------------------------------------------------------------------- closed forms
def _constant_intensity_phi(K, lam, I0, xr, x, tau, linearised):
    """phi_T = x, f = lam: phi(T - tau, xi_k, x) = c + (x - c) e^{-a tau} + (x_r - c) lam/a (1 - e^{-a tau}),
    a = 1 + lam, c = I0 + lam d_k (discrete out-degree); linearised: + lam din_k (1 - e^{-a tau}) / a
    (discrete in-degree: the transposed kernel)."""
    a = 1.0 + lam
    deg, din = K.mean(axis=1), K.mean(axis=0)
    c = I0 + lam * deg
    out = c[:, None] + (x[None, :] - c[:, None]) * math.exp(-a * tau) + (xr - c[:, None]) * lam / a * (
        1 - math.exp(-a * tau))
    if linearised:
        out += (lam * din * (1 - math.exp(-a * tau)) / a)[:, None]
    return out


@pytest.mark.parametrize("lin", [False, True])
def test_constant_intensity_closed_form(lin):
    lam, I0, xr, T = 1.5, 1.5, 0.0, 2.0
    model = NeuronModel(Leaky(I0), Constant(lam), reset=xr)
    errs = []
    for dt in (0.04, 0.02):
        fw = solve(model, skew(), T, 0.4, n_xi=8, dt=dt)
        d = solve_backward(fw, lambda xi, x: x, linearised=lin)
        x = np.linspace(-0.5, 4.0, 7)
        ex = _constant_intensity_phi(fw.problem.K, lam, I0, xr, x, T, lin)
        errs.append(np.max(np.abs(d.phi(0.0, x) - ex)))
    assert errs[1] < 2e-3
    assert 3.0 < errs[0] / errs[1] < 5.0, errs  # second order (measured precisely in tests/convergence)


# --------------------------------------------------------------------------- pairings
class _Extended:
    """A stand-in with the flat arrays of solvers.measures.ExtendedMeasure."""

    def __init__(self, edges, atoms, conts):
        self.edges = np.asarray(edges, dtype=float)
        self.atom_ptr = np.cumsum([0] + [len(a) for a in atoms])
        self.atom_x = np.concatenate([np.asarray([p for p, _ in a], dtype=float) for a in atoms])
        self.atom_m = np.concatenate([np.asarray([m for _, m in a], dtype=float) for a in atoms])
        self.cont_ptr = np.cumsum([0] + [len(c[0]) for c in conts])
        self.cont_x = np.concatenate([np.asarray(c[0], dtype=float) for c in conts])
        self.cont_F = np.concatenate([np.asarray(c[1], dtype=float) for c in conts])


def test_pairing_at_T_with_extended_measure_network_state_and_grid_snapshot_is_exact(fw_small):
    """At ``T`` the pairing uses phi_T itself: for phi_T = (1 + xi_k) x^2 the integrals against atoms
    and uniform pieces are computed here in closed form."""
    d = solve_backward(fw_small, lambda xi, x: (1.0 + xi) * x ** 2, linearised=False)
    T, n_xi = d.t_end, d.problem.n_xi
    xi_nodes = labels(n_xi)
    # extended measure: cells (0, 0.3] and (0.3, 1]; atoms and a uniform part per cell
    mu = _Extended([0.0, 0.3, 1.0], [[(0.5, 0.25), (1.5, 0.25)], [(2.0, 0.6)]],
                   [([0.0, 1.0], [0.0, 0.5]), ([1.0, 3.0], [0.0, 0.4])])
    O = overlap_matrix(mu.edges, n_xi)
    per_cell = [0.25 * 0.25 + 0.25 * 2.25 + 0.5 * (1 - 0) / 3, 0.6 * 4.0 + 0.4 * (27 - 1) / (3 * 2)]
    want = sum(O[c, k] * (1 + xi_nodes[k]) * per_cell[c] for c in range(2) for k in range(n_xi))
    assert d.pairing(T, mu) == pytest.approx(want, rel=1e-13)
    # network state with N not a multiple of n_xi: labels read by their node cell
    X = np.linspace(-0.2, 3.1, 23)
    k = cell_index(labels(23), n_xi)
    assert d.pairing(T, X) == pytest.approx(np.mean((1 + xi_nodes[k]) * X ** 2), rel=1e-13)
    # upwind grid snapshot: uniform within each cell
    up = solve(STD, skew(), T, 0.0, method="upwind", n_xi=n_xi, n_x=60, x_range=(-0.5, 5.5), dt=0.005)
    snap = up.snapshot(T)
    e = snap.edges
    cell_mean = (e[1:] ** 3 - e[:-1] ** 3) / (3 * np.diff(e))
    want = np.mean((1 + xi_nodes) * (snap.cells @ cell_mean))
    assert d.pairing(T, snap) == pytest.approx(want, rel=1e-12)


def test_pairing_types_agree_on_the_same_measure(fw_small):
    d = solve_backward(fw_small, phi_sin, linearised=True)
    n_xi = d.problem.n_xi
    t = 0.4
    snap = solve(STD, skew(), 1.0, 0.0, n_xi=n_xi, dt=0.02, save_times=[0.0, t, 1.0]).snapshot(t)
    rows = np.arange(n_xi) if snap.node_of is None else snap.node_of
    atoms = [list(zip(snap.pos[r], snap.mass[r])) for r in rows]
    mu = _Extended(np.arange(n_xi + 1) / n_xi, atoms, [([], [])] * n_xi)
    assert d.pairing(t, mu) == pytest.approx(d.pairing(t, snap), rel=1e-13, abs=1e-15)
    # a network state of 3 neurons per node, all at 0, is the Dirac snapshot at t = 0
    assert d.pairing(0.0, np.zeros(3 * n_xi)) == pytest.approx(d.pairing(0.0, fw_small), rel=1e-14)


def test_pairing_refuses_a_snapshot_at_another_time_and_unknown_measures(fw_exact):
    d = solve_backward(fw_exact, phi_sin, linearised=False)
    with pytest.raises(InvalidArgumentError, match="'measure'.*another time.*Fix"):
        d.pairing(0.2, fw_exact.snapshot(0.4))
    with pytest.raises(InvalidArgumentError, match="'measure'.*Fix"):
        d.pairing(0.2, {"not": "a measure"})
    with pytest.raises(InvalidArgumentError, match="'t'.*grid.*Fix"):
        d.pairing(0.013, fw_exact)
    coarse = solve(STD, skew(), 1.0, 0.0, n_xi=2, dt=0.02, save_times=[1.0])
    with pytest.raises(InvalidArgumentError, match="'measure'.*n_xi=4"):
        d.pairing(1.0, coarse)


# --------------------------------------------------------------------------- bad input
def test_bad_terminal_function_names_the_argument(fw_small):
    with pytest.raises(InvalidArgumentError, match="'phi_T'.*finite.*Fix"):
        solve_backward(fw_small, lambda xi, x: np.where(x > 1.0, np.nan, x), linearised=False)
    grid = np.linspace(-1.0, 6.0, 30)
    vals = np.ones((6, 30))
    vals[2, 7] = np.inf
    with pytest.raises(InvalidArgumentError, match=r"'phi_T'.*phi_T\[2, 7\].*finite on the grid"):
        solve_backward(fw_small, vals, linearised=False, x_grid=grid)
    with pytest.raises(InvalidArgumentError, match="'phi_T'.*shape"):
        solve_backward(fw_small, np.ones((5, 30)), linearised=False, x_grid=grid)
    with pytest.raises(InvalidArgumentError, match="'phi_T'"):
        solve_backward(fw_small, "x", linearised=False)


def test_bad_forward_model_kernel_horizon_and_grid(fw_small):
    up = solve(STD, skew(), 1.0, 0.0, method="upwind", n_xi=6, n_x=50, x_range=(-0.5, 5.5))
    with pytest.raises(InvalidArgumentError, match="'forward'.*Lagrangian.*Fix"):
        solve_backward(up, phi_sin, linearised=False)
    custom = NeuronModel(Leaky(1.5), lambda x: 10.0 / (1 + np.exp(-5 * (x - 1))))
    fc = solve(custom, skew(), 0.2, 0.0, n_xi=2, dt=0.02)
    with pytest.raises(InvalidArgumentError, match="'forward'.*named intensity family"):
        solve_backward(fc, phi_sin, linearised=False)
    other = NeuronModel(Leaky(1.0), Sigmoid(10.0, 5.0, 1.0))
    with pytest.raises(InvalidArgumentError, match="'model'.*not the model.*Fix"):
        solve_backward(fw_small, phi_sin, linearised=False, model=other)
    with pytest.raises(InvalidArgumentError, match="'kernel'.*another kernel"):
        solve_backward(fw_small, phi_sin, linearised=False, kernel=ring())
    solve_backward(fw_small, phi_sin, linearised=False, model=NeuronModel.standard(), kernel=skew())  # the same: ok
    with pytest.raises(InvalidArgumentError, match="'t_end'.*beyond the forward.*horizon"):
        solve_backward(fw_small, phi_sin, linearised=False, t_end=2.0)
    with pytest.raises(InvalidArgumentError, match="'t_end'.*time of the forward grid"):
        solve_backward(fw_small, phi_sin, linearised=False, t_end=0.513)
    with pytest.raises(InvalidArgumentError, match="'dt'.*forward's time grid"):
        solve_backward(fw_small, phi_sin, linearised=False, dt=0.01)
    with pytest.raises(InvalidArgumentError, match="'x_grid'.*hold every forward cohort.*J = "):
        solve_backward(fw_small, phi_sin, linearised=False, x_grid=np.linspace(0.5, 6.0, 50))
    with pytest.raises(InvalidArgumentError, match="'x_grid'.*strictly increasing"):
        solve_backward(fw_small, phi_sin, linearised=False, x_grid=np.array([0.0, 2.0, 1.0, 6.0]))
    with pytest.raises(InvalidArgumentError, match="'linearised'.*True or False"):
        solve_backward(fw_small, phi_sin, linearised=1)
    with pytest.raises(InvalidArgumentError, match="'tail_tol'"):
        solve_backward(fw_small, phi_sin, linearised=False, tail_tol=0.5)
    with pytest.raises(InvalidArgumentError, match="'drop_tol'.*not an option"):
        solve_backward(fw_small, phi_sin, linearised=False, drop_tol=1e-15)
    assert sorted(DUAL_SCHEMES) == ["frozen", "linearised"]


def test_grid_terminal_outside_its_grid_and_query_errors(fw_small):
    grid = np.linspace(-0.1, 6.0, 60)
    d = solve_backward(fw_small, np.tile(np.cos(grid), (6, 1)), linearised=False, x_grid=grid)
    # inside the grid: the spline reproduces the function
    np.testing.assert_allclose(d.phi(1.0, np.array([0.3, 2.2])), np.tile(np.cos([0.3, 2.2]), (6, 1)), atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="'x'.*only defined on"):
        d.phi(1.0, np.array([7.0]))
    with pytest.raises(InvalidArgumentError, match="'t'.*grid"):
        d.phi(1.5)


def test_feynman_kac_bad_input(fw_small):
    with pytest.raises(InvalidArgumentError, match="'t'.*\\[0, T"):
        feynman_kac(fw_small, phi_sin, 1.5, 0.5, 0.0, n_paths=10, seed=1)
    with pytest.raises(InvalidArgumentError, match="'xi'"):
        feynman_kac(fw_small, phi_sin, 0.0, 1.5, 0.0, n_paths=10, seed=1)
    with pytest.raises(InvalidArgumentError, match="'n_paths'"):
        feynman_kac(fw_small, phi_sin, 0.0, 0.5, 0.0, n_paths=1, seed=1)
    with pytest.raises(InvalidArgumentError, match="'seed'"):
        feynman_kac(fw_small, phi_sin, 0.0, 0.5, 0.0, n_paths=10, seed=-3)
    with pytest.raises(InvalidArgumentError, match="'model'.*not the model"):
        feynman_kac(fw_small, phi_sin, 0.0, 0.5, 0.0, n_paths=10, seed=1,
                    model=NeuronModel(Leaky(1.0), Sigmoid(10.0, 5.0, 1.0)))
    with pytest.raises(InvalidArgumentError, match="'kernel'.*another kernel"):
        predicted_variance(fw_small, phi_sin, kernel=ring())


# --------------------------------------------------------------------------- feynman-kac
def test_feynman_kac_is_reproducible_and_agrees_with_the_frozen_dual(fw_small):
    d = solve_backward(fw_small, phi_sin, linearised=False)
    a = feynman_kac(fw_small, phi_sin, 0.4, 0.3, np.array([0.0, 1.5]), n_paths=20000, seed=7)
    b = feynman_kac(fw_small, phi_sin, 0.4, 0.3, np.array([0.0, 1.5]), n_paths=20000, seed=7)
    c = feynman_kac(fw_small, phi_sin, 0.4, 0.3, np.array([0.0, 1.5]), n_paths=20000, seed=8)
    np.testing.assert_array_equal(a.value, b.value)
    assert np.all(a.value != c.value)
    pde = d.evaluate(0.4, np.full(2, a.node), a.x)
    # 4 standard errors: two-sided false-failure rate 6e-5 per point (the PDE error at dt = 0.02 is ~1e-4,
    # below a tenth of the standard error here)
    assert np.all(np.abs(a.value - pde) <= 4 * a.stderr), (a.value - pde) / a.stderr


# --------------------------------------------------------------------------- linearised forward
def test_linearised_forward_is_the_derivative_of_the_forward_solver():
    T, n, dt = 1.0, 4, 0.02
    fw = solve(STD, skew(), T, Gaussian(0.6, 0.2, n_atoms=6), n_xi=n, dt=dt)
    rng = np.random.default_rng(np.random.SeedSequence(5))
    dm = rng.normal(size=(n, 6))
    dm -= dm.mean(axis=1, keepdims=True)
    nu0 = Perturbation(mass=0.02 * dm, position=rng.normal(size=(n, 6)))
    lf = linearised_forward(fw, nu0)
    eps = 1e-4
    fp = solve(STD, skew(), T, perturbed_initial(fw, nu0, eps), n_xi=n, dt=dt)
    fm = solve(STD, skew(), T, perturbed_initial(fw, nu0, -eps), n_xi=n, dt=dt)
    fd = (fp.rates - fm.rates) / (2 * eps)
    scale = np.max(np.abs(lf.rate))
    assert scale > 0.1
    # central differences: O(eps^2) = 1e-8 relative; the forward's cohort merging ~1e-14 / eps
    assert np.max(np.abs(fd - lf.rate)) < 1e-6 * scale
    assert np.max(np.abs(lf.mass)) < 1e-13
    with pytest.raises(InvalidArgumentError, match="'nu0.mass'.*sum to 0"):
        linearised_forward(fw, Perturbation(mass=np.ones((n, 6))))
    with pytest.raises(InvalidArgumentError, match="'nu0.position'.*shape"):
        linearised_forward(fw, Perturbation(position=np.ones((n, 5))))


# --------------------------------------------------------------------------- test functions
def test_weak_test_function_integral_and_constants():
    g = np.array([1.0, -1.0, 0.5, -0.25])
    psi = np.sin
    for ker in (skew(), ring()):
        tf = weak_test_function(ker, g, psi, dpsi=np.cos)
        xi = np.array([0.05, 0.5, 0.93])
        want = [sum(gz * quad(lambda z, k=ker, v=v: k(z, v), a, a + 0.25, epsabs=1e-14)[0]
                    for gz, a in zip(g, np.arange(4) / 4)) for v in xi]
        np.testing.assert_allclose(tf.tg(xi), want, rtol=0, atol=1e-13)
        np.testing.assert_allclose(tf.values(None, xi, np.full(3, 0.7)), np.array(want) * np.sin(0.7), atol=1e-13)
        c = tf.constants((0.0, 4.0))
        assert c.lip_x == pytest.approx(ker.sup * 1.0) and c.osc == pytest.approx(4 * ker.sup)
        assert c.lip_xi == pytest.approx(ker.lipschitz[1] * (abs(np.sin(2.0)) + 2.0))
    # step kernel: exact partition overlaps (g on 4 cells, kernel blocks on 2)
    tf = weak_test_function(two_block(), g, psi)
    np.testing.assert_allclose(tf.tg(np.array([0.2, 0.8])), [1.5 * 0 + 0.2 * 0.0625, 0.0 * 0.2 + 1.5 * 0.0625],
                               atol=1e-15)
    with pytest.raises(InvalidArgumentError, match="'psi'"):
        weak_test_function(skew(), g, 3.0)
    with pytest.raises(InvalidArgumentError, match="'lipschitz_psi'"):
        weak_test_function(skew(), g, psi, lipschitz_psi=-1.0)


def test_terminal_function_constants_and_errors():
    tf = TerminalFunction(lambda xi, x: x, derivative=lambda xi, x: np.ones_like(x), lipschitz_x=1.0, lipschitz_xi=0.0)
    c = tf.constants((0.0, 2.0))
    assert (c.lip_x, c.lip_xi, c.osc) == (1.0, 0.0, 2.0)
    with pytest.raises(InvalidArgumentError, match="'lipschitz_x'"):
        TerminalFunction(lambda xi, x: x, lipschitz_x=-1.0)


# --------------------------------------------------------------------------- identical nodes
def test_identical_nodes_are_computed_once_with_the_same_result():
    fw_m = solve(STD, constant(1.0), 1.0, 0.0, n_xi=8, dt=0.02)
    fw_u = solve(STD, constant(1.0), 1.0, 0.0, n_xi=8, dt=0.02, merge_identical_nodes=False)
    for lin in (False, True):
        a = solve_backward(fw_m, lambda xi, x: np.sin(x), linearised=lin)
        b = solve_backward(fw_u, lambda xi, x: np.sin(x), linearised=lin)
        assert a.counters.distinct_nodes == 1 and b.counters.distinct_nodes == 8
        np.testing.assert_allclose(a.phi(0.0), b.phi(0.0), rtol=0, atol=1e-14)
        # xi-dependent terminal data: the nodes are no longer identical
        c = solve_backward(fw_m, phi_sin, linearised=lin)
        assert c.counters.distinct_nodes == 8


# --------------------------------------------------------------------------- variance
def _constant_intensity_variance(lam, I0, xr, x0, J, T, linearised):
    """V for phi_T = x, f = lam, w = J, Dirac data: the bracket is e^{-a tau} (x_r + [J] - x) and the
    inner integral is ``(x_r + [J] - E X)^2 + Var X`` under the exact law (quadrature of its age density)."""
    a, c = 1.0 + lam, I0 + lam * J

    def moments(t):
        p0, A = math.exp(-lam * t), c + (x0 - c) * math.exp(-t)
        m1 = p0 * A + quad(lambda s: lam * math.exp(-lam * s) * (c + (xr - c) * math.exp(-s)), 0, t)[0]
        m2 = p0 * A * A + quad(lambda s: lam * math.exp(-lam * s) * (c + (xr - c) * math.exp(-s)) ** 2, 0, t)[0]
        return m1, m2 - m1 * m1

    def integrand(t):
        m1, var = moments(t)
        return lam * math.exp(-2 * a * (T - t)) * ((xr + (J if linearised else 0.0) - m1) ** 2 + var)

    return quad(integrand, 0, T, limit=200, epsabs=1e-13)[0]


def test_predicted_variance_matches_the_constant_intensity_quadrature():
    lam, I0, xr, x0, J, T = 1.5, 1.5, 0.0, 0.4, 1.0, 1.0
    model = NeuronModel(Leaky(I0), Constant(lam), reset=xr)
    fw = solve(model, constant(J), T, x0, n_xi=1, dt=0.01)
    p = predicted_variance(fw, lambda xi, x: x)
    v_lin = _constant_intensity_variance(lam, I0, xr, x0, J, T, True)
    v_fro = _constant_intensity_variance(lam, I0, xr, x0, J, T, False)
    # measured error 2.1e-5 (order 2, tests/convergence); the refinement estimate brackets it
    assert abs(p.V - v_lin) < 5e-5 and abs(p.frozen.total - v_fro) < 3e-4
    assert abs(p.V - v_lin) <= 2 * p.discretisation_error
    assert p.initial == 0.0 and p.martingale == p.V
    with pytest.raises(InvalidArgumentError, match="'initial'"):
        predicted_variance(fw, lambda xi, x: x, initial="random")


def test_predicted_variance_iid_initial_part():
    """For constant intensity the initial part is Var(phi(0, X0)) = e^{-2 a T} sd^2 (phi affine in x)."""
    lam, I0, T = 1.5, 1.5, 1.0
    model = NeuronModel(Leaky(I0), Constant(lam), reset=0.0)
    fw = solve(model, constant(1.0), T, Gaussian(0.4, 0.3, n_atoms=256), n_xi=1, dt=0.01)
    p = predicted_variance(fw, lambda xi, x: x, initial="iid", refine=False)
    atoms_var = np.var(Gaussian(0.4, 0.3, n_atoms=256).cohorts(1)[0])  # the quadrature's own variance
    assert p.initial == pytest.approx(math.exp(-2 * (1 + lam) * T) * atoms_var, rel=1e-12)
    assert p.V == pytest.approx(p.initial + p.martingale)


# --------------------------------------------------------------------------- regularity
def test_regularity_reports_measured_curves_and_the_bound(fw_small):
    tf = weak_test_function(skew(), [1.0, -1.0], lambda x: x, dpsi=np.ones_like)
    d = solve_backward(fw_small, tf, linearised=False)
    r = regularity(d, times=[0.0, 0.5, 1.0])
    assert r.lipschitz.shape == (3,) and r.modulus.shape == (3, 5)
    assert np.all(np.diff(r.modulus, axis=1) >= 0)
    assert np.all(r.lipschitz <= r.bound) and np.all(r.bound <= r.exponential_bound * (1 + 1e-12))
    with pytest.raises(InvalidArgumentError, match="'x'.*grid range"):
        regularity(d, x=np.array([100.0]))
    # without stated constants the bound is unknown, not invented
    r2 = regularity(solve_backward(fw_small, phi_sin, linearised=False), times=[0.0])
    assert np.isnan(r2.bound).all()


def test_second_derivative_from_value_matches_closed_forms():
    import mpmath

    from solvers._compiled import intensity_second_derivative_from_value as d2
    from solvers.model import Exponential

    for f in (Sigmoid(10.0, 5.0, 1.0), Exponential(0.5, 2.0, 1.0), Constant(2.0)):
        tag, p0, p1, p2 = f.compiled_args()
        for x in (-1.0, 0.7, 1.0, 1.4, 3.0):
            fx = float(f(np.array([x]))[0])
            with mpmath.workdps(40):
                ref = float(mpmath.diff(f.mp, mpmath.mpf(x), 2))
            assert d2.py_func(tag, p0, p1, p2, x, fx) == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_forward_pass_columns_hold_the_forward_masses():
    """Pass 1 replays the forward cohorts: its newborn masses and slice masses match the forward's rates."""
    fw = solve(STD, skew(), 1.0, 0.0, n_xi=3, dt=0.02, merge_tol=0.0, drop_tol=0.0)
    pr = dual_problem(fw, phi_sin)
    p1 = forward_pass(pr, with_mass=True, survival_tol=1e-17, tail_tol=1e-17)
    alive = p1.life.alive_T
    rate = np.sum(p1.mass[:, alive] * p1.fval[:, alive], axis=1)
    np.testing.assert_allclose(rate, fw.rates[-1][pr.rep], rtol=1e-13)
