"""Independent review of :mod:`solvers.graphons` against SPEC sections 2 and 8.

Kernel formulas are written out again here; degrees are checked against ``scipy.integrate.quad``,
cell averages against ``scipy.integrate.dblquad`` (or, for step kernels, against an exact refinement
on which the kernel is constant).  Statistical checks state their standard-error multiple; with the
fixed seeds used here they are deterministic.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from scipy import stats
from scipy.integrate import dblquad, quad

from solvers.errors import InvalidArgumentError
from solvers.graphons import (
    KERNELS,
    BasisFunction,
    FunctionKernel,
    SeparableTerms,
    StepKernel,
    WRandomGraph,
    alternating,
    alternating_kernel,
    build_weights,
    cell_index,
    checkerboard,
    constant,
    hub,
    labels,
    load_weights,
    named_kernel,
    random_sign,
    ring,
    skew,
    sparse_erdos_renyi,
    step_kernel,
    two_block,
    validate_weights,
    w_random,
)

# ------------------------------------------------------------------ SPEC section 8, written again
SPEC_FORMULAS = {
    "ring": lambda x, z: 1.0 + 0.5 * math.cos(2 * math.pi * (x - z)),
    "two-block": lambda x, z: 1.5 if ((x <= 0.5) == (z <= 0.5)) else 0.2,
    "constant": lambda x, z: 1.0,
    "skew": lambda x, z: 0.8 + 0.6 * x - 0.4 * z + 0.5 * math.sin(2 * math.pi * (x - z)),
    "product": lambda x, z: 2.0 * x * z,
}
RNG_POINTS = np.random.default_rng(20261126).random((2, 40))  # test points, not code under test


@pytest.mark.parametrize("name", sorted(SPEC_FORMULAS))
def test_named_kernel_values(name):
    k = named_kernel(name)
    xi, zeta = RNG_POINTS
    expected = [SPEC_FORMULAS[name](a, b) for a, b in zip(xi, zeta)]
    np.testing.assert_allclose(k(xi, zeta), expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(k.kernel(xi, zeta), expected, rtol=1e-14, atol=1e-15)
    # broadcasting: (n,1) x (1,m) -> (n,m)
    assert k(xi[:5, None], zeta[None, :7]).shape == (5, 7)
    assert k.symmetric == (name != "skew")


def test_kernel_parameters():
    k = ring(J0=0.3, J1=-2.0)
    assert k(0.1, 0.35) == pytest.approx(0.3 - 2.0 * math.cos(2 * math.pi * -0.25), abs=1e-15)
    assert k.sup == 2.3
    assert constant(J=-0.7)(0.2, 0.9) == -0.7
    tb = two_block(a=3.0, b=-1.0)
    assert tb(0.2, 0.4) == 3.0 and tb(0.2, 0.6) == -1.0 and tb(0.7, 0.6) == 3.0
    assert tb(0.5, 0.5) == 3.0 and tb(0.5, 0.5000001) == -1.0  # 1/2 closes the first block


@pytest.mark.parametrize("name", sorted(SPEC_FORMULAS))
def test_degrees_against_quad(name):
    k = named_kernel(name)
    w = SPEC_FORMULAS[name]
    pts = [0.0, 0.13, 0.5, 0.77, 1.0]
    for x in pts:
        deg = quad(lambda z, x=x: w(x, z), 0, 1, points=[0.5], epsabs=1e-13, epsrel=1e-13)[0]
        ideg = quad(lambda z, x=x: w(z, x), 0, 1, points=[0.5], epsabs=1e-13, epsrel=1e-13)[0]
        assert float(k.degree(x)) == pytest.approx(deg, abs=1e-12), (name, x)
        assert float(k.in_degree(x)) == pytest.approx(ideg, abs=1e-12), (name, x)
    assert k.degree(np.array(pts)).shape == (5,)


def test_quadrature_degree_of_a_user_kernel():
    """A FunctionKernel without closed forms uses Gauss-Legendre: spectrally accurate for analytic w."""
    func = lambda x, z: np.exp(-((x - 0.3) ** 2) * z) * np.cos(3 * z + x)  # noqa: E731 (analytic)
    k = FunctionKernel(func=func, name="user")
    for x in [0.05, 0.3, 0.9]:
        ref = quad(lambda z, x=x: float(func(x, z)), 0, 1, epsabs=1e-14)[0]
        assert float(k.degree(x)) == pytest.approx(ref, abs=1e-13)
        ref_in = quad(lambda t, x=x: float(func(t, x)), 0, 1, epsabs=1e-14)[0]
        assert float(k.in_degree(x)) == pytest.approx(ref_in, abs=1e-13)
    # sup by grid + L-BFGS-B is a lower bound attained by the kernel, close to the true sup
    g = np.linspace(0, 1, 2001)
    dense = np.abs(func(g[:, None], g[None, :])).max()
    assert dense - 1e-12 <= k.sup <= dense + 1e-3
    with pytest.raises(InvalidArgumentError, match="func"):
        FunctionKernel(func=None)


@pytest.mark.parametrize("name", sorted(SPEC_FORMULAS))
def test_sup_is_the_supremum(name):
    k = named_kernel(name)
    g = np.linspace(0, 1, 1501)
    dense = np.abs(k(g[:, None], g[None, :])).max()  # lower bound on sup |w|
    # every named kernel has Lipschitz constant <= 4.2 in each variable: the grid misses at most 4.2 * h
    assert dense - 1e-12 <= k.sup <= dense + 4.2 * (g[1] - g[0])
    expected = {"ring": 1.5, "two-block": 1.5, "constant": 1.0, "product": 2.0}
    if name in expected:
        assert k.sup == pytest.approx(expected[name], rel=1e-12)


@pytest.mark.parametrize("name,n", [("skew", 3), ("ring", 4), ("product", 3)])
def test_cell_average_against_dblquad(name, n):
    """Closed forms (ring, skew, product) are exact; a user's kernel gets 4x4 Gauss-Legendre per cell
    (next test; the skew tolerance 1e-6 dates from when skew went through that rule)."""
    k = named_kernel(name)
    w = SPEC_FORMULAS[name]
    C = k.matrix(n, "cell-average")
    tol = 1e-6 if name == "skew" else 1e-11
    for i in range(n):
        for j in range(n):
            ref = dblquad(lambda z, x: w(x, z), i / n, (i + 1) / n, j / n, (j + 1) / n, epsabs=1e-14)[0] * n * n
            assert C[i, j] == pytest.approx(ref, abs=tol), (i, j)


def test_cell_average_quadrature_order_is_8():
    """The docstring states error O(n^-8) for smooth kernels: observed order from n = 4 -> 8 on the
    skew formula given as a plain FunctionKernel (the Gauss-Legendre path; ``skew()`` itself now has
    closed-form cell averages, exact to rounding: checked too)."""
    w = SPEC_FORMULAS["skew"]
    user = FunctionKernel(func=lambda x, z: 0.8 + 0.6 * x - 0.4 * z + 0.5 * np.sin(2 * np.pi * (x - z)))
    assert not user.cell_average_exact and skew().cell_average_exact
    errs = []
    for n in (4, 8):
        C = user.matrix(n, "cell-average")
        ref = np.array([[dblquad(lambda z, x: w(x, z), i / n, (i + 1) / n, j / n, (j + 1) / n,
                                 epsabs=1e-15)[0] * n * n for j in range(n)] for i in range(n)])
        errs.append(np.abs(C - ref).max())
        assert np.abs(skew().matrix(n, "cell-average") - ref).max() < 1e-13
    order = math.log2(errs[0] / errs[1])
    assert 7.0 <= order <= 9.0, (errs, order)


def _exact_step_cell_average(values: np.ndarray, n: int) -> np.ndarray:
    """Cell averages of a step kernel on n cells via the common refinement lcm(n, m) (exact)."""
    m = values.shape[0]
    L = math.lcm(n, m)
    fine = values[np.ix_(np.arange(L) * m // L, np.arange(L) * m // L)]
    return fine.reshape(n, L // n, n, L // n).mean(axis=(1, 3))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 12])
def test_step_cell_average_exact(n):
    for k in (two_block(), StepKernel(values=np.arange(9.0).reshape(3, 3) - 3.0)):
        np.testing.assert_allclose(k.matrix(n, "cell-average"), _exact_step_cell_average(k.values, n),
                                   rtol=1e-13, atol=1e-13)


def test_matrix_midpoint_and_bad_method():
    k = skew()
    g = (np.arange(5) + 0.5) / 5
    np.testing.assert_allclose(k.matrix(5), [[SPEC_FORMULAS["skew"](a, b) for b in g] for a in g], rtol=1e-14)
    with pytest.raises(InvalidArgumentError, match="method"):
        k.matrix(5, "trapezoid")
    with pytest.raises(InvalidArgumentError, match="'n'"):
        k.matrix(0)


# ------------------------------------------------------------------------ labels, cells, weights
def test_labels_and_cell_boundaries():
    np.testing.assert_allclose(labels(4), [0.125, 0.375, 0.625, 0.875])
    for n in (3, 7, 10, 100, 1000):
        edges = np.arange(1, n + 1) / n  # right edge of cell i (1-based) closes cell i
        np.testing.assert_array_equal(cell_index(edges, n), np.arange(n))
        just_after = np.nextafter(edges[:-1], 2.0)
        np.testing.assert_array_equal(cell_index(just_after, n), np.arange(1, n))
        np.testing.assert_array_equal(cell_index(labels(n), n), np.arange(n))
    assert cell_index(0.0, 5) == 0


@pytest.mark.parametrize("name", sorted(SPEC_FORMULAS))
def test_weights_definition(name):
    k = named_kernel(name)
    N = 37
    W = k.weights(N)
    g = (np.arange(N) + 0.5) / N
    expected = np.array([[SPEC_FORMULAS[name](a, b) / N for b in g] for a in g])
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(W, expected, rtol=1e-14, atol=1e-16)
    assert np.all(np.diag(W) == 0) and W.flags.f_contiguous and W.dtype == np.float64
    W32 = k.weights(N, dtype=np.float32)
    assert W32.dtype == np.float32 and np.allclose(W32, W, rtol=1e-6, atol=1e-9)


def test_step_kernel_weights_when_sizes_match_and_differ():
    V = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0], [2.0, 2.0, -1.0]])
    k = StepKernel(values=V)
    W = k.weights(3)
    expected = V / 3
    np.fill_diagonal(expected, 0)
    np.testing.assert_array_equal(W, expected)
    W6 = k.weights(6)  # midpoint of cell a of 6 lies in cell a // 2 of 3
    idx = np.arange(6) // 2
    expected6 = V[np.ix_(idx, idx)] / 6
    np.fill_diagonal(expected6, 0)
    np.testing.assert_allclose(W6, expected6, rtol=1e-15)


def test_step_kernel_of_a_matrix_evaluates_NW_on_the_right_cells():
    N = 5
    W = np.random.default_rng(1).standard_normal((N, N)) / N
    k = step_kernel(W)
    assert isinstance(k, StepKernel) and k.n == N
    for i in range(N):  # 0-based i is the cell ((i)/N, (i+1)/N]
        for j in range(N):
            for xi in (i / N + 1e-9, (i + 0.5) / N, (i + 1) / N):
                for zeta in (j / N + 1e-9, (j + 1) / N):
                    assert k(xi, zeta) == pytest.approx(N * W[i, j], rel=1e-15)
    assert k(0.0, 0.0) == pytest.approx(N * W[0, 0])
    np.testing.assert_allclose(k.degree(labels(N)), N * W.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(k.in_degree(labels(N)), N * W.mean(axis=0), rtol=1e-14)
    assert k.sup == pytest.approx(N * np.abs(W).max())
    ks = step_kernel(sp.csr_matrix(W))
    np.testing.assert_array_equal(ks.values, k.values)
    assert not k.symmetric and step_kernel(W + W.T).symmetric


@pytest.mark.parametrize("values,match", [
    (np.ones((2, 3)), "square"), (np.ones(4), "square"), (np.zeros((0, 0)), "square"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "finite"),
])
def test_step_kernel_rejects_bad_values(values, match):
    with pytest.raises(InvalidArgumentError, match=match):
        StepKernel(values=values)


# --------------------------------------------------------------------------- named sequences
def test_checkerboard():
    N, J = 8, 0.7
    W = checkerboard(N, J=J)
    for i in range(N):
        for j in range(N):
            expected = 0.0 if i == j else J * (1 + (-1) ** ((i + 1) + (j + 1))) / N
            assert W[i, j] == pytest.approx(expected, abs=1e-16)
    # relabelled by parity: exactly the two-population kernel 2J 1{same parity} (diagonal aside)
    order = np.r_[np.arange(0, N, 2), np.arange(1, N, 2)]
    Wp = W[np.ix_(order, order)] * N
    np.testing.assert_allclose(Wp + 2 * J * np.eye(N), np.kron(np.eye(2), np.full((N // 2, N // 2), 2 * J)))


def test_random_sign():
    N, J = 300, 0.8
    W = random_sign(N, seed=5, J=J)
    off = W[~np.eye(N, dtype=bool)]
    assert np.all(np.diag(W) == 0) and np.all(np.isin(off, [J / N, -J / N]))
    # fraction of + signs: binomial, 4 standard errors (false-failure rate ~6e-5)
    frac = np.mean(off > 0)
    assert abs(frac - 0.5) <= 4 * math.sqrt(0.25 / off.size)
    np.testing.assert_array_equal(W, random_sign(N, seed=5, J=J))
    assert not np.array_equal(W, random_sign(N, seed=6, J=J))
    with pytest.raises(InvalidArgumentError, match="seed"):
        random_sign(N, seed=-1)


def test_w_random_conditional_mean_matches_the_kernel():
    """``E[N W_ij | U] = w(U_i, U_j)``: the standardised sum of residuals over all off-diagonal entries
    is within 4 standard errors (conditional variance ``M |w| - w^2``), and so is each of 4 bins of w."""
    k = ring(J0=0.0, J1=1.0)  # signed kernel, sup 1
    N = 400
    g = w_random(k, N, seed=11)
    assert isinstance(g, WRandomGraph) and g.M == 1.0 and g.kernel is k
    W, U = g.weights, g.positions
    off = ~np.eye(N, dtype=bool)
    wv = k(U[:, None], U[None, :])[off]
    NW = (N * W)[off]
    assert np.all(np.isin(np.round(NW, 12), [-1.0, 0.0, 1.0]))
    assert np.all((NW == 0) | (np.sign(NW) == np.sign(wv)))
    var = g.M * np.abs(wv) - wv ** 2
    z = np.sum(NW - wv) / math.sqrt(var.sum())
    assert abs(z) < 4, z
    edges = np.quantile(wv, [0, 0.25, 0.5, 0.75, 1.0])
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (wv >= lo) & (wv <= hi)
        z = np.sum(NW[m] - wv[m]) / math.sqrt(var[m].sum())
        assert abs(z) < 4, (lo, hi, z)
    assert np.all(np.diag(W) == 0)


def test_w_random_positions_and_permutation_are_consistent():
    # block kernel with zero off-diagonal block: W_ij != 0 only if U_i, U_j are on the same side of 1/2
    k = StepKernel(values=np.array([[1.0, 0.0], [0.0, 1.0]]))
    N = 200
    g = w_random(k, N, seed=3)
    W, U, perm = g.weights, g.positions, g.permutation
    np.testing.assert_array_equal(np.sort(perm), np.arange(N))
    assert not np.array_equal(perm, np.arange(N))  # labels really shuffled
    same = (U[:, None] <= 0.5) == (U[None, :] <= 0.5)
    assert np.all(W[~same] == 0) and np.count_nonzero(W[same]) > 0.9 * (same.sum() - N)
    # under the given labels the pattern is scrambled; sorting by positions recovers two blocks
    order = np.argsort(U)
    Ws = W[np.ix_(order, order)]
    h = int(np.sum(U <= 0.5))
    assert np.all(Ws[:h, h:] == 0) and np.all(Ws[h:, :h] == 0)
    assert np.count_nonzero(W[:h, h:]) > 0
    # un-shuffling by the permutation gives the matrix in drawing order, entries following U[inv]
    inv = np.argsort(perm)
    W0, U0 = W[np.ix_(inv, inv)], U[inv]
    same0 = (U0[:, None] <= 0.5) == (U0[None, :] <= 0.5)
    assert np.all(W0[~same0] == 0)
    # positions are i.i.d. uniform: KS test at level 1e-3
    assert stats.kstest(U, "uniform").pvalue > 1e-3
    g2 = w_random(k, N, seed=3)
    np.testing.assert_array_equal(g2.weights, W)
    np.testing.assert_array_equal(g2.permutation, perm)
    assert not np.array_equal(w_random(k, N, seed=4).positions, U)


def test_w_random_rejects_bad_kernels():
    with pytest.raises(InvalidArgumentError, match="kernel"):
        w_random(lambda x, z: x * z, 10, seed=1)
    with pytest.raises(InvalidArgumentError, match="sup"):
        w_random(constant(0.0), 10, seed=1)
    lying = FunctionKernel(func=lambda x, z: 2.0 + 0 * x * z, sup_value=1.0)
    with pytest.raises(InvalidArgumentError):
        w_random(lying, 10, seed=1)


def test_alternating():
    for N in (10, 11):
        expected = ring().weights(N) if N % 2 == 0 else two_block().weights(N)
        np.testing.assert_array_equal(alternating(N), expected)
    assert alternating_kernel(4).name == "ring" and alternating_kernel(5).name == "two-block"


def test_hub():
    N = 9
    W = hub(N)
    for i in range(N):
        for j in range(N):
            expected = 0.0 if i == j else (0.5 if j == 0 else 1.0 / N)
            assert W[i, j] == expected
    assert N * np.abs(W).max() == N / 2
    with pytest.raises(InvalidArgumentError, match="'N'"):
        hub(1)


def test_sparse_erdos_renyi():
    N = 400
    A = sparse_erdos_renyi(N, seed=2)
    assert sp.issparse(A) and A.format == "csc" and A.shape == (N, N)
    p = N ** -0.5
    assert np.all(A.diagonal() == 0)
    np.testing.assert_allclose(A.data, 1.0 / (N * p), rtol=1e-14)
    # number of stored entries: about p N^2 (diagonal removed); 4 binomial standard errors
    nnz, n_off = A.nnz, N * (N - 1)
    assert abs(nnz - p * n_off) <= 4 * math.sqrt(n_off * p * (1 - p)) + N * p
    assert N * A.max() == pytest.approx(1 / p)
    assert (A != sparse_erdos_renyi(N, seed=2)).nnz == 0
    assert (A != sparse_erdos_renyi(N, seed=3)).nnz > 0
    B = sparse_erdos_renyi(100, seed=1, p=0.3)
    np.testing.assert_allclose(B.data, 1 / 30)
    for bad in (0.0, 1.5):
        with pytest.raises(InvalidArgumentError, match="'p'"):
            sparse_erdos_renyi(10, seed=1, p=bad)


def test_build_weights_and_named_kernel_dispatch():
    np.testing.assert_array_equal(build_weights("ring", 6), ring().weights(6))
    np.testing.assert_array_equal(build_weights("two_block", 6), two_block().weights(6))
    np.testing.assert_array_equal(build_weights("checkerboard", 6, J=2.0), checkerboard(6, J=2.0))
    np.testing.assert_array_equal(build_weights("hub", 6), hub(6))
    np.testing.assert_array_equal(build_weights("random-sign", 6, seed=1), random_sign(6, seed=1))
    np.testing.assert_array_equal(build_weights("w-random", 6, seed=1, kernel="skew"),
                                  w_random(skew(), 6, seed=1).weights)
    assert (build_weights("erdos-renyi", 16, seed=1) != sparse_erdos_renyi(16, seed=1)).nnz == 0
    with pytest.raises(InvalidArgumentError, match="seed"):
        build_weights("random-sign", 6)
    with pytest.raises(InvalidArgumentError) as exc:
        build_weights("smallworld", 6)
    assert "checkerboard" in str(exc.value) and "hub" in str(exc.value)
    with pytest.raises(InvalidArgumentError) as exc:
        named_kernel("gaussian")
    for valid in KERNELS:
        assert valid in str(exc.value)
    with pytest.raises(InvalidArgumentError, match="wrong parameters"):
        named_kernel("ring", J2=1.0)


# ------------------------------------------------------------------------------ validation, IO
@pytest.mark.parametrize("W,match", [
    (np.ones((3, 4)), "square"), (np.zeros((0, 0)), "square"), (np.ones(3), "square"),
    (np.array([[0.0, np.inf], [1.0, 0.0]]), r"non-finite entry at \(0, 1\)"),
    (np.ones((2, 2), dtype=complex), "real"), (np.array([["a", "b"], ["c", "d"]]), "real"),
    (sp.csr_matrix(np.ones((2, 3))), "square"),
    (sp.csr_matrix(np.array([[0.0, np.nan], [1.0, 0.0]])), "non-finite"),
])
def test_validate_weights_rejects(W, match):
    with pytest.raises(InvalidArgumentError, match=match):
        validate_weights(W)


def test_validate_weights_types():
    assert validate_weights(np.eye(3, dtype=np.float32)).dtype == np.float32
    assert validate_weights(np.eye(3, dtype=int)).dtype == np.float64
    assert validate_weights([[0, 1], [1, 0]]).dtype == np.float64
    S = validate_weights(sp.coo_matrix(np.eye(3, dtype=int)))
    assert sp.issparse(S) and S.format == "csc" and S.dtype == np.float64


@pytest.fixture
def matrix():
    W = np.random.default_rng(7).standard_normal((6, 6)) / 6
    W[2, 3] = 0.0
    np.fill_diagonal(W, 0.0)
    return W


def _dense(A):
    return A.toarray() if sp.issparse(A) else np.asarray(A)


def test_load_weights_round_trips(tmp_path, matrix):
    W = matrix
    np.save(tmp_path / "a.npy", W)
    np.savez(tmp_path / "b.npz", W=W)
    np.savez(tmp_path / "c.npz", weights=W, other=np.ones(2))
    np.savez(tmp_path / "d.npz", W)  # single unnamed array
    np.savetxt(tmp_path / "e.csv", W, delimiter=",", fmt="%.17g")
    scipy.io.mmwrite(tmp_path / "f.mtx", W)  # dense MatrixMarket 'array'
    scipy.io.mmwrite(tmp_path / "g.mtx", sp.coo_matrix(W))  # sparse 'coordinate'
    for fmt in ("csr", "csc", "coo"):
        sp.save_npz(tmp_path / f"s_{fmt}.npz", sp.csr_matrix(W).asformat(fmt))
    sp.save_npz(tmp_path / "s_array.npz", sp.coo_array(W))
    for name in ("a.npy", "b.npz", "c.npz", "d.npz", "e.csv", "f.mtx"):
        A = load_weights(tmp_path / name)
        assert isinstance(A, np.ndarray) and A.dtype == np.float64, name
        np.testing.assert_array_equal(A, W, err_msg=name)
    for name in ("g.mtx", "s_csr.npz", "s_csc.npz", "s_coo.npz", "s_array.npz"):
        A = load_weights(str(tmp_path / name))
        assert sp.issparse(A) and A.format == "csc", name
        np.testing.assert_array_equal(_dense(A), W, err_msg=name)
    one = tmp_path / "one.csv"
    one.write_text("0.5\n")
    assert load_weights(one).shape == (1, 1)


@pytest.mark.filterwarnings("ignore:loadtxt")
def test_load_weights_errors(tmp_path, matrix):
    np.save(tmp_path / "rect.npy", np.ones((2, 3)))
    bad = matrix.copy()
    bad[1, 2] = np.nan
    np.savetxt(tmp_path / "nan.csv", bad, delimiter=",")
    (tmp_path / "empty.csv").write_text("")
    np.save(tmp_path / "W.txt", matrix)
    (tmp_path / "garbage.npy").write_bytes(b"this is not a numpy file")
    (tmp_path / "garbage.mtx").write_text("%%MatrixMarket nonsense\n1 2 3\n")
    np.savez(tmp_path / "keys.npz", A=matrix, B=matrix)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases = {
        "rect.npy": "square", "nan.csv": "finite", "empty.csv": "non-empty", "W.txt.npy": None,
        "garbage.npy": "could not be read", "garbage.mtx": "could not be read",
        "keys.npz": "none is named 'W' or 'weights'", "obj.npy": "could not be read",
        "missing.npy": "does not exist",
    }
    for name, match in cases.items():
        if match is None:
            continue
        with pytest.raises(InvalidArgumentError, match=match) as exc:
            load_weights(tmp_path / name)
        assert "Fix:" in str(exc.value), name
    np.save(tmp_path / "ok.npy", matrix)
    (tmp_path / "ok.npy").rename(tmp_path / "ok.txt")
    with pytest.raises(InvalidArgumentError, match="unknown extension '.txt'"):
        load_weights(tmp_path / "ok.txt")


def test_random_sequences_take_a_required_keyword_seed_and_keyword_options():
    """Sampled outputs require ``seed`` (keyword-only, no default); options are keyword-only; a bad
    seed is the library's error (issue 11)."""
    for call in (lambda: random_sign(10, 1), lambda: w_random(ring(), 10, 1), lambda: sparse_erdos_renyi(10, 1),
                 lambda: random_sign(10), lambda: w_random(ring(), 10), lambda: checkerboard(4, 1.0),
                 lambda: ring().weights(4, np.float32), lambda: hub(4, np.float32)):
        with pytest.raises(TypeError):
            call()
    for call in (lambda: random_sign(10, seed="x"), lambda: w_random(ring(), 10, seed=-3),
                 lambda: sparse_erdos_renyi(10, seed=2.5)):
        with pytest.raises(InvalidArgumentError, match="argument 'seed'"):
            call()
    with pytest.raises(InvalidArgumentError, match="'J'"):
        checkerboard(4, J="1")
    with pytest.raises(InvalidArgumentError, match="'J1'"):
        ring(J1="big")
    with pytest.raises(InvalidArgumentError, match="'kernel'.*sup"):
        w_random(FunctionKernel(func=lambda x, z: 2.0 + 0 * x * z, sup_value=1.0), 10, seed=1)


# ------------------------------------------------------------ separable forms and rectangle integrals
BASIS_FORMULAS = {  # written again here: value, derivative, sup |f|, sup |f'|, sup |f''|
    "one": (lambda t: 1.0, lambda t: 0.0, 1.0, 0.0, 0.0),
    "t": (lambda t: t, lambda t: 1.0, 1.0, 1.0, 0.0),
    "cos": (lambda t: math.cos(2 * math.pi * t), lambda t: -2 * math.pi * math.sin(2 * math.pi * t), 1.0,
            2 * math.pi, 4 * math.pi ** 2),
    "sin": (lambda t: math.sin(2 * math.pi * t), lambda t: 2 * math.pi * math.cos(2 * math.pi * t), 1.0,
            2 * math.pi, 4 * math.pi ** 2),
}
UNEVEN = np.array([0.0, 0.05, 0.3, 0.3001, 0.62, 1.0])
TERM_COUNTS = {"ring": 3, "skew": 5, "product": 1, "two-block": 2, "constant": 1}


@pytest.mark.parametrize("kind", sorted(BASIS_FORMULAS))
def test_smooth_basis_functions_values_integrals_and_stated_bounds(kind):
    f, df, sup, sup1, sup2 = BASIS_FORMULAS[kind]
    b = BasisFunction.smooth(kind)
    t = RNG_POINTS[0]
    np.testing.assert_allclose(b(t), [f(x) for x in t], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(b.derivative(t), [df(x) for x in t], rtol=1e-14, atol=1e-14)
    ref = [quad(f, a, c, epsabs=1e-15)[0] for a, c in zip(UNEVEN[:-1], UNEVEN[1:])]
    np.testing.assert_allclose(b.integrals(UNEVEN), ref, rtol=1e-12, atol=1e-16)
    # the 1e-4-wide cell: relative accuracy (the product forms do not cancel)
    assert b.integrals(UNEVEN)[2] == pytest.approx(ref[2], rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(b.integrals(4), [quad(f, i / 4, (i + 1) / 4)[0] for i in range(4)], atol=1e-15)
    assert (b.sup, b.sup_derivative, b.sup_second_derivative) == pytest.approx((sup, sup1, sup2), rel=1e-15)
    g = np.linspace(0, 1, 4001)  # the stated sups are attained (up to the grid)
    assert np.max(np.abs(b(g))) == pytest.approx(sup, abs=1e-6)
    assert np.max(np.abs(b.derivative(g))) == pytest.approx(sup1, abs=1e-5)


def test_step_basis_functions():
    c = BasisFunction.indicator(1, 3)
    s = BasisFunction.step([2.0, -1.0, 0.5])
    t = np.array([0.0, 1 / 3, 0.34, 2 / 3, 0.7, 1.0])
    np.testing.assert_array_equal(c(t), [0, 0, 1, 1, 0, 0])  # cells (a/n, (a+1)/n]
    np.testing.assert_array_equal(s(t), [2.0, 2.0, -1.0, -1.0, 0.5, 0.5])
    np.testing.assert_allclose(c.integrals(UNEVEN), [0.0, 0.0, 0.0, 0.62 - 1 / 3, 2 / 3 - 0.62], atol=1e-15)
    np.testing.assert_allclose(s.integrals([0, 0.5, 1]), [2.0 / 3 - 1.0 / 6, -1.0 / 6 + 0.5 / 3], atol=1e-15)
    assert not c.is_smooth and s.sup == 2.0
    with pytest.raises(InvalidArgumentError, match="no derivative"):
        s.derivative(t)
    with pytest.raises(InvalidArgumentError, match="'kind'"):
        BasisFunction.smooth("tan")
    with pytest.raises(InvalidArgumentError, match="'cell'"):
        BasisFunction.indicator(3, 3)
    assert BasisFunction.smooth("cos") == BasisFunction.smooth("cos") != BasisFunction.smooth("sin")


@pytest.mark.parametrize("name", sorted(SPEC_FORMULAS))
def test_named_kernels_state_an_exact_separable_form(name):
    """The form reproduces SPEC's formula; the factors at the labels give the kernel's midpoint matrix
    exactly as a rank-R product (the factorisation Kernel.low_rank(N) builds on)."""
    k = named_kernel(name)
    terms = k.separable_terms()
    assert isinstance(terms, SeparableTerms) and len(terms) == TERM_COUNTS[name]
    x, z = RNG_POINTS
    np.testing.assert_allclose(terms(x, z), [SPEC_FORMULAS[name](a, b) for a, b in zip(x, z)], rtol=1e-14)
    g = labels(9)
    F, G = terms.first_factors(g), terms.second_factors(g)
    assert F.shape == G.shape == (len(terms), 9)
    np.testing.assert_allclose(F.T @ G, k.matrix(9), rtol=1e-14, atol=1e-14)
    assert terms.sup_bound >= k.sup * (1 - 1e-12)
    assert terms.is_smooth == (name in ("ring", "skew", "product"))


@pytest.mark.parametrize("name", ["ring", "skew", "product"])
def test_rectangle_integrals_of_smooth_kernels_against_dblquad(name):
    k = named_kernel(name)
    w = SPEC_FORMULAS[name]
    ze = np.array([0.0, 0.4, 0.41, 1.0])
    R = k.rectangle_integrals(UNEVEN, ze)
    assert R.shape == (5, 3)
    for a in range(5):
        for b in range(3):
            ref = dblquad(lambda zz, xx: w(xx, zz), UNEVEN[a], UNEVEN[a + 1], ze[b], ze[b + 1], epsabs=1e-15)[0]
            assert R[a, b] == pytest.approx(ref, rel=1e-10, abs=1e-16), (a, b)
    np.testing.assert_allclose(k.rectangle_integrals(4, 4) * 16, k.matrix(4, "cell-average"), rtol=1e-14)


def test_rectangle_integrals_of_step_kernels_on_a_common_refinement():
    """Edges on the 1/12 grid and a kernel on thirds: the kernel is constant on the 1/12 cells."""
    V = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0], [2.0, 2.0, -1.0]])
    k = StepKernel(values=V)
    xe, ze = np.array([0, 3, 6, 10, 12]) / 12, np.array([0, 1, 8, 12]) / 12
    fine = V[np.ix_(np.arange(12) // 4, np.arange(12) // 4)] / 144.0
    ref = np.add.reduceat(np.add.reduceat(fine, [0, 3, 6, 10], axis=0), [0, 1, 8], axis=1)
    np.testing.assert_allclose(k.rectangle_integrals(xe, ze), ref, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(k.separable_terms().rectangle_integrals(xe, ze), ref, rtol=1e-13, atol=1e-16)


def test_kernels_without_a_form_say_so():
    user = FunctionKernel(func=lambda x, z: x + z)
    assert user.separable_terms() is None
    with pytest.raises(InvalidArgumentError, match="no exact rectangle integrals"):
        user.rectangle_integrals(4, 4)


@pytest.mark.parametrize("kernel", [ring(), ring(J0=0.2, J1=-0.3), named_kernel("product")])
def test_cell_averages_from_the_form_are_exactly_symmetric_for_symmetric_kernels(kernel):
    C = kernel.matrix(11, "cell-average")
    assert np.array_equal(C, C.T)
