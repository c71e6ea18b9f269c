"""``--scheduler local``: the claims' seeds measured as tasks on a Dask LocalCluster give the
serial run's values and verdicts, and a worker that dies is retried once, then its claim is
an ERROR row.

The toy claims belong to a real theorem package of a toy paper repository (``toydask``,
registered through ``REPRESENTATION_THEOREMS_EXTRA``), so that the workers, fresh
interpreters, resolve them by id through the registry as they would a paper's. Skipped when
dask[distributed] (the ``dask`` extra) is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the dask extra: pip install -e '.[dask]'")

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]

THEOREM = '''
import os
import subprocess
import sys

from theorems import scheduler
from theorems.base import Claim, Measurement, Theorem
from theorems.tolerances import Threshold


def _ok(seed):
    return Measurement({"err": 0.5 + 0.01 * seed}, details={"n": seed})


def _bad(seed):
    return Measurement({"err": 3.0 + 0.125 * seed})


def _dies(seed):
    if os.environ.get("TOY_DIE"):
        with open(os.environ["TOY_ATTEMPTS"], "a") as fh:
            fh.write(f"{seed}\\n")
        os._exit(3)  # the worker process dies mid-measurement
    return Measurement({"err": 0.5})


def _train(seed):  # a background task on the cluster, or the serial run's own training
    with open(os.environ["TOY_TRAINED"], "a") as fh:
        fh.write(f"{seed}\\n")


def _prepare(seeds):
    for s in seeds:
        if not scheduler.background(f"toydask-train-{s}", _train, s):
            _train(s)


def _trained(seed):  # measured only once its training finished
    with open(os.environ["TOY_TRAINED"]) as fh:
        if str(seed) not in fh.read().split():
            raise RuntimeError(f"seed {seed} measured before it was trained")
    if os.environ.get("TOY_DIE"):  # a worker killed by os._exit cannot end its helpers
        return Measurement({"err": 0.25 + 0.01 * seed})
    # a helper process that must not outlive the worker, in a session of its own (so that
    # only the at_close registration can end it, not a signal to the worker's group)
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                              start_new_session=True)
    scheduler.at_close(helper.kill)
    with open(os.environ["TOY_TRAINED"] + ".helpers", "a") as fh:
        fh.write(f"{helper.pid}\\n")
    return Measurement({"err": 0.25 + 0.01 * seed})


def _claim(aspect, spec, measure, **kw):
    return Claim(id=f"toydask.thm.{aspect}", spec=f"toydask:{spec}", paper="Toy",
                 reference="Thm 1", statement="Toy.", kind="simulation", measure=measure,
                 criteria=(Threshold("err", 1.0, why="toy bound"),), **kw)


class ToyTheorem(Theorem):
    paper, slug, title, citation = "toydask", "thm", "Toy", "Toy"

    def statement(self):
        return None

    def example(self, seed=0):
        return None

    def reference(self, instance):
        return None

    def simulate(self, instance, seed=0):
        return None

    def compare(self, instance, seed=0):
        return {}

    def negative_controls(self):
        return {}

    def claims(self):
        return (_claim("ok", 1, _ok, seeds=(0, 1, 2)),
                _claim("bad", 2, _bad, seeds=(0, 1)),
                _claim("refuted", 3, _bad, seeds=(0, 1, 2), statistic="median",
                       expect="fail", expect_reason="the toy bound is known to fail"),
                _claim("dies", 4, _dies),
                _claim("trained", 5, _trained, seeds=(0, 1), prepare=_prepare),
                _claim("trained_too", 6, _trained, seeds=(0, 1), prepare=_prepare))
'''

TESTS = "import pytest\n" + "".join(f'''
@pytest.mark.claim("toydask.thm.{name}")
def test_{name}(evidence):
    evidence.assert_ok()
''' for name in ("ok", "bad", "refuted", "dies", "trained", "trained_too"))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask") / "repo"
    (root / "toydask").mkdir(parents=True)
    (root / "toydask" / "__init__.py").write_text("")
    (root / "toydask" / "thm.py").write_text(THEOREM)
    (root / "paper_checks").mkdir()
    (root / "paper_checks" / "test_toy.py").write_text(TESTS)
    # the plugins no toy claim uses stay off, as in tests/toyrepo.py
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:benchmark -p no:hypothesispytest "
                                     "-p no:anyio\nmarkers =\n    claim(id): claim\n    slow: slow\n")
    return root


def _pytest(project: Path, report: str, *args, **env):
    environ = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", REPRESENTATION_THEOREMS_EXTRA="toydask",
                   PYTHONPATH=os.pathsep.join([str(ROOT), str(project)]),
                   TOY_ATTEMPTS=str(project / "attempts.txt"))
    environ.pop("PAPER_CHECKS_SEEDS", None)
    environ.update(env)
    out = subprocess.run([sys.executable, "-m", "pytest", "paper_checks", "-p", "no:cacheprovider",
                          "--no-cache", "--report-dir", report, *args], cwd=project, env=environ,
                         capture_output=True, text=True, timeout=300)
    folder = project / report
    if not (folder / "claims.json").exists():
        folder = folder.with_name(folder.name + ".partial")
    data = json.loads((folder / "claims.json").read_text())
    return out, {c["id"]: c for c in data["claims"]}, data["provenance"]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    if not os.path.isdir("/proc"):  # no procfs: ask the kernel (a zombie counts as alive)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_local_scheduler_gives_the_serial_runs_values_and_verdicts(project):
    serial, rows, _ = _pytest(project, "serial", "-k", "not dies",
                              TOY_TRAINED=str(project / "trained-serial.txt"))
    dask, on_dask, prov = _pytest(project, "dask", "-k", "not dies", "--scheduler", "local",
                                  TOY_TRAINED=str(project / "trained-dask.txt"))
    assert dask.returncode == serial.returncode == 1, dask.stdout + dask.stderr  # test_bad
    assert prov["run"]["execution"]["scheduler"] == "local"
    # the trainings the claims prepare are tasks of their own, once per key for both
    # claims, each finished before a measurement that needs it started
    assert sorted((project / "trained-dask.txt").read_text().split()) == ["0", "1"]
    # what a measurement started and registered with scheduler.at_close ended with the
    # process that started it: with the serial run, and with each worker of the cluster
    for run in ("serial", "dask"):
        helpers = (project / f"trained-{run}.txt.helpers").read_text().split()
        assert len(helpers) == 4 and not [pid for pid in helpers if _alive(int(pid))], run
    measured = {"toydask.thm.ok", "toydask.thm.bad", "toydask.thm.refuted",
                "toydask.thm.trained", "toydask.thm.trained_too"}
    assert {c for c, r in on_dask.items() if r["verdict"] != "error"} == measured
    for cid in measured:
        row = rows[cid]
        for field in ("measured", "verdict", "per_seed", "seeds", "outcome", "criteria"):
            assert on_dask[cid][field] == row[field], (cid, field)
    assert on_dask["toydask.thm.refuted"]["outcome"] == "passed"  # REFUTED, as expected


def test_a_worker_that_dies_is_retried_once_then_its_claim_is_an_error_row(project):
    out, rows, _ = _pytest(project, "died", "-k", "dies or ok or trained", "--scheduler", "local",
                           TOY_DIE="1", TOY_TRAINED=str(project / "trained-died.txt"))
    assert out.returncode != 0
    assert rows["toydask.thm.dies"]["verdict"] == "error", out.stdout + out.stderr
    assert "died" in rows["toydask.thm.dies"]["error"]
    # the other claims are unaffected, those whose tasks waited for a training included:
    # a death is charged to the task its worker ran, not to one queued behind it
    for cid in ("toydask.thm.ok", "toydask.thm.trained", "toydask.thm.trained_too"):
        assert rows[cid]["verdict"] == "pass", (cid, rows[cid].get("error"))
    assert (project / "attempts.txt").read_text() == "0\n0\n"  # tried, then retried once
