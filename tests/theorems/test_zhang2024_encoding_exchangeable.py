"""The exchangeable encoding theorem: its reference and targets, every criterion's ability to
fail (planted probe results on a stand-in run), the spec-6.4 baselines in the details, and
every claim's measurement end to end at a tiny scale."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from sim.probes import ProbeResult, Split
from tests.strategies import seeds
from theorems.base import ClaimFailed
from theorems.zhang2024 import encoding_exchangeable as ee
from theorems.zhang2024 import probing, runs

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROUND = 1e-10  # float64 round trips through a few divisions
SOURCES = set(probing.SOURCES)


@settings(max_examples=8)
@given(st.sampled_from(sorted(ee.EXCHANGEABLE)), st.booleans(), seeds, st.integers(1, 64))
def test_target_quadrature_equals_the_closed_forms(family, ood, seed, n):
    cls = ee.EXCHANGEABLE[family]
    prior = cls.out_of_distribution() if ood else cls.in_distribution()
    x = prior.sample(6, n, streams(seed).data)[1]
    quad = ee.quadrature_moments(family, prior, x)
    closed = prior.moments(x)
    assert np.max(np.abs(quad - closed) / np.maximum(1, np.abs(closed))) <= ee.TARGET_QUADRATURE


@pytest.mark.parametrize("family", sorted(ee.EXCHANGEABLE))
def test_targets_one_token_off_are_rejected_for_every_family(family):
    thm = ee.ExchangeableEncoding()
    bad = thm.corrupt((family, 0))
    assert thm.reference(bad).residual > ee.TARGET_QUADRATURE
    assert thm.reference(bad.instance).residual <= ee.TARGET_QUADRATURE


def test_the_ceiling_of_a_probe_targets_instance_needs_no_run():
    thm = ee.ExchangeableEncoding()
    data = thm.corrupt(("bb", 0)).instance
    ref = thm.reference(data)
    assert ref.value.shape == (4,) and ref.value[0] > 0.99  # E[p] is affine in k/n at fixed n


def test_the_module_keeps_off_the_old_runs():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(ee))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "theorems.zhang2024._runs" not in imported


# --- planted probe results on a stand-in run -----------------------------------------------------

class FakeRun:
    """A stand-in for :class:`runs.Run`: real sequences of the family's ID and OOD priors and
    their exact targets (the family's own oracle), random 'embeddings', no network."""

    def __init__(self, family: str, n: int = 400, T: int = 12):
        self.family, self.seed, self.details = runs.FAMILIES[family], 0, {"family": family}
        cls = ee.EXCHANGEABLE[family]
        rng = streams(7).data
        priors = {"id": cls.in_distribution(), "ood": cls.out_of_distribution()}
        self.latent = {d: {"x": p.sample(n, T, rng)[1], "prior": p} for d, p in priors.items()}
        idx = np.arange(n)
        self.split = Split(idx[: n // 2], idx[n // 2: n // 2 + n // 4], idx[n // 2 + n // 4:])
        self._H = {d: rng.standard_normal((n, 4)) for d in self.latent}

    def targets(self, data="id"):
        return self.family.targets(self, data)

    def embedding(self, which="trained", data="id", position=-1):
        return self._H[data]

    def memo(self, key, compute):
        return compute()


def plant(monkeypatch, r2, predict=None):
    """Serve :class:`FakeRun`\\ s for every family and make every probe fit report the test
    R^2 ``r2(source, target, data, family)`` (a float, or one per target column); its
    predictions are ``predict(source, true)`` of the true test rows (default: the truth)."""
    fakes = {f: FakeRun(f) for f in ee.EXCHANGEABLE}
    monkeypatch.setattr(runs, "run", lambda family, seed, scale=None: fakes[family])

    def fit(run_, kind, target, Y, source="trained", *, data="id", position=-1, **options):
        Y = np.reshape(Y, (len(Y), -1))
        per = np.broadcast_to(np.asarray(r2(source, target, data, run_.family.name), dtype=float),
                              Y.shape[1:]).copy()
        true = Y[run_.split.test]
        pred = true if predict is None else predict(source, true)
        return ProbeResult(kind, {"alpha": 1.0}, {"r2": float(per.mean())}, {"r2": per}, pred)
    monkeypatch.setattr(probing, "fit", fit)


def claim(spec: str):
    (c,) = [c for c in ee.ExchangeableEncoding().claims() if c.spec == f"embeddings_embed:{spec}"]
    return c


def _baselines_listed(details) -> bool:
    b = details["baselines"]
    return bool(b) and all(set(v) == SOURCES for v in b.values())


def _r2(trained, untrained=0.99, shuffled=0.0):
    def r2(source, target, data, family):
        if target.startswith("moments shuffled"):
            return shuffled
        return {"trained": trained, "untrained": untrained}.get(source, 1.0)
    return r2


def test_claim11_fails_when_a_higher_moment_is_not_read(monkeypatch):
    plant(monkeypatch, _r2([0.99, 0.95, 0.9, 0.9]))
    ev = claim("11").check()
    assert ev.verdict == "pass" and _baselines_listed(ev.per_seed[0].details)
    plant(monkeypatch, _r2([0.99, 0.95, 0.9, 0.7]))
    assert claim("11").check().failing == ("min_r2_E_p3_E_p4",)


@pytest.mark.parametrize("untrained, failing", [
    ([0.9, 0.9, 0.9, 0.9], ("untrained_r2_E_p",)), ([0.99, 0.8, 0.9, 0.9], ("untrained_r2_E_p2",))])
def test_claim11u_fails_when_the_untrained_control_does_not_read_the_moments(monkeypatch, untrained,
                                                                            failing):
    plant(monkeypatch, _r2(0.99, untrained))
    ev = claim("11u").check()
    assert ev.failing == failing and _baselines_listed(ev.per_seed[0].details)
    plant(monkeypatch, _r2(0.5, [0.99, 0.9, 0.0, 0.0]))
    assert claim("11u").check().verdict == "pass"


def test_claim11r_is_a_refutation_that_fails_its_check_once_training_wins(monkeypatch):
    plant(monkeypatch, _r2([0.99, 0.99, 0.9, 0.9], [0.99, 0.99, 0.95, 0.85]))
    ev = claim("11r").check()
    assert ev.verdict == "fail" and ev.claim.expect == "fail"
    ev.assert_ok()
    plant(monkeypatch, _r2([0.99, 0.99, 0.96, 0.9], [0.99, 0.99, 0.95, 0.85]))
    with pytest.raises(ClaimFailed, match="expected to be refuted but is PASS"):
        claim("11r").check().assert_ok()


def _ood_r2(trained_loses=(), untrained_wins=()):
    """Trained R^2 0.95 ID, 0.9 OOD (0.7 for the families in ``trained_loses``); untrained
    0.5 OOD (0.95 for the families in ``untrained_wins``)."""
    def r2(source, target, data, family):
        if source == "untrained":
            return 0.95 if (data == "id" or family in untrained_wins) else 0.5
        if data == "id":
            return 0.95
        return 0.7 if family in trained_loses else 0.9
    return r2


@pytest.mark.parametrize("family, verdict", [("bb", "fail"), ("ng", "fail"), ("eg", "fail"),
                                             ("ng_nll", "pass")])
def test_claim14_fails_when_any_of_the_authors_models_loses_ood(monkeypatch, family, verdict):
    plant(monkeypatch, _ood_r2())
    ev = claim("14").check()
    assert ev.verdict == "pass" and _baselines_listed(ev.per_seed[0].details)
    plant(monkeypatch, _ood_r2(trained_loses=(family,)))  # the NLL model's gap is reported
    ev = claim("14").check()
    assert ev.verdict == verdict
    assert any(family in k for k in ev.per_seed[0].details["baselines"])


@pytest.mark.parametrize("untrained_wins, verdict", [((), "pass"), (("eg",), "fail"),
                                                     (("bb",), "fail"), (("ng", "ng_nll"), "pass")])
def test_claim14r_is_judged_on_beta_bernoulli_and_gamma_exponential(monkeypatch, untrained_wins,
                                                                    verdict):
    plant(monkeypatch, _ood_r2(untrained_wins=untrained_wins))
    ev = claim("14r").check()
    assert ev.verdict == verdict and _baselines_listed(ev.per_seed[0].details)


@pytest.mark.parametrize("spec, trained, verdict", [
    ("16", 0.95, "pass"), ("16", 0.85, "fail"), ("16r", 0.95, "pass"), ("16r", 0.85, "fail")])
def test_claims16_and_16r_fail_when_training_does_not_halve_the_unexplained_variance(
        monkeypatch, spec, trained, verdict):
    plant(monkeypatch, _r2(trained, 0.8))  # unexplained 0.2 untrained: 0.05 passes, 0.15 fails
    ev = claim(spec).check()
    assert ev.verdict == verdict and _baselines_listed(ev.per_seed[0].details)


def _tokens(trained_noise, untrained_noise):
    """Token predictions: the truth plus Gaussian noise of variance ``noise`` x the floor of
    the stand-in sequences (T = 12)."""
    floor = ee.ng_memorisation_floor(ee.NormalGamma.in_distribution(), 12)

    def predict(source, true):
        v = {"trained": trained_noise, "untrained": untrained_noise}.get(source, 1.5)
        return true + np.sqrt(v * floor) * streams(3).noise.standard_normal(true.shape)
    return predict


@pytest.mark.parametrize("trained, untrained, failing", [
    (1.5, 0.3, ()), (0.3, 0.3, ("trained_min_mse_over_floor",)),
    (1.5, 1.5, ("untrained_min_mse_over_floor",))])
def test_claim16b_fails_unless_training_keeps_the_floor_and_the_control_breaks_it(
        monkeypatch, trained, untrained, failing):
    plant(monkeypatch, _r2(0.9), predict=_tokens(trained, untrained))
    ev = claim("16b").check()
    assert ev.failing == failing and _baselines_listed(ev.per_seed[0].details)


def test_the_memorisation_control_breaks_the_floor_and_the_exact_statistic_does_not():
    fake = FakeRun("ng", n=4000)  # 1,000 test rows, as the CPU scale's
    x = fake.latent["id"]["x"]
    floor = ee.ng_memorisation_floor(fake.latent["id"]["prior"], x.shape[1])
    tokens = ee.ridge_probe(x, x[:, :ee.MEMORISED], fake.split)
    assert ee.memorisation(tokens.predictions, x, fake.split, x.shape[1],
                           floor)["mse_over_floor"].max() < ee.AT_FLOOR
    xbar = np.repeat(x[fake.split.test].mean(1, keepdims=True), ee.MEMORISED, axis=1)
    at = ee.memorisation(xbar, x, fake.split, x.shape[1], floor)
    assert at["mse_over_floor"].min() >= ee.AT_FLOOR and at["rho_xbar"].min() > 1 - ROUND


# --- every claim end to end at a tiny scale (the paper tier's code path, small) ------------------

def test_every_claim_measures_its_statistics_and_baselines_at_a_tiny_scale(tiny):
    thm = ee.ExchangeableEncoding()
    claims = thm.claims()
    assert [c.spec.split(":")[1] for c in claims] == [
        "11", "11u", "11r", "12", "13", "14", "14r", "15", "16", "16r", "16b"]
    for c in claims:
        m = c.measure(0)
        named = {t.statistic for t in c.criteria}
        assert named <= set(m.values), (c.id, named - set(m.values))
        assert all(np.isfinite(m.values[s]) for s in named), c.id
        assert m.details["baselines"] and _baselines_listed(m.details), c.id
        # the statement is built from the scale: its sizes, not a fixed "n = 32"
        assert any(runs.FAMILIES[f].describe(tiny) in c.statement for f in ee.EXCHANGEABLE), c.id
    assert runs.run("bb", 0).scale is tiny
    for name, broken_fails in thm.negative_controls().items():
        assert broken_fails(), name
