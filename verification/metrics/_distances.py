"""The population and strong distances (SPEC section 5), the coarsest and the finest companion of ``d_w``.

* ``population_w1(mu, nu) = W_1(mu_bar, nu_bar) = int |Fbar_mu(x) - Fbar_nu(x)| dx`` with the
  ``xi``-averages ``Fbar = sum_c |C_c| F_c``.  Grid: the breakpoints of both measures (every atom and
  continuous-part point), on each interval of which ``Fbar_mu - Fbar_nu`` is linear; the integral of
  its absolute value is exact (zero crossings included).  Discretisation error: none (rounding only).
* ``strong_distance(mu, nu) = int_0^1 W_1(mu(xi), nu(xi)) dxi = sum_c |C_c| int |F^mu_c - F^nu_c| dx``
  on the common refinement of the two ``xi`` partitions (:func:`solvers.measures.common_refinement`),
  each cell on the union of its own breakpoints.  Exact (rounding only).  For non-exchangeable
  empirical measures it does not go to zero while ``d_w`` does.
"""
from __future__ import annotations

import numpy as np

from solvers.measures import ExtendedMeasure, _segment_ids, common_refinement
from solvers.validation import check_instance

from ._cdf import abs_integral, interval_values

__all__ = ["population_w1", "strong_distance", "cell_w1"]


def _check(name: str, m) -> ExtendedMeasure:
    return check_instance(name, m, ExtendedMeasure, "build it with solvers.measures.ExtendedMeasure.from_network, "
                          "from_snapshot, from_solution or from_histogram")


def population_w1(mu: ExtendedMeasure, nu: ExtendedMeasure) -> float:
    """``W_1`` between the ``xi``-averaged laws (exact on the union of breakpoints; see the module
    docstring).

    Parameters
    ----------
    mu, nu : ExtendedMeasure

    Returns
    -------
    float
    """
    mu, nu = _check("mu", mu), _check("nu", nu)
    x = np.unique(np.concatenate([mu.atom_x, mu.cont_x, nu.atom_x, nu.cont_x]))
    if x.size < 2:
        return 0.0
    lm, rm, _ = interval_values(mu, mu.widths[None, :], x)
    ln, rn, _ = interval_values(nu, nu.widths[None, :], x)
    return float(abs_integral(lm[:, 0] - ln[:, 0], rm[:, 0] - rn[:, 0], np.diff(x)).sum())


def cell_w1(mu: ExtendedMeasure, nu: ExtendedMeasure) -> np.ndarray:
    """``W_1(mu_c, nu_c)`` for every cell of two measures on the same partition, shape ``(n_cells,)``."""
    n = mu.n_cells
    cells = np.concatenate([_segment_ids(m.atom_ptr) for m in (mu, nu)] + [_segment_ids(m.cont_ptr) for m in (mu, nu)])
    xs = np.concatenate([mu.atom_x, nu.atom_x, mu.cont_x, nu.cont_x])
    if xs.size == 0:
        return np.zeros(n)
    order = np.lexsort((xs, cells))
    cells, xs = cells[order], xs[order]
    keep = np.concatenate([[True], (cells[1:] != cells[:-1]) | (xs[1:] != xs[:-1])])
    cells, xs = cells[keep], xs[keep]
    Dr = mu.cdf_at(cells, xs) - nu.cdf_at(cells, xs)
    Dl = mu.cdf_at(cells, xs, left=True) - nu.cdf_at(cells, xs, left=True)
    same = cells[1:] == cells[:-1]
    pieces = abs_integral(Dr[:-1], Dl[1:], np.diff(xs)) * same
    return np.bincount(cells[:-1], weights=pieces, minlength=n)


def strong_distance(mu: ExtendedMeasure, nu: ExtendedMeasure) -> float:
    """``int_0^1 W_1(mu(xi), nu(xi)) dxi`` on the common refinement (exact; module docstring).

    Parameters
    ----------
    mu, nu : ExtendedMeasure

    Returns
    -------
    float
    """
    mu_r, nu_r = common_refinement(_check("mu", mu), _check("nu", nu))
    return float(mu_r.widths @ cell_w1(mu_r, nu_r))
