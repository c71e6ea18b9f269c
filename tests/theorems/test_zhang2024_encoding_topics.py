"""Claim 26 (the topic encoding): the matching reference, every criterion failing on planted
probe results, and the measurement end to end at a tiny scale."""


import numpy as np
import pytest

from sim import streams
from sim.bayes.lda import LDA
from sim.probes import ProbeResult, Split
from theorems.base import Evidence
from theorems.zhang2024 import encoding_topics as el
from theorems.zhang2024 import probing, runs

ROUND = 1e-10  # float64 round trips through a few divisions


def test_the_matching_check_is_zero_for_the_best_order_and_not_for_a_swap():
    lda = LDA.random(4, 30, streams(0).data)
    noisy = lda.topics + 0.01 * streams(1).data.random(lda.topics.shape)
    noisy /= noisy.sum(1, keepdims=True)
    assert el.matching_excess(noisy, lda.topics) <= ROUND
    swapped = noisy[[1, 0, 2, 3]]
    assert el.matching_excess(swapped, lda.topics) > 0.1  # two topics' L1 distances, per topic


# --- every criterion can fail: planted probe results on a fake run ----------------------------


class FakeRun:
    """What claim 26's measurement reads of a run, with no network: drawn mixtures."""

    def __init__(self, seed: int, rows: int = 60):
        lda = LDA.random(3, 10, streams(seed).data)
        theta, _, w = lda.sample(rows, 8, streams(seed).data)
        self.seed, self.latent = seed, {"id": {"theta": theta, "x": w, "model": lda,
                                               "train_words": w}}
        idx = np.arange(rows)
        self.split, self.details, self._memo = Split(idx[:30], idx[30:40], idx[40:]), {}, {}

    def targets(self, data="id"):
        return {"theta": self.latent["id"]["theta"]}

    def memo(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


def planted(monkeypatch, accuracy=0.8, sq_l2=0.05, lda_sq_l2=0.05):
    """runs.run returns FakeRuns, probing.fit a probe with these scores (the true theta as
    its predictions), and the refit a baseline with squared L2 ``lda_sq_l2``."""
    fakes = {}
    monkeypatch.setattr(runs, "run", lambda family, seed, scale=None:
                        fakes.setdefault(seed, FakeRun(seed)))
    monkeypatch.setattr(probing, "fit", lambda r, kind, target, Y, source="trained", **kw:
                        ProbeResult("softmax", {}, {"accuracy": accuracy, "kl": 0.1,
                                                    "sq_l2": sq_l2}, {}, Y[r.split.test]))
    monkeypatch.setattr(el, "lda_baseline", lambda r: {
        "sq_l2": lda_sq_l2, "accuracy": 0.8, "topic_l1": 0.1,
        "theta": r.targets()["theta"][r.split.test]})


@pytest.mark.parametrize("scores, failing", [
    ({}, ()),
    ({"accuracy": 0.5}, ("accuracy",)),
    ({"sq_l2": 0.08}, ("sq_l2_over_lda",)),  # 1.6x the refit's
])
def test_each_criterion_of_claim26_can_fail(monkeypatch, scores, failing):
    planted(monkeypatch, **scores)
    (claim,) = el.TopicEncoding().claims()
    ev = claim.check()
    assert ev.failing == failing and ev.verdict == ("fail" if failing else "pass"), ev.measured


def test_claim26_measures_end_to_end_at_a_tiny_scale(tiny, tmp_path):
    (claim,) = el.TopicEncoding().claims()
    assert "tiny scale" in claim.statement and "first 640 of the 640" in claim.statement
    m = claim.measure(0)
    for crit in claim.criteria:
        assert np.isfinite(m.values[crit.statistic]), crit.statistic
    for source in probing.SOURCES:  # spec 6.4's baselines, beside the trained probe
        assert f"theta from {source}" in m.details, source
    ev = Evidence(claim=claim, seeds=(0,), measured=dict(m.values), per_seed=(m,),
                  verdict="pass", failing=(), seconds=0.0)
    assert all(p.exists() for p in claim.figure(ev, tmp_path))
