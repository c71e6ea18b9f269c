"""The paper-checks pytest plugin: seeds, one Evidence per claim test, the ledger, the report.

Installed with the package (entry point ``pytest11``, name ``representation_theorems``), so
it is active in every pytest run of the environment, in any repository; ``-p
no:representation_theorems`` turns it off. It is inert in a run that collects no claim
test: no report, no table, no header, and nothing is checked or cleaned.

A claim test is marked ``@pytest.mark.claim("<claim id>")`` and takes the ``evidence``
fixture, which checks that claim over the selected seeds and records the result; the test
body asserts it (``evidence.assert_ok()``, which passes when the verdict is the one the
claim expects: ``pass``, or ``fail`` for a claim kept as a refutation). At the end of the
run the claims table is printed and the report folder is written (``--report-dir``,
default ``paper_checks_report/``, relative to the folder pytest was started in):
claims.json, claims.md, claims.tex and figures/.

Every collected claim test ends as exactly one row: its evidence, or an ERROR row when the
measurement raised, the worker running it died, or it never ran (an interrupted run). A
crash is never a refutation.

The report folder is the package's own: it holds a marker file (``report.MARKER``), and the
plugin writes, replaces or deletes only folders that hold it. ``--report-dir`` naming a file,
a link, or a non-empty folder without the marker is refused before any claim runs (in a
serial run once claim tests are collected; under ``-n``, before the workers start). A run is
*complete* when it was not interrupted, selected nothing out (no ``-k``, ``-m``, node id,
file argument or deselection), every collected claim produced evidence and no worker died;
only a complete run replaces the report. Any other run writes ``<report-dir>.partial``
instead, and claims.json says which selection it ran and why it is not complete.

Before the first claim runs, the plugin calls ``Claim.prepare(seeds)`` of every selected
claim that declares one (background work, such as training the networks the claim probes;
it changes no result).

Seeds: ``PAPER_CHECKS_SEEDS`` unset or ``all`` checks every seed the claim declares;
``3``, ``0,2`` or ``0-4`` checks exactly those seeds.

Threads: every claim is measured on ``MATH_THREADS`` math-library threads (torch and BLAS),
in a serial run and in every ``-n`` worker alike, so a claim's values do not depend on how
the run was executed (README, "What is bit-identical"). Parallel: with ``-n`` (pytest-xdist)
the workers share expensive results (trained networks) through a folder private to the run
(see :mod:`theorems.runshare`), records and figures travel to the controller with the test
reports, and only the controller writes the report; the claim tests are handed out in the
order of their claims' ``budget_s``, the largest first, so that no long claim is left for
the end of the run while the other workers idle.

Scale: ``--paper-scale`` runs the claim tests marked ``slow`` and sets
``REPRESENTATION_THEOREMS_SCALE=paper`` unless it is set, so the trained-transformer claims
of Zhang et al. run at the authors' sizes (on a GPU when one is present; on a CPU they are
refused with the estimated cost).

Claims tables: the ini option ``claims_tables`` lists Markdown files whose generated claims
tables (``<!-- claims-table: ... -->`` blocks, :mod:`theorems.tables`) must match the
evidence. A complete run at the default seeds and scale compares them with the report it
just wrote and fails the session, naming the file and the command that regenerates it
(``python -m theorems tables FILE``), when one is stale; any other run says they were not
checked and why. A table measured on another machine class (another CPU vendor, or a GPU)
is compared on its rows, verdicts and failing criteria only; that its values differ is
said, not failed.

Cache: a claim's evidence (record and figures) is stored in the claim cache
(:mod:`theorems.cache`) under a key of everything it depends on, and reused, without
preparing or measuring the claim, when a later run finds its key unchanged; the table marks
the row ``(reused)``, claims.json records ``reused`` per claim and the provenance's
``cache`` the folder, the reused claims and every entry ignored (an unreadable, corrupt or
foreign entry is reported and the claim measured again). ``--cache-dir DIR`` (default
``platformdirs.user_cache_dir("representation-theorems")``, or ``PAPER_CHECKS_CACHE=DIR``)
chooses the folder, ``--no-cache`` (or ``PAPER_CHECKS_CACHE=off``) turns it off; a cache
folder that is a file or a foreign non-empty folder is refused like ``--report-dir``. The
folder is also named to :mod:`theorems.runshare`, which stores the trained runs it shares.

Dask: ``--scheduler local`` (a LocalCluster) or ``--scheduler tcp://HOST:PORT`` (a running
scheduler) measures the (claim, seed) pairs the cache does not hold as tasks on Dask
workers, which resolve the claims by id (:mod:`theorems.scheduler`); the controller judges
each claim from its seeds' measurements, so values and verdicts are the serial run's, and
writes the report. A claim's ``prepare`` runs on the controller, seed by seed: the trainings it
submits through :func:`theorems.scheduler.background` are tasks of their own, which the
seed's measurement waits for. It cannot be combined with ``-n``.

Progress of long trainings goes to the ``representation_theorems.progress`` logger:
``--log-cli-level=INFO`` shows it live; by default it is silent.

Importing this module imports nothing heavy (the registry and the report are loaded once a
claim test is collected), so pytest runs without claim tests do not pay for it; torch is
loaded only by the claims that use it (:mod:`sim.threads` pins it when they do). The
provenance's ``execution.device`` is where torch ran: ``cuda (<GPU name>)`` when a process
that loaded torch saw a GPU (with ``--scheduler``, the controller's), else ``cpu``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

MATH_THREADS = 1  # see the module docstring; recorded in the provenance
DEFAULT_REPORT_DIR = "paper_checks_report"
SEEDS_ENV = "PAPER_CHECKS_SEEDS"
SCALE_ENV = "REPRESENTATION_THEOREMS_SCALE"
DEFAULT_SCALE = "cpu"  # the scale of a run without the setting (theorems.zhang2024.runs)
CACHE_ENV = "PAPER_CHECKS_CACHE"  # "off", or the cache folder; --no-cache / --cache-dir win
CACHE_APP = "representation-theorems"  # the default folder: platformdirs.user_cache_dir(CACHE_APP)
MARKERS = (
    "claim(id): a paper-checks test of the registered claim with this id (representation-theorems)",
    "slow: a paper-scale test; claim tests marked slow run only with --paper-scale",
)

_STATE = pytest.StashKey[dict]()
_ITEM_RECORD = pytest.StashKey[tuple]()
_ITEM_CACHE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("paper checks", "representation-theorems claims report")
    group.addoption("--report-dir", default=DEFAULT_REPORT_DIR,
                    help="folder for the claims report (default: paper_checks_report/); an "
                         "incomplete run writes <report-dir>.partial instead")
    group.addoption("--paper-scale", action="store_true", dest="paper_scale",
                    help="also run claim tests marked slow, at the papers' sizes "
                         f"(sets {SCALE_ENV}=paper unless it is set)")
    group.addoption("--no-cache", action="store_true", dest="paper_checks_no_cache",
                    help="measure every claim afresh: read and write no claim cache (also "
                         f"{CACHE_ENV}=off)")
    group.addoption("--cache-dir", default=None, dest="paper_checks_cache_dir", metavar="DIR",
                    help="folder of the claim cache (default: the user's cache folder, "
                         f"platformdirs.user_cache_dir({CACHE_APP!r}), or {CACHE_ENV}); not "
                         "pytest's own cache_dir")
    group.addoption("--scheduler", default=None, metavar="local|tcp://HOST:PORT",
                    help="measure the claims' seeds as tasks on Dask: 'local' starts a "
                         "LocalCluster, tcp://HOST:PORT uses a running scheduler (needs "
                         "dask[distributed])")
    parser.addini("claims_tables", type="paths", default=[],
                  help="Markdown files whose claims-table blocks a complete run at the "
                       "default seeds and scale checks against its report")


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _target(config) -> Path:
    """The report folder, relative to the folder pytest was started in."""
    return Path(config.invocation_params.dir, config.getoption("report_dir")).absolute()


def _refuse_unusable_report_dir(config) -> None:
    from theorems import report
    target = _target(config)
    for path in (target, report.partial_path(target)):
        problem = report.ownership_problem(path)
        if problem:
            raise pytest.UsageError(f"--report-dir {problem}")


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if config.getoption("paper_scale", default=False):
        os.environ.setdefault(SCALE_ENV, "paper")
    config.stash[_STATE] = {"expected": None, "deselected": [], "sent": False,
                            "cache": None, "lookups": {}, "scheduler": None}
    if config.getoption("scheduler", default=None) and config.getoption("numprocesses",
                                                                        default=None):
        raise pytest.UsageError("--scheduler and -n are two ways to spread the claims: "
                                "choose one")
    _configure_cache(config)
    if _is_worker(config):
        return
    config.pluginmanager.register(_Ledger(config), "paper_checks_ledger")
    if config.getoption("numprocesses", default=None):
        # The controller collects nothing, and the workers start at once: the report and
        # cache folders are checked here, and the workers share expensive results through
        # a folder private to this run.
        _refuse_unusable_report_dir(config)
        _refuse_unusable_cache_dir(config)
        from theorems.runshare import SHARE_ENV
        share = tempfile.mkdtemp(prefix="representation-theorems-runs-")
        os.environ[SHARE_ENV] = share

        def cleanup():
            os.environ.pop(SHARE_ENV, None)
            shutil.rmtree(share, ignore_errors=True)
        config.add_cleanup(cleanup)


def cache_setting(config) -> tuple[Path | None, str]:
    """(the claim cache's folder, or None when it is off; why it is off)."""
    if config.getoption("paper_checks_no_cache", default=False):
        return None, "--no-cache"
    given = config.getoption("paper_checks_cache_dir", default=None)
    env = os.environ.get(CACHE_ENV, "").strip()
    if given:
        return Path(config.invocation_params.dir, given).absolute(), ""
    if env.lower() == "off":
        return None, f"{CACHE_ENV}=off"
    if env:
        return Path(config.invocation_params.dir, env).expanduser().absolute(), ""
    import platformdirs
    return Path(platformdirs.user_cache_dir(CACHE_APP)), ""


def _configure_cache(config) -> None:
    """Name the cache folder (or its absence) for the trained runs of this process and its
    children (:mod:`theorems.runshare`); restored when the run ends."""
    from theorems.runshare import CACHE_ENV as RUN_CACHE_ENV
    folder, why = cache_setting(config)
    config.stash[_STATE]["cache_setting"] = (folder, why)
    before = os.environ.get(RUN_CACHE_ENV)
    if folder is None:
        os.environ.pop(RUN_CACHE_ENV, None)
    else:
        os.environ[RUN_CACHE_ENV] = str(folder)

    def restore():
        if before is None:
            os.environ.pop(RUN_CACHE_ENV, None)
        else:
            os.environ[RUN_CACHE_ENV] = before
    config.add_cleanup(restore)


def _refuse_unusable_cache_dir(config) -> None:
    folder = config.stash[_STATE]["cache_setting"][0]
    if folder is None:
        return
    from theorems import cache
    problem = cache.folder_problem(folder)
    if problem:
        raise pytest.UsageError(f"--cache-dir {problem}")


def _cache(config):
    """The run's :class:`theorems.cache.Cache`, or None when the cache is off."""
    state = config.stash[_STATE]
    folder = state["cache_setting"][0]
    if folder is None:
        return None
    if state["cache"] is None:
        from theorems.cache import Cache
        state["cache"] = Cache(folder, MATH_THREADS)
    return state["cache"]


def _device() -> str:
    """The device of this process's torch (loads it)."""
    from theorems import _keys
    return _keys.torch_facts().get("device", "cpu")


def _scheduler(config):
    """The run's :class:`theorems.scheduler.Scheduler` (started once), or None without
    ``--scheduler``."""
    address = config.getoption("scheduler", default=None)
    state = config.stash[_STATE]
    if not address or _is_worker(config):
        return None
    if state["scheduler"] is None:
        from theorems.scheduler import Scheduler
        try:
            state["scheduler"] = Scheduler(address, MATH_THREADS)
        except (RuntimeError, OSError) as exc:
            raise pytest.UsageError(f"--scheduler {address}: {exc}") from None
        config.add_cleanup(state["scheduler"].close)
    return state["scheduler"]


def _lookup(config, claim, seeds):
    """The cache's answer for (claim, seeds), looked up once per process."""
    lookups = config.stash[_STATE]["lookups"]
    if (claim.id, seeds) not in lookups:
        lookups[(claim.id, seeds)] = _cache(config).lookup(claim, seeds)
    return lookups[(claim.id, seeds)]


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
                raise pytest.UsageError(f"{SEEDS_ENV} range {part!r} is empty")
            seeds.extend(range(lo, hi + 1))
        elif part.isdigit():
            seeds.append(int(part))
        else:
            raise pytest.UsageError(
                f"{SEEDS_ENV}={text!r}: use 'all', a seed, a list '0,2' or a range '0-4'")
    return tuple(dict.fromkeys(seeds))


def settings_line(config) -> str:
    """How the claims were checked, in one line (printed above the claims table)."""
    folder, why = config.stash[_STATE]["cache_setting"]
    return (f"paper checks: {SEEDS_ENV}={os.environ.get(SEEDS_ENV, 'all')} (declared seeds "
            f"unless set); {MATH_THREADS} math thread(s) per claim; report -> "
            f"{config.getoption('report_dir')}; cache -> {folder or 'off (' + why + ')'}")


def _claim_id(item) -> str | None:
    mark = item.get_closest_marker("claim")
    if mark is None:
        return None
    if len(mark.args) != 1 or not isinstance(mark.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.claim takes one claim id, a "
                                f"string; got {mark.args!r}")
    return mark.args[0]


def _base_nodeid(nodeid: str) -> str:
    """The node id without the ``@group`` suffix that ``--dist loadgroup`` appends (a
    parametrised id's own ``@`` sits inside its brackets and stays)."""
    head, at, tail = nodeid.rpartition("@")
    return head if at and "]" not in tail and "::" not in tail else nodeid


def pytest_collection_modifyitems(config, items):
    claims = [(item, cid) for item in items if (cid := _claim_id(item)) is not None]
    if not claims:
        return  # inert: no claim test, nothing to check or report
    from theorems import registry
    parse_seeds(os.environ.get(SEEDS_ENV))  # a bad setting stops the run here
    if not _is_worker(config) and not config.getoption("numprocesses", default=None):
        _refuse_unusable_report_dir(config)
        _refuse_unusable_cache_dir(config)
    expected = {}
    skip = pytest.mark.skip(reason="slow / paper-scale claim: run with --paper-scale")
    for item, cid in claims:
        try:
            registry.get_claim(cid)
        except LookupError as exc:  # a mistyped id is refused before anything runs
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
        expected[item.nodeid] = cid
        if "slow" in item.keywords and not config.getoption("paper_scale", default=False):
            item.add_marker(skip)
    config.stash[_STATE]["expected"] = expected
    config.stash[_STATE]["checked"] = True
    if _is_worker(config):
        _longest_first(items)


def _longest_first(items) -> None:
    """Under ``pytest -n``: the claim tests in the order of their claims' ``budget_s``,
    the largest first (ties keep the file order), in the places that claim tests held;
    other tests keep theirs. Every worker collects the same order. xdist hands tests out in
    this order, so the long claims start early and the short ones fill the end; in file
    order the last test of a default run was one of its longest (the LDA claim, ran alone
    for its last half minute while the other worker had nothing left). Order changes no
    value: each claim is measured on its own seeds' streams and fixed threads."""
    from theorems import registry
    slots = [i for i, item in enumerate(items) if _claim_id(item) is not None]
    ordered = sorted((items[i] for i in slots),
                     key=lambda item: -registry.get_claim(_claim_id(item)).budget_s)
    for i, item in zip(slots, ordered):
        items[i] = item


def pytest_collection_finish(session):
    """Before the first claim runs: ``Claim.prepare(seeds)`` of every selected claim that
    has one (it starts expensive work in the background and changes no result), unless
    the claim's evidence is in the cache (it needs no work then). Nothing is prepared
    when the collection was refused (pytest calls this hook even then), or under
    ``--collect-only`` (no claim runs: the work would be thrown away at exit)."""
    if not session.config.stash[_STATE].get("checked") or session.config.option.collectonly:
        return
    claims = {}
    for item in session.items:
        cid = _claim_id(item)
        if cid is not None and cid not in claims and not item.get_closest_marker("skip"):
            claims[cid] = item.nodeid
    if not claims:
        return
    from theorems import registry
    selected = parse_seeds(os.environ.get(SEEDS_ENV))
    scheduler = _scheduler(session.config)
    for cid, nodeid in claims.items():
        claim = registry.get_claim(cid)
        seeds = tuple(claim.seeds if selected is None else selected)
        if _cache(session.config) is not None and _lookup(session.config, claim, seeds).evidence:
            continue
        if scheduler is None and claim.prepare is None:
            continue
        try:
            if scheduler is not None:  # its seeds are tasks, after the trainings it prepares
                scheduler.submit(cid, seeds, claim.prepare)
            else:
                claim.prepare(seeds)
        except Exception as exc:  # a broken prepare stops the run before any claim, named
            raise pytest.UsageError(f"{nodeid}: claim {cid}: prepare(seeds) raised "
                                    f"{type(exc).__name__}: {exc}") from exc


def pytest_deselected(items):
    if not items:
        return
    state = items[0].config.stash[_STATE]
    state["deselected"].extend(i.nodeid for i in items if _claim_id(i) is not None)


@pytest.fixture
def evidence(request):
    """Check the claim named by the test's ``claim`` marker, or reuse its cached evidence;
    record and return the Evidence."""
    from theorems import registry, report
    cid = _claim_id(request.node)
    if cid is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses 'evidence' without @pytest.mark.claim")
    claim = registry.get_claim(cid)
    selected = parse_seeds(os.environ.get(SEEDS_ENV))
    seeds = tuple(claim.seeds if selected is None else selected)
    cache = _cache(request.config)
    found = _lookup(request.config, claim, seeds) if cache is not None else None
    info = {"reused": False, "problems": [found.problem] if found and found.problem else [],
            "runs": []}
    if found is not None and found.evidence is not None:
        ev, figures, info["reused"] = found.evidence, found.figures, True
    else:
        scheduler = _scheduler(request.config)
        ev, figures = _measure(claim, seeds, info, scheduler)
        if cache is not None:  # a scheduler's workers may have loaded torch: say they did
            stored = cache.store(claim, seeds, ev, figures,
                                 torch_loaded="torch" in sys.modules or scheduler is not None)
            info["problems"] += [stored] if stored else []
    info["device"] = _device() if "torch" in sys.modules else None
    nodeid = _base_nodeid(request.node.nodeid)
    ev = dataclasses.replace(ev, figures=tuple(figures), reproduce=(
        f"{SEEDS_ENV}={','.join(map(str, ev.seeds))} pytest '{nodeid}'"))
    request.node.stash[_ITEM_RECORD] = (dict(report.evidence_record(ev), reused=info["reused"]),
                                        figures)
    request.node.stash[_ITEM_CACHE] = info
    return ev


def _measure(claim, seeds, info: dict, scheduler=None):
    """(Evidence, figures) measured on ``MATH_THREADS`` threads, here or by the scheduler's
    workers; what the trained-run cache did meanwhile goes into ``info``."""
    import logging

    from sim.threads import fixed_threads
    from theorems.runshare import LOG

    class Events(logging.Handler):
        def emit(self, record):
            kind, what = getattr(record, "cache_event", ("", ""))
            if kind == "problem":
                info["problems"].append(record.getMessage())
            elif kind:
                info["runs"].append([kind, what])
    handler, level = Events(logging.INFO), LOG.level
    LOG.addHandler(handler)
    LOG.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        with fixed_threads(MATH_THREADS):
            if scheduler is not None and scheduler.submitted(claim.id, seeds):
                ev = claim.judge(seeds, *scheduler.gather(claim.id, seeds))
            else:
                ev = claim.check(seeds)
            figures = {}
            if claim.figure is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    for path in claim.figure(ev, Path(tmp)):
                        path = Path(path)
                        figures[f"figures/{path.name}"] = path.read_bytes()
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(level)
    return ev, figures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the claim id, its record and figures to the test's reports: they reach the
    controller with the report, also from an xdist worker."""
    rep = yield
    cid = _claim_id(item)
    if cid is None:
        return rep
    rep.paper_checks_claim = cid
    state = item.config.stash[_STATE]
    if not state["sent"]:  # the first report carries the whole collection (for the controller)
        rep.paper_checks_expected = state["expected"]
        rep.paper_checks_deselected = list(state["deselected"])
        state["sent"] = True
    rec = item.stash.get(_ITEM_RECORD, None)
    if rec is not None and not getattr(item, "_paper_checks_sent", False):
        rep.paper_checks_record, rep.paper_checks_figures = rec
        rep.paper_checks_cache = item.stash.get(_ITEM_CACHE, None)
        item._paper_checks_sent = True
    return rep


class _Ledger:
    """The controller's side (also in a serial run): gathers the reports' records, turns
    every collected claim test into a row, writes the report and prints the table. It
    stays empty, and writes and prints nothing, in a run without claim tests."""

    def __init__(self, config):
        self.config = config
        self.state = config.stash[_STATE]
        self.records, self.figures, self.outcomes, self.cache_info = {}, {}, {}, {}
        self.errors, self.skipped, self.crashed = {}, {}, []
        self.start = time.perf_counter()
        self.rows, self.written, self.tables = [], None, None

    def pytest_runtest_logreport(self, report):
        state, nodeid = self.state, _base_nodeid(report.nodeid)
        if getattr(report, "paper_checks_expected", None) is not None and state["expected"] is None:
            state["expected"] = {_base_nodeid(k): v for k, v in report.paper_checks_expected.items()}
            state["deselected"] = list(report.paper_checks_deselected)
        if getattr(report, "paper_checks_record", None) is not None:
            self.records[nodeid] = report.paper_checks_record
            self.figures.update(report.paper_checks_figures)
            self.cache_info[nodeid] = getattr(report, "paper_checks_cache", None) or {}
        if nodeid in self.crashed:
            self.errors[nodeid] = f"the worker running it died ({_last_line(report)})"
            self.outcomes[nodeid] = "error"
            return
        if getattr(report, "paper_checks_claim", None) is None:
            return  # not a claim test
        if report.skipped:
            self.skipped[nodeid] = _last_line(report)
        elif report.failed and report.when != "call" and nodeid not in self.records:
            self.errors[nodeid] = f"{report.when} raised: {_last_line(report)}"
        if report.when == "call" or report.failed or report.skipped:
            self.outcomes.setdefault(nodeid, "error" if report.failed and report.when != "call"
                                     else report.outcome)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched):  # xdist: a worker died
        self.crashed.append(_base_nodeid(crashitem))

    def _rows(self) -> list[dict]:
        """One row per selected claim test: its record or an ERROR row, in collection order
        (a claim test that ``-k``, ``-m`` or ``--deselect`` left out has no row: it was not
        meant to run; the provenance's selection names it)."""
        from theorems import report
        expected = self.state["expected"] or {}
        deselected = {_base_nodeid(n) for n in self.state["deselected"]}
        rows, seen = [], set()
        for nodeid, cid in expected.items():
            if nodeid in self.skipped or nodeid in deselected:
                continue
            seen.add(nodeid)
            if nodeid in self.records:
                rows.append(dict(self.records[nodeid], nodeid=nodeid,
                                 outcome=self.outcomes.get(nodeid, "not finished")))
                continue
            reason = self.errors.get(nodeid) or "never ran: the run stopped before it"
            rows.append(report.error_record(_claim_or_none(cid), cid, nodeid, reason))
        for nodeid, rec in self.records.items():  # evidence of tests the collection missed
            if nodeid not in seen:
                rows.append(dict(rec, nodeid=nodeid, outcome=self.outcomes.get(nodeid, "")))
        return rows

    def _run_info(self, session, exitstatus, rows) -> dict:
        config, state = self.config, self.state
        args = [str(a) for a in config.args]
        selection = {"args": args, "keyword": config.getoption("keyword", default="") or "",
                     "markexpr": config.getoption("markexpr", default="") or "",
                     "deselected": sorted(set(state["deselected"])),
                     "maxfail": config.getoption("maxfail", default=0) or 0}
        why = []
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            why.append("interrupted")
        if selection["keyword"]:
            why.append(f"selected with -k {selection['keyword']!r}")
        if selection["markexpr"]:
            why.append(f"selected with -m {selection['markexpr']!r}")
        if selection["deselected"]:
            why.append(f"{len(selection['deselected'])} claim test(s) deselected")
        here = Path(config.invocation_params.dir)
        picked = [a for a in args if "::" in a or not (here / a).is_dir()]
        if picked:
            why.append(f"selected by file or node id: {picked}")
        crashed = sorted(set(self.crashed) & set(state["expected"] or self.crashed))
        if crashed:
            why.append(f"a worker died running {crashed}")
        not_run = [r["nodeid"] for r in rows if r.get("error", "").startswith("never ran")]
        if not_run:
            why.append(f"{len(not_run)} claim test(s) never ran")
        if session.shouldfail and not not_run:
            why.append(f"stopped early ({session.shouldfail})")
        devices = {i.get("device") for i in self.cache_info.values()} - {None}
        if config.getoption("scheduler", default=None) or "torch" in sys.modules:
            devices.add(_device())  # a scheduler's workers do not say theirs
        device = ", ".join(sorted(devices)) or "cpu"
        return {"complete": not why, "incomplete_because": why, "selection": selection,
                "collected_claim_tests": len(state["expected"] or {}),
                "skipped": dict(self.skipped), "exit_status": int(exitstatus),
                "wall_time_s": round(time.perf_counter() - self.start, 1),
                "execution": {"workers": config.getoption("numprocesses", default=None) or 0,
                              "dist": config.getoption("dist", default="no"),
                              "scheduler": config.getoption("scheduler", default=None),
                              "math_threads_per_claim": MATH_THREADS, "device": device,
                              "cpu_count": os.cpu_count()},
                "cache": self._cache_summary(rows)}

    def _cache_summary(self, rows) -> dict:
        """What the claim cache did: where it is, which claims it reused, which entries it
        ignored (and why), which trained runs it loaded or stored."""
        folder, why = self.state["cache_setting"]
        info = self.cache_info
        runs: dict[str, list] = {}
        for nodeid in info:
            for kind, what in info[nodeid].get("runs", []):
                runs.setdefault(kind, []).append(what)
        return {"enabled": folder is not None, "folder": str(folder) if folder else None,
                "off_because": why,
                "reused": sorted({r["id"] for r in rows if r.get("reused")}),
                "reused_tests": sorted(r["nodeid"] for r in rows if r.get("reused")),
                "measured_tests": sorted(r["nodeid"] for r in rows if r.get("verdict") != "error"
                                         and not r.get("reused")),
                "problems": [p for n in info for p in info[n].get("problems", [])],
                "trained_runs": {k: sorted(set(v)) for k, v in sorted(runs.items())}}

    def pytest_sessionfinish(self, session, exitstatus):
        self.rows = self._rows()
        if not self.rows:
            return  # a run without claim tests writes nothing
        from theorems import report
        target = _target(self.config)
        report.remove_stale(target)  # what a killed run left (marked folders only)
        run = self._run_info(session, exitstatus, self.rows)
        path = report.write_report(
            self.rows, target, complete=run["complete"], figures=self.figures,
            root=self.config.rootpath,
            extra={"seeds_setting": os.environ.get(SEEDS_ENV, "all"),
                   "wall_time_s": run["wall_time_s"], "run": run, "cache": run["cache"]})
        self.written = (path, run)
        self.tables = self._check_tables(path, run)
        if self.tables and self.tables[0] == "stale" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _check_tables(self, claims_json: Path, run: dict) -> tuple[str, list[str]] | None:
        """("stale", problems), ("current", [files, *notes]) or ("not checked", [why]) for
        the files of the ``claims_tables`` ini option; None when there are none. The notes
        name tables measured on another machine class whose verdicts agree with this run's
        but whose values differ (:func:`theorems.tables.compare`)."""
        files = [Path(f) for f in self.config.getini("claims_tables")]
        if not files:
            return None
        if not run["complete"]:
            return "not checked", ["this run is partial"]
        settings = []
        if parse_seeds(os.environ.get(SEEDS_ENV)) is not None:
            settings.append(f"{SEEDS_ENV}={os.environ[SEEDS_ENV]}")
        if os.environ.get(SCALE_ENV, "").strip() not in ("", DEFAULT_SCALE):
            settings.append(f"{SCALE_ENV}={os.environ[SCALE_ENV]}")
        if settings:
            return "not checked", [f"this run is not at the default seeds and scale "
                                   f"({', '.join(settings)})"]
        import json

        from theorems import tables
        data = json.loads(claims_json.read_text(encoding="utf-8"))
        problems, notes = [], []
        for f in files:
            try:
                if not f.is_file():
                    problems.append(f"{f} does not exist")
                    continue
                is_stale, found = tables.compare(f, data)
                notes += found
                if is_stale:
                    problems.append(f"{f}: its claims tables differ from this run's report; "
                                    f"regenerate them with python -m theorems tables {f} "
                                    f"--report {claims_json.parent}")
            except tables.TableError as exc:
                problems.append(f"{f}: {exc}")
        if problems:
            return "stale", problems
        return "current", [", ".join(str(f) for f in files), *notes]

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if not self.rows or self.written is None:
            return
        from theorems import report
        terminalreporter.section("claims")
        terminalreporter.write_line(settings_line(config))
        for line in report.table(self.rows):
            terminalreporter.write_line(line)
        path, run = self.written
        cache = run["cache"]
        if cache["enabled"]:
            terminalreporter.write_line(
                f"cache: {len(cache['reused_tests'])} of {len(self.rows)} claim test(s) reused "
                f"{report.REUSED}, {len(cache['measured_tests'])} measured; {cache['folder']} "
                "(--no-cache measures all)")
        for problem in cache["problems"]:
            terminalreporter.write_line(f"cache: {problem}", yellow=True)
        if run["complete"]:
            terminalreporter.write_line(f"claims report: {path.parent} (claims.json, claims.md, "
                                        "claims.tex, figures/)")
        else:
            terminalreporter.write_line(
                f"PARTIAL claims report, not the complete one ({'; '.join(run['incomplete_because'])}): "
                f"{path.parent}; a complete report, if there is one, is unchanged")
        if self.tables is not None:
            state, lines = self.tables
            if state == "current":
                terminalreporter.write_line(f"claims tables current: {lines[0]}")
                for note in lines[1:]:
                    terminalreporter.write_line(f"claims tables: {note}", yellow=True)
            elif state == "not checked":
                terminalreporter.write_line(f"claims tables not checked: {lines[0]}")
            else:
                for line in lines:
                    terminalreporter.write_line(f"STALE claims tables: {line}", red=True)


def _last_line(report) -> str:
    """The message a failed or skipped report ends with (its last ``E`` line)."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])[:500]
    lines = [ln.strip() for ln in (report.longreprtext or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E ")]
    return (errors[-1][1:].strip() if errors else (lines[-1] if lines else "no message"))[:500]


def _claim_or_none(cid):
    from theorems import registry
    try:
        return registry.get_claim(cid)
    except LookupError:
        return None
