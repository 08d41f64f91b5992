"""Seeds: every random draw of ifmf goes through :class:`numpy.random.SeedSequence`.

A seed is a non-negative int or a ``SeedSequence``; independent streams for sub-tasks are made by
``SeedSequence.spawn`` so that adding a task never changes the streams of the others.
"""
from __future__ import annotations

import numpy as np

from solvers.validation import check_seed

__all__ = ["as_seed_sequence", "make_rng"]


def as_seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """Validate ``seed`` (non-negative int or SeedSequence) and return a SeedSequence."""
    return check_seed(seed, name)


def make_rng(seed, name: str = "seed") -> np.random.Generator:
    """A PCG64 generator seeded through SeedSequence."""
    return np.random.Generator(np.random.PCG64(as_seed_sequence(seed, name)))
