"""Relabellings that bring a weight matrix close to a kernel, and the cut-distance bracket.

For weights ``W`` (``N x N``) and a kernel ``w``, a permutation ``sigma`` gives the step kernel
``w_N^sigma`` with values ``N W[sigma][:, sigma]`` (SPEC section 2).  For each candidate ``sigma``
we bracket ``||w_N^sigma - w||_box``:

* the difference is taken against the cell average ``w_N = w.matrix(N, "cell-average")``; for sets
  that are unions of cells ``w`` and its exact cell average have the same integral, so the lower
  side ``||N W^sigma - w_N||_box`` (normalised cut norm, :func:`cut_norm`, reduced by the rounding
  of ``w_N``) is a lower bound for ``w`` itself (up to the quadrature error of 4x4 Gauss-Legendre
  cell averages for a kernel without closed-form ones); the upper side is widened by the bound of
  ``||w - w_N||_1`` of :func:`cell_average_l1_bound` (exact for step kernels, certified from the
  derivative bounds of ``ring``, ``skew``, ``product`` or of a user's kernel that states them,
  otherwise a quadrature estimate times ``l1_safety``, labelled "not certified");
* ``W``'s diagonal (zero for networks) is part of the difference: it costs at most ``sup|w| / N``.

Candidates (SPEC section 6; no single ordering works for every kernel):

``identity``        the given labels (the "no alignment" baseline);
``positions``       ``argsort(positions)`` when latent positions are known;
``degree``          sort by ``sum_j W_ij``; ``in-degree``: by ``sum_i W_ij``;
``eigenvector``     sort by the top eigenvector of the symmetrised ``(A + A^T) / 2`` (``A = N W``);
``fiedler``         sort by the Fiedler vector of the Laplacian of ``|(A + A^T) / 2|``;
``spectral-angle``  sort by the angle ``atan2(v_3, v_2)`` of the 2nd and 3rd eigenvectors (largest
                    ``|lambda|``) of the symmetrised matrix (recovers circular structure, e.g. ``ring``);
``matching``        graph matching of ``A`` to the gridded kernel,
                    ``scipy.optimize.quadratic_assignment(method="faq")`` maximising
                    ``<A^sigma, w_N>``, started from the best of the orderings above (seeded).

Every ordering is also tried reversed.  A cheap bracket (alternating lower bound, entrywise and
spectral upper bounds) screens all candidates; the ``refine`` most promising (smallest lower bound)
get the full SDP bracket.  The winner is the candidate with the smallest certified upper bound.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy.optimize import quadratic_assignment

from solvers._random import as_seed_sequence
from solvers.errors import bad_argument
from solvers.graphons import Kernel, step_values
from solvers.validation import check_choice, check_instance, check_positive, check_seed, check_vector

from ._bracket import Bracket, computed_bracket
from ._homomorphism import GRAPHS, DensityBound, cut_distance_lower_bound
from ._norms import _cell_average_l1, _check_int, cut_norm

logger = logging.getLogger(__name__)

__all__ = ["Alignment", "align", "cut_distance", "ORDERINGS"]

ORDERINGS = ("identity", "positions", "degree", "in-degree", "eigenvector", "fiedler", "spectral-angle",
             "matching")


@dataclass(frozen=True)
class Alignment:
    """Result of :func:`align`.

    Attributes
    ----------
    permutation : ndarray of int, shape (N,)
        ``sigma``: ``N * W[sigma][:, sigma]`` is close to the kernel.
    method : str
        The candidate that won (e.g. ``"fiedler-reversed"``).
    bracket : Bracket
        Bracket on ``||w_N^sigma - w||_box`` for the winner (the smallest certified upper bound).
    candidates : Mapping[str, Bracket]
        The bracket of every candidate tried (full SDP brackets for the refined ones, screening
        brackets for the others; all valid).
    permutations : Mapping[str, ndarray]
        The permutation of every candidate.
    l1_error : float
        The amount added to every upper side for ``||w - w_N||_1``: the exact value for step
        kernels, the certified bound of :func:`cell_average_l1_bound` for kernels with derivative
        bounds, ``l1_safety`` times a quadrature estimate otherwise.
    l1_certified : bool
        Whether ``l1_error`` is certified (False only for a kernel without derivative bounds).
    """

    permutation: np.ndarray
    method: str
    bracket: Bracket
    candidates: Mapping[str, Bracket] = field(repr=False)
    permutations: Mapping[str, np.ndarray] = field(repr=False)
    l1_error: float
    l1_certified: bool = True


def _symmetrised_eig(A: np.ndarray):
    S = 0.5 * (A + A.T)
    vals, vecs = sla.eigh(S, check_finite=False)
    return vals, vecs


def _fiedler(A: np.ndarray) -> np.ndarray:
    S = np.abs(0.5 * (A + A.T))
    L = np.diag(S.sum(axis=1)) - S
    vals, vecs = sla.eigh(L, subset_by_index=[0, min(1, L.shape[0] - 1)], check_finite=False)
    return vecs[:, -1]


def _orderings(A: np.ndarray, which: Sequence[str], positions) -> dict[str, np.ndarray]:
    N = A.shape[0]
    out: dict[str, np.ndarray] = {}

    def add(name, key):
        p = np.argsort(key, kind="stable")
        out[name] = p
        out[name + "-reversed"] = p[::-1].copy()

    if "identity" in which:
        out["identity"] = np.arange(N)
    if "positions" in which and positions is not None:
        add("positions", positions)
    if "degree" in which:
        add("degree", A.sum(axis=1))
    if "in-degree" in which:
        add("in-degree", A.sum(axis=0))
    if N >= 3 and any(k in which for k in ("eigenvector", "spectral-angle")):
        vals, vecs = _symmetrised_eig(A)
        if "eigenvector" in which:
            add("eigenvector", vecs[:, -1])
        if "spectral-angle" in which:
            order = np.argsort(np.abs(vals))[::-1]
            add("spectral-angle", np.arctan2(vecs[:, order[2]], vecs[:, order[1]]))
    if N >= 2 and "fiedler" in which:
        add("fiedler", _fiedler(A))
    # drop duplicates (keep the first name)
    seen: dict[bytes, str] = {}
    uniq = {}
    for k, p in out.items():
        key = p.tobytes()
        if key not in seen:
            seen[key] = k
            uniq[k] = p
    return uniq


def _widen(br: Bracket, amount: float, lower_cut: float, note: str) -> Bracket:
    """``br`` for ``N W^sigma - w_N`` turned into a bracket for ``N W^sigma - w``: upper side plus the
    L1 bound, lower side minus the deviation of the computed cell averages from the exact ones."""
    if amount <= 0 and lower_cut <= 0:
        return br
    bounds = dict(br.bounds)
    bounds["cell-average-l1"] = amount
    return computed_bracket(max(br.lower - lower_cut, 0.0), br.upper + amount, br.lower_method,
                            br.upper_method + note, br.lower_certificate, br.upper_certificate, bounds)


def align(W, kernel: Kernel, *, method: str = "best", positions=None, seed=0, refine: int = 2,
          restarts: int = 16, sdp_iterations: int = 300, matching_iterations: int = 30,
          l1_safety: float = 1.25) -> Alignment:
    """Find a relabelling of ``W`` close to ``kernel`` and bracket ``||w_N^sigma - w||_box``.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Network weights (``O(1/N)`` entries); the step kernel is ``N W``.
    kernel : solvers.graphons.Kernel
        The target ``w`` (continuous or step).
    method : str, keyword-only
        ``"best"`` (every ordering of :data:`ORDERINGS` that applies, then matching) or one name
        of :data:`ORDERINGS` (that candidate and its reverse only).
    positions : array_like, shape (N,), optional
        Known latent positions (``WRandomGraph.positions``): adds the ``positions`` candidate.
    seed : int or SeedSequence, default 0
        Fixes only the restarts of the searches (the start of the graph matching, the random starts
        of the cut-norm searches); every bracket is certified whatever the seed.
    refine : int
        Number of screened candidates that get the full SDP bracket.
    restarts, sdp_iterations : int
        Passed to :func:`cut_norm`.
    matching_iterations : int
        ``maxiter`` of the FAQ graph matching.
    l1_safety : float
        Factor on the quadrature estimate of ``||w - w_N||_1`` for a kernel without derivative bounds.

    Returns
    -------
    Alignment
    """
    A = step_values(W, "W")  # N W, the values of the step kernel
    N = A.shape[0]
    check_instance("kernel", kernel, Kernel, "pass e.g. ring()")
    method = check_choice("method", method, ("best",) + ORDERINGS,
                          f"use 'best' or one of {list(ORDERINGS)} (unknown alignment method)")
    if positions is not None:
        positions = check_vector("positions", positions, N, what="positions",
                                 fix="pass the latent positions of the N neurons (WRandomGraph.positions)")
    elif method == "positions":
        raise bad_argument("positions", None, "method 'positions' needs the latent positions", "pass positions=...")
    refine = _check_int("refine", refine, 1)
    matching_iterations = _check_int("matching_iterations", matching_iterations, 1)
    l1_safety = check_positive("l1_safety", l1_safety)
    ss = as_seed_sequence(seed)
    s_match, s_cut = ss.spawn(2)
    target = kernel.matrix(N, "cell-average")
    l1 = _cell_average_l1(kernel, N, target, l1_safety)
    widen = l1.value
    note = "" if widen == 0 else f" + L1 distance to the cell average ({l1.method})"

    which = ORDERINGS if method == "best" else (method,)
    perms = _orderings(A, which, positions)

    def bracket(p, full):
        D = A[np.ix_(p, p)] - target
        if full:
            br = cut_norm(D, seed=s_cut, restarts=restarts, sdp=True, sdp_iterations=sdp_iterations)
        else:
            br = cut_norm(D, seed=s_cut, restarts=4, sdp=False, spectral=True)
        return _widen(br, widen, l1.cell_error, note)

    screened = {k: bracket(p, False) for k, p in perms.items()}
    if "matching" in which and N >= 2:
        start = min(screened, key=lambda k: screened[k].lower) if screened else None
        P0 = "barycenter"
        if start is not None:
            P0 = np.zeros((N, N))
            P0[np.arange(N), perms[start]] = 1.0
        res = quadratic_assignment(target, A, method="faq",
                                   options={"maximize": True, "P0": P0, "maxiter": matching_iterations,
                                            "rng": np.random.default_rng(s_match)})
        p = np.asarray(res.col_ind, dtype=np.int64)
        perms["matching"] = p
        screened["matching"] = bracket(p, False)
    order = sorted(screened, key=lambda k: (screened[k].lower, screened[k].upper))
    results = dict(screened)
    for k in order[:refine]:
        results[k] = bracket(perms[k], True)
    win = min(results, key=lambda k: (results[k].upper, results[k].lower))
    logger.info("align: %s wins with %s", win, results[win])
    return Alignment(permutation=perms[win], method=win, bracket=results[win], candidates=results,
                     permutations=perms, l1_error=widen, l1_certified=l1.certified)


def cut_distance(W, kernel: Kernel, *, positions=None, seed=0, method: str = "best",
                 graphs: Sequence[str] = GRAPHS, **align_options: Any) -> Bracket:
    """Bracket on ``delta_box(w_N, w)`` for weights ``W`` (step kernel ``N W``) and a kernel ``w``.

    Lower side: :func:`cut_distance_lower_bound` (homomorphism densities, relabelling-invariant);
    upper side: the best certified ``||w_N^sigma - w||_box`` of :func:`align`.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Network weights.
    kernel : solvers.graphons.Kernel
    positions, seed, method, **align_options
        Keyword-only, passed to :func:`align` (``seed=0`` fixes only the restarts of its searches).
    graphs : sequence of str
        Graphs of the density lower bound.

    Returns
    -------
    Bracket
        ``lower_certificate = {"graph": F, "table": ...}``; ``upper_certificate`` holds the
        permutation and the alignment method.
    """
    A = step_values(W, "W")
    check_seed(seed)
    lb: DensityBound = cut_distance_lower_bound(A, kernel, graphs=graphs)
    al = align(W, kernel, method=method, positions=positions, seed=seed, **align_options)
    up = al.bracket.upper
    lower = min(lb.value, up)
    bounds = {"homomorphism": lb.value, "alignment-lower": al.bracket.lower, "alignment-upper": up}
    return computed_bracket(lower, up, f"homomorphism densities (graph {lb.graph})",
                            f"alignment '{al.method}': {al.bracket.upper_method}",
                            {"graph": lb.graph, "table": lb.table},
                            {"permutation": al.permutation, "method": al.method, "alignment": al}, bounds)
