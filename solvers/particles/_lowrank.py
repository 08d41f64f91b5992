"""Compiled (numba) loops of the low-rank operator (:mod:`solvers.particles.lowrank`).

Packed per-neuron record ``rec[i] = (Z_i, Us_i0 .. Us_i(R-1), V_i0 .. V_i(R-1), padding)`` with
``Us = U diag(s) / N``, so that everything a candidate of neuron ``i`` reads is in one cache line for
``R <= 3`` (the driver aligns ``rec`` to 64 bytes, pads the rank to at least 3 with zero columns and a
row to a multiple of 8 doubles; ``nrank`` below is the padded rank).  The network state is ``Z`` and
the ``R`` accumulators ``A``; the potential of neuron ``i`` at ``t`` is

    X_i(t) = I0 + e^{-(t - t_ref)} (Z_i + sum_r Us_ir A_r)

(derivation in :mod:`solvers.particles.lowrank`).  A candidate costs ``O(R)``, a spike ``O(R)``, the
rebase of the integrating factor and a saved state ``O(N R)``.

Loops are resumable: their state lives in the arrays passed in (``fs`` floats, ``ist`` integers, the
accumulators, the candidate ring buffer or heap), and a loop returns ``BUFFER_FULL`` when the spike
buffers are full (the driver grows them in place and calls again) and ``CHUNK_DONE`` when the call's
budget of candidates is spent.  A resumed run is identical to an uninterrupted one (the random
numbers are counter-based: functions of the candidate number, never of the call boundaries).

The loops are the *chunks* of :mod:`solvers.particles._chunks`: the driver
(:mod:`solvers.particles.lowrank`) calls them again until the run is over, and between two calls
checks the wall-clock budget, moves the progress bar and lets Ctrl-C through.  Budgets: candidates
(exact loops) or work units (clock loop: one per neuron and rank of a step).

Layout of ``fs``: ``[t_ref, t_gen, err_t, err_v, err_b, t_anc, e_anc, ie_anc, t_now]`` (``t_anc, e_anc,
ie_anc``: the global loop's anchor of the decay factor; ``t_now``: the simulated time reached, for the
progress bar); of ``ist``: ``[k, g, n_sp, n_c, r_idx, n_rebase, err_j]`` (``k`` candidates processed,
``g`` generated, the global loop only; ``k`` is the next step of the clock loop).

The unbounded-intensity mode of the per-neuron streams is not here: it is the dense path's loop
(:func:`solvers.particles._kernels._exact_chunk`, tangent bounds with a kick allowance) with the
low-rank column pass (``OP_LOWRANK``), ``O(N R)`` per spike.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic  # an LLVM intrinsic, not a dispatcher: nothing for the cache to key

from solvers._compiled import intensity_value, leaky_flow_decayed, njit
from solvers.particles._kernels import (
    _GAMMA,
    ABOVE_BOUND,
    BOUND_SLACK,
    NEGATIVE_INTENSITY,
    NOT_FINITE,
    OK,
    REBASE_AFTER,
    TOO_MANY_SPIKES,
    _mix,
    _next_time,
    heap_update,
    new_heap,
    sift_down,
    uniform,
)

#: internal statuses (never reach the user): the driver grows the spike buffers / calls again
BUFFER_FULL = 16
CHUNK_DONE = 17

#: domain separation of the one global candidate stream from the per-neuron streams
_GLOBAL_DOMAIN = np.uint64(0x6C6F772D72616E6B)  # "low-rank"
_EXP_DOMAIN = np.uint64(0x7A69676775726174)  # "ziggurat": the exponential words of the global stream
_RETRY_DOMAIN = np.uint64(0x7265747279726574)  # "retryret": the ziggurat's rare extra uniforms
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_SIXTEEN = np.uint64(16)
_RETRIES = np.uint64(1 << 16)
_MASK8 = np.uint64(255)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0
#: the decay factor is a Taylor polynomial around an anchor time within this distance (else an exp)
ANCHOR_SPAN = 2.0 ** -10

F_TREF, F_TGEN, F_ERRT, F_ERRV, F_ERRB, F_TANC, F_EANC, F_IEANC, F_TNOW = 0, 1, 2, 3, 4, 5, 6, 7, 8
N_FS = 9
I_K, I_G, I_NSP, I_NC, I_RIDX, I_NREB, I_ERRJ = 0, 1, 2, 3, 4, 5, 6
N_IST = 7


@intrinsic
def prefetch(typingctx, arr, i, q):
    """``llvm.prefetch`` of ``arr[i, q]`` (read, high locality): a hint, no effect on results."""
    sig = types.void(arr, i, q)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]])
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [i8p, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit
def global_key(root0, root1):
    """Key of the global candidate stream (a counter-based stream like the per-neuron ones)."""
    return _mix(_mix(_GLOBAL_DOMAIN ^ root0) + root1)


@njit(inline="always")
def _potential(rec, i, nrank, A, I0, decay):
    acc = rec[i, 0]
    for r in range(nrank):
        acc += rec[i, 1 + r] * A[r]
    return I0 + acc * decay


@njit
def _save_state(rec, nrank, A, I0, decay, states, r_idx):
    for i in range(rec.shape[0]):
        states[r_idx, i] = _potential(rec, i, nrank, A, I0, decay)


@njit
def _rebase(rec, nrank, A, e):
    """``Z *= e``, ``A *= e``: move the integrating factor's reference time (``O(N)``)."""
    for i in range(rec.shape[0]):
        rec[i, 0] *= e
    for r in range(nrank):
        A[r] *= e


@njit(inline="always")
def _spike_update(rec, j, nrank, A, E, xr, I0):
    """Spike of ``j`` with ``E = e^{t - t_ref}``: ``A += E V_j``, then ``Z_j`` so that ``X_j = x_r`` (its
    own kick is inside ``A`` and cancelled: the reset wins)."""
    for r in range(nrank):
        A[r] += E * rec[j, 1 + nrank + r]
    z = (xr - I0) * E
    for r in range(nrank):
        z -= rec[j, 1 + r] * A[r]
    rec[j, 0] = z


@njit(inline="always")
def _word(key, ctr):
    """Word ``ctr`` of the global stream: SplitMix64 (Steele, Lea and Flood, OOPSLA 2014) from the
    state ``key``, ``mix(key + (ctr + 1) GAMMA)``.  One stream for the whole network, so the second
    mixing round of the per-neuron streams (which decorrelates nearby stream keys) is not needed."""
    return _mix(key + (ctr + _ONE) * _GAMMA)


@njit(inline="always")
def _unit(key, ctr):
    """Uniform number ``ctr`` of the global stream in ``(0, 1)`` (top 53 bits, as the per-neuron streams)."""
    return (float(np.int64(_word(key, ctr) >> _S11)) + 0.5) * _TWO_M53


@njit
def _exponential_slow(i, x, key, g, ZX, ZK, ZF):
    """The ziggurat's rare branch (about 1.1% of the draws): the base strip's tail, the wedge test
    and fresh attempts, with the uniforms of candidate ``g``'s retry stream (counters ``g 2^16 + a``)."""
    base = np.uint64(g) << _SIXTEEN
    a = np.uint64(0)
    while a < _RETRIES:
        if i == 0:  # the tail beyond r of the exponential law is r + Exp(1)
            return ZX[256] - math.log(_unit(key, base + a))
        if ZF[i] + _unit(key, base + a) * (ZF[i - 1] - ZF[i]) < math.exp(-x):
            return x
        z = _word(key, base + a + _ONE)
        a += _TWO
        i = np.int64(z & _MASK8)
        u = float(np.int64(z >> _S11)) * _TWO_M53
        x = u * ZX[i]
        if u < ZK[i]:
            return x
    # 2^15 consecutive rejections (probability below 1e-60000): an independent exact draw by inversion
    return -math.log(_unit(key, base + a))


@njit(inline="always")
def _exponential(key, g, ZX, ZK, ZF):
    """``Exp(1)`` draw number ``g`` by the 256-layer ziggurat of Marsaglia and Tsang (2000): the low 8 bits
    of one word pick a layer, its top 53 bits a uniform ``u``; ``u ZX[i]`` is returned when
    ``u < ZK[i]`` (98.9% of the draws: no logarithm).  Exact in law (tables in
    :func:`solvers.particles.lowrank.ziggurat_tables`)."""
    z = _word(key, np.uint64(g))
    i = np.int64(z & _MASK8)
    u = float(np.int64(z >> _S11)) * _TWO_M53  # signed conversion: z >> 11 < 2^53
    x = u * ZX[i]
    if u < ZK[i]:
        return x
    return _exponential_slow(i, x, key ^ _RETRY_DOMAIN, g, ZX, ZK, ZF)


@njit(inline="always")
def _generate(key, g, t_prev, lam_tot, N, order, use_order, ZX, ZK, ZF):
    """Candidate ``g`` of the global stream: ``t_g = t_{g-1} + Exp(1) / lam_tot`` (ziggurat word ``g`` of
    the exponential stream ``key ^ EXP_DOMAIN``) and a uniform rank in ``0..N-1`` (uniform ``2 g`` of the
    stream ``key``), mapped through ``order`` when stream ids were given."""
    e1 = _exponential(key ^ _EXP_DOMAIN, g, ZX, ZK, ZF)
    t = t_prev + e1 / lam_tot if lam_tot > 0.0 else np.inf  # sup f = 0: no candidate ever
    idx = int(_unit(key, np.uint64(g) * _TWO) * N)
    if idx >= N:
        idx = N - 1
    if use_order:
        idx = order[idx]
    return t, idx


@njit(inline="always")
def _exp_small(u):
    """``e^u`` for ``|u| <= 2^-10`` by its Taylor polynomial of degree 6 (remainder below
    ``u^7 / 5040 e^|u| < 2^-80``: below rounding)."""
    return 1.0 + u * (1.0 + u * (0.5 + u * (1.0 / 6.0 + u * (1.0 / 24.0 + u * (1.0 / 120.0 + u * (1.0 / 720.0))))))


@njit(inline="always")
def _prefetch_record(rec, j):
    P = rec.shape[1]
    for q in range(0, P, 8):
        prefetch(rec, j, q)


@njit
def global_loop(rec, nrank, A, fs, ist, order, use_order, bt, bj, fam, p0, p1, p2, L, I0, xr, t_end,
                rec_t, states, st, sn, max_spikes, key, budget, ZX, ZK, ZF, ftab, f_lo, f_inv_h):
    """Exact thinning with one global candidate stream of rate ``N L`` (bounded ``f``, ``L = sup f``).

    Candidate ``k``: time ``t_k = t_{k-1} + Exp(1) / (N L)`` (ziggurat word ``k`` of the stream
    ``key ^ EXP_DOMAIN``), neuron drawn uniformly (uniform ``2k`` of the stream ``key``), accepted when
    ``U_{2k+1} L < f(X_j(t-))``.  The decision is first taken against the monotone table ``ftab``
    (``f`` at ``len(ftab)`` equispaced points from ``f_lo`` with spacing ``1 / f_inv_h``): on the cell
    of ``x``, ``min <= f(x) <= max`` of the two end values, so ``U L`` below the smaller value accepts
    and above the larger one rejects, the same decision as the exact comparison; only the few
    candidates in between (about ``sup |f'| h / L``), and a potential outside the table, evaluate
    ``f(x)`` and its checks.  The decay ``e^{-(t - t_ref)}`` is ``e^{-(a - t_ref)}`` at an anchor time
    ``a`` (one ``exp``) times the polynomial :func:`_exp_small` of ``a - t``, re-anchored when
    ``t - a > ANCHOR_SPAN``.  Candidates are generated ``D = len(bt)`` ahead (a ring buffer) and their
    records prefetched, which hides the memory latency of the random reads.  The first three
    accumulators live in registers (``nrank >= 3``: the driver pads smaller ranks with zero columns);
    the others, if any, in ``A``.  Returns a status (module docstring); the state is written back to
    ``fs``, ``ist``, ``A``, ``rec``.  ``ist[I_G]`` and ``ist[I_NC]`` equal ``ist[I_K] + D`` and
    ``ist[I_K]`` (every generated candidate is processed in order).
    """
    N = rec.shape[0]
    D = bt.shape[0]
    mask = D - 1
    lam_tot = L * N
    t_ref = fs[F_TREF]
    t_gen = fs[F_TGEN]
    k = ist[I_K]
    n_sp = ist[I_NSP]
    r_idx = ist[I_RIDX]
    n_reb = ist[I_NREB]
    n_rec = rec_t.shape[0]
    cap = st.shape[0]
    status = OK
    key_exp = key ^ _EXP_DOMAIN
    n_cells = ftab.shape[0] - 1
    P = rec.shape[1]
    v0 = 1 + nrank  # column of V_0
    if ist[I_G] < k + D:  # first call: fill the ring buffer (candidates 0..D-1)
        for g in range(k, k + D):
            t_gen, jn = _generate(key, g, t_gen, lam_tot, N, order, use_order, ZX, ZK, ZF)
            bt[g & mask] = t_gen
            bj[g & mask] = jn
            _prefetch_record(rec, jn)
    t_anc = fs[F_TANC]  # -inf before the first candidate
    e_anc = fs[F_EANC]
    ie_anc = fs[F_IEANC]
    a0 = A[0]
    a1 = A[1]
    a2 = A[2]
    t_gate = min(t_end, rec_t[r_idx]) if r_idx < n_rec else t_end
    t_now = fs[F_TNOW]
    left = budget
    finished = False
    if n_sp >= cap:
        status = BUFFER_FULL
        left = 0
    while left > 0:
        slot = k & mask
        t = bt[slot]
        j = bj[slot]
        if t > t_gate or not (t <= t_end):  # a save time passed, or the end (a NaN time ends too)
            if r_idx < n_rec and rec_t[r_idx] < t:
                A[0] = a0
                A[1] = a1
                A[2] = a2
                while r_idx < n_rec and rec_t[r_idx] < t:
                    _save_state(rec, nrank, A, I0, math.exp(-(rec_t[r_idx] - t_ref)), states, r_idx)
                    r_idx += 1
                t_gate = min(t_end, rec_t[r_idx]) if r_idx < n_rec else t_end
            if not (t <= t_end):
                finished = True
                break
        # refill the slot with candidate k + D and prefetch its record.  This is _generate written out:
        # numba's inlining of the helper (which calls the ziggurat's rare branch) made it 3x slower
        g = k + D
        z = _word(key_exp, np.uint64(g))
        zi = np.int64(z & _MASK8)
        zu = float(np.int64(z >> _S11)) * _TWO_M53
        e1 = zu * ZX[zi]
        if not (zu < ZK[zi]):
            e1 = _exponential_slow(zi, e1, key_exp ^ _RETRY_DOMAIN, g, ZX, ZK, ZF)
        t_gen = t_gen + e1 / lam_tot if lam_tot > 0.0 else np.inf
        jn = int(_unit(key, np.uint64(g) * _TWO) * N)
        if jn >= N:
            jn = N - 1
        if use_order:
            jn = order[jn]
        bt[slot] = t_gen
        bj[slot] = jn
        for q in range(0, P, 8):
            prefetch(rec, jn, q)
        ck = np.uint64(k) * _TWO + _ONE
        k += 1
        left -= 1
        t_now = t
        du = t - t_anc
        if not (du <= ANCHOR_SPAN):
            t_anc = t
            e_anc = math.exp(-(t - t_ref))
            ie_anc = math.exp(t - t_ref)
            du = 0.0
        acc = (rec[j, 0] + rec[j, 1] * a0) + (rec[j, 2] * a1 + rec[j, 3] * a2)
        for r in range(3, nrank):
            acc += rec[j, 1 + r] * A[r]
        x = I0 + acc * (e_anc * _exp_small(-du))
        u_l = _unit(key, ck) * L
        # the table squeeze (docstring), written out like the refill above
        y = (x - f_lo) * f_inv_h
        decided = False
        fire = False
        if y >= 0.0 and y < n_cells:
            kc = int(y)
            fa = min(ftab[kc], ftab[kc + 1])
            fb = max(ftab[kc], ftab[kc + 1])
            if u_l < fa:
                decided = True
                fire = True
            elif u_l >= fb:
                decided = True
        if not decided:
            fx = intensity_value(fam, p0, p1, p2, x)
            if not (abs(x) < np.inf and fx < np.inf):
                status = NOT_FINITE
                fs[F_ERRT] = t
                ist[I_ERRJ] = j
                fs[F_ERRV] = x if not abs(x) < np.inf else fx
                break
            if fx < 0.0:
                status = NEGATIVE_INTENSITY
                fs[F_ERRT] = t
                ist[I_ERRJ] = j
                fs[F_ERRV] = fx
                break
            if fx > L * (1.0 + BOUND_SLACK):
                status = ABOVE_BOUND
                fs[F_ERRT] = t
                ist[I_ERRJ] = j
                fs[F_ERRV] = fx
                fs[F_ERRB] = L
                break
            fire = u_l < fx
        if fire:
            if n_sp >= max_spikes:
                status = TOO_MANY_SPIKES
                fs[F_ERRT] = t
                ist[I_ERRJ] = j
                fs[F_ERRV] = n_sp
                break
            st[n_sp] = t
            sn[n_sp] = j
            n_sp += 1
            if t - t_ref > REBASE_AFTER:
                A[0] = a0
                A[1] = a1
                A[2] = a2
                _rebase(rec, nrank, A, math.exp(-(t - t_ref)))
                a0 = A[0]
                a1 = A[1]
                a2 = A[2]
                t_ref = t
                n_reb += 1
                t_anc = t
                e_anc = 1.0
                ie_anc = 1.0
                du = 0.0
            E = ie_anc * _exp_small(du)
            a0 += E * rec[j, v0]
            a1 += E * rec[j, v0 + 1]
            a2 += E * rec[j, v0 + 2]
            zj = (xr - I0) * E - ((rec[j, 1] * a0 + rec[j, 2] * a1) + rec[j, 3] * a2)
            for r in range(3, nrank):
                A[r] += E * rec[j, v0 + r]
                zj -= rec[j, 1 + r] * A[r]
            rec[j, 0] = zj
            if n_sp >= cap:  # this candidate is done: return for larger buffers
                status = BUFFER_FULL
                break
    if status == OK and left == 0:
        status = CHUNK_DONE
    A[0] = a0
    A[1] = a1
    A[2] = a2
    if finished:
        while r_idx < n_rec:
            _save_state(rec, nrank, A, I0, math.exp(-(rec_t[r_idx] - t_ref)), states, r_idx)
            r_idx += 1
        t_now = t_end
    fs[F_TNOW] = t_now
    fs[F_TREF] = t_ref
    fs[F_TGEN] = t_gen
    fs[F_TANC] = t_anc
    fs[F_EANC] = e_anc
    fs[F_IEANC] = ie_anc
    ist[I_K] = k
    ist[I_G] = k + D
    ist[I_NSP] = n_sp
    ist[I_NC] = k
    ist[I_RIDX] = r_idx
    ist[I_NREB] = n_reb
    return status


@njit
def neuron_init(x0, fsup, keys, sids, root1, tn, Lb, ctr, fs, ist):
    """Per-neuron streams, bounded intensity: the global bound ``L = sup f`` for every neuron, first
    candidates (uniform 0 of each stream, as the dense path) and the heap.  Returns ``(status, heap,
    pos)``."""
    N = x0.shape[0]
    status = OK
    for i in range(N):
        Lb[i] = fsup
        if not (Lb[i] < np.inf) and status == OK:
            status = NOT_FINITE
            fs[F_ERRT] = 0.0
            ist[I_ERRJ] = i
            fs[F_ERRV] = Lb[i]
        tn[i] = _next_time(0.0, Lb[i], keys[i], ctr[i], root1)
        ctr[i] += _ONE
    heap, pos = new_heap(tn, sids)
    return status, heap, pos


@njit
def neuron_loop(rec, nrank, A, fs, ist, tn, Lb, ctr, heap, pos, keys, sids, fam, p0, p1, p2,
                I0, xr, t_end, rec_t, states, st, sn, max_spikes, root1, budget):
    """Exact thinning with the dense path's per-neuron streams and event order (``(time, stream_id)``
    heap) and the global bound of a bounded intensity: the same candidates, the same uniforms, the
    same decisions as :func:`solvers.particles._kernels._exact_chunk`, with the potential read from the
    low-rank state.  ``O(log N + R)`` per candidate, ``O(R)`` per spike; at most ``budget``
    candidates per call."""
    t_ref = fs[F_TREF]
    t_now = fs[F_TNOW]
    n_sp = ist[I_NSP]
    n_c = ist[I_NC]
    r_idx = ist[I_RIDX]
    n_reb = ist[I_NREB]
    n_rec = rec_t.shape[0]
    cap = st.shape[0]
    status = OK
    done = 0
    finished = False
    while True:
        if done >= budget:
            status = CHUNK_DONE
            break
        if n_sp >= cap:
            status = BUFFER_FULL
            break
        j = heap[0]
        t = tn[j]
        if not (t <= t_end):
            finished = True
            break
        while r_idx < n_rec and rec_t[r_idx] < t:
            _save_state(rec, nrank, A, I0, math.exp(-(rec_t[r_idx] - t_ref)), states, r_idx)
            r_idx += 1
        t_now = t
        n_c += 1
        done += 1
        dt_ref = t - t_ref
        x = _potential(rec, j, nrank, A, I0, math.exp(-dt_ref))
        fx = intensity_value(fam, p0, p1, p2, x)
        Lj = Lb[j]
        if not (abs(x) < np.inf and fx < np.inf):
            status = NOT_FINITE
            fs[F_ERRT] = t
            ist[I_ERRJ] = j
            fs[F_ERRV] = x if not abs(x) < np.inf else fx
            break
        if fx < 0.0:
            status = NEGATIVE_INTENSITY
            fs[F_ERRT] = t
            ist[I_ERRJ] = j
            fs[F_ERRV] = fx
            break
        if fx > Lj * (1.0 + BOUND_SLACK):
            status = ABOVE_BOUND
            fs[F_ERRT] = t
            ist[I_ERRJ] = j
            fs[F_ERRV] = fx
            fs[F_ERRB] = Lj
            break
        u = uniform(keys[j], ctr[j], root1)
        ctr[j] += _ONE
        if u * Lj < fx:
            if n_sp >= max_spikes:
                status = TOO_MANY_SPIKES
                fs[F_ERRT] = t
                ist[I_ERRJ] = j
                fs[F_ERRV] = n_sp
                break
            st[n_sp] = t
            sn[n_sp] = j
            n_sp += 1
            if dt_ref > REBASE_AFTER:
                _rebase(rec, nrank, A, math.exp(-dt_ref))
                t_ref = t
                dt_ref = 0.0
                n_reb += 1
            _spike_update(rec, j, nrank, A, math.exp(dt_ref), xr, I0)
        tn[j] = _next_time(t, Lb[j], keys[j], ctr[j], root1)
        ctr[j] += _ONE
        if heap[0] == j:
            sift_down(heap, pos, tn, sids, 0)
        else:
            heap_update(heap, pos, tn, sids, j)
    if finished:
        while r_idx < n_rec:
            _save_state(rec, nrank, A, I0, math.exp(-(rec_t[r_idx] - t_ref)), states, r_idx)
            r_idx += 1
        t_now = t_end
    fs[F_TNOW] = t_now
    fs[F_TREF] = t_ref
    ist[I_NSP] = n_sp
    ist[I_NC] = n_c
    ist[I_RIDX] = r_idx
    ist[I_NREB] = n_reb
    return status


@njit
def clock_loop(rec, nrank, fs, ist, fam, p0, p1, p2, I0, xr, keys, root1, grid, rec_t, states, st, sn,
               max_spikes, fired, acc, budget):
    """The clock scheme of :mod:`solvers.particles.clock` with low-rank kicks: ``rec[:, 0]`` holds ``X``;
    at the end of a step the fired neurons' ``a_r = sum_m V_{j_m r}`` is formed (``O(n_fired R)``) and
    every ``X_i += sum_r Us_ir a_r`` (``O(N R)``), then the fired neurons are reset (their own kicks
    are lost: the reset wins).  ``ist[I_K]`` is the next step; returns ``BUFFER_FULL`` before a step
    when fewer than ``N`` spike slots are free, ``CHUNK_DONE`` before a step once ``budget`` work
    units (``N (R + 1)`` per step) are used."""
    N = rec.shape[0]
    n_steps = grid.shape[0] - 1
    k0 = ist[I_K]
    n_sp = ist[I_NSP]
    r_idx = ist[I_RIDX]
    n_rec = rec_t.shape[0]
    cap = st.shape[0]
    status = OK
    k = k0
    work = 0
    while k < n_steps:
        if work >= budget:
            status = CHUNK_DONE
            break
        if n_sp + N > cap:
            status = BUFFER_FULL
            break
        work += N * (nrank + 1)
        t0 = grid[k]
        t1 = grid[k + 1]
        h = t1 - t0
        while r_idx < n_rec and rec_t[r_idx] < t1:
            e = math.exp(-(rec_t[r_idx] - t0))
            for i in range(N):
                states[r_idx, i] = leaky_flow_decayed(I0, rec[i, 0], e)
            r_idx += 1
        nf = 0
        ctr = np.uint64(k)
        for i in range(N):
            xi = rec[i, 0]
            fx = intensity_value(fam, p0, p1, p2, xi)
            if not (fx < np.inf and abs(xi) < np.inf):
                status = NOT_FINITE
                fs[F_ERRT] = t0
                ist[I_ERRJ] = i
                fs[F_ERRV] = fx
                break
            if fx < 0.0:
                status = NEGATIVE_INTENSITY
                fs[F_ERRT] = t0
                ist[I_ERRJ] = i
                fs[F_ERRV] = fx
                break
            if fx * h > 1.0 + 1e-12:
                status = ABOVE_BOUND
                fs[F_ERRT] = t0
                ist[I_ERRJ] = i
                fs[F_ERRV] = fx
                fs[F_ERRB] = 1.0 / h
                break
            if uniform(keys[i], ctr, root1) < -math.expm1(-fx * h):
                fired[nf] = i
                nf += 1
        if status != OK:
            break
        if n_sp + nf > max_spikes:
            status = TOO_MANY_SPIKES
            fs[F_ERRT] = t1
            ist[I_ERRJ] = -1
            fs[F_ERRV] = n_sp + nf
            break
        e = math.exp(-h)
        for r in range(nrank):
            acc[r] = 0.0
        for m in range(nf):
            for r in range(nrank):
                acc[r] += rec[fired[m], 1 + nrank + r]
        for i in range(N):
            kick = 0.0
            for r in range(nrank):
                kick += rec[i, 1 + r] * acc[r]
            rec[i, 0] = leaky_flow_decayed(I0, rec[i, 0], e) + kick
        for m in range(nf):
            rec[fired[m], 0] = xr
            st[n_sp] = t1
            sn[n_sp] = fired[m]
            n_sp += 1
        k += 1
    if status == OK and k == n_steps:
        while r_idx < n_rec:
            for i in range(N):
                states[r_idx, i] = rec[i, 0]
            r_idx += 1
    fs[F_TNOW] = grid[k]
    ist[I_K] = k
    ist[I_NSP] = n_sp
    ist[I_NC] += N * (k - k0)
    ist[I_RIDX] = r_idx
    return status


@njit
def floor_loop(rec, nrank, n, key):
    """The memory-latency floor of :func:`global_loop` (benchmarks): ``n`` reads of a uniformly drawn
    neuron's record (uniform ``2k`` of the same stream) and ``R`` multiply-adds each, nothing else.
    The reads are independent, so the processor overlaps as many as it can."""
    N = rec.shape[0]
    acc = 0.0
    for k in range(n):
        idx = int(_unit(key, np.uint64(k) * _TWO) * N)
        if idx >= N:
            idx = N - 1
        s = rec[idx, 0]
        for r in range(nrank):
            s += rec[idx, 1 + r] * rec[idx, 1 + nrank + r]
        acc += s
    return acc


@njit
def floor_loop_prefetched(rec, nrank, n, key, bj):
    """:func:`floor_loop` with the same ``len(bj)``-ahead prefetching as :func:`global_loop`."""
    N = rec.shape[0]
    D = bj.shape[0]
    mask = D - 1
    for g in range(D):
        idx = int(_unit(key, np.uint64(g) * _TWO) * N)
        bj[g] = idx if idx < N else N - 1
        _prefetch_record(rec, bj[g])
    acc = 0.0
    for k in range(n):
        slot = k & mask
        j = bj[slot]
        idx = int(_unit(key, np.uint64(k + D) * _TWO) * N)
        idx = idx if idx < N else N - 1
        bj[slot] = idx
        _prefetch_record(rec, idx)
        s = rec[j, 0]
        for r in range(nrank):
            s += rec[j, 1 + r] * rec[j, 1 + nrank + r]
        acc += s
    return acc


@njit
def exponential_draws(key, n, ZX, ZK, ZF):
    """Words ``0..n-1`` of the ziggurat exponential stream ``key`` (the global loop's gaps times ``N L``;
    for tests)."""
    out = np.empty(n)
    for g in range(n):
        out[g] = _exponential(key, g, ZX, ZK, ZF)
    return out
