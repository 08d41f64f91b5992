"""Kernels ``w(xi, zeta)``, step kernels of weight matrices, and weight-matrix builders.

Conventions (SPEC section 2): cells ``I_i = ((i-1)/N, i/N]``, labels ``xi_i = (i - 1/2)/N``
(``i = 1..N``; in code 0-based ``xi[i] = (i + 0.5)/N``).  The step kernel of ``W`` is
``w_N(xi, zeta) = N W_ij`` on ``I_i x I_j``.  ``zeta`` is the presynaptic variable: neuron ``i``
feels ``h_i = sum_j W_ij f(X_j) = int w_N(xi_i, zeta) r(zeta) dzeta``.

Degrees: ``degree(xi) = int_0^1 w(xi, zeta) dzeta`` (out-of-row integral, what enters the input
``h = lam0 d(xi)`` for constant intensity) and ``in_degree(zeta) = int_0^1 w(xi, zeta) dxi``.  They
are exact closed forms for the named kernels and exact row means for step kernels; a user's kernel
without a closed form gets Gauss-Legendre quadrature (64 nodes per unit, stated in
:class:`FunctionKernel`).  Quadrature rules, cell averages and partition overlaps come from
:mod:`solvers.quadrature` (their one home).

Exact factors (the one home of this knowledge).  Every named kernel exposes an exact finite
separable form ``w(xi, zeta) = sum_r c_r f_r(xi) g_r(zeta)`` through ``kernel.separable_terms()``
(:class:`SeparableTerms` of :class:`SeparableTerm`; factors :class:`BasisFunction` with closed-form
values, cell integrals and, for the smooth ones, derivative bounds): ``ring`` 3 terms, ``skew`` 5,
``product`` 1 (factors ``1, t, cos 2 pi t, sin 2 pi t``), a :class:`StepKernel` on ``n`` cells ``n``
terms (``two-block`` 2, ``constant`` 1; indicator and step factors); a user's
:class:`FunctionKernel` returns ``None``.  ``kernel.rectangle_integrals(xi_edges, zeta_edges)``
gives the exact integrals over the rectangles of two partitions (raising for a kernel without a
form).  The metrics (:mod:`verification.metrics`) and the cell averages use them, and so do the
low-rank weights: ``kernel.low_rank(N)`` (a :class:`LowRankFactors`, ``W = U diag(s) V^T / N`` with
``U[i, r] = f_r(xi_i)``, ``s_r = c_r``, ``V[j, r] = g_r(xi_j)``), whose off-diagonal entries equal
``kernel.weights(N)`` up to rounding (rank = number of terms: ``ring`` 3, ``two-block`` 2,
``constant`` 1, ``skew`` 5, ``product`` 1); its diagonal ``w(xi_i, xi_i) / N`` is not zeroed, as the
network never uses it (the reset wins, SPEC section 1).  A kernel without a form raises and names the
alternatives (truncated SVD of its weights, dense weights).

Compiled forms.  ``kernel.compiled_form()`` names the closed form that compiled code evaluates for
the on-the-fly synaptic operator (:class:`solvers.particles.OnTheFlyOperator`): ``("ring", [J0,
J1])``, ``("skew", [])``, ``("product", [])``, ``("step", values)`` for a :class:`StepKernel`
(``two-block``, ``constant``); ``None`` for a user's :class:`FunctionKernel` (the operator then
compiles its function, if numba can).

Cell averages ``kernel.matrix(n, "cell-average")`` are exact (up to rounding) for step kernels
(partition overlaps) and for ``ring``, ``skew`` and ``product`` (from the separable form);
``Kernel.cell_average_exact`` says which.  Each named continuous kernel states bounds on its partial derivatives,
``kernel.lipschitz = (L_xi, L_zeta)`` with ``|w(xi, zeta) - w(xi', zeta)| <= L_xi |xi - xi'|`` and
``|w(xi, zeta) - w(xi, zeta')| <= L_zeta |zeta - zeta'|`` (``sup |d_xi w|``, ``sup |d_zeta w|``); a
:class:`FunctionKernel` takes them from the user (``lipschitz_xi``, ``lipschitz_zeta``).  They
certify the L1 distance between a kernel and its cell average
(:func:`verification.graphs.cell_average_l1_bound`).

Weight matrices ``kernel.weights(N)`` evaluate ``W_ij = w(xi_i, xi_j) / N`` at the labels, with
``W_ii = 0``; :func:`step_values` is the converse ``W -> N W`` (the values of the step kernel).
Named random sequences (SPEC section 8) take a required keyword ``seed`` (through
``SeedSequence``): ``random_sign``, ``w_random`` (returns latent positions and the shuffling
permutation), ``sparse_erdos_renyi``; deterministic ones: ``checkerboard``, ``alternating``,
``hub``.  Options (``J``, ``p``, ``dtype``, ``seed``) are keyword-only.

``load_weights(path)`` reads ``.npy``, ``.npz`` (a dense array or a scipy sparse matrix saved by
``scipy.sparse.save_npz``), ``.csv`` (comma separated, no header) and MatrixMarket ``.mtx`` (dense
``array`` or sparse ``coordinate``).  Files are parsed as data only (``allow_pickle=False``).
"""
from __future__ import annotations

import functools
import inspect
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvers._random import make_rng
from solvers.errors import InvalidArgumentError, bad_argument
from solvers.quadrature import cell_averages, gauss_legendre, overlap_matrix, partition_edges
from solvers.validation import (
    check_choice,
    check_instance,
    check_int,
    check_matrix,
    check_nonnegative,
    check_real,
    check_vector,
)

__all__ = [
    "Kernel",
    "FunctionKernel",
    "LowRankFactors",
    "BasisFunction",
    "SeparableTerm",
    "SeparableTerms",
    "StepKernel",
    "ring",
    "two_block",
    "constant",
    "skew",
    "product",
    "step_kernel",
    "step_values",
    "coupling_matrix",
    "labels",
    "cell_index",
    "checkerboard",
    "random_sign",
    "w_random",
    "WRandomGraph",
    "alternating_kernel",
    "alternating",
    "hub",
    "sparse_erdos_renyi",
    "named_kernel",
    "build_weights",
    "validate_weights",
    "load_weights",
    "KERNELS",
    "WEIGHT_SEQUENCES",
    "NamedSequence",
    "sequence_info",
]

_GL_NODES_PER_UNIT = 64


def _check_n(name: str, n: Any, minimum: int = 1) -> int:
    return check_int(name, n, minimum, f"pass e.g. {name}=1000")


def _check_dtype(dtype: Any) -> np.dtype:
    """The storage dtype of weights: float64 or float32 (anything else is refused)."""
    try:
        d = np.dtype(dtype) if dtype is not None else None
    except Exception:  # numpy's dtype parser raises TypeError, ValueError or SyntaxError
        d = None
    # (a dtype compares equal to None, which numpy reads as float64: test None first)
    if d is None or d.type not in (np.float64, np.float32):
        raise bad_argument("dtype", dtype, "must be float64 or float32", "pass dtype=np.float64 or dtype=np.float32")
    return d


def _show_value(value: Any) -> str:
    text = repr(value)
    return (text[:57] + "...") if len(text) > 60 else text


def _points(name: str, value: Any) -> np.ndarray:
    """Finite real evaluation points (``xi``, ``zeta``) as a float array."""
    fix = f"pass real numbers in [0, 1] for {name} (a float or an array)"
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise bad_argument(name, value, "must be real numbers", fix)
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise bad_argument(name, value, "must be real numbers", fix) from None
    if not np.all(np.isfinite(a)):
        raise bad_argument(name, value, "must be finite", fix)
    return a


def labels(n: int) -> np.ndarray:
    """Cell midpoints ``xi_i = (i - 1/2)/n``, ``i = 1..n`` (0-based array)."""
    n = _check_n("n", n)
    return (np.arange(n) + 0.5) / n


def cell_index(xi, n: int) -> np.ndarray:
    """0-based index of the cell ``((i-1)/n, i/n]`` containing ``xi`` (``xi = 0`` goes to cell 0)."""
    n = _check_n("n", n)
    xi = _points("xi", xi)
    idx = np.clip(np.ceil(xi * n).astype(np.int64) - 1, 0, n - 1)
    # ``xi * n`` is rounded: compare with the float cell edges ``k / n`` themselves so that the
    # edge ``k / n`` (as computed in floating point) always closes cell ``k`` (1-based).
    idx = idx - ((idx > 0) & (xi <= idx / n))
    return idx + ((idx < n - 1) & (xi > (idx + 1) / n))


# ------------------------------------------------------------------------ separable forms (exact)
_TWO_PI = 2.0 * math.pi
_SMOOTH_KINDS = ("one", "t", "cos", "sin")
# kind -> (sup |f|, sup |f'|, sup |f''|) on [0, 1]
_SMOOTH_SUPS = {"one": (1.0, 0.0, 0.0), "t": (1.0, 1.0, 0.0), "cos": (1.0, _TWO_PI, _TWO_PI ** 2),
                "sin": (1.0, _TWO_PI, _TWO_PI ** 2)}


@dataclass(frozen=True, eq=False)
class BasisFunction:
    """A factor ``f`` on ``[0, 1]`` of a separable kernel term, with closed-form values and cell
    integrals.

    Kinds: ``"one"`` (``1``), ``"t"`` (``t``), ``"cos"`` (``cos 2 pi t``), ``"sin"`` (``sin 2 pi t``)
    -- smooth, with stated bounds ``sup``, ``sup_derivative``, ``sup_second_derivative`` -- and, for
    step kernels, ``"cell"`` (the indicator of cell ``cell`` of the uniform partition into ``cells``
    cells, cells ``(a/n, (a+1)/n]`` as in :func:`cell_index`) and ``"step"`` (``values[a]`` on cell
    ``a`` of the uniform partition into ``len(values)`` cells), not differentiable.  Build them
    with :meth:`smooth`, :meth:`indicator` and :meth:`step`.
    """

    kind: str
    values: np.ndarray | None = field(default=None, repr=False)
    cell: int | None = None
    cells: int | None = None

    @staticmethod
    def smooth(kind: str) -> BasisFunction:
        """``"one"``, ``"t"``, ``"cos"`` or ``"sin"``."""
        return BasisFunction(check_choice("kind", kind, _SMOOTH_KINDS, f"use one of {_SMOOTH_KINDS}"))

    @staticmethod
    def indicator(cell: int, cells: int) -> BasisFunction:
        """The indicator of cell ``cell`` (0-based) of the uniform partition into ``cells`` cells."""
        cells = _check_n("cells", cells)
        cell = check_int("cell", cell, 0, f"pass a cell index in 0..{cells - 1}")
        if cell >= cells:
            raise bad_argument("cell", cell, f"must be < cells = {cells}", f"pass a cell index in 0..{cells - 1}")
        return BasisFunction("cell", cell=cell, cells=cells)

    @staticmethod
    def step(values) -> BasisFunction:
        """``values[a]`` on cell ``a`` of the uniform partition into ``len(values)`` cells (a view of
        ``values`` is kept when it is a read-only float64 vector, e.g. a row of a ``StepKernel``)."""
        v = np.asarray(values)
        if not (v.dtype == np.float64 and v.ndim == 1 and v.size and not v.flags.writeable):
            v = check_vector("values", values, what="step values").copy()
            v.setflags(write=False)
        return BasisFunction("step", values=v)

    @property
    def is_smooth(self) -> bool:
        """Whether the derivative bounds exist (kinds ``one``, ``t``, ``cos``, ``sin``)."""
        return self.kind in _SMOOTH_KINDS

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        k = self.kind
        if k == "one":
            return np.ones_like(t)
        if k == "t":
            return t.copy()
        if k == "cos":
            return np.cos(_TWO_PI * t)
        if k == "sin":
            return np.sin(_TWO_PI * t)
        if k == "cell":
            return (cell_index(t, self.cells) == self.cell).astype(float)
        return self.values[cell_index(t, self.values.size)]

    def _smooth_only(self, what: str):
        if not self.is_smooth:
            raise bad_argument("basis function", f"kind {self.kind!r}", f"has no {what} (a step function)",
                               "use the kernel's cells (step kernels are exact on them)")

    def derivative(self, t) -> np.ndarray:
        """``f'(t)`` (smooth kinds only)."""
        self._smooth_only("derivative")
        t = np.asarray(t, dtype=float)
        if self.kind == "one":
            return np.zeros_like(t)
        if self.kind == "t":
            return np.ones_like(t)
        if self.kind == "cos":
            return -_TWO_PI * np.sin(_TWO_PI * t)
        return _TWO_PI * np.cos(_TWO_PI * t)

    @property
    def sup(self) -> float:
        """``sup |f|`` on ``[0, 1]``."""
        if self.kind == "cell":
            return 1.0
        if self.kind == "step":
            return float(np.max(np.abs(self.values)))
        return _SMOOTH_SUPS[self.kind][0]

    @property
    def sup_derivative(self) -> float:
        """``sup |f'|`` on ``[0, 1]`` (smooth kinds only)."""
        self._smooth_only("derivative")
        return _SMOOTH_SUPS[self.kind][1]

    @property
    def sup_second_derivative(self) -> float:
        """``sup |f''|`` on ``[0, 1]`` (smooth kinds only)."""
        self._smooth_only("second derivative")
        return _SMOOTH_SUPS[self.kind][2]

    def integrals(self, edges) -> np.ndarray:
        """Exact ``int_{e_c}^{e_{c+1}} f`` over the cells of a partition (an ``int n`` or the edges,
        :func:`solvers.quadrature.partition_edges`), shape ``(n,)``.

        Closed forms written as products, so a cell of width ``h`` has a relative error of a few
        ulps, not ``u / h``: ``h``, ``h (a + b) / 2``, ``cos(pi (a + b)) sin(pi h) / pi`` and
        ``sin(pi (a + b)) sin(pi h) / pi``; partition overlaps (:func:`solvers.quadrature.overlap_matrix`)
        for the step kinds."""
        e = partition_edges(edges, "edges")
        a, b = e[:-1], e[1:]
        h = b - a
        k = self.kind
        if k == "one":
            return h
        if k == "t":
            return h * 0.5 * (a + b)
        if k in ("cos", "sin"):
            s = np.sin(math.pi * h) / math.pi
            if k == "cos":  # sin(2 pi b) - sin(2 pi a) = 2 cos(pi (a + b)) sin(pi (b - a))
                return np.cos(math.pi * (a + b)) * s
            return np.sin(math.pi * (a + b)) * s  # cos(2 pi a) - cos(2 pi b) = 2 sin(pi (a + b)) sin(pi h)
        if k == "cell":
            lo, hi = self.cell / self.cells, (self.cell + 1) / self.cells
            return np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None)
        return overlap_matrix(e, self.values.size) @ self.values

    def __eq__(self, other) -> bool:
        if not isinstance(other, BasisFunction) or (self.kind, self.cell, self.cells) != (
                other.kind, other.cell, other.cells):
            return False
        return self.values is None or bool(np.array_equal(self.values, other.values))

    def __hash__(self) -> int:
        return hash((self.kind, self.cell, self.cells))


@dataclass(frozen=True)
class SeparableTerm:
    """``coefficient * first(xi) * second(zeta)`` (``xi`` the first, postsynaptic argument)."""

    coefficient: float
    first: BasisFunction
    second: BasisFunction


@dataclass(frozen=True)
class SeparableTerms:
    """An exact finite separable form ``w(xi, zeta) = sum_r c_r f_r(xi) g_r(zeta)`` of a kernel
    (:meth:`Kernel.separable_terms`).

    Everything a consumer needs is built from the terms: values (:meth:`first_factors`,
    :meth:`second_factors`: a rank-``R`` factorisation of ``w`` on any points, e.g.
    ``W ~ first_factors(labels(N)).T @ second_factors(labels(N)) / N`` off the diagonal), exact cell
    integrals of the factors (:meth:`first_integrals`, :meth:`second_integrals`) and of ``w`` over
    rectangles (:meth:`rectangle_integrals`), and for smooth factors their derivative bounds
    (:class:`BasisFunction`).  Coefficients live on the first factor.
    """

    terms: tuple[SeparableTerm, ...]

    def __iter__(self):
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __call__(self, xi, zeta) -> np.ndarray:
        """``w(xi, zeta)`` from the terms (broadcasting)."""
        xi, zeta = np.asarray(xi, dtype=float), np.asarray(zeta, dtype=float)
        out = np.zeros(np.broadcast_shapes(xi.shape, zeta.shape))
        for t in self.terms:
            out = out + t.coefficient * t.first(xi) * t.second(zeta)
        return out

    @property
    def is_smooth(self) -> bool:
        """Whether every factor is smooth (has derivative bounds)."""
        return all(t.first.is_smooth and t.second.is_smooth for t in self.terms)

    @property
    def sup_bound(self) -> float:
        """``sum_r |c_r| sup |f_r| sup |g_r| >= sup |w|``."""
        return float(sum(abs(t.coefficient) * t.first.sup * t.second.sup for t in self.terms))

    def first_factors(self, xi) -> np.ndarray:
        """``c_r f_r(xi)``, shape ``(R, len(xi))``."""
        xi = np.asarray(xi, dtype=float).reshape(-1)
        return np.stack([t.coefficient * t.first(xi) for t in self.terms]) if self.terms else np.zeros((0, xi.size))

    def second_factors(self, zeta) -> np.ndarray:
        """``g_r(zeta)``, shape ``(R, len(zeta))``."""
        zeta = np.asarray(zeta, dtype=float).reshape(-1)
        return np.stack([t.second(zeta) for t in self.terms]) if self.terms else np.zeros((0, zeta.size))

    def first_integrals(self, edges) -> np.ndarray:
        """``c_r int_{cell} f_r`` over the cells of a partition of the first argument, ``(R, n)``."""
        n = partition_edges(edges, "edges").size - 1
        return np.stack([t.coefficient * t.first.integrals(edges) for t in self.terms]) if self.terms \
            else np.zeros((0, n))

    def second_integrals(self, edges) -> np.ndarray:
        """``int_{cell} g_r`` over the cells of a partition of the second argument, ``(R, n)``."""
        n = partition_edges(edges, "edges").size - 1
        return np.stack([t.second.integrals(edges) for t in self.terms]) if self.terms else np.zeros((0, n))

    def rectangle_integrals(self, xi_edges, zeta_edges) -> np.ndarray:
        """Exact ``int_{A_a} int_{B_b} w(xi, zeta) dzeta dxi`` over the rectangles of two partitions,
        shape ``(n_xi, n_zeta)``: ``sum_r c_r (int_{A_a} f_r) (int_{B_b} g_r)`` (summed term by
        term, so a symmetric form on equal partitions gives an exactly symmetric matrix)."""
        na = partition_edges(xi_edges, "xi_edges").size - 1
        nb = partition_edges(zeta_edges, "zeta_edges").size - 1
        out = np.zeros((na, nb))
        for t in self.terms:
            out += t.coefficient * np.multiply.outer(t.first.integrals(xi_edges), t.second.integrals(zeta_edges))
        return out

    def cell_means(self, n: int) -> np.ndarray:
        """``n^2 int_{I_a x I_b} w`` on the uniform ``n x n`` grid (the exact cell averages)."""
        out = np.zeros((n, n))
        for t in self.terms:
            out += t.coefficient * np.multiply.outer(t.first.integrals(n) * n, t.second.integrals(n) * n)
        return out


# ------------------------------------------------------------------------------ low-rank factors
@dataclass(frozen=True)
class LowRankFactors:
    """Factors of a rank-``R`` weight matrix ``W = U diag(s) V^T / N`` (row ``i`` postsynaptic).

    Attributes
    ----------
    U : ndarray, shape (N, R)
        Postsynaptic factors (``U[i, r] = f_r(xi_i)`` for a kernel's separable form).
    s : ndarray, shape (R,)
        Coefficients (any sign).
    V : ndarray, shape (N, R)
        Presynaptic factors.

    The diagonal ``W_ii = sum_r U_ir s_r V_ir / N`` is not zeroed: the network ignores it (the reset
    wins, SPEC section 1).  Checks: ``U`` and ``V`` finite real 2-D arrays of the same shape
    ``(N, R)`` with ``1 <= R <= N``, ``s`` finite of length ``R``.
    """

    U: np.ndarray
    s: np.ndarray
    V: np.ndarray

    def __post_init__(self):
        U = check_matrix("U", self.U, fix="pass the postsynaptic factors as an (N, R) array")
        V = check_matrix("V", self.V, fix="pass the presynaptic factors as an (N, R) array of the shape of U")
        N, R = U.shape
        if V.shape != U.shape:
            raise bad_argument("V", f"array of shape {V.shape}", f"must have the shape of U, {U.shape}",
                               "pass U and V with one row per neuron and one column per rank")
        if R > N:
            raise bad_argument("U", f"array of shape {U.shape}", f"rank R = {R} exceeds N = {N} (a rank above N "
                               "stores more than the matrix itself)",
                               "pass at most N columns, or the dense weights (an N x N matrix)")
        s = check_vector("s", self.s, R, what="coefficients",
                         fix=f"pass {R} coefficients (one per column of U and V)")
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "V", V)
        object.__setattr__(self, "s", s)

    @property
    def N(self) -> int:
        return int(self.U.shape[0])

    @property
    def rank(self) -> int:
        return int(self.U.shape[1])

    def weights(self, *, zero_diagonal: bool = True) -> np.ndarray:
        """The dense ``N x N`` matrix ``U diag(s) V^T / N`` (Fortran order; diagonal zeroed unless
        ``zero_diagonal=False``).  ``N^2`` memory: for tests and small networks."""
        W = np.asfortranarray((self.U * (self.s / self.N)) @ self.V.T)
        if zero_diagonal:
            np.fill_diagonal(W, 0.0)
        return W


# ------------------------------------------------------------------------------------------ kernels
class Kernel:
    """A kernel ``w(xi, zeta)`` on ``[0,1]^2``.

    Subclasses implement ``_eval(xi, zeta)`` (broadcasting arrays).  Public API: calling the kernel
    or :meth:`kernel` evaluates it; :meth:`degree`, :meth:`in_degree`; :meth:`weights` (dense matrix
    ``w(xi_i, xi_j)/N``, zero diagonal); :meth:`matrix` (``n x n`` values on the grid, by midpoint
    values or cell averages); ``sup`` (``sup |w|``); ``symmetric``; ``name``;
    ``cell_average_exact`` (``matrix(n, "cell-average")`` is the exact cell mean up to rounding,
    not a quadrature); ``lipschitz`` (``(L_xi, L_zeta)`` or ``None``, see the module docstring);
    :meth:`separable_terms` (the exact finite separable form, or ``None``) and
    :meth:`rectangle_integrals` (exact integrals over rectangles, built on it).
    """

    name: str = "kernel"
    symmetric: bool = False
    cell_average_exact = False  # class attribute (not a dataclass field)

    @property
    def lipschitz(self) -> tuple[float, float] | None:
        """``(L_xi, L_zeta)``: Lipschitz constants of ``w`` in each variable (``sup |d_xi w|``,
        ``sup |d_zeta w|``), or ``None`` when the kernel states none."""
        return None

    def _eval(self, xi, zeta):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, xi, zeta):
        xi = _points("xi", xi)
        zeta = _points("zeta", zeta)
        shape = np.broadcast_shapes(xi.shape, zeta.shape)
        values = self._eval(xi, zeta)
        try:  # the values of a user's function: real, broadcastable to the points' shape
            return np.asarray(values, dtype=float) * np.ones(shape)
        except (TypeError, ValueError):
            raise bad_argument("kernel", self, f"its function returned {_show_value(values)} for points of shape "
                               f"{shape}, not real numbers of that shape",
                               "return a numpy array of the broadcast shape of xi and zeta") from None

    def kernel(self, xi, zeta):
        """Evaluate ``w(xi, zeta)`` (vectorised, broadcasting)."""
        return self(xi, zeta)

    # degrees -------------------------------------------------------------------------------
    def degree(self, xi):
        """``int_0^1 w(xi, zeta) dzeta`` (Gauss-Legendre unless a subclass has a closed form)."""
        z, wq = gauss_legendre(_GL_NODES_PER_UNIT)
        xi = _points("xi", xi)
        return np.tensordot(self(xi[..., None], z), wq, axes=([-1], [0]))

    def in_degree(self, zeta):
        """``int_0^1 w(xi, zeta) dxi``."""
        x, wq = gauss_legendre(_GL_NODES_PER_UNIT)
        zeta = _points("zeta", zeta)
        return np.tensordot(self(x, zeta[..., None]), wq, axes=([-1], [0]))

    @property
    def sup(self) -> float:
        """``sup |w|`` (dense-grid maximum polished by a local search, see subclasses)."""
        g = labels(1024)
        return float(np.max(np.abs(self(g[:, None], g[None, :]))))

    # discretisations -----------------------------------------------------------------------
    def matrix(self, n: int, method: str = "midpoint") -> np.ndarray:
        """``n x n`` discretisation: ``"midpoint"`` values ``w(xi_i, xi_j)`` or ``"cell-average"``
        ``n^2 int_{I_i x I_j} w`` (exact for step kernels -- partition overlaps -- and for kernels
        with a separable form, :meth:`separable_terms`: ``ring``, ``skew``, ``product``; otherwise
        :func:`solvers.quadrature.cell_averages` with 4x4 Gauss-Legendre nodes per cell, error
        ``O(n^-8)`` for smooth kernels)."""
        n = _check_n("n", n)
        method = check_choice("method", method, ("midpoint", "cell-average"),
                              "use 'midpoint' or 'cell-average' (unknown discretisation)")
        if method == "midpoint":
            g = labels(n)
            return self(g[:, None], g[None, :])
        return self._cell_average(n)

    def _cell_average(self, n: int) -> np.ndarray:
        terms = self.separable_terms()
        if terms is not None:
            return terms.cell_means(n)
        return cell_averages(self, n, order=4)

    # exact factors ---------------------------------------------------------------------------
    def separable_terms(self) -> SeparableTerms | None:
        """The kernel's exact finite separable form ``w(xi, zeta) = sum_r c_r f_r(xi) g_r(zeta)``
        (:class:`SeparableTerms`), or ``None`` when it states none (a user's
        :class:`FunctionKernel`).  ``ring`` (3 terms), ``skew`` (5), ``product`` (1): smooth
        factors ``1, t, cos 2 pi t, sin 2 pi t``; a :class:`StepKernel` on ``n`` cells: ``n`` terms
        ``1_{I_a}(xi) values[a, cell(zeta)]`` (``two-block`` 2, ``constant`` 1)."""
        return None

    def compiled_form(self) -> tuple[str, np.ndarray] | None:
        """The closed form compiled code evaluates (module docstring): ``(family, parameters)`` with
        ``family`` in ``"ring"``, ``"skew"``, ``"product"``, ``"step"``, or ``None`` when the kernel
        states none (a user's :class:`FunctionKernel`)."""
        return None

    def rectangle_integrals(self, xi_edges, zeta_edges) -> np.ndarray:
        """Exact ``int_{A_a} int_{B_b} w(xi, zeta) dzeta dxi`` over the rectangles of a partition of
        the first (``xi``) and of the second (``zeta``) argument, shape ``(n_xi, n_zeta)``.

        Parameters
        ----------
        xi_edges, zeta_edges : int or array_like
            Partitions of ``[0, 1]``: ``n`` uniform cells or increasing edges from 0 to 1
            (:func:`solvers.quadrature.partition_edges`).

        Raises
        ------
        InvalidArgumentError
            The kernel has no exact form (:meth:`separable_terms` is ``None``).
        """
        terms = self.separable_terms()
        if terms is None:
            raise bad_argument("kernel", self, "has no exact rectangle integrals (it states no separable form)",
                               "use solvers.quadrature.cell_averages (Gauss-Legendre) or a named or step kernel")
        return terms.rectangle_integrals(xi_edges, zeta_edges)

    def low_rank(self, N: int) -> LowRankFactors:
        """The weights of ``N`` neurons as exact low-rank factors, from :meth:`separable_terms` (module
        docstring): ``U[i, r] = f_r(xi_i)``, ``s_r = c_r``, ``V[j, r] = g_r(xi_j)``.  When the form has
        more terms than ``N`` (tiny networks), the exact SVD of the ``N x N`` values ``w(xi_i, xi_j)``
        instead.

        Raises
        ------
        InvalidArgumentError
            The kernel states no separable form; the message names the alternatives.
        """
        N = _check_n("N", N)
        terms = self.separable_terms()
        if terms is None:
            raise bad_argument("kernel", self, "has no low-rank expansion (it states no separable form; ring, "
                               "two-block, constant, skew, product and step kernels have one)",
                               "use solvers.particles.LowRankOperator.from_matrix(kernel.weights(N), rank=R) "
                               "(truncated SVD; verification.graphs.low_rank_approximation brackets its error) or "
                               "the dense weights kernel.weights(N)")
        if len(terms) > N:
            P, sig, Qt = np.linalg.svd(self.matrix(N, "midpoint"))
            return LowRankFactors(U=P, s=sig, V=Qt.T)
        g = labels(N)
        return LowRankFactors(U=np.stack([t.first(g) for t in terms], axis=1),
                              s=np.array([t.coefficient for t in terms], dtype=float),
                              V=np.stack([t.second(g) for t in terms], axis=1))

    def weights(self, N: int, *, dtype=np.float64) -> np.ndarray:
        """Dense weights ``W_ij = w(xi_i, xi_j)/N`` with ``W_ii = 0`` (Fortran order: columns contiguous)."""
        N = _check_n("N", N)
        dtype = _check_dtype(dtype)
        g = labels(N)
        W = np.empty((N, N), dtype=dtype, order="F")
        # column blocks of ~4 MB of float64 temporaries: peak memory stays ~ one matrix
        block = max(1, min(N, (1 << 19) // N))
        for j0 in range(0, N, block):
            j1 = min(N, j0 + block)
            W[:, j0:j1] = self(g[:, None], g[None, j0:j1]) / N
        np.fill_diagonal(W, 0.0)
        return W

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


@dataclass(frozen=True, repr=False)
class FunctionKernel(Kernel):
    """A kernel given by a vectorised callable ``func(xi, zeta)``.

    ``degree_func`` / ``in_degree_func`` give closed forms (else Gauss-Legendre quadrature with 64
    nodes, exact for polynomials of degree <= 127 and spectrally accurate for analytic kernels).
    ``sup_value`` gives ``sup |w|`` exactly (else a 1024^2 grid maximum polished by L-BFGS-B).
    ``lipschitz_xi`` / ``lipschitz_zeta`` (both or neither) state ``sup |d_xi w|`` and
    ``sup |d_zeta w|`` -- more generally Lipschitz constants of ``xi -> w(xi, zeta)`` uniformly in
    ``zeta`` and of ``zeta -> w(xi, zeta)`` uniformly in ``xi`` -- and make the L1 distance to the
    cell average certified; the user is responsible for their truth.
    """

    func: Callable = field(default=None)
    name: str = "custom"
    symmetric: bool = False
    degree_func: Callable | None = None
    in_degree_func: Callable | None = None
    sup_value: float | None = None
    params: dict = field(default_factory=dict)
    lipschitz_xi: float | None = None
    lipschitz_zeta: float | None = None

    def __post_init__(self):
        if not callable(self.func):
            raise bad_argument("func", self.func, "must be callable", "pass a function (xi, zeta) -> w")
        if self.sup_value is not None:
            object.__setattr__(self, "sup_value", check_nonnegative("sup_value", self.sup_value))
        if (self.lipschitz_xi is None) != (self.lipschitz_zeta is None):
            given = "lipschitz_xi" if self.lipschitz_zeta is None else "lipschitz_zeta"
            raise bad_argument(given, getattr(self, given), "the two derivative bounds go together",
                               "pass both lipschitz_xi and lipschitz_zeta (or neither)")
        if self.lipschitz_xi is not None:
            for name in ("lipschitz_xi", "lipschitz_zeta"):
                object.__setattr__(self, name, check_nonnegative(name, getattr(self, name),
                                                                 f"pass {name} = sup |d w| >= 0"))

    @property
    def lipschitz(self) -> tuple[float, float] | None:
        if self.lipschitz_xi is None:
            return None
        return float(self.lipschitz_xi), float(self.lipschitz_zeta)

    def _eval(self, xi, zeta):
        return self.func(xi, zeta)

    def degree(self, xi):
        if self.degree_func is not None:
            xi = _points("xi", xi)
            return np.asarray(self.degree_func(xi), dtype=float) * np.ones_like(xi)
        return super().degree(xi)

    def in_degree(self, zeta):
        if self.in_degree_func is not None:
            zeta = _points("zeta", zeta)
            return np.asarray(self.in_degree_func(zeta), dtype=float) * np.ones_like(zeta)
        return super().in_degree(zeta)

    @property
    def sup(self) -> float:
        if self.sup_value is not None:
            return float(self.sup_value)
        from scipy.optimize import minimize

        g = labels(1024)
        vals = np.abs(self(g[:, None], g[None, :]))
        i, j = np.unravel_index(np.argmax(vals), vals.shape)
        res = minimize(lambda p: -abs(float(self(p[0], p[1]))), x0=[g[i], g[j]],
                       bounds=[(0.0, 1.0), (0.0, 1.0)], method="L-BFGS-B")
        return float(max(vals[i, j], -res.fun))


@dataclass(frozen=True, repr=False)
class StepKernel(Kernel):
    """Step kernel ``w(xi, zeta) = values[a, b]`` for ``xi`` in cell ``a`` and ``zeta`` in cell ``b``
    of the uniform partition into ``values.shape[0]`` cells (cells ``((a-1)/n, a/n]``)."""

    values: np.ndarray = field(default=None)
    name: str = "step"
    cell_average_exact = True

    def __post_init__(self):
        v = check_matrix("values", self.values, square=True, fix="pass an n x n array").copy()
        v.setflags(write=False)
        object.__setattr__(self, "values", v)

    @property
    def n(self) -> int:
        return self.values.shape[0]

    @property
    def symmetric(self) -> bool:  # type: ignore[override]
        return bool(np.array_equal(self.values, self.values.T))

    def _eval(self, xi, zeta):
        return self.values[cell_index(xi, self.n), cell_index(zeta, self.n)]

    def degree(self, xi):
        return self.values.mean(axis=1)[cell_index(xi, self.n)]

    def in_degree(self, zeta):
        return self.values.mean(axis=0)[cell_index(zeta, self.n)]

    @property
    def sup(self) -> float:
        return float(np.max(np.abs(self.values)))

    def separable_terms(self) -> SeparableTerms:
        """``n`` terms ``1_{I_a}(xi) values[a, cell(zeta)]`` (rows of ``values``, kept as views)."""
        return SeparableTerms(tuple(SeparableTerm(1.0, BasisFunction.indicator(a, self.n),
                                                  BasisFunction.step(self.values[a])) for a in range(self.n)))

    def compiled_form(self) -> tuple[str, np.ndarray]:
        """``("step", values)``: ``w = values[cell(xi), cell(zeta)]`` (``n`` uniform cells)."""
        return "step", self.values

    def rectangle_integrals(self, xi_edges, zeta_edges) -> np.ndarray:
        """Exact: ``P_xi values P_zeta^T`` with the partition overlaps ``P[a, b] = |A_a cap I_b|``."""
        return overlap_matrix(xi_edges, self.n) @ self.values @ overlap_matrix(zeta_edges, self.n).T

    def _cell_average(self, n: int) -> np.ndarray:
        if n % self.n == 0:
            k = n // self.n
            return np.kron(self.values, np.ones((k, k)))
        # exact: overlap lengths of the two partitions
        P = overlap_matrix(n, self.n)  # n x m, rows sum to 1/n
        return (n * P) @ self.values @ (n * P).T

    def weights(self, N: int, *, dtype=np.float64) -> np.ndarray:
        N = _check_n("N", N)
        dtype = _check_dtype(dtype)
        if N == self.n:
            W = np.asfortranarray(self.values / N, dtype=dtype)
            np.fill_diagonal(W, 0.0)
            return W
        return super().weights(N, dtype=dtype)


def step_values(W, name: str = "W") -> np.ndarray:
    """The values ``N W`` of the step kernel ``w_N`` of a weight matrix (SPEC section 2).

    Parameters
    ----------
    W : array_like or scipy sparse matrix, shape (N, N)
        Weights (checked by :func:`validate_weights`; the error names ``name``).

    Returns
    -------
    ndarray, shape (N, N)
        New dense float64 array ``N W`` (``w_N = N W_ij`` on ``I_i x I_j``).
    """
    W = validate_weights(W, name)
    A = W.toarray() if sp.issparse(W) else W
    return W.shape[0] * np.asarray(A, dtype=np.float64)


def step_kernel(W, name: str = "step") -> StepKernel:
    """Step kernel ``w_N = N W`` of a weight matrix (SPEC section 2), values :func:`step_values`."""
    return StepKernel(values=step_values(W, "W"), name=name)


def coupling_matrix(kernel: Kernel, n: int) -> tuple[np.ndarray, str]:
    """The one ``xi`` discretisation of the coupling used by every solver and reference.

    Returns ``(K, name)``: the ``n x n`` matrix with ``h_k = (1/n) sum_j K_kj r_j`` on the nodes
    ``xi_k = (k + 1/2)/n``, and the name of the rule.  Step kernels use exact cell averages
    (``kernel.matrix(n, "cell-average")``: exact when the blocks align with the grid and ``r`` is
    constant on them; a cell cut by a block edge gets the area-weighted mean of the blocks); other
    kernels use midpoint values (``kernel.matrix(n, "midpoint")``, error ``O(n^-2)`` for kernels and
    rates smooth in ``xi``).
    """
    check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.ring() or step_kernel(W)")
    n = _check_n("n", n)
    if isinstance(kernel, StepKernel):
        K, rule = np.ascontiguousarray(kernel.matrix(n, "cell-average")), "cell-average (exact on step blocks)"
    else:
        K, rule = np.ascontiguousarray(kernel.matrix(n, "midpoint")), "midpoint"
    if K.shape != (n, n):
        raise bad_argument("kernel", kernel, f"returned values of shape {K.shape} on an {n} x {n} grid",
                           "make the kernel function broadcast its two arguments (use numpy operations)")
    if not np.all(np.isfinite(K)):
        i, j = (int(v) for v in np.argwhere(~np.isfinite(K))[0])
        g = labels(n)
        raise bad_argument("kernel", kernel, f"the kernel itself is not finite: w(xi, zeta) = {float(K[i, j])} at "
                           f"(xi, zeta) = ({g[i]:.6g}, {g[j]:.6g}), a node pair of the {n} x {n} coupling grid "
                           f"({rule})", "fix the kernel function so that it is finite on [0, 1]^2 (no time step "
                           "or other solver setting can repair a non-finite kernel)")
    return K, rule


# ----------------------------------------------------------------------------- named kernels (S8)
def ring(J0: float = 1.0, J1: float = 0.5) -> FunctionKernel:
    """``w = J0 + J1 cos(2 pi (xi - zeta))``; degree ``J0``; symmetric, translation invariant.

    ``sup |w| = |J0| + |J1|``.  Derivative bounds: ``d_xi w = -2 pi J1 sin(2 pi (xi - zeta)) =
    -d_zeta w``, so ``L_xi = L_zeta = 2 pi |J1|`` (attained where ``xi - zeta = 1/4``).  Cell
    averages and rectangle integrals exact, from the separable form
    ``J0 + J1 (cos 2 pi xi cos 2 pi zeta + sin 2 pi xi sin 2 pi zeta)`` (:meth:`Kernel.separable_terms`;
    the cell average is ``J0 + J1 sinc(1/n)^2 cos(2 pi (xi_i - xi_j))``).
    """
    J0 = check_real("J0", J0)
    J1 = check_real("J1", J1)
    L = 2 * math.pi * abs(J1)
    return _RingKernel(func=lambda x, z: J0 + J1 * np.cos(2 * np.pi * (x - z)), name="ring", symmetric=True,
                       degree_func=lambda x: J0 + 0 * x, in_degree_func=lambda z: J0 + 0 * z,
                       sup_value=abs(J0) + abs(J1), params={"J0": J0, "J1": J1},
                       lipschitz_xi=L, lipschitz_zeta=L)


@dataclass(frozen=True, repr=False)
class _RingKernel(FunctionKernel):
    cell_average_exact = True

    def weights(self, N: int, *, dtype=np.float64) -> np.ndarray:
        """Rank-3 form ``J0 + J1 (cos_i cos_j + sin_i sin_j)`` by one BLAS product: ~3x faster than
        evaluating the cosine on N^2 entries, equal to it to a few ulps, peak memory ~1 matrix."""
        N = _check_n("N", N)
        dtype = _check_dtype(dtype)
        g = 2 * np.pi * labels(N)
        C = np.stack([np.cos(g), np.sin(g)], axis=1)
        W = ((self.params["J1"] / N) * C) @ C.T  # symmetric to rounding: its transpose is F-ordered
        W += self.params["J0"] / N
        W = W.T
        np.fill_diagonal(W, 0.0)
        return W if W.dtype == dtype else np.asfortranarray(W, dtype=dtype)

    def compiled_form(self) -> tuple[str, np.ndarray]:
        """``("ring", [J0, J1])``: ``J0 + J1 cos(2 pi (xi - zeta))``."""
        return "ring", np.array([self.params["J0"], self.params["J1"]], dtype=float)

    def separable_terms(self) -> SeparableTerms:
        """``J0 + J1 (cos 2 pi xi cos 2 pi zeta + sin 2 pi xi sin 2 pi zeta)``."""
        one, cos, sin = (BasisFunction.smooth(k) for k in ("one", "cos", "sin"))
        J0, J1 = self.params["J0"], self.params["J1"]
        return SeparableTerms((SeparableTerm(J0, one, one), SeparableTerm(J1, cos, cos), SeparableTerm(J1, sin, sin)))


def two_block(a: float = 1.5, b: float = 0.2) -> StepKernel:
    """``w = a`` on the diagonal blocks (both below or both above 1/2), ``b`` off; degree ``(a+b)/2``."""
    a, b = check_real("a", a), check_real("b", b)
    return StepKernel(values=np.array([[a, b], [b, a]], dtype=float), name="two-block")


def constant(J: float = 1.0) -> StepKernel:
    """``w = J``."""
    return StepKernel(values=np.array([[check_real("J", J)]]), name="constant")


def _skew_func(x, z):
    return 0.8 + 0.6 * x - 0.4 * z + 0.5 * np.sin(2 * np.pi * (x - z))


@functools.lru_cache(maxsize=1)
def _skew_sup() -> float:
    # w > 0 on [0,1]^2 and has no interior critical point (the two partial derivatives would need
    # cos(2 pi (xi - zeta)) = -0.6/pi and -0.4/pi at once), so the sup is a boundary maximum: the
    # generic grid + L-BFGS-B search finds it; computed once per process.
    return FunctionKernel(func=_skew_func).sup


def skew() -> FunctionKernel:
    """``w = 0.8 + 0.6 xi - 0.4 zeta + 0.5 sin(2 pi (xi - zeta))``: non-symmetric, not translation
    invariant.  ``degree(xi) = 0.6 + 0.6 xi``, ``in_degree(zeta) = 1.1 - 0.4 zeta``.

    Derivative bounds: ``d_xi w = 0.6 + pi cos(2 pi (xi - zeta))`` and ``d_zeta w = -0.4 -
    pi cos(2 pi (xi - zeta))``, so ``L_xi = 0.6 + pi`` and ``L_zeta = 0.4 + pi`` (attained on the
    diagonal ``xi = zeta``).  Cell averages and rectangle integrals exact, from the separable form
    ``0.8 + 0.6 xi - 0.4 zeta + 0.5 (sin 2 pi xi cos 2 pi zeta - cos 2 pi xi sin 2 pi zeta)``
    (:meth:`Kernel.separable_terms`; the cell average is the affine part at the midpoints plus
    ``0.5 sinc(1/n)^2 sin(2 pi (xi_i - xi_j))``).
    """
    return _SkewKernel(
        func=_skew_func, name="skew", symmetric=False, sup_value=_skew_sup(),
        degree_func=lambda x: 0.6 + 0.6 * x, in_degree_func=lambda z: 1.1 - 0.4 * z,
        lipschitz_xi=0.6 + math.pi, lipschitz_zeta=0.4 + math.pi)


@dataclass(frozen=True, repr=False)
class _SkewKernel(FunctionKernel):
    cell_average_exact = True

    def compiled_form(self) -> tuple[str, np.ndarray]:
        """``("skew", [])``: ``0.8 + 0.6 xi - 0.4 zeta + 0.5 sin(2 pi (xi - zeta))``."""
        return "skew", np.empty(0)

    def separable_terms(self) -> SeparableTerms:
        """``0.8 + 0.6 xi - 0.4 zeta + 0.5 (sin 2 pi xi cos 2 pi zeta - cos 2 pi xi sin 2 pi zeta)``."""
        one, t, cos, sin = (BasisFunction.smooth(k) for k in ("one", "t", "cos", "sin"))
        return SeparableTerms((SeparableTerm(0.8, one, one), SeparableTerm(0.6, t, one), SeparableTerm(-0.4, one, t),
                               SeparableTerm(0.5, sin, cos), SeparableTerm(-0.5, cos, sin)))


def product() -> FunctionKernel:
    """``w = 2 xi zeta``: ``degree(xi) = xi``, ``in_degree(zeta) = zeta``, ``sup = 2``.

    Derivative bounds: ``d_xi w = 2 zeta``, ``d_zeta w = 2 xi``, so ``L_xi = L_zeta = 2`` (at
    ``zeta = 1``, resp. ``xi = 1``).  Cell averages and rectangle integrals exact, from the separable
    form (one term; bilinear, so the cell average is the midpoint value).
    """
    return _ProductKernel(func=lambda x, z: 2.0 * x * z, name="product", symmetric=True,
                          degree_func=lambda x: x, in_degree_func=lambda z: z, sup_value=2.0,
                          lipschitz_xi=2.0, lipschitz_zeta=2.0)


@dataclass(frozen=True, repr=False)
class _ProductKernel(FunctionKernel):
    cell_average_exact = True

    def compiled_form(self) -> tuple[str, np.ndarray]:
        """``("product", [])``: ``2 xi zeta``."""
        return "product", np.empty(0)

    def separable_terms(self) -> SeparableTerms:
        """``2 xi zeta``."""
        t = BasisFunction.smooth("t")
        return SeparableTerms((SeparableTerm(2.0, t, t),))


KERNELS: dict[str, Callable[..., Kernel]] = {
    "ring": ring,
    "two-block": two_block,
    "constant": constant,
    "skew": skew,
    "product": product,
}


def named_kernel(name: str, **params) -> Kernel:
    """Look up a named kernel of SPEC section 8 (``ring``, ``two-block``, ``constant``, ``skew``,
    ``product``); unknown names raise and list the valid ones."""
    key = str(name).lower().replace("_", "-")
    if key not in KERNELS:
        raise bad_argument("name", name, "unknown kernel", f"use one of {sorted(KERNELS)}")
    try:
        return KERNELS[key](**params)
    except TypeError as exc:
        raise bad_argument("params", params, f"wrong parameters for kernel {key!r} ({exc})",
                           f"see help(solvers.graphons.{KERNELS[key].__name__})") from None


# ---------------------------------------------------------------------------- weight sequences
def checkerboard(N: int, *, J: float = 1.0, dtype=np.float64) -> np.ndarray:
    """``W_ij = J (1 + (-1)^{i+j}) / N`` (``2J/N`` between neurons of equal parity), ``W_ii = 0``.

    Under the given labels its step kernel converges weakly-* to ``J`` but stays at cut norm ``J/4``
    from it; relabelled by parity it is the two-population kernel ``2J 1{same parity}``.
    """
    dtype = _check_dtype(dtype)
    N = _check_n("N", N)
    J = check_real("J", J)
    i = np.arange(N)
    W = np.asfortranarray(J * (1.0 + (-1.0) ** (i[:, None] + i[None, :])) / N, dtype=dtype)
    np.fill_diagonal(W, 0.0)
    return W


def random_sign(N: int, *, seed, J: float = 1.0, dtype=np.float64) -> np.ndarray:
    """``W_ij = +-J/N`` i.i.d. fair signs, ``W_ii = 0``; cut-norm limit is the zero kernel.
    ``seed`` (required: the output is random) is an int or a ``SeedSequence``."""
    dtype = _check_dtype(dtype)
    N = _check_n("N", N)
    J = check_real("J", J)
    rng = make_rng(seed)
    W = np.asfortranarray(np.where(rng.random((N, N)) < 0.5, -1.0, 1.0) * (J / N), dtype=dtype)
    np.fill_diagonal(W, 0.0)
    return W


@dataclass(frozen=True)
class WRandomGraph:
    """A W-random weight matrix with its latent data.

    ``weights[i, j]`` belongs to neurons with latent positions ``positions[i]``, ``positions[j]``;
    ``permutation`` is the shuffle applied to the labels (``weights = W0[perm][:, perm]`` where ``W0``
    was drawn with positions in the order drawn).  ``np.argsort(positions)`` is the relabelling by
    known latent positions.
    """

    weights: np.ndarray
    positions: np.ndarray
    permutation: np.ndarray
    kernel: Kernel
    M: float


def w_random(kernel: Kernel, N: int, *, seed, dtype=np.float64) -> WRandomGraph:
    """``W_ij = M sign(w(U_i,U_j)) A_ij / N``, ``A_ij ~ Bernoulli(|w(U_i,U_j)|/M)``, ``M = sup|w|``,
    ``U_i`` i.i.d. uniform, labels shuffled; ``W_ii = 0``.  ``E[N W_ij | U] = w(U_i, U_j)``.
    ``seed`` (required: the output is random) is an int or a ``SeedSequence``."""
    dtype = _check_dtype(dtype)
    check_instance("kernel", kernel, Kernel, "pass e.g. ring()")
    N = _check_n("N", N)
    rng = make_rng(seed)
    M = float(kernel.sup)
    if not (M > 0 and math.isfinite(M)):
        raise bad_argument("kernel", kernel, f"sup |w| = {M} must be positive and finite",
                           "use a bounded non-zero kernel")
    U = rng.random(N)
    vals = kernel(U[:, None], U[None, :])
    p = np.abs(vals) / M
    if np.any(p > 1 + 1e-12):
        top = float(np.max(np.abs(vals)))
        raise bad_argument("kernel", kernel, f"|w| reaches {top:.17g} > its stated sup {M}",
                           "fix its sup_value (or leave it None to have it computed)")
    A = rng.random((N, N)) < p
    W0 = np.where(A, M * np.sign(vals) / N, 0.0)
    np.fill_diagonal(W0, 0.0)
    perm = rng.permutation(N)
    W = np.asfortranarray(W0[np.ix_(perm, perm)], dtype=dtype)
    return WRandomGraph(weights=W, positions=U[perm], permutation=perm, kernel=kernel, M=M)


def alternating_kernel(N: int) -> Kernel:
    """The kernel the ``alternating`` sequence uses at size ``N``: ``ring`` for even N, ``two-block`` for odd."""
    N = _check_n("N", N)
    return ring() if N % 2 == 0 else two_block()


def alternating(N: int, *, dtype=np.float64) -> np.ndarray:
    """Two accumulation points: even N from ``ring``, odd N from ``two-block``."""
    return alternating_kernel(N).weights(N, dtype=dtype)


def hub(N: int, *, dtype=np.float64) -> np.ndarray:
    """Negative control: ``W_i1 = 0.5`` for all ``i != 1`` (neuron 1 kicks everyone by O(1)), the rest
    ``1/N``, ``W_ii = 0``.  ``kappa_N = N/2`` grows: violates the O(1/N) hypothesis."""
    dtype = _check_dtype(dtype)
    N = _check_n("N", N, minimum=2)
    W = np.full((N, N), 1.0 / N, dtype=dtype, order="F")
    W[:, 0] = 0.5
    np.fill_diagonal(W, 0.0)
    return W


def sparse_erdos_renyi(N: int, *, seed, p: float | None = None, dtype=np.float64) -> sp.csc_matrix:
    """Sparse Erdos-Renyi weights ``W_ij = A_ij / (N p)``, ``A_ij ~ Bernoulli(p)`` (default
    ``p = N^{-1/2}``), ``W_ii = 0``.  ``kappa_N = 1/p`` grows like ``N^{1/2}``: violates O(1/N).
    ``seed`` (required: the output is random) is an int or a ``SeedSequence``."""
    dtype = _check_dtype(dtype)
    N = _check_n("N", N)
    fix = "pass a connection probability in (0, 1]"
    p = N ** -0.5 if p is None else check_real("p", p, fix)
    if not 0 < p <= 1:
        raise bad_argument("p", p, "must be in (0, 1]", fix)
    rng = make_rng(seed)
    # i.i.d. Bernoulli(p) entries: K ~ Binomial(N^2, p) successes at a uniform K-subset of positions
    # (scipy.sparse.random would fix K = round(p N^2) instead).
    K = int(rng.binomial(N * N, p))
    flat = rng.choice(N * N, size=K, replace=False)
    rows, cols = np.divmod(flat, N)
    off = rows != cols
    A = sp.csc_matrix((np.full(int(off.sum()), 1.0 / (N * p), dtype=dtype), (rows[off], cols[off])),
                      shape=(N, N))
    return A


@dataclass(frozen=True)
class NamedSequence:
    """One entry of :data:`WEIGHT_SEQUENCES`, the one registry of named weight sequences (SPEC section 8).

    Attributes
    ----------
    name : str
        The name :func:`build_weights` (and ``ifmf simulate --kernel``, ``ifmf weights``) accepts.
    summary : str
        One line: the weights and what their step kernels converge to.
    kernel : bool
        The name is also a kernel of :data:`KERNELS` (``named_kernel(name)`` gives ``w``, the limit
        of the sequence, usable by the PDE solvers and ``ifmf solve``).
    random : bool
        The weights are random: :func:`build_weights` needs ``seed``.
    sparse : bool
        :func:`build_weights` returns a scipy sparse matrix.
    scratch : float
        Peak temporary memory of the builder, in ``N x N`` float64 matrices beyond the result (an
        estimate from the builder's code, for :meth:`peak_bytes`).
    float64_first : bool
        The builder makes a float64 matrix and converts it (one more matrix for ``dtype=float32``).
    """

    name: str
    summary: str
    kernel: bool = False
    random: bool = False
    sparse: bool = False
    scratch: float = 0.0
    float64_first: bool = False

    def peak_bytes(self, N: int, *, dtype=np.float64) -> int:
        """Estimated peak memory of ``build_weights(name, N, dtype=dtype)`` in bytes (result plus
        temporaries; for the sparse sequence, its ``N^{3/2}`` stored entries and their indices)."""
        N = _check_n("N", N)
        item = _check_dtype(dtype).itemsize
        if self.sparse:
            return int(4 * 8 * N ** 1.5 + 16 * N)
        extra = 8 if (self.float64_first and item != 8) else 0
        return int(N * N * (item + 8 * self.scratch + extra))


WEIGHT_SEQUENCES: dict[str, NamedSequence] = {s.name: s for s in (
    NamedSequence("ring", "W_ij = w(xi_i, xi_j)/N, w = 1 + 0.5 cos(2 pi (xi - zeta))", kernel=True,
                  float64_first=True),
    NamedSequence("two-block", "W_ij = w(xi_i, xi_j)/N, w = 1.5 on the diagonal blocks, 0.2 off", kernel=True),
    NamedSequence("constant", "W_ij = 1/N (w = 1)", kernel=True),
    NamedSequence("skew", "W_ij = w(xi_i, xi_j)/N, w = 0.8 + 0.6 xi - 0.4 zeta + 0.5 sin(2 pi (xi - zeta)) "
                  "(non-symmetric)", kernel=True),
    NamedSequence("product", "W_ij = w(xi_i, xi_j)/N, w = 2 xi zeta", kernel=True),
    NamedSequence("checkerboard", "W_ij = (1 + (-1)^(i+j))/N: two populations by parity; weak-* limit 1, "
                  "cut-norm limit 2 1{same parity} after relabelling", scratch=3.0),
    NamedSequence("random-sign", "W_ij = +-1/N i.i.d. fair signs; cut-norm limit 0 (neurons decouple)",
                  random=True, scratch=3.0),
    NamedSequence("w-random", "W_ij = M sign(w) Bernoulli(|w(U_i, U_j)|/M)/N from ring, labels shuffled; "
                  "limit ring after relabelling", random=True, scratch=5.0),
    NamedSequence("alternating", "ring for even N, two-block for odd N: two accumulation points",
                  float64_first=True),
    NamedSequence("hub", "W_i1 = 0.5, the rest 1/N: kappa_N = N/2 grows (violates the O(1/N) hypothesis)"),
    NamedSequence("erdos-renyi", "sparse W_ij = Bernoulli(p)/(N p), p = N^-1/2: kappa_N = N^1/2 grows "
                  "(violates the O(1/N) hypothesis)", random=True, sparse=True),
)}
"""The named weight sequences (one registry: :func:`build_weights`, the ``ifmf`` commands and the
docs read it).  The entries with ``kernel=True`` are the kernels of :data:`KERNELS`."""


def sequence_info(name: str) -> NamedSequence:
    """The :class:`NamedSequence` of a name of :data:`WEIGHT_SEQUENCES` (``_`` accepted for ``-``,
    any case); an unknown name raises and lists the valid ones."""
    key = str(name).lower().replace("_", "-")
    if key not in WEIGHT_SEQUENCES:
        raise bad_argument("name", name, "unknown weight sequence", f"use one of {list(WEIGHT_SEQUENCES)}")
    return WEIGHT_SEQUENCES[key]


def build_weights(name: str, N: int, *, seed=None, dtype=np.float64, **params):
    """Weights of a named sequence of SPEC section 8 at size ``N``.

    Named kernels give ``kernel.weights(N)``; ``w-random`` takes ``kernel=<name>`` (default ``ring``)
    and returns the :class:`WRandomGraph`'s weights.  Random sequences need ``seed`` (an error
    otherwise); deterministic ones ignore it.  ``params`` go to the kernel or sequence builder.
    """
    key = sequence_info(name).name
    if key in KERNELS:
        return named_kernel(key, **params).weights(N, dtype=dtype)
    if key in ("random-sign", "w-random", "erdos-renyi") and seed is None:
        raise bad_argument("seed", seed, f"sequence {key!r} is random and needs a seed", "pass seed=<int>")
    if key == "w-random":
        kname = params.pop("kernel", "ring")
        kern = kname if isinstance(kname, Kernel) else named_kernel(kname, **params)
        return w_random(kern, N, seed=seed, dtype=dtype).weights
    builder = {"checkerboard": checkerboard, "alternating": alternating, "hub": hub,
               "random-sign": random_sign, "erdos-renyi": sparse_erdos_renyi}[key]
    kwargs = dict(params, dtype=dtype)
    if WEIGHT_SEQUENCES[key].random:
        kwargs["seed"] = seed
    try:  # a parameter the builder does not take is the caller's error, not a TypeError
        inspect.signature(builder).bind(N, **kwargs)
    except TypeError as exc:
        raise bad_argument("params", params, f"wrong parameters for sequence {key!r} ({exc})",
                           f"see help(solvers.graphons.{builder.__name__})") from None
    return builder(N, **kwargs)
    raise RuntimeError(f"internal error: sequence {key!r} is registered but has no builder")  # pragma: no cover


# ----------------------------------------------------------------------------------- validation / IO
def validate_weights(W, name: str = "weights"):
    """Check a weight matrix: 2-D, square, non-empty, finite, real.  Returns a float ndarray (kept
    as given if already float32/float64) or a scipy sparse CSC matrix."""
    if sp.issparse(W):
        if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] == 0:
            raise bad_argument(name, f"sparse matrix of shape {W.shape}", "must be a non-empty square matrix",
                               "pass an N x N matrix (row i = postsynaptic neuron i)")
        if np.iscomplexobj(W.data):
            raise bad_argument(name, "complex sparse matrix", "must be real", "pass real weights")
        W = W.tocsc()
        if not np.all(np.isfinite(W.data)):
            bad = int(np.sum(~np.isfinite(W.data)))
            raise bad_argument(name, f"sparse matrix with {bad} non-finite entries", "must be finite",
                               "remove NaN/inf entries")
        if W.dtype not in (np.float32, np.float64):
            W = W.astype(np.float64)
        return W
    try:
        A = np.asarray(W)
    except Exception:  # pragma: no cover - exotic inputs
        raise bad_argument(name, W, "must be array-like", "pass a numpy array") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise bad_argument(name, f"array of shape {A.shape}", "must be a non-empty square N x N matrix",
                           "pass an N x N matrix (row i = postsynaptic neuron i)")
    if np.iscomplexobj(A) or not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
        raise bad_argument(name, f"array of dtype {A.dtype}", "must be real numbers", "pass float weights")
    if A.dtype not in (np.float32, np.float64):
        A = A.astype(np.float64)
    # A finite sum proves every entry finite without an N x N boolean temporary (memory of large
    # dense matrices); only a non-finite sum (or an overflow) falls back to the entrywise check.
    if not np.isfinite(A.sum(dtype=np.float64)) and not np.all(np.isfinite(A)):
        idx = np.argwhere(~np.isfinite(A))[0]
        raise bad_argument(name, f"matrix with non-finite entry at {tuple(int(i) for i in idx)}",
                           "must be finite", "remove NaN/inf entries")
    return A


_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}
_WEIGHT_EXTENSIONS = (".npy", ".npz", ".csv", ".mtx")


def _describe_start(head: bytes) -> str:
    """What the first bytes of a file look like (for the error of a file whose extension lies)."""
    if not head:
        return "it is empty"
    if head.startswith(b"\x80"):
        return "it looks like a Python pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"it starts with the bytes {head[:12]!r}"
    first = text.splitlines()[0][:40] if text.splitlines() else text[:40]
    if text.startswith("%%MatrixMarket"):
        return "it looks like a MatrixMarket text file (.mtx)"
    return f"it looks like text, first line {first!r}"


def _weight_file_error(p: str, ext: str) -> InvalidArgumentError | None:
    """The error for a path that is not a readable weight file of its extension, or None."""
    if os.path.isdir(p):
        inside = sorted(f for f in os.listdir(p) if os.path.splitext(f)[1].lower() in _WEIGHT_EXTENSIONS)
        shown = ", ".join(inside[:4]) + (", ..." if len(inside) > 4 else "")
        fix = (f"pass the weight files inside it ({shown}), e.g. {os.path.join(p, inside[0])}" if inside else
               "pass a weight file (.npy, .npz, .csv or .mtx); this folder holds none")
        return bad_argument("path", p, "is a folder, not a weight file", fix)
    if not os.path.exists(p):
        return bad_argument("path", p, "file does not exist", "check the path")
    if ext not in _WEIGHT_EXTENSIONS:
        return bad_argument("path", p, f"unknown extension {ext!r}", "use .npy, .npz, .csv or .mtx")
    try:
        with open(p, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        return bad_argument("path", p, f"cannot be opened ({exc.strerror or exc})",
                            "check the file's permissions (it must be readable)")
    magic = _MAGIC.get(ext)
    if magic is not None and not head.startswith(magic):
        kind = "a NumPy .npy file" if ext == ".npy" else "a NumPy .npz (zip) archive"
        hint = ("rename it to .csv if it holds comma-separated numbers, or write it with numpy.save"
                if ext == ".npy" else "write it with numpy.savez(path, W=W) or scipy.sparse.save_npz")
        return bad_argument("path", p, f"could not be read as a {ext} matrix: it is not {kind} "
                            f"({_describe_start(head)})", hint)
    return None


def load_weights(path: str | os.PathLike):
    """Load a weight matrix from ``.npy``, ``.npz``, ``.csv`` or ``.mtx`` (dense or sparse).

    Returns a dense float64 ndarray or a scipy sparse CSC matrix, validated by
    :func:`validate_weights`.  Raises :class:`~solvers.errors.InvalidArgumentError` for a missing
    file, a folder, an unreadable file, an unknown extension, a file whose contents do not match
    its extension (e.g. text named ``.npy``), a file holding Python objects (files are never
    unpickled) or contents that are not a real square matrix.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise bad_argument("path", path, "must be a file path", "pass e.g. 'W_1000.npy'")
    p = os.fsdecode(os.fspath(path))
    if not p:
        raise bad_argument("path", p, "is empty", "pass the path of a weight file, e.g. 'W_1000.npy'")
    ext = os.path.splitext(p)[1].lower()
    problem = _weight_file_error(p, ext)
    if problem is not None:
        raise problem
    try:
        if ext == ".npy":
            W = np.load(p, allow_pickle=False)
        elif ext == ".npz":
            W = _load_npz(p)
        elif ext == ".csv":
            with warnings.catch_warnings():  # an empty file: our error below, not numpy's warning
                warnings.simplefilter("ignore", UserWarning)
                W = np.loadtxt(p, delimiter=",", ndmin=2)
        else:
            from scipy.io import mmread

            W = mmread(p)
            if sp.issparse(W):
                W = W.tocsc()
    except InvalidArgumentError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise bad_argument("path", p, f"could not be read as a {ext} matrix: it holds Python objects, and "
                               "weight files are never unpickled (they could run code)",
                               "save a numeric array, e.g. numpy.save(path, W.astype(float))") from None
        raise bad_argument("path", p, f"could not be read as a {ext} matrix ({type(exc).__name__}: {exc})",
                           "check the file format") from None
    except Exception as exc:
        raise bad_argument("path", p, f"could not be read as a {ext} matrix ({type(exc).__name__}: {exc})",
                           "check the file format") from None
    return validate_weights(W, name=f"contents of {p}")


def _load_npz(p: str):
    with np.load(p, allow_pickle=False) as z:
        keys = set(z.files)
        if {"format", "shape"} <= keys and ({"data", "indices", "indptr"} <= keys or {"row", "col", "data"} <= keys):
            return sp.load_npz(p)
        for k in ("W", "weights"):
            if k in keys:
                return z[k]
        if len(keys) == 1:
            return z[next(iter(keys))]
    raise bad_argument("path", p, f"npz holds arrays {sorted(keys)} and none is named 'W' or 'weights'",
                       "save the matrix as np.savez(path, W=W) or with scipy.sparse.save_npz")
