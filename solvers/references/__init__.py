"""Independent references (SPEC section 3), computed without the PDE solvers.

This package never imports :mod:`solvers.meanfield` or :mod:`solvers.particles`: it is the oracle
they are tested against.  Not everything in it has the same standing; one module per reference:

mpmath references (``dps + 15`` working digits, an error target ``10^-(dps+3)`` per quadrature):

* :mod:`.age_quadrature` and :mod:`.space_quadrature`: ``E[ISI]`` and ``int x S`` of one neuron with
  constant input, by two independent quadratures (age variable, Chebyshev panels; space variable,
  Gauss-Legendre panels with the singularity at ``x*`` subtracted).  Neither imports the other;
  they share only the problem statement and the degenerate cases (:mod:`._common`) and the
  spectral matrices (:mod:`._spectral`).
* :mod:`.transfer`: :func:`phi` (age quadrature, confirmed by the space quadrature),
  :func:`isi_moments`, :func:`phi_prime` (five-point difference of the age quadrature, about
  ``0.8 dps`` digits).
* :mod:`.stationary`: the homogeneous stationary states (``w = J``), :func:`stationary_rate`,
  :func:`stationary_states`, :func:`stationary_mean`; rate and mean are solved separately with each
  quadrature and must agree to ``dps - 5`` digits (else ``ConvergenceError``).  The fixed points
  are bracketed with the double-precision ``Phi`` before the mpmath solve.

Double precision (the first three are numerical, not certified: each is validated against the
mpmath references or an independent computation in the tests; the last evaluates exact formulas):

* :mod:`.transfer_double`: :func:`phi_double`, vectorised ``Phi`` and ``Phi'`` (DOP853, about
  ``1e-12`` relative).
* :mod:`.spatial`: :func:`spatial_stationary`, the spatially-extended state by Newton on the
  Nystrom grid with ``phi_double``; the coupling is discretised by
  :func:`solvers.graphons.coupling_matrix`, as in the PDE solvers.
* :mod:`.linear_response`: :func:`susceptibility` and :func:`pde_stability` (trapezoid in age,
  sampled frequencies, argument principle; a margin is reported).
* :mod:`.constant_intensity`: :func:`constant_intensity_law`, the exact law for constant
  intensity and leaky drift: closed forms (no quadrature), evaluated in double precision.

Precision note: mpmath numbers returned here carry ``dps + 15`` digits; print them with
``mpmath.nstr(value, 20)`` (``str`` uses the global ``mpmath.mp.dps``).
"""
from __future__ import annotations

from .constant_intensity import ConstantIntensityLaw, constant_intensity_law
from .linear_response import PdeStability, pde_stability, susceptibility
from .spatial import SpatialStationaryState, spatial_stationary
from .stationary import (
    StationaryState,
    stationary_mean,
    stationary_rate,
    stationary_states,
)
from .transfer import isi_moments, phi, phi_prime
from .transfer_double import phi_double

__all__ = [
    "ConstantIntensityLaw",
    "PdeStability",
    "SpatialStationaryState",
    "StationaryState",
    "constant_intensity_law",
    "isi_moments",
    "pde_stability",
    "phi",
    "phi_double",
    "phi_prime",
    "spatial_stationary",
    "stationary_mean",
    "stationary_rate",
    "stationary_states",
    "susceptibility",
]
