"""Log-odds structure of the latent concept model: context-free pair log-odds (D-L1) and
Markov-blanket dependence for DAG laws (D-L2).

D-L1: for a token pair (y0, y1) differing only in concept i and any context x that leaves
C_i unknown and agrees with the pair elsewhere, log p(y1|x) - log p(y0|x) = ell_i(c_-i),
independent of x. D-L2: for a DAG law, ell_i depends on c_-i only through the Markov
blanket MB(i), by the closed form logit P(C_i=1 | pa) + sum over children of the log-ratio
of their CPTs.

References
----------
Jiang, Rajendran, Ravikumar, Aragam, Veitch. On the Origins of Linear Representations in
Large Language Models. ICML 2024; arXiv 2403.03867 v1. Spec linear_origins 3.1 (D-L1, D-L2)
and claims 1-2.

Notes
-----
Tags: [D] -- the spec's formalisation of the input to the paper's log-odds argument
(C2); the paper's own lemma is unknown. Witnesses: sympy with symbolic positive p(c)
(m <= 3) and generic positive DAG factors; a reference computed independently by the D-L2
closed form from the CPTs; the exact float64 table of the simulation's law. Assumption
A0 (p > 0) is required; zero-probability vectors are rejected by ConceptLaw.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from sim import streams
from sim.concepts import ConceptLaw, ConceptModel, concept_vectors
from sim.errors import InputError
from theorems._symbolic import Decision, decide_identity
from theorems.base import Claim, Measurement, Theorem
from theorems.jiang2024._common import PAPER, SEEDS, TAG_D, dag_model
from theorems.tolerances import Threshold

FLOAT_EXACT = 1e-12  # log-odds from an exact float64 table: rounding only (spec: 1e-12)


def pair_log_odds_error(model: ConceptModel) -> float:
    """max |log p(y1|x) - log p(y0|x) - ell_i(c_-i)| over pairs and compatible contexts."""
    P, ell, worst = model.table, model.law.log_odds(), 0.0
    for i in range(model.law.m):
        for y0, y1 in model.token_pairs(i):
            xs = model.compatible(i, y0)  # both tokens have positive probability here
            gap = np.log(P[xs, y1]) - np.log(P[xs, y0]) - ell[i, model.vocab.ids[y0]]
            worst = max(worst, float(np.abs(gap).max()))
    return worst


def symbolic_d_l1(m: int) -> Decision:
    """D-L1 with symbolic positive p(c) for every pair and compatible context (m <= 3)."""
    p = sympy.symbols(f"p0:{2**m}", positive=True)
    law = ConceptLaw.from_joint(np.full(2**m, 1.0 / 2**m))  # only the structure is used
    model = ConceptModel.build(law)
    rng = streams(m).noise
    point = {s: float(v) for s, v in zip(p, rng.uniform(0.1, 1.0, 2**m))}
    failed, undecided, count = [], [], 0
    for i in range(m):
        for y0, y1 in model.token_pairs(i):
            for x in model.compatible(i, y0):
                Z = sum(p[y] for y in np.flatnonzero(model.support[x]))
                lhs = sympy.log(p[y1] / Z) - sympy.log(p[y0] / Z)
                rhs = sympy.log(p[y1]) - sympy.log(p[y0])
                count += 1
                outcome = decide_identity(lhs, rhs, [point]).outcome
                if outcome != "proved":
                    (failed if outcome == "refuted" else undecided).append((i, int(y0), int(x)))
    status = "refuted" if failed else ("undecided" if undecided else "proved")
    return Decision(status, f"{count - len(failed) - len(undecided)} of {count} pair identities "
                    f"proved, {len(undecided)} undecided (numeric agreement only) (m={m})",
                    {"count": count, "failed": failed, "undecided": undecided})


def blanket_closed_form(law: ConceptLaw) -> np.ndarray:
    """D-L2's formula for ell[i, j] from the CPTs alone (independent of the joint table)."""
    C, m = law.vectors, law.m
    out = np.zeros((m, 2**m))

    def log_cpt(k, c):
        pa = law.parents[k]
        j = int(sum(c[q] << (len(pa) - 1 - t) for t, q in enumerate(pa)))
        p1 = law.cpts[k][j]
        return np.log(p1 if c[k] == 1 else 1.0 - p1)

    for i in range(m):
        children = [k for k, pa in enumerate(law.parents) if i in pa]
        for j, c in enumerate(C):
            c1, c0 = c.copy(), c.copy()
            c1[i], c0[i] = 1, 0
            val = log_cpt(i, c1) - log_cpt(i, c0)
            val += sum(log_cpt(k, c1) - log_cpt(k, c0) for k in children)
            out[i, j] = val
    return out


def own_cpt_log_odds(law: ConceptLaw) -> np.ndarray:
    """ell[i, j] from concept i's own CPT alone: D-L2 without its children's terms, which
    is wrong for every concept with a child (a negative control of the reference)."""
    out = np.zeros((law.m, 2**law.m))
    for i, pa in enumerate(law.parents):
        for j, c in enumerate(law.vectors):
            k = int(sum(c[q] << (len(pa) - 1 - t) for t, q in enumerate(pa)))
            p1 = law.cpts[i][k]
            out[i, j] = np.log(p1) - np.log(1.0 - p1)
    return out


def blanket_flip_effects(law: ConceptLaw) -> tuple[float, float]:
    """(max |Delta ell_i| flipping any j outside MB(i), fraction of (i, j in MB) flips that
    change ell_i by more than 1e-6 for some background)."""
    ell, m = law.log_odds(), law.m
    outside, detected, inside = 0.0, 0, 0
    for i, j in itertools.permutations(range(m), 2):
        bit = 2 ** (m - 1 - j)
        diff = np.abs(ell[i] - ell[i, np.arange(2**m) ^ bit]).max()
        if j in law.markov_blanket(i):
            inside += 1
            detected += diff > 1e-6
        else:
            outside = max(outside, float(diff))
    return outside, detected / inside if inside else 1.0


def symbolic_d_l2(m: int = 3) -> Decision:
    """MB invariance for every DAG on m nodes with generic positive factor tables."""
    C = concept_vectors(m)
    edges = [(j, k) for k in range(m) for j in range(k)]
    count, failed = 0, []
    for mask in itertools.product((0, 1), repeat=len(edges)):
        parents = [tuple(j for (j, k), on in zip(edges, mask) if on and k == kk) for kk in range(m)]
        f = [{cfg: sympy.Symbol(f"f{k}_{''.join(map(str, cfg))}", positive=True)
              for cfg in itertools.product((0, 1), repeat=1 + len(parents[k]))} for k in range(m)]
        logp = {tuple(c): sum(sympy.log(f[k][(c[k], *[c[q] for q in parents[k]])])
                              for k in range(m)) for c in map(tuple, C)}
        law = ConceptLaw.from_dag(parents, [np.full(2 ** len(pa), 0.5) for pa in parents])
        for i in range(m):
            mb = law.markov_blanket(i)
            for j in (j for j in range(m) if j != i and j not in mb):
                for c in map(list, C):
                    if c[i] or c[j]:
                        continue  # each (c_-i, c_j) background once
                    def ell(cc):
                        hi, lo = list(cc), list(cc)
                        hi[i], lo[i] = 1, 0
                        return logp[tuple(hi)] - logp[tuple(lo)]
                    flipped = list(c)
                    flipped[j] = 1
                    count += 1
                    if sympy.expand_log(ell(c) - ell(flipped)) != 0:
                        failed.append((parents, i, j))
    return Decision("proved" if not failed else "refuted",
                    f"{count - len(failed)} of {count} flips outside the Markov blanket leave "
                    f"ell_i unchanged, over all {2 ** len(edges)} DAGs on {m} nodes",
                    {"count": count, "failed": failed})


def measure_pair_log_odds(seed: int) -> Measurement:
    sym = [symbolic_d_l1(m) for m in (2, 3)]
    rng = streams(seed).data
    errs = [pair_log_odds_error(dag_model(seed * 100 + k, int(rng.integers(2, 7))))
            for k in range(5)]
    undecided = sum(len(d.values["undecided"]) for d in sym)
    return Measurement(
        {"symbolic_unproved": float(sum(len(d.values["failed"]) for d in sym)),
         "numeric_error": max(errs)},
        {"identities": sum(d.values["count"] for d in sym), "random_laws": len(errs)},
        inconclusive=f"{undecided} identities undecided by sympy (they agree numerically)"
        if undecided else "")


def measure_markov_blanket(seed: int) -> Measurement:
    sym = symbolic_d_l2(3)
    rng = streams(seed).data
    outside, detected, formula = 0.0, 1.0, 0.0
    for k in range(50):
        law = ConceptLaw.random_dag(int(rng.integers(2, 7)), rng)
        o, det = blanket_flip_effects(law)
        outside, detected = max(outside, o), min(detected, det)
        formula = max(formula, float(np.abs(blanket_closed_form(law) - law.log_odds()).max()))
    return Measurement(
        {"symbolic_unproved": float(len(sym.values["failed"])), "outside_blanket_change": outside,
         "closed_form_error": formula, "blanket_flips_detected": detected},
        {"symbolic_flips": sym.values["count"], "random_dags": 50})


class LogOddsStructure(Theorem):
    """Pair log-odds are context-free (D-L1) and depend only on the Markov blanket (D-L2)."""

    paper = "jiang2024"
    slug = "log_odds"
    title = "Log-odds structure of the latent concept model"
    citation = "Jiang et al. 2024, arXiv 2403.03867; spec linear_origins 3.1 (D-L1, D-L2)"

    def statement(self) -> Decision:
        return symbolic_d_l1(2)

    def example(self, seed: int = 0) -> ConceptModel:
        return dag_model(seed, 4)

    def reference(self, instance: ConceptModel):
        """ell from the D-L2 closed form (CPTs only), or a planted candidate, certified
        against the joint table."""
        from theorems.base import SolveResult
        model, ell = self.unwrap(instance)
        ell = blanket_closed_form(model.law) if ell is None else np.asarray(ell, dtype=np.float64)
        return SolveResult(value=ell, residual=float(np.abs(ell - model.law.log_odds()).max()))

    def corrupt(self, instance: ConceptModel):
        """D-L2 with the children's CPT terms dropped (each concept's own CPT alone, the
        parents-only mistake); the example's DAG has edges, so some concept has a child."""
        law = instance.law
        if not any(law.parents):
            raise InputError("corrupt() needs a law with an edge: without children the "
                             "parents-only log-odds are the right ones")
        return self.Corrupted(instance, own_cpt_log_odds(law),
                              planted="each concept's own CPT log-odds, children dropped")

    def simulate(self, instance: ConceptModel, seed: int = 0) -> dict:
        return {"pair_log_odds_error": pair_log_odds_error(instance)}

    def compare(self, instance: ConceptModel, seed: int = 0) -> dict:
        return {"pair_log_odds_error": pair_log_odds_error(instance),
                "closed_form_error": self.reference(instance).residual}

    def claims(self) -> tuple[Claim, ...]:
        exact = Threshold("numeric_error", FLOAT_EXACT, why="exact table; rounding only")
        return (
            Claim(id=f"{self.id}.context_free", spec="linear_origins:1", paper=PAPER,
                  reference="spec 3.1, Lemma D-L1", kind="symbolic", seeds=SEEDS, budget_s=6.0,
                  statement=f"{TAG_D} For every concept, token pair and compatible context, "
                  "log p(y1|x) - log p(y0|x) = ell_i(c_-i): symbolic for m <= 3, and on "
                  "random DAG laws with m <= 6.",
                  measure=measure_pair_log_odds,
                  criteria=(Threshold("symbolic_unproved", 0.0, why=(
                      "no identity may be refuted; one that sympy cannot simplify but that "
                      "agrees numerically makes the claim inconclusive, never a pass")),
                      exact)),
            Claim(id=f"{self.id}.markov_blanket", spec="linear_origins:2", paper=PAPER,
                  reference="spec 3.1, Lemma D-L2", kind="symbolic", seeds=SEEDS, budget_s=6.0,
                  statement=f"{TAG_D} For a DAG law, ell_i(c_-i) is unchanged when any c_j "
                  "outside the Markov blanket of i is flipped (symbolic over all DAGs on 3 "
                  "nodes; numerically on 50 random DAGs with m <= 6), and equals the blanket "
                  "closed form.",
                  measure=measure_markov_blanket,
                  criteria=(
                      Threshold("symbolic_unproved", 0.0, why="every flip must be proved"),
                      Threshold("outside_blanket_change", FLOAT_EXACT, why=(
                          "spec claim 2: to 1e-12 on exact float64 tables")),
                      Threshold("closed_form_error", FLOAT_EXACT, why=(
                          "the CPT formula and the joint table agree up to rounding")),
                      Threshold("blanket_flips_detected", 0.99, upper=False, why=(
                          "the check must be able to fail: flipping a concept inside the "
                          "blanket changes ell_i for generic CPTs (U[0.3, 0.7] draws)")))),
        )

    def search_space(self):
        from hypothesis import strategies as st
        strategy = st.fixed_dictionaries({"seed": st.integers(0, 2**31 - 1),
                                          "m": st.integers(2, 6), "q": st.floats(0.0, 1.0)})
        return strategy, lambda p: dag_model(p["seed"], p["m"], q=p["q"])

    def negative_controls(self) -> dict:
        def dependence_inside_blanket() -> bool:
            law = ConceptLaw.from_dag([(), (0,)], [np.array([0.4]), np.array([0.3, 0.7])])
            return blanket_flip_effects(law)[1] == 1.0  # the flip of the parent is detected

        def zero_probability() -> bool:
            from sim.errors import InputError
            try:
                ConceptLaw.from_joint([0.5, 0.5, 0.0, 0.0])
            except InputError:
                return True
            return False

        return {"concept 0 inside the blanket of concept 1 (a parent)": dependence_inside_blanket,
                "positivity A0 broken (zero-probability vectors)": zero_probability}
