"""Argument checks shared by every module of ifmf (one home: nothing else re-implements them).

Every check raises :class:`~solvers.errors.InvalidArgumentError` built by
:func:`~solvers.errors.bad_argument`: the message names the argument, shows the value and its type,
states the rule and suggests the fix.  Checks return the normalised value (a Python ``float`` or
``int``, a contiguous float64 array, ...), so callers write ``t_end = check_positive("t_end", t_end)``.

Rules that hold everywhere:

* booleans are never accepted as numbers (``True`` is not a time step);
* a real number is a ``numbers.Real`` (Python, numpy scalars) or an ``mpmath.mpf``; strings are
  refused even when ``float()`` would parse them;
* an internal inconsistency (a bug of ifmf, not of the caller) is never an ``InvalidArgumentError``:
  it is a plain ``RuntimeError`` or :class:`~solvers.errors.SimulationError`.

Seeds: functions whose output is random (simulators, random weight sequences, Monte Carlo) take a
required ``seed``; functions whose output is deterministic and certified whatever the seed (the sign
searches behind cut-norm and weak-metric brackets) take ``seed=0`` by default, documented as fixing
only the restarts of the search.  :func:`check_seed` validates both.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import mpmath
import numpy as np

from solvers.errors import bad_argument

__all__ = [
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_bool",
    "check_choice",
    "check_instance",
    "check_interval",
    "check_seed",
    "check_vector",
    "check_matrix",
    "check_times",
]


def _is_real(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (numbers.Real, mpmath.mpf))


def check_real(name: str, value: Any, fix: str | None = None) -> float:
    """A finite real number, returned as ``float``."""
    fix = fix or f"pass a finite float for {name}"
    if not _is_real(value):
        raise bad_argument(name, value, "must be a real number", fix)
    v = float(value)
    if not math.isfinite(v):
        raise bad_argument(name, value, "must be finite", fix)
    return v


def check_positive(name: str, value: Any, fix: str | None = None) -> float:
    """A finite real number ``> 0``."""
    fix = fix or f"pass a finite value > 0 for {name}"
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) <= 0:
        raise bad_argument(name, value, "must be a finite number > 0", fix)
    return float(value)


def check_nonnegative(name: str, value: Any, fix: str | None = None) -> float:
    """A finite real number ``>= 0``."""
    fix = fix or f"pass a finite value >= 0 for {name}"
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) < 0:
        raise bad_argument(name, value, "must be a finite number >= 0", fix)
    return float(value)


def check_int(name: str, value: Any, minimum: int | None = None, fix: str | None = None, *,
              maximum: int | None = None) -> int:
    """An integer (Python or numpy, never ``bool``) in ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        ok = False
    else:
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        if minimum is not None and maximum is not None:
            rule = f"must be an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            rule = f"must be an integer >= {minimum}"
        elif maximum is not None:
            rule = f"must be an integer <= {maximum}"
        else:
            rule = "must be an integer"
        example = minimum if minimum is not None else (maximum if maximum is not None else 1)
        raise bad_argument(name, value, rule, fix or f"pass e.g. {name}={example}")
    return int(value)


def check_bool(name: str, value: Any, fix: str | None = None) -> bool:
    """A ``bool`` (or numpy bool); integers are refused (no integer mode codes)."""
    if not isinstance(value, (bool, np.bool_)):
        raise bad_argument(name, value, "must be True or False", fix or f"pass {name}=True or {name}=False")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[str], fix: str | None = None) -> str:
    """One of the strings ``choices`` (the message lists them)."""
    valid = list(choices)
    if not isinstance(value, str) or value not in valid:
        raise bad_argument(name, value, f"must be one of {valid}", fix or f"use one of {valid}")
    return value


def check_instance(name: str, value: Any, cls: type | tuple[type, ...], fix: str) -> Any:
    """``value`` is an instance of ``cls``."""
    if not isinstance(value, cls):
        names = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
        raise bad_argument(name, value, f"must be a {names}", fix)
    return value


def check_interval(name: str, value: Any, fix: str | None = None) -> tuple[float, float]:
    """A pair ``(lo, hi)`` of finite reals with ``lo < hi``."""
    fix = fix or f"pass {name}=(lo, hi) with lo < hi"
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise bad_argument(name, value, "must be a pair (lo, hi)", fix) from None
    if not (_is_real(lo) and _is_real(hi)):
        raise bad_argument(name, value, "must be a pair of real numbers", fix)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise bad_argument(name, value, "must be finite with lo < hi", fix)
    return lo, hi


def check_seed(seed: Any, name: str = "seed") -> np.random.SeedSequence:
    """A non-negative int or a ``numpy.random.SeedSequence``, returned as a ``SeedSequence``."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise bad_argument(name, seed, "must be a non-negative int or a numpy.random.SeedSequence",
                           "pass e.g. seed=12345 (every random draw is seeded for reproducibility)")
    return np.random.SeedSequence(int(seed))


def check_vector(name: str, value: Any, n: int | None = None, *, broadcast_scalar: bool = False,
                 fix: str | None = None, what: str = "entries") -> np.ndarray:
    """A finite real 1-D array (length ``n`` if given; a scalar is broadcast when allowed),
    returned as a new contiguous float64 array."""
    shape = f"({n},)" if n is not None else "(n,)"
    fix = fix or (f"pass a float or an array of shape {shape}" if broadcast_scalar
                  else f"pass an array of shape {shape}")
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise bad_argument(name, value, "must be an array of real numbers", fix)
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad_argument(name, value, "must be an array of real numbers", fix) from None
    if a.ndim == 0:
        if not broadcast_scalar or n is None:
            raise bad_argument(name, value, "must be a 1-D array", fix)
        a = np.full(n, float(a))
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise bad_argument(name, f"array of shape {a.shape}", f"must have shape {shape}", fix)
    bad = ~np.isfinite(a)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise bad_argument(name, f"array with {name}[{i}] = {a[i]}", f"{what} must be finite", "remove NaN/inf")
    return np.ascontiguousarray(a)


def check_matrix(name: str, value: Any, *, square: bool = False, fix: str | None = None) -> np.ndarray:
    """A finite real non-empty 2-D array (square if asked), returned as a C-contiguous float64
    array (the input itself when it already is one: callers must not write to it)."""
    fix = fix or ("pass an n x n array" if square else "pass an n x m array")
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise bad_argument(name, value, "must be a 2-D array of real numbers", fix)
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise bad_argument(name, value, "must be a 2-D array of real numbers", fix) from None
    if a.ndim != 2 or 0 in a.shape:
        rule = "must be a non-empty square 2-D matrix" if square else "must be a non-empty 2-D matrix"
        raise bad_argument(name, f"array of shape {a.shape}", rule, fix)
    if square and a.shape[0] != a.shape[1]:
        raise bad_argument(name, f"array of shape {a.shape}", "must be square", fix)
    if np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise bad_argument(name, f"array of dtype {a.dtype}", "must hold real numbers", "pass a float array")
    a = np.ascontiguousarray(a, dtype=np.float64)
    # a finite sum proves every entry finite without an n x m boolean temporary
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum()
    if not np.isfinite(total) and not np.all(np.isfinite(a)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise bad_argument(name, f"matrix with non-finite entry at {idx}", "must be finite", "remove NaN/inf entries")
    return a


def check_times(name: str, value: Any, t_end: float, *, default: Any = None) -> np.ndarray:
    """Sorted finite times in ``[0, t_end]`` as a 1-D float64 array (``default`` when ``None``)."""
    if value is None:
        value = default
    try:
        r = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise bad_argument(name, value, "must be real numbers",
                           "pass a sorted array of times in [0, t_end]") from None
    if r.ndim != 1:
        raise bad_argument(name, f"array of shape {r.shape}", "must be 1-D", "pass a flat array of times")
    if r.size and not (np.all(np.isfinite(r)) and r[0] >= 0 and r.max() <= t_end * (1 + 1e-12)):
        raise bad_argument(name, value, f"must be finite times in [0, t_end = {t_end}]",
                           "drop the times outside the simulated interval")
    if np.any(np.diff(r) < 0):
        raise bad_argument(name, value, "must be sorted (non-decreasing)", f"pass np.sort({name})")
    return np.ascontiguousarray(np.minimum(r, t_end))
