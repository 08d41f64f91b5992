"""Benchmark of the dual-backward solvers (issue 8): ratios to the forward solve of the same run.

Goals: a backward solve at the resolution of the forward reference solve in at most 2 x the forward's
wall time; ``predicted_variance`` for the standard neuron with 64 ``xi`` nodes and ``T = 1`` in under 5 s.

Forward reference solve: the standard neuron, the ``skew`` kernel (no two nodes alike, so all 64 nodes
are computed, as in a genuinely ``xi``-dependent problem), ``X(0) = 0``, ``n_xi = 64``, ``T = 10``,
``dt = 0.0025`` (the resolution at which the Lagrangian solver reaches a relative error of 1e-6 on the
stationary rate, benchmarks/meanfield.py), default cohort merging.  Terminal data: a weak-metric test
function ``(T_w^* g)(xi) sin(x)`` with a sign vector ``g`` on 16 cells.  Every timing is the minimum of
``--repeat`` runs (numba compilation excluded by a warm-up); wall and CPU seconds are printed beside
the ratios, with the load average (the machine is shared: ratios, not seconds, carry over).

``predicted_variance`` is timed with its refinement (a second forward and dual solve at ``dt / 2`` to
estimate the discretisation error), ``dt = 0.01``, for ``phi_T = x``, with the ``skew`` and ``constant``
kernels (the latter's 64 identical nodes are computed once).

Usage::

    python benchmarks/dual.py            # the reference resolution (T = 10, dt = 0.0025)
    python benchmarks/dual.py --quick    # T = 2
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from solvers.dual import predicted_variance, solve_backward, weak_test_function
from solvers.graphons import constant, skew
from solvers.meanfield import solve
from solvers.model import NeuronModel

MODEL = NeuronModel.standard()
N_XI = 64


def timed(fn, repeat):
    """``(result, min wall, min cpu)`` over ``repeat`` runs."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return out, min(walls), min(cpus)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    T, dt = (2.0, 0.0025) if args.quick else (10.0, 0.0025)
    print(f"load average at start: {os.getloadavg()}")
    g = np.sign(np.sin(2 * np.pi * (np.arange(16) + 0.5) / 16))
    phi = weak_test_function(skew(), g, np.sin, dpsi=np.cos)
    warm = solve(MODEL, skew(), 0.1, 0.0, n_xi=4, dt=0.05)  # numba warm-up (compile or load the cache)
    for lin in (False, True):
        solve_backward(warm, phi, linearised=lin)
    predicted_variance(warm, lambda xi, x: x)

    fw, w_f, c_f = timed(lambda: solve(MODEL, skew(), T, 0.0, n_xi=N_XI, dt=dt), args.repeat)
    print(f"\nforward reference: standard neuron, skew, n_xi = {N_XI}, T = {T:g}, dt = {dt:g}: {w_f:.3f} s wall "
          f"({c_f:.3f} s CPU), {fw.counters.cohorts_max} cohorts at most")
    print(f"{'backward solve':<26} {'wall [s]':>9} {'CPU [s]':>9} {'wall / forward':>15} {'CPU / forward':>14} "
          f"{'columns at most':>16}")
    for lin in (False, True):
        d, w, c = timed(lambda lin=lin: solve_backward(fw, phi, linearised=lin), args.repeat)
        name = "linearised" if lin else "frozen"
        print(f"{name:<26} {w:9.3f} {c:9.3f} {w / w_f:15.2f} {c / c_f:14.2f} {d.counters.max_alive:16d}")
        if not lin:
            print(f"    (frozen tail truncation: weight {d.counters.tail_weight:.2g}, estimated effect on R "
                  f"{d.counters.tail_error:.2g})")

    print("\npredicted_variance, standard neuron, n_xi = 64, T = 1, dt = 0.01, phi_T = x, with refinement:")
    for kernel in (skew(), constant(1.0)):
        fwv = solve(MODEL, kernel, 1.0, 0.0, n_xi=N_XI, dt=0.01)
        p, w, c = timed(lambda fwv=fwv: predicted_variance(fwv, lambda xi, x: x), args.repeat)
        print(f"  {kernel.name:<9} {w:.3f} s wall ({c:.3f} s CPU; goal < 5 s): V = {p.V:.6g} +- "
              f"{p.discretisation_error:.2g}, frozen V = {p.frozen.total:.6g} ({p.frozen.total / p.V:.2f} x)")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
