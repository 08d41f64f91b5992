"""Extended measures ``mu(dxi, dx)``: a ``xi`` partition of ``[0, 1]`` and one probability law in ``x``
per cell (SPEC sections 2, 3 and 5).

Representation (:class:`ExtendedMeasure`)
    Cells ``C_c = (edges[c], edges[c+1]]`` of widths ``widths[c]``; the slice on ``C_c`` is the same
    law for every ``xi`` in the cell.  A slice is the sum of

    * **atoms** ``sum_a m_a delta_{p_a}`` (genuine Diracs: a network state, an atomic initial datum,
      the atom a Dirac datum keeps in the mean-field PDE), and
    * an **absolutely continuous part in CDF form**: a piecewise-linear CDF ``G_c`` through the points
      ``(y_k, G_k)`` (``y`` strictly increasing, ``G`` non-decreasing from ``G_0 = 0``), ``0`` left of
      ``y_0`` and ``G_K`` right of ``y_K``; its density is piecewise constant.

    The slice CDF (right-continuous) is ``F_c(x) = sum_{p_a <= x} m_a + G_c(x)``; each slice has unit
    mass (``sum_a m_a + G_K = 1`` within ``mass_tol``).  Arrays are flat with CSR pointers
    (``atom_ptr``, ``cont_ptr``) so a network state of ``N = 10^5`` neurons costs a few arrays of
    length ``N``; atoms are stored sorted by position within each cell.

Constructors
    :meth:`ExtendedMeasure.from_network` (``N`` cells of width ``1/N``, one atom each: the extended
    empirical measure ``mu^N``), :meth:`~ExtendedMeasure.from_snapshot` / ``from_solution`` (a
    :class:`~solvers.meanfield.MeanFieldSolution` snapshot on its ``n_xi`` uniform cells),
    :meth:`~ExtendedMeasure.from_histogram` and :meth:`~ExtendedMeasure.from_density` (a grid
    density), and the validated flat-array constructor itself.

Snapshots.  The CDF of a converted :class:`~solvers.meanfield.CohortSnapshot` is the one that class
states: ``ATOM`` columns are exact jumps; ``BORN`` and ``QUADRATURE`` columns are continuous laws,
each atom's mass spread uniformly between the midpoints to its neighbours in column order (end
intervals mirrored), so the CDF is piecewise linear; a kind with a single column is an atom.  When the
spreading intervals are not monotone in column order they overlap; their sum is still piecewise
linear, with breakpoints at every interval end, and is stored as such (a zero-width interval is an
atom, as in the snapshot's own formula).  The two agree to rounding (tested: ``<= 1e-14``).  A
:class:`~solvers.meanfield.GridSnapshot` (upwind cells, uniform within a cell) is a continuous part on
its cell edges, identical to its own ``cdf``.

Operations: :meth:`~ExtendedMeasure.cdf` (all cells on an ``x`` grid), :meth:`~ExtendedMeasure.cdf_at`
(pairs ``(cell, x)``, right-continuous or left limits), :meth:`~ExtendedMeasure.relabel` (a
permutation of the cells), :meth:`~ExtendedMeasure.refine` and :func:`common_refinement` (a common
``xi`` partition: the union of the edges, edges closer than ``EDGE_TOL`` identified),
:meth:`~ExtendedMeasure.breakpoints` (every atom and continuous-part grid point, sorted).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.errors import bad_argument
from solvers.validation import check_int, check_positive, check_vector

__all__ = ["ExtendedMeasure", "common_refinement", "EDGE_TOL", "MAX_CELLS"]

#: edges of two partitions closer than this are the same edge (``1/3`` computed two ways)
EDGE_TOL = 1e-12
#: the largest common refinement :func:`common_refinement` builds
MAX_CELLS = 1 << 24


# ------------------------------------------------------------------------------------ ragged helpers
def _ragged_gather(ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments ``idx`` of a CSR layout ``ptr``: the new pointer array and the flat indices."""
    lengths = ptr[idx + 1] - ptr[idx]
    new_ptr = np.zeros(idx.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_ptr[1:])
    flat = np.repeat(ptr[idx] - new_ptr[:-1], lengths) + np.arange(new_ptr[-1], dtype=np.int64)
    return new_ptr, flat


def _segment_ids(ptr: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))


def _segmented_cumsum(values: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at every segment (each segment summed on its own, left to right,
    so the result does not depend on the other segments' sizes)."""
    out = np.empty_like(values)
    lengths = np.diff(ptr)
    n_seg = lengths.size
    max_len = int(lengths.max()) if n_seg else 0
    if n_seg <= max_len:
        for c in range(n_seg):  # few cells with many points (PDE snapshots: n_xi cells)
            out[ptr[c]:ptr[c + 1]] = np.cumsum(values[ptr[c]:ptr[c + 1]])
    else:
        acc = np.zeros(n_seg)
        for j in range(max_len):  # many cells with few points (network states: one atom per cell)
            live = np.flatnonzero(lengths > j)
            acc[live] = acc[live] + values[ptr[live] + j]
            out[ptr[live] + j] = acc[live]
    return out


def _count_le(ptr: np.ndarray, vals: np.ndarray, cells: np.ndarray, x: np.ndarray, *, strict: bool) -> np.ndarray:
    """For each query ``(cells[q], x[q])``: how many values of segment ``cells[q]`` (sorted within the
    segment) are ``<= x[q]`` (``< x[q]`` when ``strict``)."""
    V, Q = vals.size, x.size
    if V == 0:
        return np.zeros(Q, dtype=np.int64)
    seg = _segment_ids(ptr)
    k1 = np.concatenate([seg, cells])
    k2 = np.concatenate([vals, x])
    # ties: values before queries counts them (<=); queries first excludes them (<)
    flag = np.concatenate([np.full(V, 1 if strict else 0, np.int8), np.full(Q, 0 if strict else 1, np.int8)])
    order = np.lexsort((flag, k2, k1))
    is_val = order < V
    running = np.cumsum(is_val)
    pos = np.empty(V + Q, dtype=np.int64)
    pos[order] = np.arange(V + Q)
    return running[pos[V:]] - ptr[cells]


# ------------------------------------------------------------------------------------------ measure
@dataclass(frozen=True, eq=False)
class ExtendedMeasure:
    """An extended measure: a ``xi`` partition of ``[0, 1]`` with one probability law per cell.

    Parameters
    ----------
    edges : array_like, shape (n + 1,)
        Cell edges, strictly increasing from 0 to 1 (ends within ``EDGE_TOL`` are snapped).
    atom_ptr : array_like of int, shape (n + 1,)
        Atoms of cell ``c`` are ``atom_x[atom_ptr[c]:atom_ptr[c+1]]`` (masses ``atom_m``).
    atom_x, atom_m : array_like, shape (n_atoms,)
        Positions (finite) and masses (``>= 0``) of the atoms; any order within a cell (stored sorted).
    cont_ptr : array_like of int, shape (n + 1,)
        Continuous part of cell ``c``: points ``cont_x[cont_ptr[c]:cont_ptr[c+1]]`` (none, or at least 2).
    cont_x, cont_F : array_like, shape (n_points,)
        Strictly increasing points ``y_k`` of each cell and the continuous part's CDF ``G_k`` there
        (``G_0 = 0``, non-decreasing).
    mass_tol : float
        Largest accepted ``|slice mass - 1|``.

    Raises
    ------
    InvalidArgumentError
        A partition that is not one of ``[0, 1]``, non-finite atoms or points, negative masses or
        decreasing continuous CDFs, slices whose mass is not 1, inconsistent pointers.
    """

    edges: np.ndarray
    atom_ptr: np.ndarray
    atom_x: np.ndarray
    atom_m: np.ndarray
    cont_ptr: np.ndarray
    cont_x: np.ndarray
    cont_F: np.ndarray
    mass_tol: float = 1e-9

    def __post_init__(self):
        tol = check_positive("mass_tol", self.mass_tol, "pass e.g. mass_tol=1e-9")
        edges = _check_edges("edges", self.edges)
        n = edges.size - 1
        aptr = _check_ptr("atom_ptr", self.atom_ptr, n)
        cptr = _check_ptr("cont_ptr", self.cont_ptr, n)
        ax = check_vector("atom_x", self.atom_x, int(aptr[-1]), what="atom positions")
        am = check_vector("atom_m", self.atom_m, int(aptr[-1]), what="atom masses")
        cx = check_vector("cont_x", self.cont_x, int(cptr[-1]), what="continuous-part points")
        cF = check_vector("cont_F", self.cont_F, int(cptr[-1]), what="continuous-part CDF values")
        if np.any(am < 0):
            i = int(np.flatnonzero(am < 0)[0])
            c = int(np.searchsorted(aptr, i, side="right") - 1)
            raise bad_argument("atom_m", f"mass {am[i]!r} of atom {i} (cell {c})", "atom masses must be >= 0",
                               "a slice is a probability measure: remove negative masses")
        clen = np.diff(cptr)
        if np.any(clen == 1):
            c = int(np.flatnonzero(clen == 1)[0])
            raise bad_argument("cont_ptr", f"cell {c} with a single continuous-part point",
                               "a continuous part needs at least 2 points (or none)",
                               "give the CDF at both ends of its support, or store the mass as an atom")
        if cx.size:
            seg = _segment_ids(cptr)
            same = seg[1:] == seg[:-1]
            dx, dF = np.diff(cx), np.diff(cF)
            if np.any(same & ~(dx > 0)):
                k = int(np.flatnonzero(same & ~(dx > 0))[0])
                raise bad_argument("cont_x", f"cont_x[{k}:{k + 2}] = {cx[k:k + 2].tolist()} in cell {seg[k]}",
                                   "points must be strictly increasing within a cell", "sort and deduplicate them")
            scale = max(1.0, float(np.max(np.abs(cF))))
            if np.any(same & (dF < -1e-14 * scale)):
                k = int(np.flatnonzero(same & (dF < -1e-14 * scale))[0])
                raise bad_argument("cont_F", f"cont_F[{k}:{k + 2}] = {cF[k:k + 2].tolist()} in cell {seg[k]}",
                                   "a CDF must be non-decreasing (negative mass)", "pass cumulative masses")
            first = cF[cptr[:-1][clen > 0]]
            if np.any(np.abs(first) > tol):
                c = int(np.flatnonzero(clen > 0)[int(np.argmax(np.abs(first) > tol))])
                raise bad_argument("cont_F", f"G_0 = {cF[cptr[c]]!r} in cell {c}",
                                   "the continuous part's CDF starts at 0", "subtract the first value (or add an atom)")
        # canonical atom order: sorted by position within each cell
        if ax.size:
            order = np.lexsort((ax, _segment_ids(aptr)))
            ax, am = ax[order], am[order]
        atom_cum = _segmented_cumsum(am, aptr) if ax.size else am.copy()
        mass = np.zeros(n)
        has_a = np.diff(aptr) > 0
        mass[has_a] = atom_cum[aptr[1:][has_a] - 1]
        has_c = clen > 0
        mass[has_c] += cF[cptr[1:][has_c] - 1]
        bad = np.abs(mass - 1.0) > tol
        if np.any(bad):
            c = int(np.flatnonzero(bad)[0])
            raise bad_argument("slices", f"cell {c} of mass {mass[c]!r} ({int(bad.sum())} of {n} cells off)",
                               f"every slice is a probability measure: mass 1 within mass_tol = {tol:g}",
                               "normalise each slice (or raise mass_tol if the deviation is round-off)")
        for name, arr in (("edges", edges), ("atom_ptr", aptr), ("atom_x", ax), ("atom_m", am),
                          ("cont_ptr", cptr), ("cont_x", cx), ("cont_F", cF)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        atom_cum.setflags(write=False)
        object.__setattr__(self, "_atom_cum", atom_cum)
        object.__setattr__(self, "mass_tol", tol)

    # ------------------------------------------------------------------------------ properties
    @property
    def n_cells(self) -> int:
        """Number of ``xi`` cells."""
        return int(self.edges.size - 1)

    @property
    def widths(self) -> np.ndarray:
        """Cell widths ``edges[c+1] - edges[c]``, shape ``(n_cells,)``."""
        return np.diff(self.edges)

    @property
    def n_atoms(self) -> int:
        return int(self.atom_x.size)

    @property
    def n_points(self) -> int:
        """Number of continuous-part grid points (all cells)."""
        return int(self.cont_x.size)

    @property
    def support(self) -> tuple[float, float]:
        """Smallest interval holding every atom and every continuous-part point."""
        pts = np.concatenate([self.atom_x, self.cont_x])
        return float(pts.min()), float(pts.max())

    def breakpoints(self) -> np.ndarray:
        """Sorted distinct ``x`` of all atoms and continuous-part points: between two consecutive
        breakpoints every slice CDF is linear (constant when the slice is atomic)."""
        return np.unique(np.concatenate([self.atom_x, self.cont_x]))

    def slice_masses(self) -> np.ndarray:
        """Mass of each slice (1 within ``mass_tol``), shape ``(n_cells,)``."""
        return self.cdf_at(np.arange(self.n_cells), np.full(self.n_cells, np.inf))

    # ------------------------------------------------------------------------------ CDFs
    def cdf_at(self, cells: Any, x: Any, *, left: bool = False) -> np.ndarray:
        """Slice CDFs at pairs: ``F_{cells[q]}(x[q])`` (right-continuous), or the left limits
        ``F_{cells[q]}(x[q]-)`` with ``left=True``.  Vectorised, ``O((n_atoms + n_points + Q) log)``.

        Parameters
        ----------
        cells : array_like of int, shape (Q,)
        x : array_like, shape (Q,)
            Query points (``+-inf`` allowed).

        Returns
        -------
        ndarray, shape (Q,)
        """
        cells = np.asarray(cells, dtype=np.int64).ravel()
        x = np.asarray(x, dtype=float).ravel()
        if cells.shape != x.shape:
            raise bad_argument("x", f"array of shape {x.shape}", f"must match cells of shape {cells.shape}",
                               "pass one x per cell index")
        if cells.size and (cells.min() < 0 or cells.max() >= self.n_cells):
            raise bad_argument("cells", cells, f"cell indices must lie in [0, {self.n_cells})", "pass valid indices")
        out = np.zeros(x.size)
        if self.atom_x.size:
            cnt = _count_le(self.atom_ptr, self.atom_x, cells, x, strict=left)
            has = cnt > 0
            out[has] = self._atom_cum[self.atom_ptr[cells[has]] + cnt[has] - 1]
        if self.cont_x.size:
            cnt = _count_le(self.cont_ptr, self.cont_x, cells, x, strict=False)
            length = self.cont_ptr[cells + 1] - self.cont_ptr[cells]
            start = self.cont_ptr[cells]
            inside = (cnt > 0) & (cnt < length)
            right = (length > 0) & (cnt >= length)
            out[right] += self.cont_F[start[right] + length[right] - 1]
            j = start[inside] + cnt[inside] - 1
            xp0, xp1 = self.cont_x[j], self.cont_x[j + 1]
            fp0, fp1 = self.cont_F[j], self.cont_F[j + 1]
            xv = x[inside]
            slope = (fp1 - fp0) / (xp1 - xp0)  # np.interp's own formula (values agree to the last bit)
            val = np.where(xv == xp0, fp0, slope * (xv - xp0) + fp0)
            out[inside] += val
        return out

    def cdf(self, x: Any) -> np.ndarray:
        """Slice CDFs on a grid: ``F_c(x_k)``, shape ``(n_cells, len(x))`` (right-continuous)."""
        xv = np.atleast_1d(np.asarray(x, dtype=float))
        if xv.ndim != 1 or np.any(np.isnan(xv)):
            raise bad_argument("x", x, "must be a 1-D array without NaN", "pass e.g. np.linspace(-1, 3, 200)")
        cells = np.repeat(np.arange(self.n_cells), xv.size)
        return self.cdf_at(cells, np.tile(xv, self.n_cells)).reshape(self.n_cells, xv.size)

    # ------------------------------------------------------------------------------ transformations
    def _take_cells(self, parents: np.ndarray, edges: np.ndarray) -> ExtendedMeasure:
        aptr, aflat = _ragged_gather(self.atom_ptr, parents)
        cptr, cflat = _ragged_gather(self.cont_ptr, parents)
        return ExtendedMeasure(edges=edges, atom_ptr=aptr, atom_x=self.atom_x[aflat], atom_m=self.atom_m[aflat],
                               cont_ptr=cptr, cont_x=self.cont_x[cflat], cont_F=self.cont_F[cflat],
                               mass_tol=self.mass_tol)

    def relabel(self, perm: Any) -> ExtendedMeasure:
        """The measure relabelled by the permutation ``perm`` (SPEC section 2: ``X -> X[perm]``): new
        cell ``i`` carries the slice and the width of old cell ``perm[i]``.

        Parameters
        ----------
        perm : array_like of int, shape (n_cells,)
            A permutation of ``0..n_cells-1``.
        """
        p = np.asarray(perm)
        n = self.n_cells
        if p.shape != (n,) or not np.issubdtype(p.dtype, np.integer) or not np.array_equal(np.sort(p), np.arange(n)):
            raise bad_argument("perm", perm, f"must be a permutation of 0..{n - 1} (integer array of shape ({n},))",
                               "pass e.g. numpy.random.default_rng(0).permutation(n_cells)")
        p = p.astype(np.int64)
        w = self.widths[p]
        edges = np.concatenate([[0.0], np.cumsum(w)])
        if np.allclose(self.edges, np.arange(n + 1) / n, rtol=0.0, atol=EDGE_TOL):
            edges = np.arange(n + 1) / n  # uniform partitions stay exactly uniform
        edges[-1] = 1.0
        return self._take_cells(p, edges)

    def refine(self, edges: Any) -> ExtendedMeasure:
        """The same measure on a finer partition ``edges`` (which must contain every current edge, up
        to ``EDGE_TOL``): each new cell carries the slice of the old cell that contains it."""
        e = _check_edges("edges", edges)
        pos = np.searchsorted(e, self.edges)
        pos = np.clip(pos, 0, e.size - 1)
        lo = np.clip(pos - 1, 0, e.size - 1)
        near = np.minimum(np.abs(e[pos] - self.edges), np.abs(e[lo] - self.edges))
        if np.any(near > EDGE_TOL):
            k = int(np.argmax(near > EDGE_TOL))
            raise bad_argument("edges", f"partition without the edge {self.edges[k]!r} of this measure",
                               "a refinement must contain every edge of the partition it refines",
                               "use common_refinement(mu, nu), which takes the union of the edges")
        mids = 0.5 * (e[1:] + e[:-1])
        parents = np.clip(np.searchsorted(self.edges, mids) - 1, 0, self.n_cells - 1).astype(np.int64)
        return self._take_cells(parents, e)

    # ------------------------------------------------------------------------------ constructors
    @classmethod
    def from_network(cls, states: Any) -> ExtendedMeasure:
        """The extended empirical measure of a network state (SPEC section 2): ``N`` cells
        ``((i-1)/N, i/N]``, slice ``delta_{X_i}`` on cell ``i``.

        Parameters
        ----------
        states : array_like, shape (N,)
            Membrane potentials ``X_1..X_N`` (finite).
        """
        X = check_vector("states", states, what="membrane potentials")
        N = X.size
        if N == 0:
            raise bad_argument("states", states, "must hold at least one neuron", "pass the potentials X_1..X_N")
        ptr = np.arange(N + 1, dtype=np.int64)
        return cls(edges=np.arange(N + 1) / N, atom_ptr=ptr, atom_x=X, atom_m=np.ones(N),
                   cont_ptr=np.zeros(N + 1, dtype=np.int64), cont_x=np.zeros(0), cont_F=np.zeros(0))

    @classmethod
    def from_histogram(cls, x_edges: Any, masses: Any, *, xi_edges: Any = None,
                       mass_tol: float = 1e-9) -> ExtendedMeasure:
        """Piecewise-uniform slices: ``masses[c, k]`` is the mass of ``[x_edges[k], x_edges[k+1]]`` in
        cell ``c`` (uniform within the bin: piecewise-linear CDF on ``x_edges``).

        Parameters
        ----------
        x_edges : array_like, shape (B + 1,)
            Strictly increasing bin edges (the same for every cell).
        masses : array_like, shape (n_cells, B)
            Non-negative bin masses; each row sums to 1 (within ``mass_tol``).
        xi_edges : array_like, shape (n_cells + 1,), optional
            The ``xi`` partition (default uniform).
        """
        xe = check_vector("x_edges", x_edges, what="bin edges")
        if xe.size < 2 or not np.all(np.diff(xe) > 0):
            raise bad_argument("x_edges", x_edges, "must be strictly increasing with at least 2 edges",
                               "pass e.g. np.linspace(-1, 3, 101)")
        M = np.asarray(masses, dtype=float)
        if M.ndim != 2 or M.shape[1] != xe.size - 1 or M.shape[0] == 0:
            raise bad_argument("masses", f"array of shape {M.shape}", f"must have shape (n_cells, {xe.size - 1})",
                               "pass one row of bin masses per xi cell")
        if not np.all(np.isfinite(M)) or np.any(M < 0):
            raise bad_argument("masses", "array with negative or non-finite entries",
                               "bin masses must be finite and >= 0", "a slice is a probability measure")
        n, B = M.shape
        edges = np.arange(n + 1) / n if xi_edges is None else xi_edges
        F = np.concatenate([np.zeros((n, 1)), np.cumsum(M, axis=1)], axis=1)
        return cls(edges=edges, atom_ptr=np.zeros(n + 1, dtype=np.int64), atom_x=np.zeros(0), atom_m=np.zeros(0),
                   cont_ptr=np.arange(n + 1, dtype=np.int64) * (B + 1), cont_x=np.tile(xe, n), cont_F=F.ravel(),
                   mass_tol=mass_tol)

    @classmethod
    def from_density(cls, x_edges: Any, density: Any, *, xi_edges: Any = None,
                     mass_tol: float = 1e-9) -> ExtendedMeasure:
        """Piecewise-constant densities: ``density[c, k]`` (mass per unit length) on
        ``[x_edges[k], x_edges[k+1]]``; each row integrates to 1.  See :meth:`from_histogram`."""
        xe = check_vector("x_edges", x_edges, what="bin edges")
        d = np.asarray(density, dtype=float)
        if d.ndim != 2 or d.shape[1] != xe.size - 1:
            raise bad_argument("density", f"array of shape {d.shape}", f"must have shape (n_cells, {xe.size - 1})",
                               "pass one row of densities per xi cell")
        return cls.from_histogram(xe, d * np.diff(xe)[None, :], xi_edges=xi_edges, mass_tol=mass_tol)

    @classmethod
    def from_snapshot(cls, snapshot: Any, *, mass_tol: float = 1e-9) -> ExtendedMeasure:
        """The slice laws of a mean-field snapshot on its ``n_xi`` uniform cells (see the module
        docstring for the CDF convention; it is the snapshot's own).

        Parameters
        ----------
        snapshot : CohortSnapshot or GridSnapshot
            From :meth:`solvers.meanfield.MeanFieldSolution.snapshot`.
        """
        from solvers.meanfield.base import CohortKind, CohortSnapshot, GridSnapshot

        if isinstance(snapshot, GridSnapshot):
            cells = np.asarray(snapshot.cells, dtype=float)
            return cls.from_histogram(snapshot.edges, np.clip(cells, 0.0, None), mass_tol=mass_tol)
        if not isinstance(snapshot, CohortSnapshot):
            raise bad_argument("snapshot", snapshot, "must be a CohortSnapshot or a GridSnapshot",
                               "pass solution.snapshot(t) of a MeanFieldSolution")
        rows = snapshot.pos.shape[0]
        atoms_col = snapshot.kind_mask(CohortKind.ATOM)
        kinds = [snapshot.kind_mask(k) for k in (CohortKind.BORN, CohortKind.QUADRATURE)]
        a_x, a_m, a_len, c_x, c_F, c_len = [], [], [], [], [], []
        for k in range(rows):  # one pass per distinct xi node (n_xi at most), vectorised within
            px, pm = [snapshot.pos[k, atoms_col]], [snapshot.mass[k, atoms_col]]
            parts = []
            for cols in kinds:
                if not np.any(cols):
                    continue
                p, m = snapshot.pos[k, cols], snapshot.mass[k, cols]
                if p.size == 1:
                    px.append(p)
                    pm.append(m)
                    continue
                xa, ma, part = _spread(p, m)
                px.append(xa)
                pm.append(ma)
                if part is not None:
                    parts.append(part)
            xs, ms = np.concatenate(px), np.concatenate(pm)
            a_x.append(xs)
            a_m.append(ms)
            a_len.append(xs.size)
            if parts:
                y, G = parts[0] if len(parts) == 1 else _sum_piecewise_linear(parts)
                c_x.append(y)
                c_F.append(G)
                c_len.append(y.size)
            else:
                c_len.append(0)
        node_of = np.arange(rows) if snapshot.node_of is None else np.asarray(snapshot.node_of, dtype=np.int64)
        aptr = np.concatenate([[0], np.cumsum(a_len)]).astype(np.int64)
        cptr = np.concatenate([[0], np.cumsum(c_len)]).astype(np.int64)
        ax = np.concatenate(a_x) if a_x else np.zeros(0)
        am = np.concatenate(a_m) if a_m else np.zeros(0)
        cx = np.concatenate(c_x) if c_x else np.zeros(0)
        cF = np.concatenate(c_F) if c_F else np.zeros(0)
        base = cls(edges=np.arange(rows + 1) / rows, atom_ptr=aptr, atom_x=ax, atom_m=am, cont_ptr=cptr,
                   cont_x=cx, cont_F=cF, mass_tol=mass_tol) if snapshot.node_of is None else None
        if base is not None:
            return base
        n_xi = node_of.size
        ap2, af = _ragged_gather(aptr, node_of)
        cp2, cf = _ragged_gather(cptr, node_of)
        return cls(edges=np.arange(n_xi + 1) / n_xi, atom_ptr=ap2, atom_x=ax[af], atom_m=am[af], cont_ptr=cp2,
                   cont_x=cx[cf], cont_F=cF[cf], mass_tol=mass_tol)

    @classmethod
    def from_solution(cls, solution: Any, t: float, *, mass_tol: float = 1e-9) -> ExtendedMeasure:
        """:meth:`from_snapshot` of ``solution.snapshot(t)`` (``t`` one of its save times)."""
        from solvers.meanfield.base import MeanFieldSolution

        if not isinstance(solution, MeanFieldSolution):
            raise bad_argument("solution", solution, "must be a MeanFieldSolution", "pass the result of solve(...)")
        return cls.from_snapshot(solution.snapshot(t), mass_tol=mass_tol)

    def __repr__(self) -> str:
        return (f"ExtendedMeasure(n_cells={self.n_cells}, n_atoms={self.n_atoms}, n_points={self.n_points}, "
                f"support={self.support})")


# ------------------------------------------------------------------------------------ snapshot helpers
def _spread(p: np.ndarray, m: np.ndarray):
    """The continuous law of columns ``p`` (column order) with masses ``m``, as in
    ``CohortSnapshot``: returns (atoms x, atoms m, (y, G) or None)."""
    mid = 0.5 * (p[1:] + p[:-1])
    e = np.concatenate(([2 * p[0] - mid[0]], mid, [2 * p[-1] - mid[-1]]))
    d = np.diff(e)
    empty = np.zeros(0)
    if np.all(d > 0) or np.all(d < 0):
        if d[0] < 0:
            e, m = e[::-1], m[::-1]
        return empty, empty, (e, np.concatenate(([0.0], np.cumsum(m))))
    lo = np.minimum(e[:-1], e[1:])
    hi = np.maximum(e[:-1], e[1:])
    width = hi - lo
    flat = width > 0
    atom_x, atom_m = lo[~flat], m[~flat]
    if not np.any(flat):
        return atom_x, atom_m, None
    lo, hi, mm, width = lo[flat], hi[flat], m[flat], width[flat]
    y = np.unique(np.concatenate([lo, hi]))
    G = np.zeros(y.size)
    for a in range(0, lo.size, 512):  # the snapshot's own formula, chunked: (512, len(y)) at a time
        sl = slice(a, a + 512)
        G += mm[sl] @ np.clip((y[None, :] - lo[sl, None]) / width[sl, None], 0, 1)
    return atom_x, atom_m, (y, G)


def _sum_piecewise_linear(parts):
    """Sum of piecewise-linear CDFs ``(y, G)`` (0 left of ``y_0``, ``G_K`` right of ``y_K``) on the
    union of their points."""
    y = np.unique(np.concatenate([p[0] for p in parts]))
    G = np.zeros(y.size)
    for py, pG in parts:
        G += np.interp(y, py, pG, left=0.0, right=pG[-1])
    return y, G


# ------------------------------------------------------------------------------------ partitions
def _check_edges(name: str, edges: Any) -> np.ndarray:
    e = check_vector(name, edges, what="cell edges")
    fix = "pass edges of a partition of [0, 1], e.g. np.linspace(0, 1, n + 1)"
    if e.size < 2:
        raise bad_argument(name, edges, "a partition needs at least 2 edges", fix)
    if abs(e[0]) > EDGE_TOL or abs(e[-1] - 1.0) > EDGE_TOL:
        raise bad_argument(name, f"partition of [{e[0]!r}, {e[-1]!r}]",
                           "must be a partition of [0, 1] (first edge 0, last edge 1)", fix)
    if not np.all(np.diff(e) > 0):
        k = int(np.flatnonzero(~(np.diff(e) > 0))[0])
        raise bad_argument(name, f"{name}[{k}:{k + 2}] = {e[k:k + 2].tolist()}", "must be strictly increasing", fix)
    e = e.copy()
    e[0], e[-1] = 0.0, 1.0
    return e


def _check_ptr(name: str, ptr: Any, n: int) -> np.ndarray:
    p = np.asarray(ptr)
    if p.shape != (n + 1,) or not np.issubdtype(p.dtype, np.integer) or p[0] != 0 or np.any(np.diff(p) < 0):
        raise bad_argument(name, ptr, f"must be a non-decreasing integer array of shape ({n + 1},) starting at 0",
                           "pass CSR pointers: entries of cell c are [ptr[c], ptr[c+1])")
    return p.astype(np.int64)


def common_refinement(mu: ExtendedMeasure, nu: ExtendedMeasure, *,
                      max_cells: int = MAX_CELLS) -> tuple[ExtendedMeasure, ExtendedMeasure]:
    """Both measures on the union of their ``xi`` partitions (edges closer than ``EDGE_TOL``
    identified).

    Raises
    ------
    InvalidArgumentError
        A measure that is not an :class:`ExtendedMeasure`, or a common refinement with more than
        ``max_cells`` cells (e.g. two fine partitions with unrelated edges).
    """
    for name, m in (("mu", mu), ("nu", nu)):
        if not isinstance(m, ExtendedMeasure):
            raise bad_argument(name, m, "must be an ExtendedMeasure", "build it with ExtendedMeasure.from_network, "
                               "from_snapshot or from_histogram")
    max_cells = check_int("max_cells", max_cells, 1)
    if mu.n_cells == nu.n_cells and np.array_equal(mu.edges, nu.edges):
        return mu, nu
    e = np.unique(np.concatenate([mu.edges, nu.edges]))
    keep = np.concatenate([[True], np.diff(e) > EDGE_TOL])
    e = e[keep]
    e[-1] = 1.0
    if e.size > 1 and e[-2] >= 1.0 - EDGE_TOL:
        e = np.delete(e, -2)
    if e.size - 1 > max_cells:
        raise bad_argument("mu, nu", f"partitions of {mu.n_cells} and {nu.n_cells} cells",
                           f"their common refinement has {e.size - 1} > max_cells = {max_cells} cells",
                           "coarsen one of the measures or raise max_cells")
    return _snap_refine(mu, e), _snap_refine(nu, e)


def _snap_refine(m: ExtendedMeasure, e: np.ndarray) -> ExtendedMeasure:
    if m.n_cells == e.size - 1 and np.allclose(m.edges, e, rtol=0, atol=EDGE_TOL):
        return m._take_cells(np.arange(m.n_cells, dtype=np.int64), e)
    return m.refine(e)
