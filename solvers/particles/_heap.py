"""Indexed binary min-heap over neurons (numba), ordered by ``(time, stream_id)``.

Every neuron stays in the heap for the whole run; its key is the time of its next candidate event
(``inf`` if it has none).  Ties are broken by the neuron's stream id, so the order in which events
are processed does not depend on the neurons' positions in the arrays (relabelling equivariance).
``heap[k]`` is the neuron at heap slot ``k``; ``pos[i]`` the slot of neuron ``i``.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _less(a, b, tn, sid):
    ta = tn[a]
    tb = tn[b]
    return ta < tb or (ta == tb and sid[a] < sid[b])


@numba.njit(cache=True)
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


@numba.njit(cache=True)
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


@numba.njit(cache=True)
def update(heap, pos, tn, sid, i):
    """Restore the heap after the key of neuron ``i`` changed."""
    sift_up(heap, pos, tn, sid, pos[i])
    sift_down(heap, pos, tn, sid, pos[i])


@numba.njit(cache=True)
def heapify(heap, pos, tn, sid):
    n = heap.shape[0]
    for k in range(n):
        pos[heap[k]] = k
    for k in range(n // 2 - 1, -1, -1):
        sift_down(heap, pos, tn, sid, k)


@numba.njit(cache=True)
def new_heap(tn, sid):
    n = tn.shape[0]
    heap = np.arange(n)
    pos = np.arange(n)
    heapify(heap, pos, tn, sid)
    return heap, pos
