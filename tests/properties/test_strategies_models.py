"""Neuron models and initial data drawn by the strategies keep their promises; every strategy refuses
bad arguments when it is defined (before anything is drawn), with the library's error."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from solvers.errors import InvalidArgumentError
from solvers.graphons import labels, ring
from solvers.meanfield import Dirac, Empirical, Gaussian
from solvers.model import Constant, Leaky
from verification.hypotheses import check
from verification.strategies import (
    InitialData,
    WeightSequence,
    initial_data,
    kernels,
    neuron_models,
    weight_matrices,
    weight_sequences,
)

X = np.linspace(-6.0, 12.0, 3601)


@settings(max_examples=40)
@given(neuron_models(min_input=0.5, max_input=2.5, max_rate=8.0, max_lipschitz=15.0, max_reset=0.3))
def test_models_inside_the_hypotheses(model):
    d, f = model.drift, model.intensity
    assert isinstance(d, Leaky) and 0.5 <= d.I0 <= 2.5 and 0.0 <= model.reset <= 0.3
    assert f.kind in ("constant", "sigmoid", "relu")
    assert 1.0 <= f.sup <= 8.0 and f.lipschitz <= 15.0 * (1 + 1e-12)
    v = f(X)
    assert np.all(v >= 0) and v.max() <= f.sup * (1 + 1e-12)
    assert np.max(np.abs(np.diff(v)) / np.diff(X)) <= f.lipschitz * (1 + 1e-9) + 1e-12
    rep = check(model, ring().weights(20), n_samples=201)
    for h in ("f bounded", "f Lipschitz", "b Lipschitz", "f >= 0"):
        assert rep.verdict(h).status == "holds", rep.verdict(h)


def test_models_may_leave_the_hypotheses_when_asked():
    quiet = settings(database=None, derandomize=True, max_examples=300)
    m = find(neuron_models(within_hypotheses=False), lambda m: not m.intensity.bounded, settings=quiet)
    assert check(m, ring().weights(20), n_samples=201).verdict("f bounded").status == "violated"
    e = find(neuron_models(within_hypotheses=False), lambda m: m.intensity.kind == "exponential", settings=quiet)
    assert e.intensity.beta <= 2.0


def test_models_shrink_to_the_simplest():
    m = find(neuron_models(), lambda m: True, settings=settings(database=None, derandomize=True))
    assert m.drift == Leaky(I0=1.0) and m.intensity == Constant(lam0=1.0) and m.reset == 0.0


@settings(max_examples=40)
@given(initial_data(min_value=-0.5, max_value=1.5, max_sd=0.4), st.integers(2, 50))
def test_initial_data_for_the_network_and_the_pde_agree(init, N):
    pos = np.random.default_rng(N).permutation(labels(N))
    X0 = init.network(pos, seed=3)
    assert X0.shape == (N,) and np.all(np.isfinite(X0))
    spec = init.pde(8)
    if init.kind != "gaussian":
        assert np.all((X0 >= -0.5 - 1e-12) & (X0 <= 1.5 + 1e-12))
    if init.kind == "constant":
        assert isinstance(spec, Dirac) and np.all(X0 == init.params[0])
    elif init.kind == "profile":
        # the PDE node values are the network's profile at the node labels
        c, a = init.params
        assert np.allclose(spec.cohorts(8)[0][:, 0], c + a * np.sin(2 * np.pi * labels(8)))
        assert np.allclose(X0, c + a * np.sin(2 * np.pi * pos))
    elif init.kind == "alternating":
        u, v = init.params
        ranked = X0[np.argsort(pos)]
        assert np.all(ranked[0::2] == u) and np.all(ranked[1::2] == v)
        p, m = spec.cohorts(8)
        assert isinstance(spec, Empirical) and np.allclose(np.sort(p, axis=1), np.sort([u, v])) and np.allclose(m, 0.5)
    else:
        assert isinstance(spec, Gaussian) and spec.mean == init.params[0] and spec.sd == init.params[1]


def test_gaussian_initial_states_have_the_stated_law():
    """Mean and standard deviation of 20000 draws within 5 standard errors (sd / sqrt(n) for the mean,
    about sd / sqrt(2 n) for the standard deviation; false-failure rate below 1e-6 each)."""
    init = InitialData("gaussian", (0.4, 0.3))
    n = 20000
    X = init.network(labels(n), seed=5)
    assert abs(X.mean() - 0.4) <= 5 * 0.3 / math.sqrt(n)
    assert abs(X.std(ddof=1) - 0.3) <= 5 * 0.3 / math.sqrt(2 * n)
    with pytest.raises(InvalidArgumentError, match="seed"):
        init.network(labels(10))


BAD = [
    (kernels, dict(families=()), "families"),
    (kernels, dict(families="fourier"), "families"),
    (kernels, dict(families=("fourier", "fourier")), "families"),
    (kernels, dict(families=("spline",)), "families"),
    (kernels, dict(min_value=1.0, max_value=0.0), "min_value"),
    (kernels, dict(min_value=float("nan")), "min_value"),
    (kernels, dict(max_value="2"), "max_value"),
    (kernels, dict(max_degree=0), "max_degree"),
    (kernels, dict(max_degree=5), "max_degree"),
    (kernels, dict(max_terms=-1), "max_terms"),
    (kernels, dict(max_blocks=0), "max_blocks"),
    (kernels, dict(max_lipschitz=-1.0, families=("fourier",)), "max_lipschitz"),
    (kernels, dict(max_lipschitz=1.0), "max_lipschitz"),
    (kernels, dict(symmetric=1), "symmetric"),
    (weight_sequences, dict(kernel="ring"), "kernel"),
    (weight_sequences, dict(families=("bogus",)), "families"),
    (weight_sequences, dict(max_amplitude=-1.0), "max_amplitude"),
    (weight_sequences, dict(hub_weight=True), "hub_weight"),
    (weight_matrices, dict(kernel=ring(), n=1), "'n'"),
    (weight_matrices, dict(kernel=ring(), n=2.5), "'n'"),
    (neuron_models, dict(intensities=("exponential",)), "intensities"),
    (neuron_models, dict(intensities=("tanh",)), "intensities"),
    (neuron_models, dict(min_rate=0.0), "min_rate"),
    (neuron_models, dict(min_rate=5.0, max_rate=1.0), "min_rate"),
    (neuron_models, dict(max_lipschitz=0.0), "max_lipschitz"),
    (neuron_models, dict(within_hypotheses="yes"), "within_hypotheses"),
    (neuron_models, dict(min_input=3.0), "min_input"),
    (initial_data, dict(kinds=("uniform",)), "kinds"),
    (initial_data, dict(min_value=2.0, max_value=1.0), "min_value"),
    (initial_data, dict(max_sd=0.0), "max_sd"),
]


@pytest.mark.parametrize("strategy, kwargs, name", BAD,
                         ids=[f"{s.__name__}-{n}-{i}" for i, (s, _, n) in enumerate(BAD)])
def test_bad_arguments_raise_when_the_strategy_is_defined(strategy, kwargs, name):
    with pytest.raises(InvalidArgumentError) as info:
        strategy(**kwargs)  # defined only: nothing is drawn
    assert name in str(info.value) and "Fix:" in str(info.value)


def test_bad_values_of_the_drawn_types_are_refused():
    with pytest.raises(InvalidArgumentError, match="family"):
        WeightSequence("ring", ring())
    with pytest.raises(InvalidArgumentError, match="kernel"):
        WeightSequence("step", "ring")
    with pytest.raises(InvalidArgumentError, match="N"):
        WeightSequence("step", ring())(1)
    with pytest.raises(InvalidArgumentError, match="kind"):
        InitialData("uniform", (0.0,))
    with pytest.raises(InvalidArgumentError, match="params"):
        InitialData("profile", (0.0,))
    with pytest.raises(InvalidArgumentError, match="standard deviation"):
        InitialData("gaussian", (0.0, 0.0))
