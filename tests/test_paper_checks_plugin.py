"""The paper-checks plugin as a user runs it: reports that never lose data, a row for every
claim, crashes as errors, refutations as results, and verdicts that do not depend on how
the run was executed.

Each test builds a small paper-checks folder (tests/toyrepo.py) whose conftest registers toy
claims (so no theorem is trained) and runs pytest on it in a subprocess, as a user would,
with the plugin as installed (its ``pytest11`` entry point), not copied: with
``--report-dir`` at a file or a folder of theirs, with ``-k``, ``-x``, a node id, a worker
of ``-n 2`` that dies, or a real SIGINT. (Serial against ``-n 2`` on equal values:
tests/test_scaffold.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import toyrepo
from theorems import report

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]
SIGINT_WAIT_S = 60  # the slow claim starts within this; a run ends within it after SIGINT

PRELUDE = toyrepo.conftest_text('''
import os, time
from pathlib import Path
from theorems import registry
from theorems.base import Claim, Measurement
from theorems.tolerances import Threshold

def _const(value):
    return lambda seed: Measurement({"err": value + 0.01 * seed})

def _crash(seed):
    raise RuntimeError("the toy measurement crashed")

def _dies(seed):
    if os.environ.get("TOY_DIE"):
        os._exit(3)  # the worker process dies mid-measurement
    return Measurement({"err": 0.5})

def _slow(seed):
    Path(os.environ["TOY_STARTED"]).write_text("started")
    time.sleep(float(os.environ.get("TOY_SLEEP", "0")))
    return Measurement({"err": 0.5})

def _prepare(seeds):
    if os.environ.get("TOY_PREPARED"):
        with open(os.environ["TOY_PREPARED"], "a") as fh:
            fh.write(f"{seeds}\\n")
''', '''\
    _claim("toy.thm.ok", "toy:1", _const(0.5), seeds=(0, 1), prepare=_prepare),
    _claim("toy.thm.bad", "toy:2", _const(3.0)),
    _claim("toy.thm.refuted", "toy:3", _const(3.0), **REFUTE),
    _claim("toy.thm.refuted_crash", "toy:4", _crash, **REFUTE),
    _claim("toy.thm.slow", "toy:5", _slow),
    _claim("toy.thm.dies", "toy:6", _dies),
''')

TESTS = '''
import pytest

@pytest.mark.claim("toy.thm.ok")
def test_ok(evidence):
    evidence.assert_ok()

@pytest.mark.claim("toy.thm.bad")
def test_bad(evidence):
    evidence.assert_ok()

@pytest.mark.claim("toy.thm.refuted")
def test_refuted(evidence):
    evidence.assert_ok()

@pytest.mark.claim("toy.thm.refuted_crash")
def test_refuted_crash(evidence):
    evidence.assert_ok()

@pytest.mark.claim("toy.thm.slow")
def test_slow(evidence):
    evidence.assert_ok()

@pytest.mark.claim("toy.thm.dies")
def test_dies(evidence):
    evidence.assert_ok()
'''


def _write_project(root: Path) -> Path:
    return toyrepo.write(root, PRELUDE, TESTS)


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The toy repository after one complete serial run into rep/ (its output kept)."""
    root = _write_project(tmp_path_factory.mktemp("reported") / "repo")
    out = _pytest(root, "--report-dir", "rep")
    (root / "started").unlink()
    return root, out


@pytest.fixture
def project(tmp_path):
    """A fresh toy repository with no report yet."""
    return _write_project(tmp_path / "repo")


@pytest.fixture
def with_report(reported, tmp_path):
    """A copy of the repository holding the complete report, for a run that must keep it."""
    root = tmp_path / "repo"
    shutil.copytree(reported[0], root)
    return root, (root / "rep" / "claims.json").read_text()


def _env(project: Path, **extra) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               TOY_STARTED=str(project / "started"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PAPER_CHECKS_SEEDS", None)
    env.update(extra)
    return env


def _pytest(project: Path, *args, **env):
    return subprocess.run([sys.executable, "-m", "pytest", "paper_checks", "-p", "no:cacheprovider",
                           *args], cwd=project, env=_env(project, **env), capture_output=True,
                          text=True, timeout=300)


def _claims(folder: Path) -> dict:
    data = json.loads((folder / "claims.json").read_text())
    return data


def _by_id(data) -> dict:
    return {c["id"]: c for c in data["claims"]}


def test_a_complete_run_writes_a_marked_report_with_a_row_per_claim(reported):
    project, out = reported
    assert out.returncode == 1, out.stdout + out.stderr  # test_bad fails; the run is complete
    rep = project / "rep"
    assert report.is_report(rep)
    data = _claims(rep)
    assert data["provenance"]["complete"] is True and data["provenance"]["run"]["complete"] is True
    rows = _by_id(data)
    assert set(rows) == {"toy.thm.ok", "toy.thm.bad", "toy.thm.refuted", "toy.thm.refuted_crash",
                         "toy.thm.slow", "toy.thm.dies"}
    assert rows["toy.thm.ok"]["verdict"] == "pass" and rows["toy.thm.bad"]["verdict"] == "fail"
    assert all(r["expect"] in ("pass", "fail") for r in rows.values())
    # an expected refutation that is refuted passes its test and is shown as REFUTED
    assert rows["toy.thm.refuted"]["verdict"] == "fail" and rows["toy.thm.refuted"]["expect"] == "fail"
    assert rows["toy.thm.refuted"]["outcome"] == "passed"
    assert "toy:3" in out.stdout and "REFUTED" in out.stdout.split("toy:3", 1)[1].splitlines()[0]
    # a crash is an error, never a refutation, even for a claim expected to fail
    crash = rows["toy.thm.refuted_crash"]
    assert crash["verdict"] == "error" and "the toy measurement crashed" in crash["error"]
    assert "ERROR" in out.stdout.split("toy:4", 1)[1].splitlines()[0]
    assert "1 error" in out.stdout.splitlines()[-1] or "1 error" in out.stdout
    execution = data["provenance"]["run"]["execution"]
    assert execution["math_threads_per_claim"] == 1 and execution["workers"] == 0
    assert execution["device"].startswith(("cpu", "cuda"))
    leftovers = [p.name for p in project.iterdir() if p.name.startswith(".rep")]
    assert leftovers == [], f"temporary folders left behind: {leftovers}"
    mode = rep.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask, f"report folder mode {oct(mode)}, expected the umask's"


def test_report_dir_at_a_file_is_refused_before_any_claim_runs(project):
    notes = project / "notes.txt"
    notes.write_text("my notes\n")
    out = _pytest(project, "--report-dir", "notes.txt")
    assert out.returncode != 0
    assert "notes.txt" in out.stderr and "is a file" in out.stderr
    assert notes.read_text() == "my notes\n"
    assert not (project / "started").exists(), "a claim ran before the refusal"
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt", "paper_checks", "pytest.ini"]


def test_report_dir_at_a_folder_of_the_users_is_refused_and_left_alone(project):
    mine = project / "mypaper"
    mine.mkdir()
    (mine / "draft.tex").write_text("\\section{Intro}\n")
    out = _pytest(project, "--report-dir", "mypaper")
    assert out.returncode != 0
    assert "mypaper" in out.stderr and "not a claims report" in out.stderr
    assert [p.name for p in mine.iterdir()] == ["draft.tex"]
    assert not (project / "started").exists()


@pytest.mark.parametrize("selection", [("-k", "ok"), ("-x",), ("paper_checks/test_toy.py::test_ok",)])
def test_a_selected_run_never_replaces_the_complete_report(with_report, selection):
    project, complete = with_report
    out = _pytest(project, "--report-dir", "rep", *selection)
    assert (project / "rep" / "claims.json").read_text() == complete
    partial = report.partial_path(project / "rep")
    data = _claims(partial)
    run = data["provenance"]["run"]
    assert data["provenance"]["complete"] is False and run["incomplete_because"], run
    assert run["selection"]["args"] and "PARTIAL" in out.stdout
    never = [c for c in data["claims"] if c["verdict"] == "error"
             and c["error"].startswith("never ran")]
    if selection == ("-x",):  # the claims after the first failure never ran: ERROR rows
        assert never, data["claims"]
    if selection[0] == "-k":  # what -k left out has no row (it was not meant to run)
        assert [c["nodeid"] for c in data["claims"]] == ["paper_checks/test_toy.py::test_ok"]
        assert len(run["selection"]["deselected"]) == 5 and not never


def test_a_real_sigint_keeps_the_complete_report_and_leaves_no_temporary_folder(with_report):
    project, complete = with_report
    # A process started in the background of a shell (`nohup pytest tests/ &`, some CI
    # runners) inherits SIGINT ignored, and so would the child: give it the default
    # disposition, which Python turns into KeyboardInterrupt, as in a terminal.
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "paper_checks", "-p", "no:cacheprovider",
                             "--report-dir", "rep"], cwd=project,
                            env=_env(project, TOY_SLEEP=str(SIGINT_WAIT_S)),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + SIGINT_WAIT_S
    while not (project / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the slow claim never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=SIGINT_WAIT_S)
    except subprocess.TimeoutExpired:  # stop it, so that no process or pipe outlives the test
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"the run did not end within {SIGINT_WAIT_S} s of SIGINT:\n{stdout}\n{stderr}")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, stdout + stderr
    assert (project / "rep" / "claims.json").read_text() == complete
    data = _claims(report.partial_path(project / "rep"))
    assert data["provenance"]["run"]["incomplete_because"][0] == "interrupted"
    rows = _by_id(data)
    assert rows["toy.thm.ok"]["verdict"] == "pass"  # the claims that finished are kept
    assert rows["toy.thm.slow"]["verdict"] == "error"
    leftovers = [p.name for p in project.iterdir() if p.name.startswith(".rep")]
    assert leftovers == [], f"temporary folders left behind: {leftovers}"


def test_stale_staging_and_set_aside_reports_are_cleaned_only_when_marked(tmp_path):
    target = tmp_path / "rep"
    report.write_report([], target)
    staging = tmp_path / ".rep.staging-1-dead"
    staging.mkdir()
    (staging / report.MARKER).write_text("{}")
    foreign = tmp_path / ".rep.staging-2-mine"
    foreign.mkdir()  # not marked: not ours, left alone
    aside = tmp_path / ".rep.old-3-beef"
    os.replace(target, aside)  # a swap killed half-way: the report is set aside
    report.remove_stale(target)
    assert report.is_report(target) and not staging.exists() and foreign.exists()
    assert not aside.exists()


def test_a_worker_that_dies_gives_an_error_row_and_never_replaces_the_complete_report(with_report):
    project, complete = with_report
    out = _pytest(project, "--report-dir", "rep", "-n", "2", TOY_DIE="1")
    assert out.returncode != 0
    assert (project / "rep" / "claims.json").read_text() == complete
    data = _claims(report.partial_path(project / "rep"))
    rows = _by_id(data)
    assert rows["toy.thm.dies"]["verdict"] == "error" and "died" in rows["toy.thm.dies"]["error"]
    assert rows["toy.thm.ok"]["verdict"] == "pass"  # the other worker's and later claims stay
    assert any("worker died" in why for why in data["provenance"]["run"]["incomplete_because"])
    assert data["provenance"]["run"]["execution"]["workers"] == 2


def test_the_plugin_is_the_installed_entry_point_and_paper_checks_keeps_no_plugin_code():
    from importlib.metadata import entry_points
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("representation_theorems") == "theorems.pytest_plugin"
    assert not (ROOT / "paper_checks" / "conftest.py").exists()


def test_a_claim_that_loads_torch_itself_is_measured_pinned_and_its_entry_names_torch(tmp_path):
    """No module of the claim imports torch at its top, so nothing loads torch before the
    measurement does: it still runs on the math threads, its cache entry records the torch it
    ran with (its key does not hold it), and the provenance names torch's device."""
    conftest = toyrepo.conftest_text('''
from theorems import registry
from theorems.base import Claim, Measurement
from theorems.tolerances import Threshold

def _torch_threads(seed):
    import torch
    return Measurement({"err": 0.5}, details={"torch_threads": torch.get_num_threads()})
''', '''    _claim("toy.thm.torch", "toy:1", _torch_threads),
''')
    tests = '''
import pytest

@pytest.mark.claim("toy.thm.torch")
def test_torch(evidence):
    evidence.assert_ok()
'''
    root = toyrepo.write(tmp_path / "repo", conftest, tests)
    out = _pytest(root, "--report-dir", "rep", "--cache-dir", "cache")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    data = _claims(root / "rep")
    assert data["claims"][0]["per_seed"][0]["details"]["torch_threads"] == 1
    from theorems import _keys
    assert data["provenance"]["run"]["execution"]["device"] == _keys.torch_facts()["device"]
    entry, = (root / "cache").rglob("evidence/*.json")
    entry = json.loads(entry.read_text())
    assert "torch_cpu_capability" not in entry["key"]["stack"]
    assert json.loads(entry["payload"])["loaded_torch"] == _keys.torch_facts()


def test_a_run_without_claim_tests_writes_prints_and_checks_nothing(tmp_path):
    """In any repository of the environment: no table, no header, no report. Serially, a file
    at the default report path (which a claims run refuses) is not even looked at; under -n
    the report folder is checked before the workers collect anything, so there the run only
    writes and prints nothing."""
    root = tmp_path / "other"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    for args in (("-n", "1"), ()):
        if not args:
            (root / "paper_checks_report").write_text("a file of the user's\n")
        out = subprocess.run([sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider",
                              "-p", "no:benchmark", "-p", "no:hypothesispytest", "-p", "no:anyio",
                              *args],  # plugins the plain test does not use (as in tests/toyrepo.py)
                             cwd=root, env=_env(root), capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout + out.stderr
        assert "= claims =" not in out.stdout and "paper checks:" not in out.stdout
    assert (root / "paper_checks_report").read_text() == "a file of the user's\n"
    assert sorted(p.name for p in root.iterdir()) == ["paper_checks_report", "tests"]


def test_slow_claim_tests_run_only_with_paper_scale(project):
    (project / "paper_checks" / "test_slow_tier.py").write_text(
        "import pytest\n\n\n@pytest.mark.slow\n@pytest.mark.claim('toy.thm.ok')\n"
        "def test_slow_ok(evidence):\n    evidence.assert_ok()\n")
    default = _pytest(project, "-k", "slow_ok", "-rs")
    assert "1 skipped" in default.stdout and "run with --paper-scale" in default.stdout, default.stdout
    scaled = _pytest(project, "-k", "slow_ok", "--paper-scale")
    assert "1 passed" in scaled.stdout, scaled.stdout


def test_prepare_is_called_once_per_selected_claim_before_the_claims_run(project):
    prepared = project / "prepared.txt"
    out = _pytest(project, "-k", "ok or bad", TOY_PREPARED=str(prepared), PAPER_CHECKS_SEEDS="1")
    last = out.stdout.splitlines()[-1]
    assert "1 passed" in last and "1 failed" in last, out.stdout
    assert prepared.read_text() == "(1,)\n"  # toy.thm.ok's, with the selected seeds; bad has none
    prepared.unlink()
    _pytest(project, "-k", "refuted", TOY_PREPARED=str(prepared))
    assert not prepared.exists()  # not selected: not prepared
    listed = _pytest(project, "--collect-only", "-q", TOY_PREPARED=str(prepared))
    assert "toy" in listed.stdout and listed.returncode == 0, listed.stdout + listed.stderr
    assert not prepared.exists()  # listing the claims runs none: nothing is prepared


ORDER_PRELUDE = toyrepo.conftest_text('''
import os
from theorems import registry
from theorems.base import Claim, Measurement
from theorems.tolerances import Threshold

def _logged(name):
    def measure(seed):
        with open(os.environ["TOY_ORDER"], "a") as fh:
            fh.write(name + "\\n")
        return Measurement({"err": 0.5})
    return measure
''', '''\
    _claim("toy.order.short", "toy:1", _logged("short"), budget_s=1.0),
    _claim("toy.order.long", "toy:2", _logged("long"), budget_s=50.0),
    _claim("toy.order.middle", "toy:3", _logged("middle"), budget_s=5.0),
    _claim("toy.order.tie", "toy:4", _logged("tie"), budget_s=5.0),
''')

ORDER_TESTS = '''
import os
import pytest

def test_plain():
    with open(os.environ["TOY_ORDER"], "a") as fh:
        fh.write("plain\\n")
''' + "".join(f'''
@pytest.mark.claim("toy.order.{name}")
def test_{name}(evidence):
    evidence.assert_ok()
''' for name in ("short", "long", "middle", "tie"))


def test_under_xdist_the_claims_with_the_largest_budgets_run_first(tmp_path):
    """Serially the file order; under -n (one worker, so the order is observable) the claim
    tests by budget_s, largest first, ties in file order, and a plain test keeps its place."""
    root = toyrepo.write(tmp_path / "repo", ORDER_PRELUDE, ORDER_TESTS)
    order = root / "order.txt"
    for args, expected in (((), ["plain", "short", "long", "middle", "tie"]),
                           (("-n", "1"), ["plain", "long", "middle", "tie", "short"])):
        out = _pytest(root, "--report-dir", "rep", *args, TOY_ORDER=str(order))
        assert out.returncode == 0, out.stdout + out.stderr
        assert order.read_text().split() == expected, args
        order.unlink()


def test_claims_tables_are_checked_by_a_complete_default_run_and_fail_it_when_stale(project):
    (project / "paper_checks" / "test_toy.py").write_text(
        "import pytest\n\n\n@pytest.mark.claim('toy.thm.ok')\ndef test_ok(evidence):\n"
        "    evidence.assert_ok()\n")
    ini = project / "pytest.ini"
    ini.write_text(ini.read_text() + "claims_tables = TABLES.md\n")
    tables_md = project / "TABLES.md"
    tables_md.write_text("# Results\n\n<!-- claims-table: toy -->\nold\n<!-- /claims-table -->\n")
    stale = _pytest(project, "--report-dir", "rep")
    assert stale.returncode == 1 and "1 passed" in stale.stdout, stale.stdout + stale.stderr
    assert "STALE claims tables: " in stale.stdout and "python -m theorems tables" in stale.stdout
    assert "old" in tables_md.read_text()  # the run checks; it never rewrites the user's file
    regen = subprocess.run([sys.executable, "-m", "theorems", "tables", "TABLES.md", "--report",
                            "rep"], cwd=project, env=_env(project), capture_output=True,
                           text=True, timeout=120)
    assert regen.returncode == 0 and "updated" in regen.stdout, regen.stdout + regen.stderr
    assert "`toy.thm.ok` (worst of seeds 0, 1) | PASS | err 0.51 (≤ 1) |" in tables_md.read_text()
    current = _pytest(project, "--report-dir", "rep")
    assert current.returncode == 0 and "claims tables current: " in current.stdout, current.stdout
    # measured on another machine class: the verdicts are compared, the values only reported
    text = tables_md.read_text()
    caption = next(line for line in text.splitlines() if line.startswith("Machine class: CPU "))
    other_class = text.replace(caption, caption.replace("Machine class: CPU ", "Machine class: CPU Other"))
    tables_md.write_text(other_class.replace("err 0.51 (≤ 1)", "err 0.52 (≤ 1)"))
    moved = _pytest(project, "--report-dir", "rep")
    assert moved.returncode == 0 and "claims tables current: " in moved.stdout, moved.stdout
    assert "verdicts and failing criteria agree; 1 of 1 rows differ in measured values" in moved.stdout
    tables_md.write_text(other_class.replace("| PASS | err 0.51 (≤ 1) |", "| FAIL | err 0.51 (≤ 1) ✗ |"))
    flipped = _pytest(project, "--report-dir", "rep")
    assert flipped.returncode == 1 and "STALE claims tables: " in flipped.stdout, flipped.stdout
    tables_md.write_text(text)
    # a run at other seeds (or scale, or a selection) does not judge the committed tables
    other = _pytest(project, "--report-dir", "rep2", PAPER_CHECKS_SEEDS="1")
    assert other.returncode == 0, other.stdout
    assert "claims tables not checked: this run is not at the default seeds" in other.stdout
    selected = _pytest(project, "--report-dir", "rep3", "-k", "ok")
    assert "claims tables not checked: this run is partial" in selected.stdout, selected.stdout
