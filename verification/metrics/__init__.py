"""Metrics between extended measures (SPEC section 5): the kernel-dependent weak metric ``d_w`` as a
certified bracket and its companions.

* :func:`weak_distance` -- ``d_w(mu, nu) = ||A||_{inf->1}``, a :class:`MetricBracket` with the
  maximising ``(g, s)`` and the ``x``/``zeta``/quadrature/rounding discretisation errors
  (:mod:`._weak`);
* :func:`kernel_mmd` -- the Hilbert companion ``d_{w,k}`` (Gaussian or Laplace ``k``), exact pairwise
  sums or a binned FFT path with its error stated (:mod:`._mmd`);
* :func:`population_w1` (coarsest) and :func:`strong_distance` (finest), exact (:mod:`._distances`);
* :func:`pairing` -- ``<(T_w^* g) psi, mu - nu>`` computed independently, to check certificates.

A correction to SPEC (V3 and the metric issue): with alternating initial values ``a, b`` across
neighbouring neurons, SPEC says ``d_w(mu^N_0, mu_0) = 0`` at even ``N`` for ``ring``, ``constant``
and ``two-block``.  That holds for ``ring`` and ``constant``; for ``two-block`` it holds only for
``N`` divisible by 4 (``N = 4m + 2``: ``0.78/N``; odd ``N``: ``0.51/N``, not ``0.6/N``), derived and
asserted in ``tests/unit/test_metrics.py``.  The V3 study uses ``skew`` and fits even and odd ``N``
separately.

Measures are :class:`solvers.measures.ExtendedMeasure` (network states, mean-field snapshots, grid
densities); kernels :class:`solvers.graphons.Kernel` with ``w(zeta, xi)``, ``zeta`` postsynaptic.

Example::

    >>> import numpy as np
    >>> from solvers.graphons import skew
    >>> from solvers.measures import ExtendedMeasure
    >>> from verification.metrics import weak_distance, strong_distance
    >>> N = 100
    >>> X = np.where(np.arange(N) % 2 == 0, 0.0, 1.2)          # alternating initial values
    >>> mu_N = ExtendedMeasure.from_network(X)
    >>> limit = ExtendedMeasure(edges=[0.0, 1.0], atom_ptr=[0, 2], atom_x=[0.0, 1.2], atom_m=[0.5, 0.5],
    ...                         cont_ptr=[0, 0], cont_x=[], cont_F=[])
    >>> br = weak_distance(mu_N, limit, skew())
    >>> br.contains(0.12 / N, rtol=1e-6), round(strong_distance(mu_N, limit), 12)
    (True, 0.6)
"""
from ._distances import population_w1, strong_distance
from ._mmd import MMDValue, kernel_mmd
from ._weak import MetricBracket, StepFunction, pairing, weak_distance

__all__ = ["weak_distance", "MetricBracket", "StepFunction", "pairing", "kernel_mmd", "MMDValue",
           "population_w1", "strong_distance"]
