"""The claims report: one row per checked claim, as a terminal table and as claims.json.

``paper_checks/conftest.py`` collects the :class:`~theorems.base.Evidence` of every claim
test and calls :func:`write_report` and :func:`table` at the end of the run. The JSON file
is written atomically (temporary file, then rename), so an interrupted run never leaves a
half-written report.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable

from theorems.base import Evidence

SCHEMA_VERSION = 1


def _num(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if hasattr(v, "item"):
        return _num(v.item())
    return v


def evidence_record(ev: Evidence) -> dict:
    """The JSON-ready record of one claim's evidence."""
    c = ev.claim
    return {
        "id": c.id,
        "spec": c.spec,
        "paper": c.paper,
        "reference": c.reference,
        "statement": c.statement,
        "kind": c.kind,
        "measured": {k: _num(v) for k, v in ev.measured.items()},
        "required": ev.required,
        "why": {t.statistic: t.why for t in c.criteria},
        "verdict": ev.verdict,
        "statistic": c.statistic,
        "seeds": list(ev.seeds),
        "per_seed": [
            {"seed": s, "values": {k: _num(v) for k, v in m.values.items()},
             "details": {k: _num(v) for k, v in m.details.items()},
             "inconclusive": m.inconclusive}
            for s, m in zip(ev.seeds, ev.per_seed)
        ],
        "note": ev.note,
        "figures": list(ev.figures),
        "seconds": round(ev.seconds, 3),
        "budget_s": c.budget_s,
    }


def provenance() -> dict:
    """Versions of the stack that produced the numbers."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("representation-theorems", "numpy", "scipy", "sympy", "torch", "cvxpy", "clarabel"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def write_report(evidence: Iterable[Evidence], directory: Path, *, extra: dict | None = None) -> Path:
    """Write ``claims.json`` into ``directory`` atomically; return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    records = sorted((evidence_record(e) for e in evidence), key=lambda r: r["id"])
    payload = {"schema": SCHEMA_VERSION, "provenance": provenance(), **(extra or {}),
               "claims": records}
    target = directory / "claims.json"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".claims-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, allow_nan=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _spec_order(spec: str):
    """Sort key: paper prefix, then the claim number numerically (G2 < G10, 7 < 23b)."""
    head, _, tail = spec.partition(":")
    m = re.match(r"([A-Za-z]*)(\d*)(.*)", tail)
    return (head, m.group(1), int(m.group(2) or 0), m.group(3))


def table(evidence: Iterable[Evidence]) -> list[str]:
    """Lines of the claims table: per claim, spec key, verdict, reference and id, then one
    line per criterion with the measured value and what is required."""
    lines = []
    for ev in sorted(evidence, key=lambda e: _spec_order(e.claim.spec)):
        c = ev.claim
        lines.append(f"{c.spec:<22} {ev.verdict.upper():<12} {c.id}  [{c.reference.split(';')[0]}]")
        for t in c.criteria:
            v = ev.measured.get(t.statistic, float("nan"))
            ok = "ok " if t.accepts(v) else "NO "
            lines.append(f"    {ok}{t.statistic} = {v:.4g}  (required {t.describe()}; "
                         f"{c.statistic} of {len(ev.seeds)} seed{'s' * (len(ev.seeds) > 1)})")
        if ev.note:
            lines.append(f"    note: {ev.note}")
    counts = {v: sum(e.verdict == v for e in evidence) for v in ("pass", "fail", "inconclusive")}
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items()))
    return lines
