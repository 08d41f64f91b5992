"""Spectral matrices in mpmath (cached per node count and binary precision).

* :func:`_cheb_matrices`: Chebyshev-Lobatto nodes, the Clenshaw-Curtis indefinite-integration
  matrix and the rows of the last two Chebyshev coefficients (age quadrature);
* :func:`_legendre_matrices`: Gauss-Legendre nodes and weights (Newton-polished in mpmath), the
  Legendre indefinite-integration matrix and the rows of the last two Legendre coefficients
  (space quadrature).
"""
from __future__ import annotations

import functools

import mpmath
import numpy as np

mp = mpmath.mp


@functools.lru_cache(maxsize=16)
def _cheb_matrices(n: int, prec: int):
    """Chebyshev-Lobatto nodes ``t_j = -cos(pi j / N)`` on ``[-1, 1]`` (ascending) and matrices:
    ``Q`` (indefinite integral from -1 evaluated at the nodes), ``A`` (values -> coefficients)."""
    with mp.workprec(prec):
        N = n - 1
        t = [-mpmath.cos(mp.pi * j / N) for j in range(n)]
        # T_k(t_j) = (-1)^k cos(pi k j / N), k = 0..N+1
        T = [[(-1) ** k * mpmath.cos(mp.pi * k * j / N) for k in range(N + 2)] for j in range(n)]
        # coefficients a_k = (2/N) sum'' F_j T_k(t_j), a_0 and a_N halved
        A = []
        for k in range(N + 1):
            row = []
            for j in range(n):
                wgt = mpmath.mpf(1) / N if j in (0, N) else mpmath.mpf(2) / N
                row.append(wgt * T[j][k])
            if k in (0, N):
                row = [r / 2 for r in row]
            A.append(row)
        # integral coefficients C (N+2) from a (N+1)
        B = [[mpmath.mpf(0)] * (N + 1) for _ in range(N + 2)]
        B[1][0] += 1
        if N >= 2:
            B[1][2] -= mpmath.mpf(1) / 2
        for k in range(2, N + 2):
            if k - 1 <= N:
                B[k][k - 1] += mpmath.mpf(1) / (2 * k)
            if k + 1 <= N:
                B[k][k + 1] -= mpmath.mpf(1) / (2 * k)
        for k in range(1, N + 2):  # C_0 = -sum_k C_k (-1)^k
            for i in range(N + 1):
                B[0][i] -= (-1) ** k * B[k][i]
        BA = [[mpmath.fdot(B[k], [A[i][j] for i in range(N + 1)]) for j in range(n)] for k in range(N + 2)]
        Q = [[mpmath.fdot(T[j], [BA[k][i] for k in range(N + 2)]) for i in range(n)] for j in range(n)]
        return tuple(t), tuple(tuple(r) for r in Q), (tuple(A[N - 1]), tuple(A[N]))


def _legendre_all(m: int, x):
    """``[P_0(x), ..., P_m(x)]`` by the three-term recurrence."""
    p = [mpmath.mpf(1), x]
    for k in range(1, m):
        p.append(((2 * k + 1) * x * p[k] - k * p[k - 1]) / (k + 1))
    return p[: m + 1]


@functools.lru_cache(maxsize=16)
def _legendre_matrices(m: int, prec: int):
    """Gauss-Legendre nodes/weights on ``[-1, 1]``, the indefinite-integration matrix ``P``
    (``int_{-1}^{x_j}`` of the interpolant) and the rows giving the last two Legendre coefficients."""
    with mp.workprec(prec + 20):
        x0, _ = np.polynomial.legendre.leggauss(m)
        nodes, weights = [], []
        for guess in x0:
            x = mpmath.mpf(float(guess))
            for _ in range(100):
                p = _legendre_all(m, x)
                dp = m * (x * p[m] - p[m - 1]) / (x * x - 1)
                dx = p[m] / dp
                x -= dx
                if abs(dx) < mpmath.ldexp(1, -(prec + 10)):
                    break
            p = _legendre_all(m, x)
            dp = m * (x * p[m] - p[m - 1]) / (x * x - 1)
            nodes.append(x)
            weights.append(2 / ((1 - x * x) * dp * dp))
        P = [_legendre_all(m + 1, x) for x in nodes]  # P[j][k]
        # coefficient c_k = (2k+1)/2 sum_i w_i P_k(x_i) g_i
        Cm = [[(2 * k + 1) * weights[i] * P[i][k] / 2 for i in range(m)] for k in range(m)]
        # int_{-1}^{x_j} P_k = x_j + 1 (k = 0), (P_{k+1} - P_{k-1})/(2k+1) (k >= 1)
        I = [[(nodes[j] + 1) if k == 0 else (P[j][k + 1] - P[j][k - 1]) / (2 * k + 1) for k in range(m)]
             for j in range(m)]
        Q = [[mpmath.fdot(I[j], [Cm[k][i] for k in range(m)]) for i in range(m)] for j in range(m)]
    with mp.workprec(prec):
        return (tuple(+x for x in nodes), tuple(+w for w in weights), tuple(tuple(+q for q in r) for r in Q),
                (tuple(+c for c in Cm[m - 2]), tuple(+c for c in Cm[m - 1])))


