"""The theorem contract, checked for every registered theorem (sklearn's check_estimator idea)."""

import importlib
import inspect

import numpy as np
import pytest

from theorems import Theorem
from theorems._symbolic import Decision
from theorems.base import KINDS, Claim, SolveResult
from theorems.convex import NotSeparableError
from theorems.registry import all_claims, all_theorems
from theorems.tolerances import KKT_RESIDUAL

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

THEOREMS = all_theorems()
# The modules that hold the one training loop, under the names their users import it by:
# the corruption check runs in the default suite for every theorem, so it must train nothing.
TRAINING_LOOPS = ("sim.train", "sim.gd", "sim.models.bilinear", "sim.models.transformer")


def only_with_runslow(thm, request) -> None:
    """Skip a part of the contract that trains the theorem's model (``Theorem.trains``)
    unless --runslow is given: the default suite must stay within its time budget. The
    corruption check and the metadata checks run for every theorem regardless."""
    if thm.trains and not request.config.getoption("paper_scale", default=False):
        pytest.skip(f"{thm.id} trains its model here (minutes); run with --runslow")


def forbid_training(monkeypatch) -> None:
    """Make the one training loop raise for the rest of the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the corruption check trained a model: corrupt() and reference() "
                             "on its output must be cheap (build the wrong input from data)")
    for name in TRAINING_LOOPS:
        module = importlib.import_module(name)
        if hasattr(module, "train"):
            monkeypatch.setattr(module, "train", refuse)


def assert_reference_rejects_a_corrupted_input(thm) -> str:
    """Check that ``thm.reference`` rejects ``thm.corrupt(thm.example(0))``; return how.

    Rejecting means a residual above the reference's own tolerance (a SolveResult's ``tol``;
    KKT_RESIDUAL for the max-margin layer's results), or the max-margin layer's certified
    refusal of data that have no solution (NotSeparableError, whose LP certificate says
    "not separable"). A NaN residual rejects nothing. A reference whose residual is zero
    whatever its input (one that compares an oracle with itself, or ignores the candidate
    it is given) fails here. For a planted candidate, the same input without it must be
    accepted: what is rejected is the planted error, not the data.
    """
    bad = thm.corrupt(thm.example(0))
    planted = bad.planted if isinstance(bad, Theorem.Corrupted) else "data that break the check"
    try:
        residual, tol = _residual(thm, thm.reference(bad))
    except NotSeparableError as exc:
        assert not exc.certificate.separable, f"{thm.id}: a refusal without a certificate"
        return f"refused with the separability certificate: {exc}"
    assert residual > tol, (
        f"{thm.id}: reference() accepts a wrong input ({planted}): residual {residual!r} is "
        f"not above its tolerance {tol!r}, so this witness cannot fail")
    if isinstance(bad, Theorem.Corrupted):
        clean, clean_tol = _residual(thm, thm.reference(bad.instance))
        assert clean <= clean_tol, (
            f"{thm.id}: reference() also rejects the input of corrupt() without the planted "
            f"candidate (residual {clean!r} > {clean_tol!r}): it rejects the data, not the error")
    return f"residual {residual:.3g} > tolerance {tol:.3g} ({planted})"


def _residual(thm, ref) -> tuple[float, float]:
    if isinstance(ref, SolveResult):
        return ref.residual, ref.tol
    if hasattr(ref, "residuals"):
        return ref.residuals.worst, KKT_RESIDUAL.atol
    raise AssertionError(f"{thm.id}: reference() returned a {type(ref).__name__}, neither a "
                         "SolveResult nor a max-margin result with KKT residuals")


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

    def test_reference_on_example_is_certified(self, thm, request):
        only_with_runslow(thm, request)
        ref = thm.reference(thm.example(0))
        assert ref.status == "optimal"
        if hasattr(ref, "residuals"):  # the max-margin layer: its KKT_RESIDUAL tolerance
            assert ref.residuals.worst <= 1e-8
        else:  # a SolveResult carries its own tolerance and reason
            assert ref.residual <= ref.tol, ref.why

    def test_reference_rejects_a_corrupted_input(self, thm, monkeypatch):
        forbid_training(monkeypatch)
        assert_reference_rejects_a_corrupted_input(thm)

    def test_simulation_returns_summary_statistics(self, thm, request):
        only_with_runslow(thm, request)
        out = thm.simulate(thm.example(0), seed=0)
        assert isinstance(out, dict) and out
        assert all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in out.values())

    def test_compare_reports_named_nonnegative_gaps(self, thm, request):
        only_with_runslow(thm, request)
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

    def test_negative_controls_make_the_checks_fail(self, thm, request):
        # Run for every theorem, trained ones included: a check that cannot fail is a defect.
        # A theorem that trains runs its controls on its seed-0 runs at the current scale
        # when the session checks its claims too (they train those runs anyway: the CI run
        # of tests/ and paper_checks/), or with --runslow. Otherwise the current scale is the
        # tiny one (tests/conftest.py): the Zhang encoding theorems' controls then run on its
        # runs, the same code at small sizes, so that tests/ alone trains no run of the CPU
        # scale (the scale of the Zhang runs wing changes nothing else). A copy of this file
        # in another repository (the scaffold's) has no tiny scale: its theorems' controls
        # run as they are.
        if thm.trains and not (request.config.getoption("paper_scale", default=False)
                               or claims_selected(thm, request.session)):
            try:
                request.getfixturevalue("tiny")
            except pytest.FixtureLookupError:
                pass
        controls = thm.negative_controls()
        assert controls, f"{thm.id} declares no negative control"
        for name, broken_fails in controls.items():
            assert broken_fails(), f"{thm.id}: the check still passes when {name}"


def claims_selected(thm, session) -> bool:
    """Whether the session runs a claim test of ``thm`` (a paper_checks/ test marked with
    one of its claims)."""
    ids = {c.id for c in thm.claims()}
    return any(m.args and m.args[0] in ids for item in session.items
               for m in item.iter_markers("claim"))


def test_all_claims_have_unique_ids_and_spec_keys():
    claims = all_claims()
    assert len({c.id for c in claims}) == len(claims)
    assert len({c.spec for c in claims}) == len(claims)


def test_an_incomplete_theorem_is_not_registered():
    class Half(Theorem):  # abstract methods missing: must not instantiate
        paper, slug, title, citation = "x", "y", "z", "w"

    with pytest.raises(TypeError):
        Half()


class _Toy(Theorem):
    """The smallest theorem with a reference: its answer is 2 * instance, checked against a
    candidate (a planted one, or its own)."""

    paper, slug, title, citation = "toy", "double", "doubling", "none"

    def statement(self): return Decision("proved", "toy")
    def example(self, seed=0): return 1.5
    def simulate(self, instance, seed=0): return {"value": 2 * instance}
    def compare(self, instance, seed=0): return {"gap": 0.0}
    def claims(self): return ()
    def negative_controls(self): return {}

    def reference(self, instance):
        x, candidate = self.unwrap(instance)
        candidate = 2 * x if candidate is None else candidate
        return SolveResult(value=candidate, residual=abs(candidate - 2 * x), tol=1e-12)

    def corrupt(self, instance):
        return self.Corrupted(instance, 2 * instance + 1, planted="off by one")


class _Vacuous(_Toy):
    """The defect the corruption check exists for: the residual compares the closed form
    with itself, so it is zero whatever the input."""

    slug = "vacuous"

    def reference(self, instance):
        x, _ = self.unwrap(instance)
        return SolveResult(value=2 * x, residual=abs(2 * x - 2 * x), tol=1e-12)


class _ZeroResidual(_Toy):
    slug = "zero_residual"

    def reference(self, instance):
        return SolveResult(value=None, residual=0.0)


class _NanResidual(_Toy):
    slug = "nan_residual"

    def reference(self, instance):
        return SolveResult(value=None, residual=float("nan"))


class _RejectsEverything(_Toy):
    """Rejecting every input is no better: the check sees the clean input rejected too."""

    slug = "rejects_everything"

    def reference(self, instance):
        return SolveResult(value=None, residual=float("inf"))


def test_the_corruption_check_passes_a_reference_that_checks_its_candidate():
    thm = _Toy()
    assert thm.reference(thm.example(0)).residual <= thm.reference(thm.example(0)).tol
    assert "off by one" in assert_reference_rejects_a_corrupted_input(thm)


@pytest.mark.parametrize("cls", [_Vacuous, _ZeroResidual, _NanResidual], ids=lambda c: c.slug)
def test_the_corruption_check_catches_a_witness_that_cannot_fail(cls):
    with pytest.raises(AssertionError, match="cannot fail"):
        assert_reference_rejects_a_corrupted_input(cls())


def test_the_corruption_check_catches_a_reference_that_rejects_everything():
    with pytest.raises(AssertionError, match="rejects the data, not the error"):
        assert_reference_rejects_a_corrupted_input(_RejectsEverything())


def test_a_theorem_without_a_corruption_is_reported_as_unfinished():
    class NoCorruption(_Toy):
        slug = "no_corruption"
        corrupt = Theorem.corrupt

    with pytest.raises(NotImplementedError, match="toy.no_corruption: corrupt"):
        assert_reference_rejects_a_corrupted_input(NoCorruption())


def test_the_corruption_check_refuses_to_train(monkeypatch):
    from sim.train import OptimConfig
    from theorems.jiang2024.joint_training import draw_model
    from sim.models.bilinear import fit

    forbid_training(monkeypatch)
    with pytest.raises(AssertionError, match="trained a model"):
        fit(draw_model(0, 2), d=2, optim=OptimConfig("gd", 0.5), steps=2, seed=0)
