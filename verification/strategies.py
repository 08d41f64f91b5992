"""Hypothesis strategies for ifmf objects: kernels, weights, neuron models and initial data.

For property-based tests in a user's own suite ("for every kernel of this family and every model in
this range, the network converges to the mean-field PDE"): each strategy draws objects that the rest
of ifmf uses directly, and states what every drawn object satisfies (checked by
``tests/properties/test_strategies*.py`` on fine grids).

Strategies (plural nouns, keyword-only options, Hypothesis's ``min_value``/``max_value`` naming;
every argument is checked when the strategy is *defined*, raising
:class:`~solvers.errors.InvalidArgumentError`):

:func:`kernels`
    Bounded kernels ``w(xi, zeta)`` with values in ``[min_value, max_value]``: low-degree Fourier and
    polynomial expansions (:class:`ExpansionKernel`, Lipschitz, with certified brackets on
    ``sup |w|`` and on the partial-derivative bounds ``(L_xi, L_zeta)``) and block kernels
    (:class:`BlockKernel`, a :class:`~solvers.graphons.StepKernel`: exact ``sup``, exact cell
    integrals, not continuous).  Symmetric, non-symmetric or both.
:func:`weight_sequences`, :func:`weight_matrices`
    Sequences ``N -> W`` (:class:`WeightSequence`) and single matrices (:class:`LabelledWeights`) of
    the families of :data:`SEQUENCE_FAMILIES`: step-kernel weights, the same under a random
    relabelling, W-random graphs, random-sign perturbations, and the ``hub`` negative control.
    Each matrix carries the latent position of every neuron, so the relabelling that aligns it with
    its limit kernel is known.
:func:`neuron_models`
    :class:`~solvers.model.NeuronModel` with the leaky drift and an intensity of a named family;
    inside the theorem's hypotheses (bounded, Lipschitz intensities) unless asked otherwise.
:func:`initial_data`
    :class:`InitialData`: the same initial law for the network (a state per neuron, from its latent
    position) and for the mean-field PDE (a :mod:`solvers.meanfield` initial datum).

Shrinking.  Every numeric parameter is drawn on a grid of :data:`GRID_STEPS` steps across its range
and shrinks towards the simplest value of the range (0 when the range holds it, else its end nearest
0); lists of terms shrink to empty, block counts to 1, families to the first one listed.  So a
failing example shrinks to a constant kernel, the first family, the smallest rate and short printed
numbers, in few steps (each step of a convergence check runs a small study: fast shrinking matters).

Certified constants of an expansion ``w(xi, zeta) = sum_ab C_ab phi_a(xi) phi_b(zeta)`` (basis
``1, cos 2 pi k t, sin 2 pi k t`` for ``k <= degree``, or ``1, t, ..., t^degree``): with ``s_j(a) =
sup |phi_a^(j)|`` on ``[0, 1]`` (closed forms) the coefficient bounds ``sum |C_ab| s_i(a) s_j(b)``
bound ``sup |d^i_xi d^j_zeta w|``.  On the ``n x n`` grid of cell midpoints (``n =``
:data:`CERTIFICATE_GRID`, every point of ``[0, 1]^2`` within ``h/2``, ``h = 1/n``, of a node in each
coordinate) the grid maximum is a lower bound (attained) and ``grid max + (L_xi + L_zeta) h / 2`` an
upper bound of ``sup |w|`` (mean value theorem); the same with the second-derivative bounds gives
brackets on ``L_xi = sup |d_xi w|`` and ``L_zeta = sup |d_zeta w|``.  Each upper side is the smaller
of the grid bound and the coefficient bound, plus a rounding allowance ``4 m^2 u B`` (``m`` basis
functions, ``u`` the unit roundoff, ``B`` the coefficient bound).  ``kernel.sup`` and
``kernel.lipschitz`` are the upper sides (what certifies every bound built on them); the brackets
are ``kernel.sup_bracket`` and ``kernel.lipschitz_brackets``.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as exc:  # pragma: no cover - hypothesis is a test dependency
    raise ImportError("verification.strategies needs hypothesis: pip install 'ifmf[test]'") from exc

from solvers.errors import bad_argument
from solvers.graphons import BasisFunction, Kernel, SeparableTerm, SeparableTerms, StepKernel, labels, w_random
from solvers.meanfield import Dirac, Empirical, Gaussian
from solvers.meanfield.initial import InitialSpec
from solvers.model import Constant, Exponential, Leaky, NeuronModel, ReLU, Sigmoid
from solvers.validation import check_bool, check_choice, check_instance, check_int, check_positive, check_real

__all__ = [
    "kernels",
    "weight_sequences",
    "weight_matrices",
    "neuron_models",
    "initial_data",
    "ExpansionKernel",
    "BlockKernel",
    "expansion_kernel",
    "WeightSequence",
    "LabelledWeights",
    "InitialData",
    "KERNEL_FAMILIES",
    "SEQUENCE_FAMILIES",
    "INTENSITY_FAMILIES",
    "INITIAL_KINDS",
    "GRID_STEPS",
    "CERTIFICATE_GRID",
    "MAX_DEGREE",
]

#: steps of the grid on which every numeric parameter is drawn (module docstring, "Shrinking")
GRID_STEPS = 64
#: cells per side of the grid behind the certified constants of an :class:`ExpansionKernel`
CERTIFICATE_GRID = 512
#: the largest degree of an expansion (frequency of a Fourier term, power of a polynomial term)
MAX_DEGREE = 4

KERNEL_FAMILIES: dict[str, str] = {
    "fourier": "w = sum C_ab phi_a(xi) phi_b(zeta), phi in {1, cos 2 pi k t, sin 2 pi k t : k <= degree}",
    "polynomial": "w = sum C_ab xi^a zeta^b, a, b <= degree",
    "block": "step kernel: values V[a, b] on the blocks of a uniform partition into n <= max_blocks cells",
}
"""The kernel families of :func:`kernels`."""

SEQUENCE_FAMILIES: dict[str, str] = {
    "step": "W_ij = w(xi_i, xi_j)/N (W_ii = 0); limit w under the given labels",
    "shuffled": "the step weights under a uniformly random relabelling sigma: W[sigma][:, sigma]; limit w after "
                "relabelling by the positions",
    "w-random": "W-random graph W_ij = M sign(w) Bernoulli(|w(U_i, U_j)|/M)/N, U_i uniform, labels shuffled; "
                "limit w after relabelling by the latent positions U",
    "random-sign": "step weights plus i.i.d. signs: W_ij = (w(xi_i, xi_j) +- J)/N; the signs have cut-norm "
                   "limit 0, so the limit is w",
    "hub": "negative control: step weights with column 1 replaced by hub_weight (neuron 1 kicks everyone by "
           "O(1)); kappa_N = N hub_weight grows, the O(1/N) hypothesis fails",
}
"""The weight-sequence families of :func:`weight_sequences` (``hub`` is outside the theorem)."""

INTENSITY_FAMILIES: dict[str, bool] = {"constant": True, "sigmoid": True, "relu": True, "exponential": False}
"""Intensity families of :func:`neuron_models` and whether they lie inside the theorem's hypotheses."""

INITIAL_KINDS: dict[str, str] = {
    "constant": "X_i(0) = c for every neuron; PDE Dirac(c)",
    "profile": "X_i(0) = c + a sin(2 pi xi_i) at the neuron's position; PDE Dirac(c + a sin(2 pi xi)) per node",
    "gaussian": "X_i(0) i.i.d. N(m, s^2); PDE Gaussian(m, s)",
    "alternating": "X_i(0) = u or v by the parity of the neuron's rank in position order (converges only "
                   "weakly in xi); PDE slices (delta_u + delta_v)/2",
}
"""The kinds of initial data of :func:`initial_data`."""


# --------------------------------------------------------------------------------- argument checks
def _check_names(name: str, value: Any, registry: Sequence[str]) -> tuple[str, ...]:
    """A non-empty list or tuple of distinct names of ``registry`` (in the caller's order)."""
    valid = list(registry)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise bad_argument(name, value, f"must be a non-empty list or tuple of names from {valid}",
                           f"pass e.g. {name}={tuple(valid[:2])!r}")
    if not value:
        raise bad_argument(name, value, "must not be empty", f"pass e.g. {name}={tuple(valid[:1])!r}")
    out = tuple(check_choice(f"{name}[{k}]", v, valid) for k, v in enumerate(value))
    if len(set(out)) != len(out):
        raise bad_argument(name, value, "must not repeat a name", "list each name once")
    return out


def _check_range(lo_name: str, lo: Any, hi_name: str, hi: Any) -> tuple[float, float]:
    lo = check_real(lo_name, lo)
    hi = check_real(hi_name, hi)
    if lo > hi:
        raise bad_argument(lo_name, lo, f"must be <= {hi_name} = {hi!r}", f"swap {lo_name} and {hi_name}")
    return lo, hi


def _check_optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else check_positive(name, value, f"pass {name}=None or a finite value > 0")


@dataclass(frozen=True)
class _GridValue:
    """``k -> simplest + k step`` clipped to ``[lo, hi]`` (a named callable: no lambda source to parse)."""

    lo: float
    hi: float
    simplest: float
    step: float

    def __call__(self, k: int) -> float:
        return float(min(self.hi, max(self.lo, self.simplest + k * self.step)))


@functools.lru_cache(maxsize=256)
def _grid_floats(lo: float, hi: float) -> SearchStrategy[float]:
    """Floats on a grid of :data:`GRID_STEPS` steps over ``[lo, hi]`` anchored at the simplest value
    (0 if ``lo <= 0 <= hi``, else the end nearest 0), which is where they shrink to (cached: a
    strategy built once is cheaper to draw from)."""
    lo, hi = float(lo), float(hi)
    simplest = min(max(0.0, lo), hi)
    if hi == lo:
        return st.just(lo)
    step = (hi - lo) / GRID_STEPS
    k_lo = -int(math.floor((simplest - lo) / step + 1e-9))
    k_hi = int(math.floor((hi - simplest) / step + 1e-9))
    return st.integers(k_lo, k_hi).map(_GridValue(lo, hi, simplest, step))


def _not_constant(pair: tuple[int, int]) -> bool:
    return pair != (0, 0)


def _ordered(pair: tuple[int, int]) -> tuple[int, int]:
    return (min(pair), max(pair))


def _first(item: tuple) -> Any:
    return item[0]


@functools.lru_cache(maxsize=256)
def _term_lists(m: int, symmetric: bool, n_terms: int) -> SearchStrategy[list]:
    """Lists of ``n_terms`` distinct ``((a, b), coefficient)`` with ``(a, b) != (0, 0)``, ``a <= b`` if symmetric."""
    pair = st.tuples(st.integers(0, m - 1), st.integers(0, m - 1)).filter(_not_constant)
    if symmetric:
        pair = pair.map(_ordered)
    return st.lists(st.tuples(pair, _grid_floats(-1.0, 1.0)), min_size=n_terms, max_size=n_terms, unique_by=_first)


# ------------------------------------------------------------------------------------ expansions
_TWO_PI = 2.0 * math.pi
_EXP_BETA = 2.0  # the largest beta of a drawn exponential intensity
_EPS = float(np.finfo(float).eps)


def _basis_size(basis: str, degree: int) -> int:
    return 2 * degree + 1 if basis == "fourier" else degree + 1


def _basis_degree(basis: str, m: int) -> int:
    return (m - 1) // 2 if basis == "fourier" else m - 1


def _basis_values(basis: str, m: int, t: np.ndarray, order: int = 0) -> np.ndarray:
    """``phi_a^(order)(t)`` for ``a < m``, shape ``(m,) + t.shape`` (closed forms)."""
    t = np.asarray(t, dtype=float)
    out = np.empty((m,) + t.shape)
    if basis == "fourier":
        out[0] = 1.0 if order == 0 else 0.0
        for k in range(1, _basis_degree(basis, m) + 1):
            w = _TWO_PI * k
            c, s = np.cos(w * t), np.sin(w * t)
            if order == 0:
                out[2 * k - 1], out[2 * k] = c, s
            elif order == 1:
                out[2 * k - 1], out[2 * k] = -w * s, w * c
            else:
                out[2 * k - 1], out[2 * k] = -w * w * c, -w * w * s
        return out
    for a in range(m):
        if a < order:
            out[a] = 0.0
        else:
            coef = float(math.perm(a, order))
            out[a] = coef * t ** (a - order)
    return out


def _basis_sups(basis: str, m: int) -> np.ndarray:
    """``sup_[0,1] |phi_a^(j)|`` for ``j = 0, 1, 2``, shape ``(3, m)`` (closed forms)."""
    out = np.zeros((3, m))
    out[0] = 1.0
    if basis == "fourier":
        for k in range(1, _basis_degree(basis, m) + 1):
            out[1, 2 * k - 1:2 * k + 1] = _TWO_PI * k
            out[2, 2 * k - 1:2 * k + 1] = (_TWO_PI * k) ** 2
    else:
        a = np.arange(m, dtype=float)
        out[1] = a
        out[2] = a * (a - 1)
    return out


def _basis_means(basis: str, m: int) -> np.ndarray:
    """``int_0^1 phi_a``, shape ``(m,)``."""
    if basis == "fourier":
        out = np.zeros(m)
        out[0] = 1.0
        return out
    return 1.0 / (np.arange(m) + 1.0)


def _basis_label(basis: str, a: int, var: str) -> str:
    if a == 0:
        return ""
    if basis == "polynomial":
        return var if a == 1 else f"{var}^{a}"
    k = (a + 1) // 2
    fn = "cos" if a % 2 == 1 else "sin"
    return f"{fn}({2 * k} pi {var})"


def _smooth_kind(basis: str, a: int) -> str | None:
    """The :class:`~solvers.graphons.BasisFunction` kind of ``phi_a``, or None when it has none."""
    kinds = ("one", "cos", "sin") if basis == "fourier" else ("one", "t")
    return kinds[a] if a < len(kinds) else None


@dataclass(frozen=True, eq=False, repr=False)
class ExpansionKernel(Kernel):
    """``w(xi, zeta) = phi(xi)^T C phi(zeta)``, a low-degree Fourier or polynomial expansion.

    Parameters
    ----------
    basis : {"fourier", "polynomial"}
        ``phi = (1, cos 2 pi t, sin 2 pi t, ..., cos 2 pi d t, sin 2 pi d t)`` (``m = 2 d + 1``) or
        ``phi = (1, t, ..., t^d)`` (``m = d + 1``), ``d <= MAX_DEGREE``.
    coefficients : array_like, shape (m, m)
        ``C``; symmetric ``C`` gives a symmetric kernel.

    Everything is closed form: values, :meth:`gradient`, :meth:`degree`, :meth:`in_degree`.  ``sup``
    and ``lipschitz`` are certified upper bounds with their brackets ``sup_bracket`` and
    ``lipschitz_brackets`` (module docstring).  :meth:`separable_terms` is the exact form when every
    term uses ``1, cos 2 pi t, sin 2 pi t`` (Fourier degree 1) or ``1, t`` (polynomial degree 1), the
    factors the metrics integrate exactly; ``None`` otherwise (the metrics then use quadrature,
    certified by ``lipschitz``).  Build one with :func:`expansion_kernel` or draw them with
    :func:`kernels`.
    """

    basis: str = "fourier"
    coefficients: np.ndarray = field(default=None)
    _certificate: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self):
        basis = check_choice("basis", self.basis, ("fourier", "polynomial"))
        C = np.array(self.coefficients, dtype=float) if self.coefficients is not None else None
        if C is None or C.ndim != 2 or C.shape[0] != C.shape[1] or C.shape[0] < 1 or not np.all(np.isfinite(C)):
            raise bad_argument("coefficients", self.coefficients, "must be a finite square (m, m) array",
                               "pass C with w = phi(xi)^T C phi(zeta)")
        m = C.shape[0]
        if basis == "fourier" and m % 2 == 0:
            raise bad_argument("coefficients", f"array of shape {C.shape}", "a Fourier basis has m = 2 d + 1 "
                               "functions (1, cos, sin per frequency)", "pass an odd-sized (2 d + 1) square array")
        if _basis_degree(basis, m) > MAX_DEGREE:
            raise bad_argument("coefficients", f"array of shape {C.shape}", f"degree must be <= {MAX_DEGREE}",
                               "use fewer basis functions")
        C.setflags(write=False)
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "coefficients", C)

    def _certified(self):
        if not self._certificate:  # computed once, on first use
            sup_b, lip_b = _certify(self.basis, self.coefficients)
            self._certificate.update(sup=sup_b, lipschitz=lip_b)
        return self._certificate

    @property
    def sup_bracket(self) -> tuple[float, float]:
        """``(lower, upper)`` on ``sup |w|``: a grid maximum (attained) and a certified bound."""
        return self._certified()["sup"]

    @property
    def lipschitz_brackets(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((lower, upper), (lower, upper))`` on ``L_xi = sup |d_xi w|`` and ``L_zeta = sup |d_zeta w|``."""
        return self._certified()["lipschitz"]

    # the Kernel interface -----------------------------------------------------------------------
    @property
    def name(self) -> str:  # type: ignore[override]
        return self.basis

    @property
    def degree_of_expansion(self) -> int:
        """``d``: the largest frequency or power."""
        return _basis_degree(self.basis, self.coefficients.shape[0])

    @property
    def symmetric(self) -> bool:  # type: ignore[override]
        return bool(np.array_equal(self.coefficients, self.coefficients.T))

    @property
    def cell_average_exact(self) -> bool:  # type: ignore[override]
        return self.separable_terms() is not None

    @property
    def sup(self) -> float:
        """Certified upper bound of ``sup |w|`` (``sup_bracket[1]``)."""
        return self.sup_bracket[1]

    @property
    def lipschitz(self) -> tuple[float, float]:
        """Certified ``(L_xi, L_zeta)`` (the upper sides of ``lipschitz_brackets``)."""
        return self.lipschitz_brackets[0][1], self.lipschitz_brackets[1][1]

    def _phi(self, t, order: int = 0) -> np.ndarray:
        return _basis_values(self.basis, self.coefficients.shape[0], t, order)

    def _combine(self, F: np.ndarray, G: np.ndarray) -> np.ndarray:
        H = np.tensordot(self.coefficients, G, axes=(1, 0))  # (m,) + zeta.shape
        out = F[0] * H[0]
        for a in range(1, F.shape[0]):
            out = out + F[a] * H[a]
        return out

    def _eval(self, xi, zeta):
        return self._combine(self._phi(xi), self._phi(zeta))

    def gradient(self, xi, zeta) -> tuple[np.ndarray, np.ndarray]:
        """``(d_xi w, d_zeta w)`` at the broadcast points (closed forms)."""
        xi, zeta = np.asarray(xi, dtype=float), np.asarray(zeta, dtype=float)
        F, G = self._phi(xi), self._phi(zeta)
        shape = np.broadcast_shapes(xi.shape, zeta.shape)
        return (np.asarray(self._combine(self._phi(xi, 1), G)) * np.ones(shape),
                np.asarray(self._combine(F, self._phi(zeta, 1))) * np.ones(shape))

    def degree(self, xi):
        """``int_0^1 w(xi, zeta) dzeta = phi(xi)^T C m`` with ``m_b = int phi_b`` (exact)."""
        xi = np.asarray(xi, dtype=float)
        v = self.coefficients @ _basis_means(self.basis, self.coefficients.shape[0])
        return np.tensordot(v, self._phi(xi), axes=(0, 0))

    def in_degree(self, zeta):
        """``int_0^1 w(xi, zeta) dxi = m^T C phi(zeta)`` (exact)."""
        zeta = np.asarray(zeta, dtype=float)
        v = _basis_means(self.basis, self.coefficients.shape[0]) @ self.coefficients
        return np.tensordot(v, self._phi(zeta), axes=(0, 0))

    def separable_terms(self) -> SeparableTerms | None:
        """One term ``C_ab phi_a(xi) phi_b(zeta)`` per non-zero coefficient when every ``phi`` used is
        ``1``, ``cos 2 pi t``, ``sin 2 pi t`` or ``t``; else ``None``."""
        C = self.coefficients
        nz = np.argwhere(C != 0.0)
        terms = []
        for a, b in nz:
            ka, kb = _smooth_kind(self.basis, int(a)), _smooth_kind(self.basis, int(b))
            if ka is None or kb is None:
                return None
            terms.append(SeparableTerm(float(C[a, b]), BasisFunction.smooth(ka), BasisFunction.smooth(kb)))
        if not terms:  # the zero kernel: one zero term (consumers need at least one factor)
            one = BasisFunction.smooth("one")
            terms.append(SeparableTerm(0.0, one, one))
        return SeparableTerms(tuple(terms))

    def formula(self, digits: int = 4) -> str:
        """``w = ...`` with ``digits`` significant digits (the repr uses it)."""
        C = self.coefficients
        parts = []
        for a, b in np.argwhere(C != 0.0):
            c = float(C[a, b])
            fa, fb = _basis_label(self.basis, int(a), "xi"), _basis_label(self.basis, int(b), "zeta")
            factors = " ".join(f for f in (fa, fb) if f)
            parts.append((c, factors))
        if not parts:
            return "w = 0"
        text = ""
        for k, (c, factors) in enumerate(parts):
            mag = f"{abs(c):.{digits}g}"
            term = f"{mag} {factors}".strip() if factors else mag
            if k == 0:
                text = ("-" if c < 0 else "") + term
            else:
                text += (" - " if c < 0 else " + ") + term
        return "w = " + text

    def __repr__(self) -> str:
        return f"ExpansionKernel({self.basis}: {self.formula()})"


def _certify(basis: str, C: np.ndarray) -> tuple[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]]:
    """Brackets on ``sup |w|``, ``sup |d_xi w|``, ``sup |d_zeta w|`` (module docstring)."""
    m = C.shape[0]
    s = _basis_sups(basis, m)
    A = np.abs(C)

    def coef_bound(i: int, j: int) -> float:  # sum |C_ab| s_i(a) s_j(b) >= sup |d^i_xi d^j_zeta w|
        return float(s[i] @ A @ s[j])

    n = CERTIFICATE_GRID
    h = 1.0 / n
    g = labels(n)
    F0, F1 = _basis_values(basis, m, g), _basis_values(basis, m, g, 1)
    W = F0.T @ C @ F0
    Dxi = F1.T @ C @ F0
    Dzeta = F0.T @ C @ F1
    rnd = 4.0 * m * m * _EPS
    B0, Bx, Bz = coef_bound(0, 0), coef_bound(1, 0), coef_bound(0, 1)
    Bxx, Bxz, Bzz = coef_bound(2, 0), coef_bound(1, 1), coef_bound(0, 2)
    gx, gz = float(np.max(np.abs(Dxi))), float(np.max(np.abs(Dzeta)))
    Lx_hi = min(Bx, gx + (Bxx + Bxz) * h / 2) + rnd * Bx
    Lz_hi = min(Bz, gz + (Bxz + Bzz) * h / 2) + rnd * Bz
    Lx_lo = max(0.0, gx - rnd * Bx)
    Lz_lo = max(0.0, gz - rnd * Bz)
    gw = float(np.max(np.abs(W)))
    sup_hi = min(B0, gw + (Lx_hi + Lz_hi) * h / 2) + rnd * B0
    sup_lo = max(0.0, gw - rnd * B0)
    return (sup_lo, sup_hi), ((Lx_lo, Lx_hi), (Lz_lo, Lz_hi))


def expansion_kernel(basis: str, coefficients: Any) -> ExpansionKernel:
    """The expansion ``w(xi, zeta) = phi(xi)^T C phi(zeta)`` (:class:`ExpansionKernel`), with its
    certified constants.

    Examples
    --------
    >>> k = expansion_kernel("fourier", [[1.0, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])  # ring(1, 0.5)
    >>> round(k.sup, 6) >= 1.5 >= k.sup_bracket[0]
    True
    """
    return ExpansionKernel(basis=basis, coefficients=coefficients)


@dataclass(frozen=True, eq=False, repr=False)
class BlockKernel(StepKernel):
    """A block (step) kernel drawn by :func:`kernels`: a :class:`~solvers.graphons.StepKernel` with a
    readable repr.  ``sup`` is exact (``max |values|``); ``lipschitz`` is ``None`` (not continuous);
    cell integrals are exact."""

    name: str = "block"

    # identity, as for every kernel (StepKernel's generated field equality would compare arrays)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        rows = "; ".join(" ".join(f"{v:.4g}" for v in row) for row in self.values)
        return f"BlockKernel([{rows}])"


# ----------------------------------------------------------------------------------------- kernels
def kernels(*, families: Sequence[str] = ("fourier", "polynomial", "block"), symmetric: bool | None = None,
            min_value: float = -2.0, max_value: float = 2.0, max_degree: int = 1, max_terms: int = 4,
            max_blocks: int = 4, max_lipschitz: float | None = None) -> SearchStrategy[Kernel]:
    """Bounded kernels ``w(xi, zeta)`` with values in ``[min_value, max_value]``.

    Parameters
    ----------
    families : sequence of {"fourier", "polynomial", "block"}, keyword
        Families to draw from (:data:`KERNEL_FAMILIES`; shrinks to the first).
    symmetric : bool or None, keyword
        ``True``: only symmetric kernels; ``False``: only kernels drawn without symmetry (a drawn
        non-symmetric kernel may still happen to be symmetric, e.g. a constant); ``None``: both.
    min_value, max_value : float, keyword
        Every value ``w(xi, zeta)`` lies in ``[min_value, max_value]`` (certified: the oscillating
        part is scaled by its coefficient bound).
    max_degree : int, keyword
        Largest frequency (Fourier) or power (polynomial), ``1 <= max_degree <= MAX_DEGREE``.  Degree 1
        kernels have an exact separable form (the metrics integrate them exactly); higher degrees are
        certified through their Lipschitz constants only.
    max_terms : int, keyword
        Largest number of non-constant coefficients ``C_ab`` of an expansion (symmetric pairs count
        once), ``0 <= max_terms <= 16``.
    max_blocks : int, keyword
        Largest number of blocks per side of a block kernel, ``1 <= max_blocks <= 16``.
    max_lipschitz : float, keyword, optional
        If given, the certified ``L_xi`` and ``L_zeta`` of every expansion are ``<= max_lipschitz``
        (block kernels are not Lipschitz: leave ``"block"`` out of ``families`` to need it).

    Returns
    -------
    SearchStrategy of ExpansionKernel or BlockKernel
        Both are :class:`solvers.graphons.Kernel`: usable by every solver and metric.  Shrinks towards
        a constant kernel (0 when the range holds it).
    """
    families = _check_names("families", families, KERNEL_FAMILIES)
    if symmetric is not None:
        symmetric = check_bool("symmetric", symmetric, "pass symmetric=True, False or None (both)")
    lo, hi = _check_range("min_value", min_value, "max_value", max_value)
    max_degree = check_int("max_degree", max_degree, 1, "pass e.g. max_degree=1", maximum=MAX_DEGREE)
    max_terms = check_int("max_terms", max_terms, 0, "pass e.g. max_terms=4", maximum=16)
    max_blocks = check_int("max_blocks", max_blocks, 1, "pass e.g. max_blocks=4", maximum=16)
    max_lipschitz = _check_optional_positive("max_lipschitz", max_lipschitz)
    if max_lipschitz is not None and "block" in families:
        raise bad_argument("max_lipschitz", max_lipschitz, "block kernels are not Lipschitz (they jump)",
                           "leave 'block' out of families, or drop max_lipschitz")
    sym = st.just(symmetric) if symmetric is not None else st.booleans()
    family_s, value_s = st.sampled_from(families), _grid_floats(lo, hi)
    blocks_s, terms_s, degree_s = st.integers(1, max_blocks), st.integers(0, max_terms), st.integers(1, max_degree)

    @st.composite
    def draw_kernel(draw) -> Kernel:
        # the same first choices for every family (family, symmetry, constant level, size), so that the
        # simplest kernel of the first family is also the shortest draw: shrinking reaches it
        family = draw(family_s)
        is_sym = draw(sym)
        c0 = draw(value_s)
        if family == "block":
            n = draw(blocks_s)
            count = n * (n + 1) // 2 if is_sym else n * n
            vals = [c0] + draw(st.lists(value_s, min_size=count - 1, max_size=count - 1))
            V = np.empty((n, n))
            if is_sym:
                iu = np.triu_indices(n)
                V[iu] = vals
                V.T[iu] = vals
            else:
                V[:] = np.reshape(vals, (n, n))
            return BlockKernel(values=V)
        basis = family
        n_terms = draw(terms_s)
        if n_terms == 0:
            return ExpansionKernel(basis=basis, coefficients=np.array([[c0]]))
        m = _basis_size(basis, draw(degree_s))
        available = (m * (m + 1)) // 2 - 1 if is_sym else m * m - 1
        terms = draw(_term_lists(m, bool(is_sym), min(n_terms, available)))
        frac = draw(_grid_floats(0.0, 1.0))
        U = np.zeros((m, m))
        for (a, b), c in terms:
            U[a, b] = c
            if is_sym:
                U[b, a] = c
        C = np.zeros((m, m))
        sups = _basis_sups(basis, m)
        bound = float(np.abs(U).sum())  # sup |u| <= sum |U_ab| (every sup |phi_a| = 1)
        if bound > 0 and frac > 0:
            room = min(c0 - lo, hi - c0)
            amp = frac * room
            if max_lipschitz is not None:
                lip = max(float(sups[1] @ np.abs(U) @ sups[0]), float(sups[0] @ np.abs(U) @ sups[1]))
                if lip > 0:
                    amp = min(amp, max_lipschitz * bound / lip)
            C = U * (amp / bound)
        C[0, 0] += c0
        return ExpansionKernel(basis=basis, coefficients=C)

    return draw_kernel()


# ---------------------------------------------------------------------------------- weight families
@dataclass(frozen=True, eq=False)
class LabelledWeights:
    """A weight matrix with the latent position of every neuron.

    Attributes
    ----------
    weights : ndarray, shape (N, N)
        ``W_ij`` (row ``i`` postsynaptic), ``W_ii = 0``.
    positions : ndarray, shape (N,)
        Latent label of each neuron in ``[0, 1]``: ``labels(N)`` for the families that keep the labels,
        the relabelled labels (``shuffled``) or the latent uniforms (``w-random``).  Neuron ``i`` sits at
        ``positions[i]`` of the limit kernel.
    family : str
        The family (:data:`SEQUENCE_FAMILIES`).
    kernel : Kernel
        The kernel the family is built from (its limit after relabelling, except for ``hub``).
    """

    weights: np.ndarray
    positions: np.ndarray
    family: str
    kernel: Kernel

    @property
    def N(self) -> int:
        return int(self.weights.shape[0])

    @property
    def kappa(self) -> float:
        """``kappa_N = N max_{i != j} |W_ij|`` (the diagonal is ignored by the dynamics)."""
        A = np.abs(self.weights)
        off = A.max(initial=0.0, where=~np.eye(self.N, dtype=bool))
        return float(self.N * off)

    def relabelling(self) -> np.ndarray:
        """The permutation ``order`` (neurons sorted by position) such that ``weights[order][:, order]``
        is aligned with the kernel: neuron ``order[k]`` takes cell ``k``."""
        return np.argsort(self.positions, kind="stable")

    def aligned(self) -> np.ndarray:
        """``weights[order][:, order]`` with ``order = relabelling()``."""
        o = self.relabelling()
        return self.weights[np.ix_(o, o)]

    def __repr__(self) -> str:
        return f"LabelledWeights({self.family!r}, N={self.N}, kernel={self.kernel!r})"


def _stream(seed: int, N: int) -> np.random.SeedSequence:
    """The random stream of size ``N`` of a sequence: ``SeedSequence(seed, spawn_key=(N,))`` (adding a size
    never changes the others)."""
    return np.random.SeedSequence(seed, spawn_key=(int(N),))


@dataclass(frozen=True, eq=False)
class WeightSequence:
    """A sequence ``N -> LabelledWeights`` of one family of :data:`SEQUENCE_FAMILIES` (callable).

    Parameters
    ----------
    family : str
        ``"step"``, ``"shuffled"``, ``"w-random"``, ``"random-sign"`` or ``"hub"``.
    kernel : Kernel
        The kernel the weights are built from.
    seed : int
        Root of the random draws; size ``N`` uses ``SeedSequence(seed, spawn_key=(N,))``.
    amplitude : float
        ``J`` of the random-sign perturbation ``+-J/N``.
    hub_weight : float
        The hub's outgoing weight (family ``hub``).
    """

    family: str
    kernel: Kernel
    seed: int = 0
    amplitude: float = 0.5
    hub_weight: float = 0.5

    def __post_init__(self):
        check_choice("family", self.family, SEQUENCE_FAMILIES)
        check_instance("kernel", self.kernel, Kernel, "pass a solvers.graphons kernel, e.g. ring()")
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0, "pass a non-negative int seed"))
        object.__setattr__(self, "amplitude", check_real("amplitude", self.amplitude))
        object.__setattr__(self, "hub_weight", check_real("hub_weight", self.hub_weight))

    @property
    def within_hypotheses(self) -> bool:
        """Whether ``kappa_N`` stays bounded (every family but ``hub``)."""
        return self.family != "hub"

    def __call__(self, N: int) -> LabelledWeights:
        N = check_int("N", N, 2, "pass a network size N >= 2")
        k = self.kernel
        fam = self.family
        if fam == "w-random":
            if not k.sup > 0:  # the zero kernel: no edges
                rng = np.random.Generator(np.random.PCG64(_stream(self.seed, N)))
                return LabelledWeights(np.zeros((N, N)), rng.random(N), fam, k)
            g = w_random(k, N, seed=_stream(self.seed, N))
            return LabelledWeights(np.ascontiguousarray(g.weights), g.positions, fam, k)
        W = np.array(k.weights(N), order="C")
        pos = labels(N)
        if fam == "shuffled":
            perm = np.random.Generator(np.random.PCG64(_stream(self.seed, N))).permutation(N)
            W, pos = np.ascontiguousarray(W[np.ix_(perm, perm)]), pos[perm]
        elif fam == "random-sign":
            rng = np.random.Generator(np.random.PCG64(_stream(self.seed, N)))
            W += np.where(rng.random((N, N)) < 0.5, -1.0, 1.0) * (self.amplitude / N)
        elif fam == "hub":
            W[:, 0] = self.hub_weight
        np.fill_diagonal(W, 0.0)
        return LabelledWeights(W, pos, fam, k)

    def __repr__(self) -> str:
        extra = f", amplitude={self.amplitude:g}" if self.family == "random-sign" else ""
        extra += f", hub_weight={self.hub_weight:g}" if self.family == "hub" else ""
        return f"WeightSequence({self.family!r}, kernel={self.kernel!r}, seed={self.seed}{extra})"


def _kernel_strategy(kernel: Any) -> SearchStrategy[Kernel]:
    if kernel is None:
        return kernels()
    if isinstance(kernel, SearchStrategy):
        return kernel
    return st.just(check_instance("kernel", kernel, Kernel,
                                  "pass a solvers.graphons Kernel, a strategy of kernels (e.g. kernels()), or None"))


def weight_sequences(kernel: Kernel | SearchStrategy[Kernel] | None = None, *,
                     families: Sequence[str] = ("step", "shuffled", "w-random", "random-sign"),
                     max_amplitude: float = 1.0, hub_weight: float = 0.5) -> SearchStrategy[WeightSequence]:
    """Weight sequences ``N -> W`` (:class:`WeightSequence`) built from a kernel.

    Parameters
    ----------
    kernel : Kernel, strategy of kernels, or None
        The kernel (``None``: drawn from :func:`kernels`).
    families : sequence of str, keyword
        Families of :data:`SEQUENCE_FAMILIES` (shrinks to the first).  ``"hub"`` is the negative
        control (outside the O(1/N) hypothesis): it is never drawn unless listed.
    max_amplitude : float, keyword
        The random-sign amplitude ``J`` is drawn in ``[0, max_amplitude]``.
    hub_weight : float, keyword
        The hub's outgoing weight (``hub`` family; 0.5 as in the named ``hub`` sequence).
    """
    kstrat = _kernel_strategy(kernel)
    families = _check_names("families", families, SEQUENCE_FAMILIES)
    max_amplitude = check_real("max_amplitude", max_amplitude)
    if max_amplitude < 0:
        raise bad_argument("max_amplitude", max_amplitude, "must be >= 0", "pass e.g. max_amplitude=1.0")
    hub_weight = check_real("hub_weight", hub_weight)
    return st.builds(WeightSequence, st.sampled_from(families), kstrat, st.integers(0, 2**32 - 1),
                     _grid_floats(0.0, max_amplitude), st.just(hub_weight))


def weight_matrices(kernel: Kernel | SearchStrategy[Kernel] | None, n: int | SearchStrategy[int], *,
                    families: Sequence[str] = ("step", "shuffled", "w-random", "random-sign"),
                    max_amplitude: float = 1.0, hub_weight: float = 0.5) -> SearchStrategy[LabelledWeights]:
    """Weight matrices of size ``n`` (:class:`LabelledWeights`: ``.weights``, ``.positions``), one
    element of a sequence drawn by :func:`weight_sequences` with the same options.

    ``n`` is an int ``>= 2`` or a strategy of such ints.
    """
    seqs = weight_sequences(kernel, families=families, max_amplitude=max_amplitude, hub_weight=hub_weight)
    if isinstance(n, SearchStrategy):
        sizes = n
    else:
        sizes = st.just(check_int("n", n, 2, "pass a size n >= 2 (or a strategy of sizes)"))
    return st.builds(_evaluate, seqs, sizes)


def _evaluate(sequence: WeightSequence, N: int) -> LabelledWeights:
    return sequence(N)


# ------------------------------------------------------------------------------------ neuron models
def neuron_models(*, intensities: Sequence[str] | None = None, within_hypotheses: bool = True,
                  min_input: float = 1.0, max_input: float = 2.0, min_rate: float = 1.0, max_rate: float = 10.0,
                  max_lipschitz: float = 25.0, min_threshold: float = 0.25, max_threshold: float = 0.75,
                  min_reset: float = 0.0, max_reset: float = 0.0) -> SearchStrategy[NeuronModel]:
    """Neuron models: leaky drift ``b(x) = -x + I0`` and an intensity of a named family.

    Parameters
    ----------
    intensities : sequence of str, keyword, optional
        Families of :data:`INTENSITY_FAMILIES` (shrinks to the first).  Default ``("constant",
        "sigmoid", "relu")``, plus ``"exponential"`` when ``within_hypotheses=False``.
    within_hypotheses : bool, keyword
        ``True``: every model has a bounded, Lipschitz intensity (the theorem's hypotheses; ``sup f
        <= max_rate`` and ``Lip f <= max_lipschitz``), and ``"exponential"`` is refused.
        ``False``: the models may leave them: ``exponential`` intensities and ReLUs without a cap.
    min_input, max_input : float, keyword
        Range of ``I0``.
    min_rate, max_rate : float, keyword
        Range of the intensity's scale: ``lam0`` (constant), ``lam`` (sigmoid), ``cap`` (relu), ``c``
        (exponential); ``0 < min_rate``.
    max_lipschitz : float, keyword
        Largest ``Lip f`` (sigmoid ``lam beta / 4``, relu ``slope``).  An exponential intensity (not
        Lipschitz) has ``beta`` in ``(0, 2]``.
    min_threshold, max_threshold : float, keyword
        Range of ``theta`` (sigmoid, relu, exponential).  The defaults keep ``theta`` below ``I0``, so
        every drawn model fires: a ReLU whose threshold the potentials never pass is silent, and a
        silent network has no fluctuations, hence no rate (the convergence assertions report it).
    min_reset, max_reset : float, keyword
        Range of the reset value ``x_r`` (default 0).
    """
    within_hypotheses = check_bool("within_hypotheses", within_hypotheses)
    if intensities is None:
        intensities = ("constant", "sigmoid", "relu") + (() if within_hypotheses else ("exponential",))
    intensities = _check_names("intensities", intensities, INTENSITY_FAMILIES)
    if within_hypotheses:
        outside = [n for n in intensities if not INTENSITY_FAMILIES[n]]
        if outside:
            raise bad_argument("intensities", intensities, f"{outside} is unbounded: outside the theorem's "
                               "hypotheses", "pass within_hypotheses=False to draw models outside them")
    i_lo, i_hi = _check_range("min_input", min_input, "max_input", max_input)
    r_lo, r_hi = _check_range("min_rate", min_rate, "max_rate", max_rate)
    if r_lo <= 0:
        raise bad_argument("min_rate", min_rate, "must be > 0", "pass e.g. min_rate=1.0")
    lip = check_positive("max_lipschitz", max_lipschitz)
    t_lo, t_hi = _check_range("min_threshold", min_threshold, "max_threshold", max_threshold)
    x_lo, x_hi = _check_range("min_reset", min_reset, "max_reset", max_reset)

    fam_s = st.sampled_from(intensities)

    @st.composite
    def draw_model(draw) -> NeuronModel:
        fam = draw(fam_s)
        I0 = draw(_grid_floats(i_lo, i_hi))
        reset = draw(_grid_floats(x_lo, x_hi))
        rate = draw(_grid_floats(r_lo, r_hi))
        if fam == "constant":
            f = Constant(lam0=rate)
        else:
            theta = draw(_grid_floats(t_lo, t_hi))
            steep = draw(_grid_floats(0.0, 1.0))  # fraction of the largest allowed steepness
            if fam == "sigmoid":
                beta_max = 4.0 * lip / rate
                f = Sigmoid(lam=rate, beta=max(beta_max * steep, beta_max / GRID_STEPS), theta=theta)
            elif fam == "relu":
                capped = True if within_hypotheses else draw(st.booleans())
                f = ReLU(slope=max(lip * steep, lip / GRID_STEPS), theta=theta, cap=rate if capped else math.inf)
            else:
                f = Exponential(c=rate, beta=max(_EXP_BETA * steep, _EXP_BETA / GRID_STEPS), theta=theta)
        return NeuronModel(drift=Leaky(I0=I0), intensity=f, reset=reset)

    return draw_model()


# ------------------------------------------------------------------------------------- initial data
@dataclass(frozen=True)
class InitialData:
    """An initial law for the network and the mean-field PDE alike.

    ``kind`` is one of :data:`INITIAL_KINDS`; ``params`` its numbers: ``constant (c,)``, ``profile
    (c, a)``, ``gaussian (m, s)``, ``alternating (u, v)``.
    """

    kind: str
    params: tuple[float, ...]

    def __post_init__(self):
        check_choice("kind", self.kind, INITIAL_KINDS)
        need = 1 if self.kind == "constant" else 2
        if not isinstance(self.params, tuple) or len(self.params) != need:
            raise bad_argument("params", self.params, f"kind {self.kind!r} takes {need} numbers",
                               "see INITIAL_KINDS")
        p = tuple(check_real(f"params[{k}]", v) for k, v in enumerate(self.params))
        if self.kind == "gaussian" and p[1] <= 0:
            raise bad_argument("params[1]", p[1], "the standard deviation must be > 0", "pass s > 0")
        object.__setattr__(self, "params", p)

    @property
    def random(self) -> bool:
        """Whether the network's initial state is random (needs a seed)."""
        return self.kind == "gaussian"

    def network(self, positions: Any, *, seed: Any = None) -> np.ndarray:
        """Initial potentials ``X(0)``, shape ``(N,)``, of neurons at latent ``positions`` (shape ``(N,)``,
        in ``[0, 1]``).  ``seed`` (int or SeedSequence) is required for the random kind ``gaussian``."""
        pos = np.asarray(positions, dtype=float)
        if pos.ndim != 1 or pos.size == 0 or not np.all(np.isfinite(pos)):
            raise bad_argument("positions", positions, "must be a non-empty finite 1-D array", "pass labels(N)")
        p = self.params
        if self.kind == "constant":
            return np.full(pos.size, p[0])
        if self.kind == "profile":
            return p[0] + p[1] * np.sin(_TWO_PI * pos)
        if self.kind == "alternating":
            rank = np.empty(pos.size, dtype=np.int64)
            rank[np.argsort(pos, kind="stable")] = np.arange(pos.size)
            return np.where(rank % 2 == 0, p[0], p[1])
        if seed is None:
            raise bad_argument("seed", seed, "the gaussian initial datum is random and needs a seed", "pass seed=<int>")
        from solvers._random import make_rng

        return p[0] + p[1] * make_rng(seed).standard_normal(pos.size)

    def pde(self, n_xi: int, *, resolution: int = 1) -> InitialSpec:
        """The PDE initial datum on ``n_xi`` nodes; ``resolution`` multiplies the quadrature atoms of a
        continuous law (``gaussian``: ``64 resolution`` atoms) for refinement checks."""
        n_xi = check_int("n_xi", n_xi, 1, "pass e.g. n_xi=32")
        resolution = check_int("resolution", resolution, 1, "pass e.g. resolution=2")
        p = self.params
        if self.kind == "constant":
            return Dirac(p[0])
        if self.kind == "profile":
            return Dirac(p[0] + p[1] * np.sin(_TWO_PI * labels(n_xi)))
        if self.kind == "alternating":
            return Empirical(np.tile([p[0], p[1]], n_xi))
        return Gaussian(mean=p[0], sd=p[1], n_atoms=64 * resolution)

    def __repr__(self) -> str:
        return f"InitialData({self.kind!r}, {', '.join(f'{v:.4g}' for v in self.params)})"


def initial_data(*, kinds: Sequence[str] = ("constant", "profile", "gaussian", "alternating"),
                 min_value: float = 0.0, max_value: float = 1.0, max_sd: float = 0.5) -> SearchStrategy[InitialData]:
    """Initial data (:class:`InitialData`) for the network and the PDE.

    Parameters
    ----------
    kinds : sequence of str, keyword
        Kinds of :data:`INITIAL_KINDS` (shrinks to the first).
    min_value, max_value : float, keyword
        Every deterministic initial potential (and the Gaussian mean) lies in ``[min_value, max_value]``.
    max_sd : float, keyword
        The Gaussian standard deviation is drawn in ``(0, max_sd]``.
    """
    kinds = _check_names("kinds", kinds, INITIAL_KINDS)
    lo, hi = _check_range("min_value", min_value, "max_value", max_value)
    max_sd = check_positive("max_sd", max_sd)

    kind_s = st.sampled_from(kinds)

    @st.composite
    def draw_initial(draw) -> InitialData:
        kind = draw(kind_s)
        a = draw(_grid_floats(lo, hi))
        if kind == "constant":
            return InitialData(kind, (a,))
        if kind == "profile":
            frac = draw(_grid_floats(-1.0, 1.0))
            return InitialData(kind, (a, frac * min(a - lo, hi - a)))
        if kind == "gaussian":
            s = draw(_grid_floats(0.0, max_sd))
            return InitialData(kind, (a, max(s, max_sd / GRID_STEPS)))
        return InitialData(kind, (a, draw(_grid_floats(lo, hi))))

    return draw_initial()
