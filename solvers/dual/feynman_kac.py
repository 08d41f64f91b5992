r"""Feynman-Kac Monte Carlo of the frozen dual: ``phi(t, xi, x) = E[phi_T(xi, Y_T) | Y_t = x]``.

``Y`` is one neuron of SPEC section 1 driven by the frozen input of the forward solution: between
events ``dY/ds = b(Y) + hbar_m`` on step ``m`` (the input the forward scheme used, piecewise constant;
the exact leaky flow ``c + (Y - c) e^{-s}`` of the simulator, :func:`solvers._compiled.leaky_flow_decayed`),
firing at intensity ``f(Y)`` with reset to ``x_r``.  Simulated exactly by thinning: on each step the
flow moves monotonically towards ``c = I0 + hbar_m`` and ``f`` is non-decreasing (every named family
is), so ``max(f(Y), f(c))`` dominates ``f`` until the next reset or the end of the step; a bound is
redrawn after each reset and at each step boundary (exact by the memoryless property, as in
:mod:`solvers.particles.exact`).  Every path has its own counter-based stream (the simulator's,
:mod:`solvers.particles._streams`) keyed by ``SeedSequence(seed)``, so the estimate does not depend on
any PDE grid in ``x`` and a path's randomness does not depend on how many paths run.

The estimate is the sample mean of ``phi_T(xi_k, Y_T)`` with its standard error
``std / sqrt(n_paths)``; ``xi`` is read as its node ``k`` (the frozen input is known on the nodes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.graphons import cell_index
from solvers.particles._streams import root_key, stream_keys
from solvers.validation import check_int, check_real, check_seed, check_vector

from . import _passes
from .base import checked_terminal, dual_problem

__all__ = ["feynman_kac", "FeynmanKacEstimate"]


@dataclass(frozen=True)
class FeynmanKacEstimate:
    """Monte Carlo estimate of ``phi(t, xi_k, x)``: ``value`` and ``stderr`` (shape of ``x``),
    ``n_paths`` per starting point, the node ``k`` and its ``xi``, ``t``, ``x``."""

    value: np.ndarray
    stderr: np.ndarray
    n_paths: int
    t: float
    xi: float
    node: int
    x: np.ndarray


def feynman_kac(forward: Any, phi_T: Any, t: float, xi: float, x: Any, *, n_paths: int, seed: Any,
                t_end: float | None = None, model: Any = None, kernel: Any = None) -> FeynmanKacEstimate:
    """Monte Carlo of ``E[phi_T(xi, Y_T) | Y_t = x]`` for one neuron driven by the frozen input.

    Parameters
    ----------
    forward : MeanFieldSolution
        Lagrangian solution whose recorded input is frozen.
    phi_T : callable or TerminalFunction
        Terminal function.
    t : float
        Start time in ``[0, T]`` (any time; the input is piecewise constant on the forward's steps).
    xi : float
        Label in ``[0, 1]``; the node whose cell holds it is used.
    x : float or 1-D array
        Starting potential(s).
    n_paths : int, keyword
        Paths per starting point (``>= 2``).
    seed : int or SeedSequence, keyword
        Root of the paths' random streams (required).
    t_end : float, optional, keyword
        Horizon ``T`` (a forward grid time); default the forward's.
    model, kernel : optional, keyword
        If given, checked to be the forward's.
    """
    pr = dual_problem(forward, phi_T, t_end=t_end, model=model, kernel=kernel)
    T = pr.t_end
    t = check_real("t", t, f"pass a start time in [0, {T:g}]")
    if not 0.0 <= t <= T * (1 + 1e-12):
        raise bad_argument("t", t, f"must lie in [0, T = {T:g}]", f"pass a start time in [0, {T:g}]")
    xi = check_real("xi", xi, "pass a label in [0, 1]")
    if not 0.0 <= xi <= 1.0:
        raise bad_argument("xi", xi, "must lie in [0, 1]", "pass a label in [0, 1]")
    scalar = np.ndim(x) == 0
    xs = check_vector("x", np.atleast_1d(np.asarray(x, dtype=float)), fix="pass finite starting potentials")
    n_paths = check_int("n_paths", n_paths, 2, "pass e.g. n_paths=100000")
    seq = check_seed(seed)
    k = int(cell_index(xi, pr.n_xi))
    hb = np.ascontiguousarray(pr.hbar[:, k])
    N = pr.n_steps
    n0 = min(int(np.floor(t / pr.dt + 1e-12)), N)
    if n0 < N and abs(t - (n0 + 1) * pr.dt) <= 1e-12 * max(1.0, T):
        n0 += 1
    code, p0, p1, p2 = pr.family
    root = root_key(seq)
    values, errs = np.empty(xs.size), np.empty(xs.size)
    for j, x0 in enumerate(xs):
        ids = (np.uint64(j) * np.uint64(n_paths) + np.arange(n_paths, dtype=np.uint64)).astype(np.uint64)
        keys = stream_keys(ids, root)
        out = np.empty(n_paths)
        _passes.feynman_kac_paths(np.full(n_paths, float(x0)), float(t), n0, hb, pr.dt, N, pr.I0, pr.model.reset,
                                  code, p0, p1, p2, keys, root[1], out)
        v = checked_terminal(pr.terminal, np.full(n_paths, k), np.full(n_paths, pr.xi[k]), out)
        values[j] = v.mean()
        errs[j] = v.std(ddof=1) / np.sqrt(n_paths)
    if scalar:
        values, errs = values[0], errs[0]
    return FeynmanKacEstimate(value=values, stderr=errs, n_paths=n_paths, t=t, xi=float(pr.xi[k]), node=k, x=xs)
