"""Weak order of the clock scheme against the exact simulator.

Functional: mean number of spikes per neuron on ``[0, 2]`` (``= 2 x`` the mean population rate),
standard neuron, constant kernel ``w = 1`` (``W_ij = 1/N``), N = 1000, ``X(0) = 0``.  The exact
value is estimated by 300 exact runs and each clock value by 200 runs (independent seeds); every
estimate has a standard error about 0.004-0.005 (seed-to-seed spread; measured exact value
5.2363 +- 0.0036 with these 300 runs) while the clock bias is -0.503, -0.274, -0.139 (each +- 0.005)
at ``dt`` = 0.02, 0.01, 0.005, so the bias dominates (asserted: > 8 combined standard errors).

Assertions: observed orders ``log2(e(dt) / e(dt/2))`` in [0.75, 1.25] (measured 0.88 and 0.98, with
about +-0.03 and +-0.06 from the standard errors), and the Richardson combination
``2 e(dt/2) - e(dt)`` (which cancels a first-order term; measured -0.0035 +- 0.01) is below a third
of ``|e(0.005)|``: the error is first order.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from solvers.graphons import constant
from solvers.model import NeuronModel
from solvers.particles import simulate

pytestmark = pytest.mark.slow


def _mean_count(W, method, dt, seeds):
    model = NeuronModel.standard()
    N = W.shape[0]
    v = np.array([simulate(model, W, 2.0, 0.0, s, method=method, dt=dt).n_spikes / N for s in seeds])
    return v.mean(), v.std(ddof=1) / math.sqrt(len(v))


def test_clock_weak_order_one():
    W = constant(1.0).weights(1000)
    ex, ex_se = _mean_count(W, "exact", None, range(300))
    dts = [0.02, 0.01, 0.005]
    means, ses = [], []
    for k, dt in enumerate(dts):
        m, se = _mean_count(W, "clock", dt, range(10_000 * (k + 1), 10_000 * (k + 1) + 200))
        means.append(m)
        ses.append(se)
    errs = np.array(means) - ex
    comb = np.hypot(ses, ex_se)
    msg = f"exact {ex:.4f} +- {ex_se:.4f}; clock errors {errs} +- {comb}"
    assert np.all(np.abs(errs) > 8 * comb), msg
    orders = np.log2(errs[:-1] / errs[1:])
    assert np.all((orders > 0.75) & (orders < 1.25)), f"{msg}; observed orders {orders}"
    richardson = 2 * errs[2] - errs[1]   # = 2 m(0.005) - m(0.01) - exact; the exact's SE enters once
    assert abs(richardson) < abs(errs[2]) / 3, f"{msg}; Richardson residual {richardson}"
