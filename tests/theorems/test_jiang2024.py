"""Jiang et al. I: witnesses agree on drawn concept models, and the checks can fail."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from sim.concepts import ConceptLaw, ConceptModel, ContextSet, Vocabulary, metrics
from sim.errors import InputError
from tests.strategies import seeds
from theorems.jiang2024 import fixed_embedding_max_margin as fx
from theorems.jiang2024 import log_odds, matching_linearity
from theorems.jiang2024._common import closed_form_G, embedding_axes

EXACT = 1e-12  # exact float64 tables and closed forms: rounding only
SOLVER = 1e-7  # a certified max-margin solution against its closed form (KKT tol 1e-8, x10)
GD_DIRECTION = 0.99  # cos of GD's mean direction with A^+T e_i after 2000 steps (claim 10 regime)


@st.composite
def dag_models(draw, m=(2, 5)):
    seed, mm = draw(seeds), draw(st.integers(*m))
    q = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    return ConceptModel.build(ConceptLaw.random_dag(mm, streams(seed).data, q=q))


@given(dag_models())
def test_pair_log_odds_are_context_free(model):
    assert log_odds.pair_log_odds_error(model) <= EXACT


@given(dag_models(m=(2, 6)))
def test_blanket_formula_equals_the_joint_log_odds(model):
    law = model.law
    np.testing.assert_allclose(log_odds.blanket_closed_form(law), law.log_odds(), rtol=0, atol=EXACT)
    outside, _ = log_odds.blanket_flip_effects(law)
    assert outside <= EXACT


@settings(max_examples=10)  # each example solves a P2 program with up to 81 x 16 logits
@given(seeds, st.integers(2, 4), st.integers(0, 3), st.sampled_from(["orthonormal", "gaussian"]),
       st.booleans())
def test_p2_solution_is_the_closed_form(seed, m, extra_d, kind, e2b):
    d = m + extra_d
    contexts = ContextSet.subset(m, streams(seed).data, 0.5, keep_single=True) if e2b else None
    model = ConceptModel.build(ConceptLaw.random_dag(m, streams(seed).data), contexts)
    A = embedding_axes(seed, d, m, kind)
    ref = fx.solve_p2(model, A)
    np.testing.assert_allclose(ref.W, closed_form_G(model.C, A), rtol=0, atol=SOLVER)


@settings(max_examples=8)  # P2 solves
@given(seeds, st.integers(3, 4))
def test_partial_vocabulary_keeps_differences_parallel(seed, m):
    """D-T2 consequence 5 (E4): the scales b_i may change, the directions may not."""
    vocab = Vocabulary.subset(m, streams(seed).data, 0.6)
    contexts = ContextSet.complete(m).restrict_to(vocab)
    model = ConceptModel.build(ConceptLaw.random_dag(m, streams(seed).data), contexts, vocab)
    A = embedding_axes(seed, m + 1, m, "gaussian")
    W = fx.solve_p2(model, A).W
    target = A @ np.linalg.inv(A.T @ A)
    for i in range(m):
        D = metrics.unembedding_differences(model, W, i)
        if len(D):
            cos = D @ target[:, i] / (np.linalg.norm(D, axis=1) * np.linalg.norm(target[:, i]))
            np.testing.assert_allclose(cos, 1.0, rtol=0, atol=SOLVER)


def test_symbolic_reference_and_simulation_agree_on_the_example():
    thm = fx.FixedEmbeddingMaxMargin()
    assert thm.statement().proved
    model, A = fx.seeded_instance(0, 0.0, m=3, d=5, kind="orthonormal")
    G = closed_form_G(model.C, A)
    np.testing.assert_allclose(fx.solve_p2(model, A).W, G, rtol=0, atol=SOLVER)
    f = fx.gd_on_G(model, A, steps=2_000, seed=0, extra=())
    gbar, _ = metrics.directions(model, f.F, f.G)
    for i in range(3):
        assert metrics.cosine(gbar[i], A[:, i]) >= GD_DIRECTION


# --- negative controls ---------------------------------------------------------------------

def test_dropping_single_concept_contexts_breaks_the_closed_form():
    """D-T2 needs the 2m single-concept contexts (their equalities force h(y) = a + B c(y));
    with only fully specified contexts left, G* is no longer the optimum nor exactly linear."""
    m = 3
    full = ContextSet.complete(m).S
    keep = full[np.abs(full).sum(1) == m]  # contexts that fix every concept
    model = ConceptModel.build(ConceptLaw.random_dag(m, streams(0).data), ContextSet(keep))
    A = embedding_axes(0, 4, m, "gaussian")
    W = fx.solve_p2(model, A).W
    assert np.abs(W - closed_form_G(model.C, A)).max() > 1e-3
    assert metrics.summary(model, model.S @ A.T, W)["lin_g_min"] < 1 - 1e-3


def test_dependent_concepts_break_equal_differences():
    """D-T1(c) needs constant log-odds: with dependence, matching differences are not equal."""
    law = ConceptLaw.from_dag([(), (0,)], [np.array([0.4]), np.array([0.3, 0.7])])
    ell = law.log_odds()[1]  # concept 1 depends on concept 0
    F_c = matching_linearity.matching_embeddings(8, 4, streams(0).noise)
    D0, _ = matching_linearity.solve_matching(F_c, ell[0])
    D1, _ = matching_linearity.solve_matching(F_c, ell[2])
    assert np.linalg.norm(D0 - D1) / np.linalg.norm(D0) > 1e-3


def test_non_spanning_contexts_break_uniqueness():
    assert matching_linearity.measure_parallel(1).values["uniqueness_lost_without_spanning"] == 1.0


def test_non_orthogonal_axes_make_p1_depend_on_the_background():
    controls = fx.FixedEmbeddingMaxMargin().negative_controls()
    assert controls["A^T A not diagonal (P1 then depends on the background)"]()


# --- bad input -----------------------------------------------------------------------------

def test_rank_deficient_axes_are_rejected():
    model = ConceptModel.build(ConceptLaw.random_dag(3, streams(0).data))
    A = embedding_axes(0, 4, 3, "gaussian")
    with pytest.raises(InputError, match="full column rank"):
        fx.structured_F(model, np.hstack([A[:, :2], A[:, :1]]))


def test_cyclic_graph_and_bad_probabilities_are_rejected():
    with pytest.raises(InputError, match="cycle"):
        ConceptLaw.from_dag([(1,), (0,)], [np.array([0.5, 0.5]), np.array([0.5, 0.5])])
    with pytest.raises(InputError, match=r"outside \(0, 1\)"):
        ConceptLaw.from_dag([()], [np.array([1.0])])
    with pytest.raises(InputError, match="positive probability"):
        ConceptLaw.from_joint([0.5, 0.5, 0.0, 0.0])
    with pytest.raises(InputError, match="exact-enumeration limit"):
        ConceptLaw.random_dag(9, streams(0).data)
