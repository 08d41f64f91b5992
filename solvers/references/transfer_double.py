"""Double-precision transfer function: :func:`phi_double` gives ``Phi(h)`` and ``Phi'(h)`` for many
inputs at once (DOP853 in the age variable, about ``1e-12`` relative; numerical, not certified:
validated against the mpmath :func:`~solvers.references.phi` in the tests).

It drives the scans and Newton solves that need ``Phi`` at thousands of inputs: the bracketing of
the homogeneous fixed points (:mod:`.stationary`, whose final values are then computed in mpmath)
and the Newton/Nystrom spatial state (:mod:`.spatial`, double precision throughout).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from solvers.errors import ConvergenceError, bad_argument
from solvers.model import NeuronModel
from solvers.validation import check_instance, check_real

from ._common import _drift_derivative, _intensity_and_derivative, _is_leaky, _kinks

__all__ = ["phi_double"]


def phi_double(model: NeuronModel, h, *, rtol: float = 1e-13) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised double-precision ``Phi(h)`` and ``Phi'(h)``.

    Method: one DOP853 integration (order 8, ``rtol``, ``atol = 1e-3 rtol``) in the age variable of
    the stacked system ``Lambda' = f(x)``, ``Lambda_h' = f'(x) xi``, ``T' = S``, ``T_h' = -S
    Lambda_h``, ``S = e^{-Lambda}``, with ``x(s)`` and ``xi = dx/dh`` in closed form for the leaky
    drift (``xi = 1 - e^{-s}``) or integrated (``x' = v(x)``, ``xi' = v'(x) xi + 1``) otherwise, up
    to ``s = 40 / kappa`` (leaky: ``|x - x*| < 5e-18 |x_r - x*|``), plus the tail
    ``S/f(x*)`` and its ``h``-derivative.  ``Phi = 1/T``, ``Phi' = -T_h / T^2``.  Accuracy about
    ``1e-12`` relative (validated against :func:`phi` in the tests).

    Parameters
    ----------
    model : NeuronModel
    h : array_like, shape (n,)
        Inputs.

    Returns
    -------
    (ndarray, ndarray), each shape like ``h``
        ``Phi(h)`` and ``Phi'(h)``.
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    rtol = check_real("rtol", rtol)
    if not 1e-14 <= rtol <= 1e-3:
        raise bad_argument("rtol", rtol, "must be in [1e-14, 1e-3]", "pass e.g. rtol=1e-13")
    try:
        h_arr = np.asarray(h, dtype=float)
    except (TypeError, ValueError):
        raise bad_argument("h", h, "must be real numbers", "pass a float or an array of floats") from None
    if not np.all(np.isfinite(h_arr)):
        raise bad_argument("h", h, "must be finite", "pass finite inputs")
    shape = h_arr.shape
    hv = h_arr.ravel()
    n = hv.size
    if n == 0:
        return np.zeros(shape), np.zeros(shape)
    xr = model.reset
    leaky = _is_leaky(model)
    if leaky:
        c = model.drift.I0 + hv
        D = xr - c
        s_end = 40.0
        # kinks of f (ReLU) are crossed at ages a_k = ln(D / (x_k - c)); a piecewise-linear time
        # change tau -> s per input aligns them at the integers, so one batched integration never
        # steps across a kink
        kinks = [float(k) for k in _kinks(model)]
        B = np.zeros((n, len(kinks) + 2))
        B[:, -1] = s_end
        if kinks:
            with np.errstate(divide="ignore", invalid="ignore"):
                ages = []
                for xk in kinks:
                    ratio = (xk - c) / D
                    ages.append(np.where((ratio > 0) & (ratio < 1), -np.log(np.where(ratio > 0, ratio, 1.0)), 0.0))
            B[:, 1:-1] = np.sort(np.minimum(np.stack(ages, axis=1), s_end), axis=1)
        y = np.zeros(4 * n)
        for j in range(len(kinks) + 1):
            s0, Lj = B[:, j], B[:, j + 1] - B[:, j]

            def rhs(tau, y, s0=s0, Lj=Lj):
                Y = y.reshape(4, n)
                e = np.exp(-(s0 + tau * Lj))
                x = c + D * e
                F, Fp = _intensity_and_derivative(model, x)
                S = np.exp(-Y[0])
                return np.concatenate([F * Lj, Fp * (1.0 - e) * Lj, S * Lj, -S * Y[1] * Lj])

            sol = solve_ivp(rhs, (0.0, 1.0), y, method="DOP853", rtol=rtol, atol=1e-3 * rtol, t_eval=[1.0])
            if not sol.success:
                raise ConvergenceError(f"phi_double: DOP853 failed ({sol.message})")
            y = sol.y[:, -1]
        Y = y.reshape(4, n)
        e = math.exp(-s_end)
        x_e = c + D * e
        xi_e = np.full(n, 1.0 - e)
    else:
        def rhs(s, y):
            Y = y.reshape(6, n)
            x = Y[4]
            F, Fp = _intensity_and_derivative(model, x)
            S = np.exp(-Y[0])
            v = model.drift(x) + hv
            return np.concatenate([F, Fp * Y[5], S, -S * Y[1], v, _drift_derivative(model, x) * Y[5] + 1.0])

        y0 = np.concatenate([np.zeros(4 * n), np.full(n, xr), np.zeros(n)])
        s_end, s0, Y = 0.0, 0.0, None
        for _ in range(20):
            s_end = s0 + 40.0
            sol = solve_ivp(rhs, (s0, s_end), y0, method="DOP853", rtol=rtol, atol=1e-3 * rtol, t_eval=[s_end])
            if not sol.success:
                raise ConvergenceError(f"phi_double: DOP853 failed ({sol.message})")
            y0 = sol.y[:, -1]
            Y = y0.reshape(6, n)
            # stop when x has reached x* (tail formula exact to ~1e-12) or the survival is negligible
            lam_e = _intensity_and_derivative(model, Y[4])[0]
            near = np.abs(model.drift(Y[4]) + hv) < 1e-12 * (1.0 + np.abs(Y[4]))
            gone = np.exp(-Y[0]) < 1e-17 * lam_e * Y[2]
            if np.all(near | gone):
                break
            s0 = s_end
        x_e, xi_e = Y[4], Y[5]
    lam, lam_p = _intensity_and_derivative(model, x_e)
    S = np.exp(-Y[0])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        T = Y[2] + np.where(lam > 0, S / lam, np.inf)
        Th = Y[3] - np.where(lam > 0, S * (Y[1] / lam + lam_p * xi_e / lam**2), 0.0)
        P = np.where(np.isfinite(T), 1.0 / T, 0.0)
        Pp = np.where(np.isfinite(T), -Th / T**2, 0.0)
    return P.reshape(shape), Pp.reshape(shape)


