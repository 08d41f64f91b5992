"""Property tests (hypothesis, derandomised profile of tests/conftest.py) of verification.graphs.

Oracle: the exact brute force over the 2^k sign vectors / sets of the smaller side (itself checked
against naive enumeration in tests/unit/test_graphs.py).  Brackets must contain the exact value up to
the rounding margin (relative 1e-9), for signed and unsigned matrices with sides up to 12.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.graphons import FunctionKernel, StepKernel
from verification.graphs import (
    GRAPHS,
    augmented_matrix,
    brute_force_cut_norm,
    brute_force_inf_to_one,
    cut_distance_lower_bound,
    cut_norm,
    hom_densities,
    inf_to_one_norm,
)

RTOL = 1e-9


@st.composite
def matrices(draw, max_side=12, square=False):
    n = draw(st.integers(1, max_side))
    m = n if square else draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    kind = draw(st.sampled_from(["signed", "unsigned", "sign", "sparse-signed", "rank-one", "rank-one+noise"]))
    rng = np.random.default_rng(seed)
    if kind == "signed":
        U = rng.standard_normal((n, m))
    elif kind == "unsigned":
        U = rng.random((n, m))
    elif kind == "sign":
        U = rng.choice([-1.0, 1.0], size=(n, m))
    elif kind == "sparse-signed":
        U = rng.standard_normal((n, m)) * (rng.random((n, m)) < 0.3)
    else:  # rank one: the SDP is exact, so a too-small SDP certificate would fail
        U = np.outer(rng.standard_normal(n), rng.standard_normal(m))
        if kind == "rank-one+noise":
            U += 0.1 * rng.standard_normal((n, m))
    return U * draw(st.sampled_from([1e-3, 1.0, 1e3]))


@given(matrices(), st.integers(0, 3))
def test_inf_to_one_bracket_contains_the_exact_value(U, seed):
    b = inf_to_one_norm(U, seed=seed)
    exact = brute_force_inf_to_one(U)
    assert b.contains(exact, rtol=RTOL), (b, exact)


@given(matrices(), st.integers(0, 3))
def test_cut_norm_bracket_contains_the_exact_value(U, seed):
    b = cut_norm(U, seed=seed)
    exact = brute_force_cut_norm(U)
    assert b.contains(exact, rtol=RTOL), (b, exact)


@given(matrices(square=True), st.integers(0, 2 ** 32 - 1))
def test_brackets_are_invariant_under_relabelling_and_sign(U, pseed):
    """Simultaneous relabelling U -> P U P^T and U -> -U keep the norms: the brackets of the
    transformed matrices contain the exact value of the original."""
    n = U.shape[0]
    p = np.random.default_rng(pseed).permutation(n)
    exact_box, exact_inf = brute_force_cut_norm(U), brute_force_inf_to_one(U)
    for V in (U[np.ix_(p, p)], -U):
        assert cut_norm(V).contains(exact_box, rtol=RTOL)
        assert inf_to_one_norm(V).contains(exact_inf, rtol=RTOL)
        assert brute_force_cut_norm(V) == pytest.approx(exact_box, rel=1e-12)


@given(matrices())
def test_cut_norm_and_inf_to_one_norm_are_equivalent_on_the_brackets(U):
    """||U||_box <= ||U||_{inf->1} <= 4 ||U||_box, checked on the certified sides:
    box.lower <= inf.upper and inf.lower <= 4 box.upper (and on the exact values)."""
    box, inf = cut_norm(U), inf_to_one_norm(U)
    assert box.lower <= inf.upper * (1 + RTOL)
    assert inf.lower <= 4 * box.upper * (1 + RTOL)
    eb, ei = brute_force_cut_norm(U), brute_force_inf_to_one(U)
    assert eb <= ei * (1 + 1e-12) and ei <= 4 * eb * (1 + 1e-12)


@given(matrices(max_side=7, square=True), st.integers(0, 2 ** 32 - 1))
def test_hom_densities_invariant_under_relabelling_and_equal_for_the_step_kernel(U, pseed):
    n = U.shape[0]
    p = np.random.default_rng(pseed).permutation(n)
    t = hom_densities(U)
    tp = hom_densities(U[np.ix_(p, p)])
    sk = StepKernel(values=U)
    tq = hom_densities(FunctionKernel(func=lambda x, z: sk(x, z)), panels=n, order=2)  # nodes per cell
    scale = max(1.0, float(np.max(np.abs(U)))) ** 4
    for F in GRAPHS:
        assert tp[F] == pytest.approx(t[F], rel=1e-10, abs=1e-12 * scale), F
        assert tq[F] == pytest.approx(t[F], rel=1e-10, abs=1e-12 * scale), F


@settings(max_examples=20)
@given(st.integers(2, 9), st.integers(0, 2 ** 32 - 1))
def test_kernel_cut_norm_lower_side_is_attained_by_union_of_cells(n, seed):
    """A step kernel on n cells evaluated through a finer grid (2n) has the same cut norm."""
    V = np.random.default_rng(seed).standard_normal((n, n))
    coarse = cut_norm(V)
    fine = cut_norm(np.kron(V, np.ones((2, 2))))
    exact = brute_force_cut_norm(V)
    assert coarse.contains(exact, rtol=RTOL) and fine.contains(exact, rtol=RTOL)


@given(matrices(max_side=40))
def test_sdp_dual_certificate_is_above_the_primal_value_and_tight(U):
    """Weak duality: the Burer-Monteiro factors are a feasible primal point of the Grothendieck SDP,
    so the certified dual bound must not be below their value; at a stationary point it is within
    the first shift tried (3e-4 relative) times the number of retries."""
    n, m = U.shape
    b = inf_to_one_norm(U, spectral=False)
    info = b.upper_certificate["sdp"]
    primal = info["bm_value"]
    assert b.bounds["sdp"] * n * m >= primal * (1 - 1e-12)
    assert b.bounds["sdp"] * n * m <= primal * 1.05 + 1e-12 * np.abs(U).sum()
    c = cut_norm(U, spectral=False)
    primal_aug = c.upper_certificate["sdp"]["bm_value"]
    assert c.bounds["sdp"] * 4 * n * m >= primal_aug * (1 - 1e-12)


@given(matrices(max_side=8, square=True), st.integers(0, 2 ** 32 - 1), st.booleans())
def test_counting_lemma_bound_never_exceeds_the_cut_norm_of_the_difference(U, seed, perturb_only):
    """delta_box(U, W) <= ||U - W||_box (identity coupling), so the density lower bound must not exceed
    the exact cut norm of the difference, for non-negative and signed kernels alike."""
    rng = np.random.default_rng(seed)
    n = U.shape[0]
    if perturb_only:
        W = U + 0.1 * float(np.max(np.abs(U))) * rng.standard_normal((n, n))
    else:
        W = rng.standard_normal((n, n)) * float(np.max(np.abs(U))) if np.min(U) < 0 else rng.random((n, n))
    lb = cut_distance_lower_bound(U, W)
    exact = brute_force_cut_norm(U - W)
    assert lb.value <= exact * (1 + 1e-9) + 1e-15, (lb, exact)


def _check_schur_certificate(C: np.ndarray, cert: dict, bound: float) -> None:
    """Independent check of the SDP dual certificate of the Grothendieck SDP of ``C`` (unnormalised):
    rebuild ``[[diag(a), -C/2], [-C^T/2, diag(b)]]`` and check it is positive semidefinite with
    numpy's ``eigvalsh`` in float64, up to its backward error (``32 (n + m) u ||.||_F``, u = 2^-53),
    and that its dual value ``sum a + sum b`` is the bound reported."""
    a, b = np.asarray(cert["a"]), np.asarray(cert["b"])
    n, m = C.shape
    assert a.shape == (n,) and b.shape == (m,) and np.all(a >= 0) and np.all(b >= 0)
    Z = np.block([[np.diag(a), -0.5 * C], [-0.5 * C.T, np.diag(b)]])
    margin = 32 * (n + m) * 2.0 ** -53 * float(np.linalg.norm(Z))
    assert np.linalg.eigvalsh(Z)[0] >= -margin, (np.linalg.eigvalsh(Z)[0], margin)
    assert a.sum() + b.sum() == pytest.approx(bound, rel=1e-12, abs=1e-300)


@given(matrices(max_side=12), st.integers(0, 3))
def test_sdp_upper_bound_is_above_the_exact_norm_and_the_lower_side_with_a_valid_certificate(U, seed):
    """The Schur-complement (weighted spectral) SDP bound: never below the brute-force norm nor below
    the bracket's lower side; its dual certificate is PSD when rebuilt in the test; for the cut norm
    the same holds for the Alon-Naor augmented matrix (bound / 4)."""
    n, m = U.shape
    b = inf_to_one_norm(U, seed=seed, normalize=False)
    exact = brute_force_inf_to_one(U, normalize=False)
    assert b.bounds["sdp"] >= exact * (1 - RTOL) and b.bounds["sdp"] >= b.lower
    _check_schur_certificate(U, b.upper_certificate["sdp"], b.bounds["sdp"])
    c = cut_norm(U, seed=seed, normalize=False)
    exact_box = brute_force_cut_norm(U, normalize=False)
    assert c.bounds["sdp"] >= exact_box * (1 - RTOL) and c.bounds["sdp"] >= c.lower
    _check_schur_certificate(augmented_matrix(U), c.upper_certificate["sdp"], 4 * c.bounds["sdp"])


@settings(max_examples=25)
@given(st.integers(20, 120), st.integers(20, 120), st.integers(0, 2 ** 32 - 1),
       st.sampled_from(["signed", "sign", "low-rank+noise", "zero-rows"]), st.integers(1, 400))
def test_sdp_bound_is_never_below_the_lower_side_at_any_iteration_count(n, m, seed, kind, iterations):
    """Larger matrices (no brute force): the certified SDP side is above the attained lower side
    whether or not Burer-Monteiro has converged (any multipliers give a valid certificate)."""
    rng = np.random.default_rng(seed)
    if kind == "signed":
        U = rng.standard_normal((n, m))
    elif kind == "sign":
        U = rng.choice([-1.0, 1.0], size=(n, m))
    elif kind == "low-rank+noise":
        U = rng.standard_normal((n, 2)) @ rng.standard_normal((2, m)) + 0.3 * rng.standard_normal((n, m))
    else:
        U = rng.standard_normal((n, m))
        U[rng.random(n) < 0.3] = 0.0
        U[:, rng.random(m) < 0.3] = 0.0
    b = inf_to_one_norm(U, normalize=False, sdp_iterations=iterations, spectral=False)
    assert b.bounds["sdp"] >= b.lower
    _check_schur_certificate(U, b.upper_certificate["sdp"], b.bounds["sdp"])
    c = cut_norm(U, normalize=False, sdp_iterations=iterations, spectral=False)
    assert c.bounds["sdp"] >= c.lower
