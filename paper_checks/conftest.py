"""The paper-checks plugin: seeds, tiers, one Evidence per claim test, and the report.

Each test is marked ``@pytest.mark.claim("<claim id>")`` and takes the ``evidence``
fixture, which checks that claim over the selected seeds and records the result; the test
body asserts it (``evidence.assert_ok()``). At the end of the run the claims table is
printed and ``claims.json`` is written to ``--report-dir`` (default
``paper_checks_report/``).

Seeds: ``PAPER_CHECKS_SEEDS`` unset or ``all`` checks every seed the claim declares;
``3`` or ``0,2`` or ``0-4`` checks exactly those seeds.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from theorems import report
from theorems.registry import get_claim

_EVIDENCE = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("paper checks")
    group.addoption("--report-dir", default="paper_checks_report",
                    help="folder for claims.json (default: paper_checks_report/)")


def pytest_configure(config):
    config.stash[_EVIDENCE] = []


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    """PAPER_CHECKS_SEEDS: None/'all' -> None (declared seeds), '3', '0,2', '0-4' -> tuple."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise pytest.UsageError(f"PAPER_CHECKS_SEEDS range {part!r} is empty")
            seeds.extend(range(lo, hi + 1))
        elif part.isdigit():
            seeds.append(int(part))
        else:
            raise pytest.UsageError(
                f"PAPER_CHECKS_SEEDS={text!r}: use 'all', a seed, a list '0,2' or a range '0-4'")
    return tuple(dict.fromkeys(seeds))


def pytest_report_header(config):
    return [f"paper checks: PAPER_CHECKS_SEEDS={os.environ.get('PAPER_CHECKS_SEEDS', 'all')} "
            f"(declared seeds unless set); report -> {config.getoption('report_dir')}"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        mark = item.get_closest_marker("claim")
        if mark is not None:
            claim = get_claim(mark.args[0])
            if claim.xfail_reason:
                item.add_marker(pytest.mark.xfail(reason=claim.xfail_reason, strict=True))


@pytest.fixture
def evidence(request):
    """Check the claim named by the test's ``claim`` marker; record and return the Evidence."""
    mark = request.node.get_closest_marker("claim")
    if mark is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses 'evidence' without @pytest.mark.claim")
    claim = get_claim(mark.args[0])
    ev = claim.check(parse_seeds(os.environ.get("PAPER_CHECKS_SEEDS")))
    if claim.figure is not None:
        folder = Path(request.config.getoption("report_dir")) / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        ev = dataclasses.replace(ev, figures=tuple(str(p) for p in claim.figure(ev, folder)))
    request.config.stash[_EVIDENCE].append(ev)
    return ev


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    evidence = config.stash.get(_EVIDENCE, [])
    if not evidence:
        return
    terminalreporter.section("claims")
    for line in report.table(evidence):
        terminalreporter.write_line(line)
    path = report.write_report(evidence, Path(config.getoption("report_dir")),
                               extra={"seeds_setting": os.environ.get("PAPER_CHECKS_SEEDS", "all")})
    terminalreporter.write_line(f"claims report: {path}")
