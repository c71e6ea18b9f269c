"""Seed -> independent generators, one per random stream.

A run's seed never feeds a global generator. :func:`streams` derives independent
``numpy.random.Generator`` objects (and torch generators on request) for named streams
(data, initialisation, batches, ...) through :class:`numpy.random.SeedSequence`, so that
changing how one stream is used never changes the draws of another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sim.errors import InputError, count

STREAMS = ("data", "init", "batches", "noise")


@dataclass(frozen=True)
class Streams:
    """Independent numpy generators derived from one seed (fields: the stream names)."""

    seed: int
    data: np.random.Generator
    init: np.random.Generator
    batches: np.random.Generator
    noise: np.random.Generator

    def torch(self, stream: str) -> torch.Generator:
        """A torch CPU generator for ``stream``, seeded from that stream's numpy generator."""
        if stream not in STREAMS:
            raise InputError(f"unknown stream {stream!r}; known: {STREAMS}")
        # Draw from a fresh child of the same SeedSequence so the numpy stream is untouched.
        child = np.random.SeedSequence(self.seed, spawn_key=(STREAMS.index(stream), 1))
        g = torch.Generator(device="cpu")
        g.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
        return g


def streams(seed: int) -> Streams:
    """Derive the named independent generators from a non-negative integer ``seed``."""
    seed = count("seed", seed, minimum=0, maximum=None)
    gens = {
        name: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        for i, name in enumerate(STREAMS)
    }
    return Streams(seed=seed, **gens)
