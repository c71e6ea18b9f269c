"""The claim-level cache: evidence (and trained runs) stored under a key of all it rests on.

The paper-checks plugin stores every claim's :class:`~theorems.base.Evidence` (with its
figures) after measuring it, and reuses it when the same claim is checked again with nothing
changed. "Nothing changed" is the key (:meth:`Cache.evidence_key`): the claim's parameters
(id, statement, criteria and their thresholds, declared and selected seeds, statistic,
expect, the functions it calls and the arguments bound to them), the source of every
project module those functions may import (:func:`theorems._keys.source_closure`), the settings
that change results (the scale, ``REPRESENTATION_THEOREMS_*`` variables, math threads), the
versions of Python and the numerical stack, the machine and :data:`SCHEMA`; and torch's CPU
capability and the device for a claim whose closure imports torch at a module's top level
(:func:`theorems._keys.imports_torch`). Editing a file re-checks exactly the claims whose
closure holds it. A claim whose closure does not import torch so (it may still load it inside a
function, or through another library) is keyed without torch, so that looking it up never
loads torch; if torch was loaded when it was measured, its entry records torch's CPU
capability and device, and a lookup on a machine where they differ does not trust it.

An entry is one file that holds its full key, the payload and the payload's sha256. An entry
whose file cannot be read, whose schema or key differs from the one looked up, whose
checksum fails, or whose payload does not rebuild the very record it was stored with is
never trusted, and neither is one measured with torch loaded on a machine whose torch CPU
capability or device differs from this one's: the lookup says why (:class:`Lookup.problem`),
and the claim is measured again and its entry replaced. Every write goes to a temporary file in the entry's folder
and is renamed into place (``os.replace``), so concurrent runs and ``pytest -n`` workers
only ever see whole entries.

The folder (the plugin's default is ``platformdirs.user_cache_dir("representation-theorems")``) is the
package's own: it holds ``CACHEDIR.TAG`` (the cache-directory tag that backup tools skip),
and a folder that exists without it and is not empty is refused (:func:`folder_problem`).
Deleting the folder clears the cache.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from theorems import _keys
from theorems.base import Claim, Evidence, Measurement

SCHEMA = 1  # bump when an entry's layout or meaning changes: older entries are foreign
FORMAT = "representation-theorems cache entry"
TAG = "CACHEDIR.TAG"
TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
            "# The representation-theorems claim cache (theorems.cache); delete the folder to "
            "clear it.\n")
# Environment variables that never change a result (where things go, not what they are).
NEUTRAL_ENV = ("REPRESENTATION_THEOREMS_RUN_SHARE", "REPRESENTATION_THEOREMS_RUN_CACHE")
# The modules that turn a measurement into a record; every evidence key covers them.
MACHINERY = ("theorems.base", "theorems.tolerances", "theorems.report", "theorems.cache",
             "theorems._keys", "theorems.pytest_plugin", "sim.threads")


def folder_problem(path) -> str | None:
    """None if ``path`` can be the cache folder (absent, empty, or one holding ``TAG``);
    otherwise why not, naming it."""
    path = Path(path)
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            return f"{path} cannot be created: {parent} is a file"
        return None
    if not path.is_dir():
        return f"{path} is a file, not a cache folder; choose another folder"
    if (path / TAG).is_file() or not any(path.iterdir()):
        return None
    return (f"{path} is a non-empty folder that is not a representation-theorems cache (it has "
            f"no {TAG}): refusing to write into it; choose another folder")


def settings() -> dict:
    """The environment settings that may change a result."""
    return {k: v for k, v in sorted(os.environ.items())
            if k.startswith("REPRESENTATION_THEOREMS_") and k not in NEUTRAL_ENV}


def digest(key: dict) -> str:
    return hashlib.sha256(_canonical(key).encode()).hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _primitive(value, depth: int = 0):
    """``repr`` of a value that the source does not determine (a closure's cell, a default),
    when it is plain data; otherwise its type."""
    if isinstance(value, (bool, int, float, str, bytes, type(None))):
        return repr(value)
    if isinstance(value, (tuple, list, frozenset)) and depth < 3 and len(value) <= 64:
        return [_primitive(v, depth + 1) for v in value]
    if callable(value) and depth < 2:
        return fingerprint(value, depth + 1)
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def fingerprint(fn, depth: int = 0) -> dict | None:
    """Where a claim's function is defined, and the plain data it closes over or is bound
    to (a ``functools.partial``'s arguments, outermost first)."""
    if fn is None:
        return None
    bound = []
    while hasattr(fn, "func") and hasattr(fn, "args"):  # functools.partial
        keywords = getattr(fn, "keywords", None) or {}
        bound.append([[_primitive(a, depth) for a in fn.args],
                      [[k, _primitive(keywords[k], depth)] for k in sorted(keywords)]])
        fn = fn.func
    inner = getattr(fn, "__func__", fn)
    out = {"module": getattr(inner, "__module__", None) or type(fn).__module__,
           "qualname": getattr(inner, "__qualname__", type(fn).__qualname__)}
    cells = getattr(inner, "__closure__", None) or ()
    out["cells"] = [_primitive(_cell(c), depth) for c in cells]
    out["defaults"] = [_primitive(d, depth) for d in (getattr(inner, "__defaults__", None) or ())]
    if bound:
        out["bound"] = bound
    return out


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return "<empty>"


def _modules_of(claim: Claim) -> list[str]:
    """The modules a claim's key starts from: those of its functions (and of the functions
    they close over or are bound to). The module that builds the claim enters the key only
    through them: what it states (statement, criteria, seeds) is in the claim's parameters,
    what it passes to a shared function is in that function's fingerprint, and a function
    it defines is walked. So a key never needs the registry, and looking one up imports
    nothing the claim does not."""
    found: list = []

    def walk(fp):
        if isinstance(fp, dict):
            found.append(fp.get("module"))
            for v in fp.get("cells", []) + fp.get("defaults", []) + fp.get("bound", []):
                walk(v)
        elif isinstance(fp, list):
            for v in fp:
                walk(v)
    for fn in (claim.measure, claim.figure, claim.prepare):
        walk(fingerprint(fn))
    return sorted({m for m in found if isinstance(m, str)})


def claim_parameters(claim: Claim) -> dict:
    return {"id": claim.id, "spec": claim.spec, "paper": claim.paper,
            "reference": claim.reference, "statement": claim.statement, "kind": claim.kind,
            "criteria": [[t.statistic, repr(float(t.bound)), t.upper, t.why] for t in claim.criteria],
            "seeds": list(claim.seeds), "statistic": claim.statistic,
            "budget_s": repr(claim.budget_s), "expect": claim.expect,
            "expect_reason": claim.expect_reason,
            "functions": {role: fingerprint(fn) for role, fn in (
                ("measure", claim.measure), ("figure", claim.figure), ("prepare", claim.prepare))}}


@dataclass(frozen=True)
class Lookup:
    """The outcome of a lookup: ``evidence`` and ``figures`` on a hit; on a miss ``problem``
    says why an entry that was there was not trusted (empty when there was none)."""

    evidence: Evidence | None = None
    figures: dict | None = None
    problem: str = ""
    path: Path | None = None


class Cache:
    """A cache folder (see the module docstring); ``math_threads`` enters every key."""

    def __init__(self, folder, math_threads: int):
        self.folder = Path(folder)
        self.math_threads = math_threads
        self._stacks: dict[bool, dict] = {}

    @property
    def root(self) -> Path:
        return self.folder / f"v{SCHEMA}"

    def _ensure(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / TAG).is_file():
            write_atomic(self.folder / TAG, TAG_TEXT.encode())

    def environment(self, torch: bool = True) -> dict:
        """The key's settings, math threads and stack (torch's facts included if ``torch``)."""
        if torch not in self._stacks:
            self._stacks[torch] = _keys.stack(torch=torch)
        return {"stack": self._stacks[torch], "settings": settings(),
                "math_threads": self.math_threads}

    def evidence_key(self, claim: Claim, seeds: tuple[int, ...]) -> dict:
        roots = _modules_of(claim) + list(MACHINERY)
        sources = _keys.source_closure(roots)
        return {"schema": SCHEMA, "kind": "evidence", "claim": claim_parameters(claim),
                "selected_seeds": list(seeds), "sources": sources,
                **self.environment(torch=_keys.imports_torch(sources))}

    def evidence_path(self, key: dict) -> Path:
        return self.root / "evidence" / f"{digest(key)}.json"

    def lookup(self, claim: Claim, seeds: tuple[int, ...]) -> Lookup:
        key = self.evidence_key(claim, seeds)
        path = self.evidence_path(key)
        if not path.exists():
            return Lookup(path=path)
        try:
            payload = read_entry(path, key, "evidence")
            ev, figures, record = _decode(claim, payload)
            from theorems import report
            if report.evidence_record(ev) != record:
                raise EntryError("its payload does not rebuild the record it was stored with")
            measured_with = payload.get("loaded_torch", False)
            if measured_with is not None and not isinstance(measured_with, dict):
                raise EntryError("its payload is malformed: it does not say whether torch was "
                                 "loaded when it was measured")
            if measured_with is not None and measured_with != _keys.torch_facts():
                raise EntryError(f"measured with torch loaded where {_facts(measured_with)}; "
                                 f"here {_facts(_keys.torch_facts())}")
        except EntryError as exc:
            return Lookup(problem=f"cache entry {path} ignored ({exc}); measured again", path=path)
        return Lookup(ev, figures, path=path)

    def store(self, claim: Claim, seeds: tuple[int, ...], ev: Evidence, figures: dict,
              torch_loaded: bool | None = None) -> str:
        """Store the evidence; returns "" or why it was not stored (never raises).

        ``torch_loaded``: whether torch was loaded where the evidence was measured (default:
        whether this process has loaded it); if so and the key holds no torch facts, the
        entry records this process's."""
        from theorems import report
        try:
            key = self.evidence_key(claim, seeds)
            if torch_loaded is None:
                torch_loaded = "torch" in sys.modules
            loaded = (_keys.torch_facts() if torch_loaded
                      and "torch_cpu_capability" not in key["stack"] else None)
            payload = _encode(ev, figures, loaded)
            rebuilt = _decode(claim, json.loads(payload))[0]
            bare = dataclasses.replace(ev, figures=(), reproduce="")
            if report.evidence_record(rebuilt) != report.evidence_record(bare):
                return (f"claim {claim.id}: evidence not cached (its values do not survive "
                        "being stored exactly)")
            self._ensure()
            write_atomic(self.evidence_path(key), make_entry(key, "evidence", payload.encode()))
        except (OSError, TypeError, ValueError, EntryError) as exc:
            return f"claim {claim.id}: evidence not cached ({type(exc).__name__}: {exc})"
        return ""


class EntryError(ValueError):
    """A cache entry that must not be trusted; the message says why."""


def make_entry(key: dict, kind: str, payload: bytes) -> bytes:
    """An entry file: its format, schema, kind, full key, the payload and its sha256."""
    return json.dumps({"format": FORMAT, "schema": SCHEMA, "kind": kind, "key": key,
                       "sha256": hashlib.sha256(payload).hexdigest(),
                       "payload": payload.decode()}, sort_keys=True, default=repr).encode()


def check_header(entry, key: dict, kind: str) -> None:
    """Raise EntryError unless ``entry`` (a parsed entry) is of this format, schema, kind
    and key."""
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        raise EntryError("not a representation-theorems cache entry")
    if entry.get("schema") != SCHEMA:
        raise EntryError(f"foreign schema {entry.get('schema')!r}, this package reads {SCHEMA}")
    if entry.get("kind") != kind:
        raise EntryError(f"an entry of kind {entry.get('kind')!r}, not {kind!r}")
    if json.loads(_canonical(entry.get("key"))) != json.loads(_canonical(key)):
        raise EntryError("its key differs from the one looked up (a foreign or altered entry)")


def read_entry(path: Path, key: dict, kind: str):
    """The parsed payload of the entry at ``path``, checked against ``key``; EntryError."""
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise EntryError(f"unreadable, corrupt or truncated: {type(exc).__name__}: {exc}") from None
    check_header(entry, key, kind)
    payload = entry.get("payload")
    if not isinstance(payload, str):
        raise EntryError("it holds no payload")
    if hashlib.sha256(payload.encode()).hexdigest() != entry.get("sha256"):
        raise EntryError("its checksum does not match its payload (corrupt)")
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise EntryError(f"its payload is not readable: {exc}") from None


def _values(mapping) -> dict:
    out = {}
    for k, v in mapping.items():
        if not isinstance(v, (int, float)) and hasattr(v, "item"):
            v = v.item()
        if not isinstance(v, (int, float)):
            raise TypeError(f"value {k!r} is a {type(v).__name__}, not a number")
        out[str(k)] = v
    return out


def _facts(facts: dict) -> str:
    return ", ".join(f"{k} {facts.get(k)!r}" for k in ("torch_cpu_capability", "device"))


def _encode(ev: Evidence, figures: dict, loaded_torch: dict | None = None) -> str:
    from theorems import report
    bare = dataclasses.replace(ev, figures=(), reproduce="")
    return json.dumps({
        "seeds": list(ev.seeds), "measured": _values(ev.measured),
        "per_seed": [{"values": _values(m.values), "details": report._num(dict(m.details)),
                      "inconclusive": m.inconclusive} for m in ev.per_seed],
        "verdict": ev.verdict, "failing": list(ev.failing), "seconds": ev.seconds,
        "note": ev.note, "record": report.evidence_record(bare), "loaded_torch": loaded_torch,
        "figures": {k: base64.b64encode(v).decode() for k, v in figures.items()},
    }, allow_nan=True)


def _decode(claim: Claim, p) -> tuple[Evidence, dict, dict]:
    """(Evidence without figures or reproduce, figures, the record it was stored with)."""
    try:
        per_seed = tuple(Measurement(values=m["values"], details=m["details"],
                                     inconclusive=m["inconclusive"]) for m in p["per_seed"])
        ev = Evidence(claim=claim, seeds=tuple(p["seeds"]), measured=dict(p["measured"]),
                      per_seed=per_seed, verdict=p["verdict"], failing=tuple(p["failing"]),
                      seconds=p["seconds"], note=p["note"])
        figures = {k: base64.b64decode(v, validate=True) for k, v in p["figures"].items()}
        return ev, figures, p["record"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EntryError(f"its payload is malformed: {type(exc).__name__}: {exc}") from None
