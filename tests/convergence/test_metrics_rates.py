"""Rate of the weak metric for a network state sampled i.i.d. from a PDE's slice laws.

Neuron ``i`` draws ``X_i`` from the slice law of the PDE node whose cell holds ``xi_i`` (exact
inverse of the piecewise-linear CDF with its atoms), independently.  ``d_w(mu^N, mu)`` is then the
supremum of a centred empirical process over ``Phi_w`` (a Donsker class: Lipschitz test functions
in ``x``, ``T_w^* g`` with ``w`` Lipschitz in ``xi``), so ``E d_w ~ c N^{-1/2}``; the strong distance
does not go to zero (each slice is a single atom against a continuous law).  Fit: mean over 6
replicates per ``N`` of the certified lower side (the bracket ratio is below 1.1 here), percentile
bootstrap over replicates (verification.rates.fit_power_law), 95% interval.
"""
import numpy as np
import pytest

from solvers.graphons import skew
from solvers.meanfield import solve
from solvers.measures import ExtendedMeasure
from solvers.model import NeuronModel
from verification.metrics import strong_distance, weak_distance
from verification.rates import fit_power_law


def sample(pde: ExtendedMeasure, N: int, rng) -> np.ndarray:
    x = pde.breakpoints()
    cells_of = np.clip(np.searchsorted(pde.edges, (np.arange(N) + 0.5) / N) - 1, 0, pde.n_cells - 1)
    u = rng.random(N)
    out = np.empty(N)
    for c in range(pde.n_cells):  # one pass per node
        Fl = pde.cdf_at(np.full(x.size, c), x, left=True)
        Fr = pde.cdf_at(np.full(x.size, c), x)
        Fs, xs = np.stack([Fl, Fr], 1).ravel(), np.repeat(x, 2)
        sel = cells_of == c
        out[sel] = np.interp(u[sel], Fs, xs)
    return out


@pytest.mark.slow
def test_iid_network_state_converges_at_rate_one_half():
    sol = solve(NeuronModel.standard(), skew(), 2.0, 0.0, n_xi=32, dt=0.01, save_times=[2.0])
    pde = ExtendedMeasure.from_solution(sol, 2.0)
    rng = np.random.default_rng(np.random.SeedSequence(2024))
    sizes, vals, strong = [], [], []
    for N in (256, 512, 1024, 2048, 4096, 8192):
        for _ in range(6):
            net = ExtendedMeasure.from_network(sample(pde, N, rng))
            br = weak_distance(net, pde, skew())
            assert br.ratio < 1.1
            sizes.append(N)
            vals.append(br.lower)
        strong.append(strong_distance(net, pde))
    fit = fit_power_law(sizes, vals, seed=7, n_boot=2000)
    print(f"d_w exponent {fit.exponent.text()} (prefactor {fit.prefactor.value:.3g}); strong {np.round(strong, 3)}")
    assert fit.exponent.lower <= -0.5 <= fit.exponent.upper, fit.exponent
    assert abs(fit.exponent.value + 0.5) < 0.1
    assert min(strong) > 0.5 * max(strong)  # the strong distance stays O(1)
