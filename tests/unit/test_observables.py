"""verification.observables against hand computations (network) and the exact constant-intensity law
(PDE, solvers.references.constant_intensity_law plus an own quadrature of the reset cohort's age).

Network: the observables of a small exact run are recomputed by explicit loops over its spikes and
neurons (the vectorised code must agree to rounding).
PDE (leaky drift, constant intensity lam0 = 2, product kernel, Dirac datum x0 = 0.3): the rate is
exactly lam0; ``E[X(t, xi)]`` is the closed form of ConstantIntensityLaw; ``<phi, mu_t(xi)>`` is the
atom's mass times ``phi`` at its position plus ``int_0^t lam0 e^{-lam0 a} phi(xi, c + (x_r - c) e^{-a}) da``
(scipy quad, 1e-13).  The Lagrangian scheme is second order, so the error at dt = 0.01 is small and
shrinks four-fold from dt = 0.02 (measured: 1.9e-4 -> 4.8e-5 for the pairing).
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from scipy.integrate import quad

from solvers.errors import InvalidArgumentError
from solvers.graphons import build_weights, labels, product, ring
from solvers.meanfield import solve
from solvers.model import Constant, Leaky, NeuronModel
from solvers.particles import simulate
from solvers.references import constant_intensity_law
from verification.observables import (
    bin_rates,
    group_rates,
    moments,
    pairing,
    population_rate,
    unit_labels,
    window_edges,
)

TIMES = [0.5, 1.0, 2.0]


def _simulate(model, W, t_end, x0, seed, times):
    """simulate() with recorded times, whichever name the keyword has (save_times or record_times)."""
    params = inspect.signature(simulate).parameters
    key = "save_times" if "save_times" in params else "record_times"
    return simulate(model, W, t_end, x0, seed, **{key: times})


@pytest.fixture(scope="module")
def run():
    N = 7
    W = build_weights("ring", N)
    x0 = np.linspace(0.0, 1.2, N)
    return _simulate(NeuronModel.standard(), W, 2.0, x0, 5, TIMES)


def _counts_by_loop(res, edges):
    K = len(edges) - 1
    c = np.zeros((K, res.N))
    for t, i in zip(res.spike_times, res.spike_neurons):
        for k in range(K):
            last = k == K - 1
            if edges[k] <= t < edges[k + 1] or (last and t == edges[k + 1]):
                c[k, i] += 1
    return c


def test_network_rates_match_loops(run):
    edges = np.array([0.0, 0.3, 1.1, 2.0])
    c = _counts_by_loop(run, edges)
    w = np.diff(edges)
    assert run.n_spikes > 10
    np.testing.assert_allclose(population_rate(run, edges), c.sum(axis=1) / (run.N * w), rtol=1e-14)
    # bins [0, 0.5) and [0.5, 1]: labels (i + 1/2)/7 -> neurons 0..2 and 3..6
    br = bin_rates(run, edges, [0.0, 0.5, 1.0])
    lab = labels(run.N)
    left = lab < 0.5
    np.testing.assert_allclose(br[:, 0], c[:, left].mean(axis=1) / w, rtol=1e-14)
    np.testing.assert_allclose(br[:, 1], c[:, ~left].mean(axis=1) / w, rtol=1e-14)
    # parity groups
    gr = group_rates(run, edges, np.arange(run.N) % 2)
    np.testing.assert_array_equal(gr.groups, [0, 1])
    np.testing.assert_allclose(gr.rates[:, 1], c[:, 1::2].mean(axis=1) / w, rtol=1e-14)
    np.testing.assert_allclose(gr.fraction, [4 / 7, 3 / 7])
    # the population rate agrees with SimulationResult.population_rate on equal bins
    e = window_edges(2.0, 0.25)
    np.testing.assert_allclose(population_rate(run, e), run.population_rate(0.25).rate, rtol=1e-14)


def test_relabelled_network(run):
    """Labels after a relabelling move neurons between bins; a callable group of xi sees them."""
    rank = np.array([6, 5, 4, 3, 2, 1, 0])  # reverse order
    xi = labels(run.N)[rank]
    edges = [0.0, 2.0]
    c = _counts_by_loop(run, edges)[0]
    gr = group_rates(run, edges, lambda x: x < 0.5, xi=xi)
    np.testing.assert_array_equal(gr.groups, [False, True])
    np.testing.assert_allclose(gr.rates[0, 1], c[xi < 0.5].mean() / 2.0, rtol=1e-14)
    br = bin_rates(run, edges, 2, xi=xi)
    # neuron 3 sits at xi = 0.5, the left edge of the second bin
    np.testing.assert_allclose(br[0], [c[4:].mean() / 2.0, c[:4].mean() / 2.0], rtol=1e-14)
    np.testing.assert_allclose(unit_labels(run, xi), xi)


def test_network_moments_and_pairing_match_loops(run):
    states = np.asarray(run.states)
    for r, t in enumerate(TIMES):
        x = states[r]
        m = moments(run, t, [0.0, 0.5, 1.0])
        left = labels(run.N) < 0.5
        for j, sel in enumerate([left, ~left]):
            mean = sum(x[i] for i in range(run.N) if sel[i]) / sel.sum()
            sec = sum(x[i] ** 2 for i in range(run.N) if sel[i]) / sel.sum()
            assert m.mean[j] == pytest.approx(mean, rel=1e-14)
            assert m.variance[j] == pytest.approx(sec - mean**2, rel=1e-12, abs=1e-15)
        np.testing.assert_array_equal(m.units, [3, 4])  # neuron 3 at xi = 0.5 is in [0.5, 1]

        def phi(xi, xx):
            return np.cos(2 * np.pi * xi) * np.tanh(xx)

        hand = sum(math.cos(2 * math.pi * (i + 0.5) / run.N) * math.tanh(x[i]) for i in range(run.N)) / run.N
        assert pairing(run, phi, t) == pytest.approx(hand, rel=1e-13)
    with pytest.raises(InvalidArgumentError, match="recorded only at"):
        moments(run, 0.7)


@pytest.fixture(scope="module")
def constant_case():
    model = NeuronModel(drift=Leaky(1.5), intensity=Constant(2.0))
    sols = {dt: solve(model, product(), 2.0, 0.3, n_xi=8, dt=dt, save_times=[1.0, 2.0]) for dt in (0.02, 0.01)}
    return model, sols


def _exact_pairing(model, xi, t, phi):
    law = constant_intensity_law(model, kernel=product(), t=t, initial=0.3)
    out = []
    for k in xi:
        c = float(law.c(k))
        cohort = quad(lambda a, k=k, c=c: 2.0 * math.exp(-2.0 * a) * phi(k, c + (0.0 - c) * math.exp(-a)), 0.0, t,
                      epsabs=1e-14, epsrel=1e-13)[0]
        out.append(law.no_fire_mass * phi(k, float(law.atom_position(k))) + cohort)
    return float(np.mean(out))


def test_pde_rates_are_exactly_lam0(constant_case):
    _, sols = constant_case
    sol = sols[0.01]
    np.testing.assert_allclose(population_rate(sol, [0.0, 0.37, 1.0, 2.0]), 2.0, rtol=1e-12)
    np.testing.assert_allclose(bin_rates(sol, [0.0, 2.0], 4), 2.0, rtol=1e-12)
    gr = group_rates(sol, [0.0, 1.0], lambda xi: xi > 0.3)
    np.testing.assert_allclose(gr.rates, 2.0, rtol=1e-12)
    np.testing.assert_allclose(gr.fraction, [2 / 8, 6 / 8])  # nodes (k + 1/2)/8 > 0.3: k >= 2


def test_pde_window_average_is_exact_for_linear_interpolant():
    """A PDE rate that varies in time: the window average equals the trapezoid integral of the
    solver's grid rates when the windows are grid points, and the integral of its interpolant otherwise."""
    sol = solve(NeuronModel.standard(), ring(), 1.0, 0.0, n_xi=4, dt=0.05)
    t, r = sol.t, sol.rates.mean(axis=1)
    exact = np.sum(0.5 * np.diff(t) * (r[1:] + r[:-1]))
    assert population_rate(sol, [0.0, 1.0])[0] == pytest.approx(exact, rel=1e-13)
    # window [0.02, 0.07] inside the grid cells [0, 0.05] and [0.05, 0.1]: integral of the interpolant
    fine = np.linspace(0.02, 0.07, 20001)
    vals = sol.rate(fine).mean(axis=1)
    ref = np.sum(0.5 * np.diff(fine) * (vals[1:] + vals[:-1])) / 0.05
    assert population_rate(sol, [0.02, 0.07])[0] == pytest.approx(ref, rel=1e-8)


def test_pde_moments_against_constant_intensity_law(constant_case):
    model, sols = constant_case
    law = constant_intensity_law(model, kernel=product(), t=2.0, initial=0.3)
    errs = []
    for dt in (0.02, 0.01):
        m = moments(sols[dt], 2.0, 2)
        xi = sols[dt].xi
        ex_mean = np.array([law.mean(xi[:4]).mean(), law.mean(xi[4:]).mean()])
        ex_sec = np.array([law.second_moment(xi[:4]).mean(), law.second_moment(xi[4:]).mean()])
        errs.append(np.max(np.abs(m.mean - ex_mean)))
        np.testing.assert_allclose(m.second, ex_sec, atol=5e-4)
        np.testing.assert_allclose(m.variance, ex_sec - ex_mean**2, atol=5e-4)
    assert errs[1] < 1e-4
    assert 3.5 < errs[0] / errs[1] < 4.5  # second order


def test_pde_pairing_against_constant_intensity_law(constant_case):
    model, sols = constant_case

    def phi(xi, x):
        return np.sin(x) * (1 + xi)

    errs = []
    for dt in (0.02, 0.01):
        sol = sols[dt]
        exact = _exact_pairing(model, sol.xi, 2.0, lambda k, x: math.sin(x) * (1 + k))
        errs.append(abs(pairing(sol, phi, 2.0) - exact))
    assert errs[1] < 1e-4, errs
    assert 3.5 < errs[0] / errs[1] < 4.5, errs
    # phi = x reproduces the solver's stored mean (the same discrete measure)
    sol = sols[0.01]
    assert pairing(sol, lambda xi, x: x, 1.0) == pytest.approx(sol.mean(1.0).mean(), rel=1e-12)
    with pytest.raises(InvalidArgumentError, match="save_times"):
        pairing(sol, phi, 0.5)


def test_pde_pairing_upwind_midpoint_rule():
    """Upwind: cell masses at midpoints; phi = 1 gives the total mass, phi = x the cell-midpoint mean,
    and the pairing approaches the exact law as the grid is refined (first order scheme)."""
    model = NeuronModel(drift=Leaky(1.5), intensity=Constant(2.0))
    errs = []
    for n_x in (200, 400):
        sol = solve(model, product(), 1.0, 0.3, method="upwind", n_xi=4, n_x=n_x, save_times=[1.0])
        assert pairing(sol, lambda xi, x: np.ones_like(x), 1.0) == pytest.approx(1.0, abs=1e-9)
        exact = _exact_pairing(model, sol.xi, 1.0, lambda k, x: math.sin(x) * (1 + k))
        errs.append(abs(pairing(sol, lambda xi, x: np.sin(x) * (1 + xi), 1.0) - exact))
    assert errs[1] < errs[0] < 0.05, errs


def test_bad_inputs(run, constant_case):
    _, sols = constant_case
    sol = sols[0.01]
    with pytest.raises(InvalidArgumentError, match="SimulationResult"):
        population_rate(np.zeros(3), [0, 1])
    with pytest.raises(InvalidArgumentError, match="increasing"):
        population_rate(run, [0.0, 1.0, 0.5])
    with pytest.raises(InvalidArgumentError, match="t_end"):
        population_rate(run, [0.0, 3.0])
    with pytest.raises(InvalidArgumentError, match="holds no neuron"):
        bin_rates(run, [0, 1], 20)
    with pytest.raises(InvalidArgumentError, match="one label per unit"):
        group_rates(run, [0, 1], [0, 1])
    with pytest.raises(InvalidArgumentError, match="only for network"):
        bin_rates(sol, [0, 1], 2, xi=np.zeros(8))
    with pytest.raises(InvalidArgumentError, match="labels in"):
        bin_rates(run, [0, 1], 2, xi=np.full(run.N, 2.0))
    with pytest.raises(InvalidArgumentError, match="returned shape"):
        pairing(run, lambda xi, x: np.zeros(3), 1.0)
    with pytest.raises(InvalidArgumentError, match="raised ZeroDivisionError"):
        pairing(run, lambda xi, x: 1 / 0, 1.0)
    with pytest.raises(InvalidArgumentError, match="callable"):
        pairing(run, 3.0, 1.0)
    with pytest.raises(InvalidArgumentError, match="width"):
        window_edges(1.0, 0.0)


def test_pde_pairing_with_merged_nodes():
    """Identical nodes (constant kernel, one initial value) share one row of cohorts; the pairing
    still evaluates phi at every node's own xi: <xi x, mu_t> = mean(xi_k) E[X] = E[X] / 2."""
    from solvers.graphons import constant

    sol = solve(NeuronModel.standard(), constant(1.0), 1.0, 0.0, n_xi=6, dt=0.01, save_times=[1.0])
    snap = sol.snapshot(1.0)
    assert snap.node_of is not None and snap.pos.shape[0] == 1  # the rows really were merged
    m = sol.mean(1.0)
    assert pairing(sol, lambda xi, x: xi * x, 1.0) == pytest.approx(0.5 * m.mean(), rel=1e-12)
    assert pairing(sol, lambda xi, x: (xi > 0.5) * x, 1.0) == pytest.approx(0.5 * m.mean(), rel=1e-12)
