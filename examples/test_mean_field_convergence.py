"""A property-based convergence check to copy into your own test suite (ifmf's CI runs it: it passes).

For every kernel, weight sequence, neuron model and initial datum Hypothesis draws inside the
hypotheses of the mean-field theorem (bounded kernels, weights of size O(1/N), bounded Lipschitz
intensities), networks of N = 100 ... 800 neurons converge to the mean-field PDE in the weak metric
d_w at the rate N^-1/2.  Each example runs a small study (12 networks per size, a reference PDE with a
resolution check, a fitted exponent with a bootstrap interval); on failure the AssertionError carries
the table, the fit and the criterion.

Run it with

    pytest test_mean_field_convergence.py                    # 5 derandomised examples
    pytest test_mean_field_convergence.py --ifmf-budget 4    # 4x the replicates, 2x the sizes
    pytest -m "not ifmf"                                     # skip the convergence checks

(ifmf installs the pytest plugin that provides the ``ifmf`` marker and ``--ifmf-budget``.)
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verification.assertions import assert_hypotheses_hold, assert_mean_field_convergence
from verification.pytest_plugin import convergence_settings
from verification.strategies import initial_data, kernels, neuron_models, weight_sequences

SIZES = [100, 200, 400, 800]

# a kernel w and a weight sequence N -> W built from it (step kernel, shuffled labels, W-random graph
# or random-sign perturbation); values of w in [0.25, 2] (for w = 0 the weak metric is identically 0)
cases = kernels(min_value=0.25, max_value=2.0).flatmap(lambda w: st.tuples(st.just(w), weight_sequences(w)))


@pytest.mark.ifmf
@convergence_settings
@given(model=neuron_models(), case=cases, init=initial_data())
def test_networks_converge_to_the_mean_field_limit(model, case, init):
    kernel, weights = case
    assert_hypotheses_hold(weights, sizes=SIZES, model=model)
    assert_mean_field_convergence(model, kernel, weights, SIZES, observable="state", metric="d_w",
                                  expected_exponent=-0.5, initial=init, seed=2024)
