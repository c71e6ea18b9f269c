"""Expensive results (trained runs) shared between the processes of a run, and across runs.

Under ``pytest -n`` the claims that rest on one expensive computation (a trained network)
may land on different workers. The plugin then names a folder private to the run in the
environment variable ``SHARE_ENV``; :func:`shared` lets the first process that needs a
result compute it (holding a lock) and store it there, and the others load it.

When the claim cache is on (:mod:`theorems.cache`; the plugin names its folder in
``CACHE_ENV``), :func:`shared` stores the result in the cache instead, under a key of the
given ``key``, the source closure of the calling module (the module that trains it and
every project module it may import), the settings and the numerical stack, so that a later
run with nothing changed loads it instead of computing it; the cache's lock serialises the
workers of one run as the share folder's does. An entry whose key or checksum does not
match, or that ``load`` cannot read, is never trusted: it is reported on the
``representation_theorems.cache`` logger (WARNING), computed again and replaced.

Without either variable every process computes its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

__all__ = ["CACHE_ENV", "SHARE_ENV", "cache_folder", "shared", "share_folder"]

SHARE_ENV = "REPRESENTATION_THEOREMS_RUN_SHARE"
CACHE_ENV = "REPRESENTATION_THEOREMS_RUN_CACHE"
LOG = logging.getLogger("representation_theorems.cache")

T = TypeVar("T")


def share_folder() -> Path | None:
    """The run's share folder, or None outside a multi-process run."""
    folder = os.environ.get(SHARE_ENV)
    return Path(folder) if folder else None


def cache_folder() -> Path | None:
    """The claim cache's folder when the cache is on, else None."""
    folder = os.environ.get(CACHE_ENV)
    return Path(folder) if folder else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def shared(name: str, key: object, compute: Callable[[], T],
           save: Callable[[T, Path], None], load: Callable[[Path], T], *,
           module: str | None = None, stack: dict | None = None) -> T:
    """``compute()``, or the result stored under (``name``, ``key``) by another process of
    the same run or, with the cache on, by an earlier run. ``key`` must determine the result
    given the source of ``module`` (default: the caller's module) and what it imports (its
    ``repr`` is hashed); ``save(result, path)`` writes it and ``load(path)`` reads it back.
    The file is written under a temporary name and renamed, so a process that dies while
    saving leaves nothing another could load. ``stack``: the numerical stack the cache key
    records (default: this process's, :func:`theorems._keys.stack`); a worker that computes
    on another process's behalf, on kernels pinned differently, passes that process's."""
    cache = cache_folder()
    if cache is not None:
        caller = module or sys._getframe(1).f_globals.get("__name__", "")
        return _cached(cache, name, key, caller, compute, save, load, stack)
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


def run_key(name: str, key: object, module: str, stack: dict | None = None) -> dict:
    """The cache key of a shared result computed by ``module`` (on ``stack``, default this
    process's)."""
    from theorems import _keys, cache
    return {"schema": cache.SCHEMA, "kind": "run", "name": name, "key": repr(key),
            "sources": _keys.source_closure([module, "theorems.runshare"]),
            "stack": _keys.stack() if stack is None else stack, "settings": cache.settings()}


def _cached(folder: Path, name: str, key: object, module: str, compute, save, load,
            stack: dict | None = None):
    from theorems import cache
    full = run_key(name, key, module, stack)
    runs = folder / f"v{cache.SCHEMA}" / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    entry = runs / f"{name}-{cache.digest(full)[:32]}"
    with open(runs / f"{entry.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if entry.exists():
            try:
                result = _load(entry, full, load)
                LOG.info("trained run %s loaded from the cache", name,
                         extra={"cache_event": ("run reused", name)})
                return result
            except cache.EntryError as exc:
                LOG.warning("cache entry %s ignored (%s); computed again", entry, exc,
                            extra={"cache_event": ("problem", str(entry))})
                shutil.rmtree(entry, ignore_errors=True)
        result = compute()
        try:
            _store(entry, full, result, save)
            LOG.info("trained run %s stored in the cache", name,
                     extra={"cache_event": ("run stored", name)})
        except OSError as exc:
            LOG.warning("trained run %s not cached (%s)", name, exc,
                        extra={"cache_event": ("problem", str(entry))})
        return result


def _load(entry: Path, full: dict, load):
    from theorems import cache
    meta = cache.read_entry(entry / "entry.json", full, "run")
    data = entry / "data.bin"
    try:
        actual = hashlib.sha256(data.read_bytes()).hexdigest()
    except OSError as exc:
        raise cache.EntryError(f"its data is unreadable: {exc}") from None
    if not isinstance(meta, dict) or actual != meta.get("data_sha256"):
        raise cache.EntryError("its data's checksum does not match (corrupt)")
    try:
        return load(data)
    except Exception as exc:  # a file that passed the checksum but does not load
        raise cache.EntryError(f"load failed: {type(exc).__name__}: {exc}") from None


def _store(entry: Path, full: dict, result, save) -> None:
    from theorems import cache
    tag = entry.parent.parent.parent / cache.TAG
    if not tag.is_file():
        cache.write_atomic(tag, cache.TAG_TEXT.encode())
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}.", suffix=".tmp"))
    try:
        save(result, tmp / "data.bin")
        meta = json.dumps({"data_sha256": hashlib.sha256((tmp / "data.bin").read_bytes()).hexdigest()})
        (tmp / "entry.json").write_bytes(cache.make_entry(full, "run", meta.encode()))
        os.replace(tmp, entry)  # entry is absent: this process holds its lock
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
