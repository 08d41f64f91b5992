"""Benchmark of the metrics of :mod:`verification.metrics` (issue 9): wall time, bracket ratio and
search quality of ``weak_distance``, speed and measured binning error of ``kernel_mmd``.

Problem: the standard neuron on the ``skew`` (and ``ring``) kernel, the Lagrangian PDE solution at
``t = 5`` on ``n_xi = 128`` nodes (``dt = 0.01``), against a network state of ``N`` neurons drawn
i.i.d. from the PDE's slice laws (neuron ``i`` from the slice of its node; seed 1), ``N = 10^4`` and
``10^5``.  Goals: bracket under 2 s with ``upper / lower <= 1.3`` and the lower side within ``1e-3``
(relative) of the best of 100 random restarts at ``N = 10^4``; kernel-MMD under 0.3 s; both under
20 s at ``N = 10^5``.  The binned MMD is compared with the exact pairwise sum for two independent
network states of ``N = 10^4`` (atoms only: ``(2N)^2`` pair evaluations).

Baselines measured in the same run: one ``1000 x 1000`` float64 matrix product and one ``np.sort``
of ``N`` floats; each time is printed in seconds and as a multiple of them (the machine is shared:
compare ratios).  The load average is printed.  Run with ``OPENBLAS_NUM_THREADS=1``.

Usage::

    python benchmarks/metrics.py            # N = 10^4 and 10^5
    python benchmarks/metrics.py --quick    # N = 10^4 only, no exact MMD
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from solvers.graphons import ring, skew
from solvers.meanfield import solve
from solvers.measures import ExtendedMeasure
from solvers.model import NeuronModel
from verification.metrics import kernel_mmd, population_w1, weak_distance


def sample_network(pde: ExtendedMeasure, N: int, seed: int) -> np.ndarray:
    """``X_i`` drawn from the slice of the node holding ``xi_i = (i + 1/2)/N`` (inverse CDF)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    xi = (np.arange(N) + 0.5) / N
    cells = np.clip(np.searchsorted(pde.edges, xi) - 1, 0, pde.n_cells - 1)
    lo, hi = pde.support
    grid = np.linspace(lo, hi, 40001)
    F = pde.cdf(grid)
    u = rng.random(N)
    X = np.empty(N)
    for c in range(pde.n_cells):  # one pass per node (128), vectorised over its neurons
        sel = cells == c
        X[sel] = np.interp(u[sel], F[c], grid)
    return X


def timed(f, *a, **k):
    t = time.perf_counter()
    out = f(*a, **k)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    print(f"load average {os.getloadavg()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    A = np.random.default_rng(0).standard_normal((1000, 1000))
    _, t_mm = timed(lambda: A @ A)
    _, t_mm = timed(lambda: A @ A)
    weak_distance(ExtendedMeasure.from_network(np.zeros(4)), ExtendedMeasure.from_network(np.ones(4)), skew())  # JIT
    for kernel in (skew(), ring()):
        sol = solve(NeuronModel.standard(), kernel, 5.0, 0.0, n_xi=128, dt=0.01, save_times=[5.0])
        pde = ExtendedMeasure.from_solution(sol, 5.0)
        print(f"\nkernel {kernel.name}: PDE snapshot {pde}")
        for N in sizes:
            net = ExtendedMeasure.from_network(sample_network(pde, N, 1))
            _, t_sort = timed(np.sort, np.random.default_rng(1).random(N))
            br, t_br = timed(weak_distance, net, pde, kernel)
            mmd, t_mmd = timed(kernel_mmd, net, pde, kernel, bandwidth=0.1)
            line = (f"N={N:>6}: d_w in [{br.lower:.6g}, {br.upper:.6g}] ratio {br.ratio:.4f} "
                    f"({br.upper_method.split(';')[0]}); {t_br:.3f} s = {t_br / t_mm:.1f} matmul = "
                    f"{t_br / t_sort:.0f} sort; zeta widening {br.discretisation['zeta']:.2g}; "
                    f"n_x {br.grids['n_x']}")
            print(line)
            print(f"          kernel-MMD {mmd.value:.6g} ({mmd.method}, delta {mmd.delta:.3g}, estimate "
                  f"{mmd.error_estimate:.2g} on d^2) {t_mmd:.3f} s = {t_mmd / t_mm:.1f} matmul; "
                  f"population W1 {population_w1(net, pde):.4g}")
            if N == 10_000:
                b100, t100 = timed(weak_distance, net, pde, kernel, restarts=100, roundings=0, sdp=False, seed=7)
                gap = (b100.lower - br.lower) / b100.lower
                print(f"          best of 100 random restarts {b100.lower:.8g} ({t100:.2f} s): default lower is "
                      f"{'above' if gap <= 0 else 'below'} it by {abs(gap):.2e} relative (goal: below by <= 1e-3)")
        if not args.quick:
            N = 10_000
            x1 = ExtendedMeasure.from_network(sample_network(pde, N, 2))
            x2 = ExtendedMeasure.from_network(sample_network(pde, N, 3))
            ex, t_ex = timed(kernel_mmd, x1, x2, kernel, bandwidth=0.1, method="exact")
            bn, t_bn = timed(kernel_mmd, x1, x2, kernel, bandwidth=0.1, method="binned")
            print(f"network vs network N={N}: MMD^2 exact {ex.squared:.8g} ({t_ex:.1f} s), binned {bn.squared:.8g} "
                  f"({t_bn:.3f} s): error {abs(bn.squared - ex.squared):.2e} = "
                  f"{abs(bn.squared - ex.squared) / ex.squared:.2e} relative; Richardson estimate "
                  f"{bn.error_estimate:.2e}; a-priori bound {bn.error_bound:.2e}")
    print(f"\nbaselines: 1000^3 matmul {t_mm * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
