"""ExtendedMeasure: constructors, CDF conventions (agreement with the snapshots' own ``cdf``),
relabelling, refinement and validation errors."""
import numpy as np
import pytest

from solvers.errors import InvalidArgumentError
from solvers.graphons import ring, skew
from solvers.meanfield import Gaussian, solve
from solvers.measures import ExtendedMeasure, common_refinement
from solvers.model import NeuronModel


def _dirac_pair(values=(0.0, 1.2)):
    return ExtendedMeasure(edges=[0.0, 1.0], atom_ptr=[0, 2], atom_x=list(values), atom_m=[0.5, 0.5],
                           cont_ptr=[0, 0], cont_x=[], cont_F=[])


def test_network_measure_cdf_is_the_indicator():
    X = np.array([0.3, -1.0, 2.0, 0.3])
    mu = ExtendedMeasure.from_network(X)
    assert mu.n_cells == 4 and np.allclose(mu.widths, 0.25)
    x = np.array([-2.0, -1.0, 0.3, 1.0, 5.0])
    np.testing.assert_array_equal(mu.cdf(x), (X[:, None] <= x[None, :]).astype(float))
    np.testing.assert_array_equal(mu.cdf_at(np.arange(4), X, left=True), np.zeros(4))
    np.testing.assert_allclose(mu.slice_masses(), 1.0)


@pytest.mark.parametrize("initial", [0.0, Gaussian(mean=0.5, sd=0.2, n_atoms=32)])
@pytest.mark.parametrize("kernel", [ring(), skew()])
def test_cdf_agrees_with_cohort_snapshot(initial, kernel):
    sol = solve(NeuronModel.standard(), kernel, 1.5, initial, n_xi=8, dt=0.01, save_times=[0.0, 0.5, 1.5])
    for t in sol.save_times:
        snap = sol.snapshot(t)
        m = ExtendedMeasure.from_solution(sol, t)
        x = np.concatenate([np.linspace(-1.0, 4.0, 1501), snap.pos.ravel(), np.nextafter(snap.pos.ravel(), -np.inf)])
        diff = np.abs(m.cdf(x) - snap.cdf(x)).max()
        assert diff <= 1e-14, (t, diff)


def test_cdf_agrees_with_grid_snapshot_exactly():
    sol = solve(NeuronModel.standard(), ring(), 1.0, 0.0, n_xi=4, method="upwind", save_times=[1.0])
    snap = sol.snapshot(1.0)
    m = ExtendedMeasure.from_snapshot(snap)
    x = np.concatenate([np.linspace(-2.0, 8.0, 1001), snap.edges])
    np.testing.assert_array_equal(m.cdf(x), snap.cdf(x))


def test_non_monotone_spreading_is_the_snapshots_sum_of_uniform_laws():
    from solvers.meanfield import CohortKind, CohortSnapshot

    pos = np.array([[0.0, 1.0, 0.2, 3.0, 3.0]])  # out of order, a zero-width pair at 3
    mass = np.array([[0.2, 0.2, 0.2, 0.2, 0.2]])
    snap = CohortSnapshot(time=0.0, pos=pos, mass=mass, born=np.ones(5, dtype=bool),
                          initial_kind=CohortKind.ATOM)
    m = ExtendedMeasure.from_snapshot(snap)
    x = np.linspace(-1.0, 5.0, 6001)
    assert np.abs(m.cdf(x) - snap.cdf(x)).max() <= 1e-14


def test_relabel_moves_slices_and_widths():
    X = np.arange(5.0)
    mu = ExtendedMeasure.from_network(X)
    perm = np.array([4, 2, 0, 1, 3])
    nu = mu.relabel(perm)
    np.testing.assert_array_equal(nu.atom_x, X[perm])
    np.testing.assert_array_equal(nu.edges, mu.edges)
    hist = ExtendedMeasure.from_histogram([0.0, 1.0, 2.0], [[1.0, 0.0], [0.25, 0.75]], xi_edges=[0.0, 0.3, 1.0])
    r = hist.relabel(np.array([1, 0]))
    np.testing.assert_allclose(r.edges, [0.0, 0.7, 1.0])
    np.testing.assert_allclose(r.cdf([1.5]).ravel(), [0.25 + 0.375, 1.0])
    with pytest.raises(InvalidArgumentError, match="perm"):
        mu.relabel([0, 1, 2, 3, 3])


def test_common_refinement_keeps_every_slice():
    a = ExtendedMeasure.from_network(np.array([0.0, 1.0, 2.0]))
    b = ExtendedMeasure.from_histogram([0.0, 1.0], [[1.0], [1.0]])
    ar, br = common_refinement(a, b)
    np.testing.assert_allclose(ar.edges, [0.0, 1 / 3, 0.5, 2 / 3, 1.0])
    np.testing.assert_array_equal(ar.atom_x, [0.0, 1.0, 1.0, 2.0])
    x = np.linspace(-1, 3, 41)
    np.testing.assert_allclose(br.cdf(x), np.repeat(b.cdf(x), 2, axis=0))
    # edges equal up to rounding are one edge (no sliver cells)
    c = ExtendedMeasure(edges=[0.0, 1 / 3 + 1e-16, 1.0], atom_ptr=[0, 1, 2], atom_x=[0.0, 1.0], atom_m=[1.0, 1.0],
                        cont_ptr=[0, 0, 0], cont_x=[], cont_F=[])
    cr, ar2 = common_refinement(c, a)
    assert cr.n_cells == 3
    with pytest.raises(InvalidArgumentError, match="max_cells"):
        common_refinement(a, ExtendedMeasure.from_network(np.zeros(7)), max_cells=5)
    with pytest.raises(InvalidArgumentError, match="refinement must contain"):
        a.refine([0.0, 0.5, 1.0])


def test_from_density_integrates_densities():
    d = np.array([[0.5, 0.5], [0.0, 1.0]])
    m = ExtendedMeasure.from_density([0.0, 1.0, 2.0], d)
    np.testing.assert_allclose(m.cdf([0.5, 1.0, 1.5]), [[0.25, 0.5, 0.75], [0.0, 0.0, 0.5]])


@pytest.mark.parametrize("kwargs, match", [
    (dict(atom_m=[0.5, -0.5, 1.0]), "atom masses must be >= 0"),
    (dict(atom_m=[0.5, 0.4, 1.0]), "mass 1 within mass_tol"),
    (dict(atom_x=[0.0, np.nan, 1.0]), "must be finite"),
    (dict(edges=[0.0, 0.5, 0.9]), "partition of"),
    (dict(edges=[0.0, 0.6, 0.5, 1.0][:3]), "strictly increasing|partition"),
])
def test_bad_measures_are_refused(kwargs, match):
    base = dict(edges=[0.0, 0.5, 1.0], atom_ptr=[0, 2, 3], atom_x=[0.0, 1.0, 2.0], atom_m=[0.5, 0.5, 1.0],
                cont_ptr=[0, 0, 0], cont_x=[], cont_F=[])
    base.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match) as err:
        ExtendedMeasure(**base)
    assert "Fix:" in str(err.value)


def test_bad_continuous_parts_and_states_are_refused():
    with pytest.raises(InvalidArgumentError, match="non-decreasing"):
        ExtendedMeasure(edges=[0.0, 1.0], atom_ptr=[0, 0], atom_x=[], atom_m=[], cont_ptr=[0, 3],
                        cont_x=[0.0, 1.0, 2.0], cont_F=[0.0, 0.7, 0.5])
    with pytest.raises(InvalidArgumentError, match="strictly increasing"):
        ExtendedMeasure(edges=[0.0, 1.0], atom_ptr=[0, 0], atom_x=[], atom_m=[], cont_ptr=[0, 2],
                        cont_x=[1.0, 1.0], cont_F=[0.0, 1.0])
    with pytest.raises(InvalidArgumentError, match="states"):
        ExtendedMeasure.from_network([0.0, np.inf])
    with pytest.raises(InvalidArgumentError, match="mass 1 within"):
        ExtendedMeasure.from_histogram([0.0, 1.0, 2.0], [[0.5, 0.6]])
    assert _dirac_pair().n_atoms == 2
