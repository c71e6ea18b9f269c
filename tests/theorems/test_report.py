"""The claims report: the JSON schema, atomic writes, and the paper-checks plugin end to end."""

import json

import pytest
import torch  # noqa: F401  (loaded here, once: pytester's in-process runs restore
#               sys.modules afterwards, and torch cannot be imported twice)

from theorems import report
from theorems.base import Claim, Measurement
from theorems.tolerances import Threshold

REQUIRED_KEYS = {"id", "spec", "paper", "reference", "statement", "measured", "required",
                 "verdict", "seeds", "seconds"}


def _claim(value, cid="toy.thm.c", spec="toy:1"):
    return Claim(id=cid, spec=spec, paper="Toy", reference="Thm 1",
                 statement="Toy.", kind="simulation",
                 measure=lambda s: Measurement({"err": value}, {"n": 3}),
                 criteria=(Threshold("err", 1.0, why="toy"),), seeds=(0, 1))


def _records(*values):
    return [report.evidence_record(_claim(v).check()) for v in values]


def test_report_has_the_schema_fields(tmp_path):
    path = report.write_report(_records(0.5), tmp_path / "rep")
    data = json.loads(path.read_text())
    assert data["claims"] and REQUIRED_KEYS <= set(data["claims"][0])
    assert data["claims"][0]["verdict"] == "pass"
    assert data["provenance"]["cvxpy"] and data["provenance"]["torch"]
    # the machine class of trained values (tables compare values within one class only)
    assert set(data["provenance"]["cpu"]) == {"vendor", "model"}
    assert data["provenance"]["cpu"]["vendor"], "no CPU vendor recorded"
    assert {p.name for p in (tmp_path / "rep").iterdir()} >= {"claims.json", "claims.md", "claims.tex"}
    assert [p.name for p in tmp_path.iterdir()] == ["rep"], "staging folder left behind"


def test_non_finite_values_are_written_as_strings_not_invalid_json(tmp_path):
    path = report.write_report(_records(float("inf")), tmp_path / "rep")
    data = json.loads(path.read_text())
    assert data["claims"][0]["measured"]["err"] == "inf"
    assert data["claims"][0]["verdict"] == "fail"


def test_latex_macros_are_letters_only_and_collisions_are_refused():
    recs = _records(0.5)
    tex = report.latex(recs)
    assert "\\newcommand{\\rtToyThmCErr}{0.5}" in tex
    assert report.macro_name("soudry2018.gd_max_margin.direction", "one_minus_cos") == (
        "\\rtSoudryTwoZeroOneEightGdMaxMarginDirectionOneMinusCos")
    clash = [dict(recs[0], id="toy.thm_c")]  # a different claim with the same CamelCase
    with pytest.raises(ValueError, match="would name both"):
        report.latex(recs + clash)


def test_an_interrupted_write_keeps_the_previous_report(tmp_path, monkeypatch):
    target = tmp_path / "rep"
    report.write_report(_records(0.5), target)
    before = (target / "claims.json").read_text()
    monkeypatch.setattr(report, "latex", lambda recs: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        report.write_report(_records(2.0), target)
    assert (target / "claims.json").read_text() == before


def test_table_lists_measured_required_and_verdict():
    lines = report.table(_records(2.0))
    text = "\n".join(lines)
    assert "toy:1" in text and "FAIL" in text and "err = 2" in text and "err <= 1" in text


@pytest.fixture
def toy_checks(pytester, monkeypatch):
    """A paper_checks folder with a toy claim registered (the plugin is the installed one)."""
    import theorems.registry as registry

    claims = {"toy.thm.ok": _claim(0.5, "toy.thm.ok", "toy:1"),
              "toy.thm.bad": _claim(3.0, "toy.thm.bad", "toy:2")}
    monkeypatch.setattr(registry, "get_claim", lambda cid: claims[cid])
    pytester.makepyfile(test_toy="""
        import pytest

        @pytest.mark.claim("toy.thm.ok")
        def test_ok(evidence):
            evidence.assert_ok()

        @pytest.mark.claim("toy.thm.bad")
        def test_bad(evidence):
            evidence.assert_ok()
    """)
    # pytest-benchmark (present on some machines) warns when the outer run uses xdist, and
    # warnings are errors; the project measures speed in benchmarks/, never in tests
    pytester.makeini("[pytest]\naddopts = -p no:benchmark\nmarkers =\n    claim(id): claim\n"
                     "    slow: slow\n")
    return pytester


def test_plugin_prints_the_table_and_writes_the_report(toy_checks):
    result = toy_checks.runpytest_inprocess("--report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*claims*", "toy:1*PASS*", "toy:2*FAIL*", "*claims report*"])
    result.stdout.fnmatch_lines(["*reproduce: PAPER_CHECKS_SEEDS=0,1 pytest 'test_toy.py::test_bad'*"])
    data = json.loads((toy_checks.path / "out" / "claims.json").read_text())
    assert {c["verdict"] for c in data["claims"]} == {"pass", "fail"}


def test_seed_selection_reaches_the_claims(toy_checks, monkeypatch):
    monkeypatch.setenv("PAPER_CHECKS_SEEDS", "1")
    result = toy_checks.runpytest_inprocess("--report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    data = json.loads((toy_checks.path / "out" / "claims.json").read_text())
    assert all(c["seeds"] == [1] for c in data["claims"])


def test_bad_seed_setting_is_a_usage_error(toy_checks, monkeypatch):
    monkeypatch.setenv("PAPER_CHECKS_SEEDS", "one")
    result = toy_checks.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret != 0
