"""The claim cache as a user meets it: a second run reuses every claim and prints the same
table, an edited module re-checks exactly the claims that import it, a corrupt or foreign
entry is reported and measured again, ``--no-cache`` touches nothing, and a cache folder
that is not one is refused.

Like tests/test_paper_checks_plugin.py, each test builds a small paper repository
(tests/toyrepo.py) whose conftest registers toy claims, and runs pytest on it in a
subprocess with the installed plugin, always with a ``--cache-dir`` inside the repository
(never the user's cache). The toy claims' measurements live in a package of the repository,
``toylib``: one of them imports the toy simulation module ``toylib/noise.py`` inside its
function, the others do not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import toyrepo

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]

NOISE = '''"""The toy repository's simulation module."""


def level():
    return 0.25
'''

WITH_SIM = '''from theorems.base import Measurement


def measure(seed):
    from toylib import noise  # imported inside the function: the key must still see it
    return Measurement({"err": noise.level() + 0.01 * seed}, details={"n": 3})
'''

PLAIN = '''import os
from pathlib import Path

from theorems.base import Measurement


def measure(seed):
    with open(os.environ["TOY_MEASURED"], "a") as fh:  # which claims were measured
        fh.write(f"{seed}\\n")
    return Measurement({"err": 0.5 + 0.01 * seed})


def measure_bad(seed):
    return Measurement({"err": 3.0 + 0.01 * seed}, details={"steps": [1, 2]})


def crash(seed):
    raise RuntimeError("the toy measurement crashed")
'''

CONFTEST = toyrepo.conftest_text('''
import os
from theorems import registry
from theorems.base import Claim
from theorems.tolerances import Threshold
from toylib import plain, with_sim

def _prepare(seeds):
    with open(os.environ["TOY_PREPARED"], "a") as fh:
        fh.write(f"{seeds}\\n")
''', '''\
    _claim("toy.cache.sim", "toy:1", with_sim.measure, seeds=(0, 1), prepare=_prepare),
    _claim("toy.cache.plain", "toy:2", plain.measure, seeds=(0, 1)),
    _claim("toy.cache.bad", "toy:3", plain.measure_bad),
    _claim("toy.cache.refuted", "toy:4", plain.measure_bad, **REFUTE),
    _claim("toy.cache.crash", "toy:5", plain.crash),
''')

TESTS = "import pytest\n" + "".join(f'''
@pytest.mark.claim("toy.cache.{name}")
def test_{name}(evidence):
    evidence.assert_ok()
''' for name in ("sim", "plain", "bad", "refuted", "crash"))

MEASURED = {"toy.cache.sim", "toy.cache.plain", "toy.cache.bad", "toy.cache.refuted"}


def _write_project(root: Path) -> Path:
    return toyrepo.write(root, CONFTEST, TESTS, package=("toylib", {
        "noise.py": NOISE, "with_sim.py": WITH_SIM, "plain.py": PLAIN}))


def _pytest(project: Path, *args, cache="cache", **env) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                   TOY_PREPARED=str(project / "prepared.txt"),
                   TOY_MEASURED=str(project / "measured.txt"))
    environ.pop("PAPER_CHECKS_SEEDS", None)
    environ.update(env)
    for name in ("prepared.txt", "measured.txt"):
        (project / name).unlink(missing_ok=True)
    cache_args = ("--cache-dir", cache) if cache else ()
    return subprocess.run([sys.executable, "-m", "pytest", "paper_checks", "-p", "no:cacheprovider",
                           "--report-dir", "rep", *cache_args, *args], cwd=project,
                          env=environ, capture_output=True, text=True, timeout=300)


def _rows(project: Path, folder="rep") -> dict:
    data = json.loads((project / folder / "claims.json").read_text())
    return {c["id"]: c for c in data["claims"]}, data["provenance"]


def _table(out: str) -> list[str]:
    """The claims table's lines, as printed."""
    lines = out.split("= claims =", 1)[1].splitlines()[2:]
    return lines[:next(i for i, ln in enumerate(lines) if ln.startswith("cache:")) ]


def _failure(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("E ")]


def _entry(project: Path, claim_id: str) -> Path:
    for path in (project / "cache" / "v1" / "evidence").glob("*.json"):
        if json.loads(path.read_text())["key"]["claim"]["id"] == claim_id:
            return path
    raise AssertionError(f"no cache entry of {claim_id}")


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """The toy repository after one cold run into rep/, with its cache in cache/."""
    root = _write_project(tmp_path_factory.mktemp("cold") / "repo")
    out = _pytest(root)
    assert out.returncode == 1, out.stdout + out.stderr  # test_bad fails, test_crash errors
    return root, out, (root / "prepared.txt").read_text()


@pytest.fixture
def warm(cold, tmp_path):
    """A copy of the cold repository (and its cache), for a run that changes something."""
    root = tmp_path / "repo"
    shutil.copytree(cold[0], root)
    return root


def test_a_second_run_reuses_every_claim_and_prints_the_same_table(cold, warm):
    _, first, prepared = cold
    cold_rows, cold_prov = _rows(warm)
    assert prepared == "(0, 1)\n" and not any(r["reused"] for r in cold_rows.values()
                                               if r["verdict"] != "error")
    assert sorted(cold_prov["cache"]["measured_tests"]) == sorted(
        f"paper_checks/test_toy.py::test_{c.rsplit('.', 1)[1]}" for c in MEASURED)
    out = _pytest(warm)
    assert out.returncode == 1, out.stdout + out.stderr
    rows, prov = _rows(warm)
    assert {cid for cid, r in rows.items() if r.get("reused")} == MEASURED
    assert rows["toy.cache.crash"]["verdict"] == "error"  # a crash is never cached
    for cid in MEASURED:  # the reused record is the stored one, exactly
        assert {k: v for k, v in rows[cid].items() if k != "reused"} == {
            k: v for k, v in cold_rows[cid].items() if k != "reused"}
    table = _table(out.stdout)
    assert [ln.replace("  (reused)", "") for ln in table] == _table(first.stdout)
    assert all(("(reused)" in ln) == (ln.split()[0] in ("toy:1", "toy:2", "toy:3", "toy:4"))
               for ln in table if ln.startswith("toy:"))
    # the reused evidence asserts as the measured one did: the same failure, word for word
    assert _failure(out.stdout) == _failure(first.stdout) and _failure(out.stdout)
    assert "passed" in out.stdout.splitlines()[-1] and "1 failed" in out.stdout.splitlines()[-1]
    assert not (warm / "prepared.txt").exists(), "a reused claim was prepared"
    assert not (warm / "measured.txt").exists(), "a reused claim was measured"
    assert prov["cache"]["reused"] == sorted(MEASURED) and prov["cache"]["problems"] == []
    assert prov["cache"]["folder"] == str(warm / "cache")
    assert "4 of 5 claim test(s) reused" in out.stdout
    assert "reused their evidence from the claim cache" in (warm / "rep" / "claims.md").read_text()


def test_editing_a_sim_module_re_checks_exactly_the_claims_that_import_it(warm):
    noise = warm / "toylib" / "noise.py"
    noise.write_text(noise.read_text().replace("0.25", "0.3"))
    out = _pytest(warm)
    rows, prov = _rows(warm)
    assert prov["cache"]["reused"] == sorted(MEASURED - {"toy.cache.sim"}), out.stdout
    assert rows["toy.cache.sim"]["measured"]["err"] == pytest.approx(0.31, abs=1e-12)
    assert (warm / "prepared.txt").read_text() == "(0, 1)\n"  # its prepare ran again
    again = _pytest(warm)  # and the new evidence is the one stored
    assert _rows(warm)[1]["cache"]["reused"] == sorted(MEASURED), again.stdout


def _flip(path: Path) -> None:
    """One bit flipped inside the stored payload (its bytes, not its key)."""
    data = bytearray(path.read_bytes())
    data[data.index(b'"payload"') + 40] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _rekey(path: Path) -> None:
    entry = json.loads(path.read_text())
    entry["key"]["claim"]["statement"] = "Another claim."  # the payload and checksum stay valid
    path.write_text(json.dumps(entry))


def _reschema(path: Path) -> None:
    entry = json.loads(path.read_text())
    entry["schema"] = 999
    path.write_text(json.dumps(entry))


@pytest.mark.parametrize("corrupt, says", [
    (_flip, ("checksum", "unreadable")), (_truncate, ("truncated",)),
    (_rekey, ("key differs",)), (_reschema, ("foreign schema",))])
def test_a_corrupt_or_foreign_entry_is_reported_and_measured_again(warm, corrupt, says):
    entry = _entry(warm, "toy.cache.plain")
    corrupt(entry)
    out = _pytest(warm)
    rows, prov = _rows(warm)
    assert not rows["toy.cache.plain"]["reused"], "a corrupt entry was trusted"
    assert (warm / "measured.txt").read_text() == "0\n1\n"
    assert rows["toy.cache.plain"]["measured"] == {"err": 0.51}
    assert prov["cache"]["reused"] == sorted(MEASURED - {"toy.cache.plain"})
    [problem] = prov["cache"]["problems"]
    assert str(entry) in problem and any(s in problem for s in says), problem
    assert f"cache: {problem}" in out.stdout
    fresh = json.loads(entry.read_text())  # replaced by a whole entry
    assert fresh["schema"] == 1 and fresh["key"]["claim"]["statement"] == "Toy."


def test_no_cache_reads_and_writes_nothing(warm):
    before = sorted((p.relative_to(warm), p.stat().st_mtime_ns) for p in (warm / "cache").rglob("*"))
    out = _pytest(warm, "--no-cache")
    rows, prov = _rows(warm)
    assert not any(r.get("reused") for r in rows.values()), out.stdout
    assert prov["cache"]["enabled"] is False and prov["cache"]["off_because"] == "--no-cache"
    assert (warm / "prepared.txt").exists()
    assert sorted((p.relative_to(warm), p.stat().st_mtime_ns)
                  for p in (warm / "cache").rglob("*")) == before
    _pytest(warm, "--no-cache", cache="fresh")
    _pytest(warm, cache="", PAPER_CHECKS_CACHE="off")
    assert not (warm / "fresh").exists()
    assert _rows(warm)[1]["cache"]["off_because"] == "PAPER_CHECKS_CACHE=off"


def test_a_cache_dir_that_is_a_file_or_a_foreign_folder_is_refused(warm):
    (warm / "notes.txt").write_text("mine\n")
    out = _pytest(warm, cache="notes.txt")
    assert out.returncode == pytest.ExitCode.USAGE_ERROR, out.stdout + out.stderr
    assert "notes.txt is a file" in out.stderr and (warm / "notes.txt").read_text() == "mine\n"
    assert not (warm / "prepared.txt").exists(), "a claim was prepared before the refusal"
    mine = warm / "mine"
    mine.mkdir()
    (mine / "draft.tex").write_text("x")
    out = _pytest(warm, cache="mine")
    assert out.returncode == pytest.ExitCode.USAGE_ERROR and "not a representation-theorems cache" in out.stderr
    assert [p.name for p in mine.iterdir()] == ["draft.tex"]


def test_entries_written_by_xdist_workers_are_reused_by_a_serial_run(tmp_path):
    root = _write_project(tmp_path / "repo")
    parallel = _pytest(root, "-n", "2")
    assert parallel.returncode == 1, parallel.stdout + parallel.stderr
    measured, _ = _rows(root)
    serial = _pytest(root)
    rows, prov = _rows(root)
    assert prov["cache"]["reused"] == sorted(MEASURED), serial.stdout
    for cid in MEASURED:
        assert rows[cid]["measured"] == measured[cid]["measured"]
        assert rows[cid]["verdict"] == measured[cid]["verdict"]
