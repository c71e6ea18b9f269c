"""The paper-checks plugin: seeds, one Evidence per claim test, the ledger, parallel runs.

Each test is marked ``@pytest.mark.claim("<claim id>")`` and takes the ``evidence``
fixture, which checks that claim over the selected seeds and records the result; the test
body asserts it (``evidence.assert_ok()``). At the end of the run the claims table is
printed and the report folder is written (``--report-dir``, default
``paper_checks_report/``): claims.json, claims.md, claims.tex and figures/.

Seeds: ``PAPER_CHECKS_SEEDS`` unset or ``all`` checks every seed the claim declares;
``3``, ``0,2`` or ``0-4`` checks exactly those seeds.

Parallel: with ``-n auto`` (pytest-xdist) each worker uses one math-library thread, writes
its records and figures into the run's staging folder, and the controller merges them.
Scale: ``--paper-scale`` (alias ``--runslow``) also sets ``REPRESENTATION_THEOREMS_SCALE=paper``
unless it is set, so the trained-transformer claims of Zhang et al. run at the authors' sizes
(on a GPU when one is present; on a CPU they are refused with the estimated cost).

Progress of long trainings goes to the ``representation_theorems.progress`` logger:
``--log-cli-level=INFO`` shows it live; by default it is silent.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from theorems import report
from theorems.registry import get_claim

_RECORDS = pytest.StashKey[list]()
_STAGING = pytest.StashKey[Path]()
_START = pytest.StashKey[float]()


def pytest_addoption(parser):
    group = parser.getgroup("paper checks")
    group.addoption("--report-dir", default="paper_checks_report",
                    help="folder for the claims report (default: paper_checks_report/)")


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config):
    if config.getoption("runslow", default=False):  # the option lives in the root conftest
        os.environ.setdefault("REPRESENTATION_THEOREMS_SCALE", "paper")
    config.stash[_RECORDS] = []
    config.stash[_START] = time.perf_counter()
    if _is_worker(config):
        config.stash[_STAGING] = Path(config.workerinput["paper_checks_staging"])
        import torch
        from threadpoolctl import threadpool_limits
        torch.set_num_threads(1)  # one math-library thread per worker: -n auto uses the cores
        config._paper_checks_limits = threadpool_limits(1)
        return
    target = Path(config.getoption("report_dir")).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    config.stash[_STAGING] = Path(tempfile.mkdtemp(dir=target.parent,
                                                   prefix=f".{target.name}.partial-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):  # xdist controller hook: hand the staging folder over
    node.workerinput["paper_checks_staging"] = str(node.config.stash[_STAGING])


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
    seeds_env = os.environ.get("PAPER_CHECKS_SEEDS")
    ev = claim.check(parse_seeds(seeds_env))
    staging = request.config.stash[_STAGING]
    figures = ()
    if claim.figure is not None:
        (staging / "figures").mkdir(parents=True, exist_ok=True)
        figures = tuple(os.path.relpath(p, staging) for p in claim.figure(ev, staging / "figures"))
    seeds = ",".join(map(str, ev.seeds))
    ev = dataclasses.replace(ev, figures=figures, reproduce=(
        f"PAPER_CHECKS_SEEDS={seeds} pytest '{request.node.nodeid}'"))
    request.config.stash[_RECORDS].append(report.evidence_record(ev))
    return ev


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    staging = config.stash[_STAGING]
    records = config.stash[_RECORDS]
    if _is_worker(config):
        if records:
            wid = config.workerinput.get("workerid", "w")
            (staging / f"records-{wid}.json").write_text(json.dumps(records), encoding="utf-8")
        return
    for frag in sorted(staging.glob("records-*.json")):
        records.extend(json.loads(frag.read_text(encoding="utf-8")))
        frag.unlink()
    if not records:
        shutil.rmtree(staging, ignore_errors=True)
        return
    wall = round(time.perf_counter() - config.stash[_START], 1)
    path = report.write_report(records, Path(config.getoption("report_dir")), staging=staging,
                               extra={"seeds_setting": os.environ.get("PAPER_CHECKS_SEEDS", "all"),
                                      "wall_time_s": wall})
    config._paper_checks_report = path


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    records = config.stash.get(_RECORDS, [])
    if not records or _is_worker(config):
        return
    terminalreporter.section("claims")
    for line in report.table(records):
        terminalreporter.write_line(line)
    path = getattr(config, "_paper_checks_report", None)
    if path is not None:
        terminalreporter.write_line(f"claims report: {path.parent} (claims.json, claims.md, "
                                    "claims.tex, figures/)")
