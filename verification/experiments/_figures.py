"""Figures the generic helpers of :mod:`verification.report` do not cover (matplotlib, Agg backend)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._common import centres_to_edges, rho_grid


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def rho_panels(table: pd.DataFrame, times: Sequence[float], *, title: str = "") -> Any | None:
    """Heat maps of ``rho(t, xi, x)`` over ``(x, xi)``, one panel per time (from the density rows)."""
    grids = [(t, rho_grid(table, t)) for t in times]
    grids = [(t, g) for t, g in grids if g is not None]
    if not grids:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 3.8), layout="constrained", squeeze=False)
    allv = np.concatenate([g[2][np.isfinite(g[2])].ravel() for _, g in grids])
    vmax = float(np.percentile(allv, 98)) if allv.size else 1.0  # moving atoms would saturate the scale
    mesh = None
    for ax, (t, (xi, x, vals)) in zip(axes[0], grids):
        mesh = ax.pcolormesh(centres_to_edges(x), centres_to_edges(xi, 0.0, 1.0), vals, cmap="viridis",
                             shading="flat", vmin=0.0, vmax=vmax)
        ax.set_xlabel("x (membrane potential)")
        ax.set_ylabel("xi (label)")
        ax.set_title(f"t = {t:g}")
    cb = fig.colorbar(mesh, ax=axes[0].tolist())
    cb.set_label("rho(t, xi, x); scale clipped at the 98th percentile")
    if title:
        fig.suptitle(title)
    return fig


def band(df: pd.DataFrame, *, z: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean over replicates per ``t`` with a ``+- z`` standard-error band: ``(t, mean, lo, hi)``."""
    g = df.groupby("t")["value"]
    m = g.mean()
    se = g.std(ddof=1).fillna(0.0) / np.sqrt(g.count())
    return m.index.to_numpy(), m.to_numpy(), (m - z * se).to_numpy(), (m + z * se).to_numpy()


def ratio_figure(series: Mapping[str, tuple], *, ylabel: str, title: str = "", target: float = 1.0) -> Any:
    """Ratios (e.g. measured over predicted variance) against ``N`` with interval bars and the target line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.4, 3.8), layout="constrained")
    for k, (label, (n, v, lo, hi)) in enumerate(series.items()):
        n, v, lo, hi = (np.asarray(a, dtype=float) for a in (n, v, lo, hi))
        off = 1.0 + 0.03 * (k - (len(series) - 1) / 2)
        ax.errorbar(n * off, v, yerr=[v - lo, hi - v], fmt="o", capsize=3, color=f"C{k}", label=label)
    ax.axhline(target, color="0.3", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from verification.report import _n_axis

    _n_axis(ax, np.concatenate([np.asarray(s[0], dtype=float) for s in series.values()]))  # labels at the sizes
    ax.set_xlabel("N")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def orders_figure(series: Mapping[str, tuple], *, title: str = "") -> Any:
    """Errors against the refinement parameter on log-log axes, one series per solver, each with its
    theoretical slope drawn through its finest point: ``series[label] = (h, err, order)``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
    for k, (label, (h, e, p)) in enumerate(series.items()):
        h, e = np.asarray(h, dtype=float), np.asarray(e, dtype=float)
        ax.plot(h, e, "o-", color=f"C{k}", label=label)
        hh = np.geomspace(h.min(), h.max(), 20)
        j = int(np.argmin(h))
        ax.plot(hh, e[j] * (hh / h[j]) ** p, ":", color=f"C{k}", lw=1, label=f"slope {p:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("refinement parameter h (dt or dx)")
    ax.set_ylabel("error against the exact reference")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def regularity_figure(measured: tuple, bound: tuple | None) -> Any:
    """The dual's measured ``xi``-Lipschitz constant against time, with the derived bound where it is
    finite, as ``log10`` (the bound spans hundreds of decades: a log axis would overflow)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    ax.plot(np.asarray(measured[0], dtype=float), np.log10(np.asarray(measured[1], dtype=float)), "o-", color="C0",
            label="measured Lip_xi phi(t)")
    if bound is not None:
        ax.plot(np.asarray(bound[0], dtype=float), np.log10(np.asarray(bound[1], dtype=float)), "--", color="C3",
                label="derived bound (where finite in double precision)")
    ax.set_xlabel("t")
    ax.set_ylabel("log10 of the Lipschitz constant in xi")
    ax.set_title("Dual-backward solution keeps its xi-regularity")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig
