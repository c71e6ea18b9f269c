"""A small transformer trained on synthetic LDA documents encodes the topic mixture.

References
----------
Zhang et al. 2024, What Should Embeddings Embed?, arXiv 2406.03707; spec embeddings_embed
1.8, 2.4, 3.6, 5 (item 6), 6.4 and claim 26.

Notes
-----
Tags: [EMP] with the spec's proposed thresholds. Run: the ``lda`` family of
:mod:`theorems.zhang2024.runs` (K 5 topics over V 100 words, Dirichlet(0.5) topics and
mixtures, cross-entropy). Probe: a linear softmax probe from the last-position embedding to
the generator's theta_d, fitted to soft targets by cross-entropy (the authors' probe, solved
to convergence by L-BFGS instead of 300 Adam epochs), its penalty chosen on a validation
split and its scores reported on a separate test split (spec 5.8). The target is the true
theta_d, not its posterior, so no probe reaches zero error.

Baselines: LDA refit on the transformer's training documents (scikit-learn's batch
variational EM with the generator's priors; topics matched to the generator's by the
Hungarian algorithm on L1 distance, spec 5.6; mixtures inferred for the test documents), the
comparison of the claim; and the trivial baselines of spec 6.4: the same probe from the
normalised word counts (the sufficient statistic given the topics, claim 25: the ceiling),
from the current word alone (one-hot) and from the untrained network. The reference checks
the refit's mixtures lie on the simplex and its matching against all K! orders.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import LatentDirichletAllocation

from sim import streams
from sim.bayes import LDA
from theorems import figures
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold
from theorems.zhang2024 import probing, runs
from theorems.zhang2024.probing import PAPER, SEEDS, STATISTIC, TAG
from theorems.zhang2024.topics import bag_of_words_statement

FAMILY = "lda"
# Variational EM sweeps of the refit: more sweeps barely move its test error, at a cost
# linear in the sweeps.
LDA_ITER = 20
# The refit reads the first LDA_DOCS training documents: scikit-learn's E-step loops over
# documents in Python, so its cost grows linearly with them; a refit on all of them is a
# somewhat stronger baseline, too costly for the default run.
LDA_DOCS = 2000
EXAMPLE_DOCS = 4  # test documents drawn in the figure
CORRUPT_ROWS = 60  # documents of the planted-error data of corrupt(): drawn, never trained on


def lda_baseline(r: runs.Run) -> dict:
    """LDA refit on the first LDA_DOCS of the run's training documents, memoised on the run:
    its matched ``topics`` (K, V), the test documents' mixtures ``theta``, their squared L2
    and dominant-topic accuracy against the true theta, and the mean topic L1 distance."""
    def refit() -> dict:
        lda = r.latent["id"]["model"]
        fit = LatentDirichletAllocation(lda.K, doc_topic_prior=float(lda.alpha[0]),
                                        topic_word_prior=0.5, learning_method="batch",
                                        max_iter=LDA_ITER, random_state=r.seed)
        fit.fit(lda.counts(r.latent["id"]["train_words"][:LDA_DOCS]))
        topics = fit.components_ / fit.components_.sum(1, keepdims=True)
        _, col = linear_sum_assignment(np.abs(topics[:, None, :] - lda.topics[None]).sum(-1))
        order = np.argsort(col)
        te = r.split.test
        theta = fit.transform(lda.counts(r.latent["id"]["x"][te]))[:, order]
        true = r.targets()["theta"][te]
        return {"theta": theta, "topics": topics[order],
                "sq_l2": float(((theta - true) ** 2).sum(1).mean()),
                "accuracy": float(np.mean(theta.argmax(1) == true.argmax(1))),
                "topic_l1": float(np.abs(topics[order] - lda.topics).sum(1).mean())}
    return r.memo("lda refit", refit)


def mixture_probe(r: runs.Run, source: str = "trained"):
    """The softmax probe from ``source`` to the true theta (memoised on the run)."""
    return probing.fit(r, "softmax", "theta", r.targets()["theta"], source)


def measure_topics(seed: int) -> Measurement:
    r = runs.run(FAMILY, seed)
    res, base = mixture_probe(r), lda_baseline(r)
    true = r.targets()["theta"][r.split.test]
    docs = np.arange(EXAMPLE_DOCS)
    groups = [f"d{d}t{k}" for d in docs for k in range(true.shape[1])]
    series = {"true theta": true[docs].ravel(), "probe": res.predictions[docs].ravel(),
              "refit LDA": base["theta"][docs].ravel()}
    details = {**r.details, "refit LDA documents": len(r.latent["id"]["train_words"][:LDA_DOCS]),
               "refit LDA (accuracy, sq-L2, mean topic L1)": [
                   round(base[k], 4) for k in ("accuracy", "sq_l2", "topic_l1")],
               **probing.baseline_details(r, "softmax", "theta", r.targets()["theta"])}
    return Measurement({"accuracy": float(res.scores["accuracy"]),
                        "sq_l2_over_lda": float(res.scores["sq_l2"] / base["sq_l2"])},
                       details, curves={"groups": groups, "series": series})


def topic_figure(evidence, folder) -> list:
    return [figures.bars(folder / f"zhang2024_claim26_topics_seed{seed}.png", m.curves["groups"],
                         m.curves["series"], ylabel="topic weight",
                         title=f"Synthetic LDA: {EXAMPLE_DOCS} test documents (seed {seed})")
            for seed, m in zip(evidence.seeds, evidence.per_seed) if m.curves]


@dataclass(frozen=True)
class TopicBaseline:
    """The LDA reference's data: the refit baseline's ``topics`` (K, V) and the mixtures
    ``theta`` of the scored documents, both in the order matched to the generator's
    ``true_topics``, and the documents' ``true_theta``."""

    topics: np.ndarray
    true_topics: np.ndarray
    theta: np.ndarray
    true_theta: np.ndarray


def matching_excess(topics: np.ndarray, true_topics: np.ndarray) -> float:
    """How far the total L1 distance of the given topic order (row k matched to true topic
    k) exceeds the best over all K! orders, per topic (L1 distances lie in [0, 2]): 0 for an
    optimal matching. An enumeration, independent of the Hungarian algorithm that chose it."""
    cost = np.abs(topics[:, None, :] - true_topics[None]).sum(-1)  # (fitted, true)
    K = len(cost)
    best = min(float(cost[list(p), np.arange(K)].sum()) for p in itertools.permutations(range(K)))
    return (float(np.trace(cost)) - best) / K


class TopicEncoding(Theorem):
    """A transformer trained on synthetic LDA documents embeds the topic mixture."""

    paper = "zhang2024"
    slug = "topic_encoding"
    title = "Trained transformers encode the topic mixture of synthetic LDA documents"
    citation = "Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 3.6, claim 26"
    trains = True  # the shared transformer runs (theorems.zhang2024.runs)

    def statement(self):
        return bag_of_words_statement()

    def example(self, seed: int = 0):
        return seed

    def reference(self, instance):
        """The refit-LDA baseline's squared L2 on the test documents, with its mixtures
        checked to lie on the simplex and its topic matching checked against every one of
        the K! orders (:func:`matching_excess`). ``instance`` is a seed (the shared run and
        its baseline; trains and refits once) or a :class:`TopicBaseline`, possibly with a
        planted candidate ``(topics, theta)``."""
        data, candidate = self.unwrap(instance)
        if not isinstance(data, TopicBaseline):
            r = runs.run(FAMILY, data)
            base = lda_baseline(r)
            data = TopicBaseline(base["topics"], r.latent["id"]["model"].topics, base["theta"],
                                 r.targets()["theta"][r.split.test])
        topics, theta = ((data.topics, data.theta) if candidate is None else
                         tuple(np.asarray(c, dtype=np.float64) for c in candidate))
        residual = max(float(np.abs(theta.sum(1) - 1).max()),
                       matching_excess(topics, data.true_topics))
        return SolveResult(value=float(((theta - data.true_theta) ** 2).sum(1).mean()),
                           residual=residual, tol=1e-9,
                           why="scikit-learn normalises the mixtures in float64, and an optimal "
                           "matching ties the best of the K! orders up to rounding")

    def corrupt(self, instance):
        """Topics and mixtures matched in the wrong order (rolled by one), for a baseline
        that recovered a fresh LDA's topics and mixtures exactly (no training, no refit)."""
        rng = streams(instance).data
        lda = LDA.random(runs.LDA_K, runs.LDA_V, rng, eta=0.5, alpha=0.5)
        theta = lda.sample(CORRUPT_ROWS, runs.current_scale().lda_length, rng)[0]
        data = TopicBaseline(lda.topics, lda.topics, theta, theta)
        return self.Corrupted(data, (np.roll(lda.topics, 1, axis=0), np.roll(theta, 1, axis=1)),
                              planted="the matched topics rolled by one (a wrong matching)")

    def simulate(self, instance, seed: int = 0) -> dict:
        p = mixture_probe(runs.run(FAMILY, instance))
        return {"accuracy": float(p.scores["accuracy"]), "sq_l2": float(p.scores["sq_l2"])}

    def compare(self, instance, seed: int = 0) -> dict:
        """Squared-L2 excess of the probe over the refit-LDA baseline (0 when not worse)."""
        r = runs.run(FAMILY, instance)
        return {"probe_minus_lda_sq_l2": max(
            0.0, mixture_probe(r).scores["sq_l2"] - lda_baseline(r)["sq_l2"])}

    def claims(self) -> tuple[Claim, ...]:
        scale = runs.current_scale()
        docs = min(LDA_DOCS, scale.n_train)
        return (Claim(
            id=f"{self.id}.mixture_probe", spec="embeddings_embed:26", paper=PAPER,
            reference="spec 2.4, 3.6, 6.4, claim 26, 5 item 6", kind="simulation", seeds=SEEDS,
            statistic=STATISTIC, budget_s=35.0,  # the refits and probes, beyond training
            measure=measure_topics, figure=topic_figure,
            prepare=probing.needs(FAMILY),
            statement=f"{TAG} {runs.FAMILIES[FAMILY].describe(scale)}: a linear softmax probe "
            "from the last-position embedding to the true theta_d reaches dominant-topic "
            "accuracy >= 0.6 (chance 0.2) and squared L2 <= 1.5x that of LDA refit on the "
            f"first {docs:,} of the {scale.n_train:,} training documents (Hungarian-matched "
            "topics). Reported beside it: the same probe from the normalised word counts (the "
            "sufficient statistic, the ceiling), from the current word alone and from the "
            "untrained network.",
            criteria=(Threshold("accuracy", 0.6, upper=False, why="spec claim 26"),
                      Threshold("sq_l2_over_lda", 1.5, why="spec claim 26")),
        ),)

    def negative_controls(self) -> dict:
        def untrained() -> bool:  # claim 26's accuracy fails for the untrained network
            return mixture_probe(runs.run(FAMILY, 0), "untrained").scores["accuracy"] < 0.6

        def shuffled() -> bool:  # and for targets permuted across documents
            r = runs.run(FAMILY, 0)
            theta = r.targets()["theta"]
            perm = streams(0).data.permutation(len(theta))
            return probing.fit(r, "softmax", "theta shuffled", theta[perm]).scores["accuracy"] < 0.6

        return {"an untrained network misses the dominant topic": untrained,
                "mixture targets shuffled across documents": shuffled}
