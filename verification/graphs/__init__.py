"""Graph limits toolkit: certified cut-norm and cut-distance brackets, homomorphism densities and
alignment of weight matrices to kernels (SPEC section 6).

Everything returns a :class:`Bracket` (``lower``, ``upper`` and the method and certificate of each
side) rather than a bare estimate.  Against a continuous kernel the upper sides are widened by the
L1 distance to its cell average, certified from the kernel's derivative bounds
(:func:`cell_average_l1_bound`; a kernel without them gets an estimate labelled "not certified").
Options are keyword-only; ``seed=0`` of the searches fixes only their restarts (the brackets are
certified whatever the seed).  Submodules: ``_norms`` (infinity-to-one norm, cut norm, brute
force), ``_homomorphism`` (densities ``t(F, W)``, cut-distance lower bound), ``_alignment``
(relabellings, cut-distance bracket), ``_lowrank`` (the error of a low-rank approximation of
weights: operator-norm and cut-norm brackets of the remainder).

Conventions: a matrix passed to the norms and densities holds the *values of a step kernel* (the
norms are normalised by ``n m`` unless ``normalize=False``); network weights ``W`` enter as ``N W``
(``align`` and ``cut_distance`` take ``W`` itself and multiply, by
:func:`solvers.graphons.step_values`).  ``W_ij`` is the edge ``j -> i``.

Example::

    >>> from solvers.graphons import checkerboard, StepKernel
    >>> from verification.graphs import cut_norm, align
    >>> N = 100
    >>> b = cut_norm(N * checkerboard(N) - 1.0)          # a Bracket; contains 1/4 (diagonal aside)
    >>> al = align(checkerboard(N), StepKernel(values=[[2.0, 0.0], [0.0, 2.0]]))
    >>> al.method, al.bracket.upper <= 2.0 / N + 1e-12  # parity relabelling found
    ('eigenvector', True)

Performance: the sign searches and the SDP are BLAS-bound; on a shared machine OpenBLAS threads can
be much slower than ``OPENBLAS_NUM_THREADS=1`` (measured: 165 s vs 21 s for this package's tests).
"""
from ._alignment import ORDERINGS, Alignment, align, cut_distance
from ._bracket import Bracket
from ._homomorphism import EDGE_COUNTS, GRAPHS, DensityBound, cut_distance_lower_bound, hom_densities, hom_density
from ._lowrank import LowRankApproximation, LowRankError, low_rank_approximation, low_rank_error
from ._norms import (
                            L1Bound,
                            augmented_matrix,
                            brute_force_cut_norm,
                            brute_force_inf_to_one,
                            cell_average_l1_bound,
                            cell_average_l1_error,
                            cut_norm,
                            inf_to_one_norm,
                            spectral_norm_upper,
)

__all__ = [
    "Bracket",
    "inf_to_one_norm",
    "cut_norm",
    "brute_force_inf_to_one",
    "brute_force_cut_norm",
    "augmented_matrix",
    "spectral_norm_upper",
    "cell_average_l1_error",
    "cell_average_l1_bound",
    "L1Bound",
    "hom_density",
    "hom_densities",
    "GRAPHS",
    "EDGE_COUNTS",
    "DensityBound",
    "cut_distance_lower_bound",
    "Alignment",
    "align",
    "cut_distance",
    "ORDERINGS",
    "LowRankError",
    "LowRankApproximation",
    "low_rank_error",
    "low_rank_approximation",
]
