"""Compiled (numba) code of the particle simulators.

Contents: counter-based random streams (documented in :mod:`solvers.particles._streams`), the indexed
binary heap ordered by ``(time, stream_id)`` (ties broken by stream id, so the event order does not
depend on array positions), the one function that reads the weights (:func:`column_pass`, see
:mod:`solvers.particles.operators`), the validity level of the local dominating rates
(:func:`bound_level`), and the exact and clock event loops (:mod:`solvers.particles.exact`,
:mod:`solvers.particles.clock`), written as *chunks*: a chunk runs until its work budget is used (or
the spike buffer is full, or the run is over) and returns, with the whole loop state kept in the
arrays it was given, so calling it again continues the run exactly where it stopped (a run cut into
chunks is bit-identical to a run in one chunk).  The named intensity families and the leaky flow
come from the one compiled table of :mod:`solvers._compiled` (``fam, p0, p1, p2`` below are
``Intensity.compiled_args()``).  Everything is decorated with :func:`solvers._compiled.njit`, whose
on-disk cache is keyed by the sources of every compiled ifmf module, so an edit of the family table
there also invalidates these cached loops.
Heap: ``heap[k]`` is the neuron at slot ``k``, ``pos[i]`` the slot of neuron ``i``; every neuron stays
in the heap with key ``inf`` when it has no candidate.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba.core import types as _nbtypes
from numba.extending import intrinsic  # an LLVM call, not a dispatcher: nothing for the cache to key

from solvers._compiled import (
    EXPONENTIAL,
    RELU,
    intensity_exponent,
    intensity_value,
    leaky_flow_decayed,
    njit,
)

# status codes of the compiled loops
OK = 0
NEGATIVE_INTENSITY = 1
ABOVE_BOUND = 2
NOT_FINITE = 3
TOO_MANY_SPIKES = 4

# what a chunk returns: the run is over (its status in istate), the chunk's work budget is used, or the
# spike buffer is full (the caller grows it); in the last two cases the caller calls the chunk again
DONE = 0
PAUSED = 1
FULL = 2

# slots of the loop state arrays (istate: int64, fstate: float64) kept between chunks
I_NSP = 0      # spikes so far
I_NC = 1       # candidates examined (exact) or Bernoulli trials (clock)
I_NREB = 2     # integrating-factor rebases
I_RIDX = 3     # next save time to fill
I_STATUS = 4   # OK or an error code
I_ERRJ = 5     # neuron of the error
I_NREF = 6     # local bounds renewed because a kick ended their validity
I_STEP = 7     # clock: next step
I_NEST = 8     # candidates in the current window of the kick-drift estimate
I_NKAP = 9     # changes of the kick allowance kappa (each renews every bound)
I_SINCE = 10   # candidates since the last change of kappa
N_ISTATE = 11
F_TREF = 0     # reference time of the integrating factor
F_ERRT = 1     # time of the error
F_ERRV = 2     # offending value
F_ERRB = 3     # its bound
F_TNOW = 4     # simulated time reached (last event examined)
F_KAPPA = 5    # kick allowance kappa of the local bounds (potential units)
F_SUMK = 6     # kick-drift estimate: sum of the kick effects seen at candidates
F_SUMW = 7     #   and of their weights 1 - e^{-u}
F_G0 = 8       # unit of the kick allowance (kappa is 0 or this unit times a power of 2)
N_FSTATE = 9

#: work units of the chunk budget: one per state entry touched, CANDIDATE_WORK per candidate or
#: bound renewal (a heap update and a few exponentials cost about as much as 64 entry updates)
CANDIDATE_WORK = 64

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit
def _stream_keys(stream_ids, root0, root1):
    out = np.empty(stream_ids.shape[0], dtype=np.uint64)
    for i in range(stream_ids.shape[0]):
        out[i] = _mix(_mix(stream_ids[i] ^ root0) + root1)
    return out


@njit(inline="always")
def uniform(key, ctr, root1):
    """The ``ctr``-th uniform of the stream with key ``key`` (all uint64), in ``(0, 1)``."""
    z = _mix(_mix(key + (ctr + _ONE) * _GAMMA) ^ root1)
    return ((z >> _S11) + 0.5) * _TWO_M53


@njit
def uniforms(keys, ctrs, root1):
    """Vectorised :func:`uniform`: ``out[i] = uniform(keys[i], ctrs[i], root1)``."""
    out = np.empty(keys.shape[0])
    for i in range(keys.shape[0]):
        out[i] = uniform(keys[i], ctrs[i], root1)
    return out


@njit(inline="always")
def _less(a, b, tn, sid):
    ta = tn[a]
    tb = tn[b]
    return ta < tb or (ta == tb and sid[a] < sid[b])


@njit
def sift_up(heap, pos, tn, sid, k):
    i = heap[k]
    while k > 0:
        parent = (k - 1) >> 1
        p = heap[parent]
        if _less(i, p, tn, sid):
            heap[k] = p
            pos[p] = k
            k = parent
        else:
            break
    heap[k] = i
    pos[i] = k


@njit
def sift_down(heap, pos, tn, sid, k):
    n = heap.shape[0]
    i = heap[k]
    while True:
        c = 2 * k + 1
        if c >= n:
            break
        if c + 1 < n and _less(heap[c + 1], heap[c], tn, sid):
            c += 1
        ch = heap[c]
        if _less(ch, i, tn, sid):
            heap[k] = ch
            pos[ch] = k
            k = c
        else:
            break
    heap[k] = i
    pos[i] = k


@njit
def heap_update(heap, pos, tn, sid, i):
    """Restore the heap after the key of neuron ``i`` changed."""
    sift_up(heap, pos, tn, sid, pos[i])
    sift_down(heap, pos, tn, sid, pos[i])


@njit
def heapify(heap, pos, tn, sid):
    n = heap.shape[0]
    for k in range(n):
        pos[heap[k]] = k
    for k in range(n // 2 - 1, -1, -1):
        sift_down(heap, pos, tn, sid, k)


@njit
def new_heap(tn, sid):
    n = tn.shape[0]
    heap = np.arange(n)
    pos = np.arange(n)
    heapify(heap, pos, tn, sid)
    return heap, pos


# ----------------------------------------------------------------------------------- weights
#: tags of the operator kinds in :func:`column_pass` (internal; users pick operators by class)
OP_DENSE = 0
OP_SPARSE = 1
OP_LOWRANK = 2
OP_KERNEL = 3

#: compiled kernel families of the on-the-fly operator (``kint[0]``; see :func:`_kernel_pass`)
KER_RING = 0
KER_SKEW = 1
KER_PRODUCT = 2
KER_STEP = 3
KER_USER = 4
#: work units of one kernel evaluation in the chunk budget (a cosine costs about as much as 16 entry updates)
KERNEL_WORK = 16
_TWO_PI = 2.0 * math.pi


@intrinsic
def call_kernel_address(typingctx, addr, x, z):
    """Call the C function ``double w(double, double)`` at address ``addr`` (an int64): a user's
    kernel compiled by :func:`solvers._compiled.cfunc`.  The address is data, not code, so the loops
    that call it stay in the on-disk cache."""
    sig = _nbtypes.float64(_nbtypes.int64, _nbtypes.float64, _nbtypes.float64)

    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType()
        fnty = ir.FunctionType(dbl, [dbl, dbl])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(fn, [args[1], args[2]])

    return sig, codegen


# The weights W_ij = w(xi_i, xi_j) / N of each family, one function each: the pass runs one loop per
# family (a family test inside the loop would be if-converted by LLVM, evaluating every family's
# cosine for every entry).  Step kernels read a table of values / N (the bits of the dense weights).
@njit(inline="always")
def _w_ring(kpar, kxi, kcell, kint, i, j):
    return (kpar[0] + kpar[1] * math.cos(_TWO_PI * (kxi[i] - kxi[j]))) / kxi.shape[0]


@njit(inline="always")
def _w_skew(kpar, kxi, kcell, kint, i, j):
    x = kxi[i]
    z = kxi[j]
    return (0.8 + 0.6 * x - 0.4 * z + 0.5 * math.sin(_TWO_PI * (x - z))) / kxi.shape[0]


@njit(inline="always")
def _w_product(kpar, kxi, kcell, kint, i, j):
    return 2.0 * kxi[i] * kxi[j] / kxi.shape[0]


@njit(inline="always")
def _w_step(kpar, kxi, kcell, kint, i, j):
    return kpar[kcell[i] * kint[1] + kcell[j]]


@njit(inline="always")
def _w_user(kpar, kxi, kcell, kint, i, j):
    return call_kernel_address(kint[2], kxi[i], kxi[j]) / kxi.shape[0]


@njit(inline="always")
def _value_pass(weight, kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged):
    n = state.shape[0]
    if level.shape[0] == 0:
        for i in range(n):
            state[i] += scale * weight(kpar, kxi, kcell, kint, i, j)
        return 0
    nf = 0
    for i in range(n):
        a = state[i] + scale * weight(kpar, kxi, kcell, kint, i, j)
        state[i] = a
        if a > level[i] + shift:
            flagged[nf] = i
            nf += 1
    return nf


@njit(inline="always")
def _value_column(weight, kpar, kxi, kcell, kint, j, out):
    for i in range(out.shape[0]):
        out[i] = weight(kpar, kxi, kcell, kint, i, j)


@njit(inline="always")
def _kernel_pass(kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged):
    """``state[i] += scale * W_ij`` with ``W_ij = w(xi_i, xi_j) / N`` evaluated now (nothing of size
    ``N x N`` exists), fused with the optional check; ``kint = (family, cells, address)``:

    * ``KER_RING``: ``(kpar[0] + kpar[1] cos(2 pi (x - z))) / N``;
    * ``KER_SKEW``: ``(0.8 + 0.6 x - 0.4 z + 0.5 sin(2 pi (x - z))) / N``;
    * ``KER_PRODUCT``: ``2 x z / N``;
    * ``KER_STEP``: ``kpar[kcell[i] * cells + kcell[j]]`` (the table ``values / N``, row-major);
    * ``KER_USER``: ``w(x, z) / N`` with the C function ``w`` at the address ``kint[2]``;

    with ``x = kxi[i]``, ``z = kxi[j]``.  The expressions are those of :mod:`solvers.graphons` in the
    same order of operations, so where libm and numpy agree the weights are the dense ones to the bit.
    """
    fam = kint[0]
    if fam == KER_RING:
        return _value_pass(_w_ring, kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged)
    if fam == KER_SKEW:
        return _value_pass(_w_skew, kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged)
    if fam == KER_PRODUCT:
        return _value_pass(_w_product, kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged)
    if fam == KER_STEP:
        return _value_pass(_w_step, kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged)
    return _value_pass(_w_user, kpar, kxi, kcell, kint, j, scale, state, level, shift, flagged)


@njit
def weight_column(kpar, kxi, kcell, kint, j, out):
    """``out[i] = W_ij = w(xi_i, xi_j) / N`` for every ``i``, the diagonal included: the evaluation of
    :func:`_kernel_pass` without the state (the Python reference loops; the benchmark baseline)."""
    fam = kint[0]
    if fam == KER_RING:
        _value_column(_w_ring, kpar, kxi, kcell, kint, j, out)
    elif fam == KER_SKEW:
        _value_column(_w_skew, kpar, kxi, kcell, kint, j, out)
    elif fam == KER_PRODUCT:
        _value_column(_w_product, kpar, kxi, kcell, kint, j, out)
    elif fam == KER_STEP:
        _value_column(_w_step, kpar, kxi, kcell, kint, j, out)
    else:
        _value_column(_w_user, kpar, kxi, kcell, kint, j, out)


@njit
def weight_row_sums(kpar, kxi, kcell, kint, out):
    """``out[i] += sum_{j != i} W_ij`` (``O(N^2)`` evaluations, one column at a time, no matrix)."""
    n = out.shape[0]
    col = np.empty(n)
    for j in range(n):
        weight_column(kpar, kxi, kcell, kint, j, col)
        col[j] = 0.0
        for i in range(n):
            out[i] += col[i]


@njit(inline="always")
def _dense_pass(col, scale, state, level, shift, flagged):
    n = state.shape[0]
    q = n // 4
    if level.shape[0] == 0:
        # four interleaved sequential streams: more memory-level parallelism when the column comes
        # from DRAM (same elementwise operations, so results are identical to a plain loop)
        for i in range(q):
            state[i] += scale * col[i]
            state[i + q] += scale * col[i + q]
            state[i + 2 * q] += scale * col[i + 2 * q]
            state[i + 3 * q] += scale * col[i + 3 * q]
        for i in range(4 * q, n):
            state[i] += scale * col[i]
        return 0
    # the same four streams, each counting the rows that end above their level (a branch-free count,
    # so the loop stays vectorised); only a stream with a nonzero count is scanned again for its rows
    c0, c1, c2, c3 = col[:q], col[q:2 * q], col[2 * q:3 * q], col[3 * q:4 * q]
    y0, y1, y2, y3 = state[:q], state[q:2 * q], state[2 * q:3 * q], state[3 * q:4 * q]
    l0, l1, l2, l3 = level[:q], level[q:2 * q], level[2 * q:3 * q], level[3 * q:4 * q]
    k0 = 0
    k1 = 0
    k2 = 0
    k3 = 0
    for i in range(q):
        a = y0[i] + scale * c0[i]
        y0[i] = a
        k0 += a > l0[i] + shift
        b = y1[i] + scale * c1[i]
        y1[i] = b
        k1 += b > l1[i] + shift
        c = y2[i] + scale * c2[i]
        y2[i] = c
        k2 += c > l2[i] + shift
        d = y3[i] + scale * c3[i]
        y3[i] = d
        k3 += d > l3[i] + shift
    nf = 0
    for r, kr in ((0, k0), (1, k1), (2, k2), (3, k3)):
        if kr > 0:
            for i in range(r * q, (r + 1) * q):
                if state[i] > level[i] + shift:
                    flagged[nf] = i
                    nf += 1
    for i in range(4 * q, n):
        a = state[i] + scale * col[i]
        state[i] = a
        if a > level[i] + shift:
            flagged[nf] = i
            nf += 1
    return nf


@njit(inline="always")
def _sparse_pass(data, indices, indptr, j, scale, state, level, shift, flagged):
    lo = indptr[j]
    hi = indptr[j + 1]
    if level.shape[0] == 0:
        for k in range(lo, hi):
            state[indices[k]] += scale * data[k]
        return 0
    nf = 0
    for k in range(lo, hi):
        i = indices[k]
        a = state[i] + scale * data[k]
        state[i] = a
        if a > level[i] + shift:
            flagged[nf] = i
            nf += 1
    return nf


@njit(inline="always")
def _lowrank_pass(F, j, scale, state, level, shift, flagged):
    """``F = [U s / N | V]`` (``N x 2R``, columns contiguous): ``state += scale (U s / N) V[j]``, one
    sequential pass per rank (the fused check on the last)."""
    R = F.shape[1] // 2
    n = state.shape[0]
    for r in range(R - 1):
        c = scale * F[j, R + r]
        for i in range(n):
            state[i] += c * F[i, r]
    c = scale * F[j, 2 * R - 1]
    if level.shape[0] == 0:
        for i in range(n):
            state[i] += c * F[i, R - 1]
        return 0
    nf = 0
    for i in range(n):
        a = state[i] + c * F[i, R - 1]
        state[i] = a
        if a > level[i] + shift:
            flagged[nf] = i
            nf += 1
    return nf


@njit(inline="always")
def column_pass(op, j, scale, state, level, shift, flagged):
    """The one compiled access to the weights: ``state += scale * W[:, j]``, the diagonal included
    (callers overwrite ``state[j]``), fused with an optional check.

    ``op`` is the tuple :meth:`SynapticOperator.kernel_args` ``(tag, dense, data, indices, indptr,
    kpar, kxi, kcell, kint)``.  With an empty ``level`` that is all, and 0 is returned.  Otherwise
    ``level`` has ``N`` entries and the same pass writes to ``flagged[:n]`` (``n`` returned) the rows
    ``i`` it updated that end with ``state[i] > level[i] + shift``, each once, in increasing order.
    (Exact local path: ``state`` is ``Y``, ``level`` is ``Z`` and ``shift`` the kick allowance
    ``kappa e^{t - t_ref}``; the rows are the neurons this spike kicked beyond the validity of their
    bound.)  A row the pass does not update is never listed: a kind that skips rows (sparse) is
    correct because only a kick can end the validity of a bound.

    Kinds: ``OP_DENSE`` (column ``j`` of ``dense``), ``OP_SPARSE`` (CSC ``data, indices, indptr``),
    ``OP_LOWRANK`` (``dense = [U s / N | V]``, ``N x 2R``: ``O(N R)``), ``OP_KERNEL`` (on the fly:
    :func:`_kernel_pass` on the slots ``kpar, kxi, kcell, kint``).  A new operator
    kind adds one branch here (its tag, its arrays in the tuple) and one in :func:`column_nnz`; the
    loops never look inside ``op``.
    """
    tag = op[0]
    if tag == OP_DENSE:
        return _dense_pass(op[1][:, j], scale, state, level, shift, flagged)
    if tag == OP_SPARSE:
        return _sparse_pass(op[2], op[3], op[4], j, scale, state, level, shift, flagged)
    if tag == OP_LOWRANK:
        return _lowrank_pass(op[1], j, scale, state, level, shift, flagged)
    return _kernel_pass(op[5], op[6], op[7], op[8], j, scale, state, level, shift, flagged)


@njit(inline="always")
def column_nnz(op, j):
    """Work of :func:`column_pass` for column ``j`` in chunk units (one per state entry touched, times
    the rank for ``OP_LOWRANK``, times KERNEL_WORK for ``OP_KERNEL``)."""
    tag = op[0]
    if tag == OP_DENSE:
        return op[1].shape[0]
    if tag == OP_SPARSE:
        return op[4][j + 1] - op[4][j]
    if tag == OP_LOWRANK:
        return op[1].shape[0] * (op[1].shape[1] // 2)
    return op[6].shape[0] * KERNEL_WORK


# ----------------------------------------------------------------------------- local bounds
#: headroom of the local bounds: a kick budget worth a factor BOUND_FACTOR in the rate (see local_bound)
BOUND_FACTOR = 2.0
_LOG_BOUND_FACTOR = math.log(BOUND_FACTOR)
#: largest headroom (potential units): a family so flat that ln(2) / beta or 1 / slope exceeds it
#: (beta or slope below ~1e-100, even subnormal) gets this one, so its bounds and thresholds stay finite
HEADROOM_MAX = 1e100


@njit(inline="always")
def _headroom(fam, p0, p1):
    """The family's headroom unit: ``ln(BOUND_FACTOR) / beta`` (exponential), ``(BOUND_FACTOR - 1) /
    slope`` (ReLU), 1 otherwise; at most HEADROOM_MAX."""
    if fam == EXPONENTIAL:
        h = _LOG_BOUND_FACTOR / p1
    elif fam == RELU:
        h = (BOUND_FACTOR - 1.0) / p0
    else:
        h = 1.0
    return h if h < HEADROOM_MAX else HEADROOM_MAX


@njit(inline="always")
def bound_level(fam, p0, p1, p2, m):
    """Static validity level ``B >= m`` of the bound ``f(B)`` of a neuron at ``m = max(X, I0)``
    (families without the exponential envelope of :func:`local_bound`).

    ReLU ``slope (x - theta)^+``: ``B = theta`` for ``m <= theta`` (bound 0: no candidate until a kick
    lifts the neuron above ``theta``), else ``B = m + (BOUND_FACTOR - 1) max(m - theta, 1 / slope)``,
    so ``f(B) = max(2 f(m), f(m) + 1)`` (headroom worth at least one candidate per unit time).  Any
    other family: ``B = m + ln(BOUND_FACTOR) / p1`` for the exponential, ``B = m`` otherwise.  The
    headroom ``(BOUND_FACTOR - 1) / slope`` or ``ln(BOUND_FACTOR) / beta`` is at most HEADROOM_MAX.
    """
    if fam == RELU:
        if m <= p1:
            return p1
        d = (BOUND_FACTOR - 1.0) * (m - p1)
        g = _headroom(fam, p0, p1)
        return m + (d if d > g else g)
    if fam == EXPONENTIAL:
        return m + _headroom(fam, p0, p1)
    return m


@njit(inline="always")
def local_bound(fam, p0, p1, p2, I0, x, e1):
    """Local dominating rate of a neuron at potential ``x`` (at time ``t_c``), unbounded family, for
    potentials bounded by the leaky flow towards ``I0`` (the drift's fixed point, or the fixed point
    shifted by the kick allowance ``kappa``: see :mod:`solvers.particles.exact`) plus ``g e^{-u}``.

    Returns ``(g, u, lam)``: the headroom ``g > 0`` (potential units) the kicks may use, the waiting
    time ``u`` of the neuron's next candidate for the unit-exponential variate ``e1``, and the bound
    ``lam`` at that candidate.

    * Exponential ``c e^{beta (x - theta)}``: ``g = h = ln(BOUND_FACTOR) / beta`` (at most
      HEADROOM_MAX).  The flow from ``x``
      lies below its tangent ``x + (I0 - x)^+ u`` and below ``max(x, I0)`` (it is concave increasing
      below ``I0``, decreasing above), so the rate ``lam(u) = f(min(x + (I0 - x)^+ u, max(x, I0)) + h)
      = min(A e^{alpha u}, lam_M)``, with ``A = f(x + h)``, ``alpha = beta (I0 - x)^+`` and
      ``lam_M = f(max(x, I0) + h)`` (reached at ``u = 1``), bounds ``f`` until the next candidate.
      Its integral inverts in closed form: ``u = log1p(alpha e1 / A) / alpha`` while
      ``e1 <= Lam_M = (lam_M - A) / alpha``, and ``1 + (e1 - Lam_M) / lam_M`` beyond; the bound at
      ``u`` is ``A + alpha e1`` (resp. ``lam_M``).  A rising neuron (after a reset, or from rest below
      ``I0``) thus gets candidates at about twice its intensity rather than at ``2 f(I0)``.  A
      potential so low that ``A`` underflows is handled in log space (``log A = log c + beta (x + h -
      theta)``).
    * Other families (ReLU): the static bound ``lam = f(B)`` with ``B = bound_level(m)``,
      ``m = max(x, I0)``, ``g = B - m``, ``u = e1 / lam`` (``inf`` if ``lam == 0``).
    """
    if fam == EXPONENTIAL:
        h = _headroom(fam, p0, p1)
        A = intensity_value(fam, p0, p1, p2, x + h)
        if x < I0:
            alpha = p1 * (I0 - x)
            lam_m = intensity_value(fam, p0, p1, p2, I0 + h)
            Lam_m = (lam_m - A) / alpha if alpha > 1.0 else A * math.expm1(alpha) / alpha
            if e1 <= Lam_m:
                # log1p(alpha e1 / A) / alpha = softplus(w) / alpha with w = log(alpha e1 / A)
                w = math.log(alpha * e1) - (math.log(p0) + intensity_exponent(fam, p1, p2, x + h))
                sp = w + math.log1p(math.exp(-w)) if w > 0.0 else math.log1p(math.exp(w))
                return h, sp / alpha, A + alpha * e1
            return h, 1.0 + (e1 - Lam_m) / lam_m, lam_m
        return h, e1 / A, A
    m = x if x > I0 else I0
    g = bound_level(fam, p0, p1, p2, m) - m
    lam = intensity_value(fam, p0, p1, p2, m + g)
    if lam > 0.0:
        return g, e1 / lam, lam
    return g, np.inf, lam


@njit
def local_bounds(fam, p0, p1, p2, I0, x, e1):
    """:func:`local_bound` on 1-D arrays ``x``, ``e1``: arrays ``(g, u, lam)`` (tests, Python loop)."""
    n = x.shape[0]
    g = np.empty(n)
    u = np.empty(n)
    lam = np.empty(n)
    for i in range(n):
        g[i], u[i], lam[i] = local_bound(fam, p0, p1, p2, I0, x[i], e1[i])
    return g, u, lam


@njit
def bound_levels(fam, p0, p1, p2, m):
    """:func:`bound_level` on a 1-D array (tests)."""
    out = np.empty(m.shape[0])
    for i in range(m.shape[0]):
        out[i] = bound_level(fam, p0, p1, p2, m[i])
    return out


# ------------------------------------------------------------------------------ exact loop
REBASE_AFTER = 32.0
BOUND_SLACK = 1e-9
#: the kick allowance kappa is re-estimated every KAPPA_WINDOW candidates, from KAPPA_MARGIN times the
#: mean kick drift measured at those candidates (see kappa_level)
KAPPA_WINDOW = 1024
KAPPA_MARGIN = 1.5


@njit(inline="always")
def kappa_unit(fam, p0, p1, p2):
    """Unit of the kick allowance: the family's headroom, ``ln(BOUND_FACTOR) / beta`` (exponential),
    ``(BOUND_FACTOR - 1) / slope`` (ReLU), 1 otherwise (at most HEADROOM_MAX)."""
    return _headroom(fam, p0, p1)


@njit(inline="always")
def kappa_level(drift, unit):
    """The allowance for a measured mean kick drift: 0 when ``KAPPA_MARGIN drift <= unit / 2``, else
    ``unit 2^k`` with the smallest ``k`` giving at least ``KAPPA_MARGIN drift`` (a power-of-2 grid: the
    Python reference loop reaches the same value, and moving by one level is a factor 2)."""
    target = KAPPA_MARGIN * drift
    if not (target > 0.5 * unit):
        return 0.0
    return unit * 2.0 ** math.ceil(math.log2(target / unit))


@njit(inline="always")
def _next_time(t, L, key, ctr, root1):
    """``t + Exp(L)`` from the stream's next uniform (``inf`` if ``L == 0``)."""
    u = uniform(key, ctr, root1)
    if L > 0.0:
        return t - math.log(u) / L
    return np.inf


@njit(inline="always")
def _renew(fam, p0, p1, p2, I0, kappa, i, x, t, s, keys, ctr, root1, L, Z, tn, xc, tc):
    """New local bound of neuron ``i`` at potential ``x`` and time ``t`` (``s = e^{t - t_ref}``):
    ``L[i]``, its validity threshold ``Z[i]``, its next candidate ``tn[i]`` (one uniform of its stream)
    and the reference ``xc[i], tc[i]`` of the kick-drift estimate.  Returns the bound."""
    e1 = -math.log(uniform(keys[i], ctr[i], root1))
    ctr[i] += _ONE
    g, u, lam = local_bound(fam, p0, p1, p2, I0 + kappa, x, e1)
    L[i] = lam
    Z[i] = (x + g - kappa - I0) * s
    tn[i] = t + u
    xc[i] = x
    tc[i] = t
    return lam


@njit
def _exact_init(fam, p0, p1, p2, local, fsup, I0, x0, keys, sids, root1, Y, L, Z, tn, ctr, heap, pos, xc, tc,
                istate, fstate):
    """First state of the exact loop (``t = t_ref = 0``): ``Y = x0 - I0``, the bounds (and, on the
    local path, the validity thresholds ``Z`` with no kick allowance), the first candidates, the heap."""
    N = x0.shape[0]
    if local:
        fstate[F_G0] = kappa_unit(fam, p0, p1, p2)
    for i in range(N):
        Y[i] = x0[i] - I0
        if local:
            _renew(fam, p0, p1, p2, I0, 0.0, i, x0[i], 0.0, 1.0, keys, ctr, root1, L, Z, tn, xc, tc)
        else:
            L[i] = fsup
            tn[i] = _next_time(0.0, L[i], keys[i], ctr[i], root1)
            ctr[i] += _ONE
        if not (L[i] < np.inf) and istate[I_STATUS] == OK:
            istate[I_STATUS] = NOT_FINITE
            istate[I_ERRJ] = i
            fstate[F_ERRT] = 0.0
            fstate[F_ERRV] = L[i]
    for k in range(N):
        heap[k] = k
    heapify(heap, pos, tn, sids)


@njit
def _exact_chunk(op, fam, p0, p1, p2, local, I0, xr, keys, sids, root1, t_end, rec, max_spikes,
                 Y, L, Z, tn, ctr, heap, pos, xc, tc, flagged, st, sn, states, istate, fstate, budget, window):
    """Run the exact loop (module :mod:`solvers.particles.exact`) for about ``budget`` work units
    (``window``: candidates per estimate of the kick allowance, normally KAPPA_WINDOW).

    The state is ``Y, L, Z, tn, ctr, heap, pos, xc, tc`` (``Z, xc, tc``: validity thresholds and
    references of the local bounds, empty on the global path), the spikes ``st, sn`` (capacity
    ``st.shape[0]``), the saved states and the slots of ``istate`` and ``fstate``; all are updated in
    place.  Returns DONE, PAUSED or FULL.
    """
    N = Y.shape[0]
    R = rec.shape[0]
    cap = st.shape[0]
    n_sp = istate[I_NSP]
    n_c = istate[I_NC]
    n_rebase = istate[I_NREB]
    r_idx = istate[I_RIDX]
    n_ref = istate[I_NREF]
    n_est = istate[I_NEST]
    n_kap = istate[I_NKAP]
    since = istate[I_SINCE]
    status = istate[I_STATUS]
    err_j = istate[I_ERRJ]
    t_ref = fstate[F_TREF]
    err_t = fstate[F_ERRT]
    err_v = fstate[F_ERRV]
    err_b = fstate[F_ERRB]
    t_now = fstate[F_TNOW]
    kappa = fstate[F_KAPPA]
    sum_k = fstate[F_SUMK]
    sum_w = fstate[F_SUMW]
    g0 = fstate[F_G0]
    one = np.uint64(1)
    many = N // 16  # more renewed bounds than this at one spike: one heapify instead of single updates
    work = 0
    code = DONE
    while status == OK:
        if work >= budget:
            code = PAUSED
            break
        if n_sp >= cap:
            code = FULL
            break
        j = heap[0]
        t = tn[j]
        if not (t <= t_end):
            break
        while r_idx < R and rec[r_idx] < t:
            e = math.exp(-(rec[r_idx] - t_ref))
            for i in range(N):
                states[r_idx, i] = I0 + Y[i] * e
            r_idx += 1
            work += N
        t_now = t
        n_c += 1
        work += CANDIDATE_WORK
        dt_ref = t - t_ref
        em = math.exp(-dt_ref)
        x = I0 + Y[j] * em
        fx = intensity_value(fam, p0, p1, p2, x)
        Lj = L[j]
        if not (abs(x) < np.inf and fx < np.inf):
            status = NOT_FINITE
            err_t = t
            err_j = j
            err_v = x if not abs(x) < np.inf else fx
            break
        if fx < 0.0:
            status = NEGATIVE_INTENSITY
            err_t = t
            err_j = j
            err_v = fx
            break
        if fx > Lj * (1.0 + BOUND_SLACK):
            status = ABOVE_BOUND
            err_t = t
            err_j = j
            err_v = fx
            err_b = Lj
            break
        if local:
            # kick-drift estimate: the potential now minus the flow from the reference of the bound; every
            # end of a bound's life (a candidate, or a renewal after kicks) is a sample, so the sums cover
            # each neuron's whole timeline (renewals alone would hide the drift that causes them)
            d = math.exp(-(t - tc[j]))
            sum_k += x - I0 - (xc[j] - I0) * d
            sum_w += 1.0 - d
            n_est += 1
            since += 1
        u = uniform(keys[j], ctr[j], root1)
        ctr[j] += one
        xj = x
        if u * Lj < fx:
            # ---- spike of j at t
            if n_sp >= max_spikes:
                status = TOO_MANY_SPIKES
                err_t = t
                err_j = j
                err_v = n_sp
                break
            st[n_sp] = t
            sn[n_sp] = j
            n_sp += 1
            if dt_ref > REBASE_AFTER:
                for i in range(N):
                    Y[i] *= em
                for i in range(Z.shape[0]):
                    Z[i] *= em
                t_ref = t
                dt_ref = 0.0
                em = 1.0
                n_rebase += 1
                work += N
            s = math.exp(dt_ref)
            # Z is empty on the global path: nothing is checked, nf = 0
            nf = column_pass(op, j, s, Y, Z, kappa * s, flagged)
            work += column_nnz(op, j) + CANDIDATE_WORK * nf
            Y[j] = (xr - I0) * s
            xj = xr
            if nf > 0:
                # ---- local path: the neurons kicked beyond the validity of their bound get a new one
                batch = nf > many
                for k in range(nf):
                    i = flagged[k]
                    if i == j:
                        continue
                    xi = I0 + Y[i] * em
                    d = math.exp(-(t - tc[i]))   # the kick effect since its last bound: in the estimate too
                    sum_k += xi - I0 - (xc[i] - I0) * d
                    sum_w += 1.0 - d
                    Li = _renew(fam, p0, p1, p2, I0, kappa, i, xi, t, s, keys, ctr, root1, L, Z, tn, xc, tc)
                    if not (Li < np.inf):
                        status = NOT_FINITE
                        err_t = t
                        err_j = i
                        err_v = Li if abs(xi) < np.inf else xi
                        break
                    n_ref += 1
                    if not batch:
                        heap_update(heap, pos, tn, sids, i)
                if status != OK:
                    break
                if batch:
                    heapify(heap, pos, tn, sids)
        # ---- next candidate of j
        if local:
            Lj = _renew(fam, p0, p1, p2, I0, kappa, j, xj, t, math.exp(dt_ref), keys, ctr, root1, L, Z, tn, xc, tc)
            if not (Lj < np.inf):
                status = NOT_FINITE
                err_t = t
                err_j = j
                err_v = Lj
                break
        else:
            tn[j] = _next_time(t, L[j], keys[j], ctr[j], root1)
            ctr[j] += one
        if heap[0] == j:  # the usual case: j is the root and its key only grew
            sift_down(heap, pos, tn, sids, 0)
        else:
            heap_update(heap, pos, tn, sids, j)
        if local and n_est >= window:
            # ---- the kick allowance: changed (and every bound renewed at t) when the measured drift asks
            # for a higher level, or for one at most a quarter of it; changes are spaced by at least
            # min(N, KAPPA_WINDOW 2^changes) candidates, so renewing all N bounds stays a small cost
            new = kappa_level(sum_k / sum_w if sum_w > 0.0 else 0.0, g0)
            n_est = 0
            sum_k = 0.0
            sum_w = 0.0
            spacing = window << (n_kap if n_kap < 40 else 40)
            if (new > kappa or new < 0.25 * kappa) and since >= (spacing if spacing < N else N):
                kappa = new
                n_kap += 1
                since = 0
                s = math.exp(dt_ref)
                for i in range(N):
                    xi = I0 + Y[i] * em
                    Li = _renew(fam, p0, p1, p2, I0, kappa, i, xi, t, s, keys, ctr, root1, L, Z, tn, xc, tc)
                    if not (Li < np.inf):
                        status = NOT_FINITE
                        err_t = t
                        err_j = i
                        err_v = Li if abs(xi) < np.inf else xi
                        break
                heapify(heap, pos, tn, sids)
                work += CANDIDATE_WORK * N
    if status == OK and code == DONE:
        while r_idx < R:
            e = math.exp(-(rec[r_idx] - t_ref))
            for i in range(N):
                states[r_idx, i] = I0 + Y[i] * e
            r_idx += 1
        t_now = t_end
    istate[I_NSP] = n_sp
    istate[I_NC] = n_c
    istate[I_NREB] = n_rebase
    istate[I_RIDX] = r_idx
    istate[I_NREF] = n_ref
    istate[I_NEST] = n_est
    istate[I_NKAP] = n_kap
    istate[I_SINCE] = since
    istate[I_STATUS] = status
    istate[I_ERRJ] = err_j
    fstate[F_TREF] = t_ref
    fstate[F_ERRT] = err_t
    fstate[F_ERRV] = err_v
    fstate[F_ERRB] = err_b
    fstate[F_TNOW] = t_now
    fstate[F_KAPPA] = kappa
    fstate[F_SUMK] = sum_k
    fstate[F_SUMW] = sum_w
    return code


# ------------------------------------------------------------------------------ clock loop
@njit
def _clock_chunk(op, fam, p0, p1, p2, I0, xr, keys, root1, grid, rec, max_spikes, X, fired, st, sn,
                 states, istate, fstate, budget):
    """Run the clock loop (module :mod:`solvers.particles.clock`) from step ``istate[I_STEP]`` for
    about ``budget`` work units; state updated in place as for :func:`_exact_chunk`."""
    N = X.shape[0]
    R = rec.shape[0]
    cap = st.shape[0]
    no_level = np.empty(0)
    no_flag = np.empty(0, dtype=np.int64)
    n_sp = istate[I_NSP]
    r_idx = istate[I_RIDX]
    status = istate[I_STATUS]
    err_j = istate[I_ERRJ]
    err_t = fstate[F_ERRT]
    err_v = fstate[F_ERRV]
    err_b = fstate[F_ERRB]
    k = istate[I_STEP]
    n_steps = grid.shape[0] - 1
    work = 0
    code = DONE
    while k < n_steps and status == OK:
        if work >= budget:
            code = PAUSED
            break
        if n_sp + N > cap:
            code = FULL
            break
        t0 = grid[k]
        t1 = grid[k + 1]
        h = t1 - t0
        while r_idx < R and rec[r_idx] < t1:
            e = math.exp(-(rec[r_idx] - t0))
            for i in range(N):
                states[r_idx, i] = leaky_flow_decayed(I0, X[i], e)
            r_idx += 1
            work += N
        nf = 0
        ctr = np.uint64(k)
        for i in range(N):
            fx = intensity_value(fam, p0, p1, p2, X[i])
            if not (fx < np.inf and abs(X[i]) < np.inf):
                status = NOT_FINITE
                err_t = t0
                err_j = i
                err_v = fx
                break
            if fx < 0.0:
                status = NEGATIVE_INTENSITY
                err_t = t0
                err_j = i
                err_v = fx
                break
            if fx * h > 1.0 + 1e-12:
                status = ABOVE_BOUND
                err_t = t0
                err_j = i
                err_v = fx
                err_b = 1.0 / h
                break
            if uniform(keys[i], ctr, root1) < -math.expm1(-fx * h):
                fired[nf] = i
                nf += 1
        if status != OK:
            break
        e = math.exp(-h)
        for i in range(N):
            X[i] = leaky_flow_decayed(I0, X[i], e)
        for m in range(nf):
            column_pass(op, fired[m], 1.0, X, no_level, 0.0, no_flag)
            work += column_nnz(op, fired[m])
        for m in range(nf):
            X[fired[m]] = xr
        work += N
        k += 1
        if n_sp + nf > max_spikes:
            status = TOO_MANY_SPIKES
            err_t = t1
            err_j = -1
            err_v = n_sp + nf
            break
        for m in range(nf):
            st[n_sp] = t1
            sn[n_sp] = fired[m]
            n_sp += 1
    if status == OK and code == DONE:
        while r_idx < R:  # records at t_end
            for i in range(N):
                states[r_idx, i] = X[i]
            r_idx += 1
    istate[I_NSP] = n_sp
    istate[I_NC] = N * k
    istate[I_RIDX] = r_idx
    istate[I_STATUS] = status
    istate[I_ERRJ] = err_j
    istate[I_STEP] = k
    fstate[F_ERRT] = err_t
    fstate[F_ERRV] = err_v
    fstate[F_ERRB] = err_b
    fstate[F_TNOW] = grid[k]
    return code
