"""Compiled (numba) code of the particle simulators.

Contents: counter-based random streams (documented in :mod:`solvers.particles._streams`), the indexed
binary heap ordered by ``(time, stream_id)`` (ties broken by stream id, so the event order does not
depend on array positions), the synaptic column update (:mod:`solvers.particles.operators`), and the
exact and clock event loops (:mod:`solvers.particles.exact`, :mod:`solvers.particles.clock`).  The
named intensity families and the leaky flow come from the one compiled table of
:mod:`solvers._compiled` (``fam, p0, p1, p2`` below are ``Intensity.compiled_args()``).  Everything is
decorated with :func:`solvers._compiled.njit`, whose on-disk cache is keyed by the sources of every
compiled ifmf module, so an edit of the family table there also invalidates these cached loops.
Heap: ``heap[k]`` is the neuron at slot ``k``, ``pos[i]`` the slot of neuron ``i``; every neuron stays
in the heap with key ``inf`` when it has no candidate.
"""
from __future__ import annotations

import math

import numpy as np

from solvers._compiled import intensity_value, leaky_flow_decayed, njit

# status codes of the compiled loops
OK = 0
NEGATIVE_INTENSITY = 1
ABOVE_BOUND = 2
NOT_FINITE = 3
TOO_MANY_SPIKES = 4

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


@njit(inline="always")
def add_column(tag, dense, data, indices, indptr, j, scale, state):
    """``state += scale * W[:, j]`` (diagonal included; callers overwrite ``state[j]``)."""
    if tag == 0:
        # four interleaved sequential streams: more memory-level parallelism when the column comes
        # from DRAM (same elementwise operations, so results are identical to a plain loop)
        col = dense[:, j]
        n = state.shape[0]
        q = n // 4
        for i in range(q):
            state[i] += scale * col[i]
            state[i + q] += scale * col[i + q]
            state[i + 2 * q] += scale * col[i + 2 * q]
            state[i + 3 * q] += scale * col[i + 3 * q]
        for i in range(4 * q, n):
            state[i] += scale * col[i]
    else:
        for k in range(indptr[j], indptr[j + 1]):
            state[indices[k]] += scale * data[k]


@njit(inline="always")
def column_nnz(tag, dense, indptr, j):
    """Number of stored entries of column ``j`` (``N`` for dense)."""
    if tag == 0:
        return dense.shape[0]
    return indptr[j + 1] - indptr[j]


@njit(inline="always")
def column_entry(tag, dense, data, indices, indptr, j, k):
    """``(row, value)`` of the ``k``-th stored entry of column ``j``."""
    if tag == 0:
        return k, dense[k, j]
    p = indptr[j] + k
    return indices[p], data[p]


REBASE_AFTER = 32.0
BOUND_SLACK = 1e-9



@njit(inline="always")
def _next_time(t, L, key, ctr, root1):
    """``t + Exp(L)`` from the stream's next uniform (``inf`` if ``L == 0``)."""
    u = uniform(key, ctr, root1)
    if L > 0.0:
        return t - math.log(u) / L
    return np.inf


@njit
def _grow_f(a, n):
    b = np.empty(n, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit
def _exact_leaky_loop(tag, dense, data, indices, indptr, fam, p0, p1, p2, local, fsup,
                      I0, xr, x0, keys, sids, root1, t_end, rec, max_spikes, cap0):
    N = x0.shape[0]
    Y = np.empty(N)
    for i in range(N):
        Y[i] = x0[i] - I0
    t_ref = 0.0
    ctr = np.zeros(N, dtype=np.uint64)
    one = np.uint64(1)
    L = np.empty(N)
    tn = np.empty(N)
    fI0 = intensity_value(fam, p0, p1, p2, I0)
    status = 0
    err_t = np.nan
    err_j = -1
    err_v = np.nan
    err_b = np.nan
    for i in range(N):
        if local:
            fx = intensity_value(fam, p0, p1, p2, x0[i])
            L[i] = fx if fx > fI0 else fI0
        else:
            L[i] = fsup
        if not (L[i] < np.inf):
            status = NOT_FINITE
            err_t = 0.0
            err_j = i
            err_v = L[i]
        tn[i] = _next_time(0.0, L[i], keys[i], ctr[i], root1)
        ctr[i] += one
    heap, pos = new_heap(tn, sids)
    R = rec.shape[0]
    states = np.empty((R, N))
    r_idx = 0
    cap = cap0
    st = np.empty(cap)
    sn = np.empty(cap, dtype=np.int64)
    n_sp = 0
    n_c = 0
    n_rebase = 0
    batch = N // 4
    while status == 0:
        j = heap[0]
        t = tn[j]
        if not (t <= t_end):
            break
        while r_idx < R and rec[r_idx] < t:
            e = math.exp(-(rec[r_idx] - t_ref))
            for i in range(N):
                states[r_idx, i] = I0 + Y[i] * e
            r_idx += 1
        n_c += 1
        dt_ref = t - t_ref
        x = I0 + Y[j] * math.exp(-dt_ref)
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
            if n_sp >= cap:
                cap = 2 * cap
                st = _grow_f(st, cap)
                sn = _grow_f(sn, cap)
            st[n_sp] = t
            sn[n_sp] = j
            n_sp += 1
            if dt_ref > REBASE_AFTER:
                e = math.exp(-dt_ref)
                for i in range(N):
                    Y[i] *= e
                t_ref = t
                dt_ref = 0.0
                n_rebase += 1
            s = math.exp(dt_ref)
            add_column(tag, dense, data, indices, indptr, j, s, Y)
            Y[j] = (xr - I0) * s
            xj = xr
            if local:
                em = math.exp(-dt_ref)
                nnz = column_nnz(tag, dense, indptr, j)
                in_batch = nnz > batch
                for k in range(nnz):
                    i, w = column_entry(tag, dense, data, indices, indptr, j, k)
                    if w > 0 and i != j:
                        xi = I0 + Y[i] * em
                        fxi = intensity_value(fam, p0, p1, p2, xi)
                        L[i] = fxi if fxi > fI0 else fI0
                        if not (L[i] < np.inf):
                            status = NOT_FINITE
                            err_t = t
                            err_j = i
                            err_v = L[i]
                        tn[i] = _next_time(t, L[i], keys[i], ctr[i], root1)
                        ctr[i] += one
                        if not in_batch:
                            heap_update(heap, pos, tn, sids, i)
                if in_batch:
                    heapify(heap, pos, tn, sids)
        # ---- next candidate of j
        if local:
            fxj = fx if xj == x else intensity_value(fam, p0, p1, p2, xj)
            L[j] = fxj if fxj > fI0 else fI0
        tn[j] = _next_time(t, L[j], keys[j], ctr[j], root1)
        ctr[j] += one
        if heap[0] == j:  # the usual case: j is the root and its key only grew
            sift_down(heap, pos, tn, sids, 0)
        else:
            heap_update(heap, pos, tn, sids, j)
    if status == 0:
        while r_idx < R:
            e = math.exp(-(rec[r_idx] - t_ref))
            for i in range(N):
                states[r_idx, i] = I0 + Y[i] * e
            r_idx += 1
    return status, err_t, err_j, err_v, err_b, st[:n_sp].copy(), sn[:n_sp].copy(), n_c, states, n_rebase


@njit
def _clock_leaky_loop(tag, dense, data, indices, indptr, fam, p0, p1, p2, I0, xr, x0, keys, root1,
                      grid, rec, max_spikes, cap0):
    N = x0.shape[0]
    X = x0.copy()
    R = rec.shape[0]
    states = np.empty((R, N))
    r_idx = 0
    fired = np.empty(N, dtype=np.int64)
    cap = cap0
    st = np.empty(cap)
    sn = np.empty(cap, dtype=np.int64)
    n_sp = 0
    status = 0
    err_t = np.nan
    err_j = -1
    err_v = np.nan
    err_b = np.nan
    n_steps = grid.shape[0] - 1
    for k in range(n_steps):
        t0 = grid[k]
        t1 = grid[k + 1]
        h = t1 - t0
        while r_idx < R and rec[r_idx] < t1:
            e = math.exp(-(rec[r_idx] - t0))
            for i in range(N):
                states[r_idx, i] = leaky_flow_decayed(I0, X[i], e)
            r_idx += 1
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
        if status != 0:
            break
        e = math.exp(-h)
        for i in range(N):
            X[i] = leaky_flow_decayed(I0, X[i], e)
        for m in range(nf):
            add_column(tag, dense, data, indices, indptr, fired[m], 1.0, X)
        for m in range(nf):
            X[fired[m]] = xr
        if n_sp + nf > max_spikes:
            status = TOO_MANY_SPIKES
            err_t = t1
            err_j = -1
            err_v = n_sp + nf
            break
        while n_sp + nf > cap:
            cap = 2 * cap
            st = _grow_f(st, cap)
            sn = _grow_f(sn, cap)
        for m in range(nf):
            st[n_sp] = t1
            sn[n_sp] = fired[m]
            n_sp += 1
    if status == 0:
        while r_idx < R:  # records at t_end
            for i in range(N):
                states[r_idx, i] = X[i]
            r_idx += 1
    return status, err_t, err_j, err_v, err_b, st[:n_sp].copy(), sn[:n_sp].copy(), N * n_steps, states, 0
