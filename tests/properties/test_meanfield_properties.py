"""Property tests (hypothesis) of the mean-field solvers on random small models, kernels and data.

Invariants checked (all can fail):
* Lagrangian: slice mass 1 to 1e-12 at every step, stored cohort masses >= 0, ``0 <= r <= sup f``,
  slice CDFs non-decreasing from 0 to 1;
* relabelling equivariance (SPEC section 2): permuting the step kernel's nodes and the initial data
  permutes the solution (exactly up to summation order: 1e-12);
* upwind: mass 1 to 1e-12 and non-negative cells.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.graphons import StepKernel
from solvers.meanfield import Dirac, solve
from solvers.model import Leaky, NeuronModel, Sigmoid

models = st.builds(
    lambda I0, lam, beta, theta, xr: NeuronModel(Leaky(I0), Sigmoid(lam, beta, theta), reset=xr),
    st.floats(0.0, 2.0), st.floats(0.5, 10.0), st.floats(0.5, 6.0), st.floats(0.0, 2.0), st.floats(-0.5, 0.5))


@st.composite
def problems(draw, n_max=5):
    n = draw(st.integers(1, n_max))
    vals = draw(st.lists(st.floats(-1.0, 2.0), min_size=n * n, max_size=n * n))
    x0 = draw(st.lists(st.floats(-1.0, 2.0), min_size=n, max_size=n))
    return draw(models), StepKernel(values=np.array(vals).reshape(n, n)), np.array(x0)


@settings(max_examples=25)
@given(problems())
def test_lagrangian_invariants(problem):
    model, kernel, x0 = problem
    n = x0.size
    sol = solve(model, kernel, 1.0, Dirac(x0), dt=0.05, n_xi=n, save_times=[0.5, 1.0])
    assert np.max(np.abs(sol.masses - 1.0)) < 1e-12
    assert np.all(sol.rates >= 0) and np.all(sol.rates <= model.intensity.sup * (1 + 1e-12))
    for s in sol.snapshots:
        assert s.mass.min() >= 0.0
    F = sol.cdf(1.0, np.linspace(-20, 20, 400))
    assert np.all(np.diff(F, axis=1) >= -1e-12)
    assert np.allclose(F[:, 0], 0.0, atol=1e-12) and np.allclose(F[:, -1], 1.0, atol=1e-12)


@settings(max_examples=20)
@given(problems(), st.randoms(use_true_random=False))
def test_relabelling_equivariance(problem, rnd):
    model, kernel, x0 = problem
    n = x0.size
    perm = np.array(rnd.sample(range(n), n))
    permuted = StepKernel(values=kernel.values[perm][:, perm])
    a = solve(model, kernel, 1.0, Dirac(x0), dt=0.05, n_xi=n)
    b = solve(model, permuted, 1.0, Dirac(x0[perm]), dt=0.05, n_xi=n)
    assert np.max(np.abs(a.rates[:, perm] - b.rates)) < 1e-12
    assert np.max(np.abs(a.means[:, perm] - b.means)) < 1e-12


@settings(max_examples=15)
@given(problems(n_max=3))
def test_upwind_invariants(problem):
    model, kernel, x0 = problem
    n = x0.size
    sol = solve(model, kernel, 0.5, Dirac(x0), method="upwind", n_xi=n, n_x=60)
    assert np.max(np.abs(sol.masses - 1.0)) < 1e-12
    for s in sol.snapshots:
        assert s.cells.min() >= -1e-15
