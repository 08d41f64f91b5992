"""Exact law at time ``t`` for constant intensity and leaky drift (SPEC section 3).

Closed forms only (no quadrature), evaluated in double precision: the moving atom or Gaussian of
the neurons that have not fired, and the reset cohort whose age is a truncated exponential.  See
:class:`ConstantIntensityLaw`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from solvers.errors import bad_argument
from solvers.graphons import cell_index
from solvers.model import Constant, Leaky, NeuronModel
from solvers.validation import check_instance, check_nonnegative, check_real

__all__ = ["ConstantIntensityLaw", "constant_intensity_law"]


@dataclass(frozen=True)
class ConstantIntensityLaw:
    """Exact law at time ``t`` for ``f = lam0`` and leaky drift (SPEC section 3), closed forms only.

    With ``c(xi) = I0 + lam0 d(xi)`` (``d`` the degree), the law of ``X(t, xi)`` is the mixture of

    * the no-firing part, mass ``exp(-lam0 t)``: ``X = c + (X0 - c) e^{-t}``; an atom at
      ``c + (x0 - c) e^{-t}`` for a Dirac datum (``sigma = 0``), the Gaussian
      ``N(c + (x0 - c) e^{-t}, sigma^2 e^{-2t})`` otherwise (``x0 = initial``);
    * the reset cohort, mass ``1 - exp(-lam0 t)``: ``X = c + (x_r - c) e^{-a}``, the age ``a``
      with density ``lam0 e^{-lam0 a}`` on ``(0, t)``.  Its CDF is ``1 - ((c - x)/(c - x_r))^lam0``
      on ``[x_r, x_t)`` when ``x_r < c`` and ``((x - c)/(x_r - c))^lam0 - e^{-lam0 t}`` on
      ``[x_t, x_r)`` when ``x_r > c`` (``x_t = c + (x_r - c) e^{-t}``); if ``c = x_r`` the cohort is
      an atom at ``x_r`` (:meth:`cohort_atom_mass`).

    Methods are vectorised over ``xi`` (and ``x``, broadcasting).  ``degree`` values given directly
    (finite network) are looked up by cell: ``xi`` in cell ``i`` uses ``degree[i]``
    (``c_i = I0 + lam0 sum_j W_ij``; give ``xi = labels(N)``).
    """

    lam0: float
    I0: float
    reset: float
    t: float
    initial: float
    sigma: float
    degree_function: Callable = field(repr=False)

    # ---------------------------------------------------------------- basic pieces
    def c(self, xi) -> np.ndarray:
        """Asymptotic potential ``c(xi) = I0 + lam0 d(xi)`` (input-shifted leak target)."""
        xi = np.asarray(xi, dtype=float)
        return self.I0 + self.lam0 * np.asarray(self.degree_function(xi), dtype=float) * np.ones_like(xi)

    @property
    def no_fire_mass(self) -> float:
        """``exp(-lam0 t)``: probability of no firing in ``(0, t]``."""
        return math.exp(-self.lam0 * self.t)

    @property
    def atom_mass(self) -> float:
        """Mass of the moving atom: ``exp(-lam0 t)`` for a Dirac datum, 0 for a Gaussian one."""
        return self.no_fire_mass if self.sigma == 0 else 0.0

    def atom_position(self, xi) -> np.ndarray:
        """Position ``c + (x0 - c) e^{-t}`` of the no-firing part (the atom for a Dirac datum; the
        mean of the Gaussian otherwise)."""
        c = self.c(xi)
        return c + (self.initial - c) * math.exp(-self.t)

    def cohort_atom_mass(self, xi) -> np.ndarray:
        """``1 - exp(-lam0 t)`` where ``c(xi) == x_r`` (the cohort is an atom at ``x_r``), else 0."""
        c = self.c(xi)
        return np.where(c == self.reset, -math.expm1(-self.lam0 * self.t), 0.0)

    # ---------------------------------------------------------------- moments
    def mean(self, xi) -> np.ndarray:
        """``E[X(t, xi)] = e^{-lam t} m_t + c (1 - e^{-lam t}) + (x_r - c) lam/(lam+1) (1 - e^{-(lam+1) t})``."""
        c = self.c(xi)
        lam, t = self.lam0, self.t
        D = self.reset - c
        return (self.no_fire_mass * self.atom_position(xi) + c * (-math.expm1(-lam * t))
                + D * lam / (lam + 1) * (-math.expm1(-(lam + 1) * t)))

    def second_moment(self, xi) -> np.ndarray:
        """``E[X(t, xi)^2]`` in closed form."""
        c = self.c(xi)
        lam, t = self.lam0, self.t
        D = self.reset - c
        m_t = self.atom_position(xi)
        s2 = self.sigma**2 * math.exp(-2 * t)
        nofire = self.no_fire_mass * (m_t**2 + s2)
        cohort = (c * c * (-math.expm1(-lam * t)) + 2 * c * D * lam / (lam + 1) * (-math.expm1(-(lam + 1) * t))
                  + D * D * lam / (lam + 2) * (-math.expm1(-(lam + 2) * t)))
        return nofire + cohort

    def variance(self, xi) -> np.ndarray:
        """``Var X(t, xi)`` (second moment minus squared mean, clipped at 0)."""
        return np.maximum(self.second_moment(xi) - self.mean(xi) ** 2, 0.0)

    # ---------------------------------------------------------------- CDF
    def cdf(self, xi, x) -> np.ndarray:
        """``P(X(t, xi) <= x)`` (right-continuous; the atom adds a jump of ``atom_mass``).

        Parameters
        ----------
        xi, x : array_like, broadcastable
        """
        xi = np.asarray(xi, dtype=float)
        x = np.asarray(x, dtype=float)
        xi, x = np.broadcast_arrays(xi, x)
        c = self.c(xi)
        lam, t, xr = self.lam0, self.t, self.reset
        p = -math.expm1(-lam * t)
        q = self.no_fire_mass
        m_t = c + (self.initial - c) * math.exp(-t)
        if self.sigma == 0:
            nofire = q * (x >= m_t)
        else:
            nofire = q * ndtr((x - m_t) / (self.sigma * math.exp(-t)))
        D = xr - c
        x_t = c + D * math.exp(-t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # x_r < c: increasing cohort on [x_r, x_t]
            ratio_up = np.clip((c - x) / np.where(D < 0, c - xr, 1.0), 0.0, 1.0)
            up = np.where(x < xr, 0.0, np.where(x >= x_t, p, 1.0 - ratio_up**lam))
            # x_r > c: decreasing cohort on [x_t, x_r]
            ratio_dn = np.clip((x - c) / np.where(D > 0, xr - c, 1.0), 0.0, 1.0)
            dn = np.where(x < x_t, 0.0, np.where(x >= xr, p, ratio_dn**lam - q))
        at = p * (x >= xr)
        cohort = np.where(D < 0, up, np.where(D > 0, dn, at))
        cohort = np.clip(cohort, 0.0, p)
        return nofire + cohort


def constant_intensity_law(model: NeuronModel, *, kernel=None, degree=None, t: float, initial: float,
                           sigma: float = 0.0) -> ConstantIntensityLaw:
    """Exact law of SPEC section 3 for constant intensity and leaky drift.

    Parameters
    ----------
    model : NeuronModel
        Drift :class:`~solvers.model.Leaky`, intensity :class:`~solvers.model.Constant`.
    kernel : object with ``.degree(xi)``, keyword, optional
        The kernel (``h = lam0 d(xi)``).  Exactly one of ``kernel`` and ``degree`` is given.
    degree : float or array_like, shape (N,), keyword, optional
        Degrees given directly: a scalar (homogeneous), or per neuron of a finite network
        (``degree[i] = sum_j W_ij``), looked up by the cell of ``xi``.
    t : float, keyword
        Time, ``>= 0``.
    initial : float, keyword
        Initial datum: its value (Dirac, ``sigma = 0``) or the mean of the Gaussian one.
    sigma : float, keyword, default 0
        Standard deviation of the Gaussian initial datum (0: Dirac).

    Example
    -------
    >>> from solvers.graphons import product
    >>> from solvers.model import Constant, Leaky, NeuronModel
    >>> law = constant_intensity_law(NeuronModel(Leaky(1.0), Constant(1.5)), kernel=product(), t=0.8, initial=0.0)
    >>> round(float(law.atom_mass), 6)
    0.301194

    Returns
    -------
    ConstantIntensityLaw
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    if not isinstance(model.drift, Leaky):
        raise bad_argument("model.drift", model.drift, "the exact law needs the leaky drift",
                           "use solvers.model.Leaky(I0)")
    if not isinstance(model.intensity, Constant):
        raise bad_argument("model.intensity", model.intensity, "the exact law needs a constant intensity",
                           "use solvers.model.Constant(lam0)")
    t = check_nonnegative("t", t, "pass a non-negative time")
    initial = check_real("initial", initial, "pass the initial value (Dirac) or the mean of the Gaussian datum")
    sigma = check_nonnegative("sigma", sigma, "pass sigma=0 for a Dirac datum or a positive std")
    if (kernel is None) == (degree is None):
        raise bad_argument("kernel", kernel, "give exactly one of 'kernel' and 'degree'",
                           "pass a kernel with .degree(xi), or degree=<values> for a finite network")
    if kernel is not None:
        if not callable(getattr(kernel, "degree", None)):
            raise bad_argument("kernel", kernel, "must have a .degree(xi) method",
                               "pass e.g. solvers.graphons.product()")
        deg_fn = kernel.degree
    else:
        try:
            dv = np.asarray(degree, dtype=float)
        except (TypeError, ValueError):
            raise bad_argument("degree", degree, "must be real numbers", "pass degree=W.sum(axis=1)") from None
        if not np.all(np.isfinite(dv)) or dv.ndim > 1 or dv.size == 0:
            raise bad_argument("degree", degree, "must be a finite scalar or a non-empty 1-D array",
                               "pass degree=W.sum(axis=1)")
        if dv.ndim == 0:
            val = float(dv)

            def deg_fn(xi, _v=val):
                return np.full_like(np.asarray(xi, dtype=float), _v)
        else:
            vals = dv.copy()
            vals.setflags(write=False)
            N = vals.size

            def deg_fn(xi, _v=vals, _N=N):
                xi = np.asarray(xi, dtype=float)
                return _v[cell_index(xi, _N)]
    return ConstantIntensityLaw(lam0=float(model.intensity.lam0), I0=float(model.drift.I0),
                                reset=float(model.reset), t=t, initial=initial, sigma=sigma, degree_function=deg_fn)
