"""The assertions decide right on cases whose answer is known, and their failure messages say why.

Known answers (not outputs of the code under test): step weights of a kernel converge to its PDE at
the rate ``N^-1/2`` of the law of large numbers; the ``hub`` control (one neuron kicking everyone by
0.5) and weights of a different kernel do not converge; ``kappa_N = N / 2`` grows for the hub; the
frozen dual is the exact adjoint of the forward step; a dual whose non-local term is not transposed
breaks the linearised identity for the non-symmetric ``skew`` kernel (the mutation of
``tests/convergence/test_dual_order.py``).  Small studies (sizes 50..400) keep this file fast.
"""
from __future__ import annotations

import numpy as np
import pytest

import solvers.dual.backward as backward
from solvers.errors import ConvergenceError, InvalidArgumentError
from solvers.graphons import constant, hub, ring, skew, two_block
from solvers.model import Exponential, Leaky, NeuronModel, ReLU
from verification import assertions as A
from verification.assertions import (
    assert_duality,
    assert_hypotheses_hold,
    assert_mean_field_convergence,
    current_budget,
    use_budget,
)
from verification.strategies import InitialData, WeightSequence, expansion_kernel

STD = NeuronModel.standard()
SIZES = [50, 100, 200, 400]
W025 = expansion_kernel("fourier", [[0.25]])


def _fail(*args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        assert_mean_field_convergence(*args, **kwargs)
    return str(info.value)


def test_the_hub_control_fails_and_the_message_says_why():
    msg = _fail(STD, constant(), hub, SIZES, observable="state", seed=1, replicates=6)
    assert msg.startswith("ifmf mean-field convergence: FAIL")
    for part in ("claim: d_w", "fitted exponent:", "criterion (FAIL): the interval of the exponent meets",
                 "lies outside [-0.7, -0.3]", "kappa_N", "replicates", "interval (Student-t)",
                 "note: kappa_N = N max|W_ij| grows from 25 to 200", "reference: mean-field PDE",
                 "weights: solvers.graphons.hub", "seed: 1"):
        assert part in msg, (part, msg)
    rows = [line.split() for line in msg.splitlines() if line.strip().split(" ")[0] in {"50", "100", "200", "400"}]
    assert [r[0] for r in rows] == ["50", "100", "200", "400"] and [r[1] for r in rows] == ["25", "50", "100", "200"]


def test_step_weights_converge_and_the_study_is_returned():
    study = assert_mean_field_convergence(STD, ring(), WeightSequence("step", ring()), SIZES, observable="state",
                                          seed=3, replicates=6)
    assert study.passed and all(v.passed for v in study.verdicts)
    assert list(study.table["N"]) == SIZES and len(study.values) == 24
    assert -0.7 <= study.fit.exponent.value <= -0.3
    assert np.all(study.table["bracket_lower"] <= study.table["bracket_upper"] + 1e-15)
    assert study.resolution <= 0.25 * study.table["mean"].min()
    assert "ifmf mean-field convergence: PASS" in study.report()


def test_weights_of_another_kernel_do_not_converge_to_this_pde():
    msg = _fail(STD, ring(), two_block().weights, SIZES, observable="state", seed=4, replicates=6)
    assert "criterion (FAIL): the interval of the exponent meets" in msg


def test_population_rate_and_pairing_observables():
    seq = WeightSequence("shuffled", ring(), seed=2)
    study = assert_mean_field_convergence(STD, ring(), seq, SIZES, observable="population_rate", metric="rms",
                                          seed=0, replicates=6)
    assert "population rate" in study.claim
    msg = _fail(STD, constant(), hub, SIZES, observable=lambda xi, x: np.sin(x), metric="abs", seed=5,
                replicates=6, times=[1.0, 2.0])
    assert "<phi, mu^N_t> - <phi, mu_t>" in msg


def test_the_strong_distance_does_not_converge_and_the_companions_do():
    """The strong distance ``int W_1(mu^N(xi), mu(xi)) dxi`` compares a Dirac with a continuous law in every
    slice: it stays O(1) (fitted exponent about 0), while the kernel-MMD companion decays."""
    seq = WeightSequence("step", ring())
    msg = _fail(STD, ring(), seq, SIZES, observable="state", metric="strong", seed=3, replicates=6)
    assert "int W_1(mu(xi), nu(xi)) dxi" in msg and "criterion (FAIL)" in msg
    study = assert_mean_field_convergence(STD, ring(), seq, SIZES, observable="state", metric="kernel_mmd",
                                          seed=3, replicates=6)
    assert "d_w,k (Gaussian, bandwidth 0.5)" in study.claim


def test_a_silent_network_has_no_rate():
    silent = NeuronModel(Leaky(0.5), ReLU(slope=1.0, theta=1.0, cap=2.0))  # potentials never reach theta
    msg = _fail(silent, ring(), ring().weights, SIZES, observable="state", seed=1, replicates=2)
    assert "no rate" in msg and "nothing fluctuates" in msg


def test_an_unresolved_reference_is_a_convergence_error():
    with pytest.raises(ConvergenceError, match="not resolved enough"):
        assert_mean_field_convergence(STD, ring(), ring().weights, SIZES, observable="state", seed=1, replicates=2,
                                      n_xi=2, dt=0.2)


def test_budget_scales_replicates_and_sizes():
    assert A._scaled([100, 200, 400], 8, 4.0) == ([200, 400, 800], 32)
    assert A._scaled([100, 200, 400], 8, 0.1) == ([32, 63, 126], 2)
    with use_budget(0.25):
        assert current_budget() == 0.25
        msg = _fail(STD, constant(), hub, [100, 200, 400, 800], observable="state", seed=1, replicates=8)
    assert current_budget() == 1.0
    assert "budget 0.25" in msg and "    400" in msg and "    800" not in msg  # sizes halved, 2 replicates
    rows = [line.split() for line in msg.splitlines() if line.strip().startswith(("50 ", "100 ", "200 ", "400 "))]
    assert {r[2] for r in rows} == {"2"}


def test_a_fractional_budget_can_fail_a_true_statement():
    """The case docs/modules/verification.strategies.md quotes: at budget 0.05 (2 replicates, sizes 11
    to 89) the w-random ring study, inside the hypotheses, FAILs for seed 1; at budget 0.25 it passes.
    Budgets < 1 are for smoke runs."""
    kern = expansion_kernel("fourier", [[1.0, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])
    weights = WeightSequence("w-random", kern, seed=1)
    msg = _fail(STD, kern, weights, SIZES, observable="state", seed=1, budget=0.05)
    assert "criterion (FAIL): the interval of the exponent meets [-0.7, -0.3]" in msg and "-0.785" in msg
    assert assert_mean_field_convergence(STD, kern, weights, SIZES, observable="state", seed=1, budget=0.25).passed


def test_the_simplest_kernel_of_a_range_holding_zero_has_no_rate():
    """kernels(min_value=0.0) shrinks to w = 0 (the docs warn): no rate can be fitted."""
    from hypothesis import find, settings

    from verification.strategies import kernels

    zero = find(kernels(min_value=0.0), lambda k: True, settings=settings(database=None, derandomize=True))
    assert str(zero) == "ExpansionKernel(fourier: w = 0)"
    msg = _fail(STD, zero, WeightSequence("step", zero), [50, 100, 200], observable="state", seed=1, replicates=2)
    assert "no rate" in msg


def test_the_budget_environment_variable(monkeypatch):
    monkeypatch.setenv(A.BUDGET_ENV, "2.5")
    assert current_budget() == 2.5
    with use_budget(0.5):
        assert current_budget() == 0.5
    monkeypatch.setenv(A.BUDGET_ENV, "lots")
    with pytest.raises(InvalidArgumentError, match="IFMF_BUDGET"):
        current_budget()
    monkeypatch.setenv(A.BUDGET_ENV, "-1")
    with pytest.raises(InvalidArgumentError, match="IFMF_BUDGET"):
        current_budget()
    with pytest.raises(InvalidArgumentError, match="budget"):
        with use_budget(0):
            pass


BAD = [
    (dict(sizes=[100, 200]), "sizes"),
    (dict(sizes="100"), "sizes"),
    (dict(sizes=[100, 1, 200]), "sizes[1]"),
    (dict(observable=None), "observable"),
    (dict(observable="rate"), "observable"),
    (dict(metric="abs"), "metric"),
    (dict(observable="population_rate"), "metric"),
    (dict(seed=None), "seed"),
    (dict(seed=-1), "seed"),
    (dict(tolerance=0.0), "tolerance"),
    (dict(max_width=-1.0), "max_width"),
    (dict(level=1.5), "level"),
    (dict(replicates=1), "replicates"),
    (dict(times=[0.0]), "times"),
    (dict(times=[0.013]), "times"),
    (dict(times=[3.0]), "times"),
    (dict(initial="zero"), "initial"),
    (dict(weights_for=np.eye(3)), "weights_for"),
    (dict(model="standard"), "model"),
    (dict(kernel="ring"), "kernel"),
    (dict(budget=0), "budget"),
    (dict(dt=5.0), "dt"),
    (dict(n_xi=0), "n_xi"),
]


@pytest.mark.parametrize("change, name", BAD, ids=[f"{n}-{i}" for i, (_, n) in enumerate(BAD)])
def test_bad_arguments_of_the_convergence_assertion(change, name):
    args = dict(model=STD, kernel=ring(), weights_for=ring().weights, sizes=[100, 200, 400], observable="state",
                seed=1)
    args.update(change)
    if change.get("observable", "") is None:
        del args["observable"]
    if "seed" in change and change["seed"] is None:
        del args["seed"]
    with pytest.raises(InvalidArgumentError) as info:
        assert_mean_field_convergence(args.pop("model"), args.pop("kernel"), args.pop("weights_for"),
                                      args.pop("sizes"), **args)
    assert repr(name) in str(info.value) or name in str(info.value)


def test_a_weights_callable_returning_the_wrong_size_is_refused():
    with pytest.raises(InvalidArgumentError, match="N x N"):
        assert_mean_field_convergence(STD, ring(), lambda N: ring().weights(N + 1), SIZES, observable="state", seed=1)


# ----------------------------------------------------------------------------------- hypotheses
def test_hypotheses_hold_for_step_weights_and_fail_for_the_hub():
    rep = assert_hypotheses_hold(ring().weights, sizes=[50, 100, 200], model=STD)
    assert not rep.violated
    with pytest.raises(AssertionError) as info:
        assert_hypotheses_hold(hub, sizes=[50, 100, 200])
    msg = str(info.value)
    for part in ("ifmf hypotheses: FAIL", "O(1/N) weights: violated", "Growth of kappa_N: exponent 1.0000",
                 "kappa_N", "max column sum"):
        assert part in msg, (part, msg)


def test_hypotheses_of_the_model_are_asserted_when_given():
    unbounded = NeuronModel(Leaky(1.5), Exponential())
    assert_hypotheses_hold(ring().weights, sizes=[50, 100, 200])  # the weights alone are fine
    with pytest.raises(AssertionError, match="f bounded: violated"):
        assert_hypotheses_hold(ring().weights, sizes=[50, 100, 200], model=unbounded)


def test_cannot_tell_fails_unless_allowed():
    W = ring().weights(40)
    with pytest.raises(AssertionError, match="cannot tell"):
        assert_hypotheses_hold(W)
    assert assert_hypotheses_hold(W, allow_cannot_tell=True).verdict("O(1/N) weights").status == "cannot tell"
    with pytest.raises(InvalidArgumentError, match="allow_cannot_tell"):
        assert_hypotheses_hold(W, allow_cannot_tell="yes")


# --------------------------------------------------------------------------------------- duality
def test_duality_holds_for_the_standard_neuron_and_skew():
    study = assert_duality(STD, skew(), initial=InitialData("constant", (0.5,)))
    assert study.passed and study.order is not None
    assert np.all(study.table["frozen_defect"] <= 1e-12)
    assert 1.65 <= study.order.slope.value <= 2.35
    assert "ifmf duality: PASS" in study.report()


def test_duality_catches_a_dual_whose_nonlocal_term_is_not_transposed(monkeypatch):
    monkeypatch.setattr(backward, "adjoint_coupling", lambda K: K)  # the mutation: K instead of K^T
    with pytest.raises(AssertionError) as info:
        assert_duality(STD, skew())
    msg = str(info.value)
    assert "ifmf duality: FAIL" in msg and "order of the linearised defect" in msg and "defect" in msg


def test_duality_with_an_affine_forward_map_holds_to_the_oracle():
    from solvers.model import Constant

    study = assert_duality(NeuronModel(Leaky(1.0), Constant(1.0)), constant(0.25))
    assert study.order is None and "finite-difference floor" in study.verdicts[1].criterion


def test_duality_needs_a_smooth_intensity_for_its_oracle():
    with pytest.raises(ConvergenceError, match="not smooth in eps"):
        assert_duality(NeuronModel(Leaky(1.2), ReLU(2.0, 0.5, 3.0)), two_block())


@pytest.mark.parametrize("change, name", [(dict(dts=(0.01, 0.005)), "dts"), (dict(dts=(2.0, 1.0, 0.5)), "dts"),
                                          (dict(eps=0.0), "eps"), (dict(n_xi=0), "n_xi"),
                                          (dict(perturbation="shift"), "perturbation"), (dict(t_end=-1.0), "t_end")])
def test_bad_arguments_of_the_duality_assertion(change, name):
    with pytest.raises(InvalidArgumentError, match=name):
        assert_duality(STD, W025, **change)
