"""Discovery of theorems: walk the ``theorems`` package and collect Theorem subclasses.

Private modules (a name part starting with ``_``) are skipped; results are sorted by id,
and duplicate theorem or claim ids are errors, so a new theorem file is picked up (and
checked by the contract test) the moment it exists.

Theorems may also live outside this package (say, in a paper's own repository): list
their importable packages, comma-separated, in ``REPRESENTATION_THEOREMS_EXTRA``.

Bad input gets a typed error that names it: :class:`UnknownTheoremError` and
:class:`UnknownClaimError` for an id that is not registered (with the closest registered
ids), :class:`ExtraPackageError` for an extra package that cannot be imported or walked,
and :class:`RegistryError` for theorems that clash (duplicate ids or spec keys). All are
:class:`sim.errors.InputError`; the two unknown-id errors are also ``KeyError`` (so
``except KeyError`` / ``except LookupError`` still catch them), the clashes ``RuntimeError``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
import sys
from functools import cache

import theorems
from sim.errors import InputError
from theorems.base import Claim, Theorem

EXTRA_ENV = "REPRESENTATION_THEOREMS_EXTRA"
CLOSE_MATCHES = 3  # at most this many suggestions for a mistyped id
CLOSE_CUTOFF = 0.6  # difflib's similarity ratio a suggestion must reach (its default)


class RegistryError(InputError, RuntimeError):
    """Registered theorems clash: two theorems or claims share an id, a claim id does not
    start with its theorem's, or two claims share a spec key."""


class ExtraPackageError(InputError):
    """``REPRESENTATION_THEOREMS_EXTRA`` names something that is not an importable package,
    or one of that package's modules fails to import."""


class _UnknownId(InputError, KeyError):
    """An id that is not registered. ``str()`` is the plain message (KeyError would quote it)."""

    def __init__(self, message: str, key: str, suggestions: list[str]):
        super().__init__(message)
        self.key = key
        self.suggestions = suggestions

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownTheoremError(_UnknownId):
    """No registered theorem has this id; ``suggestions`` holds the closest registered ids."""


class UnknownClaimError(_UnknownId):
    """No registered claim has this id; ``suggestions`` holds the closest registered ids."""


@cache
def all_theorems() -> tuple[Theorem, ...]:
    """One instance of every concrete Theorem subclass under :mod:`theorems`, sorted by id."""
    found: dict[str, Theorem] = {}
    for name, extra in _modules():
        if any(part.startswith("_") for part in name.split(".")):
            continue
        module = _import(name, extra)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, Theorem) and cls.__module__ == module.__name__
                    and not inspect.isabstract(cls)):
                thm = cls()
                if thm.id in found:
                    raise RegistryError(f"duplicate theorem id {thm.id!r} in {module.__name__} "
                                        f"(also in {type(found[thm.id]).__module__})")
                found[thm.id] = thm
    return tuple(found[k] for k in sorted(found))


def extra_packages() -> list[str]:
    """The package names listed in ``REPRESENTATION_THEOREMS_EXTRA`` (blanks dropped)."""
    return [p.strip() for p in os.environ.get(EXTRA_ENV, "").split(",") if p.strip()]


def _modules():
    """(module name, the extra package it came from or None), for every module to import."""
    for info in pkgutil.walk_packages(theorems.__path__, prefix="theorems."):
        yield info.name, None
    for name in extra_packages():
        try:
            pkg = importlib.import_module(name)
        except Exception as exc:  # ImportError, or anything its __init__ raises
            raise ExtraPackageError(f"{EXTRA_ENV} names {name!r}, which cannot be imported: "
                                    f"{type(exc).__name__}: {exc}") from None
        if not hasattr(pkg, "__path__"):
            raise ExtraPackageError(f"{EXTRA_ENV} names {name!r}, which is a module, not a "
                                    "package: list the package that holds the theorem modules")

        def failed(sub: str, pkg_name: str = name) -> None:  # called inside the except
            exc = sys.exc_info()[1]
            raise ExtraPackageError(f"{EXTRA_ENV} package {pkg_name!r}: its subpackage {sub!r} "
                                    f"cannot be imported: {type(exc).__name__}: {exc}") from None
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}.", onerror=failed):
            yield info.name, name


def _import(name: str, extra: str | None):
    if extra is None:  # this package's own modules: an import error is a bug, shown as such
        return importlib.import_module(name)
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ExtraPackageError(f"{EXTRA_ENV} package {extra!r}: module {name!r} cannot be "
                                f"imported: {type(exc).__name__}: {exc}") from None


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
                raise RegistryError(f"claim {c.id!r} must start with its theorem id {thm.id!r}.")
            if c.id in claims:
                raise RegistryError(f"duplicate claim id {c.id!r}")
            if c.spec in specs:
                raise RegistryError(f"spec key {c.spec!r} used by {specs[c.spec]!r} and {c.id!r}")
            claims[c.id] = c
            specs[c.spec] = c.id
    return tuple(claims[k] for k in sorted(claims))


def _unknown(error: type[_UnknownId], kind: str, key, known: list[str], hint: str = ""):
    if not isinstance(key, str):
        like = f" like {known[0]!r}" if known else ""
        return error(f"a {kind} id must be a string{like}; got {type(key).__name__} {key!r}",
                     key, [])
    close = difflib.get_close_matches(key, known, n=CLOSE_MATCHES, cutoff=CLOSE_CUTOFF)
    if not hint:
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif known:
            hint = f"{len(known)} {kind}s are registered; `python -m theorems list` shows them"
        else:
            hint = f"no {kind} is registered"
    return error(f"no {kind} {key!r}; {hint}", key, close)


def get_theorem(theorem_id: str) -> Theorem:
    """The registered theorem with this id; :class:`UnknownTheoremError` (a KeyError)
    naming the closest registered ids otherwise."""
    thms = all_theorems()
    for thm in thms:
        if thm.id == theorem_id:
            return thm
    ids = [t.id for t in thms]
    hint = ""
    if isinstance(theorem_id, str):
        owners = sorted({t for t in ids if theorem_id.startswith(t + ".")})
        if owners:  # a claim id given where a theorem id is expected
            hint = f"that is a claim id; its theorem is {owners[0]!r}"
    raise _unknown(UnknownTheoremError, "theorem", theorem_id, ids, hint)


def get_claim(claim_id: str) -> Claim:
    """The registered claim with this id; :class:`UnknownClaimError` (a KeyError) naming
    the closest registered ids otherwise (or the claim whose spec key was given)."""
    claims = all_claims()
    for c in claims:
        if c.id == claim_id:
            return c
    hint = ""
    spec = [c.id for c in claims if c.spec == claim_id]
    if spec:
        hint = f"{claim_id!r} is the spec key of claim {spec[0]!r}"
    elif isinstance(claim_id, str) and any(t.id == claim_id for t in all_theorems()):
        hint = ("that is a theorem id; its claims are "
                + ", ".join(repr(c.id) for c in claims if c.id.startswith(claim_id + ".")))
    raise _unknown(UnknownClaimError, "claim", claim_id, [c.id for c in claims], hint)
