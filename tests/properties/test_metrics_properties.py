"""Metric properties of the weak-distance bracket on random small inputs (hypothesis): zero for
identical measures, symmetry, lower <= upper, the triangle inequality through the upper bounds,
invariance under relabelling the measure together with the kernel, and the exact value (sign
enumeration, ``tests/unit/test_metrics.brute_force``) inside the bracket."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.graphons import StepKernel, skew
from solvers.measures import ExtendedMeasure
from tests.unit.test_metrics import brute_force
from verification.metrics import population_w1, strong_distance, weak_distance

states = st.lists(st.integers(-4, 4).map(lambda v: v / 2.0), min_size=1, max_size=7).map(np.array)


@st.composite
def step_kernels(draw, n=None):
    n = n if n is not None else draw(st.integers(1, 4))
    vals = draw(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=n * n, max_size=n * n))
    return StepKernel(values=np.array(vals).reshape(n, n))


@settings(max_examples=40)
@given(states, states, states, step_kernels())
def test_bracket_is_a_metric_bracket(x, y, z, kernel):
    mu, nu, rho = (ExtendedMeasure.from_network(v) for v in (x, y, z))
    a, b = weak_distance(mu, nu, kernel), weak_distance(nu, mu, kernel)
    assert a.lower <= a.upper
    assert a.lower <= b.upper + 1e-12 and b.lower <= a.upper + 1e-12  # symmetry
    assert weak_distance(mu, mu, kernel).upper <= 1e-12
    c, d = weak_distance(mu, rho, kernel), weak_distance(nu, rho, kernel)
    assert c.lower <= a.upper + d.upper + 1e-12  # triangle inequality of the upper bounds
    exact = brute_force(mu, nu, kernel.values)
    assert a.contains(exact, rtol=1e-9, atol=1e-12)
    assert population_w1(mu, nu) >= 0 and abs(population_w1(mu, nu) - population_w1(nu, mu)) < 1e-12


@settings(max_examples=30)
@given(st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-4, 4), min_size=n, max_size=n), st.lists(st.integers(-4, 4), min_size=n, max_size=n),
    step_kernels(n), st.permutations(list(range(n))))))
def test_relabelling_measure_and_kernel_together(args):
    x, y, kernel, perm = args
    perm = np.array(perm)
    mu, nu = ExtendedMeasure.from_network(np.array(x) / 2.0), ExtendedMeasure.from_network(np.array(y) / 2.0)
    a = weak_distance(mu, nu, kernel)
    relabelled = StepKernel(values=kernel.values[np.ix_(perm, perm)])
    b = weak_distance(mu.relabel(perm), nu.relabel(perm), relabelled)
    assert a.lower <= b.upper + 1e-12 and b.lower <= a.upper + 1e-12
    assert abs(strong_distance(mu, nu) - strong_distance(mu.relabel(perm), nu.relabel(perm))) < 1e-12


@settings(max_examples=20)
@given(states, states)
def test_continuous_kernel_bracket_is_consistent(x, y):
    mu, nu = ExtendedMeasure.from_network(x), ExtendedMeasure.from_network(y)
    a, b = weak_distance(mu, nu, skew()), weak_distance(nu, mu, skew())
    assert a.lower <= a.upper and a.lower <= b.upper + 1e-12 and b.lower <= a.upper + 1e-12
    assert weak_distance(mu, mu, skew()).upper <= 1e-12
