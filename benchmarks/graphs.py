"""Benchmark of the cut-norm brackets of :mod:`verification.graphs`: wall time and upper/lower ratio.

Problems (issue 4):

* ``n = 1000``: the difference ``N W^sigma - w_N`` between a W-random graph (``ring`` and
  ``two-block``, seed 0) sorted by its latent positions and the cell average of its graphon, i.e. the
  matrix whose normalised cut norm is ``||w_N^sigma - w||_box`` (up to the cell-average L1 term).
  Full bracket of :func:`verification.graphs.cut_norm` (alternating maximisation and SDP rounding
  below, Alon-Naor SDP dual certificate above).  Goal: under 10 s with ``upper / lower <= 1.5``.
* ``n = 5000``: random-sign weights ``N W = +-1`` (and the ring difference) with the spectral upper
  bound only (``sdp=False``: the dense SDP certificate needs ``(n+1)^2`` doubles x 4, above the
  default ``max_sdp_size``).  Goal: under 30 s.

Baselines measured in the same run at the same size: one dense matrix product ``A @ A`` and one
``scipy.linalg.eigvalsh`` (all eigenvalues) of a symmetric matrix; the table prints each bracket's
time as a multiple of them, so that numbers from a loaded machine stay comparable.  The load
average is printed.  OpenBLAS threading on a shared, oversubscribed machine can be much slower than
one thread: run with ``OPENBLAS_NUM_THREADS=1`` to compare (the script does not set it).

Usage::

    python benchmarks/graphs.py            # n = 1000 and n = 5000
    python benchmarks/graphs.py --quick    # n = 1000 only
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.linalg as sla

from solvers.graphons import random_sign, ring, two_block, w_random
from verification.graphs import cut_norm


def difference(kernel, n: int, seed: int = 0) -> np.ndarray:
    g = w_random(kernel, n, seed=seed)
    p = np.argsort(g.positions)
    return n * g.weights[np.ix_(p, p)] - kernel.matrix(n, "cell-average")


def baselines(n: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n))
    t = time.perf_counter()
    A @ A
    t_mm = time.perf_counter() - t
    S = A + A.T
    t = time.perf_counter()
    sla.eigvalsh(S, check_finite=False)
    t_eig = time.perf_counter() - t
    return t_mm, t_eig


def row(name: str, n: int, U: np.ndarray, base: tuple[float, float], **options) -> None:
    t = time.perf_counter()
    b = cut_norm(U, **options)
    wall = time.perf_counter() - t
    side = "sdp" if "sdp" in b.bounds else "spectral"
    print(f"{name:<22} {n:>5} {b.lower:>10.5f} {b.upper:>10.5f} {b.ratio:>7.3f} {side:>8} "
          f"{wall:>8.2f} {wall / base[0]:>9.1f} {wall / base[1]:>9.2f}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1000 only")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"{'problem':<22} {'n':>5} {'lower':>10} {'upper':>10} {'ratio':>7} {'upper by':>8} "
          f"{'wall s':>8} {'x matmul':>9} {'x eigvalsh':>9}")
    base = baselines(1000)
    print(f"{'baseline matmul/eig':<22} {1000:>5} {'':>10} {'':>10} {'':>7} {'':>8} {base[0]:>8.2f} {1.0:>9.1f} "
          f"{base[0] / base[1]:>9.2f}  (eigvalsh {base[1]:.2f} s)")
    for kernel in (ring(), two_block()):
        row(f"w-random {kernel.name}", 1000, difference(kernel, 1000), base)
    row("random-sign", 1000, 1.0 * (1000 * random_sign(1000, seed=0)), base)
    if args.quick:
        return
    n = 5000
    base = baselines(n)
    print(f"{'baseline matmul/eig':<22} {n:>5} {'':>10} {'':>10} {'':>7} {'':>8} {base[0]:>8.2f} {1.0:>9.1f} "
          f"{base[0] / base[1]:>9.2f}  (eigvalsh {base[1]:.2f} s)")
    row("random-sign", n, n * random_sign(n, seed=0), base, sdp=False, restarts=8)
    row("w-random ring", n, difference(ring(), n), base, sdp=False, restarts=8)


if __name__ == "__main__":
    main()
