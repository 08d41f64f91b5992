r"""Low-rank weights ``W = U diag(s) V^T / N`` and their exact event loop (leaky drift).

Operator
    :class:`LowRankOperator` holds the factors (a :class:`~solvers.graphons.LowRankFactors`), built
    from a kernel's exact expansion (:meth:`LowRankOperator.from_kernel`, ``kernel.low_rank(N)``: ring
    rank 3, two-block 2, constant 1, skew 5, product 1, a step kernel on n cells n; from the kernel's
    separable form, :meth:`solvers.graphons.Kernel.separable_terms`) or from a matrix by
    truncated SVD (:meth:`LowRankOperator.from_matrix`; its truncation error as a certified bracket:
    :func:`verification.graphs.low_rank_approximation`).  Memory ``O(N R)``, never ``N^2``.  It is
    accepted by :func:`solvers.particles.simulate` wherever a matrix is (exact and clock methods,
    compiled and Python paths, saved states).  The diagonal ``sum_r U_ir s_r V_ir / N`` is ignored
    as SPEC section 1 says (the reset wins: a neuron's own spike never kicks it).

State (leaky drift ``b(x) = I0 - x``)
    Every kick decays with the flow, so for neuron ``i`` last reset at ``tau_i`` (or ``tau_i = 0``
    with ``X_i(0) = x0_i``)

        X_i(t) = I0 + (X_i(tau_i) - I0) e^{-(t - tau_i)} + sum_{tau_i < t_k <= t} W_{i j_k} e^{-(t - t_k)}

    over the spikes ``(t_k, j_k)``.  With ``W_ij = sum_r Us_ir V_jr`` (``Us = U diag(s) / N``) and
    the ``R`` accumulators ``A_r(t) = sum_{t_k <= t} e^{t_k - t_ref} V_{j_k r}`` (constant between
    spikes; ``O(R)`` per spike), the kick sum is ``e^{-(t - t_ref)} sum_r Us_ir (A_r(t) - A_r(tau_i))``,
    hence

        X_i(t) = I0 + e^{-(t - t_ref)} (Z_i + sum_r Us_ir A_r(t)),
        Z_i    = (X_i(tau_i) - I0) e^{tau_i - t_ref} - sum_r Us_ir A_r(tau_i),

    one number per neuron, set at its reset.  ``A_r(tau_i)`` contains ``i``'s own spike at ``tau_i``,
    which is therefore cancelled: the reset wins exactly, not up to a diagonal term.  Reading a
    potential costs ``O(R)``, a spike ``O(R)``; nothing is ``O(N)`` per event.  The reference time
    ``t_ref`` moves to the current spike when ``t - t_ref > 32`` (``Z`` and ``A`` rescaled, ``O(N)``, at
    most once per 32 time units), as in the dense loop, so nothing overflows.  Potentials are exact up
    to rounding (the same integrating factor as the dense path; the sums of ``A`` are not compensated,
    like the dense path's per-neuron sums).

Candidates (``streams`` of the operator)
    * ``"global"`` (default; bounded intensity, ``L = sup f``): one candidate stream of rate ``N L``
      for the whole network, the neuron of each candidate drawn uniformly, accepted with probability
      ``f(X_j(t-)) / L``.  By superposition and thinning of Poisson processes every neuron then has
      candidates of rate ``L``, independent of the others: the same law as the dense path, ``O(R)``
      per candidate, no heap.  Spikes are equal in law to the dense path's, not identical (different
      random numbers).  ``stream_ids`` keep the relabelling equivariance exact: the candidate draws a
      uniform *rank* among the sorted stream ids and fires the neuron holding that id (one more
      random read per candidate).  Its random numbers: one SplitMix64 stream (Steele, Lea and Flood
      2014) keyed by the seed, three 64-bit words per candidate (the exponential gap by the
      256-layer ziggurat of Marsaglia and Tsang 2000, exact, a logarithm in about 1.1% of the draws
      only; the neuron; the acceptance uniform), each a function of the candidate number only.
      What makes it fast (``benchmarks/particles.py`` compares it with the memory-latency floor):
      the next 16 candidates are drawn ahead and their records prefetched, hiding the latency of
      the random reads; the acceptance is decided against a monotone table of ``f`` (4096 cells)
      and ``f`` evaluated only when ``U L`` falls within a cell's range (about 0.2% of the
      candidates for the standard neuron), with the same decision as the exact comparison; the
      decay factor is one ``exp`` per ``2^-10`` time units times a Taylor polynomial (below
      rounding).
    * ``"per-neuron"``: the dense path's per-neuron streams and ``(time, stream_id)`` heap, so the
      same candidates, uniforms and decisions as the dense loop; the spikes are identical to the
      dense path's (decisions can only differ when a uniform falls within rounding of the acceptance
      threshold: the potentials are computed by other sums).  Costs ``O(log N + R)`` per candidate,
      with ``log2 N`` heap levels of random memory traffic at large ``N`` (several times the global
      stream's cost at ``N = 10^6``), and ``3 N`` more words of memory.  Also the only choice for an
      unbounded non-decreasing intensity (local bounds): that mode *is* the dense path's loop
      (:func:`solvers.particles.exact.run_exact_leaky`: tangent bounds with a kick allowance, renewed
      when a kick uses up a neuron's headroom) with the low-rank column pass of
      :meth:`LowRankOperator.kernel_args` (``state += (U s / N) V[j]``, ``O(N R)`` per spike, fused with
      the check of the bounds as for dense weights); so the spikes are again the dense path's (up to
      decisions within rounding), at ``O(N R)`` per spike and ``N (2 R + 6)`` words of memory.

Clock method: the kicks of the neurons that fired in a step are summed in ``R`` numbers, then added
to every neuron, ``O(N R)`` per step (dense: ``O(N)`` per spike).

The compiled loops are in :mod:`solvers.particles._lowrank`.  They run in chunks, like the dense
path's (:mod:`solvers.particles._chunks`): a chunk returns after about ``CHUNK_WORK`` work units
(GLOBAL_CANDIDATE_WORK = 32 per candidate of the global stream, 64 per candidate of the per-neuron
streams, ``N (R + 1)`` per clock step), or when the spike buffers are full (they are grown in place,
``ndarray.resize``: no copy of the spikes kept), and the driver calls it again; between chunks the
wall-clock budget (``max_wall_time``), the progress bar and Ctrl-C are handled.  A chunked run is
identical to a run in one chunk (the random numbers are counter-based; tested).  Peak memory for
``N = 10^6``, ``R = 3``: the factors (48 MB), the packed records (64 MB) and the spikes (16 bytes each).
"""
from __future__ import annotations

import functools
import logging
import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from solvers._compiled import intensity_values
from solvers.errors import bad_argument
from solvers.graphons import Kernel, LowRankFactors, validate_weights
from solvers.particles import _chunks
from solvers.particles import _lowrank as _lr
from solvers.particles._chunks import RunMonitor
from solvers.particles._kernels import CANDIDATE_WORK, OP_LOWRANK
from solvers.particles.exact import LoopOutput, run_exact_leaky
from solvers.particles.operators import EMPTY_KERNEL_SLOTS, SynapticOperator
from solvers.validation import check_bool, check_choice, check_instance, check_int

__all__ = ["LowRankOperator", "STREAMS", "truncated_svd", "run_exact", "run_clock"]

log = logging.getLogger(__name__)

#: candidate streams of the exact low-rank loop (module docstring)
STREAMS = ("global", "per-neuron")
#: candidates drawn ahead of the one processed (ring buffer; a power of two)
PREFETCH_DISTANCE = 16
#: chunk work units per candidate of the global stream (a random record read and a few multiply-adds,
#: 10-60 ns from small to large N: half a per-neuron candidate's heap update, CANDIDATE_WORK = 64)
GLOBAL_CANDIDATE_WORK = 32
_ALIGN = 64
#: cells of the intensity table that decides most acceptances without evaluating f
INTENSITY_CELLS = 4096
#: the ziggurat's r (Marsaglia and Tsang's 7.69711747013104972, solved again to 30 digits so that the
#: top layer closes: v = (r + 1) e^{-r} and X_1 (1 - e^{-X_1}) = v to 1e-49, see ziggurat_tables)
ZIGGURAT_R = "7.69711747013104971404462804802"


class LowRankOperator(SynapticOperator):
    """Weights ``W = U diag(s) V^T / N`` of rank ``R`` (see the module docstring).

    Parameters
    ----------
    U : array_like, shape (N, R)
        Postsynaptic factors.
    s : array_like, shape (R,)
        Coefficients.
    V : array_like, shape (N, R)
        Presynaptic factors (``W_ij = sum_r U_ir s_r V_jr / N``).
    streams : {"global", "per-neuron"}, keyword
        Candidate streams of the exact compiled loop (module docstring): ``"global"`` (``O(R)`` per
        candidate, equal in law to the dense path; bounded intensities) or ``"per-neuron"`` (the
        dense path's streams: identical spikes, ``O(log N + R)`` per candidate; also unbounded
        intensities).

    Attributes
    ----------
    factors : LowRankFactors
    N, rank : int
    streams : str
    singular_values : ndarray or None
        For :meth:`from_matrix`: the leading singular values of ``N W`` that were computed (at least
        ``rank + 1`` when ``rank < N``), for information; the certified error is
        :func:`verification.graphs.low_rank_error`.
    """

    tag = OP_LOWRANK

    def __init__(self, U: Any, s: Any, V: Any, *, streams: str = "global"):
        self.factors = LowRankFactors(U=U, s=s, V=V)
        self.streams = check_choice("streams", streams, STREAMS,
                                    "use 'global' (fast, equal in law) or 'per-neuron' (the dense path's spikes)")
        self.N = self.factors.N
        self.rank = self.factors.rank
        self.dtype = np.dtype(np.float64)
        self.singular_values: np.ndarray | None = None
        self._columns: np.ndarray | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_factors(cls, factors: LowRankFactors, *, streams: str = "global") -> LowRankOperator:
        """Wrap :class:`~solvers.graphons.LowRankFactors`."""
        check_instance("factors", factors, LowRankFactors, "pass kernel.low_rank(N) or LowRankFactors(U=, s=, V=)")
        return cls(factors.U, factors.s, factors.V, streams=streams)

    @classmethod
    def from_kernel(cls, kernel: Kernel, N: int, *, streams: str = "global") -> LowRankOperator:
        """The exact expansion ``kernel.low_rank(N)`` (raises, naming the alternatives, for a kernel
        without one)."""
        check_instance("kernel", kernel, Kernel, "pass e.g. solvers.graphons.ring()")
        return cls.from_factors(kernel.low_rank(N), streams=streams)

    @classmethod
    def from_matrix(cls, W: Any, rank: int, *, impute_diagonal: bool = True, streams: str = "global",
                    max_iterations: int = 50) -> LowRankOperator:
        """Truncated SVD of ``N W`` (see :func:`truncated_svd`); the error of the truncation as a
        certified bracket: :func:`verification.graphs.low_rank_error` (or build both at once with
        :func:`verification.graphs.low_rank_approximation`)."""
        factors, sing = truncated_svd(W, rank, impute_diagonal=impute_diagonal, max_iterations=max_iterations)
        op = cls.from_factors(factors, streams=streams)
        op.singular_values = sing
        return op

    def with_streams(self, streams: str) -> LowRankOperator:
        """The same weights with other candidate streams (the factors are shared, not copied)."""
        op = LowRankOperator.__new__(LowRankOperator)
        op.__dict__.update(self.__dict__)
        op.streams = check_choice("streams", streams, STREAMS,
                                  "use 'global' (fast, equal in law) or 'per-neuron' (the dense path's spikes)")
        return op

    # ------------------------------------------------------------------ SynapticOperator
    @property
    def U(self) -> np.ndarray:
        return self.factors.U

    @property
    def s(self) -> np.ndarray:
        return self.factors.s

    @property
    def V(self) -> np.ndarray:
        return self.factors.V

    def kernel_args(self):
        """The column interface of :mod:`solvers.particles.operators` (``OP_LOWRANK``: the ``dense`` slot
        holds ``[U s / N | V]``, ``N x 2R``, built at the first call): ``O(N R)`` per spike.  Used by
        the dense path's loop for unbounded intensities; bounded ones run the ``O(R)`` loops of this
        module."""
        if self._columns is None:
            F = np.empty((self.N, 2 * self.rank), order="F")
            F[:, :self.rank] = self.U * (self.s / self.N)
            F[:, self.rank:] = self.V
            self._columns = F
        empty = np.empty(0)
        idx = np.empty(0, dtype=np.int32)
        return (self.tag, self._columns, empty, idx, idx, *EMPTY_KERNEL_SLOTS)

    def column(self, j: int) -> np.ndarray:
        """``W[:, j] = U (s * V[j]) / N`` (``O(N R)``; the diagonal entry included)."""
        return self.U @ (self.s * self.V[j]) / self.N

    def tiny(self) -> LowRankOperator:
        # at least 2 rows: numba types a 1-row array as C-contiguous (both flags set), another signature
        # than the F-ordered columns of kernel_args
        n, r = max(self.rank, 2), self.rank
        return LowRankOperator(np.zeros((n, r)), np.zeros(r), np.zeros((n, r)), streams=self.streams)

    @property
    def nbytes(self) -> int:
        f = self.factors
        return int(f.U.nbytes + f.V.nbytes + f.s.nbytes)

    def diagonal(self) -> np.ndarray:
        """``W_ii`` (unused by the dynamics), shape ``(N,)``."""
        return np.einsum("ir,r,ir->i", self.U, self.s, self.V) / self.N

    def row_sums(self) -> np.ndarray:
        return self.U @ (self.s * self.V.sum(axis=0)) / self.N - self.diagonal()

    def to_dense(self) -> np.ndarray:
        """The dense ``N x N`` weights, zero diagonal (``N^2`` memory)."""
        return self.factors.weights()

    def __repr__(self) -> str:
        return f"<LowRankOperator N={self.N} rank={self.rank} streams={self.streams!r}>"


# ------------------------------------------------------------------------------ truncated SVD
def _top_svd(A, rank: int, d: np.ndarray | None):
    """Leading ``rank`` (and, when available, ``rank + 1``) singular triplets of ``A + diag(d)``."""
    N = A.shape[0]
    k = min(rank + 1, N)
    if N <= 600 or 3 * k >= N:
        M = A.toarray() if sp.issparse(A) else np.array(A, dtype=np.float64)
        if d is not None:
            M[np.diag_indices(N)] = d
        P, sig, Qt = np.linalg.svd(M)
        return P[:, :rank], sig[:k], Qt[:rank].T
    from scipy.sparse.linalg import LinearOperator, svds

    def mv(x):
        x = np.asarray(x).reshape(N, -1)
        y = A @ x
        return y + d[:, None] * x if d is not None else y

    def rmv(x):
        x = np.asarray(x).reshape(N, -1)
        y = A.T @ x
        return y + d[:, None] * x if d is not None else y

    op = LinearOperator((N, N), matvec=mv, rmatvec=rmv, matmat=mv, rmatmat=rmv, dtype=np.float64)
    v0 = np.ones(N) / math.sqrt(N)  # deterministic start (svds' default is random)
    P, sig, Qt = svds(op, k=k, tol=0, v0=v0)
    order = np.argsort(sig)[::-1]
    P, sig, Qt = P[:, order], sig[order], Qt[order]
    return P[:, :rank], sig, Qt[:rank].T


def truncated_svd(W: Any, rank: int, *, impute_diagonal: bool = True,
                  max_iterations: int = 50) -> tuple[LowRankFactors, np.ndarray]:
    """Rank-``rank`` factors of ``W`` by truncated SVD of the step-kernel values ``N W``.

    Parameters
    ----------
    W : ndarray (N, N) or scipy sparse matrix
        Weights (checked by :func:`solvers.graphons.validate_weights`).
    rank : int
        ``1 <= rank <= N``.
    impute_diagonal : bool, keyword
        The network never uses ``W_ii`` (the reset wins), so the diagonal is a free parameter: when
        True it is imputed to minimise the off-diagonal remainder (alternating projections: set the
        diagonal of ``N W`` to that of its current rank-``R`` approximation, repeat; the off-diagonal
        Frobenius residual never increases), up to ``max_iterations`` SVDs, stopping when the residual
        decreases by less than ``1e-12`` relative.  A matrix that is of rank ``R`` off its (zeroed)
        diagonal, e.g. ``ring().weights(N)``, is then reproduced to rounding instead of to ``O(1/N)``.
        When False the SVD of ``N W`` as given.
    max_iterations : int, keyword

    Returns
    -------
    factors : LowRankFactors
        ``U = P_R``, ``s = sigma_1..sigma_R``, ``V = Q_R`` (so ``W_R = U diag(s) V^T / N``).
    singular_values : ndarray
        The leading computed singular values of (the imputed) ``N W`` (``rank + 1`` of them when
        ``rank < N``): information only; the certified bracket of the remainder is
        :func:`verification.graphs.low_rank_error`.

    Costs: a dense SVD (``O(N^3)``) for ``N <= 600`` or ``rank >= N/3``, otherwise ARPACK (``svds``,
    ``O(N^2 R)`` per iteration for a dense matrix).
    """
    Wv = validate_weights(W, "W")
    N = Wv.shape[0]
    rank = check_int("rank", rank, 1, "pass a positive rank, e.g. rank=3")
    if rank > N:
        raise bad_argument("rank", rank, f"exceeds N = {N}",
                           "pass 1 <= rank <= N (rank N keeps the whole matrix: pass the matrix itself to simulate)")
    impute_diagonal = check_bool("impute_diagonal", impute_diagonal)
    max_iterations = check_int("max_iterations", max_iterations, 1, "pass e.g. max_iterations=50")
    if sp.issparse(Wv):
        A = (Wv * float(N)).tocsr().astype(np.float64)
        diag0 = A.diagonal().copy()
        A = A - sp.diags(diag0)
    else:
        A = np.array(Wv, dtype=np.float64) * N
        diag0 = np.diag(A).copy()
        A[np.diag_indices(N)] = 0.0
    d = diag0
    P, sig, Q = _top_svd(A, rank, d)
    if impute_diagonal:
        scale = math.sqrt(_frobenius2(A)) or 1.0
        prev = _offdiag_residual(A, P, sig[:rank], Q)
        for it in range(max_iterations - 1):
            if prev <= 1e-14 * scale:
                break
            d = np.einsum("ir,r,ir->i", P, sig[:rank], Q)
            P2, sig2, Q2 = _top_svd(A, rank, d)
            res = _offdiag_residual(A, P2, sig2[:rank], Q2)
            log.debug("truncated_svd: imputation %d, off-diagonal residual %.3e", it + 1, res)
            if not res <= prev:  # rounding at convergence: keep the previous factors
                break
            P, sig, Q = P2, sig2, Q2
            if prev - res <= 1e-12 * prev:
                break
            prev = res
    factors = LowRankFactors(U=P, s=sig[:rank], V=Q)
    return factors, np.asarray(sig, dtype=np.float64)


def _frobenius2(A) -> float:
    return float(A.multiply(A).sum()) if sp.issparse(A) else float(np.sum(A * A))


def _offdiag_residual(A, P, s, Q) -> float:
    """``||A_off - (P diag(s) Q^T)_off||_F`` (``A`` has a zero diagonal), in column blocks."""
    N = P.shape[0]
    total = 0.0
    block = max(1, (1 << 22) // N)
    for j0 in range(0, N, block):
        j1 = min(N, j0 + block)
        Aj = A[:, j0:j1].toarray() if sp.issparse(A) else A[:, j0:j1]
        E = Aj - (P * s) @ Q[j0:j1].T
        idx = np.arange(j0, j1)
        E[idx, idx - j0] = 0.0
        total += float(np.sum(E * E))
    return math.sqrt(total)


# ------------------------------------------------------------------------------ tables
@functools.lru_cache(maxsize=1)
def ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables of the 256-layer exponential ziggurat (Marsaglia and Tsang, J. Stat. Softw. 5(8), 2000).

    With ``f(x) = e^{-x}``, ``r = ZIGGURAT_R`` and ``v = (r + 1) e^{-r}`` (the area of the base strip
    ``[0, v / f(r)] x [0, f(r)]`` plus the tail, so the base closes exactly), the widths are
    ``X_255 = r`` and ``X_{i-1} = -log(v / X_i + f(X_i))`` (so ``X_i (f(X_{i-1}) - f(X_i)) = v``: every
    layer has area ``v``), ``X_1`` the top layer (``X_1 (1 - f(X_1)) = v``: ``r`` is the root of that
    equation), ``X_0 = v / f(r)`` the base.  Computed with mpmath at 30 digits, rounded once.

    Returns
    -------
    ZX : ndarray (257,)
        ``X_0 .. X_255`` and ``ZX[256] = r``.
    ZK : ndarray (256,)
        ``X_{i-1} / X_i`` (the part of layer ``i`` under the density), ``ZK[0] = r / X_0``, ``ZK[1] = 0``.
    ZF : ndarray (256,)
        ``f(X_i)``, ``ZF[0] = 1 = f(0)`` (the top of layer 1).
    """
    import mpmath

    with mpmath.workdps(30):
        r = mpmath.mpf(ZIGGURAT_R)
        v = (r + 1) * mpmath.exp(-r)
        X = [mpmath.mpf(0)] * 256
        X[255] = r
        for i in range(255, 1, -1):
            X[i - 1] = -mpmath.log(v / X[i] + mpmath.exp(-X[i]))
        X[0] = v / mpmath.exp(-r)
        ZX = np.array([float(x) for x in X] + [float(r)])
        ZK = np.array([float(r / X[0]), 0.0] + [float(X[i - 1] / X[i]) for i in range(2, 256)])
        ZF = np.array([1.0] + [float(mpmath.exp(-X[i])) for i in range(1, 256)])
    for a in (ZX, ZK, ZF):
        a.setflags(write=False)
    return ZX, ZK, ZF


def intensity_table(fam_args, L: float, lo: float, hi: float, cells: int = INTENSITY_CELLS
                    ) -> tuple[np.ndarray, float, float]:
    """``(ftab, f_lo, f_inv_h)``: ``f`` at ``cells + 1`` equispaced points of ``[lo, hi]`` for the
    acceptance squeeze of :func:`solvers.particles._lowrank.global_loop` (valid because the named families
    are monotone in ``x``).  Disabled (every decision evaluates ``f``) when a value is not in
    ``[0, L]``: the compiled checks then report the intensity at the candidate that meets it."""
    fam, p0, p1, p2 = fam_args
    grid = lo + (hi - lo) * np.arange(cells + 1) / cells
    ftab = intensity_values(fam, p0, p1, p2, grid)
    if not (np.all(np.isfinite(ftab)) and ftab.min() >= 0.0 and ftab.max() <= L):
        return np.zeros(2), math.inf, 0.0
    return ftab, float(lo), float(cells / (hi - lo))


# ------------------------------------------------------------------------------ drivers
def _packed(op: LowRankOperator, col0: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The per-neuron records ``(col0, U s / N, V, 0...)`` with the rank padded to at least 3 by zero
    columns (the global loop keeps three accumulators in registers; a zero column adds exactly 0),
    rows of a multiple of 8 doubles (one 64-byte line for ``R <= 3``), aligned to 64 bytes.
    Returns ``(rec, buffer, nrank)`` (keep the buffer alive with ``rec``)."""
    N, R = op.N, op.rank
    nr = max(R, 3)
    P = 8 * math.ceil((1 + 2 * nr) / 8)
    buf = np.empty(N * P + _ALIGN // 8)
    off = (-buf.ctypes.data % _ALIGN) // 8
    rec = buf[off:off + N * P].reshape(N, P)
    rec[:, 0] = col0
    rec[:, 1:1 + R] = op.U * (op.s / N)
    rec[:, 1 + R:1 + nr] = 0.0
    rec[:, 1 + nr:1 + nr + R] = op.V
    rec[:, 1 + nr + R:] = 0.0
    return rec, buf, nr


def _capacity(N: int, fsup: float, t_end: float, max_spikes: int) -> int:
    est = N * (fsup if math.isfinite(fsup) else 1.0) * t_end * 0.5 + 1024
    return int(min(max(est, 1024), 1 << 22, max_spikes + 1))


def _grow(st: np.ndarray, sn: np.ndarray, need: int) -> None:
    """Grow both spike buffers in place (``ndarray.resize``: realloc, the kept spikes are not
    duplicated in memory) to at least ``need`` entries and at least 1.5 times their size."""
    new = max(need, int(st.shape[0] * 1.5) + 1024)
    st.resize(new, refcheck=False)
    sn.resize(new, refcheck=False)


def _output(status: int, fs: np.ndarray, ist: np.ndarray, st: np.ndarray, sn: np.ndarray, states: np.ndarray,
            N: int, n_chunks: int) -> LoopOutput:
    n_sp = int(ist[_lr.I_NSP])
    st.resize(n_sp, refcheck=False)
    sn.resize(n_sp, refcheck=False)
    if status != _lr.OK:
        return LoopOutput(status, float(fs[_lr.F_ERRT]), int(ist[_lr.I_ERRJ]), float(fs[_lr.F_ERRV]),
                          float(fs[_lr.F_ERRB]), np.empty(0), np.empty(0, np.int64), int(ist[_lr.I_NC]),
                          np.empty((0, N)), int(ist[_lr.I_NREB]), 0, n_chunks)
    return LoopOutput(status, math.nan, -1, math.nan, math.nan, st, sn, int(ist[_lr.I_NC]), states,
                      int(ist[_lr.I_NREB]), 0, n_chunks)


def _loop_state() -> tuple[np.ndarray, np.ndarray]:
    fs = np.zeros(_lr.N_FS)
    fs[[_lr.F_ERRT, _lr.F_ERRV, _lr.F_ERRB]] = math.nan
    fs[_lr.F_TANC] = -math.inf
    ist = np.zeros(_lr.N_IST, dtype=np.int64)
    ist[_lr.I_ERRJ] = -1
    return fs, ist


def _budget(chunk_work: int | None, per_unit: int) -> int:
    """Candidates (or work units with ``per_unit = 1``) per compiled call: the chunk budget of
    :mod:`solvers.particles._chunks` (read at each run) over the work of one unit."""
    work = _chunks.CHUNK_WORK if chunk_work is None else chunk_work
    return max(1, int(work) // per_unit)


def _drive(step, fs: np.ndarray, ist: np.ndarray, st: np.ndarray, sn: np.ndarray, monitor: RunMonitor,
           reserve: int) -> tuple[int, int]:
    """Call the chunk ``step()`` until the run is over: grow the spike buffers when full (``reserve``:
    free slots a chunk needs), update ``monitor`` between chunks (budget, progress bar; Ctrl-C
    propagates there).  Returns ``(status, chunks)``."""
    n_chunks = 0
    while True:
        status = step()
        n_chunks += 1
        if status == _lr.BUFFER_FULL:
            _grow(st, sn, int(ist[_lr.I_NSP]) + reserve)
        elif status != _lr.CHUNK_DONE:
            break
        monitor.update(fs[_lr.F_TNOW], ist[_lr.I_NSP], ist[_lr.I_NC])
    monitor.update(fs[_lr.F_TNOW], ist[_lr.I_NSP], ist[_lr.I_NC], final=True)
    return status, n_chunks


def run_exact(op: LowRankOperator, fam_args, *, local: bool, fsup: float, I0: float, xr: float, x0: np.ndarray,
              keys: np.ndarray, sids: np.ndarray, root1, t_end: float, record_times: np.ndarray,
              max_spikes: int, root0, monitor: RunMonitor | None = None, chunk_work: int | None = None,
              capacity: int | None = None, intensity_cells: int | None = INTENSITY_CELLS) -> LoopOutput:
    """Exact loop for a :class:`LowRankOperator`, the leaky drift and a named intensity family (the
    arguments of :func:`solvers.particles.exact.run_exact_leaky`, plus the root key's first word
    ``root0`` for the global stream), run in chunks of about ``chunk_work`` work units (default
    :data:`solvers.particles._chunks.CHUNK_WORK`; GLOBAL_CANDIDATE_WORK per candidate of the global
    stream, ``CANDIDATE_WORK`` per candidate of the per-neuron streams) with ``monitor`` called
    between chunks.  ``chunk_work`` and ``capacity`` (initial spike buffers) only change how often
    the loop returns to Python, never the result; ``intensity_cells=None`` disables the acceptance
    table (every candidate evaluates ``f``: the same decisions, for the tests).

    An unbounded intensity (``local=True``, per-neuron streams only) runs the dense path's loop
    with the low-rank column pass (:func:`solvers.particles.exact.run_exact_leaky`)."""
    fam, p0, p1, p2 = fam_args
    N = op.N
    monitor = monitor if monitor is not None else RunMonitor(method="exact", N=N, t_end=t_end, progress=False)
    if local:
        if op.streams == "global":
            raise bad_argument("weights", op, "the global candidate stream needs a bounded intensity (finite sup f)",
                               "use weights.with_streams('per-neuron') (the dense path's local bounds, O(N R) per "
                               "spike), a bounded intensity, or method='clock'")
        return run_exact_leaky(op, fam_args, local=True, fsup=fsup, I0=I0, xr=xr, x0=x0, keys=keys, sids=sids,
                               root1=root1, t_end=t_end, record_times=record_times, max_spikes=max_spikes,
                               monitor=monitor, chunk_work=chunk_work)
    rec, _buf, nr = _packed(op, np.asarray(x0, dtype=np.float64) - I0)
    A = np.zeros(nr)
    fs, ist = _loop_state()
    cap = capacity if capacity is not None else _capacity(N, fsup, t_end, max_spikes)
    st = np.empty(cap)
    sn = np.empty(cap, dtype=np.int64)
    states = np.empty((record_times.shape[0], N))
    rec_t = np.ascontiguousarray(record_times, dtype=np.float64)
    if op.streams == "global":
        budget = _budget(chunk_work, GLOBAL_CANDIDATE_WORK)
        key = np.uint64(_lr.global_key(np.uint64(root0), np.uint64(root1)))  # numba returns a Python int
        use_order = not np.array_equal(sids, np.arange(N, dtype=sids.dtype))
        order = np.argsort(sids, kind="stable").astype(np.int64) if use_order else np.empty(0, np.int64)
        bt = np.empty(PREFETCH_DISTANCE)
        bj = np.empty(PREFETCH_DISTANCE, dtype=np.int64)
        ZX, ZK, ZF = ziggurat_tables()
        x0a = np.asarray(x0, dtype=np.float64)
        lo = min(float(xr), float(I0), float(x0a.min())) - 1.0
        hi = max(float(xr), float(I0), float(x0a.max())) + 4.0
        if intensity_cells is None:
            ftab, f_lo, f_inv_h = np.zeros(2), math.inf, 0.0
        else:
            ftab, f_lo, f_inv_h = intensity_table(fam_args, float(fsup), lo, hi, intensity_cells)

        def step():
            return _lr.global_loop(rec, nr, A, fs, ist, order, use_order, bt, bj, fam, p0, p1, p2, float(fsup),
                                   float(I0), float(xr), float(t_end), rec_t, states, st, sn, int(max_spikes), key,
                                   budget, ZX, ZK, ZF, ftab, f_lo, f_inv_h)
        status, n_chunks = _drive(step, fs, ist, st, sn, monitor, 1)
        return _output(status, fs, ist, st, sn, states, N, n_chunks)
    budget = _budget(chunk_work, CANDIDATE_WORK)
    tn = np.empty(N)
    Lb = np.empty(N)
    ctr = np.zeros(N, dtype=np.uint64)
    status, heap, pos = _lr.neuron_init(np.ascontiguousarray(x0, dtype=np.float64), float(fsup), keys, sids, root1,
                                        tn, Lb, ctr, fs, ist)
    if status != _lr.OK:
        return _output(status, fs, ist, st, sn, states, N, 0)

    def step():
        return _lr.neuron_loop(rec, nr, A, fs, ist, tn, Lb, ctr, heap, pos, keys, sids, fam, p0, p1, p2,
                               float(I0), float(xr), float(t_end), rec_t, states, st, sn, int(max_spikes), root1,
                               budget)
    status, n_chunks = _drive(step, fs, ist, st, sn, monitor, 1)
    return _output(status, fs, ist, st, sn, states, N, n_chunks)


def run_clock(op: LowRankOperator, fam_args, *, I0: float, xr: float, x0: np.ndarray, keys: np.ndarray, root1,
              grid: np.ndarray, record_times: np.ndarray, max_spikes: int, fsup: float,
              monitor: RunMonitor | None = None, chunk_work: int | None = None,
              capacity: int | None = None) -> LoopOutput:
    """Clock loop for a :class:`LowRankOperator` (the arguments of
    :func:`solvers.particles.clock.run_clock_leaky`), in chunks of about ``chunk_work`` work units
    (``N (R + 1)`` per step) with ``monitor`` called between chunks."""
    fam, p0, p1, p2 = fam_args
    N = op.N
    monitor = monitor if monitor is not None else RunMonitor(method="clock", N=N, t_end=float(grid[-1]),
                                                             progress=False)
    rec, _buf, nr = _packed(op, np.asarray(x0, dtype=np.float64))
    fs, ist = _loop_state()
    cap = capacity if capacity is not None else max(_capacity(N, fsup, float(grid[-1]), max_spikes), N + 1024)
    st = np.empty(cap)
    sn = np.empty(cap, dtype=np.int64)
    states = np.empty((record_times.shape[0], N))
    fired = np.empty(N, dtype=np.int64)
    acc = np.empty(nr)
    rec_t = np.ascontiguousarray(record_times, dtype=np.float64)
    grid = np.ascontiguousarray(grid, dtype=np.float64)
    budget = _budget(chunk_work, 1)

    def step():
        return _lr.clock_loop(rec, nr, fs, ist, fam, p0, p1, p2, float(I0), float(xr), keys, root1, grid, rec_t,
                              states, st, sn, int(max_spikes), fired, acc, budget)
    status, n_chunks = _drive(step, fs, ist, st, sn, monitor, N + 1)
    return _output(status, fs, ist, st, sn, states, N, n_chunks)
