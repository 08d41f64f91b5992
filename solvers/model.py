"""Neuron models: drift ``b``, intensity ``f`` and reset value ``x_r`` (SPEC section 1).

Between events a neuron follows ``dX/dt = b(X)``; it fires at stochastic intensity ``f(X)`` and is
then reset to ``x_r``.  The named families of SPEC section 1 are small frozen objects:

========================  =======================================================  ==========
family                    formula                                                  bounded
========================  =======================================================  ==========
``Leaky(I0)``             ``b(x) = -x + I0``  (exact flow available)               --
``Sigmoid(lam,beta,th)``  ``f(x) = lam / (1 + exp(-beta (x - th)))``               yes, ``lam``
``Exponential(c,beta,th)`` ``f(x) = c exp(beta (x - th))``                          no
``Constant(lam0)``        ``f(x) = lam0``                                          yes
``ReLU(slope,th,cap)``    ``f(x) = min(cap, slope * max(0, x - th))``              yes, ``cap``
========================  =======================================================  ==========

Every family evaluates vectorised on numpy arrays (``family(x)``), in arbitrary precision with
mpmath (``family.mp(x)``, used by :mod:`solvers.references`), and states its Lipschitz constant and
its supremum (``math.inf`` when unbounded).  Users may also pass their own Python callables through
:class:`CustomDrift` / :class:`CustomIntensity` (or directly to :class:`NeuronModel`, which wraps
them); names of families are only ever looked up in a registry, never evaluated as code.

Each family has a ``kind`` string and a ``params`` tuple of floats; compiled code receives a family
through :meth:`Intensity.compiled_args` / :meth:`Drift.compiled_args` (its tag in the one table of
:mod:`solvers._compiled` and its parameters; ``None`` for a user callable, ``kind == "custom"``).
The compiled evaluations use the same numerically stable expressions as the numpy ones here (they
agree to a few ulps).

Derivatives are part of the contract: every family has an exact ``derivative`` (closed form,
``exact_derivative = True``); a user callable has one when ``derivative_func`` is given, and otherwise
a stated central difference (``exact_derivative = False``).  Methods that need an exact derivative
(the Hermite survival rule of the Lagrangian solver) are used only when ``exact_derivative`` is True.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from solvers.errors import bad_argument
from solvers.validation import check_instance, check_nonnegative, check_positive, check_real

__all__ = [
    "Drift",
    "Intensity",
    "Leaky",
    "CustomDrift",
    "Sigmoid",
    "Exponential",
    "Constant",
    "ReLU",
    "CustomIntensity",
    "NeuronModel",
    "DRIFT_FAMILIES",
    "INTENSITY_FAMILIES",
]


def _central_difference(func: Callable, x) -> np.ndarray:
    """Central difference with step ``1e-6 (1 + |x|)`` (relative error ~1e-10 for smooth ``func``):
    the stated derivative of a user callable given without one."""
    x = np.asarray(x, dtype=float)
    step = 1e-6 * (1.0 + np.abs(x))
    return (np.asarray(func(x + step), dtype=float) - np.asarray(func(x - step), dtype=float)) / (2 * step)


# --------------------------------------------------------------------------------------- drifts
class Drift:
    """Base class of drifts ``b(x)``.  Subclasses are frozen dataclasses."""

    kind: str = "abstract"
    has_exact_flow: bool = False

    def __call__(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def mp(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x):  # pragma: no cover - abstract
        """``b'(x)`` (vectorised).  Part of the contract: the dual equation and the references need it."""
        raise NotImplementedError

    #: True when :meth:`derivative` is exact (closed form); False for a user callable without one
    exact_derivative: bool = True

    @property
    def lipschitz(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def params(self) -> tuple[float, ...]:
        return ()

    def compiled_args(self) -> tuple[int, float] | None:
        """``(tag, q0)`` of this drift in the compiled table (:mod:`solvers._compiled`), or ``None``
        when compiled code cannot evaluate it (a user callable)."""
        from solvers._compiled import DRIFT_TAGS

        tag = DRIFT_TAGS.get(self.kind)
        if tag is None:
            return None
        q = tuple(float(v) for v in self.params) + (0.0,)
        return tag, q[0]

    def flow(self, x, s, h=0.0):
        """Exact solution at time ``s`` of ``dx/dt = b(x) + h`` from ``x`` (only if ``has_exact_flow``)."""
        raise NotImplementedError(f"drift {self!r} has no exact flow; use an ODE solver")


@dataclass(frozen=True)
class Leaky(Drift):
    """Leaky drift ``b(x) = -x + I0`` (membrane time constant 1).

    Exact flow with constant extra input ``h``: ``x(s) = c + (x - c) e^{-s}``, ``c = I0 + h``.
    """

    I0: float = 1.5
    kind = "leaky"
    has_exact_flow = True

    def __post_init__(self):
        object.__setattr__(self, "I0", check_real("I0", self.I0))

    def __call__(self, x):
        return self.I0 - np.asarray(x, dtype=float)

    def mp(self, x):
        return mpmath.mpf(self.I0) - x

    def derivative(self, x):
        return -np.ones_like(np.asarray(x, dtype=float))

    @property
    def lipschitz(self) -> float:
        return 1.0

    @property
    def params(self) -> tuple[float, ...]:
        return (self.I0,)

    def flow(self, x, s, h=0.0):
        c = self.I0 + np.asarray(h, dtype=float)
        return c + (np.asarray(x, dtype=float) - c) * np.exp(-np.asarray(s, dtype=float))

    def fixed_point(self, h=0.0):
        """Zero of ``b(x) + h``: ``x* = I0 + h``."""
        return self.I0 + np.asarray(h, dtype=float)


@dataclass(frozen=True)
class CustomDrift(Drift):
    """A user's drift: a vectorised Python callable ``func(x) -> b(x)``.

    ``lipschitz`` must be supplied by the user when it is to be reported (theorem hypothesis);
    ``None`` means unknown and is reported as "cannot tell".  ``mp_func`` optionally evaluates
    the drift in mpmath precision (falls back to ``func`` on floats).  ``derivative_func`` gives
    ``b'`` exactly; without it :meth:`derivative` is a central difference (step ``1e-6 (1 + |x|)``,
    relative error ~1e-10 for a smooth drift) and ``exact_derivative`` is False.
    """

    func: Callable = field(default=None)
    lipschitz_constant: float | None = None
    mp_func: Callable | None = None
    name: str = "custom"
    derivative_func: Callable | None = None
    kind = "custom"

    def __post_init__(self):
        if not callable(self.func):
            raise bad_argument("func", self.func, "must be callable", "pass a function x -> b(x)")
        if self.derivative_func is not None and not callable(self.derivative_func):
            raise bad_argument("derivative_func", self.derivative_func, "must be callable or None",
                               "pass a function x -> b'(x)")
        if self.lipschitz_constant is not None:
            object.__setattr__(self, "lipschitz_constant",
                               check_nonnegative("lipschitz_constant", self.lipschitz_constant))

    def __call__(self, x):
        return np.asarray(self.func(np.asarray(x, dtype=float)), dtype=float)

    def mp(self, x):
        if self.mp_func is not None:
            return self.mp_func(x)
        return mpmath.mpf(float(self.func(float(x))))

    def derivative(self, x):
        if self.derivative_func is not None:
            x = np.asarray(x, dtype=float)
            return np.asarray(self.derivative_func(x), dtype=float) * np.ones_like(x)
        return _central_difference(self, x)

    @property
    def exact_derivative(self) -> bool:  # type: ignore[override]
        return self.derivative_func is not None

    @property
    def lipschitz(self) -> float:
        return math.nan if self.lipschitz_constant is None else self.lipschitz_constant


# ----------------------------------------------------------------------------------- intensities
class Intensity:
    """Base class of intensities ``f(x) >= 0``.  Subclasses are frozen dataclasses.

    Attributes: ``sup`` (``math.inf`` if unbounded), ``lipschitz`` (``math.inf`` if not globally
    Lipschitz, ``nan`` if unknown), ``increasing`` (non-decreasing in ``x``; lets simulators use a
    local dominating bound along a monotone flow).
    """

    kind: str = "abstract"
    increasing: bool = False

    def __call__(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def mp(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x):  # pragma: no cover - abstract
        """``f'(x)`` (vectorised; one-sided where ``f`` has a kink).  Part of the contract."""
        raise NotImplementedError

    #: True when :meth:`derivative` is exact (closed form); False for a user callable without one
    exact_derivative: bool = True

    @property
    def sup(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.sup)

    @property
    def lipschitz(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def params(self) -> tuple[float, ...]:
        return ()

    def compiled_args(self) -> tuple[int, float, float, float] | None:
        """``(tag, p0, p1, p2)`` of this family in the compiled table (:mod:`solvers._compiled`), or
        ``None`` when compiled code cannot evaluate it (a user callable).  A family with compiled
        arguments has an exact derivative."""
        from solvers._compiled import INTENSITY_TAGS

        tag = INTENSITY_TAGS.get(self.kind)
        if tag is None:
            return None
        p = tuple(float(v) for v in self.params) + (0.0, 0.0, 0.0)
        return tag, p[0], p[1], p[2]


@dataclass(frozen=True)
class Sigmoid(Intensity):
    """``f(x) = lam / (1 + exp(-beta (x - theta)))``; bounded by ``lam``, Lipschitz ``lam beta / 4``.

    Evaluated in the stable form, with ``z = beta (x - theta)``: ``f = lam / (1 + exp(-z))`` for
    ``z >= -708`` and ``f = lam exp(z)`` below (the same value to the last bit, since ``1 + exp(z)``
    rounds to 1 there), so nothing overflows and the left tail keeps its relative accuracy
    (``scipy.special.expit`` and the naive form return 0 once ``exp(-z)`` overflows, ``z < -709.78``);
    ``f' = lam beta e / (1 + e)^2`` with ``e = exp(-|z|)`` (full relative accuracy in both tails).  The
    compiled code of :mod:`solvers._compiled` uses the same expressions.
    """

    lam: float = 10.0
    beta: float = 5.0
    theta: float = 1.0
    kind = "sigmoid"
    increasing = True

    def __post_init__(self):
        object.__setattr__(self, "lam", check_nonnegative("lam", self.lam))
        object.__setattr__(self, "beta", check_positive("beta", self.beta))
        object.__setattr__(self, "theta", check_real("theta", self.theta))

    #: ``lam / (1 + exp(-z))`` for ``z >= _SPLIT``, ``lam exp(z)`` below (``solvers._compiled.SIGMOID_SPLIT``)
    _SPLIT = -708.0

    def _z(self, x):
        return self.beta * (np.asarray(x, dtype=float) - self.theta)

    def __call__(self, x):
        z = self._z(x)
        upper = z >= self._SPLIT
        with np.errstate(over="ignore", under="ignore"):  # the discarded branch may overflow
            e = np.exp(np.where(upper, -z, z))
            return np.where(upper, self.lam / (1.0 + e), self.lam * e)

    def mp(self, x):
        return mpmath.mpf(self.lam) / (1 + mpmath.exp(-mpmath.mpf(self.beta) * (x - mpmath.mpf(self.theta))))

    def derivative(self, x):
        with np.errstate(under="ignore"):
            e = np.exp(-np.abs(self._z(x)))
        return self.lam * self.beta * e / ((1.0 + e) * (1.0 + e))

    @property
    def sup(self) -> float:
        return self.lam

    @property
    def lipschitz(self) -> float:
        return self.lam * self.beta / 4.0

    @property
    def params(self) -> tuple[float, ...]:
        return (self.lam, self.beta, self.theta)


@dataclass(frozen=True)
class Exponential(Intensity):
    """``f(x) = c exp(beta (x - theta))``: unbounded, not globally Lipschitz (outside the theorem)."""

    c: float = 1.0
    beta: float = 1.0
    theta: float = 1.0
    kind = "exponential"
    increasing = True

    def __post_init__(self):
        object.__setattr__(self, "c", check_nonnegative("c", self.c))
        object.__setattr__(self, "beta", check_positive("beta", self.beta))
        object.__setattr__(self, "theta", check_real("theta", self.theta))

    def __call__(self, x):
        return self.c * np.exp(self.beta * (np.asarray(x, dtype=float) - self.theta))

    def mp(self, x):
        return mpmath.mpf(self.c) * mpmath.exp(mpmath.mpf(self.beta) * (x - mpmath.mpf(self.theta)))

    def derivative(self, x):
        return self.beta * self(x)

    @property
    def sup(self) -> float:
        return math.inf if self.c > 0 else 0.0

    @property
    def lipschitz(self) -> float:
        return math.inf if self.c > 0 else 0.0

    @property
    def params(self) -> tuple[float, ...]:
        return (self.c, self.beta, self.theta)


@dataclass(frozen=True)
class Constant(Intensity):
    """``f(x) = lam0``: spikes are Poisson processes independent of the state."""

    lam0: float = 1.0
    kind = "constant"
    increasing = True

    def __post_init__(self):
        object.__setattr__(self, "lam0", check_nonnegative("lam0", self.lam0))

    def __call__(self, x):
        return np.full_like(np.asarray(x, dtype=float), self.lam0)

    def mp(self, x):
        return mpmath.mpf(self.lam0)

    def derivative(self, x):
        return np.zeros_like(np.asarray(x, dtype=float))

    @property
    def sup(self) -> float:
        return self.lam0

    @property
    def lipschitz(self) -> float:
        return 0.0

    @property
    def params(self) -> tuple[float, ...]:
        return (self.lam0,)


@dataclass(frozen=True)
class ReLU(Intensity):
    """``f(x) = min(cap, slope * max(0, x - theta))``; ``cap = inf`` gives an unbounded ReLU."""

    slope: float = 1.0
    theta: float = 0.0
    cap: float = 10.0
    kind = "relu"
    increasing = True

    def __post_init__(self):
        object.__setattr__(self, "slope", check_nonnegative("slope", self.slope))
        object.__setattr__(self, "theta", check_real("theta", self.theta))
        cap = self.cap
        if cap is None or (isinstance(cap, (int, float, np.floating)) and cap == math.inf):
            cap = math.inf  # an unbounded ReLU
        else:
            cap = check_positive("cap", cap, "pass a positive cap, or math.inf (or None) for no cap")
        object.__setattr__(self, "cap", cap)

    def __call__(self, x):
        return np.minimum(self.cap, self.slope * np.maximum(0.0, np.asarray(x, dtype=float) - self.theta))

    def mp(self, x):
        v = mpmath.mpf(self.slope) * mpmath.mpf(max(mpmath.mpf(0), x - mpmath.mpf(self.theta)))
        return v if math.isinf(self.cap) else min(mpmath.mpf(self.cap), v)

    def derivative(self, x):
        """``slope`` on ``theta < x < theta + cap / slope``, 0 elsewhere (the left derivative at
        ``theta``, the right one at the cap)."""
        x = np.asarray(x, dtype=float)
        y = self.slope * (x - self.theta)
        return np.where((x > self.theta) & (y < self.cap), self.slope, 0.0)

    @property
    def sup(self) -> float:
        return self.cap if self.slope > 0 else 0.0

    @property
    def lipschitz(self) -> float:
        return self.slope

    @property
    def params(self) -> tuple[float, ...]:
        return (self.slope, self.theta, self.cap)


@dataclass(frozen=True)
class CustomIntensity(Intensity):
    """A user's intensity: a vectorised Python callable ``func(x) -> f(x) >= 0``.

    ``bound`` is a supremum the user guarantees (required for exact simulation by thinning unless
    ``increasing`` is set); ``lipschitz_constant`` as for :class:`CustomDrift`.  Simulators check
    ``0 <= f(x) <= bound`` at every candidate event and raise if it is violated.  ``derivative_func``
    gives ``f'`` exactly; without it :meth:`derivative` is a central difference (as for
    :class:`CustomDrift`) and ``exact_derivative`` is False.
    """

    func: Callable = field(default=None)
    bound: float | None = None
    lipschitz_constant: float | None = None
    increasing: bool = False
    mp_func: Callable | None = None
    name: str = "custom"
    derivative_func: Callable | None = None
    kind = "custom"

    def __post_init__(self):
        if not callable(self.func):
            raise bad_argument("func", self.func, "must be callable", "pass a function x -> f(x) >= 0")
        if self.derivative_func is not None and not callable(self.derivative_func):
            raise bad_argument("derivative_func", self.derivative_func, "must be callable or None",
                               "pass a function x -> f'(x)")
        if self.bound is not None:
            object.__setattr__(self, "bound", check_nonnegative("bound", self.bound))
        if self.lipschitz_constant is not None:
            object.__setattr__(self, "lipschitz_constant",
                               check_nonnegative("lipschitz_constant", self.lipschitz_constant))

    def __call__(self, x):
        return np.asarray(self.func(np.asarray(x, dtype=float)), dtype=float)

    def mp(self, x):
        if self.mp_func is not None:
            return self.mp_func(x)
        return mpmath.mpf(float(self.func(float(x))))

    def derivative(self, x):
        if self.derivative_func is not None:
            x = np.asarray(x, dtype=float)
            return np.asarray(self.derivative_func(x), dtype=float) * np.ones_like(x)
        return _central_difference(self, x)

    @property
    def exact_derivative(self) -> bool:  # type: ignore[override]
        return self.derivative_func is not None

    @property
    def sup(self) -> float:
        return math.inf if self.bound is None else self.bound

    @property
    def lipschitz(self) -> float:
        return math.nan if self.lipschitz_constant is None else self.lipschitz_constant


DRIFT_FAMILIES: dict[str, type[Drift]] = {"leaky": Leaky}
INTENSITY_FAMILIES: dict[str, type[Intensity]] = {
    "sigmoid": Sigmoid,
    "exponential": Exponential,
    "constant": Constant,
    "relu": ReLU,
}


def _family_from_spec(spec: Mapping[str, Any], registry: Mapping[str, type], what: str):
    if not isinstance(spec, Mapping) or "family" not in spec:
        raise bad_argument(what, spec, "must be a mapping with a 'family' key",
                           f"pass e.g. {{'family': '{next(iter(registry))}', ...}}")
    name = str(spec["family"]).lower()
    if name not in registry:  # a registry lookup (its message is part of the CLI's contract)
        raise bad_argument(f"{what}.family", spec["family"], f"unknown {what} family",
                           f"use one of {sorted(registry)}")
    params = {k: v for k, v in spec.items() if k != "family"}
    try:
        return registry[name](**params)
    except TypeError as exc:
        raise bad_argument(what, dict(spec), f"wrong parameters for family {name!r} ({exc})",
                           f"see help(solvers.model.{registry[name].__name__})") from None


# -------------------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class NeuronModel:
    """A stochastic integrate-and-fire neuron: drift, intensity and reset value.

    Parameters
    ----------
    drift : Drift or callable
        ``b``; a plain callable is wrapped in :class:`CustomDrift`.
    intensity : Intensity or callable
        ``f >= 0``; a plain callable is wrapped in :class:`CustomIntensity`.
    reset : float, keyword
        Reset value ``x_r`` (default 0).
    """

    drift: Drift
    intensity: Intensity
    reset: float = 0.0

    def __post_init__(self):
        drift = self.drift
        if not isinstance(drift, Drift) and callable(drift):
            drift = CustomDrift(func=drift)
        check_instance("drift", drift, Drift, "pass solvers.model.Leaky(...) or a function x -> b(x)")
        intensity = self.intensity
        if not isinstance(intensity, Intensity) and callable(intensity):
            intensity = CustomIntensity(func=intensity)
        check_instance("intensity", intensity, Intensity,
                       "pass solvers.model.Sigmoid(...) or a function x -> f(x)")
        object.__setattr__(self, "drift", drift)
        object.__setattr__(self, "intensity", intensity)
        object.__setattr__(self, "reset", check_real("reset", self.reset, "pass a finite reset value x_r"))

    @classmethod
    def standard(cls) -> NeuronModel:
        """The standard neuron of SPEC section 1: ``leaky(1.5)``, ``sigmoid(10, 5, 1)``, ``x_r = 0``."""
        return cls(drift=Leaky(I0=1.5), intensity=Sigmoid(lam=10.0, beta=5.0, theta=1.0), reset=0.0)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NeuronModel:
        """Build from a config mapping, e.g.
        ``{"drift": {"family": "leaky", "I0": 1.5}, "intensity": {"family": "sigmoid", "lam": 10,
        "beta": 5, "theta": 1}, "reset": 0.0}``.  Unknown family names raise and list the valid ones.
        """
        if not isinstance(config, Mapping):
            raise bad_argument("config", config, "must be a mapping", "pass a dict with 'drift' and 'intensity'")
        drift = _family_from_spec(config.get("drift", {"family": "leaky"}), DRIFT_FAMILIES, "drift")
        intensity = _family_from_spec(config.get("intensity"), INTENSITY_FAMILIES, "intensity")
        return cls(drift=drift, intensity=intensity, reset=config.get("reset", 0.0))

    def to_config(self) -> dict[str, Any]:
        """Inverse of :meth:`from_config` for named families (custom callables cannot be serialised)."""
        out: dict[str, Any] = {"reset": self.reset}
        for key, fam in (("drift", self.drift), ("intensity", self.intensity)):
            if fam.kind == "custom":
                raise bad_argument(key, fam, "a custom callable cannot be written to a config",
                                   "use a named family")
            d = {"family": fam.kind}
            d.update({k: getattr(fam, k) for k in fam.__dataclass_fields__})
            out[key] = d
        return out

    def generator(self, psi, dpsi, x, h=0.0):
        """Weak-form generator ``(b + h) psi' + f (psi(x_r) - psi)`` evaluated at ``x``."""
        x = np.asarray(x, dtype=float)
        return (self.drift(x) + h) * dpsi(x) + self.intensity(x) * (psi(self.reset) - psi(x))
