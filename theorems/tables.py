"""Claims tables generated from a report, for a README or any Markdown file.

A Markdown file marks each generated table with a pair of HTML comments::

    <!-- claims-table: zhang2024.exchangeable_encoding zhang2024.hmm_encoding -->
    (generated; never edited by hand)
    <!-- /claims-table -->

The words after ``claims-table:`` select the claims whose id starts with one of them (a
paper key selects a whole paper). :func:`update` rewrites every marked block from the
report's ``claims.json``; :func:`compare` says which blocks differ from it, so a test or a
run can refuse a file whose tables no longer match the evidence. Nothing outside the
marked blocks is touched, and the file is rewritten only when a block changed.

A block opens with the machine class its numbers were measured on (the CPU vendor, or the
GPU): the float32 training of the trained-network claims is bit-reproducible within a
class but not across classes (README "What is bit-identical"), so a report from another
class is compared on what must not change with the machine, the rows and their verdicts,
and its value differences are reported, not failed.

``python -m theorems tables [--report DIR] [--check] FILE...`` is the command line.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from sim.errors import InputError

__all__ = ["TableError", "blocks", "compare", "machine_class", "render", "stale", "update"]

BEGIN = re.compile(r"<!-- claims-table:(?P<select>[^>]*?)-->\n")
END = "<!-- /claims-table -->"
CAPTION = "Machine class: {machine} (a check on another class compares verdicts, not values)."
CAPTION_RE = re.compile(r"^Machine class: (?P<machine>.+?) \(a check on another class")
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


def machine_class(report: dict) -> str:
    """The class of machine ``report`` was measured on: ``GPU <name>`` for a run on a GPU,
    else ``CPU <vendor>`` (GenuineIntel, AuthenticAMD, ...); ``unknown`` for a report that
    does not record it."""
    prov = report.get("provenance", {})
    device = str(prov.get("run", {}).get("execution", {}).get("device", "cpu"))
    if device.startswith("cuda"):
        return "GPU " + (device[device.find("(") + 1:].rstrip(")") if "(" in device else "cuda")
    vendor = (prov.get("cpu") or {}).get("vendor")
    return f"CPU {vendor}" if vendor else "unknown"


def render(report: dict, select: list[str]) -> str:
    """The Markdown table of the claims of ``report`` (a parsed claims.json) whose ids start
    with one of ``select``, in the report's order, after the caption naming the machine
    class it was measured on."""
    if not select:
        raise TableError("a claims-table block must name at least one claim-id prefix")
    rows = [c for c in report.get("claims", []) if any(c["id"].startswith(p) for p in select)]
    if not rows:
        raise TableError(f"the report has no claim whose id starts with {' or '.join(select)}")
    lines = [CAPTION.format(machine=machine_class(report)), "",
             "| spec | claim | verdict | measured (required); ✗ where it fails |",
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


_VALUE = re.compile(r"(^|; )(\S+) \S+ \(")  # "name value (" in a measured cell


def _caption_and_rows(block: str) -> tuple[str | None, list[tuple[str, ...]]]:
    """A generated block's machine class (None without a caption) and its rows as (spec,
    claim, verdict, criteria): the measured cell with its values masked, so that what must
    not change with the machine (statistics, bounds, which criteria fail) is compared."""
    lines = block.splitlines()
    m = CAPTION_RE.match(lines[0]) if lines else None
    rows = []
    for line in lines:
        if line.startswith("| ") and not line.startswith("| spec |"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows.append((*cells[:3], _VALUE.sub(r"\1\2 … (", " | ".join(cells[3:]))))
    return (m.group("machine") if m else None), rows


def compare(path, report: dict) -> tuple[bool, list[str]]:
    """(stale, notes) for the marked blocks of the file at ``path`` against ``report``.

    A block measured on the report's machine class is stale when it differs from the
    report in any character. A block from another class is stale when its rows, their
    verdicts, statistics, bounds or failing criteria differ; where only measured values
    differ, a note says so (they may, in the trained claims' later digits), and nothing is
    stale."""
    text = Path(path).read_text()
    here, notes, is_stale = machine_class(report), [], False
    for start, end, select in blocks(text):
        fresh = render(report, select)
        old = text[start:end]
        if old == fresh:
            continue
        old_machine, old_rows = _caption_and_rows(old)
        if old_machine is None or old_machine == here:
            is_stale = True
            continue
        new_rows = _caption_and_rows(fresh)[1]
        if old_rows != new_rows:
            is_stale = True
            continue
        moved = sum(a != b for a, b in zip(old.splitlines()[4:], fresh.splitlines()[4:]))
        if moved:
            notes.append(f"{Path(path)}: the table of {' '.join(select)} was measured on {old_machine}, "
                         f"this run on {here}: its verdicts and failing criteria agree; {moved} of "
                         f"{len(new_rows)} rows differ in measured values (not compared across "
                         "machine classes)")
    return is_stale, notes


def stale(path, report: dict) -> bool:
    """Whether a marked block of the file at ``path`` differs from ``report`` (see
    :func:`compare`)."""
    return compare(path, report)[0]


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
    when one is stale (nothing is written; see :func:`compare`)."""
    report = _load(Path(report_dir))
    status = 0
    for p in paths:
        if not Path(p).is_file():
            raise TableError(f"{p} is not a file")
        if check:
            is_stale, notes = compare(p, report)
            for note in notes:
                print(note)
            if is_stale:
                print(f"{p}: its claims tables differ from {report_dir}/claims.json; run "
                      f"python -m theorems tables {p}")
                status = 1
        elif update(p, report):
            print(f"{p}: claims tables updated from {report_dir}/claims.json")
    return status
