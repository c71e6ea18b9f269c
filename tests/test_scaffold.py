"""A scaffolded theorem is discovered, checked by the contract, reported, and fails until
filled in; parallel runs give the same verdicts as serial ones."""

import json
import shutil
from pathlib import Path

import pytest

from sim.errors import InputError
from theorems.scaffold import check_spec_is_new, new_theorem

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]
FILLED = '''    return Measurement({"error": 0.0})'''
PLACEHOLDER = '''    raise NotImplementedError("usertheorems.toy2099.answer: measure_answer is not written yet")'''


@pytest.fixture
def project(pytester, monkeypatch):
    """A user's repository with a scaffolded theorem (the plugin is the installed one)."""
    new_theorem("toy2099", "answer", root=pytester.path, package="usertheorems")
    shutil.copy(ROOT / "tests" / "test_contract.py", pytester.path / "test_contract.py")
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("REPRESENTATION_THEOREMS_EXTRA", "usertheorems")
    monkeypatch.setenv("PYTHONPATH", f"{pytester.path}")
    return pytester


def _fill_in(path: Path) -> None:
    module = path / "usertheorems" / "toy2099" / "answer.py"
    text = module.read_text()
    assert PLACEHOLDER in text
    module.write_text(text.replace(PLACEHOLDER, FILLED))


def _verdicts(path: Path) -> dict:
    data = json.loads((path / "claims.json").read_text())
    return {c["id"]: (c["verdict"], c["measured"]) for c in data["claims"]}


def test_scaffold_fails_until_filled_in_then_passes_and_is_reported(project):
    result = project.runpytest_subprocess("paper_checks", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)  # the evidence fixture raises: the claim is not written
    result.stdout.fnmatch_lines(["*NotImplementedError*measure_answer is not written yet*"])

    contract = project.runpytest_subprocess("test_contract.py", "-p", "no:cacheprovider",
                                            "-k", "toy2099")
    assert contract.ret != 0
    contract.stdout.fnmatch_lines(["*toy2099.answer*"])
    # the corruption check is run for it too (it fails: nothing is written yet)
    contract.stdout.fnmatch_lines(["*test_reference_rejects_a_corrupted_input*toy2099.answer*"])

    _fill_in(project.path)
    result = project.runpytest_subprocess("paper_checks", "--report-dir", "rep",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _verdicts(project.path / "rep") == {"toy2099.answer.main": ("pass", {"error": 0.0})}


def test_parallel_run_gives_the_serial_verdicts(project):
    _fill_in(project.path)
    checks = project.path / "paper_checks" / "test_toy2099.py"
    checks.write_text(checks.read_text() + '''

@pytest.mark.claim("toy2099.answer.main")
def test_answer_again(evidence):
    evidence.assert_ok()
''')
    serial = project.runpytest_subprocess("paper_checks", "--report-dir", "serial",
                                          "-p", "no:cacheprovider")
    parallel = project.runpytest_subprocess("paper_checks", "--report-dir", "parallel", "-n", "2",
                                            "-p", "no:cacheprovider")
    serial.assert_outcomes(passed=2)
    parallel.assert_outcomes(passed=2)
    assert _verdicts(project.path / "serial") == _verdicts(project.path / "parallel")
    data = json.loads((project.path / "parallel" / "claims.json").read_text())
    assert len(data["claims"]) == 2  # both workers' records were merged


def test_scaffold_refuses_bad_names_and_overwrites(tmp_path):
    with pytest.raises(InputError, match="identifier"):
        new_theorem("Smith-2025", "x", root=tmp_path)
    new_theorem("smith2025", "probe", root=tmp_path, package="mine")
    with pytest.raises(InputError, match="exists already"):
        new_theorem("smith2025", "probe", root=tmp_path, package="mine")


def test_scaffold_checks_every_argument_before_writing(tmp_path):
    with pytest.raises(InputError, match="--root .* does not exist"):
        new_theorem("smith2025", "probe", root=tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(InputError, match="--package 'my-pkg'"):
        new_theorem("smith2025", "probe", root=tmp_path, package="my-pkg")
    with pytest.raises(InputError, match="--spec 'a\"b' must look like KEY:NUMBER"):
        new_theorem("smith2025", "probe", root=tmp_path, spec='a"b')
    assert not list(tmp_path.iterdir())
    with pytest.raises(InputError, match="'linear_origins:7' is already the spec key of claim"):
        check_spec_is_new("linear_origins:7", "smith2025")
    check_spec_is_new(None, "smith2025")  # smith2025:1 is free
    written = new_theorem("smith2025", "probe", root=tmp_path, package="mine", spec="smith2025:1b")
    assert "smith2025:1b" in written[-2].read_text()  # the module, with the spec key given


def test_a_copied_contract_runs_the_negative_controls_of_a_theorem_that_trains(project):
    """The copy of tests/test_contract.py in the user's repository has no tiny scale (that
    is this repository's, for the Zhang runs): a theorem with ``trains = True`` still runs
    its negative controls there, as they are."""
    _fill_in(project.path)
    module = project.path / "usertheorems" / "toy2099" / "answer.py"
    text = module.read_text()
    empty = "        return {}  # name -> callable returning True when the check fails on broken input"
    assert empty in text and '    slug = "answer"\n' in text
    module.write_text(text.replace(empty, '        return {"always_fails": lambda: True}')
                      .replace('    slug = "answer"\n', '    slug = "answer"\n    trains = True\n'))
    result = project.runpytest_subprocess("test_contract.py", "-p", "no:cacheprovider",
                                          "-k", "toy2099 and negative_controls")
    result.assert_outcomes(passed=1)
