"""Spatially-extended stationary state ``r(xi) = Phi(int w(xi, zeta) r(zeta) dzeta)``, in double precision.

On the grid ``xi_i = (i - 1/2)/n`` the coupling is discretised as by the PDE solvers, by
:func:`solvers.graphons.coupling_matrix` (one discretisation for the solvers and this reference:
exact cell averages for step kernels, midpoint values otherwise), ``h_i = sum_j K_ij r_j / n``, and
the discrete fixed point is solved by Newton with the double-precision ``Phi`` and its derivative
(:func:`~solvers.references.phi_double`).  Numerical (double precision, Newton to ``tol``), not an
mpmath reference; the stability and uniqueness information reported is described in
:class:`SpatialStationaryState`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from solvers.errors import ConvergenceError, bad_argument
from solvers.graphons import Kernel, coupling_matrix, labels
from solvers.model import NeuronModel
from solvers.validation import check_instance, check_int, check_real, check_vector

from ._common import _is_leaky
from .linear_response import PdeStability, pde_stability
from .transfer_double import phi_double

__all__ = ["SpatialStationaryState", "spatial_stationary"]


@dataclass(frozen=True)
class SpatialStationaryState:
    """Spatially-extended stationary state ``r(xi) = Phi(T_w r)`` on a Nystrom grid.

    Attributes
    ----------
    xi : ndarray, shape (n,)
        Nodes ``labels(n)``.
    rate, input : ndarray, shape (n,)
        ``r(xi_i)`` and ``h_i = sum_j K_ij r_j / n``, ``K`` from
        :func:`solvers.graphons.coupling_matrix`.
    iterations : int
        Newton iterations.
    residual : float
        ``max_i |r_i - Phi(h_i)|``.
    phi_prime : ndarray, shape (n,)
        ``Phi'(h_i)``.
    jacobian_eigenvalues : ndarray of complex, shape (n,)
        Spectrum of ``A = diag(Phi'(h)) K / n`` (the Jacobian of ``r -> Phi(K r / n)``).
    spectral_radius : float
        ``max |spec A|``: the fixed-point iteration ``r <- Phi(K r/n)`` is locally convergent iff < 1.
    max_real_eigenvalue : float
        ``max Re spec A``.
    rate_dynamics_stable : bool
        ``max Re spec A < 1``: linear stability for the *rate* (Wilson-Cowan) dynamics
        ``tau dr/dt = -r + Phi(K r / n)``, whose Jacobian is ``-I + A``.  This is not a statement on
        the full PDE: its linearisation also carries the single-neuron renewal dynamics, which can
        make a state oscillatory-unstable although the rate dynamics are stable.
    contraction_estimate : float
        ``Lhat ||K/n||_inf`` with ``Lhat = max |Phi'|`` sampled on 401 points of the input range
        reachable from rates in ``[0, sup f]`` (``nan`` when ``f`` is unbounded).  ``Lhat`` is a grid
        estimate, not a certified bound.
    unique : bool or None
        True when ``contraction_estimate < 1`` (the map is then a contraction of the box
        ``[0, sup f]^n`` in the sup norm, which contains every fixed point: uniqueness by Banach);
        None (unknown) otherwise.
    pde_stability : PdeStability or None
        For a homogeneous state (``max r - min r <= 1e-9 max(1, r)``) with the leaky drift: the
        linear stability of the full PDE, mode by mode over the eigenvalues of ``K/n``
        (:func:`pde_stability`); None otherwise (an inhomogeneous state couples the modes).
    quadrature : str
        The ``xi`` discretisation of the coupling, as named by
        :func:`solvers.graphons.coupling_matrix` (``"cell-average (exact on step blocks)"`` or
        ``"midpoint"``).
    """

    xi: np.ndarray
    rate: np.ndarray
    input: np.ndarray
    iterations: int
    residual: float
    phi_prime: np.ndarray
    jacobian_eigenvalues: np.ndarray
    spectral_radius: float
    max_real_eigenvalue: float
    rate_dynamics_stable: bool
    contraction_estimate: float
    unique: bool | None
    pde_stability: PdeStability | None = None
    quadrature: str = ""


def spatial_stationary(model: NeuronModel, kernel: Kernel, n_xi: int, *, tol: float = 1e-12, max_iter: int = 50,
                       initial=None, check_pde_stability: bool = True) -> SpatialStationaryState:
    """Solve ``r(xi) = Phi(int w(xi, zeta) r(zeta) dzeta)`` by Newton on the Nystrom grid.

    The coupling is discretised by :func:`solvers.graphons.coupling_matrix`, the discretisation of
    the PDE solvers (:func:`solvers.meanfield.solve`), so that this reference and the solvers solve
    the same discrete problem: ``h_i = sum_j K_ij r_j / n`` with ``K`` the exact cell averages of a
    step kernel (exact when the blocks align with the grid; a cell cut by a block edge gets the
    area-weighted mean of the blocks, which keeps the row integrals of ``w``) and the midpoint
    values ``w(xi_i, xi_j)`` of any other kernel (error ``O(n^-2)`` for kernels and rates smooth in
    ``xi``).  The rule used is recorded in ``SpatialStationaryState.quadrature``.

    Parameters
    ----------
    model : NeuronModel
    kernel : solvers.graphons.Kernel
        Discretised by :func:`solvers.graphons.coupling_matrix` (see above).
    n_xi : int
        Grid size; nodes ``xi_i = (i - 1/2)/n_xi``, weights ``1/n_xi``.
    tol : float, keyword, default 1e-12
        Stop when the Newton step is below ``tol max(1, max |r|)`` and the residual
        ``max |r - Phi(K r/n)|`` below ``10 tol max(1, max |r|)`` (``Phi`` is accurate to about 1e-12
        relative: do not ask for less than 1e-13).
    max_iter : int, keyword, default 50
    initial : array_like, shape (n_xi,), optional, keyword
        Starting rates (default: 10 fixed-point iterations from ``Phi(0)``).  For kernels with
        several solutions this selects the one found.
    check_pde_stability : bool, keyword, default True
        Compute ``pde_stability`` when the state is homogeneous (about 1-2 s).

    Returns
    -------
    SpatialStationaryState

    Raises
    ------
    InvalidArgumentError
        Bad arguments.
    ConvergenceError
        Newton did not reach ``tol`` in ``max_iter`` iterations.
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    kernel = check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.ring() or step_kernel(W)")
    n = check_int("n_xi", n_xi, 1, "pass e.g. n_xi=64")
    tol = check_real("tol", tol)
    if not 0 < tol < 1:
        raise bad_argument("tol", tol, "must be in (0, 1)", "pass e.g. tol=1e-12")
    max_iter = check_int("max_iter", max_iter, 1, "pass e.g. max_iter=50")
    K, quadrature = coupling_matrix(kernel, n)
    K = np.asarray(K, dtype=float)
    if not np.all(np.isfinite(K)):
        raise bad_argument("kernel", kernel, f"its {n} x {n} coupling matrix must be finite",
                           "check the kernel's values")
    Kn = K / n
    xi = labels(n)
    if initial is None:
        r = np.full(n, float(phi_double(model, np.array([0.0]))[0][0]))
        for _ in range(10):
            r = phi_double(model, Kn @ r)[0]
    else:
        r = check_vector("initial", initial, n, fix="pass one starting rate per grid node", what="rates")
    it = 0
    for it in range(1, max_iter + 1):
        hv = Kn @ r
        P, Pp = phi_double(model, hv)
        F = r - P
        Jac = np.eye(n) - Pp[:, None] * Kn
        try:
            step = np.linalg.solve(Jac, F)
        except np.linalg.LinAlgError:
            raise ConvergenceError(f"spatial_stationary: singular Newton Jacobian at iteration {it} "
                                   "(a bifurcation point?); try another initial guess") from None
        r = r - step
        scale = max(1.0, float(np.max(np.abs(r))))
        if np.max(np.abs(step)) <= tol * scale and np.max(np.abs(F)) <= 10 * tol * scale:
            break
    else:
        raise ConvergenceError(f"spatial_stationary: Newton did not converge in {max_iter} iterations "
                               f"(last step {np.max(np.abs(step)):.3e}, residual {np.max(np.abs(F)):.3e})")
    hv = Kn @ r
    P, Pp = phi_double(model, hv)
    residual = float(np.max(np.abs(r - P)))
    if not residual <= 10 * tol * max(1.0, float(np.max(np.abs(r)))):
        raise ConvergenceError(f"spatial_stationary: residual {residual:.3e} above 10 tol after Newton")
    A = Pp[:, None] * Kn
    eig = np.linalg.eigvals(A)
    rho = float(np.max(np.abs(eig)))
    mre = float(np.max(eig.real))
    sup = model.intensity.sup
    if math.isfinite(sup):
        lo_h = sup * float(np.min(np.minimum(Kn, 0.0).sum(axis=1)))
        hi_h = sup * float(np.max(np.maximum(Kn, 0.0).sum(axis=1)))
        hgrid = np.linspace(lo_h, hi_h, 401)
        Lhat = float(np.max(np.abs(phi_double(model, hgrid)[1])))
        contraction = Lhat * float(np.max(np.abs(Kn).sum(axis=1)))
    else:
        contraction = math.nan
    unique = True if contraction < 1 else None
    pde = None
    if check_pde_stability and _is_leaky(model) and np.ptp(r) <= 1e-9 * max(1.0, float(np.max(np.abs(r)))):
        mus = np.linalg.eigvals(Kn)
        mus = mus[np.abs(mus) > 1e-12 * max(1.0, float(np.max(np.abs(mus))))]   # mu = 0 modes: G = 1
        pde = pde_stability(model, float(np.mean(hv)), mus)
    return SpatialStationaryState(xi=xi, rate=r, input=hv, iterations=it, residual=residual, phi_prime=Pp,
                                  jacobian_eigenvalues=eig, spectral_radius=rho, max_real_eigenvalue=mre,
                                  rate_dynamics_stable=bool(mre < 1), contraction_estimate=contraction,
                                  unique=unique, pde_stability=pde, quadrature=quadrature)


