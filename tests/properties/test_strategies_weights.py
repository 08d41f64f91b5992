"""What the weight strategies promise: each family's construction, the positions that align it with its
kernel, bounded ``kappa_N`` inside the hypothesis (and growing for ``hub``), reproducible sequences."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.graphons import labels, ring
from verification.assertions import assert_hypotheses_hold
from verification.strategies import LabelledWeights, WeightSequence, kernels, weight_matrices, weight_sequences

ALL = ("step", "shuffled", "w-random", "random-sign", "hub")
SMALL_KERNELS = kernels(max_degree=2, max_blocks=3)


@settings(max_examples=25)
@given(weight_matrices(SMALL_KERNELS, st.integers(2, 40), families=ALL))
def test_every_family_is_what_it_says(L):
    assert isinstance(L, LabelledWeights)
    N, W, k = L.N, L.weights, L.kernel
    assert W.shape == (N, N) and np.all(np.isfinite(W)) and np.all(np.diag(W) == 0)
    assert L.positions.shape == (N,) and np.all((L.positions >= 0) & (L.positions <= 1))
    off = ~np.eye(N, dtype=bool)
    step = k.weights(N)
    if L.family == "step":
        assert np.array_equal(W, step)
    elif L.family == "shuffled":
        # a relabelling: sorting the neurons by position gives the step weights back exactly
        assert np.array_equal(np.sort(L.positions), labels(N)) and np.array_equal(L.aligned(), step)
    elif L.family == "w-random":
        M = k.sup
        vals = k(L.positions[:, None], L.positions[None, :])
        nz = W != 0
        assert np.allclose(np.abs(N * W[nz]), M) and np.all(np.sign(W[nz]) == np.sign(vals[nz]))
        assert not np.any(nz & (vals == 0))
    elif L.family == "random-sign":
        d = N * (W - step)
        J = np.abs(d[off])
        assert np.allclose(J, J[0]) and J[0] <= 1.0 + 1e-12
    else:  # hub: column 1 replaced by the hub weight, the rest the step weights
        assert np.all(W[1:, 0] == 0.5)
        assert np.array_equal(W[:, 1:], step[:, 1:])
    bound = k.sup + (1.0 if L.family == "random-sign" else 0.0)
    if L.family == "hub":
        assert L.kappa == max(0.5 * N, N * np.abs(step[:, 1:]).max(initial=0.0))
    else:
        assert L.kappa <= bound * (1 + 1e-12) + 1e-12


@settings(max_examples=15)
@given(weight_sequences(SMALL_KERNELS, families=ALL))
def test_sequences_are_reproducible_and_sizes_independent(seq):
    a = seq(30).weights
    seq(17)  # another size in between changes nothing
    assert np.array_equal(seq(30).weights, a)
    assert np.array_equal(WeightSequence(seq.family, seq.kernel, seq.seed, seq.amplitude).__call__(30).weights, a)


@settings(max_examples=6)
@given(weight_sequences(kernels(min_value=0.25, max_degree=1, max_blocks=2),
                        families=("step", "shuffled", "w-random", "random-sign")))
def test_sequences_inside_the_hypothesis_pass_assert_hypotheses_hold(seq):
    report = assert_hypotheses_hold(seq, sizes=[40, 80, 160])
    assert report.verdict("O(1/N) weights").status == "holds"


@settings(max_examples=4)
@given(weight_sequences(kernels(max_degree=1, max_blocks=2), families=("hub",)))
def test_hub_sequences_fail_assert_hypotheses_hold(seq):
    try:
        assert_hypotheses_hold(seq, sizes=[40, 80, 160])
    except AssertionError as exc:
        assert "O(1/N) weights: violated" in str(exc) and "kappa_N" in str(exc)
    else:
        raise AssertionError(f"{seq!r} passed assert_hypotheses_hold")


def test_w_random_sequences_converge_to_their_kernel_in_mean():
    """``E[N W_ij | U] = w(U_i, U_j)``: the mean of ``N W`` over pairs binned by latent position is the
    kernel's mean over the bin, within 5 standard errors (a Bernoulli(p) mean of n entries has standard
    error sqrt(p (1 - p) / n) M; false-failure rate below 1e-6 per bin)."""
    k = ring()
    L = WeightSequence("w-random", k, seed=11)(600)
    U, NW = L.positions, 600 * L.weights
    b = np.minimum((U * 4).astype(int), 3)
    M = k.sup
    for i in range(4):
        for j in range(4):
            sel = (b[:, None] == i) & (b[None, :] == j) & ~np.eye(600, dtype=bool)
            w = k(U[:, None], U[None, :])[sel]
            p = np.abs(w) / M
            se = M * np.sqrt(np.sum(p * (1 - p))) / sel.sum()
            assert abs(NW[sel].mean() - w.mean()) <= 5 * se
