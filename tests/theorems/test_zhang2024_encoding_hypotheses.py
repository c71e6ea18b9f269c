"""The rectangle-game encoding claims (24a, 24b, 24c, 24r): the implied posterior of 24c on
hand-made boxes, every criterion failing on planted probe results, and each claim's
measurement end to end at a tiny scale."""

import dataclasses

import numpy as np
import pytest

from sim import streams
from sim.bayes import RectangleGame
from sim.errors import InputError
from sim.probes import ProbeResult, Split
from theorems import figures
from theorems.base import Evidence
from theorems.zhang2024 import encoding_hypotheses as eh
from theorems.zhang2024 import probing, runs

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROUND = 1e-12  # two float64 evaluations of one posterior: rounding only
GAME = RectangleGame.easy()


# --- the implied posterior of 24c ------------------------------------------------------------

def _points_in(cells: list[tuple[int, int]]) -> np.ndarray:
    """One point at the centre of each (cx, cy) cell of the easy grid, as one sequence."""
    return np.array([[[cx + 0.5, cy + 0.5] for cx, cy in cells]])


def test_the_implied_posterior_is_the_exact_posterior_of_points_spanning_the_rounded_box():
    # rounded (2, 5, 0, 0): the box of a point in cell (2, 0) and one in cell (5, 0)
    implied = eh.implied_posterior(GAME, 2, [[2.4, 4.6, 0.2, -0.4]])
    np.testing.assert_allclose(implied, GAME.posterior(_points_in([(2, 0), (5, 0)])),
                               rtol=0, atol=ROUND)
    assert GAME.index[implied.argmax()].tolist() == [2, 6, 0, 1]  # the smallest enclosing one


def test_the_implied_posterior_orders_and_clips_the_predicted_indices():
    swapped = eh.implied_posterior(GAME, 3, [[5.2, 1.9, 3.0, 3.4]])  # x pair reversed
    outside = eh.implied_posterior(GAME, 3, [[-1.3, 9.0, 6.2, 7.7]])  # beyond the cells
    np.testing.assert_allclose(swapped, GAME.posterior(_points_in([(2, 3), (5, 3), (5, 3)])),
                               rtol=0, atol=ROUND)
    np.testing.assert_allclose(outside, GAME.posterior(_points_in([(0, 6), (6, 6), (6, 6)])),
                               rtol=0, atol=ROUND)


def test_the_implied_posterior_depends_on_n():
    one, five = (eh.implied_posterior(GAME, n, [[1, 3, 1, 3]]) for n in (1, 5))
    assert np.abs(one - five).max() > 0.01
    np.testing.assert_allclose(five, GAME.posterior(_points_in([(1, 1), (3, 3)] + [(2, 2)] * 3)),
                               rtol=0, atol=ROUND)


@pytest.mark.parametrize("bad, message", [([1, 2, 3, 4], "shape"), ([[1, 2, np.nan, 4]], "NaN")])
def test_bad_predicted_boxes_are_refused(bad, message):
    with pytest.raises(InputError, match=message):
        eh.implied_posterior(GAME, 2, bad)


def test_cell_box_gives_the_cells_of_a_coordinate_box_and_keeps_cell_indices():
    box = np.array([[0.0, 7.0, 3.0, 3.99], [2.5, 2.5, 0.1, 6.9]])
    cb = eh.cell_box(GAME, box)
    assert cb.tolist() == [[0, 6, 3, 3], [2, 2, 0, 6]]  # a grid line goes to the cell above
    assert eh.cell_box(GAME, cb).tolist() == cb.tolist()
    # the implied posterior of the exact cell box is the exact posterior
    x = GAME.sample(20, 6, streams(3).data)[1]
    implied = eh.implied_posterior(GAME, 6, eh.cell_box(GAME, GAME.bounding_box(x)))
    np.testing.assert_allclose(implied, GAME.posterior(x), rtol=0, atol=ROUND)


def test_map_agreement_counts_matching_argmaxes():
    exact = np.eye(4)[[0, 1, 2, 3]]
    assert eh.map_agreement(np.eye(4)[[0, 1, 3, 3]], exact) == pytest.approx(0.75, abs=ROUND)


# --- every criterion can fail: planted probe results on a fake run ----------------------------

@dataclasses.dataclass
class FakeRun:
    """What the measurements read of a run, with no network: real rectangle targets of drawn
    points, a random 'embedding', and a memo."""

    family: str
    seed: int
    rows: int = 80

    def __post_init__(self):
        h, x = GAME.sample(self.rows, 8, streams(self.seed).data)
        self.latent = {"id": {"h": h, "x": x, "model": GAME}}
        self.inputs = {"id": runs.cell_tokens(GAME, x) if self.family == "rect" else x}
        idx = np.arange(self.rows)
        self.split = Split(idx[:40], idx[40:50], idx[50:])
        self.details = {"family": self.family}
        self._memo = {}
        self._targets = runs.FAMILIES["rect"].targets(self, "id")

    def targets(self, data="id"):
        return self._targets

    def embedding(self, which="trained", data="id", position=-1):
        return streams(self.seed).data.standard_normal((self.rows, 6))

    def memo(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


GOOD = {"r2": 0.95, "cells_kl": 0.05, "cells_tv": 0.05, "posterior_accuracy": 0.85,
        "posterior_kl": 0.3, "box_shift": 0.0}


def planted(monkeypatch, **bad):
    """Make runs.run return FakeRuns and probing.fit return ProbeResults with the scores in
    GOOD, overridden by ``bad`` for the trained source (every other source keeps GOOD, and
    the ceiling's posterior accuracy is 0.9)."""
    fakes = {}
    monkeypatch.setattr(runs, "run", lambda family, seed, scale=None: fakes.setdefault(
        (family, seed), FakeRun(family, seed)))

    def fit(r, kind, target, Y, source="trained", **options):
        v = {**GOOD, **(bad if source == "trained" else {})}
        te = r.split.test
        if kind == "ridge":
            return ProbeResult("ridge", {}, {"r2": v["r2"]}, {"r2": np.full(Y.shape[1], v["r2"])},
                               Y[te])
        if kind == "mlp":
            return ProbeResult("mlp", {}, {"r2": v["r2"]}, {}, Y[te] + v["box_shift"])
        if target == "cells":
            return ProbeResult("softmax", {}, {"kl": v["cells_kl"], "tv": v["cells_tv"],
                                               "sq_l2": 0.0, "accuracy": 1.0}, {}, Y[te])
        accuracy = 0.9 if source == "statistic" else v["posterior_accuracy"]
        return ProbeResult("softmax", {}, {"kl": v["posterior_kl"], "tv": 0.1, "sq_l2": 0.1,
                                           "accuracy": accuracy}, {}, Y[te])

    monkeypatch.setattr(probing, "fit", fit)


def _claims():
    return {c.spec.split(":")[1]: c for c in eh.HypothesisEncoding().claims()}


def test_every_claim_passes_on_good_planted_probes(monkeypatch):
    planted(monkeypatch)
    for key, claim in _claims().items():
        ev = claim.check()
        assert ev.verdict == "pass", (key, ev.measured)


@pytest.mark.parametrize("key, bad, failing", [
    ("24a", {"r2": 0.85}, {"r2"}),
    ("24b", {"cells_kl": 0.2}, {"cells_kl"}),
    ("24b", {"cells_tv": 0.15}, {"cells_l1"}),  # L1 = 2 TV = 0.3 > 0.2
    ("24b", {"posterior_accuracy": 0.75}, {"reconstruction_ratio"}),  # 0.75 / 0.9 < 0.9
    ("24c", {"box_shift": 1.0}, {"map_rect", "map_rect_points"}),  # every box one cell off
    ("24r", {"posterior_accuracy": 0.7}, {"map_accuracy"}),
    ("24r", {"posterior_kl": 0.6}, {"kl"}),
])
def test_each_criterion_fails_on_planted_bad_probes(monkeypatch, key, bad, failing):
    planted(monkeypatch, **bad)
    ev = _claims()[key].check()
    assert ev.verdict == "fail" and set(ev.failing) == failing, ev.measured


def test_the_box_claim_fails_for_one_model_alone(monkeypatch):
    planted(monkeypatch)
    real = probing.fit

    def fit(r, kind, target, Y, source="trained", **options):
        res = real(r, kind, target, Y, source, **options)
        if kind == "mlp" and r.family == "rect_points" and source == "trained":
            return dataclasses.replace(res, predictions=res.predictions + 1.0)
        return res

    monkeypatch.setattr(probing, "fit", fit)
    ev = _claims()["24c"].check()
    assert ev.failing == ("map_rect_points",)


# --- the paper tier's code path at a tiny scale -----------------------------------------------

@pytest.mark.parametrize("key", ["24a", "24b", "24c", "24r"])
def test_each_claim_measures_end_to_end_at_a_tiny_scale(tiny, tmp_path, key):
    claim = _claims()[key]
    assert "tiny scale" in claim.statement  # the statement says what was run
    m = claim.measure(0)
    for crit in claim.criteria:
        assert np.isfinite(m.values[crit.statistic]), crit.statistic
    for source in ("untrained", "statistic", "current token"):  # spec 6.4's baselines
        assert any(f"from {source}" in k for k in m.details), source
    if claim.figure is not None:
        ev = Evidence(claim=claim, seeds=(0,), measured=dict(m.values), per_seed=(m,),
                      verdict="pass", failing=(), seconds=0.0)
        paths = claim.figure(ev, tmp_path)
        assert paths and all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_heatmaps_refuse_what_they_cannot_draw(tmp_path):
    with pytest.raises(InputError, match="2-D arrays"):
        figures.heatmaps(tmp_path / "h.png", [("a", np.zeros(3))], title="t")
    with pytest.raises(InputError, match="marks"):
        figures.heatmaps(tmp_path / "h.png", [("a", np.zeros((2, 2)))], title="t",
                         marks=[None, None])


@pytest.mark.parametrize("scale, expected", [
    ("cpu", {"24a": "pass", "24b": "fail", "24c": "fail", "24r": "fail"}),
    ("paper", {"24a": "pass", "24b": "pass", "24c": "pass", "24r": "pass"}),
])
def test_expectations_are_keyed_by_scale(monkeypatch, scale, expected):
    monkeypatch.setenv(runs.SCALE_ENV, scale)
    claims = _claims()
    assert {k: c.expect for k, c in claims.items()} == expected
    assert all(f"{scale} scale" in c.statement for c in claims.values())
