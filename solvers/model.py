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

Each family has a ``kind`` string and a ``params`` tuple of floats: the compiled simulators
dispatch on them (``kind == "custom"`` means a Python callable).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import mpmath
import numpy as np
from scipy.special import expit

from solvers.errors import bad_argument

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


def _finite(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise bad_argument(name, value, "must be a real number", "pass a finite float") from None
    if not math.isfinite(v):
        raise bad_argument(name, value, "must be finite", "pass a finite float")
    return v


def _positive(name: str, value: Any) -> float:
    v = _finite(name, value)
    if v <= 0:
        raise bad_argument(name, value, "must be > 0", f"pass a positive value for {name}")
    return v


def _nonneg(name: str, value: Any) -> float:
    v = _finite(name, value)
    if v < 0:
        raise bad_argument(name, value, "must be >= 0", f"pass a non-negative value for {name}")
    return v


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
        object.__setattr__(self, "I0", _finite("I0", self.I0))

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
            object.__setattr__(self, "lipschitz_constant", _nonneg("lipschitz_constant", self.lipschitz_constant))

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


@dataclass(frozen=True)
class Sigmoid(Intensity):
    """``f(x) = lam / (1 + exp(-beta (x - theta)))``; bounded by ``lam``, Lipschitz ``lam beta / 4``."""

    lam: float = 10.0
    beta: float = 5.0
    theta: float = 1.0
    kind = "sigmoid"
    increasing = True

    def __post_init__(self):
        object.__setattr__(self, "lam", _nonneg("lam", self.lam))
        object.__setattr__(self, "beta", _positive("beta", self.beta))
        object.__setattr__(self, "theta", _finite("theta", self.theta))

    def __call__(self, x):
        # expit(u) = 1 / (1 + e^-u): no overflow warnings, and full relative accuracy in the left
        # tail (the former 0.5 (1 + tanh(u/2)) returned 0 for f below ~1e-17 lam)
        return self.lam * expit(self.beta * (np.asarray(x, dtype=float) - self.theta))

    def mp(self, x):
        return mpmath.mpf(self.lam) / (1 + mpmath.exp(-mpmath.mpf(self.beta) * (x - mpmath.mpf(self.theta))))

    def derivative(self, x):
        s = self(x) / self.lam if self.lam > 0 else np.zeros_like(np.asarray(x, dtype=float))
        return self.lam * self.beta * s * (1.0 - s)

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
        object.__setattr__(self, "c", _nonneg("c", self.c))
        object.__setattr__(self, "beta", _positive("beta", self.beta))
        object.__setattr__(self, "theta", _finite("theta", self.theta))

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
        object.__setattr__(self, "lam0", _nonneg("lam0", self.lam0))

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
        object.__setattr__(self, "slope", _nonneg("slope", self.slope))
        object.__setattr__(self, "theta", _finite("theta", self.theta))
        cap = float(self.cap) if self.cap is not None else math.inf
        if math.isnan(cap) or cap <= 0:
            raise bad_argument("cap", self.cap, "must be > 0 (inf allowed)", "pass a positive cap or math.inf")
        object.__setattr__(self, "cap", cap)

    def __call__(self, x):
        return np.minimum(self.cap, self.slope * np.maximum(0.0, np.asarray(x, dtype=float) - self.theta))

    def mp(self, x):
        v = mpmath.mpf(self.slope) * mpmath.mpf(max(mpmath.mpf(0), x - mpmath.mpf(self.theta)))
        return v if math.isinf(self.cap) else min(mpmath.mpf(self.cap), v)

    def derivative(self, x):
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
            object.__setattr__(self, "bound", _nonneg("bound", self.bound))
        if self.lipschitz_constant is not None:
            object.__setattr__(self, "lipschitz_constant", _nonneg("lipschitz_constant", self.lipschitz_constant))

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
    if name not in registry:
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
        if not isinstance(drift, Drift):
            if callable(drift):
                drift = CustomDrift(func=drift)
            else:
                raise bad_argument("drift", drift, "must be a Drift (e.g. Leaky(I0=1.5)) or a callable",
                                   "pass solvers.model.Leaky(...) or a function x -> b(x)")
        intensity = self.intensity
        if not isinstance(intensity, Intensity):
            if callable(intensity):
                intensity = CustomIntensity(func=intensity)
            else:
                raise bad_argument("intensity", intensity,
                                   "must be an Intensity (e.g. Sigmoid(...)) or a callable",
                                   "pass solvers.model.Sigmoid(...) or a function x -> f(x)")
        object.__setattr__(self, "drift", drift)
        object.__setattr__(self, "intensity", intensity)
        object.__setattr__(self, "reset", _finite("reset", self.reset))

    @classmethod
    def standard(cls) -> "NeuronModel":
        """The standard neuron of SPEC section 1: ``leaky(1.5)``, ``sigmoid(10, 5, 1)``, ``x_r = 0``."""
        return cls(drift=Leaky(I0=1.5), intensity=Sigmoid(lam=10.0, beta=5.0, theta=1.0), reset=0.0)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "NeuronModel":
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
