"""Property tests (hypothesis) for kernels and step kernels of :mod:`solvers.graphons`."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.integrate import quad

from solvers.graphons import KERNELS, StepKernel, labels, named_kernel, step_kernel

finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0)
sizes = st.integers(min_value=1, max_value=8)


@st.composite
def matrices(draw, max_n=8):
    n = draw(st.integers(min_value=1, max_value=max_n))
    return draw(arrays(np.float64, (n, n), elements=finite))


@st.composite
def matrices_and_permutations(draw):
    W = draw(matrices())
    perm = np.array(draw(st.permutations(range(W.shape[0]))), dtype=np.int64)
    return W, perm


@given(matrices(), unit)
def test_step_degree_is_the_row_integral(V, xi):
    """``degree(xi) = int_0^1 w(xi, zeta) dzeta``, computed here as the exact sum of cell values
    times cell lengths along the row containing ``xi`` (midpoints identify the cells)."""
    k = StepKernel(values=V)
    n = V.shape[0]
    row = k(np.full(n, xi), labels(n))
    assert np.isclose(k.degree(xi), row.sum() / n, rtol=1e-12, atol=1e-12)
    col = k(labels(n), np.full(n, xi))
    assert np.isclose(k.in_degree(xi), col.sum() / n, rtol=1e-12, atol=1e-12)


@given(st.sampled_from(sorted(KERNELS)), unit)
def test_named_degree_is_the_row_integral(name, xi):
    """Closed-form degrees against adaptive quadrature of the kernel itself."""
    k = named_kernel(name)
    ref = quad(lambda z: float(k(xi, z)), 0.0, 1.0, points=[0.5], epsabs=1e-12)[0]
    assert np.isclose(k.degree(xi), ref, rtol=0, atol=1e-10)
    ref_in = quad(lambda x: float(k(x, xi)), 0.0, 1.0, points=[0.5], epsabs=1e-12)[0]
    assert np.isclose(k.in_degree(xi), ref_in, rtol=0, atol=1e-10)


@given(matrices_and_permutations(), unit, unit)
def test_step_kernel_relabelling(Wp, xi, zeta):
    """Relabelling ``W -> W[sigma][:, sigma]`` moves the step kernel's cells: the value on cells
    ``(a, b)`` of the relabelled kernel is the value on ``(sigma[a], sigma[b])`` of the original."""
    W, perm = Wp
    n = W.shape[0]
    k = step_kernel(W)
    kp = step_kernel(W[np.ix_(perm, perm)])
    a, b = min(int(xi * n), n - 1), min(int(zeta * n), n - 1)  # some cell pair, probed at midpoints
    assert kp((a + 0.5) / n, (b + 0.5) / n) == k((perm[a] + 0.5) / n, (perm[b] + 0.5) / n)
    assert kp((a + 0.5) / n, (b + 0.5) / n) == n * W[perm[a], perm[b]]
    # degrees are permuted, the integral and the sup are invariant
    np.testing.assert_allclose(kp.degree(labels(n)), k.degree(labels(n))[perm], rtol=1e-12, atol=1e-12)
    assert np.isclose(kp.values.mean(), k.values.mean(), rtol=1e-12, atol=1e-12)
    assert kp.sup == k.sup


@given(st.sampled_from(sorted(KERNELS)), st.integers(min_value=2, max_value=40))
def test_step_kernel_of_kernel_weights_recovers_the_grid_values(name, N):
    """``step_kernel(kernel.weights(N))`` equals ``w(xi_i, xi_j)`` at the labels, off the diagonal."""
    k = named_kernel(name)
    g = labels(N)
    sk = step_kernel(k.weights(N))
    got = sk(g[:, None], g[None, :])
    want = k(g[:, None], g[None, :])
    off = ~np.eye(N, dtype=bool)
    np.testing.assert_allclose(got[off], want[off], rtol=1e-13, atol=1e-14)
    assert np.all(np.diag(got) == 0)


@given(matrices(max_n=5), st.integers(min_value=1, max_value=12))
def test_cell_average_preserves_the_integral(V, n):
    """Cell averages on any grid keep ``int int w`` (exact for step kernels) and stay within the range."""
    k = StepKernel(values=V)
    C = k.matrix(n, "cell-average")
    assert np.isclose(C.mean(), V.mean(), rtol=1e-12, atol=1e-12)
    assert C.max() <= V.max() + 1e-12 and C.min() >= V.min() - 1e-12
