"""Linear response and PDE stability of homogeneous stationary states (leaky drift), in double precision.

:func:`susceptibility` is the rate response ``chi(i omega)`` of the renewal form of the PDE to an
input modulation (``chi(0) = Phi'(h)``); :func:`pde_stability` counts, for each eigenvalue ``mu``
of the kernel operator, the zeros of ``1 - mu chi(lam)`` in ``Re lam > 0`` by the argument
principle.  This sees oscillatory (Hopf) instabilities that the rate-dynamics criterion of
:func:`~solvers.references.spatial_stationary` (``max Re spec(diag(Phi') K/n) < 1``, the
real-axis crossing) cannot.  Numerical (trapezoid in age, sampled frequencies), not certified; a
margin is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import cumulative_trapezoid

from solvers.errors import ConvergenceError, bad_argument
from solvers.model import Leaky, NeuronModel
from solvers.validation import check_instance, check_real, check_vector

from ._common import _intensity_and_derivative

__all__ = ["PdeStability", "pde_stability", "susceptibility"]

_AGE_END = 40.0


def _age_profile(model: NeuronModel, h: float, da: float):
    """Stationary age profile for the leaky drift on ``[0, 40]`` (trapezoid, step ``da``)."""
    c = model.drift.I0 + h
    D = model.reset - c
    n = int(round(_AGE_END / da))
    a = np.linspace(0.0, _AGE_END, n + 1)
    x = c + D * np.exp(-a)
    F, Fp = _intensity_and_derivative(model, x)
    Lam = cumulative_trapezoid(F, a, initial=0.0)
    S = np.exp(-Lam)
    lam_star = float(model.intensity(np.array([c]))[0])
    return a, S, Fp, lam_star


def susceptibility(model: NeuronModel, h, omega, *, da: float = 2e-3) -> np.ndarray:
    """Rate response ``chi(i omega)`` of one neuron in its stationary state to an input modulation.

    For the leaky drift, an input ``h + eps e^{lam t}`` moves a neuron of age ``a`` by
    ``eps e^{lam t} phi_lam(a)``, ``phi_lam(a) = (1 - e^{-(lam+1) a}) / (lam + 1)``.  Linearising the
    age-structured (renewal) form of the PDE of SPEC section 3 and using conservation of mass gives

        chi(lam) = r0 / S^(lam) int_0^inf f'(x0(v)) phi_lam(v) int_0^inf S(v + u) e^{-lam u} du dv,

    ``S^(lam) = int_0^inf S(a) e^{-lam a} da`` (no zero in ``Re lam >= 0``), ``r0 = 1 / S^(0)``.
    At ``lam = 0``, ``chi(0) = Phi'(h)`` (tested to 5e-5); at ``omega = 4`` it matches an
    independent time-domain cohort simulation to 2e-3 (tested).  Trapezoid rule on ``[0, 40]`` with step ``da``
    (error ``O(da^2 (1 + omega^2))``), exact exponential tails beyond (``x = x*`` there to 4e-18).

    Parameters
    ----------
    model : NeuronModel
        Leaky drift.
    h : float
        Stationary input.
    omega : array_like, shape (k,)
        Angular frequencies; ``lam = i omega``.

    Returns
    -------
    ndarray of complex, shape (k,)
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    if not isinstance(model.drift, Leaky):
        raise bad_argument("model.drift", model.drift, "the susceptibility is implemented for the leaky drift",
                           "use solvers.model.Leaky(I0)")
    h = check_real("h", h)
    da = check_real("da", da)
    if not 0 < da <= 0.05:
        raise bad_argument("da", da, "must be in (0, 0.05]", "pass e.g. da=2e-3")
    om = check_vector("omega", omega if np.ndim(omega) else [omega], fix="pass real angular frequencies",
                      what="frequencies")
    a, S, Fp, lam_star = _age_profile(model, h, da)
    if lam_star <= 0:
        return np.zeros(om.shape, dtype=complex)   # the neuron stops firing: r0 = 0, no response
    T = np.trapezoid(S, a) + S[-1] / lam_star
    r0 = 1.0 / T
    out = np.empty(om.shape, dtype=complex)
    chunk = 32
    for k0 in range(0, om.size, chunk):
        lam = 1j * om[k0:k0 + chunk, None]
        E = np.exp(-lam * a[None, :])
        SE = S[None, :] * E
        tail = S[-1] * E[:, -1:] / (lam + lam_star)                  # int_40^inf S e^{-lam a}
        cum = cumulative_trapezoid(SE, a, axis=1, initial=0.0)
        Shat = cum[:, -1:] + tail
        U = (cum[:, -1:] - cum) + tail                              # int_v^inf S e^{-lam a} da
        W = U / E                                                   # int_0^inf S(v+u) e^{-lam u} du
        phi_l = (1.0 - E * np.exp(-a)[None, :]) / (lam + 1.0)
        N = np.trapezoid(Fp[None, :] * phi_l * W, a, axis=1)[:, None]
        N += Fp[-1] * S[-1] / ((lam + 1.0) * (lam + lam_star) * lam_star)
        out[k0:k0 + chunk] = (r0 * N / Shat)[:, 0]
    return out


@dataclass(frozen=True)
class PdeStability:
    """Linear stability of a homogeneous stationary state of the PDE, mode by mode.

    A perturbation along an eigenvector of the kernel operator with eigenvalue ``mu`` grows like
    ``e^{lam t}`` where ``1 = mu chi(lam)`` (or a zero of ``S^(lam)``, never in ``Re lam >= 0``).
    ``unstable[k]`` counts the zeros of ``G(lam) = 1 - mu_k chi(lam)`` in ``Re lam > 0`` by the
    argument principle on the imaginary axis (``G -> 1`` at infinity; numerical, not certified):
    the state is linearly stable when every count is 0.  ``margin[k] = min_omega |G(i omega)|``:
    counts are trustworthy when it is well above the discretisation error of ``chi`` (~1e-3).

    Attributes
    ----------
    mu : ndarray, shape (m,)
    unstable : ndarray of int, shape (m,)
    margin : ndarray, shape (m,)
    omega_max : float
        Largest frequency sampled (``|mu chi| < 1/4`` beyond it).
    """

    mu: np.ndarray
    unstable: np.ndarray
    margin: np.ndarray
    omega_max: float

    @property
    def stable(self) -> bool:
        return bool(np.all(self.unstable == 0))


def pde_stability(model: NeuronModel, h, mu, *, omega_step: float = 0.02, da: float = 2e-3) -> PdeStability:
    """Count unstable modes of the homogeneous stationary state with input ``h`` (see
    :class:`PdeStability`).  ``mu`` are the eigenvalues of the kernel operator (``[J]`` for
    ``w = J``; the spectrum of ``K/n`` on a grid), real or complex.

    Returns
    -------
    PdeStability
    """
    try:
        mus = np.atleast_1d(np.asarray(mu, dtype=complex))
    except (TypeError, ValueError):
        raise bad_argument("mu", mu, "must be numbers (the kernel eigenvalues)", "pass e.g. [J]") from None
    if mus.ndim != 1 or not np.all(np.isfinite(mus)):
        raise bad_argument("mu", mu, "must be a finite 1-D array of kernel eigenvalues", "pass e.g. [J]")
    step = check_real("omega_step", omega_step)
    if not 0 < step <= 1:
        raise bad_argument("omega_step", omega_step, "must be in (0, 1]", "pass e.g. 0.02")
    mu_max = float(np.max(np.abs(mus))) if mus.size else 0.0
    W = 20.0
    while True:
        chi_W = susceptibility(model, h, [W], da=da)[0]
        if mu_max * abs(chi_W) < 0.25 or W >= 5000:
            break
        W *= 2
    for _ in range(6):
        # frequency grid: step `step` up to 5, then growing like step * omega / 5
        pts = [0.0]
        while pts[-1] < W:
            pts.append(pts[-1] + step * max(1.0, pts[-1] / 5.0))
        om_pos = np.array(pts)
        chi_pos = susceptibility(model, h, om_pos, da=da)
        om = np.concatenate([-om_pos[:0:-1], om_pos])
        chi = np.concatenate([np.conj(chi_pos[:0:-1]), chi_pos])      # chi(-i omega) = conj chi(i omega)
        G = 1.0 - mus[:, None] * chi[None, :]
        theta = np.unwrap(np.angle(G), axis=1)
        if np.max(np.abs(np.diff(theta, axis=1)), initial=0.0) < math.pi / 4:
            break
        step /= 2
    else:
        raise ConvergenceError("pde_stability: the phase of 1 - mu chi(i omega) varies too fast to track")
    # argument principle, contour = imaginary axis upwards + right half circle (G -> 1 there):
    # number of zeros in Re lam > 0 is -(change of arg G along omega = -inf..inf) / (2 pi)
    Z = np.rint(-(theta[:, -1] - theta[:, 0]) / (2 * math.pi)).astype(int)
    margin = np.min(np.abs(G), axis=1)
    return PdeStability(mu=mus, unstable=Z, margin=margin, omega_max=float(om[-1]))


