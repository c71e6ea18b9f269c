"""A small transformer trained on HMM sequences encodes the belief state: probes of its
last-position embeddings against the exact forward filter, beside the trivial baselines.

References
----------
Zhang et al. 2024, What Should Embeddings Embed?, arXiv 2406.03707; spec embeddings_embed
1.6, 2.2, 3.4, 5 (items 5, 8, 11), 6.4 and claims 20-22.

Notes
-----
Tags: every claim here is [EMP] with the spec's proposed thresholds, or thresholds stated
here before they were measured (the diffuse family's, spec 6.4); claim 22's bound is exact
([EXACT]: no function of x_{1:T} predicts z_T better than the Bayes rule).

Runs: the ``hmm`` and ``hmm_diffuse`` families of :mod:`theorems.zhang2024.runs`, one HMM
and one transformer per seed. Every claim is judged on both. With emissions Dirichlet(0.05)
("peaked") the current token nearly names the state, so any embedding that keeps the token
reads the belief nearly as well as a trained one (spec 6.4). With Dirichlet(0.5)
("diffuse", the authors' default) the belief is far from one-hot: there accuracy is judged
relative to the Bayes ceiling E[max_z b(z)] and KL against the current-token baseline, and
the probe must fit the exact b_T better than the released code's target.

Probes: the linear softmax probe of :mod:`sim.probes` (the authors' probe, fitted to soft
targets by cross-entropy, solved to convergence by L-BFGS instead of 1,000 Adam epochs), its
penalty chosen on a validation split and its scores reported on a separate test split
(spec 5.8), memoised on the run (:func:`theorems.zhang2024.probing.fit`). Each probe is also
fitted to the trivial baselines of spec 6.4, reported in every claim's details: the exact
statistic (log of the belief the embedding should hold: the ceiling), the current token
alone (one-hot), and the untrained network (the authors' random-initialisation control).

Targets come from the exact forward filter. The released code's last-position target
counts the last emission twice (b_T o B[:, x_T], renormalised; spec 2.2 and 3.10 item 5):
it is never a probe's target here except as the alternative that claim 21 must tell apart
from b_T, and as the planted error of :meth:`HMMEncoding.corrupt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from sim import streams
from sim.probes import ProbeResult, softmax_probe
from theorems import figures
from theorems.base import Claim, Measurement, SolveResult, Theorem, paired_z
from theorems.convex import NotSeparableError, SolverFailure, multiclass_max_margin
from theorems.tolerances import KKT_RESIDUAL, Threshold
from theorems.zhang2024 import probing, runs
from theorems.zhang2024.hmm_belief import BeliefStateSufficiency
from theorems.zhang2024.probing import PAPER, SEEDS, STATISTIC, TAG

FAMILIES = {"hmm": "peaked", "hmm_diffuse": "diffuse"}  # family -> its criteria's prefix
PEAKED, DIFFUSE = "hmm", "hmm_diffuse"
EMBEDDINGS = {"token_unseen=0": -1, "token_unseen=1": -2}  # positions of the two embeddings
MATCHED = {"token_unseen=0": "b_T", "token_unseen=1": "b_{T-1}A"}
DOUBLED = "b_T doubled"  # the released code's target (runs' HMM targets)
BASELINES = tuple(s for s in probing.SOURCES if s != "trained")  # spec 6.4's, and the control
Z_ONE_SIDED_1PC = float(norm.ppf(0.99))  # the one-sided 1% point of N(0, 1)
CONFIDENT = 0.95  # belief rows with max_z b_T(z) >= this enter the separability certificate
# The certificate is the max-margin layer at its 1e-10 defaults: on separable but
# ill-conditioned rows a looser solve can be too coarse for its active-set refinement.
# Non-separable rows make the separability LP degenerate, and the layer then proves
# non-separability by the theorem of the alternative.
CERT_ROWS = 400  # at most this many of them (the first test rows): bounds the LP's cost


def probe(r: runs.Run, target: str, source: str = "trained", position: int = -1) -> ProbeResult:
    """The softmax probe from ``source`` at ``position`` to the run's exact ``target``
    (a key of ``r.targets()``), fitted once per run."""
    return probing.fit(r, "softmax", target, r.targets()[target], source, position=position)


def row_kl(P: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(P_i || q_i) per row (0 log 0 = 0); a probability of ``q`` that underflowed to 0
    enters the logarithm as runs.LOG_FLOOR."""
    logq = np.log(np.maximum(q, runs.LOG_FLOOR))
    logp = np.log(np.where(P > 0, P, 1.0))
    return np.where(P > 0, P * (logp - logq), 0.0).sum(1)


def _hits(p: ProbeResult, target: np.ndarray) -> np.ndarray:
    return (p.predictions.argmax(1) == target.argmax(1)).astype(np.float64)


def bayes_ratio(p: ProbeResult, z_T: np.ndarray, belief: np.ndarray) -> float:
    """The probe's argmax accuracy at the true state ``z_T`` (one-hot test rows) over the
    Bayes accuracy E[max_z belief(z)] of the exact belief it was fitted to."""
    return float(_hits(p, z_T).mean() / belief.max(1).mean())


# --- claim 20: the belief state --------------------------------------------------------------

def peaked_values(P: dict) -> dict:
    """Claim 20 on the peaked family from the trained matched probes ``P[embedding]``."""
    return {"min_matched_accuracy": float(min(p.scores["accuracy"] for p in P.values())),
            "max_matched_sq_l2": float(max(p.scores["sq_l2"] for p in P.values()))}


def diffuse_values(P: dict, T: dict, te: np.ndarray) -> dict:
    """Claim 20 on the diffuse family from the matched probes ``P[source, embedding]``: the
    trained probes' accuracy at z_T relative to the Bayes accuracy of their target, and
    their KL relative to the current-token and untrained probes of the same target."""
    out = {"min_bayes_accuracy_ratio": [], "max_kl_over_current_token": [],
           "max_kl_over_untrained": []}
    for e, tgt in MATCHED.items():
        kl = P["trained", e].scores["kl"]
        out["min_bayes_accuracy_ratio"].append(
            bayes_ratio(P["trained", e], T["z_T"][te], T[tgt][te]))
        out["max_kl_over_current_token"].append(kl / P["current token", e].scores["kl"])
        out["max_kl_over_untrained"].append(kl / P["untrained", e].scores["kl"])
    return {k: float(min(v) if k.startswith("min") else max(v)) for k, v in out.items()}


def belief_certificate(H: np.ndarray, belief: np.ndarray, rows: np.ndarray,
                       labels=None) -> tuple[float, str]:
    """Margin of the certified multiclass max-margin separator of the standardised embeddings
    ``H[rows]`` by the belief argmax (or ``labels``), with an intercept; 0.0 when the
    max-margin layer proves that no separator exists (its separability LP, or the theorem of
    the alternative where that LP is degenerate), or when the solver ends short of optimal
    (nothing uncertified counts as separable). Returns (margin, outcome) with outcome
    "certified", "not separable" or "not certified: <reason>"."""
    y = belief[rows].argmax(1) if labels is None else labels
    Z = H[rows]
    Z = (Z - Z.mean(0)) / Z.std(0).clip(min=1e-12)  # standardised: a well-conditioned LP
    X = np.column_stack([Z, np.ones(len(rows))])
    try:
        res = multiclass_max_margin(X, y, n_classes=belief.shape[1])
    except NotSeparableError:
        return 0.0, "not separable"
    except SolverFailure as err:
        return 0.0, f"not certified: {err}"
    if res.status == "optimal" and res.residuals.worst <= KKT_RESIDUAL.atol:
        return float(res.margin), "certified"
    return 0.0, f"not certified: status {res.status}, KKT residual {res.residuals.worst:.1e}"


def confident_rows(r: runs.Run, belief: np.ndarray) -> np.ndarray:
    """The first CERT_ROWS test rows whose belief has max_z b_T(z) >= CONFIDENT."""
    return r.split.test[belief[r.split.test].max(1) >= CONFIDENT][:CERT_ROWS]


def _matched(r: runs.Run) -> dict:
    return {(s, e): probe(r, MATCHED[e], s, pos) for s in probing.SOURCES
            for e, pos in EMBEDDINGS.items()}


def measure_belief(seed: int) -> Measurement:
    values, details = {}, {}
    for family, prefix in FAMILIES.items():
        r = runs.run(family, seed)
        T, te = r.targets(), r.split.test
        P = _matched(r)
        if family == PEAKED:
            v = peaked_values({e: P["trained", e] for e in EMBEDDINGS})
            rows = confident_rows(r, T["b_T"])
            v["confident_belief_margin"], outcome = belief_certificate(
                r.embedding(position=-1), T["b_T"], rows)
            details[f"{prefix}: certificate rows (first test rows with max b_T >= "
                    f"{CONFIDENT})"] = int(len(rows))
            details[f"{prefix}: certificate"] = outcome
        else:
            v = diffuse_values(P, T, te)
        values.update({f"{prefix}_{k}": x for k, x in v.items()})
        details[f"{prefix}: run"] = r.details
        for (s, e), p in P.items():
            details[f"{prefix}: {e} -> {MATCHED[e]} from {s}"] = {
                **probing.scores(p, ("accuracy", "kl", "sq_l2")),
                "z_T accuracy / Bayes": round(bayes_ratio(p, T["z_T"][te], T[MATCHED[e]][te]), 4)}
    return Measurement(values, details)


# --- claim 21: position matching, the Viterbi label, the doubled emission -----------------------

def matching_values(P: dict, T: dict, te: np.ndarray) -> dict:
    """Claim 21's position matching from the trained probes ``P[embedding, target]`` (both
    belief targets from both embeddings, and the Viterbi label from token_unseen=0)."""
    gaps = [P[e, tgt].scores["kl"] - P[e, other].scores["kl"]
            for e, tgt in MATCHED.items() for other in MATCHED.values() if other != tgt]
    d = _hits(P["token_unseen=0", "b_T"], T["b_T"][te]) - _hits(
        P["token_unseen=0", "viterbi"], T["viterbi"][te])
    return {"max_kl_matched_minus_mismatched": float(max(gaps)),
            "belief_minus_viterbi_z": paired_z(d)}


def doubled_z(exact: ProbeResult, doubled: ProbeResult, T: dict, te: np.ndarray) -> float:
    """One-sided paired z over test sequences of KL(doubled target || its probe) -
    KL(b_T || its probe): large when the features fit the exact belief better than the
    released code's doubled-emission target."""
    return paired_z(row_kl(T[DOUBLED][te], doubled.predictions)
                    - row_kl(T["b_T"][te], exact.predictions))


def measure_matching(seed: int) -> Measurement:
    values, details = {}, {}
    for family, prefix in FAMILIES.items():
        r = runs.run(family, seed)
        T, te = r.targets(), r.split.test
        P = {(e, t): probe(r, t, position=pos) for e, pos in EMBEDDINGS.items()
             for t in MATCHED.values()}
        P["token_unseen=0", "viterbi"] = probe(r, "viterbi")
        values.update({f"{prefix}_{k}": x for k, x in matching_values(P, T, te).items()})
        details[f"{prefix}: run"] = r.details
        for e, tgt in MATCHED.items():
            other = next(t for t in MATCHED.values() if t != tgt)
            details[f"{prefix}: {e} KL matched ({tgt}), mismatched ({other})"] = [
                round(P[e, tgt].scores["kl"], 4), round(P[e, other].scores["kl"], 4)]
            for s in BASELINES:  # their KL on the matched target
                details[f"{prefix}: {e} KL matched ({tgt}) from {s}"] = round(
                    probe(r, tgt, s, EMBEDDINGS[e]).scores["kl"], 4)
        details[f"{prefix}: token_unseen=0 accuracy on b_T, on the Viterbi label"] = [
            round(P["token_unseen=0", t].scores["accuracy"], 4) for t in ("b_T", "viterbi")]
        if family == DIFFUSE:
            for s in probing.SOURCES:
                exact, doubled = probe(r, "b_T", s), probe(r, DOUBLED, s)
                z = doubled_z(exact, doubled, T, te)
                details[f"{prefix}: token_unseen=0 KL on b_T, on {DOUBLED}, paired z from {s}"] = [
                    round(exact.scores["kl"], 4), round(doubled.scores["kl"], 4), round(z, 3)]
                if s == "trained":
                    values[f"{prefix}_doubled_minus_exact_kl_z"] = z
    return Measurement(values, details)


# --- claim 22: the Bayes bound on the true state ------------------------------------------------

def bayes_excess_z(correct: np.ndarray, max_belief: np.ndarray) -> float:
    """One-sided z of mean(1[prediction = z_T] - max_z b_T(z)) > 0 over test rows: a probe
    that reads only x_{1:T} has mean <= 0 exactly (the Bayes bound)."""
    return paired_z(np.asarray(correct, dtype=np.float64)
                    - np.asarray(max_belief, dtype=np.float64))


def true_state_test(p: ProbeResult, T: dict, te: np.ndarray) -> tuple[float, float, float]:
    """(z, accuracy on z_T, Bayes accuracy) of a probe to z_T on the test rows ``te``."""
    correct, maxb = _hits(p, T["z_T"][te]), T["b_T"][te].max(1)
    return bayes_excess_z(correct, maxb), float(correct.mean()), float(maxb.mean())


FIGURE_GROUPS = (("token_unseen=0", "b_T"), ("token_unseen=1", "b_{T-1}A"),
                 ("token_unseen=0", "z_T"))  # (embedding, target) bars of the figure


def measure_true_state(seed: int) -> Measurement:
    values, details, curves = {}, {}, {}
    for family, prefix in FAMILIES.items():
        r = runs.run(family, seed)
        T, te = r.targets(), r.split.test
        details[f"{prefix}: run"] = r.details
        for s in probing.SOURCES:
            z, acc, bayes = true_state_test(probe(r, "z_T", s), T, te)
            details[f"{prefix}: z_T probe from {s} (accuracy, excess z)"] = [
                round(acc, 4), round(z, 3)]
            if s == "trained":
                values[f"{prefix}_true_state_excess_z"] = z
        details[f"{prefix}: Bayes accuracy E[max b_T]"] = round(bayes, 4)
        details[f"{prefix}: belief-argmax probe accuracy (not so bounded)"] = round(
            probe(r, "b_T").scores["accuracy"], 4)
        curves[family] = {"groups": [f"{e}\n{t}" for e, t in FIGURE_GROUPS], "bayes": bayes,
                          "series": {s: [probe(r, t, s, EMBEDDINGS[e]).scores["accuracy"]
                                         for e, t in FIGURE_GROUPS] for s in probing.SOURCES}}
    return Measurement(values, details, curves=curves)


def hmm_figure(evidence, folder) -> list:
    paths = []
    for seed, m in zip(evidence.seeds, evidence.per_seed):
        for family, c in (m.curves or {}).items():
            paths.append(figures.bars(
                folder / f"zhang2024_claim20_22_{family}_accuracy_seed{seed}.png", c["groups"],
                c["series"], title=f"{family}: probe accuracy by embedding, target and source "
                f"(seed {seed})", ylabel="argmax accuracy (test)",
                hlines=[(c["bayes"], "Bayes accuracy for z_T")]))
    return paths


# --- the references: the probes' exact targets, checked independently -------------------------

CHECK_ROWS = 64  # probe rows (evenly spaced) whose targets a reference re-derives
CORRUPT_ROWS = 60  # sequences of the planted-error data of corrupt(): drawn, never trained on
BELIEF_ORDERS = 1e-12  # b_T by the forward filter and by the product evaluated right to left
BELIEF_WHY = ("two evaluation orders of one product of T stochastic matrices, each rescaled "
              "at every step: rounding only")


def check_rows(n: int) -> np.ndarray:
    """At most CHECK_ROWS row indices, evenly spaced over ``n`` rows."""
    return np.unique(np.linspace(0, n - 1, min(CHECK_ROWS, n)).astype(int))


@dataclass(frozen=True)
class BeliefTargets:
    """The HMM reference's data apart from any trained model: the generator ``hmm``, the
    probe sequences ``x`` (S, T), the belief targets b_T (S, K) and the scored ``rows``."""

    hmm: Any
    x: np.ndarray
    beliefs: np.ndarray
    rows: np.ndarray


def belief_targets(r: runs.Run) -> BeliefTargets:
    lat = r.latent["id"]
    return BeliefTargets(lat["model"], lat["x"], r.targets()["b_T"], r.split.test)


def last_belief_by_products(hmm, x) -> np.ndarray:
    """b_T = p(z_T | x_{1:T}) for each row of ``x`` from the product
    (pi o B[:, x_1])^T A D_2 A D_3 ... A D_T (D_t = diag B[:, x_t]) evaluated right to left,
    rescaled at each step: matrix products in the opposite order to the forward filter's."""
    x = np.atleast_2d(np.asarray(x))
    S, T = x.shape
    P = np.broadcast_to(np.eye(hmm.K), (S, hmm.K, hmm.K)).copy()
    for t in range(T - 1, 0, -1):
        P = (hmm.A[None] * hmm.B[:, x[:, t]].T[:, None, :]) @ P
        P /= P.max(axis=(1, 2), keepdims=True)
    a = ((hmm.pi0[None] * hmm.B[:, x[:, 0]].T)[:, None, :] @ P)[:, 0]
    return a / a.sum(1, keepdims=True)


def check_beliefs(data: BeliefTargets, beliefs=None) -> SolveResult:
    """The Bayes accuracy E[max_z b_T(z)] on ``data.rows``, with the beliefs (``data``'s, or
    the candidate ``beliefs``) checked on CHECK_ROWS rows against
    :func:`last_belief_by_products`."""
    b = data.beliefs if beliefs is None else np.asarray(beliefs, dtype=np.float64)
    rows = check_rows(len(data.x))
    residual = float(np.abs(b[rows] - last_belief_by_products(data.hmm, data.x[rows])).max())
    return SolveResult(value=float(b[data.rows].max(1).mean()), residual=residual,
                       tol=BELIEF_ORDERS, why=BELIEF_WHY)


class HMMEncoding(Theorem):
    """A transformer trained on HMM sequences embeds the belief state."""

    paper = "zhang2024"
    slug = "hmm_encoding"
    title = "Trained transformers encode the HMM belief state"
    citation = "Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 3.4, 6.4, claims 20-22"
    trains = True  # the shared transformer runs (theorems.zhang2024.runs)

    def statement(self):
        return BeliefStateSufficiency().statement()

    def example(self, seed: int = 0):
        return seed

    def reference(self, instance):
        """The Bayes accuracy E[max_z b_T(z)] on the scored rows, with the belief targets
        checked on CHECK_ROWS rows against :func:`last_belief_by_products`. ``instance`` is
        a seed (both families' runs: their test rows; trains them once; the value is then
        per family) or a :class:`BeliefTargets`, possibly with planted candidate beliefs."""
        data, beliefs = self.unwrap(instance)
        if isinstance(data, BeliefTargets):
            return check_beliefs(data, beliefs)
        results = {f: check_beliefs(belief_targets(runs.run(f, data))) for f in FAMILIES}
        return SolveResult(value={f: res.value for f, res in results.items()},
                           residual=max(res.residual for res in results.values()),
                           tol=BELIEF_ORDERS, why=BELIEF_WHY)

    def corrupt(self, instance):
        """The released code's b_T, which counts the last emission twice, as the targets of
        fresh sequences of an HMM drawn like the diffuse family's (its sampler, at the
        current scale's length; no training)."""
        fam, scale = runs.FAMILIES[DIFFUSE], runs.current_scale()
        drawn = fam.draw(scale, fam.length(scale), 0, CORRUPT_ROWS, streams(instance).data)
        hmm, x = drawn.latent["id"]["model"], drawn.latent["id"]["x"]
        data = BeliefTargets(hmm, x, hmm.filter(x)[:, -1], np.arange(CORRUPT_ROWS))
        return self.Corrupted(data, hmm.code_variant_last_posterior(x),
                              planted="the released code's b_T (last emission counted twice)")

    def simulate(self, instance, seed: int = 0) -> dict:
        out = {}
        for f in FAMILIES:
            p = probe(runs.run(f, instance), "b_T")
            out.update({f"{f}: {k}": p.scores[k] for k in ("accuracy", "kl", "sq_l2")})
        return out

    def compare(self, instance, seed: int = 0) -> dict:
        """How far the z_T probe's accuracy exceeds the Bayes accuracy (0 when it does not),
        per family; and on the diffuse family how far the exact belief's KL exceeds the
        doubled-emission target's (0 when the exact one is fitted better)."""
        out = {}
        for f in FAMILIES:
            r = runs.run(f, instance)
            _, acc, bayes = true_state_test(probe(r, "z_T"), r.targets(), r.split.test)
            out[f"{f}: true_state_accuracy_above_bayes"] = max(0.0, acc - bayes)
        r = runs.run(DIFFUSE, instance)
        out[f"{DIFFUSE}: exact_kl_above_doubled_kl"] = max(
            0.0, probe(r, "b_T").scores["kl"] - probe(r, DOUBLED).scores["kl"])
        return out

    def claims(self) -> tuple[Claim, ...]:
        pid, scale = self.id, runs.current_scale()
        # At the CPU scale the diffuse family refutes a proposal of claims 20 and 21, kept as
        # findings (expect "fail"). The spec does not say whether they hold at the authors'
        # size: the paper tier re-judges both as proposed (expect "pass"), since the findings
        # may be the small, briefly trained model's.
        refuted = (lambda reason: {}) if scale.name == "paper" else (
            lambda reason: {"expect": "fail", "expect_reason": reason})
        peaked, diffuse = (runs.FAMILIES[f].describe(scale) for f in (PEAKED, DIFFUSE))
        data = f"Two families, one transformer per seed each: peaked, {peaked}; diffuse, {diffuse}."
        shared = {"paper": PAPER, "seeds": SEEDS, "statistic": STATISTIC,
                  "prepare": probing.needs(*FAMILIES)}  # what every claim here shares
        return (
            Claim(id=f"{pid}.belief_state", spec="embeddings_embed:20", **shared,
                  reference="spec 3.4, 6.4, claim 20", kind="simulation", budget_s=60.0,
                  measure=measure_belief,
                  statement=f"{TAG} {data} A linear softmax probe from the last-position "
                  "embeddings to the exact belief state (token_unseen=0 <-> b_T; "
                  "token_unseen=1 <-> b_{T-1}A). Peaked: argmax accuracy >= 0.9 and squared "
                  "L2 <= 0.05 on both, and the max-margin layer certifies that the "
                  "embeddings of confidently-believed test sequences are linearly separable "
                  "by the belief argmax. Diffuse: on both, the probe's argmax predicts the "
                  "true state z_T with at least 0.9 of its target's Bayes accuracy "
                  "E[max_z b(z)], and its KL(target || probe) is below that of the same probe "
                  "on the current token alone (one-hot) and on the untrained network. The "
                  "probes of the exact statistic (the ceiling), the current token and the "
                  "untrained network are reported for both families.",
                  criteria=(
                      Threshold("peaked_min_matched_accuracy", 0.9, upper=False,
                                why="spec claim 20"),
                      Threshold("peaked_max_matched_sq_l2", 0.05, why="spec claim 20 (the "
                                "code's L2 = sum_z (q_z - t_z)^2)"),
                      Threshold("peaked_confident_belief_margin", 1e-6, upper=False, why=(
                          "a certified separator has a positive margin; 0 is recorded when "
                          "there is none or the solver cannot certify one")),
                      Threshold("diffuse_min_bayes_accuracy_ratio", 0.9, upper=False, why=(
                          "spec 6.4: accuracy judged relative to the Bayes ceiling; claim "
                          "20's 0.9 taken as the fraction of the ceiling (stated before "
                          "measuring)")),
                      Threshold("diffuse_max_kl_over_current_token", 1.0, why=(
                          "spec 6.4: KL judged against the current-token baseline; the "
                          "trained probe's KL must not exceed it")),
                      Threshold("diffuse_max_kl_over_untrained", 1.0, why=(
                          "the untrained network is the authors' control: training must not "
                          "leave the belief less readable than at the starting point"))),
                  **refuted(
                      "on the diffuse family the trained embedding's probe fits the exact belief "
                      "no better than the same probe of the current token alone (one-hot), at "
                      "both positions, although it beats the untrained control and predicts z_T "
                      "close to the Bayes ceiling: the small model's last-position embedding "
                      "holds little of the belief beyond what the current token says; the "
                      "peaked family's criteria hold")),
            Claim(id=f"{pid}.position_matching", spec="embeddings_embed:21", **shared,
                  reference="spec 3.4, 6.4, claim 21", kind="simulation", budget_s=20.0,
                  measure=measure_matching,
                  statement=f"{TAG} {data} On both families each embedding's probe reaches "
                  "lower KL on the belief target matching its information set "
                  "(token_unseen=0 <-> b_T, token_unseen=1 <-> b_{T-1}A) than on the "
                  "mismatched one, and from the token_unseen=0 embedding argmax accuracy on "
                  "b_T is at least that on the Viterbi label: not lower at the one-sided 1% "
                  f"level (paired z over test rows >= -{Z_ONE_SIDED_1PC:.3f}). On the diffuse "
                  "family the probe "
                  "from the token_unseen=0 embedding fits the exact b_T better than the "
                  "released code's target that counts the last emission twice: the per-"
                  "sequence KL difference (doubled minus exact), paired over test sequences, "
                  f"is positive at the one-sided 1% level (z >= {Z_ONE_SIDED_1PC:.3f}). The "
                  "same probes of the "
                  "exact statistic, the current token and the untrained network are reported.",
                  criteria=tuple(c for prefix in FAMILIES.values() for c in (
                      Threshold(f"{prefix}_max_kl_matched_minus_mismatched", 0.0,
                                why="spec claim 21: matched KL below mismatched"),
                      Threshold(f"{prefix}_belief_minus_viterbi_z", -Z_ONE_SIDED_1PC, upper=False,
                                why=("spec claim 21: at least as high; a paired one-sided 1% "
                                     "test over the test rows")))) + (
                      Threshold("diffuse_doubled_minus_exact_kl_z", Z_ONE_SIDED_1PC, upper=False,
                                why=("spec 6.4: lower KL on the exact b_T than on the doubled-"
                                     "emission target, paired over sequences; a one-sided 1% "
                                     "test")),),
                  **refuted(
                      "on the diffuse family the trained embedding's probe fits the released "
                      "code's doubled-emission target better than the exact b_T, as the probe "
                      "of the current token alone does, while the probe of the exact statistic "
                      "fits b_T better: the embedding leans on the current token, which that "
                      "target counts twice; position matching and the Viterbi comparison hold "
                      "on both families")),
            Claim(id=f"{pid}.true_state_bound", spec="embeddings_embed:22", **shared,
                  reference="spec 6.4, claim 22", kind="control", budget_s=10.0,
                  measure=measure_true_state, figure=hmm_figure,
                  statement=f"[EXACT bound, EMP probe] {data} On both families a probe of the "
                  "true hidden state z_T from the last-position embedding does not beat the "
                  "Bayes accuracy E[max_z b_T(z)]: the paired test-row statistic 1[correct] - "
                  f"max b_T has one-sided z <= {Z_ONE_SIDED_1PC:.3f}. The same probe of the "
                  "exact statistic, "
                  "the current token and the untrained network is reported.",
                  criteria=tuple(Threshold(f"{prefix}_true_state_excess_z", Z_ONE_SIDED_1PC, why=(
                      "one-sided 1% level: the bound holds exactly, so only sampling noise on "
                      "the test rows can push the mean above 0")) for prefix in FAMILIES.values())),
        )

    def criterion(self, statistic: str) -> Threshold:
        """The criterion of this theorem's claims on ``statistic``."""
        return next(c for claim in self.claims() for c in claim.criteria
                    if c.statistic == statistic)

    def negative_controls(self) -> dict:
        def knows_the_state() -> bool:  # claim 22 fails for features that include z_T itself
            r = runs.run(DIFFUSE, 0)
            T = r.targets()
            H = np.column_stack([r.embedding(position=-1), 10.0 * T["z_T"]])
            p = softmax_probe(H, T["z_T"], r.split)
            return not self.criterion("diffuse_true_state_excess_z").accepts(
                true_state_test(p, T, r.split.test)[0])

        def shuffled_labels() -> bool:  # claim 20's margin criterion fails for labels the
            # embedding lacks, and the max-margin layer proves that no separator exists
            r = runs.run(PEAKED, 0)
            b = r.targets()["b_T"]
            rows = confident_rows(r, b)
            labels = np.random.default_rng(0).permutation(b[rows].argmax(1))
            margin, outcome = belief_certificate(r.embedding(position=-1), b, rows, labels)
            return outcome == "not separable" and not self.criterion(
                "peaked_confident_belief_margin").accepts(margin)

        def swapped_targets() -> bool:  # claim 21 fails when the targets are swapped
            r = runs.run(DIFFUSE, 0)
            swap = {"b_T": "b_{T-1}A", "b_{T-1}A": "b_T", "viterbi": "viterbi"}
            P = {(e, t): probe(r, swap[t], position=pos) for e, pos in EMBEDDINGS.items()
                 for t in MATCHED.values()}
            P["token_unseen=0", "viterbi"] = probe(r, "viterbi")
            gap = matching_values(P, r.targets(), r.split.test)["max_kl_matched_minus_mismatched"]
            return not self.criterion("diffuse_max_kl_matched_minus_mismatched").accepts(gap)

        def holds_the_doubled_target() -> bool:  # claim 21's doubled-emission test fails
            # when the "embedding" is the log of the released code's target itself
            r = runs.run(DIFFUSE, 0)
            T = r.targets()
            H = np.log(np.maximum(T[DOUBLED], runs.LOG_FLOOR))
            z = doubled_z(softmax_probe(H, T["b_T"], r.split),
                          softmax_probe(H, T[DOUBLED], r.split), T, r.split.test)
            return not self.criterion("diffuse_doubled_minus_exact_kl_z").accepts(z)

        return {"the features include the true state z_T (beats the Bayes bound)": knows_the_state,
                "belief-argmax labels shuffled (proved not separable)": shuffled_labels,
                "matched and mismatched targets swapped": swapped_targets,
                "the features hold the doubled-emission target (fits it better than b_T)":
                    holds_the_doubled_target}
