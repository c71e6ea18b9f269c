"""Discovery of theorems: walk the ``theorems`` package and collect Theorem subclasses.

Private modules (a name part starting with ``_``) are skipped; results are sorted by id,
and duplicate theorem or claim ids are errors, so a new theorem file is picked up (and
checked by the contract test) the moment it exists.

Theorems may also live outside this package (say, in a paper's own repository): list
their importable packages, comma-separated, in ``REPRESENTATION_THEOREMS_EXTRA``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from functools import cache

import theorems
from theorems.base import Claim, Theorem


@cache
def all_theorems() -> tuple[Theorem, ...]:
    """One instance of every concrete Theorem subclass under :mod:`theorems`, sorted by id."""
    found: dict[str, Theorem] = {}
    for info in _modules():
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, Theorem) and cls.__module__ == module.__name__
                    and not inspect.isabstract(cls)):
                thm = cls()
                if thm.id in found:
                    raise RuntimeError(f"duplicate theorem id {thm.id!r} in {module.__name__}")
                found[thm.id] = thm
    return tuple(found[k] for k in sorted(found))


def _modules():
    yield from pkgutil.walk_packages(theorems.__path__, prefix="theorems.")
    extra = [p.strip() for p in os.environ.get("REPRESENTATION_THEOREMS_EXTRA", "").split(",")]
    for name in filter(None, extra):
        try:
            pkg = importlib.import_module(name)
        except ImportError as exc:
            raise RuntimeError(f"REPRESENTATION_THEOREMS_EXTRA names {name!r}, which cannot be "
                               f"imported: {exc}") from exc
        yield from pkgutil.walk_packages(pkg.__path__, prefix=f"{name}.")


def refresh() -> None:
    """Forget the discovered theorems (after adding a module or changing the extra path)."""
    all_theorems.cache_clear()
    all_claims.cache_clear()


@cache
def all_claims() -> tuple[Claim, ...]:
    """Every claim of every registered theorem, sorted by id; duplicate ids or specs raise."""
    claims: dict[str, Claim] = {}
    specs: dict[str, str] = {}
    for thm in all_theorems():
        for c in thm.claims():
            if not c.id.startswith(thm.id + "."):
                raise RuntimeError(f"claim {c.id!r} must start with its theorem id {thm.id!r}.")
            if c.id in claims:
                raise RuntimeError(f"duplicate claim id {c.id!r}")
            if c.spec in specs:
                raise RuntimeError(f"spec key {c.spec!r} used by {specs[c.spec]!r} and {c.id!r}")
            claims[c.id] = c
            specs[c.spec] = c.id
    return tuple(claims[k] for k in sorted(claims))


def get_claim(claim_id: str) -> Claim:
    """The registered claim with this id (KeyError listing the known ids otherwise)."""
    for c in all_claims():
        if c.id == claim_id:
            return c
    raise KeyError(f"no registered claim {claim_id!r}; known: {[c.id for c in all_claims()]}")
