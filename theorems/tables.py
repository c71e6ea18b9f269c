"""Claims tables generated from a report, for a README or any Markdown file.

A Markdown file marks each generated table with a pair of HTML comments::

    <!-- claims-table: zhang2024.exchangeable_encoding zhang2024.hmm_encoding -->
    (generated; never edited by hand)
    <!-- /claims-table -->

The words after ``claims-table:`` select the claims whose id starts with one of them (a
paper key selects a whole paper). :func:`update` rewrites every marked block from the
report's ``claims.json``; :func:`stale` says which blocks differ from it, so a test or a
run can refuse a file whose tables no longer match the evidence. Nothing outside the
marked blocks is touched, and the file is rewritten only when a block changed.

``python -m theorems tables [--report DIR] [--check] FILE...`` is the command line.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from sim.errors import InputError

__all__ = ["TableError", "blocks", "render", "stale", "update"]

BEGIN = re.compile(r"<!-- claims-table:(?P<select>[^>]*?)-->\n")
END = "<!-- /claims-table -->"
DIGITS = 3  # significant digits of a measured value in a table
VERDICTS = {("pass", "pass"): "PASS", ("fail", "fail"): "REFUTED",  # (verdict, expect)
            ("fail", "pass"): "FAIL", ("pass", "fail"): "HOLDS (expected refuted)"}


class TableError(InputError):
    """A marked file or a report that tables cannot be generated from."""


def _number(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    v = float(v)
    if v == 0:
        return "0"
    text = f"{v:.{DIGITS}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "−")


def _verdict(record: dict) -> str:
    if record.get("outcome") == "error":
        return "ERROR"
    verdict, expect = record.get("verdict"), record.get("expect", "pass")
    if verdict == "inconclusive":
        return "INCONCLUSIVE"
    return VERDICTS.get((verdict, expect), str(verdict).upper())


def _measured(record: dict) -> str:
    if record.get("outcome") == "error":
        return "no evidence: " + str(record.get("error", "")).splitlines()[0][:80]
    parts = []
    for crit in record.get("criteria", []):
        name = crit["statistic"]
        value = record.get("measured", {}).get(name)
        mark = "" if crit.get("holds") else " ✗"
        sign = {">=": "≥", "<=": "≤"}.get(crit["direction"], crit["direction"])
        parts.append(f"{name} {_number(value)} ({sign} {_number(crit['bound'])}){mark}")
    return "; ".join(parts)


def render(report: dict, select: list[str]) -> str:
    """The Markdown table of the claims of ``report`` (a parsed claims.json) whose ids start
    with one of ``select``, in the report's order."""
    if not select:
        raise TableError("a claims-table block must name at least one claim-id prefix")
    rows = [c for c in report.get("claims", []) if any(c["id"].startswith(p) for p in select)]
    if not rows:
        raise TableError(f"the report has no claim whose id starts with {' or '.join(select)}")
    lines = ["| spec | claim | verdict | measured (required); ✗ where it fails |",
             "|---|---|---|---|"]
    for c in rows:
        seeds = c.get("seeds", [])
        how = f" ({c.get('statistic')} of seeds {', '.join(map(str, seeds))})" if len(seeds) > 1 else ""
        lines.append(f"| {c['spec']} | `{c['id']}`{how} | {_verdict(c)} | "
                     f"{_measured(c).replace('|', '∣')} |")
    return "\n".join(lines) + "\n"


def blocks(text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, selection) of each marked block's generated content in ``text``."""
    out, pos = [], 0
    while (m := BEGIN.search(text, pos)) is not None:
        end = text.find(END, m.end())
        if end < 0:
            line = text.count("\n", 0, m.start()) + 1
            raise TableError(f"the claims-table block opened on line {line} is never closed "
                             f"with {END}")
        out.append((m.end(), end, m.group("select").split()))
        pos = end + len(END)
    return out


def _load(report_dir: Path) -> dict:
    path = Path(report_dir) / "claims.json"
    if not path.is_file():
        raise TableError(f"{path} does not exist: run pytest paper_checks/ first (a complete "
                         "run writes it)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TableError(f"{path} is not a claims report ({exc})") from None
    provenance = report.get("provenance", {})
    if not provenance.get("run", {}).get("complete", provenance.get("complete", False)):
        raise TableError(f"{path} is from an incomplete run; tables come from complete runs only")
    return report


def _generate(text: str, report: dict) -> str:
    out, last = [], 0
    for start, end, select in blocks(text):
        out += [text[last:start], render(report, select)]
        last = end
    return "".join(out) + text[last:]


def stale(path, report: dict) -> bool:
    """Whether any marked block of the file at ``path`` differs from ``report``."""
    text = Path(path).read_text()
    return _generate(text, report) != text


def update(path, report: dict) -> bool:
    """Rewrite the marked blocks of the file at ``path`` from ``report``; returns whether
    the file changed. A file without marked blocks is refused by name."""
    path = Path(path)
    text = path.read_text()
    if not blocks(text):
        raise TableError(f"{path} has no <!-- claims-table: ... --> block")
    new = _generate(text, report)
    if new == text:
        return False
    path.write_text(new)
    return True


def main(paths: list[str], report_dir: str, check: bool) -> int:
    """The command line: 0 when every file is (or is now) up to date; with ``check``, 1
    when one differs (nothing is written)."""
    report = _load(Path(report_dir))
    status = 0
    for p in paths:
        if not Path(p).is_file():
            raise TableError(f"{p} is not a file")
        if check:
            if stale(p, report):
                print(f"{p}: its claims tables differ from {report_dir}/claims.json; run "
                      f"python -m theorems tables {p}")
                status = 1
        elif update(p, report):
            print(f"{p}: claims tables updated from {report_dir}/claims.json")
    return status
