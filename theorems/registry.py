"""Discovery of theorems: this package's own, and those of the packages that declare them.

Theorem packages are found in three places:

* this package, :mod:`theorems` (always);
* every package named by an entry point in the group ``representation_theorems.theorems``
  (``ENTRY_POINT_GROUP``) of an installed distribution: a paper repository declares its
  theorem package in its ``pyproject.toml``::

      [project.entry-points."representation_theorems.theorems"]
      smith2025_theorems = "smith2025_theorems"

* ``REPRESENTATION_THEOREMS_EXTRA`` (``EXTRA_ENV``), the override: when it is set, the
  comma-separated packages it names are used *instead of* the entry points (set it empty to
  register this package's theorems only).

Each package is walked for concrete :class:`~theorems.base.Theorem` subclasses; private
modules (a name part starting with ``_``) are skipped; results are sorted by id, so a new
theorem file is picked up the moment it exists.

Claim ids are namespaced by paper: a claim id starts with its theorem's id,
``<paper>.<slug>``, and every paper key belongs to one package. A second package declaring
a theorem of a paper that another package already holds, two theorems or claims sharing an
id, or two claims sharing a spec key is a :class:`RegistryError` naming both packages.

Bad input gets a typed error that names it: :class:`UnknownTheoremError` and
:class:`UnknownClaimError` for an id that is not registered (with the closest registered
ids), :class:`ExtraPackageError` for a declared package that cannot be imported or walked,
and :class:`RegistryError` for theorems that clash. All are :class:`sim.errors.InputError`;
the two unknown-id errors are also ``KeyError`` (so ``except KeyError`` / ``except
LookupError`` still catch them), the clashes ``RuntimeError``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

import theorems
from sim.errors import InputError
from theorems.base import Claim, Theorem

__all__ = ["ENTRY_POINT_GROUP", "EXTRA_ENV", "ExtraPackageError", "RegistryError", "Source",
           "UnknownClaimError", "UnknownTheoremError", "all_claims", "all_theorems",
           "extra_packages", "get_claim", "get_theorem", "refresh", "source_of", "sources"]

ENTRY_POINT_GROUP = "representation_theorems.theorems"
EXTRA_ENV = "REPRESENTATION_THEOREMS_EXTRA"
BUILTIN = "theorems"
CLOSE_MATCHES = 3  # at most this many suggestions for a mistyped id
CLOSE_CUTOFF = 0.6  # difflib's similarity ratio a suggestion must reach (its default)


class RegistryError(InputError, RuntimeError):
    """Registered theorems clash: two packages declare theorems of one paper, two theorems
    or claims share an id, a claim id does not start with its theorem's, or two claims
    share a spec key."""


class ExtraPackageError(InputError):
    """A declared theorem package (an entry point, or ``REPRESENTATION_THEOREMS_EXTRA``)
    is not an importable package, or one of its modules fails to import."""


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


@dataclass(frozen=True)
class Source:
    """A package of theorems and where it was declared.

    Attributes
    ----------
    package : str
        The importable package that is walked.
    origin : str
        Who declared it, for messages: this package, an entry point (with its
        distribution), or ``REPRESENTATION_THEOREMS_EXTRA``.
    """

    package: str
    origin: str

    def __str__(self) -> str:
        return f"{self.package!r} ({self.origin})"


def extra_packages() -> list[str] | None:
    """The package names listed in ``REPRESENTATION_THEOREMS_EXTRA`` (blanks dropped), or
    None when it is not set (the entry points are used then)."""
    return _parse_extra(os.environ.get(EXTRA_ENV))


def _parse_extra(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def sources() -> list[Source]:
    """The theorem packages to walk: this package, then the override's packages or the
    entry points' (sorted by package name), each once. The entry points are read once per
    value of ``REPRESENTATION_THEOREMS_EXTRA`` (every cache key asks, and reading them
    scans every installed distribution); :func:`refresh` reads them again."""
    return list(_sources(os.environ.get(EXTRA_ENV)))


@cache
def _sources(extra_setting: str | None) -> tuple[Source, ...]:
    found = [Source(BUILTIN, "representation-theorems itself")]
    extra = _parse_extra(extra_setting)  # the setting the result is cached under
    if extra is not None:
        found += [Source(name, EXTRA_ENV) for name in extra]
    else:
        declared = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep.dist, "name", None) or "an unnamed distribution"
            origin = f"entry point {ep.name!r} of {dist}"
            if ep.attr:
                raise ExtraPackageError(
                    f"{origin} in group {ENTRY_POINT_GROUP!r} names {ep.value!r}; it must name "
                    "a package (no ':attribute'), the one that holds the theorem modules")
            declared.append(Source(ep.module, origin))
        found += sorted(declared, key=lambda s: s.package)
    seen: set[str] = set()
    return tuple(s for s in found if not (s.package in seen or seen.add(s.package)))


def all_theorems() -> tuple[Theorem, ...]:
    """One instance of every concrete Theorem subclass of every source, sorted by id."""
    return _discover()[0]


@cache
def _discover() -> tuple[tuple[Theorem, ...], dict[str, Source]]:
    """The registered theorems, sorted by id, and the source of each (by theorem id)."""
    found: dict[str, Theorem] = {}
    owner: dict[str, Source] = {}  # theorem id -> source
    papers: dict[str, Source] = {}  # paper key -> the source that holds it
    for name, source in _modules():
        if any(part.startswith("_") for part in name.split(".")):
            continue
        module = _import(name, source)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, Theorem) and cls.__module__ == module.__name__
                    and not inspect.isabstract(cls)):
                thm = cls()
                held = papers.setdefault(thm.paper, source)
                if held != source:
                    raise RegistryError(
                        f"paper {thm.paper!r} is declared by two packages: {held} and {source} "
                        f"(theorem {thm.id!r} in {module.__name__}); claim ids are namespaced by "
                        "paper, so give one of them another paper key")
                if thm.id in found:
                    raise RegistryError(f"duplicate theorem id {thm.id!r} in {module.__name__} "
                                        f"(also in {type(found[thm.id]).__module__}; package "
                                        f"{source})")
                found[thm.id] = thm
                owner[thm.id] = source
    return tuple(found[k] for k in sorted(found)), owner


def source_of(theorem_id: str) -> Source:
    """The source (package and who declared it) of a registered theorem."""
    get_theorem(theorem_id)
    return _discover()[1][theorem_id]


def _modules():
    """(module name, its Source), for every module to import."""
    for source in sources():
        if source.package == BUILTIN:
            for info in pkgutil.walk_packages(theorems.__path__, prefix="theorems."):
                yield info.name, source
            continue
        name = source.package
        try:
            pkg = importlib.import_module(name)
        except Exception as exc:  # ImportError, or anything its __init__ raises
            raise ExtraPackageError(f"{_declared(source)} names {name!r}, which cannot be "
                                    f"imported: {type(exc).__name__}: {exc}") from None
        if not hasattr(pkg, "__path__"):
            raise ExtraPackageError(f"{_declared(source)} names {name!r}, which is a module, not "
                                    "a package: list the package that holds the theorem modules")

        def failed(sub: str, src: Source = source) -> None:  # called inside the except
            exc = sys.exc_info()[1]
            raise ExtraPackageError(f"{_declared(src)} package {src.package!r}: its subpackage "
                                    f"{sub!r} cannot be imported: {type(exc).__name__}: {exc}") from None
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}.", onerror=failed):
            yield info.name, source


def _declared(source: Source) -> str:
    return EXTRA_ENV if source.origin == EXTRA_ENV else f"the {source.origin}"


def _import(name: str, source: Source):
    if source.package == BUILTIN:  # this package's own modules: an import error is a bug
        return importlib.import_module(name)
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ExtraPackageError(f"{_declared(source)} package {source.package!r}: module {name!r} "
                                f"cannot be imported: {type(exc).__name__}: {exc}") from None


def refresh() -> None:
    """Forget the discovered theorems (after adding a module, installing a theorem package
    or changing ``REPRESENTATION_THEOREMS_EXTRA``)."""
    _sources.cache_clear()
    _discover.cache_clear()
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
                other = specs[c.spec]
                raise RegistryError(
                    f"spec key {c.spec!r} used by {other!r} (package "
                    f"{source_of(_theorem_of(other))}) and {c.id!r} (package {source_of(thm.id)})")
            claims[c.id] = c
            specs[c.spec] = c.id
    return tuple(claims[k] for k in sorted(claims))


def _theorem_of(claim_id: str) -> str:
    return next(t.id for t in all_theorems() if claim_id.startswith(t.id + "."))


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
