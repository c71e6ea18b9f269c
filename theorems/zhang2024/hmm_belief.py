"""For hidden Markov models the belief state is a predictive sufficient statistic (Prop. 4).

The forward filter b_n = p(z_n | x_{1:n}) determines every k-step predictive
(p(x_{n+1} | x_{1:n}) = b_n A B); the one-step map b -> b A B is injective on the simplex
iff rank(A B) = K, which holds almost surely for Dirichlet-random A, B with V >= K; and
the Viterbi last state, a hard label, is not the belief's argmax in general.

References
----------
Zhang et al. 2024, What Should Embeddings Embed? arXiv 2406.03707; spec embeddings_embed
1.6 (Prop. 4), 2.2 and claims 17-19.

Notes
-----
Tags: [EXACT]. Witnesses: brute-force enumeration over state paths (the reference), the
scaled forward filter of :mod:`sim.bayes.hmm` (the oracle the simulations will probe
against), and sympy's exact rank of rational matrices. Not copied: the released code's
last-position posterior, which counts the last emission twice (kept in sim only as a
comparison). A rank-deficient HMM is the negative control.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import sympy

from sim import streams
from sim.bayes.hmm import HMM
from theorems._symbolic import Decision
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold

PAPER = "Zhang et al. 2024 (arXiv 2406.03707), as formalised in the spec"
SEEDS = (0, 1, 2)
EXACT = 1e-12  # enumeration and the forward filter in float64: rounding only


def path_likelihood(hmm: HMM, x) -> float:
    """p(x) by enumerating every state path (independent of the forward recursion)."""
    A, B, pi0 = hmm.A, hmm.B, hmm.pi0
    total = 0.0
    for z in itertools.product(range(hmm.K), repeat=len(x)):
        p = pi0[z[0]] * B[z[0], x[0]]
        for t in range(1, len(x)):
            p *= A[z[t - 1], z[t]] * B[z[t], x[t]]
        total += p
    return total


def _rational(M: np.ndarray) -> sympy.Matrix:
    return sympy.Matrix([[sympy.Rational(Fraction(float(v))) for v in row] for row in M])


def exact_rank(hmm: HMM) -> int:
    """rank(A B) with A, B read as exact rationals and multiplied exactly (sympy)."""
    return (_rational(hmm.A) * _rational(hmm.B)).rank()


def rank_deficient(K: int, V: int, rng) -> HMM:
    """An HMM whose first two states emit identically and transition identically."""
    base = HMM.random(K, V, rng)
    A, B = base.A.copy(), base.B.copy()
    B[1] = B[0]
    A[:, 1] = A[:, 0] = (A[:, 0] + A[:, 1]) / 2
    return HMM(A, B, base.pi0)


def measure_filter(seed: int) -> Measurement:
    rng = streams(seed).data
    hmm = HMM.random(3, 4, rng)
    _, X = hmm.sample(8, 5, rng)
    f_err = p_err = k_err = 0.0
    for x in X:
        b = hmm.filter(x)  # (T, K)
        f_err = max(f_err, float(np.abs(b - hmm.brute_force_filter(x)).max()))
        for n in range(1, len(x)):
            pre = path_likelihood(hmm, x[:n])
            one = np.array([path_likelihood(hmm, np.append(x[:n], v)) for v in range(hmm.V)]) / pre
            p_err = max(p_err, float(np.abs(hmm.predictive(b[n - 1]) - one).max()))
        for k in (1, 2, 3):
            future = rng.integers(0, hmm.V, k)
            brute = np.log(path_likelihood(hmm, np.concatenate([x, future])) / path_likelihood(hmm, x))
            k_err = max(k_err, abs(float(hmm.k_step_log_predictive(b[-1], future)) - brute))
    return Measurement({"filter_error": f_err, "one_step_error": p_err, "k_step_log_error": k_err},
                       {"K": 3, "V": 4, "sequences": len(X), "T": X.shape[1]})


def measure_injectivity(seed: int) -> Measurement:
    rng = streams(seed).data
    ok = 0
    for _ in range(50):
        K = int(rng.integers(2, 5))
        hmm = HMM.random(K, int(rng.integers(K, 8)), rng)
        ok += exact_rank(hmm) == K and hmm.injective_on_simplex()
    bad = rank_deficient(3, 5, rng)
    M = bad.A @ bad.B
    d = np.linalg.svd(np.vstack([M.T, np.ones(3)]))[2][-1]  # d A B = 0 and sum(d) = 0
    b = np.full(3, 1 / 3)
    b2 = b + 0.1 * d / np.abs(d).max()
    return Measurement(
        {"dirichlet_injective_fraction": ok / 50,
         "deficient_detected": float(exact_rank(bad) < 3 and not bad.injective_on_simplex()),
         "witness_predictive_gap": float(np.abs(bad.predictive(b) - bad.predictive(b2)).max()),
         "witness_belief_distance": float(np.abs(b - b2).max())})


def measure_viterbi(seed: int) -> Measurement:
    A = np.array([[0.4, 0.6], [0.9, 0.1]])
    B = np.array([[0.25, 0.75], [0.47, 0.53]])
    fixed = HMM(A, B, np.full(2, 0.5))
    x = np.array([0, 1, 1])
    path, _ = fixed.viterbi(x)
    spec_witness = float(path[-1] != np.argmax(fixed.filter(x)[-1]))
    rng = streams(seed).data
    found = 0
    for _ in range(30):
        hmm = HMM.random(2, 2, rng)
        for xs in itertools.product(range(2), repeat=4):
            xs = np.array(xs)
            if hmm.viterbi(xs)[0][-1] != np.argmax(hmm.filter(xs)[-1]):
                found += 1
    return Measurement({"spec_witness_differs": spec_witness, "random_witnesses": float(found)})


class BeliefStateSufficiency(Theorem):
    """Prop. 4: the HMM belief state is predictive sufficient; b -> bAB injective iff rank K."""

    paper = "zhang2024"
    slug = "hmm_belief"
    title = "The belief state of an HMM is a predictive sufficient statistic"
    citation = "Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 1.6 (Prop. 4)"

    def statement(self) -> Decision:
        rng = streams(0).data
        good, bad = HMM.random(3, 5, rng), rank_deficient(3, 5, rng)
        r_good, r_bad = exact_rank(good), exact_rank(bad)
        ok = r_good == 3 and r_bad < 3
        return Decision("proved" if ok else "refuted",
                        f"exact ranks: Dirichlet draw {r_good} (= K), constructed {r_bad} (< K)")

    def example(self, seed: int = 0):
        rng = streams(seed).data
        hmm = HMM.random(3, 4, rng)
        return hmm, hmm.sample(1, 5, rng)[1][0]

    def reference(self, instance):
        """Beliefs by enumerating every state path, checked against the forward filter (or
        against planted candidate beliefs)."""
        (hmm, x), beliefs = self.unwrap(instance)
        brute = hmm.brute_force_filter(x)
        beliefs = hmm.filter(x) if beliefs is None else np.asarray(beliefs, dtype=np.float64)
        return SolveResult(value=brute, residual=float(np.abs(brute - beliefs).max()))

    def corrupt(self, instance):
        """The released code's last belief, which counts the last emission twice."""
        hmm, x = instance
        beliefs = hmm.filter(x).copy()
        beliefs[-1] = hmm.code_variant_last_posterior(x)
        return self.Corrupted(instance, beliefs,
                              planted="the released code's b_T (last emission counted twice)")

    def simulate(self, instance, seed: int = 0) -> dict:
        hmm, x = instance
        return {"last_belief": hmm.filter(x)[-1]}

    def compare(self, instance, seed: int = 0) -> dict:
        return {"filter_gap": self.reference(instance).residual}

    def claims(self) -> tuple[Claim, ...]:
        pid = self.id
        return (
            Claim(id=f"{pid}.forward_filter", spec="embeddings_embed:17", paper=PAPER,
                  reference="spec 1.6, Prop. 4(a)", kind="reference", seeds=SEEDS, budget_s=3.0,
                  measure=measure_filter,
                  statement="[EXACT] The forward filter equals brute-force enumeration of "
                  "p(z_n | x_{1:n}); p(x_{n+1} | x_{1:n}) = b_n A B; and the k-step predictive "
                  "(k = 1, 2, 3) is a function of b_n alone.",
                  criteria=(Threshold("filter_error", EXACT, why="float64 rounding only"),
                            Threshold("one_step_error", EXACT, why="float64 rounding only"),
                            Threshold("k_step_log_error", 1e-10, why=(
                                "log of ratios of path sums; rounding only")))),
            Claim(id=f"{pid}.injectivity", spec="embeddings_embed:18", paper=PAPER,
                  reference="spec 1.6, Prop. 4(c)", kind="symbolic", seeds=SEEDS, budget_s=2.0,
                  measure=measure_injectivity,
                  statement="[EXACT] b -> b A B is injective on the simplex iff rank(A B) = K: "
                  "every Dirichlet-random HMM with V >= K has exact rank K, and a constructed "
                  "rank-deficient one has two beliefs with the same predictive.",
                  criteria=(Threshold("dirichlet_injective_fraction", 1.0, upper=False, why=(
                      "almost surely: every one of 50 draws")),
                      Threshold("deficient_detected", 1.0, upper=False, why="negative control"),
                      Threshold("witness_predictive_gap", EXACT, why="equal predictives"),
                      Threshold("witness_belief_distance", 1e-2, upper=False, why=(
                          "the two beliefs must really differ")))),
            Claim(id=f"{pid}.viterbi", spec="embeddings_embed:19", paper=PAPER,
                  reference="spec 1.6 and claim 19's witness", kind="symbolic", seeds=SEEDS,
                  budget_s=2.0, measure=measure_viterbi,
                  statement="[EXACT] The Viterbi last state differs from argmax b_n on some "
                  "sequences: the spec's witness, and further witnesses among random 2-state "
                  "HMMs with n = 4.",
                  criteria=(Threshold("spec_witness_differs", 1.0, upper=False, why=(
                      "A = [[.4,.6],[.9,.1]], B = [[.25,.75],[.47,.53]], x = (0,1,1)")),
                      Threshold("random_witnesses", 1.0, upper=False, why=(
                          "a search over 30 HMMs x 16 sequences finds at least one more")))),
        )

    def negative_controls(self) -> dict:
        def rank_deficient_hmm() -> bool:
            bad = rank_deficient(3, 5, streams(1).data)
            return not bad.injective_on_simplex()

        def double_counted_emission() -> bool:
            hmm, x = self.example(0)
            return float(np.abs(hmm.code_variant_last_posterior(x) - hmm.filter(x)[-1]).max()) > 1e-3

        return {"rank(AB) < K (identical emitting states)": rank_deficient_hmm,
                "the released code's last emission counted twice": double_counted_emission}
