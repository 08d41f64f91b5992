"""Dispatch tags of the named intensity families for the compiled loops (code in ``_kernels.f_eval``).

The formulas are those of :mod:`solvers.model`; the compiled and the numpy evaluations agree to
a few ulps (the sigmoid is evaluated in the overflow-free form with full relative accuracy):

=============  ==========================================  =======================
tag            ``f(x)``                                     params ``(p0, p1, p2)``
=============  ==========================================  =======================
0 sigmoid      ``p0 / (1 + exp(-p1 (x - p2)))`` (stable)    ``(lam, beta, theta)``
1 exponential  ``p0 * exp(p1 (x - p2))``                    ``(c, beta, theta)``
2 constant     ``p0``                                       ``(lam0, 0, 0)``
3 relu         ``min(p2, p0 * max(0, x - p1))``             ``(slope, theta, cap)``
=============  ==========================================  =======================
"""
from __future__ import annotations

from solvers.model import Intensity
from solvers.particles._kernels import f_eval, f_vec

__all__ = ["FAMILY_TAGS", "intensity_args", "f_eval", "f_vec"]

FAMILY_TAGS = {"sigmoid": 0, "exponential": 1, "constant": 2, "relu": 3}


def intensity_args(intensity: Intensity) -> tuple[int, float, float, float] | None:
    """``(tag, p0, p1, p2)`` for a named family, ``None`` for a custom callable."""
    tag = FAMILY_TAGS.get(intensity.kind)
    if tag is None:
        return None
    p = tuple(float(v) for v in intensity.params) + (0.0, 0.0, 0.0)
    return tag, p[0], p[1], p[2]
