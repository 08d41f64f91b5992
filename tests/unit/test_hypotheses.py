"""Tests of :mod:`verification.hypotheses`: numbers against brute force, the growth fit against
``scipy.stats.linregress``, and the verdict rules on the named sequences of SPEC section 8 (the
``hub`` and sparse Erdos-Renyi controls must be flagged; ring, W-random, random-sign and checkerboard
must pass) and on model functions with known properties."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

import verification.hypotheses as hyp
from solvers.errors import InvalidArgumentError
from solvers.graphons import checkerboard, hub, random_sign, ring, sparse_erdos_renyi, two_block, w_random
from solvers.model import Constant, CustomDrift, CustomIntensity, Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from verification.hypotheses import CANNOT_TELL, HOLDS, HYPOTHESES, VIOLATED, check, fit_growth, weight_statistics

STD = NeuronModel.standard()
SIZES = [100, 200, 400, 800]


def brute_stats(W):
    W = W.toarray() if sp.issparse(W) else np.asarray(W, dtype=float)
    N = W.shape[0]
    A = np.abs(W)
    off = ~np.eye(N, dtype=bool)
    Ao = np.where(off, A, 0.0)
    return {"N": N, "kappa_N": N * A[off].max(), "max_row_abs_sum": Ao.sum(1).max(),
            "max_col_abs_sum": Ao.sum(0).max(), "l1_norm": Ao.sum() / N,
            "offdiag_density": np.count_nonzero(W[off]) / (N * (N - 1)), "max_abs_diagonal": np.abs(np.diag(W)).max()}


@pytest.mark.parametrize("chunk", [1 << 22, 7])
def test_weight_statistics_against_brute_force(monkeypatch, chunk):
    monkeypatch.setattr(hyp, "_ROW_CHUNK_ELEMENTS", chunk)  # 7 elements: one row per block
    rng = np.random.default_rng(3)
    W = rng.standard_normal((13, 13)) * (rng.random((13, 13)) < 0.6) / 13
    W[4, 4] = 50.0  # a huge diagonal entry is ignored by the dynamics and by kappa
    ref = brute_stats(W)
    for M in (W, np.asfortranarray(W), sp.csr_matrix(W), sp.coo_matrix(W), W.astype(np.float32)):
        got = weight_statistics(M)
        rtol = 1e-6 if getattr(M, "dtype", None) == np.float32 else 1e-13
        for key, val in ref.items():
            assert got[key] == pytest.approx(val, rel=rtol), (type(M), key)
    assert weight_statistics(W)["kappa_N"] < 13 * 50.0


def test_weight_statistics_of_the_controls():
    N = 50
    s = weight_statistics(hub(N))
    assert s["kappa_N"] == pytest.approx(N / 2) and s["max_col_abs_sum"] == pytest.approx(0.5 * (N - 1))
    assert s["max_row_abs_sum"] == pytest.approx(0.5 + (N - 2) / N)
    e = weight_statistics(sparse_erdos_renyi(400, seed=1))
    assert e["kappa_N"] == pytest.approx(math.sqrt(400))
    assert weight_statistics(np.zeros((3, 3)))["kappa_N"] == 0.0
    assert weight_statistics(np.array([[2.0]]))["offdiag_density"] == 0.0


def test_fit_growth_against_linregress():
    rng = np.random.default_rng(8)
    N = np.array([100, 200, 400, 800, 1600, 100, 400])
    kap = 3.0 * N ** 0.37 * np.exp(0.05 * rng.standard_normal(N.size))
    fit = fit_growth(N, kap)
    ref = stats.linregress(np.log(N), np.log(kap))
    t = stats.t.ppf(0.975, N.size - 2)
    assert fit.exponent == pytest.approx(ref.slope, rel=1e-12)
    assert fit.lower == pytest.approx(ref.slope - t * ref.stderr, rel=1e-10)
    assert fit.upper == pytest.approx(ref.slope + t * ref.stderr, rel=1e-10)
    assert fit.n_sizes == 5 and fit.n_points == 7 and fit.has_interval
    assert fit.growth == pytest.approx(kap[4] / kap[[0, 5]].mean())
    exact = fit_growth([10, 20, 40], [2.0 * 10 ** 0.5, 2.0 * 20 ** 0.5, 2.0 * 40 ** 0.5])
    assert exact.exponent == pytest.approx(0.5) and exact.upper - exact.lower < 1e-12
    two = fit_growth([10, 40], [1.0, 4.0])
    assert two.exponent == pytest.approx(1.0) and math.isnan(two.lower) and not two.has_interval
    with pytest.raises(InvalidArgumentError, match="distinct"):
        fit_growth([10, 10], [1.0, 2.0])
    with pytest.raises(InvalidArgumentError, match="positive"):
        fit_growth([10, 20], [0.0, 2.0])
    with pytest.raises(InvalidArgumentError, match="confidence"):
        fit_growth([10, 20, 40], [1.0, 2.0, 3.0], confidence=1.5)


@pytest.mark.parametrize("name,weights", [
    ("hub", hub),
    ("erdos-renyi p=N^-1/2", lambda N: sparse_erdos_renyi(N, seed=N)),
])
def test_controls_are_flagged(name, weights):
    r = check(STD, weights, sizes=SIZES)
    v = r.verdict("O(1/N) weights")
    assert v.status == VIOLATED, v.reason
    assert r.violated and r.growth.lower > hyp.EXPONENT_THRESHOLD
    expected = 1.0 if name == "hub" else 0.5
    assert r.growth.exponent == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("name,weights", [
    ("ring", ring().weights),
    ("w-random", lambda N: w_random(ring(), N, seed=N)),  # the WRandomGraph itself is accepted
    ("w-random two-block", lambda N: w_random(two_block(), N, seed=N).weights),
    ("random-sign", lambda N: random_sign(N, seed=N)),
    ("checkerboard", checkerboard),
])
def test_o1n_sequences_pass(name, weights):
    r = check(STD, weights, sizes=SIZES)
    assert r.verdict("O(1/N) weights").status == HOLDS, r.verdict("O(1/N) weights").reason
    assert not r.violated
    assert all(v.status == HOLDS for v in r.verdicts)  # the standard neuron satisfies everything
    assert list(r.table["N"]) == SIZES and r.growth.upper < hyp.EXPONENT_THRESHOLD


def test_one_two_and_too_close_sizes():
    one = check(STD, hub(40))
    v = one.verdict("O(1/N) weights")
    assert v.status == CANNOT_TELL and "sequence" in v.reason and "20" in v.reason  # kappa = 20
    assert one.growth is None and not one.violated
    two = check(STD, [hub(80), hub(20)])
    assert two.verdict("O(1/N) weights").status == VIOLATED and "2 sizes" in two.verdict("O(1/N) weights").reason
    assert list(two.table["N"]) == [20, 80]
    two_ok = check(STD, [ring().weights(20), ring().weights(80)])
    assert two_ok.verdict("O(1/N) weights").status == HOLDS
    close = check(STD, hub, sizes=[100, 105, 110])  # exponent 1 but kappa grew only 1.1x
    assert close.verdict("O(1/N) weights").status == CANNOT_TELL
    assert check(STD, [np.zeros((5, 5)), np.zeros((9, 9))]).verdict("O(1/N) weights").status == HOLDS


def test_noisy_growth_is_cannot_tell():
    rng = np.random.default_rng(0)
    mats = []
    for N, scale in zip([50, 60, 70], [1.0, 3.0, 1.2]):  # kappa jumps around: the interval is wide
        W = np.full((N, N), 0.5 / N)
        W[0, 1] = scale
        mats.append(W * (1 + 0.01 * rng.random((N, N))))
    r = check(STD, mats)
    assert r.verdict("O(1/N) weights").status == CANNOT_TELL
    assert r.growth.lower < hyp.EXPONENT_THRESHOLD < r.growth.upper


def test_mixed_dense_and_sparse_inputs_sorted_with_names():
    mats = [sp.csr_matrix(ring().weights(60)), ring().weights(20), ring().weights(40).astype(np.float32)]
    r = check(STD, mats, names=["c", "a", "b"])
    assert list(r.table["N"]) == [20, 40, 60] and list(r.table["source"]) == ["a", "b", "c"]


# ------------------------------------------------------------------------------- model checks
def statuses(model):
    return check(model, [ring().weights(20), ring().weights(40), ring().weights(80)]).statuses


def test_named_families():
    assert statuses(STD) == {h: HOLDS for h in HYPOTHESES}
    s = statuses(NeuronModel(Leaky(), Exponential()))
    assert s["f bounded"] == VIOLATED and s["f Lipschitz"] == VIOLATED and s["f >= 0"] == HOLDS
    s = statuses(NeuronModel(Leaky(), ReLU(slope=2.0, cap=math.inf)))
    assert s["f bounded"] == VIOLATED and s["f Lipschitz"] == HOLDS
    s = statuses(NeuronModel(Leaky(I0=-1.0), Constant(lam0=2.0)))
    assert all(v == HOLDS for v in s.values())


def test_sampled_lower_bounds_are_reported_and_below_stated():
    r = check(STD, ring().weights(20), x_range=(-2, 4), n_samples=601)
    f = r.functions.set_index("quantity")
    f = f[f["function"] == "f"]
    assert f.loc["sup |f|", "stated"] == 10.0
    assert 0 < f.loc["sup |f|", "sampled_lower_bound"] <= 10.0
    lip = f.loc["Lipschitz", "sampled_lower_bound"]
    assert lip <= 12.5 and lip >= 12.5 * (1 - (5 * 0.01) ** 2)  # grid step 0.01 hits theta = 1
    assert "601 equispaced points of [-2, 4]" in f.loc["Lipschitz", "sampling"]


def test_custom_functions():
    quad = NeuronModel(CustomDrift(func=lambda x: -x ** 3), CustomIntensity(func=lambda x: x ** 2))
    s = statuses(quad)
    assert s["f bounded"] == VIOLATED and s["f Lipschitz"] == VIOLATED and s["b Lipschitz"] == VIOLATED
    assert s["f >= 0"] == CANNOT_TELL  # samples cannot certify the sign everywhere
    # bounded Lipschitz custom functions without stated constants: only lower bounds, cannot tell
    soft = NeuronModel(lambda x: np.sin(x) - x, lambda x: 1.0 / (1.0 + x * x))
    s = statuses(soft)
    assert s["f bounded"] == CANNOT_TELL and s["f Lipschitz"] == CANNOT_TELL and s["b Lipschitz"] == CANNOT_TELL
    # |x| is Lipschitz (cannot tell) but evidently unbounded
    s = statuses(NeuronModel(Leaky(), lambda x: np.abs(x)))
    assert s["f bounded"] == VIOLATED and s["f Lipschitz"] == CANNOT_TELL
    # a jump: the slope grows under refinement
    s = statuses(NeuronModel(lambda x: np.sign(x - 0.3), Sigmoid()))
    assert s["b Lipschitz"] == VIOLATED and s["f Lipschitz"] == HOLDS
    # stated constants decide, and a sample above them proves them wrong
    good = CustomIntensity(func=lambda x: 1.0 + np.tanh(x), bound=2.0, lipschitz_constant=1.0)
    s = statuses(NeuronModel(Leaky(), good))
    assert s["f bounded"] == HOLDS and s["f Lipschitz"] == HOLDS and s["f >= 0"] == CANNOT_TELL
    lying = CustomIntensity(func=lambda x: 1.0 + np.tanh(x), bound=1.5, lipschitz_constant=0.5)
    r = check(NeuronModel(Leaky(), lying), ring().weights(20))
    assert r.verdict("f bounded").status == VIOLATED and "wrong" in r.verdict("f bounded").reason
    assert r.verdict("f Lipschitz").status == VIOLATED
    neg = check(NeuronModel(Leaky(), lambda x: x - 1.0), ring().weights(20))
    v = neg.verdict("f >= 0")
    assert v.status == VIOLATED and "f(-5) = -6" in v.reason
    nan = check(NeuronModel(Leaky(), lambda x: np.sqrt(x)), ring().weights(20))
    assert nan.verdict("f bounded").status == CANNOT_TELL and "NaN" in nan.verdict("f bounded").reason
    assert nan.verdict("f >= 0").status == CANNOT_TELL and "NaN" in nan.verdict("f >= 0").reason


# ------------------------------------------------------------------------------ report, errors
def test_report_markdown():
    r = check(STD, hub, sizes=[10, 20, 40])
    md = r.to_markdown()
    assert str(r) == md
    for h in HYPOTHESES:
        assert f"| {h} |" in md
    for N in (10, 20, 40):
        assert f"| weights({N}) | {N} |" in md
    assert "| O(1/N) weights | violated |" in md and "95% interval [1.0000, 1.0000]" in md
    assert "lower bounds" in md
    assert r.verdict("f >= 0").status == HOLDS
    with pytest.raises(InvalidArgumentError, match="hypothesis"):
        r.verdict("f smooth")


@pytest.mark.parametrize("kwargs,match", [
    (dict(model="standard", w=np.eye(3)), "model"),
    (dict(w=ring().weights), "sizes"),
    (dict(w=ring().weights, sizes=[]), "sizes"),
    (dict(w=ring().weights, sizes=["a"]), "sizes"),
    (dict(w=[np.eye(3)], sizes=[3]), "sizes"),
    (dict(w=[]), "weights_sequence_or_matrix"),
    (dict(w=np.ones((2, 3))), "square"),
    (dict(w=[np.eye(3), np.array([[np.nan, 0], [0, 0]])]), r"weights\[1\]"),
    (dict(w=lambda N: np.eye(N + 1), sizes=[4]), "N x N"),
    (dict(w=np.eye(3), x_range=(1, 1)), "x_range"),
    (dict(w=np.eye(3), x_range="wide"), "x_range"),
    (dict(w=np.eye(3), n_samples=2), "n_samples"),
    (dict(w=[np.eye(3), np.eye(4)], names=["a"]), "names"),
    (dict(w=ring().weights, sizes=[1, 100, 200]), r"sizes\[0\]"),  # was silently dropped
    (dict(w=ring().weights, sizes=[100, 200.5]), r"sizes\[1\]"),
    (dict(w=ring().weights, sizes=100), "sizes"),
    (dict(w=np.eye(3), n_samples=True), "n_samples"),
])
def test_bad_input(kwargs, match):
    model = kwargs.pop("model", STD)
    w = kwargs.pop("w")
    with pytest.raises(InvalidArgumentError, match=match):
        check(model, w, **kwargs)
