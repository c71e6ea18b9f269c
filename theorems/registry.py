"""Discovery of theorems: walk the ``theorems`` package and collect Theorem subclasses.

Private modules (a name part starting with ``_``) are skipped; results are sorted by id,
and duplicate theorem or claim ids are errors, so a new theorem file is picked up (and
checked by the contract test) the moment it exists.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache

import theorems
from theorems.base import Claim, Theorem


@cache
def all_theorems() -> tuple[Theorem, ...]:
    """One instance of every concrete Theorem subclass under :mod:`theorems`, sorted by id."""
    found: dict[str, Theorem] = {}
    for info in pkgutil.walk_packages(theorems.__path__, prefix="theorems."):
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
