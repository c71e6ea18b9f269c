"""Work shared between the processes of one run of the paper checks.

Under ``pytest -n`` the claims that rest on one expensive computation (a trained network)
may land on different workers. The plugin then names a folder private to the run in the
environment variable ``SHARE_ENV``; :func:`shared` lets the first process that needs a
result compute it (holding a lock) and store it there, and the others load it. Without the
variable every process computes its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

__all__ = ["SHARE_ENV", "shared", "share_folder"]

SHARE_ENV = "REPRESENTATION_THEOREMS_RUN_SHARE"

T = TypeVar("T")


def share_folder() -> Path | None:
    """The run's share folder, or None outside a multi-process run."""
    folder = os.environ.get(SHARE_ENV)
    return Path(folder) if folder else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def shared(name: str, key: object, compute: Callable[[], T],
           save: Callable[[T, Path], None], load: Callable[[Path], T]) -> T:
    """``compute()``, or the result another process of the same run stored under
    (``name``, ``key``). ``key`` must determine the result (its ``repr`` is hashed);
    ``save(result, path)`` writes it and ``load(path)`` reads it back. The file is written
    under a temporary name and renamed, so a process that dies while saving leaves nothing
    another could load."""
    folder = share_folder()
    if folder is None:
        return compute()
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    path = folder / f"{name}-{digest}.bin"
    with _locked(path):
        if path.exists():
            return load(path)
        result = compute()
        tmp = path.with_suffix(".partial")
        save(result, tmp)
        os.replace(tmp, path)
        return result
