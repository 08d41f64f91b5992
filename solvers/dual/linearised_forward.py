r"""The linearised forward equation: perturbations ``nu`` of the mean-field solution ``rho``.

    d_t nu + d_x[(b + h) nu] + d_x[dh rho] = -f nu + dr delta_{x_r},
    dr(t, xi) = int f nu,   dh(t, xi) = int w(xi, zeta) dr(t, zeta) dzeta,

so that ``<phi(t), nu(t)>`` is constant for the linearised dual ``phi`` (SPEC section 4; the identity is
checked from both sides by the tests: ``nu`` from here, and ``nu`` from central differences of the
nonlinear solver).

Scheme: the tangent-linear model of the forward Lagrangian scheme (:mod:`solvers.meanfield.lagrangian`).
The cohort measure ``sum_j m_j delta_{x_j}`` perturbed to ``sum_j (m_j + eps dm_j) delta_{x_j + eps dx_j}``
has the first-order part ``nu = sum_j dm_j delta_{x_j} - m_j dx_j delta'_{x_j}``; one step maps
``(dx, dm)`` linearly (``dx1 = e^{-dt} dx0 + (1 - e^{-dt}) dhbar``, ``dm1 = S (dm0 - m0 (I_x dx0 + I_c dhbar))``
with the exact derivatives of the forward's survival quadrature; newborn ``-sum dm1`` at
``dx = (1 - e^{-dt/2}) dhbar``), the rate perturbation is ``dr = sum dm f + m f' dx``, ``dh = K dr / n_xi``,
and ``dhbar`` follows the forward's input rule (the Heun value on the first step, with the tangent of
its predictor step; AB2 after).  So this is the exact derivative of the discrete forward solution with
respect to its initial cohorts (the forward's cohort merging, a ``1e-14``-level operation, is not
replayed): second order in ``dt`` against the continuous linearised equation, like the forward
scheme, and equal to central differences of the forward solver to ``O(eps^2)``.

Cost: every node is computed, every cohort kept: ``O(n_xi n_steps (M0 + n_steps))`` (a reference for
tests and small problems).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers._compiled import intensity_derivatives, intensity_values
from solvers.errors import bad_argument
from solvers.meanfield.base import save_indices
from solvers.meanfield.initial import InitialSpec

from . import _passes
from .base import LinearisedSnapshot, _forward_parts

__all__ = ["Perturbation", "PerturbedInitial", "perturbed_initial", "linearised_forward", "LinearisedSolution"]


@dataclass(frozen=True)
class Perturbation:
    """An initial perturbation ``nu_0 = sum_j dmass_j delta_{x_j} - mass_j dpos_j delta'_{x_j}`` of the
    forward's initial cohorts ``(x_j, mass_j)`` (``solvers.meanfield`` initial datum, per node).

    ``mass`` and ``position``: arrays ``(n_xi, M0)`` (or ``(M0,)`` for every node, or a per-node vector
    ``(n_xi,)`` when ``M0 = 1``), or ``None`` (zero).  Each node's ``mass`` perturbation sums to 0 (the
    slices keep unit mass).
    """

    mass: Any = None
    position: Any = None

    def arrays(self, pos0: np.ndarray, mass0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_xi, M0 = pos0.shape
        out = []
        for name, v in (("mass", self.mass), ("position", self.position)):
            if v is None:
                out.append(np.zeros((n_xi, M0)))
                continue
            a = np.asarray(v, dtype=float)
            if a.shape == (n_xi,) and M0 == 1:
                a = a[:, None]
            elif a.shape == (M0,):
                a = np.broadcast_to(a, (n_xi, M0))
            if a.shape != (n_xi, M0) or not np.all(np.isfinite(a)):
                raise bad_argument(f"nu0.{name}", f"array of shape {np.shape(v)}",
                                   f"must be finite with shape ({n_xi}, {M0}) (one value per initial cohort of "
                                   "each node)", "pass one value per initial atom of the forward's initial datum")
            out.append(np.array(a))
        dm, dx = out
        s = dm.sum(axis=1)
        scale = np.abs(dm).sum(axis=1) + 1e-300
        if np.any(np.abs(s) > 1e-12 * scale):
            k = int(np.argmax(np.abs(s) / scale))
            raise bad_argument("nu0.mass", f"perturbation whose node {k} sums to {s[k]:.3g}",
                               "must sum to 0 on every node (each slice keeps unit mass)",
                               "subtract each node's mean, e.g. dm - dm.mean(axis=1, keepdims=True)")
        return dx, dm


class PerturbedInitial(InitialSpec):
    """The initial datum ``mu_0 + eps nu_0``: the forward's initial cohorts with positions
    ``x + eps dpos`` and masses ``m + eps dmass`` (for central differences of the nonlinear solver)."""

    def __init__(self, base: InitialSpec, n_xi: int, dpos: np.ndarray, dmass: np.ndarray, eps: float):
        self.base, self.n_xi, self.dpos, self.dmass, self.eps = base, n_xi, dpos, dmass, float(eps)
        self.atomic = base.atomic
        pos, mass = self.cohorts(n_xi)
        if np.any(mass < 0):
            raise bad_argument("eps", eps, "makes a perturbed mass negative", "pass a smaller eps")

    def cohorts(self, n_xi: int):
        if n_xi != self.n_xi:
            raise bad_argument("n_xi", n_xi, f"the perturbation is defined on {self.n_xi} nodes",
                               f"solve with n_xi={self.n_xi}")
        pos0, mass0 = self.base.cohorts(n_xi)
        return pos0 + self.eps * self.dpos, mass0 + self.eps * self.dmass

    def cell_masses(self, n_xi, edges):
        raise bad_argument("method", "upwind", "a perturbed cohort datum is only defined for the Lagrangian scheme",
                           "use method='lagrangian'")


def perturbed_initial(forward: Any, nu0: Perturbation, eps: float) -> PerturbedInitial:
    """``mu_0 + eps nu_0`` as an initial datum for :func:`solvers.meanfield.solve`."""
    p, _, _ = _forward_parts(forward)
    pos0, mass0 = p.initial.cohorts(p.n_xi)
    dx, dm = nu0.arrays(pos0, mass0)
    return PerturbedInitial(p.initial, p.n_xi, dx, dm, eps)


@dataclass(frozen=True)
class LinearisedSolution:
    """Solution ``nu`` of the linearised forward equation.

    Attributes
    ----------
    t : ndarray (n_steps + 1,)
    rate, input : ndarray (n_steps + 1, n_xi)
        ``dr(t_n, xi_k)`` and ``dh(t_n, xi_k)``.
    mass : ndarray (n_steps + 1, n_xi)
        Mass of ``nu`` per slice (0 to rounding).
    snapshots : tuple of LinearisedSnapshot
        ``nu`` at the save times (pairs with :meth:`solvers.dual.DualSolution.pairing`).
    """

    t: np.ndarray
    rate: np.ndarray
    input: np.ndarray
    mass: np.ndarray
    snapshots: tuple

    def snapshot(self, t: float) -> LinearisedSnapshot:
        st = np.array([s.time for s in self.snapshots])
        j = int(np.argmin(np.abs(st - float(t))))
        if abs(st[j] - float(t)) > 1e-9 * max(1.0, self.t[-1]):
            raise bad_argument("t", t, f"nu is stored only at save_times = {np.round(st, 12).tolist()}",
                               "pass one of these times, or re-run with save_times containing t")
        return self.snapshots[j]

    def pairing(self, t: float, psi, dpsi) -> float:
        """``<psi, nu(t)> = (1/n_xi) sum_k sum_j dmass psi(xi_k, x) + mass dpos dpsi(xi_k, x)``."""
        s = self.snapshot(t)
        n_xi = s.pos.shape[0]
        xi = ((np.arange(n_xi) + 0.5) / n_xi)[:, None] * np.ones_like(s.pos)
        return float(np.sum(s.dmass * psi(xi, s.pos) + s.mass * s.dpos * dpsi(xi, s.pos)) / n_xi)


def linearised_forward(forward: Any, nu0: Perturbation, *, save_times: Any = None) -> LinearisedSolution:
    """Solve the linearised forward equation around ``forward`` from ``nu0`` (module docstring).

    Parameters
    ----------
    forward : MeanFieldSolution
        Lagrangian solution (its recorded inputs and problem are used).
    nu0 : Perturbation
        The initial perturbation of the forward's initial cohorts.
    save_times : array, optional, keyword
        Times at which ``nu`` is stored (default: 11 equally spaced, snapped to the grid).
    """
    if not isinstance(nu0, Perturbation):
        raise bad_argument("nu0", nu0, "must be a solvers.dual.Perturbation", "pass Perturbation(position=...)")
    p, drift_args, fam = _forward_parts(forward)
    code, p0, p1, p2 = fam
    I0, x_r = float(drift_args[1]), p.model.reset
    hermite = (forward.options or {}).get("survival_rule", "hermite") == "hermite"
    n_xi, N, dt = p.n_xi, forward.t.size - 1, forward.dt
    ef, eh = math.exp(-dt), math.exp(-0.5 * dt)
    pos0, mass0 = p.initial.cohorts(n_xi)
    dx0, dm0 = nu0.arrays(pos0, mass0)
    M0 = pos0.shape[1]
    S = M0 + N
    pos = np.zeros((n_xi, S))
    mass = np.zeros((n_xi, S))
    dpos = np.zeros((n_xi, S))
    dmass = np.zeros((n_xi, S))
    pos[:, :M0], mass[:, :M0], dpos[:, :M0], dmass[:, :M0] = pos0, mass0, dx0, dm0
    fval = np.zeros((n_xi, S))
    fval[:, :M0] = intensity_values(code, p0, p1, p2, pos0.ravel()).reshape(n_xi, M0)
    K = p.K
    hbar = forward.step_inputs
    h0 = forward.inputs[0]
    dr = np.zeros((N + 1, n_xi))
    dh = np.zeros((N + 1, n_xi))
    dmass_t = np.zeros((N + 1, n_xi))
    fp0 = intensity_derivatives(code, p0, p1, p2, pos0.ravel()).reshape(n_xi, M0)
    dr[0] = np.sum(dm0 * fval[:, :M0] + mass0 * fp0 * dx0, axis=1)
    dh[0] = K @ dr[0] / n_xi
    dmass_t[0] = dm0.sum(axis=1)
    save = set(int(i) for i in save_indices(save_times, forward.t_end, N))
    snaps = []
    if 0 in save:
        snaps.append(LinearisedSnapshot(0.0, pos[:, :M0].copy(), mass[:, :M0].copy(), dpos[:, :M0].copy(),
                                        dmass[:, :M0].copy()))
    out = np.empty((n_xi, 2))
    dout = np.empty((n_xi, 2))
    hi = M0 - 1
    for n in range(N):
        if n == 0:  # the forward's Heun step: tangent of its predictor (input h_0, perturbation dh_0)
            saved = [a.copy() for a in (pos, mass, fval, dpos, dmass)]
            _passes.tangent_step(pos, mass, fval, dpos, dmass, 0, hi, I0 + h0, dh[0], dt, ef, eh, x_r, code, p0,
                                 p1, p2, hermite, out, dout)
            dh_pred = K @ dout[:, 0] / n_xi
            pos, mass, fval, dpos, dmass = saved
            dhbar = 0.5 * (dh[0] + dh_pred)
        else:
            dhbar = 1.5 * dh[n] - 0.5 * dh[n - 1]
        _passes.tangent_step(pos, mass, fval, dpos, dmass, 0, hi, I0 + hbar[n], dhbar, dt, ef, eh, x_r, code, p0,
                             p1, p2, hermite, out, dout)
        hi += 1
        dr[n + 1] = dout[:, 0]
        dmass_t[n + 1] = dout[:, 1]
        dh[n + 1] = K @ dr[n + 1] / n_xi
        if n + 1 in save:
            snaps.append(LinearisedSnapshot((n + 1) * dt, pos[:, :hi + 1].copy(), mass[:, :hi + 1].copy(),
                                            dpos[:, :hi + 1].copy(), dmass[:, :hi + 1].copy()))
    return LinearisedSolution(t=forward.t.copy(), rate=dr, input=dh, mass=dmass_t, snapshots=tuple(snaps))
