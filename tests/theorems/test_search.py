"""The counterexample search maximises the witness gap and saves instances for replay."""

import json

import pytest
from hypothesis import strategies as st

from theorems import search
from theorems.base import Theorem


class Planted(Theorem):
    """A theorem whose witnesses disagree by (x - 0.7)^2 * 1e3 on x in [0, 1]: worst at x = 0."""

    paper, slug, title, citation = "toy", "planted", "planted gap", "none"

    def statement(self): ...
    def example(self, seed=0): ...
    def reference(self, instance): ...
    def simulate(self, instance, seed=0): ...
    def claims(self): return ()
    def negative_controls(self): return {}

    def compare(self, instance, seed=0):
        return {"gap": (instance - 0.7) ** 2 * 1e3}

    def search_space(self):
        return st.fixed_dictionaries({"x": st.floats(0.0, 1.0)}), lambda p: p["x"]


@pytest.fixture
def planted(monkeypatch):
    thm = Planted()
    monkeypatch.setattr(search, "_theorem", lambda tid: thm)
    return thm


def test_search_finds_the_largest_gap_and_replays_it(planted, tmp_path):
    found = search.search("toy.planted", examples=60, out=tmp_path)
    assert found["worst_gap"] >= 0.9 * (0.7**2 * 1e3)  # near the maximum 490 at x = 0
    saved = json.loads((tmp_path / "search-toy.planted.json").read_text())
    assert saved["params"] == found["params"]
    assert search.replay(tmp_path / "search-toy.planted.json")["replayed_gap"] == pytest.approx(
        found["worst_gap"], rel=1e-12)


def test_every_registered_theorem_has_a_search_space():
    from theorems.registry import all_theorems

    for thm in all_theorems():
        strategy, build = thm.search_space()
        assert callable(build) and strategy is not None, thm.id


def test_a_real_family_reports_witness_agreement(tmp_path):
    found = search.search("jiang2024.canonical_solution", examples=4, out=tmp_path)
    assert found["worst_gap"] <= 1e-10  # exact spectrum vs float64 SVD: rounding only
