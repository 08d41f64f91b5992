r"""Regularity of the dual in ``xi`` (SPEC section 4: the regularity of ``w`` is propagated backwards).

1. For a Lipschitz kernel and ``phi_T = (T_w^* g) psi`` the measured ``xi``-Lipschitz constant of
   ``phi(t)`` stays below the derived bound ``B(T - t) <= C exp(L (T - t))`` (derivation and constants in
   :mod:`solvers.dual.regularity`) at every one of 21 times, frozen and linearised.
2. With a discontinuous ``g`` the smoothness of ``phi`` in ``xi`` comes from the kernel, shown by
   refinement in ``n_xi`` (a jump makes the measured Lipschitz constant grow like ``n_xi``; a Lipschitz
   function's does not): with the Lipschitz ``skew`` kernel ``T_w^* g`` is Lipschitz and so is ``phi(t)``
   (constant stable under refinement); with the step kernel ``two-block`` ``T_w^* g`` has a jump at
   ``1/2`` and ``phi(t)`` keeps it (constant doubling with ``n_xi``); and ``g`` itself used as terminal data
   (no kernel: ``g(xi) psi(x)``) keeps its jump with either kernel.
"""
from __future__ import annotations

import numpy as np
import pytest

from solvers.dual import TerminalFunction, regularity, solve_backward, weak_test_function
from solvers.graphons import skew, two_block
from solvers.meanfield import solve
from solvers.model import Leaky, NeuronModel, Sigmoid

pytestmark = pytest.mark.slow

STD = NeuronModel.standard()
GENTLE = NeuronModel(Leaky(1.5), Sigmoid(2.0, 1.0, 1.0))


def identity(x):
    return x


def one(x):
    return np.ones_like(x)


@pytest.mark.parametrize("model,lin", [(STD, False), (GENTLE, False), (GENTLE, True), (STD, True)],
                         ids=["standard-frozen", "gentle-frozen", "gentle-linearised", "standard-linearised"])
def test_measured_lipschitz_constant_stays_below_the_derived_bound(model, lin):
    T = 1.0
    fw = solve(model, skew(), T, 0.0, n_xi=32, dt=0.01)
    g = np.sign(np.sin(2 * np.pi * (np.arange(8) + 0.5) / 8))
    d = solve_backward(fw, weak_test_function(skew(), g, identity, dpsi=one), linearised=lin)
    r = regularity(d)
    assert r.times.size == 21 and np.all(np.isfinite(r.bound))
    slack = r.bound / r.lipschitz
    print(f"{'linearised' if lin else 'frozen'} lam={model.intensity.lam}: measured {r.lipschitz[::5]}, bound "
          f"{r.bound[::5]}, C = {r.C:.4g}, L = {r.L:.4g}; smallest bound / measured {slack.min():.3g}")
    assert np.all(r.lipschitz <= r.bound)
    assert np.all(r.bound <= r.exponential_bound * (1 + 1e-12))


def _max_lipschitz(kernel, terminal_of, n_xi, lin):
    fw = solve(STD, kernel, 1.0, 0.0, n_xi=n_xi, dt=0.01)
    r = regularity(solve_backward(fw, terminal_of(kernel), linearised=lin), times=[0.0, 0.5])
    return r.lipschitz, r.modulus[:, -1]


@pytest.mark.parametrize("lin", [False, True])
def test_the_smoothness_in_xi_comes_from_the_kernel(lin):
    g = [1.0, -1.0]  # a jump at xi = 1/2

    def smoothed(kernel):
        return weak_test_function(kernel, g, identity, dpsi=one)

    def raw(kernel):  # g itself, not smoothed by a kernel
        return TerminalFunction(lambda xi, x: np.where(xi <= 0.5, 1.0, -1.0) * x,
                                derivative=lambda xi, x: np.where(xi <= 0.5, 1.0, -1.0) * np.ones_like(x))

    sizes = [8, 16, 32, 64]
    rows = {}
    for label, kernel, term in (("skew, T_w^* g", skew(), smoothed), ("two-block, T_w^* g", two_block(), smoothed),
                                ("skew, g", skew(), raw)):
        lips = np.array([_max_lipschitz(kernel, term, n, lin)[0] for n in sizes])  # (sizes, 2 times)
        rows[label] = lips
        print(f"{'linearised' if lin else 'frozen'} {label}: Lip_xi phi at t = 0, 0.5 for n_xi = {sizes}: "
              f"{lips.tolist()}")
    growth = {k: v[-1] / v[0] for k, v in rows.items()}  # n_xi x 8: a jump gives ~8, a Lipschitz function ~1
    assert np.all(growth["skew, T_w^* g"] < 1.3), growth
    assert np.all(growth["two-block, T_w^* g"] > 6.0), growth
    assert np.all(growth["skew, g"] > 6.0), growth
