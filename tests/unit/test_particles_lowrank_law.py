"""The dense, low-rank and on-the-fly exact paths agree in law.

The low-rank global stream draws other random numbers than the dense path (one stream for the
network instead of one per neuron), so its spikes are compared in law; the on-the-fly operator uses
the dense path's streams (the same seed gives the same spikes, ``test_particles_onthefly.py``), so it
is compared in law on other seeds than the dense runs.  On ``ring``, ``two-block`` and ``skew`` (non
symmetric: a transposed operator cannot hide) the observables are the population rate, the mean and
the variance over the neurons of ``X(T)`` and the rates of four ``xi``-bins, each averaged over ``S``
independent seeds per path.  The two sample means of every observable must agree within
``Z_MAX = 4.5`` standard errors of their difference (Welch, ``sqrt(v_a / S + v_b / S)``); under the
null a two-sided exceedance has probability 7e-6 per comparison (normal approximation of a mean of
``S = 120`` i.i.d. runs), 3e-4 for the 42 comparisons; the seeds are fixed, so the test is
deterministic.  A negative control shows the test has power: the transposed skew factors (``W^T``)
are rejected by more than ``Z_MAX``.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from solvers.graphons import ring, skew, two_block
from solvers.model import NeuronModel
from solvers.particles import LowRankOperator, OnTheFlyOperator, simulate

S = 120
N = 200
T = 3.0
BINS = 4
Z_MAX = 4.5
MODEL = NeuronModel.standard()


def observables(weights, seed0: int) -> np.ndarray:
    """Rows of ``(rate, mean X(T), var X(T), bin rates...)``, one per seed."""
    rows = []
    bins = np.arange(N) * BINS // N
    for s in range(S):
        res = simulate(MODEL, weights, T, 0.0, seed0 + s)
        x = res.states[-1]
        per_bin = np.bincount(bins[res.spike_neurons], minlength=BINS) / (N / BINS * T)
        rows.append(np.concatenate([[res.mean_rate, x.mean(), x.var()], per_bin]))
    return np.array(rows)


@functools.cache
def dense_observables(name: str) -> np.ndarray:
    """The dense path's observables on seeds 1000.. (shared by the comparisons)."""
    kernel = {"ring": ring(), "two-block": two_block(), "skew": skew()}[name]
    return observables(kernel.weights(N), 1000)


def z_scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    se = np.sqrt(a.var(axis=0, ddof=1) / a.shape[0] + b.var(axis=0, ddof=1) / b.shape[0])
    return (a.mean(axis=0) - b.mean(axis=0)) / se


@pytest.mark.parametrize("kernel", [ring(), two_block(), skew()], ids=lambda k: k.name)
def test_global_stream_agrees_in_law_with_the_dense_path(kernel):
    dense = dense_observables(kernel.name)
    low = observables(LowRankOperator.from_kernel(kernel, N), 5000)
    z = z_scores(low, dense)
    names = ["rate", "mean X(T)", "var X(T)"] + [f"bin {k} rate" for k in range(BINS)]
    assert np.all(np.abs(z) < Z_MAX), dict(zip(names, np.round(z, 2)))


@pytest.mark.parametrize("kernel", [ring(), two_block(), skew()], ids=lambda k: k.name)
def test_onthefly_agrees_in_law_with_the_dense_path_on_other_seeds(kernel):
    dense = dense_observables(kernel.name)
    fly = observables(OnTheFlyOperator(kernel, N), 9000)
    z = z_scores(fly, dense)
    names = ["rate", "mean X(T)", "var X(T)"] + [f"bin {k} rate" for k in range(BINS)]
    assert np.all(np.abs(z) < Z_MAX), dict(zip(names, np.round(z, 2)))


def test_transposed_skew_is_detected():
    f = skew().low_rank(N)
    dense = dense_observables("skew")
    transposed = observables(LowRankOperator(f.V, f.s, f.U), 5000)
    z = z_scores(transposed, dense)
    assert np.max(np.abs(z[3:])) > 3 * Z_MAX, np.round(z, 2)
