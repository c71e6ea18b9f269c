"""The claims report (the ledger): claims.json, claims.md, claims.tex and the figures.

The paper-checks plugin (:mod:`theorems.pytest_plugin`) turns each claim test's :class:`~theorems.base.Evidence` into
a JSON-ready record (:func:`evidence_record`; a claim test without evidence becomes an
:func:`error_record`), and at the end of the run calls :func:`write_report`, which writes
into a staging folder and then swaps it into place, so an interrupted write never leaves a
half-written report (the previous one stays intact).

The package writes, replaces and deletes only folders it marks as its own: every report
holds the file ``MARKER``. :func:`ownership_problem` says why a path may not be used (a
file, a link, a non-empty folder without the marker). A complete run's report goes to the
report folder; any other run's to :func:`partial_path` of it, so a selected or interrupted
run never replaces a complete report.

* ``claims.json``: provenance (versions, git commit, seeds setting, wall time, how the run
  was executed and whether it was complete) and one record per claim: id, spec, paper,
  reference, statement, kind, expect, measured, required, why, verdict, statistic, seeds,
  per-seed values and details, figures, seconds, whether the evidence was ``reused`` from
  the claim cache (:mod:`theorems.cache`; the provenance's ``cache`` says which claims and
  where) (an error row: the error instead).
* ``claims.md``: the table grouped by paper, with the figures embedded.
* ``claims.tex``: one ``\\newcommand`` per measured value; see :func:`macro_name`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import secrets
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable

from theorems.base import Evidence

SCHEMA_VERSION = 3
VERDICTS = ("pass", "fail", "inconclusive", "error")
MARKER = ".representation-theorems-report"  # a report folder holds this file; nothing else is ours
REUSED = "(reused)"  # marks a claim whose evidence came from the claim cache, in the table
PARTIAL_SUFFIX = ".partial"  # where an incomplete run's report goes, beside the report folder


def _num(v):
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _num(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_num(x) for x in v]
    if hasattr(v, "tolist"):
        return _num(v.tolist())
    return v


def evidence_record(ev: Evidence) -> dict:
    """The JSON-ready record of one claim's evidence."""
    c = ev.claim
    return {
        "id": c.id, "spec": c.spec, "paper": c.paper, "reference": c.reference,
        "statement": c.statement, "kind": c.kind, "expect": c.expect,
        "expect_reason": c.expect_reason,
        "measured": {k: _num(v) for k, v in ev.measured.items()},
        "required": ev.required,
        "why": {t.statistic: t.why for t in c.criteria},
        "criteria": [{"statistic": t.statistic, "bound": t.bound,
                      "direction": "<=" if t.upper else ">=",
                      "holds": t.accepts(ev.measured.get(t.statistic, float("nan")))}
                     for t in c.criteria],
        "verdict": ev.verdict, "statistic": c.statistic, "seeds": list(ev.seeds),
        "per_seed": [{"seed": s, "values": _num(dict(m.values)), "details": _num(dict(m.details)),
                      "inconclusive": m.inconclusive} for s, m in zip(ev.seeds, ev.per_seed)],
        "note": ev.note, "figures": list(ev.figures), "reproduce": ev.reproduce,
        "seconds": round(ev.seconds, 3), "budget_s": c.budget_s,
    }


def error_record(claim, claim_id: str, nodeid: str, error: str) -> dict:
    """The row of a claim test that produced no evidence: its measurement raised, its worker
    died, or it never ran. ``claim`` is the registered Claim, or None if the id is unknown."""
    get = (lambda name, default="": getattr(claim, name)) if claim is not None else (
        lambda name, default="": default)
    return {
        "id": claim_id, "spec": get("spec", "?"), "paper": get("paper", "?"),
        "reference": get("reference", "?"), "statement": get("statement", ""),
        "kind": get("kind", "?"), "expect": get("expect", "pass"),
        "expect_reason": get("expect_reason", ""),
        "measured": {}, "required": {}, "why": {}, "criteria": [], "verdict": "error",
        "statistic": get("statistic", ""), "seeds": [], "per_seed": [], "note": "",
        "figures": [], "reproduce": f"pytest '{nodeid}'", "seconds": 0.0,
        "budget_s": get("budget_s", 0.0), "error": error, "nodeid": nodeid, "outcome": "error",
    }


def display(record: dict) -> str:
    """The verdict as the table shows it: REFUTED for a refutation the claim expects, ERROR
    for a claim without evidence, HOLDS for an expected refutation that now holds."""
    v = record["verdict"]
    if record.get("expect") == "fail" and v in ("pass", "fail"):
        return "REFUTED" if v == "fail" else "HOLDS (expected refuted)"
    return v.upper()


def _git(*args: str, cwd=None) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5,
                             cwd=cwd if cwd is not None else Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance(root=None) -> dict:
    """Versions of the stack that produced the numbers, and the git commit of ``root`` (the
    repository the claims were checked in; this package's own folder when None)."""
    from theorems._keys import cpu
    out = {"python": platform.python_version(), "platform": platform.platform(),
           "cpu": cpu(), "git_commit": _git("rev-parse", "HEAD", cwd=root),
           "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", cwd=root)),
           "solver": "DAQP, CLARABEL"}  # max-margin: DAQP first, Clarabel as its fallback
    for pkg in ("representation-theorems", "numpy", "scipy", "sympy", "torch", "cvxpy",
                "clarabel", "daqp", "hypothesis"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


# --- LaTeX ---------------------------------------------------------------------------------

_DIGITS = "Zero One Two Three Four Five Six Seven Eight Nine".split()


def _camel(text: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", text)
    out = ""
    for w in filter(None, words):
        w = re.sub(r"\d", lambda m: _DIGITS[int(m.group())], w)
        out += w[0].upper() + w[1:]
    return out


def macro_name(claim_id: str, statistic: str) -> str:
    """``\\rt`` + CamelCase of the claim id and statistic, digits spelled out (TeX command
    names are letters only): soudry2018.gd_max_margin.direction / one_minus_cos ->
    ``\\rtSoudryTwoZeroOneEightGdMaxMarginDirectionOneMinusCos``. Stable while the claim id
    and statistic name are."""
    return "\\rt" + _camel(claim_id) + _camel(statistic)


def latex_number(v) -> str:
    """A value for math mode: 3 significant digits, scientific notation outside [1e-3, 1e4)."""
    if isinstance(v, str) or v is None:
        return "\\text{" + str(v) + "}"
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.3g}"
    mant, exp = f"{v:.2e}".split("e")
    return f"{mant}\\times 10^{{{int(exp)}}}"


def latex(records: list[dict]) -> str:
    lines = ["% Measured values of the checked claims; generated by pytest paper_checks/.",
             "% \\input{claims.tex}, then e.g. $\\rtSoudryTwoZeroOneEightGdMaxMarginDirectionOneMinusCos$.",
             "% Each macro: \\rt + CamelCase(claim id) + CamelCase(statistic), digits spelled out.", ""]
    seen: dict[str, str] = {}
    done: set[str] = set()
    for r in records:
        if r["id"] in done:  # the same claim checked by two tests: its first record names it
            continue
        done.add(r["id"])
        lines.append(f"% {r['spec']} {r['id']} ({r['verdict']}; {r['statistic']} of seeds {r['seeds']})")
        for stat, v in r["measured"].items():
            name = macro_name(r["id"], stat)
            if name in seen:
                raise ValueError(f"LaTeX macro {name} would name both {seen[name]} and {r['id']}/{stat}")
            seen[name] = f"{r['id']}/{stat}"
            lines.append(f"\\newcommand{{{name}}}{{{latex_number(v)}}}")
        lines.append(f"\\newcommand{{{macro_name(r['id'], 'verdict')}}}{{{display(r).lower()}}}")
    return "\n".join(lines) + "\n"


# --- Markdown and the terminal table -------------------------------------------------------

def _spec_order(spec: str):
    """Sort key: paper prefix, then the claim number numerically (G2 < G10, 7 < 23b)."""
    head, _, tail = spec.partition(":")
    m = re.match(r"([A-Za-z]*)(\d*)(.*)", tail)
    return (head, m.group(1), int(m.group(2) or 0), m.group(3))


def _fmt(v) -> str:
    return v if isinstance(v, str) else f"{v:.4g}"


def table(records: Iterable[dict]) -> list[str]:
    """Lines of the claims table: per claim, spec key, verdict, id and reference (marked
    ``(reused)`` when its evidence came from the claim cache), then one line per criterion
    with the measured value and what is required."""
    records = sorted(records, key=lambda r: _spec_order(r["spec"]))
    lines = []
    for r in records:
        reused = f"  {REUSED}" if r.get("reused") else ""
        lines.append(f"{r['spec']:<22} {display(r):<12} {r['id']}  "
                     f"[{r['reference'].split(';')[0]}]{reused}")
        if r["verdict"] == "error":
            lines.append(f"    error: {r['error']}")
        n = len(r["seeds"])
        for c in r["criteria"]:
            lines.append(f"    {'ok ' if c['holds'] else 'NO '}{c['statistic']} = "
                         f"{_fmt(r['measured'][c['statistic']])}  (required {c['statistic']} "
                         f"{c['direction']} {c['bound']:g}; {r['statistic']} of {n} seed{'s' * (n > 1)})")
        if r["note"]:
            lines.append(f"    note: {r['note']}")
    shown = [display(r) for r in records]
    counts = {label: shown.count(label) for label in dict.fromkeys(
        ["PASS", "FAIL", "REFUTED", "HOLDS (expected refuted)", "INCONCLUSIVE", "ERROR"])}
    lines.append(", ".join(f"{n} {label.lower()}" for label, n in counts.items()
                           if n or label in ("PASS", "FAIL")))
    return lines


def markdown(records: list[dict], prov: dict, folder: Path) -> str:
    run = prov.get("run") or {}
    status = ("a complete run" if prov.get("complete", True) else
              "**a partial run** (" + "; ".join(run.get("incomplete_because", [])) + ")")
    out = ["# Claims report", "",
           f"Generated by `pytest paper_checks/` at git commit `{prov.get('git_commit')}`, "
           f"{status}; seeds setting `{prov.get('seeds_setting')}`; wall time "
           f"{prov.get('wall_time_s')} s. Machine-readable: `claims.json`; LaTeX macros: "
           "`claims.tex`.", ""]
    cache = prov.get("cache") or {}
    if cache.get("reused"):
        out[-2] += (f" {len(cache['reused'])} claim(s) reused their evidence from the claim "
                    f"cache (`{cache.get('folder')}`; measured by an earlier run of the same "
                    "sources, parameters, settings and stack; listed in `provenance.cache`).")
    by_paper: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: _spec_order(r["spec"])):
        by_paper.setdefault(r["paper"], []).append(r)
    for paper, rows in by_paper.items():
        out += [f"## {paper}", "", "| spec | claim | measured | required | verdict |",
                "|---|---|---|---|---|"]
        for r in rows:
            meas = "<br>".join(f"{c['statistic']} = {_fmt(r['measured'][c['statistic']])}"
                               for c in r["criteria"])
            req = "<br>".join(f"{c['direction']} {c['bound']:g}" for c in r["criteria"])
            if r["verdict"] == "error":
                meas = f"error: {r['error']}"
            cells = [r["spec"], r["statement"], meas, req, f"**{display(r).lower()}**"]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
        for r in rows:
            for fig in r["figures"]:
                rel = os.path.relpath(fig, folder) if os.path.isabs(fig) else fig
                out += [f"![{r['spec']}: {r['id']}]({rel})", ""]
    return "\n".join(out)


# --- writing -------------------------------------------------------------------------------

class ReportError(OSError):
    """A report path the package may not write: a file, a link, or a folder that is not one
    of its reports."""


def partial_path(directory) -> Path:
    """Where an incomplete run's report goes: ``<directory>.partial``, beside it."""
    directory = Path(directory)
    return directory.with_name(directory.name + PARTIAL_SUFFIX)


def is_report(path) -> bool:
    """Whether ``path`` is a folder the package wrote (it holds ``MARKER``)."""
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and (path / MARKER).is_file()


def ownership_problem(path) -> str | None:
    """None if the package may write the report folder ``path`` (absent, an empty folder, or
    one of its reports); otherwise why not, naming the path."""
    path = Path(path)
    if path.is_symlink():
        return f"{path} is a symbolic link: refusing to replace it; choose another folder"
    if not path.exists():
        return None
    if not path.is_dir():
        return (f"{path} is a file, not a claims report folder: refusing to replace it; "
                "choose another folder")
    if is_report(path) or not any(path.iterdir()):
        return None
    return (f"{path} is a non-empty folder that is not a claims report (it has no {MARKER}): "
            "refusing to write into it or replace it; choose another folder")


def _fresh(parent: Path, prefix: str) -> Path:
    """A new folder ``parent/prefix<random>`` with ordinary permissions (the umask's)."""
    while True:
        path = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _hidden(directory: Path, kind: str) -> str:
    return f".{directory.name}.{kind}-"


def remove_stale(directory) -> None:
    """Clean what an earlier, killed run left beside ``directory`` (and its partial path):
    staging folders it marked are removed; a marked report set aside for a swap that never
    finished is put back if its place is empty, removed otherwise."""
    for dest in (Path(directory), partial_path(directory)):
        parent = dest.parent
        if not parent.is_dir():
            continue
        for path in sorted(parent.glob(_hidden(dest, "staging") + "*")):
            if is_report(path):
                shutil.rmtree(path)
        for path in sorted(parent.glob(_hidden(dest, "old") + "*")):
            if not is_report(path):
                continue
            if not dest.exists():
                os.replace(path, dest)
            else:
                shutil.rmtree(path)


def write_report(records: Iterable[dict], directory, *, complete: bool = True,
                 figures: dict | None = None, extra: dict | None = None, root=None) -> Path:
    """Write claims.json, claims.md, claims.tex and ``figures`` (relative path -> PNG bytes),
    then swap the folder into ``directory`` (``complete``) or into its partial path.
    ``root`` is the repository whose git commit the provenance records (see
    :func:`provenance`).

    The previous report there is replaced only once the new one is complete on disk, and
    only if it is one of the package's reports (``ownership_problem``, else ReportError).
    Returns the path of the new claims.json.
    """
    directory = Path(directory).absolute()
    dest = directory if complete else partial_path(directory)
    problem = ownership_problem(dest)
    if problem:
        raise ReportError(problem)
    dest.parent.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda r: _spec_order(r["spec"]))
    prov = {**provenance(root), **(extra or {}), "complete": complete}
    staging = _fresh(dest.parent, _hidden(dest, "staging"))
    old = None
    try:
        (staging / MARKER).write_text(json.dumps(
            {"written_by": "representation-theorems", "schema": SCHEMA_VERSION,
             "complete": complete}) + "\n", encoding="utf-8")
        for rel, data in (figures or {}).items():
            out = staging / rel
            if staging.resolve() not in out.resolve().parents:
                raise ReportError(f"figure path {rel!r} leaves the report folder")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        (staging / "claims.json").write_text(json.dumps(
            {"schema": SCHEMA_VERSION, "provenance": prov, "claims": records}, indent=2,
            allow_nan=False), encoding="utf-8")
        (staging / "claims.md").write_text(markdown(records, prov, staging), encoding="utf-8")
        (staging / "claims.tex").write_text(latex(records), encoding="utf-8")
        if dest.exists():
            old = _fresh(dest.parent, _hidden(dest, "old"))
            os.replace(dest, old)
        os.replace(staging, dest)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if old is not None and old.exists() and not dest.exists():
            os.replace(old, dest)  # interrupted inside the swap: the previous report returns
        if staging.exists():
            shutil.rmtree(staging)
    return dest / "claims.json"
