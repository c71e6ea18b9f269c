"""Claims tables generated from a report: rendering, updating only the marked blocks, and
refusing what they cannot be generated from."""

import copy
import json

import pytest

from theorems import tables


def _record(cid, spec, verdict, expect="pass", value=0.97, bound=0.95, direction=">=",
            holds=True, seeds=(0, 1, 2)):
    return {"id": cid, "spec": spec, "verdict": verdict, "expect": expect, "outcome": "passed",
            "statistic": "median", "seeds": list(seeds), "measured": {"r2": value},
            "criteria": [{"statistic": "r2", "bound": bound, "direction": direction,
                          "holds": holds}]}


REPORT = {"provenance": {"run": {"complete": True}, "cpu": {"vendor": "GenuineIntel"}}, "claims": [
    _record("p.thm.a", "paper:1", "pass"),
    _record("p.thm.b", "paper:2", "fail", expect="fail", value=0.5, holds=False),
    _record("q.other.c", "other:1", "fail", value=-0.001234, holds=False, seeds=(0,)),
    {"id": "p.thm.d", "spec": "paper:3", "outcome": "error", "verdict": None,
     "error": "RuntimeError: worker died\ntraceback", "criteria": []},
]}
MARKED = ("# Paper\n\nprose stays\n\n<!-- claims-table: p.thm -->\nstale\n<!-- /claims-table -->\n"
          "\nmore prose\n<!-- claims-table: q -->\n<!-- /claims-table -->\n")


def test_a_table_shows_verdicts_by_expectation_and_the_measured_values():
    text = tables.render(REPORT, ["p.thm"])
    assert text.startswith("Machine class: CPU GenuineIntel (a check on another class")
    rows = text.splitlines()[4:]
    assert len(rows) == 3  # q.other is not selected
    assert "| paper:1 | `p.thm.a` (median of seeds 0, 1, 2) | PASS | r2 0.97 (≥ 0.95) |" == rows[0]
    assert "| REFUTED |" in rows[1] and "r2 0.5 (≥ 0.95) ✗" in rows[1]
    assert "| ERROR |" in rows[2] and "RuntimeError: worker died" in rows[2]
    assert "traceback" not in rows[2]
    other = tables.render(REPORT, ["q"]).splitlines()[4]
    assert "FAIL" in other and "−0.00123" in other and "seeds" not in other


def test_update_rewrites_only_the_marked_blocks_and_is_idempotent(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(MARKED)
    assert tables.stale(path, REPORT)
    assert tables.update(path, REPORT) is True
    text = path.read_text()
    assert text.startswith("# Paper\n\nprose stays\n\n<!-- claims-table: p.thm -->\nMachine class: ")
    assert "stale" not in text and "\nmore prose\n" in text and "`q.other.c`" in text
    assert not tables.stale(path, REPORT)
    assert tables.update(path, REPORT) is False and path.read_text() == text


def test_a_changed_value_makes_the_tables_stale(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(MARKED)
    tables.update(path, REPORT)
    moved = copy.deepcopy(REPORT)
    moved["claims"][0]["measured"]["r2"] = 0.9712  # a digit the table shows
    assert tables.stale(path, moved)
    same = copy.deepcopy(REPORT)
    same["claims"][0]["measured"]["r2"] = 0.97001  # beyond the digits shown
    assert not tables.stale(path, same)


@pytest.mark.parametrize(("provenance", "machine"), [
    ({"cpu": {"vendor": "AuthenticAMD", "model": "AMD EPYC"}}, "CPU AuthenticAMD"),
    ({"cpu": {"vendor": "GenuineIntel"}, "run": {"execution": {"device": "cuda (NVIDIA H100)"}}},
     "GPU NVIDIA H100"),
    ({}, "unknown"),  # a report written before the CPU was recorded
])
def test_the_machine_class_is_the_cpu_vendor_or_the_gpu(provenance, machine):
    assert tables.machine_class({"provenance": provenance}) == machine


def _from_another_machine(report, change=lambda claims: None):
    other = copy.deepcopy(report)
    other["provenance"]["cpu"] = {"vendor": "AuthenticAMD"}
    change(other["claims"])
    return other


@pytest.mark.parametrize(("change", "is_stale"), [
    (lambda c: c[0]["measured"].update(r2=0.9712), False),  # a value: said, not failed
    (lambda c: c[0].update(verdict="fail"), True),  # a verdict
    (lambda c: c[0]["criteria"][0].update(holds=False), True),  # which criteria fail
    (lambda c: c[0]["criteria"][0].update(bound=0.9), True),  # a bound (a code change)
    (lambda c: c.pop(0), True),  # a row
])
def test_a_table_from_another_machine_class_is_judged_on_its_verdicts(tmp_path, change, is_stale):
    """Trained networks' values differ between CPU vendors even on pinned kernels; what must
    not differ is compared, and the value differences are reported."""
    path = tmp_path / "README.md"
    path.write_text(MARKED)
    tables.update(path, REPORT)
    found_stale, notes = tables.compare(path, _from_another_machine(REPORT, change))
    assert found_stale is is_stale
    if not is_stale:
        assert len(notes) == 1 and "measured on CPU GenuineIntel, this run on CPU AuthenticAMD" in notes[0]
        assert "1 of 3 rows differ in measured values" in notes[0]
    # the same change on the table's own machine class is stale, whatever it is
    same = copy.deepcopy(REPORT)
    change(same["claims"])
    assert tables.compare(path, same) == (True, [])


def test_a_table_without_a_machine_caption_is_compared_in_full(tmp_path):
    """Tables generated before the caption existed are judged character by character."""
    path = tmp_path / "README.md"
    path.write_text(MARKED)
    tables.update(path, REPORT)
    text = path.read_text()
    path.write_text("".join(line for line in text.splitlines(keepends=True)
                            if not line.startswith("Machine class:")))
    assert tables.compare(path, _from_another_machine(REPORT))[0]


@pytest.mark.parametrize("text, message", [
    ("<!-- claims-table: p -->\nno end\n", "never closed"),
    ("<!-- claims-table: -->\n<!-- /claims-table -->\n", "at least one claim-id prefix"),
    ("<!-- claims-table: nothing -->\n<!-- /claims-table -->\n", "no claim whose id starts"),
    ("# no blocks\n", "has no <!-- claims-table"),
])
def test_files_tables_cannot_be_generated_for_are_refused(tmp_path, text, message):
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(tables.TableError, match=message):
        tables.update(path, REPORT)
    assert path.read_text() == text


def test_the_command_line_checks_and_refuses_incomplete_reports(tmp_path, capsys):
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "claims.json").write_text(json.dumps(REPORT))
    path = tmp_path / "README.md"
    path.write_text(MARKED)
    assert tables.main([str(path)], str(report_dir), check=True) == 1
    assert path.read_text() == MARKED  # a check writes nothing
    assert tables.main([str(path)], str(report_dir), check=False) == 0
    assert tables.main([str(path)], str(report_dir), check=True) == 0
    partial = {**REPORT, "provenance": {"run": {"complete": False}}}
    (report_dir / "claims.json").write_text(json.dumps(partial))
    with pytest.raises(tables.TableError, match="incomplete run"):
        tables.main([str(path)], str(report_dir), check=True)
    with pytest.raises(tables.TableError, match="does not exist"):
        tables.main([str(path)], str(tmp_path / "missing"), check=True)
