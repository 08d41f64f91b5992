r"""On-the-fly weights ``W_ij = w(xi_i, xi_j) / N``: the firing column evaluated when it is needed.

For kernels that are neither low-rank nor worth storing (``N = 10^5`` dense weights need 80 GB),
:class:`OnTheFlyOperator` keeps only the labels ``xi_i`` (``O(N)`` memory) and, at a spike of ``j``,
evaluates ``w(xi_i, xi_j) / N`` for every ``i`` in compiled code, inside the same fused column pass
the dense path uses (:func:`solvers.particles._kernels.column_pass`, branch ``OP_KERNEL``): ``O(N)``
kernel evaluations per spike, nothing of size ``N x N`` ever exists.  It is accepted by
:func:`solvers.particles.simulate` wherever a matrix is (exact and clock methods, bounded and
unbounded intensities, compiled and Python paths, saved states, ``stream_ids``), and runs in the
dense path's chunked loops (Ctrl-C, ``max_wall_time``, progress bar).

The diagonal ``w(xi_j, xi_j) / N`` is added by the pass and then overwritten by the reset (SPEC
section 1: the reset wins), as for dense weights; :meth:`OnTheFlyOperator.row_sums` leaves it out.

Same random streams as the dense path, so the same spikes
    The loops are the dense path's, with the same per-neuron streams, so a run with
    ``OnTheFlyOperator(kernel, N)`` and one with ``kernel.weights(N)`` draw the same candidates and
    uniforms.  The column values agree to rounding: the compiled expressions are those of
    :mod:`solvers.graphons` in the same order of operations (``step`` kernels, ``two-block``,
    ``constant`` and ``product`` give the same bits; ``skew`` the same up to the last-bit differences
    between libm's and numpy's ``sin``; the dense ``ring`` is built by a rank-3 product, a few ulps
    away).  So the potentials agree to rounding (``~1e-15``) and the spikes are identical unless a
    uniform falls within rounding of an acceptance threshold (tested).

Kernels
    * every named kernel (:func:`solvers.graphons.ring` with its ``J0, J1``, ``skew``, ``product``,
      and every :class:`~solvers.graphons.StepKernel`: ``two-block``, ``constant``, a user's step
      values), through :meth:`~solvers.graphons.Kernel.compiled_form`, evaluated inline (no call);
    * a user's kernel: a :class:`~solvers.graphons.FunctionKernel` or a plain function
      ``w(x, z) -> float`` of two floats that numba can compile (``math``/``numpy`` scalar operations;
      a Python function, a function jitted by numba's ``njit``, or a numba C callback, ``cfunc``, of
      signature ``float64(float64, float64)``).  It is compiled once per process as a C callback
      (:func:`solvers._compiled.cfunc`, about 0.1 s, never cached on disk) and called through its
      address, which the operator passes to the loops as data.

    Why an address and not a numba function argument or a registry: a jitted function passed as an
    argument is part of the loop's type signature, so every user kernel would recompile the whole
    event loop (tens of seconds) in every process, with no on-disk cache; a registry of compiled
    kernels would have to be compiled into the loops, so adding one would invalidate them all.  With
    the address the loops are compiled once, cached on disk like every other loop, and a new kernel
    costs only its own compilation.  The price is one indirect (not inlined) call per entry, a few
    percent of a cosine's cost (``benchmarks/particles.py`` shows both rows).  The operator keeps a
    reference to the callback for as long as it lives.

Labels
    ``xi_i = (i + 1/2) / N`` (SPEC section 2) by default; any positions in ``[0, 1]`` may be given
    (``labels=``, e.g. latent positions ``U_i``), and step kernels then use the cells containing them
    (:func:`solvers.graphons.cell_index`).

Cost per spike: ``N`` kernel evaluations (a cosine, ``ring`` and ``skew``: about 10 ns each on one
core; a table read, step kernels: about 1 ns), against one memory read per entry for dense weights.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers._compiled import cfunc
from solvers.errors import bad_argument
from solvers.graphons import FunctionKernel, Kernel, cell_index, labels
from solvers.particles._kernels import (
    KER_PRODUCT,
    KER_RING,
    KER_SKEW,
    KER_STEP,
    KER_USER,
    OP_KERNEL,
    weight_column,
    weight_row_sums,
)
from solvers.particles.operators import SynapticOperator
from solvers.validation import check_int, check_vector

__all__ = ["OnTheFlyOperator", "KERNEL_SIGNATURE"]

log = logging.getLogger(__name__)

#: the C signature of a user's kernel
KERNEL_SIGNATURE = "float64(float64, float64)"
_FAMILIES = {"ring": KER_RING, "skew": KER_SKEW, "product": KER_PRODUCT, "step": KER_STEP}
_FIX = ("write w(x, z) for two floats with math or numpy scalar operations (e.g. lambda x, z: math.exp(-abs(x - z))), "
        "or pass dense weights kernel.weights(N)")


def _numba_kinds() -> tuple[type, type]:
    from numba.core.ccallback import CFunc
    from numba.core.registry import CPUDispatcher

    return CFunc, CPUDispatcher


def compile_kernel(func: Callable, name: str = "kernel") -> Any:
    """A user's scalar kernel ``w(x, z) -> float`` as a numba C callback of signature
    :data:`KERNEL_SIGNATURE` (a numba ``cfunc`` of that signature is returned as it is).

    Raises
    ------
    InvalidArgumentError
        ``func`` is not callable, is a ``cfunc`` of another signature, or numba cannot compile it.
    """
    CFunc, CPUDispatcher = _numba_kinds()
    if isinstance(func, CFunc):
        from numba.core import types

        sig = func._sig
        if tuple(sig.args) != (types.float64, types.float64) or sig.return_type != types.float64:
            raise bad_argument(name, func, f"is a numba cfunc of signature {sig}, not {KERNEL_SIGNATURE}",
                               f"compile it with numba cfunc('{KERNEL_SIGNATURE}') or pass the Python function")
        return func
    if not callable(func):
        raise bad_argument(name, func, "must be a Kernel or a function w(x, z) -> float", _FIX)
    target = func
    if isinstance(func, CPUDispatcher):
        jitted = func

        def target(x, z):  # a closure over the dispatcher: numba calls it as compiled code
            return jitted(x, z)
    try:
        return cfunc(KERNEL_SIGNATURE, target)
    except Exception as exc:  # noqa: BLE001 - numba raises many kinds (typing, lowering, unsupported)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise bad_argument(name, func, f"numba cannot compile it as w(x: float, z: float) -> float ({first})",
                           _FIX) from None


class OnTheFlyOperator(SynapticOperator):
    """Weights ``W_ij = w(xi_i, xi_j) / N`` evaluated for the firing column (module docstring).

    Parameters
    ----------
    kernel : Kernel or callable
        A named kernel (``ring()``, ``skew()``, ``product()``, ``two_block()``, ``constant()``, any
        :class:`~solvers.graphons.StepKernel`), a :class:`~solvers.graphons.FunctionKernel` whose
        function numba can compile on two floats, or such a function itself (Python, numba ``njit``
        or a numba ``cfunc`` of signature ``float64(float64, float64)``).
    N : int
        Number of neurons, ``>= 1``.
    labels : array_like (N,), keyword, optional
        Positions ``xi_i`` in ``[0, 1]``; default ``(i + 1/2) / N``.

    Attributes
    ----------
    N : int
    family : str
        ``"ring"``, ``"skew"``, ``"product"``, ``"step"`` or ``"user"``.
    kernel : Kernel or callable
        What was given.
    labels : ndarray (N,)

    Raises
    ------
    InvalidArgumentError
        A bad ``N`` or ``labels``, a function numba cannot compile, or a kernel that is not finite at
        the labels (checked on three columns).
    """

    tag = OP_KERNEL

    def __init__(self, kernel: Any, N: int, *, labels: Any = None):
        N = check_int("N", N, 1, "pass the number of neurons, e.g. N=10000")
        if labels is None:
            xi = _labels(N)
        else:
            xi = check_vector("labels", labels, N, what="labels",
                              fix=f"pass {N} positions in [0, 1] (or omit labels for (i + 1/2) / N)")
            if np.any((xi < 0.0) | (xi > 1.0)):
                i = int(np.flatnonzero((xi < 0.0) | (xi > 1.0))[0])
                raise bad_argument("labels", f"array with labels[{i}] = {xi[i]}", "must lie in [0, 1]",
                                   "pass positions in [0, 1]")
        self.kernel = kernel
        self.N = N
        self.dtype = np.dtype(np.float64)
        self.labels = xi
        self._callback = None
        form = kernel.compiled_form() if isinstance(kernel, Kernel) else None
        cells = np.empty(0, dtype=np.int64)
        address = 0
        if form is not None:
            self.family, params = form
            # a fresh writable copy: a read-only array (StepKernel.values) is another numba type
            par = np.array(params, dtype=np.float64).ravel()
            n_cells = 0
            if self.family == "step":  # the table of weights values / N (the dense weights' bits)
                n_cells = int(np.asarray(params).shape[0])
                cells = np.ascontiguousarray(cell_index(xi, n_cells), dtype=np.int64)
                par = par / N
        else:
            if isinstance(kernel, Kernel):
                if not isinstance(kernel, FunctionKernel):
                    raise bad_argument("kernel", kernel, "states no compiled form and has no function to compile",
                                       "pass a named kernel, a FunctionKernel or a function w(x, z) -> float")
                func = kernel.func
            else:
                func = kernel
            self._callback = compile_kernel(func, "kernel")
            self.family = "user"
            par = np.empty(0)
            n_cells = 0
            address = int(self._callback.address)
        fam = _FAMILIES.get(self.family, KER_USER)
        self._kpar = par
        self._kcell = cells
        self._kint = np.array([fam, n_cells, address], dtype=np.int64)
        self._empty_dense = np.empty((0, 0), order="F")
        self._empty_data = np.empty(0)
        self._empty_idx = np.empty(0, dtype=np.int32)
        self._check_finite()

    def _check_finite(self) -> None:
        for j in sorted({0, self.N // 2, self.N - 1}):
            out = self.column(j)
            if not np.all(np.isfinite(out)):
                i = int(np.flatnonzero(~np.isfinite(out))[0])
                raise bad_argument("kernel", self.kernel, f"is not finite at the labels: w(xi_{i}, xi_{j}) / N = "
                                   f"{out[i]} at ({self.labels[i]:.6g}, {self.labels[j]:.6g})",
                                   "fix the kernel so that it is finite on [0, 1]^2")

    # ------------------------------------------------------------------ SynapticOperator
    def kernel_args(self):
        return (self.tag, self._empty_dense, self._empty_data, self._empty_idx, self._empty_idx,
                self._kpar, self.labels, self._kcell, self._kint)

    def column(self, j: int) -> np.ndarray:
        """``W[:, j] = w(xi_i, xi_j) / N`` (the diagonal entry included), ``O(N)``: the compiled
        evaluation of the loops (:func:`solvers.particles._kernels.weight_column`)."""
        out = np.empty(self.N)
        weight_column(self._kpar, self.labels, self._kcell, self._kint, int(j), out)
        return out

    def tiny(self) -> OnTheFlyOperator:
        op = OnTheFlyOperator.__new__(OnTheFlyOperator)
        op.__dict__.update(self.__dict__)
        n = min(2, self.N)
        op.N = n
        op.labels = np.ascontiguousarray(self.labels[:n])
        op._kcell = np.ascontiguousarray(self._kcell[:n])
        return op

    @property
    def nbytes(self) -> int:
        return int(self.labels.nbytes + self._kpar.nbytes + self._kcell.nbytes + self._kint.nbytes)

    def row_sums(self) -> np.ndarray:
        """``sum_{j != i} W_ij`` (``O(N^2)`` kernel evaluations, ``O(N)`` memory)."""
        out = np.zeros(self.N)
        weight_row_sums(self._kpar, self.labels, self._kcell, self._kint, out)
        return out

    def to_dense(self) -> np.ndarray:
        """The dense ``N x N`` weights, zero diagonal (``N^2`` memory: small ``N`` only)."""
        W = np.empty((self.N, self.N), order="F")
        for j in range(self.N):
            W[:, j] = self.column(j)
        np.fill_diagonal(W, 0.0)
        return W

    def __repr__(self) -> str:
        return f"<OnTheFlyOperator N={self.N} family={self.family!r}>"


def _labels(N: int) -> np.ndarray:
    return np.ascontiguousarray(labels(N))
