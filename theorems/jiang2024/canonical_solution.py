"""The canonical next-token max-margin solution Z_c = 1/2 S (2C - 1)^T (D-P2, first part).

Z_c satisfies every next-token (P2) constraint on the logit matrix with margin exactly 1
and equal in-support logits |S(x)|/2; for the complete context set and full vocabulary
S^T S = 2 3^(m-1) I and (2C-1)^T (2C-1) = 2^m I, so its m nonzero singular values all equal
sigma_m = 1/2 sqrt(2 3^(m-1) 2^m) and ||Z_c||_* = m sigma_m (2 sqrt 6 for m = 2, 18 for m = 3).

References
----------
Jiang et al. 2024, arXiv 2403.03867 v1; spec linear_origins 3.4 (Proposition D-P2) and
claims 5-6.

Notes
-----
Tags: [D], the spec's exact picture of the paper's joint-training claims (C4, C5); the
balanced-factorisation half of D-P2 belongs to the joint-training module. Witnesses: exact
integer arithmetic (2 Z_c is an integer matrix), sympy for the singular values and nuclear
norms, the max-margin layer's feasibility check of Z_c as a P2 point, and float64 SVD.
"""

from __future__ import annotations

import numpy as np
import sympy

from sim.concepts import ConceptLaw, ConceptModel
from theorems._symbolic import Decision
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.jiang2024._common import PAPER, TAG_D, canonical_Z
from theorems.tolerances import Threshold

SVD_REL = 1e-12  # float64 SVD of a matrix with exact integer structure: rounding only


def uniform_model(m: int) -> ConceptModel:
    """Complete contexts and full vocabulary (the law does not enter Z_c or its constraints)."""
    return ConceptModel.build(ConceptLaw.from_joint(np.full(2**m, 2.0**-m)))


def margin_report(m: int) -> tuple[int, int]:
    """(min over P2 constraints of 2 (Z(x,y) - Z(x,y')), max |2 Z(x,y) - |S(x)|| in support)
    in integer arithmetic; the claim is (2, 0)."""
    model = uniform_model(m)
    Z2 = model.S @ (2 * model.C - 1).T  # 2 Z_c, integers
    sup = model.support
    min_gap = min(int(Z2[x, sup[x]].min() - Z2[x, ~sup[x]].max())
                  for x in range(len(Z2)) if (~sup[x]).any())
    size = np.abs(model.S).sum(1)
    dev = int(np.abs(np.where(sup, Z2 - size[:, None], 0)).max())
    return min_gap, dev


def p2_violation(Z: np.ndarray, support: np.ndarray) -> float:
    """The worst violation of the next-token (P2) constraints by the logit matrix ``Z``:
    every in-support logit must exceed every out-of-support one by 1 (margin), and the
    in-support logits of a context must be equal (equality)."""
    margin = max((float(Z[x, ~support[x]].max() - Z[x, support[x]].min() + 1)
                  for x in range(len(Z)) if (~support[x]).any()), default=0.0)
    equal = max(float(np.ptp(Z[x, support[x]])) for x in range(len(Z)))
    return max(0.0, margin, equal)


def symbolic_spectrum(m: int) -> Decision:
    """Exact Gram identities and nuclear norm m sigma_m of Z_c, in integer/sympy arithmetic."""
    model = uniform_model(m)
    S, B = sympy.Matrix(model.S), sympy.Matrix(2 * model.C - 1)
    ok_s = S.T * S == 2 * 3 ** (m - 1) * sympy.eye(m)
    ok_b = B.T * B == 2**m * sympy.eye(m)
    Z = S * B.T / 2
    eig = (Z.T * Z).eigenvals()  # {value: multiplicity}, exact
    sigma = sympy.sqrt(sympy.Rational(2 * 3 ** (m - 1) * 2**m)) / 2
    nonzero = {k: v for k, v in eig.items() if k != 0}
    ok_sv = nonzero == {sigma**2: m}
    nuc = sympy.nsimplify(m * sigma)
    ok = ok_s and ok_b and ok_sv
    return Decision("proved" if ok else "refuted",
                    f"S^T S, (2C-1)^T(2C-1) diagonal; Z_c^T Z_c has eigenvalue sigma_m^2 = "
                    f"{sigma**2} with multiplicity {nonzero.get(sigma**2, 0)}; ||Z_c||_* = {nuc}",
                    {"nuclear_norm": nuc, "sigma": sigma})


def measure_margin(seed: int) -> Measurement:
    rows = {m: margin_report(m) for m in range(1, 7)}
    return Measurement(
        {"margin_error": float(max(abs(g - 2) for g, _ in rows.values())) / 2,
         "logit_error": float(max(dev for _, dev in rows.values())) / 2},
        {f"m={m}": {"min_margin": g / 2, "in_support_dev": dev / 2} for m, (g, dev) in rows.items()})


def measure_spectrum(seed: int) -> Measurement:
    decisions = {m: symbolic_spectrum(m) for m in (2, 3, 4)}
    expected = {2: 2 * sympy.sqrt(6), 3: sympy.Integer(18)}
    nuc_err = max(abs(float(decisions[m].values["nuclear_norm"] - v)) for m, v in expected.items())
    sv_err = 0.0
    for m in range(1, 7):
        model = uniform_model(m)
        s = np.linalg.svd(canonical_Z(model.S, model.C), compute_uv=False)
        sigma = 0.5 * np.sqrt(2 * 3 ** (m - 1) * 2**m)
        sv_err = max(sv_err, float(np.abs(s[:m] / sigma - 1).max()), float(s[m:].max(initial=0) / sigma))
    return Measurement(
        {"symbolic_unproved": float(sum(not d.proved for d in decisions.values())),
         "nuclear_norm_error": nuc_err, "float_singular_value_rel_error": sv_err},
        {f"m={m}": d.detail for m, d in decisions.items()})


class CanonicalSolution(Theorem):
    """Z_c = 1/2 S (2C-1)^T has P2 margin exactly 1 and a flat spectrum (D-P2)."""

    paper = "jiang2024"
    slug = "canonical_solution"
    title = "The canonical next-token max-margin logit matrix"
    citation = "Jiang et al. 2024, arXiv 2403.03867; spec linear_origins 3.4 (D-P2)"

    def statement(self) -> Decision:
        return symbolic_spectrum(2)

    def example(self, seed: int = 0) -> ConceptModel:
        return uniform_model(3)

    def reference(self, instance: ConceptModel):
        """Z_c (or a planted candidate logit matrix) checked as a P2 point: the residual is
        the worst constraint violation on the model's support."""
        model, Z = self.unwrap(instance)
        Z = canonical_Z(model.S, model.C) if Z is None else np.asarray(Z, dtype=np.float64)
        return SolveResult(value=Z, residual=p2_violation(Z, model.support))

    def corrupt(self, instance: ConceptModel):
        """Z_c built from the 0/1 codes C instead of 2C - 1: every margin is 1/2, not 1."""
        return self.Corrupted(instance, 0.5 * instance.S @ instance.C.T,
                              planted="1/2 S C^T: 0/1 codes in place of 2C - 1 (margin 1/2)")

    def simulate(self, instance: ConceptModel, seed: int = 0) -> dict:
        s = np.linalg.svd(canonical_Z(instance.S, instance.C), compute_uv=False)
        return {"nuclear_norm": float(s.sum())}

    def compare(self, instance: ConceptModel, seed: int = 0) -> dict:
        m = instance.law.m
        exact = float(symbolic_spectrum(m).values["nuclear_norm"])
        return {"nuclear_norm_gap": abs(self.simulate(instance)["nuclear_norm"] - exact)}

    def claims(self) -> tuple[Claim, ...]:
        return (
            Claim(id=f"{self.id}.margin", spec="linear_origins:5", paper=PAPER,
                  reference="spec 3.4, Proposition D-P2", kind="symbolic", seeds=(0,),
                  budget_s=1.0,
                  statement=f"{TAG_D} Z_c = 1/2 S (2C-1)^T satisfies every P2 constraint with "
                  "margin exactly 1 and in-support logits |S(x)|/2 (integer arithmetic, m <= 6).",
                  measure=measure_margin,
                  criteria=(Threshold("margin_error", 0.0, why="integer arithmetic: exact"),
                            Threshold("logit_error", 0.0, why="integer arithmetic: exact"))),
            Claim(id=f"{self.id}.spectrum", spec="linear_origins:6", paper=PAPER,
                  reference="spec 3.4, Proposition D-P2", kind="symbolic", seeds=(0,),
                  budget_s=3.0,
                  statement=f"{TAG_D} For complete contexts S^T S = 2 3^(m-1) I and "
                  "(2C-1)^T(2C-1) = 2^m I, all nonzero singular values of Z_c equal "
                  "1/2 sqrt(2 3^(m-1) 2^m), and ||Z_c||_* = 2 sqrt 6 (m = 2), 18 (m = 3).",
                  measure=measure_spectrum,
                  criteria=(
                      Threshold("symbolic_unproved", 0.0, why="sympy decides these exactly"),
                      Threshold("nuclear_norm_error", 1e-12, why=(
                          "exact sympy values compared with 2 sqrt 6 and 18 in float64")),
                      Threshold("float_singular_value_rel_error", SVD_REL, why=(
                          "float64 SVD agrees with the exact spectrum to rounding (m <= 6)")))),
        )

    def search_space(self):
        from hypothesis import strategies as st
        return st.fixed_dictionaries({"m": st.integers(1, 4)}), lambda p: uniform_model(p["m"])

    def negative_controls(self) -> dict:
        def incomplete_contexts() -> bool:
            from sim import streams
            from sim.concepts import ContextSet
            law = ConceptLaw.from_joint(np.full(8, 1 / 8))
            model = ConceptModel.build(law, ContextSet.subset(3, streams(0).data, 0.5))
            s = np.linalg.svd(canonical_Z(model.S, model.C), compute_uv=False)[:3]
            return s.max() / s.min() - 1 > 1e-3  # the flat spectrum needs complete contexts

        def wrong_scale() -> bool:
            model = uniform_model(3)
            Z = canonical_Z(model.S, model.C) * 0.9
            sup = model.support
            return min(Z[x, sup[x]].min() - Z[x, ~sup[x]].max()
                       for x in range(len(Z)) if (~sup[x]).any()) < 1
        return {"complete context set dropped (E2a, 50%)": incomplete_contexts,
                "Z_c scaled by 0.9 (margin below 1)": wrong_scale}
