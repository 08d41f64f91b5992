"""Counter-based per-neuron random streams (the compiled code is in :mod:`solvers.particles._kernels`).

Every neuron ``i`` owns a stream identified by a non-negative integer ``stream_id`` (default ``i``).
Its ``k``-th uniform variate is a pure function of ``(root key, stream_id, k)``:

    key_i = mix(mix(stream_id ^ root0) + root1)
    U_k   = to_unit(mix(mix(key_i + (k + 1) * GAMMA) ^ root1))

where ``mix`` is the SplitMix64 finaliser (a bijection of 64-bit words with full avalanche),
``GAMMA = 0x9E3779B97F4A7C15`` the golden-ratio increment of SplitMix64, and ``(root0, root1)``
comes from ``numpy.random.SeedSequence(seed).generate_state(2, numpy.uint64)``.  ``to_unit`` maps
the top 53 bits to the open interval ``(0, 1)`` (``(m + 0.5) 2^-53``), so ``-log(U)`` is finite.

Because a variate depends only on its stream and its counter, a neuron's randomness does not depend
on its position in the arrays, nor on how many draws the other neurons made.  This is what makes the
exact simulator exactly equivariant under relabelling (see :func:`solvers.particles.simulate`).
The generator is not cryptographic; it is SplitMix64 run on a per-stream key with an extra mixing
round, whose statistical quality is well established for simulation.
"""
from __future__ import annotations

import numpy as np

from solvers._random import as_seed_sequence
from solvers.particles._kernels import _stream_keys, uniform, uniforms

__all__ = ["root_key", "stream_keys", "uniform", "uniforms"]


def root_key(seed) -> tuple[np.uint64, np.uint64]:
    """``(root0, root1)`` from ``SeedSequence(seed).generate_state(2, uint64)``."""
    state = as_seed_sequence(seed).generate_state(2, dtype=np.uint64)
    return np.uint64(state[0]), np.uint64(state[1])


def stream_keys(stream_ids: np.ndarray, root: tuple[np.uint64, np.uint64]) -> np.ndarray:
    """Per-stream keys, shape ``(N,)`` uint64."""
    return _stream_keys(np.ascontiguousarray(stream_ids, dtype=np.uint64), root[0], root[1])
