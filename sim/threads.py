"""Fixed math-library thread counts, so that a float32 result does not depend on the caller.

A reduction split over a different number of threads rounds differently; over hundreds of
Adam steps that moves a trained model measurably. :func:`fixed_threads` pins torch's intra-op
pool and every BLAS/OpenMP pool (through threadpoolctl) for a block and restores the
caller's settings afterwards.

Entering a block never imports torch: loading it takes seconds, and a measurement made with
numpy alone should not pay for it. When torch is already loaded, its pool is pinned at once;
when it is not, an import hook pins it the moment the block (or a block nested in it) imports
it, before anything in the block can use it, and the block's end gives it the count it had
on loading. threadpoolctl pins the BLAS and OpenMP libraries loaded when the block starts;
one that the block loads (a first ``import scipy.linalg`` or ``sklearn`` inside a
measurement) reads its count from the environment when it loads, so the block sets
:data:`THREAD_ENV` to ``n`` while it is open and gives the caller's values back at its end.
Such a library keeps ``n`` threads after the block (its own default was never read), and a
process that the block starts inherits the block's settings. torch, loaded inside a block,
reads the caller's settings, so that its own count is the one it would have had.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import operator
import os
import sys

from threadpoolctl import threadpool_limits

from sim.errors import InputError

__all__ = ["RUN_THREADS", "THREAD_ENV", "fixed_threads"]

# The thread count of every cached training run and probe fit (transformers, bilinear
# models): one thread makes a run a function of its seed alone, the same in a serial run,
# under pytest -n and from the API; and torch's pool of two threads on two busy cores is many
# times slower on these tiny models, not faster.
RUN_THREADS = 1

# The variables a BLAS or OpenMP library reads its thread count from when it loads:
# OpenMP's (libgomp, LLVM's and Intel's runtimes, and OpenBLAS's fallback), OpenBLAS's, MKL's,
# BLIS's and Apple Accelerate's.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

_OPEN: list[int] = []  # the counts of the blocks now open, innermost last (process-wide,
#                        as torch's and the BLAS libraries' thread counts are)
_CALLER_ENV: dict[str, str | None] = {}  # THREAD_ENV as the outermost open block found it


def _set_env(values: dict[str, str | None]) -> dict[str, str | None]:
    """Set the variables of ``values`` (None: unset); return what they were."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return old


class _TorchPinner(importlib.abc.MetaPathFinder):
    """While a block is open, finds torch as the finders after it do and wraps its loader so
    that its threads are pinned as soon as its ``__init__`` has run."""

    loaded_with = None  # torch's own thread count, read when it loaded inside a block

    def find_spec(self, name, path=None, target=None):
        if name != "torch" or not _OPEN:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PinningLoader(spec.loader, self)
        return spec


class _PinningLoader(importlib.abc.Loader):
    """torch's own loader, and the pinning once it has executed the module."""

    def __init__(self, loader, pinner: _TorchPinner):
        self._loader, self._pinner = loader, pinner

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        block_env = _set_env(_CALLER_ENV)  # torch (and its OpenMP) reads the caller's settings
        try:
            self._loader.exec_module(module)
            self._pinner.loaded_with = module.get_num_threads()  # its own: read on first ask
        finally:  # from here on torch sees its own loader, as if nothing had been in between
            _set_env(block_env)
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
        if _OPEN:
            module.set_num_threads(_OPEN[-1])

    def __getattr__(self, name):  # resources, source, anything else the loader offers
        return getattr(self._loader, name)


_PINNER = _TorchPinner()


@contextlib.contextmanager
def fixed_threads(n: int):
    """Run the block with ``n`` torch and BLAS threads; restore the previous counts (see the
    module docstring for a torch that the block itself loads)."""
    try:
        count = None if isinstance(n, bool) else operator.index(n)
    except TypeError:
        count = None
    if count is None or count < 1:
        raise InputError(f"n must be a positive integer thread count; got {n!r}")
    n = count
    torch = sys.modules.get("torch")
    before = None if torch is None else torch.get_num_threads()
    if torch is not None:
        torch.set_num_threads(n)
    elif _PINNER not in sys.meta_path:
        _PINNER.loaded_with = None
        sys.meta_path.insert(0, _PINNER)
    outer_env = _set_env(dict.fromkeys(THREAD_ENV, str(n)))
    if not _OPEN:
        _CALLER_ENV.clear()
        _CALLER_ENV.update(outer_env)
    _OPEN.append(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        _OPEN.pop()
        _set_env(outer_env)
        if not _OPEN and _PINNER in sys.meta_path:
            sys.meta_path.remove(_PINNER)
        torch = sys.modules.get("torch")
        if torch is not None:
            if before is not None:
                torch.set_num_threads(before)
            elif _PINNER.loaded_with is None:  # loaded by a finder ahead of the pinner's
                raise RuntimeError(
                    f"torch was loaded inside fixed_threads({n}) past sim.threads' import "
                    "hook (another finder placed ahead of it in sys.meta_path found it): its "
                    "threads were not pinned; import torch before entering the block")
            else:  # loaded inside this block: the enclosing block's count, or its own
                torch.set_num_threads(_OPEN[-1] if _OPEN else _PINNER.loaded_with)
