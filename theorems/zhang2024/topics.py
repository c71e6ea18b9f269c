"""Under LDA with fixed topics, the posterior over a document's topic mixture depends on the
words only through their counts (bag-of-words sufficiency).

References
----------
Zhang et al. 2024, What Should Embeddings Embed? arXiv 2406.03707; spec embeddings_embed
1.8 (topics), 2.4 and claim 25.

Notes
-----
Tags: [EXACT]. Witnesses: sympy expands the likelihood summed over topic assignments and
finds it equal to the product over distinct words of (theta . beta_v)^count_v, for every
document of length 3 over 3 words with 2 topics; exact enumeration of assignments gives the
posterior as a Dirichlet mixture (:mod:`sim.bayes.lda`), evaluated for every permutation of
a document; adaptive quadrature of the bag-of-words form is the independent reference.
Negative control: the set of distinct words (counts dropped) is not sufficient.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy
from scipy import integrate, special, stats

from sim import streams
from sim.bayes.lda import LDA
from theorems._symbolic import Decision
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold

PAPER = "Zhang et al. 2024 (arXiv 2406.03707), as formalised in the spec"
SEEDS = (0, 1, 2)
EXACT = 1e-12  # sums of at most 2**5 float64 terms: rounding only
QUADRATURE = 1e-8  # spec claim 4's quadrature tolerance, reused for the 1-D integral here
GRID = np.linspace(0.05, 0.95, 10)  # where the K = 2 posterior densities are compared


@functools.cache
def bag_of_words_statement(K: int = 2, V: int = 3, M: int = 3) -> Decision:
    """For every document of length M: sum over assignments of prod_m theta_{z_m}
    beta[z_m, w_m] expands to prod_v (sum_k theta_k beta[k, v])^count_v (sympy)."""
    theta = sympy.symbols(f"theta0:{K}", positive=True)
    beta = sympy.Matrix(K, V, lambda k, v: sympy.Symbol(f"beta_{k}{v}", positive=True))
    failures = []
    for doc in itertools.product(range(V), repeat=M):
        by_assignment = sum(sympy.Mul(*[theta[z] * beta[z, w] for z, w in zip(zs, doc)])
                            for zs in itertools.product(range(K), repeat=M))
        bag = sympy.Mul(*[sum(theta[k] * beta[k, v] for k in range(K)) ** doc.count(v)
                          for v in range(V)])
        if sympy.expand(by_assignment - bag) != 0:
            failures.append(doc)
    n_docs = V ** M
    return Decision("refuted" if failures else "proved",
                    f"{n_docs - len(failures)} of {n_docs} documents (K={K}, V={V}, M={M}) "
                    "have likelihood equal to the bag-of-words product"
                    + (f"; failing: {failures[:3]}" if failures else ""),
                    {"failures": failures})


def quadrature_posterior(model: LDA, doc) -> tuple[float, np.ndarray]:
    """K = 2: E[theta_0 | w] and the density of theta_0 on GRID, integrating the bag-of-words
    form Beta(t; alpha) prod_v (t beta_0v + (1 - t) beta_1v)^count_v over t.

    The Beta density's t^(alpha_0 - 1) (1 - t)^(alpha_1 - 1) is QUADPACK's algebraic
    end-point weight (QAWS), so a singular end point (alpha < 1) is integrated exactly
    rather than sampled: with it in the integrand, plain adaptive quadrature stopped on
    roundoff short of its tolerance (alpha = (0.5, 0.5), found by the property test)."""
    if model.K != 2:
        raise ValueError("quadrature_posterior is the K = 2 (one-dimensional) reference")
    c = model.counts(doc)[0]
    a0, a1 = model.alpha

    def likelihood(t):
        return np.prod((t * model.topics[0] + (1 - t) * model.topics[1]) ** c)

    opts = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200, "weight": "alg", "wvar": (a0 - 1, a1 - 1)}
    Z = integrate.quad(likelihood, 0, 1, **opts)[0]  # times 1 / B(alpha): the evidence
    mean = integrate.quad(lambda t: t * likelihood(t), 0, 1, **opts)[0] / Z
    density = np.array([stats.beta.pdf(t, a0, a1) * likelihood(t) for t in GRID])
    return mean, density * np.exp(special.betaln(a0, a1)) / Z


def _grid_points() -> np.ndarray:
    return np.column_stack([GRID, 1 - GRID])


def _discriminating_pair(model: LDA) -> tuple[int, int]:
    """The two words whose topic likelihood ratios differ the most."""
    r = np.log(model.topics[0]) - np.log(model.topics[1])
    return int(np.argmax(r)), int(np.argmin(r))


def measure_bag_of_words(seed: int) -> Measurement:
    rng = streams(seed).data
    dec = bag_of_words_statement()
    model = LDA.random(2, 4, rng)
    doc = model.sample(1, 5, rng)[2][0]
    perms = np.array(sorted(set(itertools.permutations(doc.tolist()))))
    means = model.posterior_mean(perms)[:, 0]
    dens = model.posterior_density(perms, _grid_points())
    perm_err = max(float(np.ptp(means)), float(np.ptp(dens, axis=0).max() / dens.max()))
    q_mean, q_dens = quadrature_posterior(model, doc)
    quad_err = max(abs(means[0] - q_mean) / abs(q_mean),
                   float(np.abs(dens[0] - q_dens).max() / np.abs(q_dens).max()))
    # K = 3: permutation invariance of the exact mixture (2-D simplex)
    model3 = LDA.random(3, 4, rng)
    doc3 = model3.sample(1, 4, rng)[2][0]
    perms3 = np.array(sorted(set(itertools.permutations(doc3.tolist()))))
    perm3_err = float(np.ptp(model3.posterior_mean(perms3), axis=0).max())
    # negative control: the same set of distinct words with different counts
    u, v = _discriminating_pair(model)
    few, many = [u, v, v, v, v], [u, u, u, u, v]
    set_gap = float(np.abs(model.posterior_mean([few, many])[0]
                           - model.posterior_mean([few, many])[1]).max())
    return Measurement({"symbolic_unproved": float(not dec.proved), "permutation_error": perm_err,
                        "k3_permutation_error": perm3_err, "quadrature_rel_error": quad_err,
                        "distinct_word_set_gap": set_gap},
                       {"document": doc.tolist(), "n_permutations": len(perms),
                        "posterior_mean_theta0": float(means[0])})


class BagOfWords(Theorem):
    """Bag-of-words sufficiency of the LDA posterior over the topic mixture (fixed topics)."""

    paper = "zhang2024"
    slug = "topics"
    title = "LDA's posterior over the topic mixture depends only on the word counts"
    citation = "Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 1.8, 2.4"

    def statement(self) -> Decision:
        return bag_of_words_statement()

    def example(self, seed: int = 0):
        rng = streams(seed).data
        model = LDA.random(2, 4, rng)
        return model, model.sample(1, int(rng.integers(1, 7)), rng)[2][0]

    def reference(self, instance):
        """E[theta_0 | w] by quadrature of the bag-of-words form, checked against the
        enumeration over topic assignments (or against a planted candidate)."""
        (model, doc), exact = self.unwrap(instance)
        q_mean, _ = quadrature_posterior(model, doc)
        exact = float(model.posterior_mean(doc)[0, 0]) if exact is None else float(exact)
        return SolveResult(value=q_mean, residual=abs(exact - q_mean) / abs(q_mean),
                           tol=QUADRATURE, why="enumeration vs quadrature of the bag-of-words form")

    def corrupt(self, instance):
        """The prior mean of theta_0: the document ignored."""
        model, _ = instance
        return self.Corrupted(instance, float(model.alpha[0] / model.alpha.sum()),
                              planted="the prior mean alpha_0 / sum(alpha) (document ignored)")

    def simulate(self, instance, seed: int = 0) -> dict:
        model, doc = instance
        shuffled = streams(seed).noise.permutation(doc)
        return {"mean": model.posterior_mean(doc)[0], "shuffled_mean": model.posterior_mean(shuffled)[0]}

    def compare(self, instance, seed: int = 0) -> dict:
        sim = self.simulate(instance, seed)
        return {"quadrature_rel_error": self.reference(instance).residual,
                "permutation_error": float(np.abs(sim["mean"] - sim["shuffled_mean"]).max())}

    def search_space(self):
        from hypothesis import strategies as st

        def build(p):
            rng = np.random.default_rng(p["seed"])
            model = LDA.random(2, p["V"], rng, eta=p["eta"], alpha=p["alpha"])
            return model, model.sample(1, p["M"], rng)[2][0]

        return (st.fixed_dictionaries({
            "V": st.integers(2, 6), "M": st.integers(1, 7),
            "eta": st.floats(0.2, 5.0), "alpha": st.floats(0.2, 5.0),
            "seed": st.integers(0, 2**31 - 1)}), build)

    def claims(self) -> tuple[Claim, ...]:
        return (
            Claim(id=f"{self.id}.bag_of_words", spec="embeddings_embed:25", paper=PAPER,
                  reference="spec 1.8 and claim 25", kind="symbolic", seeds=SEEDS, budget_s=3.0,
                  measure=measure_bag_of_words,
                  statement="[EXACT] With fixed topics the posterior over theta_d is invariant "
                  "to permuting a document's words: sympy proves the likelihood is the "
                  "bag-of-words product (K=2, V=3, M=3, all documents); the exact Dirichlet-"
                  "mixture posterior is identical over all permutations (K=2, V=4, M=5 and "
                  "K=3, M=4) and equals quadrature of the bag-of-words form.",
                  criteria=(Threshold("symbolic_unproved", 0.0, why="exact expansion"),
                            Threshold("permutation_error", EXACT, why="float64 rounding only"),
                            Threshold("k3_permutation_error", EXACT, why="float64 rounding only"),
                            Threshold("quadrature_rel_error", QUADRATURE, why=(
                                "adaptive quadrature at 1e-12 relative")),
                            Threshold("distinct_word_set_gap", 1e-3, upper=False, why=(
                                "negative control: the set of words without counts is not "
                                "sufficient")))),
        )

    def negative_controls(self) -> dict:
        def distinct_words_only() -> bool:
            return measure_bag_of_words(0).values["distinct_word_set_gap"] > 1e-3

        return {"the set of distinct words (counts dropped)": distinct_words_only}
