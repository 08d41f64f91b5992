"""Synaptic operators: how a spike of neuron ``j`` reaches the other neurons.

A spike of ``j`` adds ``scale * W[:, j]`` to a state vector (``W_jj`` is then overwritten by the
reset, so the diagonal is never used).  The event loops only ever ask an operator for this one
operation, "add column ``j`` times ``scale``", optionally fused with a comparison of the updated
entries with per-neuron levels (the unbounded-intensity path lists the neurons a kick took above the
allowance of their bound, see :mod:`solvers.particles.exact`).

Kinds: :class:`DenseOperator` (a matrix), :class:`SparseOperator` (CSC), the low-rank
:class:`~solvers.particles.LowRankOperator` (``U diag(s) V^T / N``: its own ``O(R)`` loops for bounded
intensities, this column interface, ``O(N R)`` per spike, for the unbounded ones) and the on-the-fly
:class:`~solvers.particles.OnTheFlyOperator` (``w(xi_i, xi_j) / N`` evaluated for the firing column,
no ``N x N`` memory).

How an operator reaches compiled code
    :meth:`SynapticOperator.kernel_args` returns a tuple of fixed slots ``(tag, dense, data,
    indices, indptr, kpar, kxi, kcell, kint)`` (unused slots are empty arrays of the right type; the
    last four are the on-the-fly kernel's parameters, labels, cells and ``(family, cells, address)``).
    The loops pass the tuple unopened to two compiled functions of :mod:`solvers.particles._kernels`,
    the only ones that read the weights: ``column_pass(op, j, scale, state, level, shift, flagged)``
    (the add, and with a non-empty ``level`` the fused check ``state[i] > level[i] + shift``) and
    ``column_nnz(op, j)`` (work of a spike in the budget of a chunk).  Each has one branch per ``tag``.

Adding an operator kind
    1. a subclass here (or in a module of its own) with a new tag (``OP_*`` in ``_kernels``),
       ``kernel_args``, ``column`` (dense column for the Python reference loops), ``tiny`` (a small
       operator of the same numba types, to compile untimed), ``nbytes`` and ``row_sums``;
    2. one branch in ``column_pass`` (add ``scale * column`` to ``state``; when ``level`` is not empty
       also write each updated row ``i`` with ``state[i] > level[i] + shift`` to ``flagged``, in
       increasing order, and return their number; rows it does not update may be skipped) and one in
       ``column_nnz``;
    3. if its arrays do not fit the existing slots, a new slot at the end of the tuple, returned as an
       empty array by the other operators' ``kernel_args`` (:data:`EMPTY_KERNEL_SLOTS`; only
       ``column_pass``/``column_nnz`` read slots, so no loop changes).
    Nothing in :func:`solvers.particles.simulate`, the loops or the chunk driver changes.  Add the
    kind to the weight parametrizations of the tests that compare the compiled loops with the Python
    reference loop (``tests/unit/test_particles.py``, ``test_particles_unbounded.py``) and of the
    chunking test (``test_particles_chunks.py``).

Dense weights are kept in their dtype (float32 or float64) and in Fortran order (columns
contiguous); an array already in Fortran order is used without a copy, a C-ordered one is copied
once.  Sparse weights are scipy CSC matrices (other sparse formats are converted once).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvers.graphons import validate_weights
from solvers.particles._kernels import OP_DENSE, OP_SPARSE

__all__ = ["SynapticOperator", "DenseOperator", "SparseOperator", "make_operator",
           "OP_DENSE", "OP_SPARSE", "EMPTY_KERNEL_SLOTS"]

log = logging.getLogger(__name__)

#: the on-the-fly slots ``(kpar, kxi, kcell, kint)`` of the operators that do not use them
EMPTY_KERNEL_SLOTS = (np.empty(0), np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


class SynapticOperator:
    """Abstract operator ``W`` (``N x N``): ``state += scale * W[:, j]``.

    Attributes
    ----------
    N : int
        Number of neurons.
    dtype : numpy.dtype
        Storage dtype of the weights (the state is always float64).
    nbytes : int
        Memory held by the weights.
    """

    tag: int = -1
    N: int
    dtype: np.dtype

    def kernel_args(self) -> tuple:
        """``(tag, dense, data, indices, indptr, kpar, kxi, kcell, kint)`` for the compiled loops
        (unused slots are empty arrays of the right type; see the module docstring)."""
        raise NotImplementedError

    def column(self, j: int) -> np.ndarray:
        """Column ``j`` as a dense float64 vector (for tests and the reference loop)."""
        raise NotImplementedError

    def tiny(self) -> SynapticOperator:
        """A small zero operator of the same kind, dtypes and array layouts (compiles / loads the loops
        untimed).  Its size is ``tiny().N`` (the warm-up passes states of that length)."""
        raise NotImplementedError

    def add_column(self, state: np.ndarray, j: int, scale: float = 1.0) -> None:
        """``state += scale * W[:, j]`` in Python (reference path; the diagonal included)."""
        state += scale * self.column(j)

    @property
    def nbytes(self) -> int:
        raise NotImplementedError

    def row_sums(self) -> np.ndarray:
        """``sum_j W_ij`` without the diagonal, shape ``(N,)``."""
        raise NotImplementedError


class DenseOperator(SynapticOperator):
    """Dense weights, Fortran order, float32 or float64."""

    tag = OP_DENSE

    def __init__(self, W: np.ndarray):
        if not W.flags.f_contiguous:
            log.info("copying a C-ordered %s weight matrix of shape %s to Fortran order", W.dtype, W.shape)
        self.W = np.asfortranarray(W)
        self.N = self.W.shape[0]
        self.dtype = self.W.dtype
        self._empty_data = np.empty(0, dtype=self.dtype)
        self._empty_idx = np.empty(0, dtype=np.int32)

    def kernel_args(self):
        return (self.tag, self.W, self._empty_data, self._empty_idx, self._empty_idx, *EMPTY_KERNEL_SLOTS)

    def column(self, j: int) -> np.ndarray:
        return self.W[:, j].astype(np.float64)

    def tiny(self) -> DenseOperator:
        # 2 x 2, not 1 x 1: numba types a 1 x 1 array as C-contiguous (both flags are set), which is a
        # different signature from the F-ordered weights and left the real compile in the timed region.
        n = min(2, self.N)
        return DenseOperator(np.zeros((n, n), dtype=self.dtype, order="F"))

    @property
    def nbytes(self) -> int:
        return int(self.W.nbytes)

    def row_sums(self) -> np.ndarray:
        return self.W.sum(axis=1, dtype=np.float64) - np.diag(self.W).astype(np.float64)


class SparseOperator(SynapticOperator):
    """Sparse weights in CSC format (duplicates summed, indices as stored by scipy)."""

    tag = OP_SPARSE

    def __init__(self, W: sp.spmatrix | sp.sparray):
        W = W.tocsc()
        if not W.has_canonical_format:
            W = W.copy()
            W.sum_duplicates()
        self.W = W
        self.N = W.shape[0]
        self.dtype = W.dtype
        self._empty_dense = np.empty((0, 0), dtype=self.dtype, order="F")

    def kernel_args(self):
        W = self.W
        return (self.tag, self._empty_dense, W.data, W.indices, W.indptr, *EMPTY_KERNEL_SLOTS)

    def tiny(self) -> SparseOperator:
        W = sp.csc_matrix((np.zeros(1, dtype=self.dtype), np.zeros(1, dtype=self.W.indices.dtype),
                           np.array([0, 1], dtype=self.W.indptr.dtype)), shape=(1, 1))
        return SparseOperator(W)

    def column(self, j: int) -> np.ndarray:
        out = np.zeros(self.N)
        lo, hi = self.W.indptr[j], self.W.indptr[j + 1]
        out[self.W.indices[lo:hi]] = self.W.data[lo:hi]
        return out

    @property
    def nbytes(self) -> int:
        W = self.W
        return int(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes)

    def row_sums(self) -> np.ndarray:
        return np.asarray(self.W.sum(axis=1), dtype=np.float64).ravel() - self.W.diagonal().astype(np.float64)


def make_operator(weights: Any, name: str = "weights") -> SynapticOperator:
    """Validate ``weights`` (dense array, scipy sparse matrix or an operator) and wrap it."""
    if isinstance(weights, SynapticOperator):
        return weights
    W = validate_weights(weights, name)
    if sp.issparse(W):
        return SparseOperator(W)
    return DenseOperator(W)
