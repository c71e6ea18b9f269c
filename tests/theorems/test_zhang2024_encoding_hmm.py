"""The HMM encoding theorem (claims 20-22): its belief reference, that each criterion can
fail on planted probe results, the doubled-emission negative control, and every claim's
measurement end to end at a tiny scale."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from sim.bayes.hmm import HMM
from sim.probes import ProbeResult, softmax_probe, split
from tests.strategies import seeds
from theorems.zhang2024 import encoding_hmm as el
from theorems.zhang2024 import runs

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROUND = 1e-10  # float64 round trips through a few divisions, logs and exponentials
THM = el.HMMEncoding()
def accepts(statistic: str, value: float) -> bool:
    return THM.criterion(statistic).accepts(value)


def planted(predictions=None, **scores) -> ProbeResult:
    return ProbeResult("softmax", {}, scores, {}, predictions)


def beliefs(n: int = 2000, K: int = 4, seed: int = 0):
    """Synthetic test rows: beliefs b (n, K), the one-hot true state drawn from b, and the
    released code's doubled-emission target b o B[:, x] of an HMM's emission matrix."""
    rng = streams(seed).data
    b = rng.dirichlet(np.full(K, 0.7), size=n)
    z = np.eye(K)[(b.cumsum(1) < rng.random(n)[:, None]).sum(1)]
    B = rng.dirichlet(np.full(8, 0.5), size=K)
    d = b * B[:, rng.integers(0, 8, n)].T
    return b, z, d / d.sum(1, keepdims=True)


# --- the belief reference ------------------------------------------------------------------------

@settings(max_examples=10)
@given(seeds, st.integers(2, 5), st.integers(2, 6), st.integers(1, 40))
def test_the_belief_product_right_to_left_equals_the_forward_filter(seed, K, V, T):
    rng = streams(seed).data
    hmm = HMM.random(K, V, rng)
    x = hmm.sample(5, T, rng)[1]
    assert np.abs(el.last_belief_by_products(hmm, x) - hmm.filter(x)[:, -1]).max() \
        <= el.BELIEF_ORDERS


def test_the_belief_reference_rejects_the_released_codes_filter():
    bad = THM.corrupt(0)
    assert THM.reference(bad).residual > el.BELIEF_ORDERS
    assert THM.reference(bad.instance).residual <= el.BELIEF_ORDERS


def test_corrupt_draws_its_hmm_with_the_diffuse_familys_sampler_and_length(tiny):
    bad = THM.corrupt(3)
    fam = runs.FAMILIES[el.DIFFUSE]
    drawn = fam.draw(tiny, fam.length(tiny), 0, el.CORRUPT_ROWS, streams(3).data)
    np.testing.assert_array_equal(bad.instance.x, drawn.latent["id"]["x"])
    np.testing.assert_array_equal(bad.instance.hmm.B, drawn.latent["id"]["model"].B)


# --- the statistics, and that each criterion can fail ----------------------------------------

def test_row_kl_averages_to_the_probes_own_kl():
    rng = streams(1).data
    H = rng.normal(size=(300, 5))
    P = np.exp(H[:, :3]) / np.exp(H[:, :3]).sum(1, keepdims=True)
    sp = split(300, 50, 100)
    res = softmax_probe(H + 0.3 * rng.normal(size=H.shape), P, sp)
    np.testing.assert_allclose(el.row_kl(P[sp.test], res.predictions).mean(), res.scores["kl"],
                               rtol=ROUND, atol=ROUND)


def test_the_peaked_criteria_fail_for_a_probe_that_misses_the_belief():
    good = {e: planted(accuracy=0.99, sq_l2=0.01) for e in el.EMBEDDINGS}
    bad = {**good, "token_unseen=1": planted(accuracy=0.6, sq_l2=0.2)}
    for P, ok in ((good, True), (bad, False)):
        v = el.peaked_values(P)
        assert accepts("peaked_min_matched_accuracy", v["min_matched_accuracy"]) is ok
        assert accepts("peaked_max_matched_sq_l2", v["max_matched_sq_l2"]) is ok


def _diffuse(predict, kl_trained, kl_current, kl_untrained):
    b, z, _ = beliefs()
    T = {"b_T": b, "b_{T-1}A": b, "z_T": z}
    P = {}
    for e in el.EMBEDDINGS:
        P["trained", e] = planted(predict(b), kl=kl_trained)
        P["current token", e] = planted(b, kl=kl_current)
        P["untrained", e] = planted(b, kl=kl_untrained)
    return el.diffuse_values(P, T, np.arange(len(b)))


def test_the_diffuse_bayes_ratio_fails_for_a_probe_that_misses_the_state():
    v = _diffuse(lambda b: b, 0.05, 0.1, 0.1)  # the belief itself: its own Bayes accuracy
    assert accepts("diffuse_min_bayes_accuracy_ratio", v["min_bayes_accuracy_ratio"])
    v = _diffuse(lambda b: np.roll(b, 1, axis=1), 0.05, 0.1, 0.1)  # argmax moved to a wrong state
    assert not accepts("diffuse_min_bayes_accuracy_ratio", v["min_bayes_accuracy_ratio"])


@pytest.mark.parametrize("baseline", ["current_token", "untrained"])
def test_the_diffuse_kl_criteria_fail_for_a_probe_worse_than_the_baseline(baseline):
    kls = {"current_token": 0.1, "untrained": 0.1}
    key = f"max_kl_over_{baseline}"
    assert accepts(f"diffuse_{key}", _diffuse(lambda b: b, 0.05, *kls.values())[key])
    kls[baseline] = 0.02  # the baseline now fits the target better than the trained probe
    assert not accepts(f"diffuse_{key}", _diffuse(lambda b: b, 0.05, *kls.values())[key])


def test_the_matching_criteria_fail_on_swapped_kls_and_a_better_viterbi_probe():
    b, _, _ = beliefs()
    vit = np.eye(4)[b.argmax(1)]
    T, te = {"b_T": b, "viterbi": vit}, np.arange(len(b))

    def table(kl_matched, kl_mismatched, belief_pred):
        P = {(e, t): planted(kl=kl_matched if t == tgt else kl_mismatched)
             for e, tgt in el.MATCHED.items() for t in el.MATCHED.values()}
        P["token_unseen=0", "b_T"] = planted(belief_pred, kl=kl_matched)
        P["token_unseen=0", "viterbi"] = planted(vit)
        return el.matching_values(P, T, te)

    good = table(0.01, 0.2, b)
    for prefix in el.FAMILIES.values():
        assert accepts(f"{prefix}_max_kl_matched_minus_mismatched",
                       good["max_kl_matched_minus_mismatched"])
        assert accepts(f"{prefix}_belief_minus_viterbi_z", good["belief_minus_viterbi_z"])
    wrong = np.where(np.arange(len(b))[:, None] % 3 == 0, np.roll(b, 1, axis=1), b)
    bad = table(0.2, 0.01, wrong)  # a third of the belief probe's argmaxes are wrong
    for prefix in el.FAMILIES.values():
        assert not accepts(f"{prefix}_max_kl_matched_minus_mismatched",
                           bad["max_kl_matched_minus_mismatched"])
        assert not accepts(f"{prefix}_belief_minus_viterbi_z", bad["belief_minus_viterbi_z"])


def test_the_doubled_emission_test_tells_which_target_the_probes_fit():
    b, _, d = beliefs()
    T, te = {"b_T": b, el.DOUBLED: d}, np.arange(len(b))
    near = lambda p: 0.9 * p + 0.1 / p.shape[1]  # noqa: E731  a probe close to p
    holds_b = el.doubled_z(planted(near(b)), planted(b), T, te)  # fits b_T, misfits the doubled
    holds_d = el.doubled_z(planted(d), planted(near(d)), T, te)  # the reverse
    assert accepts("diffuse_doubled_minus_exact_kl_z", holds_b)
    assert not accepts("diffuse_doubled_minus_exact_kl_z", holds_d)


def test_the_bayes_bound_criterion_fails_for_a_probe_that_sees_the_state():
    b, z, _ = beliefs(n=4000)
    T, te = {"b_T": b, "z_T": z}, np.arange(len(b))
    for prefix in el.FAMILIES.values():
        stat = f"{prefix}_true_state_excess_z"
        assert accepts(stat, el.true_state_test(planted(b), T, te)[0])  # the Bayes rule itself
        assert not accepts(stat, el.true_state_test(planted(z), T, te)[0])  # knows z_T


def test_expectations_are_keyed_by_scale(monkeypatch):
    expect = {}
    for scale in ("cpu", "paper"):
        monkeypatch.setenv(runs.SCALE_ENV, scale)
        expect[scale] = {c.id.rsplit(".", 1)[1]: c.expect for c in THM.claims()}
        for c in THM.claims():  # the statements say what is run at this scale
            assert runs.FAMILIES[el.DIFFUSE].describe(runs.SCALES[scale]) in c.statement
    assert set(expect["paper"].values()) == {"pass"}
    assert expect["cpu"]["true_state_bound"] == "pass"


# --- at a tiny scale: the measurements end to end, and the negative control ------------------

def test_every_claim_measures_each_statistic_its_criteria_name(tiny, tmp_path):
    for claim in THM.claims():
        ev = claim.check((0,))
        m = ev.per_seed[0]
        names = {c.statistic for c in claim.criteria}
        assert names <= set(m.values), names - set(m.values)
        assert all(np.isfinite(m.values[k]) for k in names), m.values
        for family in el.FAMILIES:
            assert m.details[f"{el.FAMILIES[family]}: run"]["scale"] == "tiny"
        if claim.figure is not None:
            assert len(claim.figure(ev, tmp_path)) == len(el.FAMILIES)


def test_the_doubled_emission_control_fails_and_the_exact_statistic_passes(tiny):
    control = THM.negative_controls()
    assert control["the features hold the doubled-emission target (fits it better than b_T)"]()
    r = runs.run(el.DIFFUSE, 0)
    T = r.targets()
    H = np.log(np.maximum(T["b_T"], runs.LOG_FLOOR))  # features that hold the exact belief
    z = el.doubled_z(softmax_probe(H, T["b_T"], r.split), softmax_probe(H, T[el.DOUBLED], r.split),
                     T, r.split.test)
    assert accepts("diffuse_doubled_minus_exact_kl_z", z)
