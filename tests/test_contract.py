"""The theorem contract, checked for every registered theorem (sklearn's check_estimator idea)."""

import inspect

import numpy as np
import pytest

from theorems import Theorem
from theorems._symbolic import Decision
from theorems.base import KINDS, Claim
from theorems.registry import all_claims, all_theorems

THEOREMS = all_theorems()


def test_registry_finds_theorems_sorted_and_unique():
    ids = [t.id for t in THEOREMS]
    assert ids, "no theorem registered"
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("thm", THEOREMS, ids=lambda t: t.id)
class TestContract:
    def test_module_docstring_has_references_and_notes(self, thm):
        doc = inspect.getmodule(type(thm)).__doc__ or ""
        assert "References" in doc and "Notes" in doc, f"{thm.id}: module docstring incomplete"

    def test_metadata_is_present(self, thm):
        for attr in ("paper", "slug", "title", "citation"):
            assert isinstance(getattr(thm, attr), str) and getattr(thm, attr).strip(), attr

    def test_statement_is_decided_not_vacuous(self, thm):
        decision = thm.statement()
        assert isinstance(decision, Decision)
        assert decision.outcome == "proved", decision.detail

    def test_reference_on_example_is_certified(self, thm):
        ref = thm.reference(thm.example(0))
        assert ref.status == "optimal"
        if hasattr(ref, "residuals"):  # the max-margin layer: its KKT_RESIDUAL tolerance
            assert ref.residuals.worst <= 1e-8
        else:  # a SolveResult carries its own tolerance and reason
            assert ref.residual <= ref.tol, ref.why

    def test_simulation_returns_summary_statistics(self, thm):
        out = thm.simulate(thm.example(0), seed=0)
        assert isinstance(out, dict) and out
        assert all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in out.values())

    def test_compare_reports_named_nonnegative_gaps(self, thm):
        gaps = thm.compare(thm.example(0), seed=0)
        assert gaps and all(v >= 0 for v in gaps.values())

    def test_claims_are_complete(self, thm):
        claims = thm.claims()
        assert claims
        for c in claims:
            assert isinstance(c, Claim)
            assert c.id.startswith(thm.id + ".")
            assert c.kind in KINDS and c.spec and c.statement.strip() and c.reference.strip()
            assert c.seeds and c.budget_s > 0
            assert all(t.why.strip() for t in c.criteria)

    def test_negative_controls_make_the_checks_fail(self, thm):
        controls = thm.negative_controls()
        assert controls, f"{thm.id} declares no negative control"
        for name, broken_fails in controls.items():
            assert broken_fails(), f"{thm.id}: the check still passes when {name}"


def test_all_claims_have_unique_ids_and_spec_keys():
    claims = all_claims()
    assert len({c.id for c in claims}) == len(claims)
    assert len({c.spec for c in claims}) == len(claims)


def test_an_incomplete_theorem_is_not_registered():
    class Half(Theorem):  # abstract methods missing: must not instantiate
        paper, slug, title, citation = "x", "y", "z", "w"

    with pytest.raises(TypeError):
        Half()
