"""Unit tests of the low-rank weights: the kernels' expansions, :class:`LowRankOperator`, its compiled
loops against the dense path and against an independent replay of SPEC section 1, the truncated SVD
and the certified bracket of its remainder (brute force on small matrices), and the errors.

References are independent of the code under test: the dense weights ``kernel.weights(N)`` (direct
evaluation of ``w(xi_i, xi_j) / N``), the dense exact loop, an explicit replay of the dynamics from a
list of spikes (:func:`replay`, written from SPEC section 1), numpy's SVD norm and exhaustive cut norms.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from solvers.errors import InvalidArgumentError, SimulationError
from solvers.graphons import FunctionKernel, LowRankFactors, StepKernel, constant, product, ring, skew, two_block
from solvers.model import Constant, Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from solvers.particles import LowRankOperator, simulate
from solvers.particles import lowrank as lr
from solvers.particles._streams import root_key, stream_keys
from verification.graphs import low_rank_error

STANDARD = NeuronModel.standard()


def replay(W, x0, I0, xr, spike_times, spike_neurons, t):
    """SPEC section 1 replayed from a list of spikes: the state at time ``t`` (``W_jj`` ignored)."""
    X = np.array(x0, dtype=float)
    now = 0.0
    for tau, j in zip(spike_times, spike_neurons):
        if tau > t:
            break
        X = I0 + (X - I0) * math.exp(-(tau - now))
        now = tau
        kick = W[:, j].copy()
        kick[j] = 0.0
        X += kick
        X[j] = xr
    return I0 + (X - I0) * math.exp(-(t - now))


# ---------------------------------------------------------------------------- kernel expansions
EXPANSIONS = [(ring(), 3), (ring(0.3, -2.0), 3), (two_block(), 2), (two_block(1.0, 1.0), 2), (constant(2.0), 1),
              (constant(-0.5), 1), (skew(), 5), (product(), 1),
              (StepKernel(values=np.random.default_rng(5).normal(size=(5, 5))), 5)]


@pytest.mark.parametrize("kernel,rank", EXPANSIONS, ids=lambda v: getattr(v, "name", str(v)))
@pytest.mark.parametrize("N", [1, 2, 5, 64, 501])
def test_expansion_reproduces_the_weights_off_the_diagonal(kernel, rank, N):
    f = kernel.low_rank(N)
    W = kernel.weights(N)
    assert f.rank == min(rank, N)
    scale = max(kernel.sup, 1.0) / N
    np.testing.assert_allclose(f.weights(), W, rtol=0, atol=8e-16 * scale * max(1, f.rank))
    # the diagonal of the factors is w(xi_i, xi_i) / N (unused by the network), not 0
    g = (np.arange(N) + 0.5) / N
    np.testing.assert_allclose(np.diag(f.weights(zero_diagonal=False)), kernel(g, g) / N, rtol=0,
                               atol=8e-16 * scale * max(1, f.rank))


def test_two_block_expansion_is_the_block_indicator_form():
    a, b, N = 1.5, 0.2, 10
    f = two_block(a, b).low_rank(N)
    first = (np.arange(N) + 0.5) / N <= 0.5
    np.testing.assert_array_equal(f.U, np.stack([first, ~first], axis=1).astype(float))
    np.testing.assert_array_equal(f.V, np.where(first[:, None], [a, b], [b, a]))
    np.testing.assert_array_equal(f.s, [1.0, 1.0])


def test_kernel_without_expansion_names_the_alternatives():
    k = FunctionKernel(func=lambda x, z: np.exp(-abs(x - z)))
    with pytest.raises(InvalidArgumentError, match="no low-rank expansion.*from_matrix"):
        k.low_rank(10)
    with pytest.raises(InvalidArgumentError, match="from_matrix"):
        LowRankOperator.from_kernel(k, 10)


@pytest.mark.parametrize("kwargs,match", [
    (dict(U=np.ones((3, 4)), s=np.ones(4), V=np.ones((3, 4))), "rank R = 4 exceeds N = 3"),
    (dict(U=np.ones((5, 2)), s=np.ones(2), V=np.ones((4, 2))), "must have the shape of U"),
    (dict(U=np.ones((5, 2)), s=np.ones(3), V=np.ones((5, 2))), r"must have shape \(2,\)"),
    (dict(U=np.ones(5), s=np.ones(1), V=np.ones(5)), "2-D"),
    (dict(U=np.array([[1.0], [np.nan]]), s=[1.0], V=np.ones((2, 1))), "non-finite"),
    (dict(U=np.ones((2, 1)), s=[np.inf], V=np.ones((2, 1))), "must be finite"),
    (dict(U=np.ones((2, 1)), s=[1.0], V=np.ones((2, 1)), streams="heap"), "streams"),
])
def test_bad_factors_raise_named_errors(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        LowRankOperator(**kwargs)


def test_bad_svd_arguments_raise_named_errors():
    W = ring().weights(6)
    with pytest.raises(InvalidArgumentError, match="'rank'.*exceeds N = 6"):
        LowRankOperator.from_matrix(W, 7)
    with pytest.raises(InvalidArgumentError, match="'rank'"):
        LowRankOperator.from_matrix(W, 0)
    with pytest.raises(InvalidArgumentError, match="non-finite"):
        LowRankOperator.from_matrix(np.full((3, 3), np.nan), 1)
    with pytest.raises(InvalidArgumentError, match="has N = 6"):
        low_rank_error(ring().weights(5), LowRankOperator.from_kernel(ring(), 6))


def test_operator_methods():
    N = 40
    op = LowRankOperator.from_kernel(skew(), N)
    W = skew().weights(N)
    for j in (0, 17, N - 1):
        col = op.column(j)
        col[j] = 0.0
        np.testing.assert_allclose(col, W[:, j], atol=1e-15)
    np.testing.assert_allclose(op.row_sums(), W.sum(axis=1), atol=1e-14)
    np.testing.assert_allclose(op.to_dense(), W, atol=1e-15)
    g = (np.arange(N) + 0.5) / N
    np.testing.assert_allclose(op.diagonal(), skew()(g, g) / N, atol=1e-15)
    assert op.nbytes == 2 * N * 5 * 8 + 5 * 8
    assert op.tiny().N == op.rank and op.tiny().streams == op.streams
    other = op.with_streams("per-neuron")
    assert other.streams == "per-neuron" and op.streams == "global" and other.factors is op.factors
    assert "rank=5" in repr(op)
    # the column interface of the dense path's loops (unbounded intensities): state += scale W[:, j]
    from solvers.particles import _kernels

    args = op.kernel_args()
    assert args[0] == _kernels.OP_LOWRANK and args[1].shape == (N, 10) and args[1].flags.f_contiguous
    for j in (0, 17, N - 1):
        state = np.linspace(-1.0, 1.0, N)
        want = state + 1.7 * op.column(j)
        level = np.full(N, 0.5)
        flagged = np.empty(N, dtype=np.int64)
        nf = _kernels.column_pass(args, j, 1.7, state, level, 0.25, flagged)
        np.testing.assert_allclose(state, want, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(flagged[:nf], np.flatnonzero(state > 0.75))
        again = np.linspace(-1.0, 1.0, N)
        assert _kernels.column_pass(args, j, 1.7, again, np.empty(0), 0.0, flagged) == 0
        np.testing.assert_array_equal(again, state)
        assert _kernels.column_nnz(args, j) == N * op.rank


# ------------------------------------------------------------------- loops against the dense path
@pytest.mark.parametrize("kernel", [ring(), two_block(), skew()], ids=lambda k: k.name)
def test_per_neuron_streams_give_the_dense_paths_spikes(kernel):
    N, T = 150, 4.0
    x0 = np.random.default_rng(1).uniform(-0.5, 1.5, N)
    save = [0.0, 1.3, T]
    dense = simulate(STANDARD, kernel.weights(N), T, x0, 7, save_times=save)
    low = simulate(STANDARD, LowRankOperator.from_kernel(kernel, N, streams="per-neuron"), T, x0, 7, save_times=save)
    assert dense.n_spikes > 1000
    np.testing.assert_array_equal(low.spike_neurons, dense.spike_neurons)
    np.testing.assert_array_equal(low.spike_times, dense.spike_times)  # global bound: times from the streams
    assert low.n_candidates == dense.n_candidates
    np.testing.assert_allclose(low.states, dense.states, rtol=0, atol=1e-12)
    assert low.info.operator == "LowRankOperator"


def test_per_neuron_streams_unbounded_intensity_match_the_dense_local_bounds():
    N, T = 80, 3.0
    model = NeuronModel(Leaky(1.5), Exponential(1.0, 3.0, 1.0))
    dense = simulate(model, ring().weights(N), T, 0.0, 3)
    low = simulate(model, LowRankOperator.from_kernel(ring(), N, streams="per-neuron"), T, 0.0, 3)
    assert dense.info.bound == "local" and dense.n_spikes > 100
    np.testing.assert_array_equal(low.spike_neurons, dense.spike_neurons)
    np.testing.assert_allclose(low.spike_times, dense.spike_times, rtol=1e-12)
    np.testing.assert_allclose(low.states, dense.states, atol=1e-11)


def test_global_stream_refuses_unbounded_intensity():
    model = NeuronModel(Leaky(1.0), Exponential(1.0, 3.0, 1.0))
    with pytest.raises(InvalidArgumentError, match="global candidate stream needs a bounded intensity.*per-neuron"):
        simulate(model, LowRankOperator.from_kernel(ring(), 10), 1.0, 0.0, 3)


def test_python_reference_loop_with_lowrank_weights_matches_the_compiled_per_neuron_loop():
    N, T = 40, 3.0
    op = LowRankOperator.from_kernel(skew(), N, streams="per-neuron")
    comp = simulate(STANDARD, op, T, 0.2, 5, save_times=[1.0, T])
    py = simulate(STANDARD, op, T, 0.2, 5, save_times=[1.0, T], path="python")
    assert py.path == "python" and comp.path == "compiled"
    np.testing.assert_array_equal(py.spike_neurons, comp.spike_neurons)
    np.testing.assert_array_equal(py.spike_times, comp.spike_times)
    np.testing.assert_allclose(py.states, comp.states, atol=1e-12)


@pytest.mark.parametrize("kernel", [ring(), two_block(), skew()], ids=lambda k: k.name)
def test_clock_with_lowrank_weights_matches_the_dense_clock(kernel):
    N, T = 120, 3.0
    dense = simulate(STANDARD, kernel.weights(N), T, 0.0, 2, method="clock", dt=0.01, save_times=[0.5, T])
    low = simulate(STANDARD, LowRankOperator.from_kernel(kernel, N), T, 0.0, 2, method="clock", dt=0.01,
                   save_times=[0.5, T])
    np.testing.assert_array_equal(low.spike_neurons, dense.spike_neurons)
    np.testing.assert_array_equal(low.spike_times, dense.spike_times)
    assert low.n_candidates == dense.n_candidates
    np.testing.assert_allclose(low.states, dense.states, atol=1e-12)


# ------------------------------------------------------------------- global stream: exact states
@pytest.mark.parametrize("intensity", [Constant(3.0), Sigmoid(10.0, 5.0, 1.0)], ids=["constant", "sigmoid"])
@pytest.mark.parametrize("kernel", [skew(), constant(1.3)], ids=lambda k: k.name)
def test_global_stream_states_equal_the_replay_of_its_spikes(intensity, kernel):
    N, T, I0, xr = 30, 3.0, 0.7, -0.2
    model = NeuronModel(Leaky(I0), intensity, reset=xr)
    op = LowRankOperator.from_kernel(kernel, N)
    x0 = np.linspace(-1.0, 1.2, N)
    first = simulate(model, op, T, x0, 4)
    save = np.concatenate([[0.0], first.spike_times[::7], [T]])
    res = simulate(model, op, T, x0, 4, save_times=save)  # saving does not change the run
    np.testing.assert_array_equal(res.spike_times, first.spike_times)
    W = kernel.weights(N)
    for r, t in enumerate(save):
        want = replay(W, x0, I0, xr, res.spike_times, res.spike_neurons, t)
        np.testing.assert_allclose(res.states[r], want, rtol=0, atol=1e-12)
    if isinstance(intensity, Constant):  # every candidate is accepted
        assert res.n_spikes == res.n_candidates
    # diagonal ignored: the constant kernel's factors carry W_ii = J / N != 0
    assert np.all(np.abs(op.diagonal()) > 0)


def test_global_stream_long_run_rebases_and_stays_exact():
    N, T = 6, 80.0
    model = NeuronModel(Leaky(1.5), Constant(0.05), reset=0.0)
    op = LowRankOperator.from_kernel(ring(), N)
    res = simulate(model, op, T, 0.0, 2, save_times=[40.0, T])
    assert res.n_rebases >= 1
    W = ring().weights(N)
    for r, t in enumerate([40.0, T]):
        np.testing.assert_allclose(res.states[r], replay(W, np.zeros(N), 1.5, 0.0, res.spike_times,
                                                         res.spike_neurons, t), atol=1e-12)


def test_global_stream_relabelling_equivariance_is_exact():
    N, T = 50, 3.0
    f = skew().low_rank(N)
    perm = np.random.default_rng(3).permutation(N)
    x0 = np.random.default_rng(4).uniform(0, 1, N)
    base = simulate(STANDARD, LowRankOperator(f.U, f.s, f.V), T, x0, 9)
    rel = simulate(STANDARD, LowRankOperator(f.U[perm], f.s, f.V[perm]), T, x0[perm], 9, stream_ids=perm)
    np.testing.assert_array_equal(rel.spike_times, base.spike_times)
    np.testing.assert_array_equal(perm[rel.spike_neurons], base.spike_neurons)
    np.testing.assert_allclose(rel.states[0], base.states[0][perm], rtol=0, atol=0)


def test_same_seed_same_run_other_seed_differs():
    op = LowRankOperator.from_kernel(ring(), 60)
    a, b, c = (simulate(STANDARD, op, 2.0, 0.0, s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    assert not np.array_equal(a.spike_times[:20], c.spike_times[:20])


@pytest.mark.parametrize("streams", lr.STREAMS)
def test_buffer_growth_and_chunks_do_not_change_the_run(streams):
    N, T = 70, 3.0
    op = LowRankOperator.from_kernel(skew(), N, streams=streams)
    x0 = np.linspace(0.0, 1.0, N)
    sids = np.arange(N, dtype=np.uint64)
    root = root_key(np.random.SeedSequence(11))
    keys = stream_keys(sids, root)
    rec = np.array([0.5, 1.5, T])
    args = dict(local=False, fsup=10.0, I0=1.5, xr=0.0, x0=x0, keys=keys, sids=sids, root1=root[1], t_end=T,
                record_times=rec, max_spikes=10**6, root0=root[0])
    fam = STANDARD.intensity.compiled_args()
    ref = lr.run_exact(op, fam, **args)
    small = lr.run_exact(op, fam, **args, capacity=1, chunk_work=7)  # one candidate per chunk
    assert ref.status == 0 and ref.spike_times.size > 500
    np.testing.assert_array_equal(small.spike_times, ref.spike_times)
    np.testing.assert_array_equal(small.spike_neurons, ref.spike_neurons)
    np.testing.assert_array_equal(small.states, ref.states)
    assert small.n_candidates == ref.n_candidates


def test_clock_buffer_growth_does_not_change_the_run():
    N = 50
    op = LowRankOperator.from_kernel(ring(), N)
    sids = np.arange(N, dtype=np.uint64)
    root = root_key(np.random.SeedSequence(2))
    grid = np.linspace(0.0, 2.0, 201)
    args = dict(I0=1.5, xr=0.0, x0=np.zeros(N), keys=stream_keys(sids, root), root1=root[1], grid=grid,
                record_times=np.array([2.0]), max_spikes=10**6, fsup=10.0)
    fam = STANDARD.intensity.compiled_args()
    ref = lr.run_clock(op, fam, **args)
    small = lr.run_clock(op, fam, **args, capacity=N + 1, chunk_work=1)  # one step per chunk
    assert small.n_chunks >= 200 and ref.n_chunks < 5
    np.testing.assert_array_equal(small.spike_neurons, ref.spike_neurons)
    np.testing.assert_array_equal(small.states, ref.states)


@pytest.mark.parametrize("streams", lr.STREAMS)
def test_too_many_spikes_raises(streams):
    op = LowRankOperator.from_kernel(ring(), 20, streams=streams)
    with pytest.raises(SimulationError, match="max_spikes = 5"):
        simulate(STANDARD, op, 5.0, 0.0, 1, max_spikes=5)


def test_intensity_above_its_bound_is_detected_in_the_global_loop():
    # the compiled check f(X) <= L: call the loop with a bound below sup f
    N = 10
    op = LowRankOperator.from_kernel(ring(), N)
    sids = np.arange(N, dtype=np.uint64)
    root = root_key(np.random.SeedSequence(1))
    out = lr.run_exact(op, STANDARD.intensity.compiled_args(), local=False, fsup=1.0, I0=1.5, xr=0.0,
                       x0=np.full(N, 3.0), keys=stream_keys(sids, root), sids=sids, root1=root[1], t_end=1.0,
                       record_times=np.array([1.0]), max_spikes=100, root0=root[0])
    assert out.status == lr._lr.ABOVE_BOUND and out.err_bound == 1.0 and out.err_value > 1.0


def test_low_rank_factors_reject_bad_input_directly():
    with pytest.raises(InvalidArgumentError, match="exceeds N"):
        LowRankFactors(U=np.ones((2, 3)), s=np.ones(3), V=np.ones((2, 3)))


# --------------------------------------------------------------------- the global loop's devices
def test_ziggurat_tables_have_equal_layers_that_close():
    ZX, ZK, ZF = lr.ziggurat_tables()
    r = ZX[256]
    v = (r + 1) * math.exp(-r)  # base strip plus tail
    assert ZX[0] * math.exp(-r) == pytest.approx(v, rel=1e-15) and ZX[255] == r
    assert ZX[1] * (1 - math.exp(-ZX[1])) == pytest.approx(v, rel=1e-13)  # the top layer closes
    areas = ZX[2:256] * (np.exp(-ZX[1:255]) - np.exp(-ZX[2:256]))
    np.testing.assert_allclose(areas, v, rtol=1e-12)
    np.testing.assert_allclose(ZK[2:], ZX[1:255] / ZX[2:256], rtol=1e-15)
    np.testing.assert_allclose(ZF[1:], np.exp(-ZX[1:256]), rtol=1e-15)
    assert ZK[1] == 0.0 and ZF[0] == 1.0 and ZK[0] == pytest.approx(r / ZX[0], rel=1e-15)


def test_ziggurat_draws_are_exponential():
    """Chi-square on 400 equiprobable cells of Exp(1) and the tail beyond r (``n = 2e6`` draws): under
    the null the statistic has mean 399 and s.d. 28.2; the bound 399 + 5 s.d. fails with probability
    about 1e-6; the tail count is binomial (``p = e^{-r} = 4.5e-4``), within 5 s.d."""
    from scipy import stats

    n = 2_000_000
    x = lr._lr.exponential_draws(np.uint64(0x1234567), n, *lr.ziggurat_tables())
    edges = -np.log1p(-np.arange(1, 400) / 400)
    counts = np.bincount(np.searchsorted(edges, x), minlength=400)
    chi2 = float(np.sum((counts - n / 400) ** 2 / (n / 400)))
    assert chi2 < 399 + 5 * math.sqrt(2 * 399), chi2
    p = math.exp(-lr.ziggurat_tables()[0][256])
    tail = int(np.sum(x > lr.ziggurat_tables()[0][256]))
    assert abs(tail - n * p) < 5 * math.sqrt(n * p * (1 - p)), (tail, n * p)
    assert abs(x.mean() - 1) < 5 / math.sqrt(n) and stats.kstest(x, "expon").pvalue > 1e-6


@pytest.mark.parametrize("intensity", [Sigmoid(10.0, 5.0, 1.0), Sigmoid(4.0, 40.0, 0.5), ReLU(2.0, 0.5, 3.0),
                                       Constant(2.0)], ids=["sigmoid", "steep", "relu", "constant"])
def test_intensity_table_takes_the_decisions_of_the_exact_comparison(intensity):
    N, T = 300, 3.0
    op = LowRankOperator.from_kernel(ring(), N)
    sids = np.arange(N, dtype=np.uint64)
    root = root_key(np.random.SeedSequence(21))
    args = dict(local=False, fsup=float(intensity.sup), I0=1.5, xr=0.0, x0=np.linspace(-0.5, 2.0, N),
                keys=stream_keys(sids, root), sids=sids, root1=root[1], t_end=T, record_times=np.array([T]),
                max_spikes=10**6, root0=root[0])
    fam = intensity.compiled_args()
    tab = lr.run_exact(op, fam, **args)
    exact = lr.run_exact(op, fam, **args, intensity_cells=None)
    assert tab.status == 0 and tab.spike_times.size > 300
    np.testing.assert_array_equal(tab.spike_times, exact.spike_times)
    np.testing.assert_array_equal(tab.spike_neurons, exact.spike_neurons)
    np.testing.assert_array_equal(tab.states, exact.states)


@pytest.mark.parametrize("intensity", [Constant(3.0), Sigmoid(10.0, 5.0, 1.0)], ids=["constant", "sigmoid"])
def test_polynomial_decay_between_anchors_keeps_the_states_exact(intensity):
    # N L = 6000 / 20000: candidate gaps far below the anchor span 2^-10, so the Taylor decay is used
    N, T, I0, xr = 2000, 0.6, 1.5, 0.0
    model = NeuronModel(Leaky(I0), intensity, reset=xr)
    x0 = np.linspace(0.0, 1.0, N)
    save = [0.1, 0.35, T]
    res = simulate(model, LowRankOperator.from_kernel(skew(), N), T, x0, 8, save_times=save)
    assert res.n_spikes > 2000
    W = skew().weights(N)
    for r, t in enumerate(save):
        want = replay(W, x0, I0, xr, res.spike_times, res.spike_neurons, t)
        np.testing.assert_allclose(res.states[r], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("streams", lr.STREAMS)
def test_zero_intensity_gives_no_spike_and_the_leaky_flow(streams):
    model = NeuronModel(Leaky(1.5), Constant(0.0))
    op = LowRankOperator.from_kernel(ring(), 20, streams=streams)
    res = simulate(model, op, 5.0, 0.3, 1, save_times=[1.0, 5.0])
    assert res.n_spikes == 0
    np.testing.assert_allclose(res.states, 1.5 + (0.3 - 1.5) * np.exp(-np.array([[1.0], [5.0]])) * np.ones(20),
                               rtol=0, atol=1e-15)
