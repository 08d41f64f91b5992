"""The :class:`Bracket` result type shared by every norm and distance of :mod:`verification.graphs`."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from solvers.errors import InvalidArgumentError, bad_argument

__all__ = ["Bracket"]


@dataclass(frozen=True)
class Bracket:
    """A certified interval ``lower <= value <= upper`` for a quantity that is not computed exactly.

    Attributes
    ----------
    lower, upper : float
        The two sides.  Each is certified by the method named beside it (up to floating-point
        rounding, for which every function of this package adds a stated margin).
    lower_method, upper_method : str
        How each side is certified, e.g. ``"alternating maximisation + SDP rounding"`` (lower,
        attained by the sign vectors or sets in ``lower_certificate``) or ``"Grothendieck SDP dual
        certificate"`` (upper).
    lower_certificate, upper_certificate : Mapping
        What attains or proves each side: sign vectors ``x``, ``y``; sets ``S``, ``T`` (boolean
        masks) with ``sign``; the dual vector ``d`` and shift of the SDP certificate; a permutation.
    bounds : Mapping[str, float]
        Every candidate bound computed (e.g. ``{"entrywise": ..., "spectral": ..., "sdp": ...,
        "alternating": ..., "sdp-rounding": ...}``); ``lower``/``upper`` are the best of them.
    """

    lower: float
    upper: float
    lower_method: str
    upper_method: str
    lower_certificate: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    upper_certificate: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    bounds: Mapping[str, float] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        lo, up = float(self.lower), float(self.upper)
        if math.isnan(lo) or math.isnan(up):
            raise bad_argument("lower/upper", (lo, up), "must not be NaN", "report a finite bracket")
        if lo > up * (1 + 1e-12) + 1e-300 and lo - up > 1e-12 * max(abs(lo), abs(up)):
            raise bad_argument("lower/upper", (lo, up), "lower must not exceed upper",
                               "this is a bug in the bound that produced it: report it")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", up)

    @property
    def ratio(self) -> float:
        """``upper / lower`` (``1.0`` when both are 0, ``inf`` when only the lower side is 0)."""
        if self.lower > 0:
            return self.upper / self.lower
        return 1.0 if self.upper == 0 else math.inf

    @property
    def width(self) -> float:
        """``upper - lower``."""
        return self.upper - self.lower

    @property
    def mid(self) -> float:
        """Midpoint ``(lower + upper) / 2`` (an estimate, not a certified value)."""
        return 0.5 * (self.lower + self.upper)

    def contains(self, value: float, rtol: float = 1e-9, atol: float = 0.0) -> bool:
        """Whether ``value`` lies in ``[lower, upper]`` widened by ``atol + rtol * |value|``."""
        tol = atol + rtol * abs(float(value))
        return self.lower - tol <= float(value) <= self.upper + tol

    def scaled(self, factor: float) -> Bracket:
        """The bracket of ``factor * value`` for ``factor >= 0`` (certificates kept)."""
        factor = float(factor)
        if not factor >= 0:
            raise bad_argument("factor", factor, "must be >= 0", "scale by a non-negative number")
        return Bracket(self.lower * factor, self.upper * factor, self.lower_method, self.upper_method,
                       self.lower_certificate, self.upper_certificate,
                       {k: v * factor for k, v in self.bounds.items()})

    def __str__(self) -> str:
        return (f"[{self.lower:.6g}, {self.upper:.6g}] (ratio {self.ratio:.4g}; lower: {self.lower_method}; "
                f"upper: {self.upper_method})")


def computed_bracket(lower: float, upper: float, *args: Any, **kwargs: Any) -> Bracket:
    """A :class:`Bracket` computed by this package.  An inconsistent one (NaN, or a lower side above
    the upper side) is a bug of ifmf, not a user error: ``RuntimeError``, not ``InvalidArgumentError``
    (which :class:`Bracket` raises for brackets a user builds)."""
    try:
        return Bracket(lower, upper, *args, **kwargs)
    except InvalidArgumentError as exc:
        raise RuntimeError(f"internal error: a computed bracket is inconsistent ({exc}); please report it") from None
