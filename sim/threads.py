"""Fixed math-library thread counts, so that a float32 result does not depend on the caller.

A reduction split over a different number of threads rounds differently; over hundreds of
Adam steps that moves a trained model measurably. :func:`fixed_threads` pins torch's intra-op
pool and every BLAS/OpenMP pool (through threadpoolctl) for a block and restores the
caller's settings afterwards.
"""

from __future__ import annotations

import contextlib
import operator

import torch
from threadpoolctl import threadpool_limits

from sim.errors import InputError

__all__ = ["RUN_THREADS", "fixed_threads"]

# The thread count of every cached training run and probe fit (transformers, bilinear
# models): one thread makes a run a function of its seed alone, the same in a serial run,
# under pytest -n and from the API; and torch's pool of two threads on two busy cores is many
# times slower on these tiny models, not faster.
RUN_THREADS = 1


@contextlib.contextmanager
def fixed_threads(n: int):
    """Run the block with ``n`` torch and BLAS threads; restore the previous counts."""
    try:
        n = operator.index(n)
    except TypeError:
        raise InputError(f"n must be a positive integer thread count; got {n!r}") from None
    if isinstance(n, bool) or n < 1:
        raise InputError(f"n must be a positive integer thread count; got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(before)
