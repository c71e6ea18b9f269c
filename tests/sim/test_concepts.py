"""The latent binary-concept model (spec 1.2-1.3, 4.2-4.3): laws, contexts, vocabularies,
the exact next-token table, the pairs, and the metrics.

Every library quantity is checked against a direct computation written here from the
spec's definitions (loops over concept vectors and contexts, float64), or against a
closed form (D-T2) whose metric values are known exactly.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import sim
from sim.concepts import (
    MAX_EXACT_M,
    ConceptLaw,
    ConceptModel,
    ContextSet,
    Vocabulary,
    concept_vectors,
    metrics,
)
from sim.errors import InputError

# --- tolerances ---------------------------------------------------------------------------

# A joint of at most 2^5 entries built as a product of <= 5 CPT factors: a few roundings.
JOINT_RTOL = 1e-12
# Joint entries are >= 0.3^5 ~ 2e-3, so the relative bound dominates; atol only guards 0.
JOINT_ATOL = 1e-15
# Sums of <= 2^8 positive probabilities: a few hundred roundings of eps at most.
SUM_ATOL = 1e-12
SUM_RTOL = 1e-12
# Log-odds are differences of two logs of O(1e-3..1) numbers: absolute rounding of a few eps
# times |log p| <= ~10.
LOG_ODDS_ATOL = 1e-12
LOG_ODDS_RTOL = 1e-12
# Table entries p(c)/sum p(c'): one division and a sum of <= 32 terms.
TABLE_RTOL = 1e-12
TABLE_ATOL = 1e-15
# Closed-form G* = 1/2 (2C-1) pinv(A), F = S A^T: cosines, |cos| and alignments are exact
# in exact arithmetic and a few eps off in float64 (measured <= 3e-15, orthonormal and Gaussian).
CLOSED_FORM_ATOL = 1e-12
CLOSED_FORM_RTOL = 1e-12
# KL and log-odds error from the library vs the direct loops: the same float64 terms summed
# in a different order; values are O(1).
METRIC_RTOL = 1e-12
METRIC_ATOL = 1e-13
# f(x)^T (g(y1) - g(y0)) with g's first coordinate = log p: one subtraction of O(10) logs.
EXACT_LOG_ODDS_ATOL = 1e-12

# --- strategies ---------------------------------------------------------------------------

seeds = st.integers(0, 10**6)
concept_counts = st.integers(1, 5)
edge_probs = st.floats(0.0, 1.0)
fracs = st.floats(0.3, 1.0)


# --- direct computations from the spec's definitions ---------------------------------------

def _vectors(m: int) -> list[tuple[int, ...]]:
    """All concept vectors in binary order, C_1 most significant (spec: y <-> sum c_i 2^(m-i))."""
    return list(itertools.product((0, 1), repeat=m))


def _index(c) -> int:
    return int("".join(str(int(b)) for b in c), 2)


def _direct_joint(parents, cpts, m: int) -> np.ndarray:
    """p(c) = prod_k P(c_k | c_pa(k)), parent configurations in binary order (first parent MSB)."""
    out = np.empty(2**m)
    for c in _vectors(m):
        p = 1.0
        for k, pa in enumerate(parents):
            j = _index([c[q] for q in pa]) if pa else 0
            p1 = float(cpts[k][j])
            p *= p1 if c[k] == 1 else 1.0 - p1
        out[_index(c)] = p
    return out


def _direct_log_odds(joint: np.ndarray, m: int) -> np.ndarray:
    """ell[i, idx(c)] = log p(c with c_i = 1) - log p(c with c_i = 0)."""
    out = np.empty((m, 2**m))
    for i in range(m):
        for c in _vectors(m):
            one, zero = list(c), list(c)
            one[i], zero[i] = 1, 0
            out[i, _index(c)] = math.log(joint[_index(one)]) - math.log(joint[_index(zero)])
    return out


def _agrees(s, c) -> bool:
    """Token with concept vector c is compatible with ternary code s (spec 1.2 support)."""
    return all(si == 0 or si == 2 * ci - 1 for si, ci in zip(s, c))


def _direct_table(joint: np.ndarray, S: np.ndarray, ids: np.ndarray, m: int) -> np.ndarray:
    """P[x, y] = p(c(y)) 1[y agrees with x] / sum over vocabulary tokens agreeing with x."""
    vecs = _vectors(m)
    P = np.zeros((len(S), len(ids)))
    for x, s in enumerate(S):
        w = [joint[t] if _agrees(s, vecs[t]) else 0.0 for t in ids]
        total = math.fsum(w)
        P[x] = [wi / total for wi in w]
    return P


def _law(seed: int, m: int, q: float = 0.5) -> ConceptLaw:
    return ConceptLaw.random_dag(m, sim.streams(seed).data, q=q)


def _model(seed: int, m: int, q: float = 0.5, *, context_frac: float | None = None,
           vocab_frac: float | None = None) -> ConceptModel:
    """A DAG law with complete or E2a contexts and a full or E4 vocabulary; contexts without
    a compatible token in the vocabulary are dropped (the model rejects them)."""
    s = sim.streams(seed)
    law = ConceptLaw.random_dag(m, s.data, q=q)
    vocab = Vocabulary.full(m) if vocab_frac is None else Vocabulary.subset(m, s.batches, vocab_frac)
    S = (ContextSet.complete(m) if context_frac is None
         else ContextSet.subset(m, s.batches, context_frac)).S
    vecs = _vectors(m)
    keep = [x for x in S if any(_agrees(x, vecs[t]) for t in vocab.ids)]
    if not keep:
        keep = [np.zeros(m, dtype=np.int64)]  # the all-unknown context fits every vocabulary
    return ConceptModel(law, ContextSet(np.array(keep)), vocab)


def _pairs_by_brute_force(C: np.ndarray, i: int) -> set[tuple[int, int]]:
    """Positions (a, b) of the vocabulary with C[b] = C[a] + e_i."""
    e = np.zeros(C.shape[1], dtype=np.int64)
    e[i] = 1
    return {(a, b) for a in range(len(C)) for b in range(len(C)) if np.array_equal(C[b], C[a] + e)}


# --- ConceptLaw: joint, independence, CPT range ---------------------------------------------

@given(seed=seeds, m=concept_counts, q=edge_probs)
def test_a_dag_law_has_the_joint_equal_to_the_product_of_its_cpt_factors_summing_to_one(seed, m, q):
    law = _law(seed, m, q)
    assert law.m == m and law.joint.shape == (2**m,)
    want = _direct_joint(law.parents, law.cpts, m)
    assert_allclose(law.joint, want, rtol=JOINT_RTOL, atol=JOINT_ATOL)
    assert_allclose(law.joint.sum(), 1.0, rtol=SUM_RTOL, atol=SUM_ATOL)
    assert np.all(law.joint > 0)


def test_a_hand_built_two_concept_chain_has_the_joint_written_out_by_hand():
    # C_1 ~ Bern(0.2); P(C_2 = 1 | C_1 = 0) = 0.6, P(C_2 = 1 | C_1 = 1) = 0.9.
    law = ConceptLaw.from_dag([(), (0,)], [[0.2], [0.6, 0.9]])
    # Index 2 c_1 + c_2 (C_1 most significant).
    want = np.array([0.8 * 0.4, 0.8 * 0.6, 0.2 * 0.1, 0.2 * 0.9])
    assert_allclose(law.joint, want, rtol=JOINT_RTOL, atol=JOINT_ATOL)


def test_the_first_listed_parent_is_the_most_significant_bit_of_a_cpt_configuration():
    # C_3 has parents (C_1, C_2); configuration (c_1, c_2) = (1, 0) is entry 2 of its CPT.
    cpt = [0.11, 0.22, 0.33, 0.44]
    law = ConceptLaw.from_dag([(), (), (0, 1)], [[0.5], [0.5], cpt])
    c = (1, 0, 1)
    assert_allclose(law.joint[_index(c)], 0.5 * 0.5 * 0.33, rtol=JOINT_RTOL, atol=JOINT_ATOL)


@given(seed=seeds, m=concept_counts)
def test_random_dag_with_edge_probability_zero_gives_independent_concepts(seed, m):
    law = _law(seed, m, q=0.0)
    assert all(pa == () for pa in law.parents)
    C = concept_vectors(m)
    marg = np.array([law.joint[C[:, i] == 1].sum() for i in range(m)])  # P(C_i = 1)
    product = np.prod(np.where(C == 1, marg, 1.0 - marg), axis=1)
    assert_allclose(law.joint, product, rtol=JOINT_RTOL, atol=JOINT_ATOL)


@given(seed=seeds, m=concept_counts)
def test_random_dag_with_edge_probability_one_gives_every_concept_all_earlier_parents(seed, m):
    law = _law(seed, m, q=1.0)
    assert law.parents == tuple(tuple(range(k)) for k in range(m))


@given(seed=seeds, m=concept_counts, q=edge_probs)
def test_random_dag_cpts_lie_within_the_default_range_zero_point_three_to_zero_point_seven(seed, m, q):
    law = _law(seed, m, q)
    for k, pa in enumerate(law.parents):
        assert law.cpts[k].shape == (2 ** len(pa),)
        assert np.all((law.cpts[k] >= 0.3) & (law.cpts[k] <= 0.7)), law.cpts[k]


@given(seed=seeds, m=concept_counts,
       bounds=st.tuples(st.floats(0.01, 0.99), st.floats(0.01, 0.99)).map(sorted))
def test_random_dag_cpts_lie_within_a_requested_range(seed, m, bounds):
    low, high = bounds
    law = ConceptLaw.random_dag(m, sim.streams(seed).data, low=low, high=high)
    for t in law.cpts:
        assert np.all((t >= low) & (t <= high)), (t, low, high)


def test_random_dag_is_reproducible_from_a_seeded_generator():
    a = ConceptLaw.random_dag(4, sim.streams(3).data)
    b = ConceptLaw.random_dag(4, sim.streams(3).data)
    assert a.parents == b.parents
    assert_array_equal(a.joint, b.joint)


@given(seed=seeds, m=concept_counts)
def test_from_joint_keeps_a_positive_normalised_table_and_infers_m(seed, m):
    p = sim.streams(seed).data.dirichlet(np.ones(2**m))
    p = np.maximum(p, 1e-9)
    p /= p.sum()
    law = ConceptLaw.from_joint(p)
    assert law.m == m and law.parents is None
    assert_array_equal(law.joint, p)


# --- ConceptLaw: log-odds and Markov blankets -----------------------------------------------

@given(seed=seeds, m=concept_counts, q=edge_probs)
def test_log_odds_equal_log_p_with_c_i_one_minus_log_p_with_c_i_zero(seed, m, q):
    law = _law(seed, m, q)
    want = _direct_log_odds(law.joint, m)
    assert_allclose(law.log_odds(), want, rtol=LOG_ODDS_RTOL, atol=LOG_ODDS_ATOL)


@given(seed=seeds, m=concept_counts, q=edge_probs)
def test_log_odds_are_the_same_for_both_vectors_of_a_token_pair(seed, m, q):
    ell = _law(seed, m, q).log_odds()
    for i in range(m):
        bit = 2 ** (m - 1 - i)
        zero = [t for t in range(2**m) if not t & bit]
        # Bitwise equality: both entries are the same difference of the same two logs.
        assert_array_equal(ell[i, zero], ell[i, [t + bit for t in zero]])


def test_log_odds_of_a_single_concept_are_the_logit_of_its_probability():
    law = ConceptLaw.from_joint([0.25, 0.75])
    assert_allclose(law.log_odds(), [[math.log(3.0)] * 2], rtol=LOG_ODDS_RTOL, atol=LOG_ODDS_ATOL)


def _collider_law() -> ConceptLaw:
    """0 -> 2 <- 1, 2 -> 3, and an isolated concept 4."""
    parents = [(), (), (0, 1), (2,), ()]
    cpts = [[0.4], [0.6], [0.3, 0.5, 0.45, 0.7], [0.35, 0.65], [0.55]]
    return ConceptLaw.from_dag(parents, cpts)


@pytest.mark.parametrize("i, blanket", [(0, {1, 2}), (1, {0, 2}), (2, {0, 1, 3}), (3, {2}),
                                        (4, set())])
def test_the_markov_blanket_is_parents_children_and_co_parents(i, blanket):
    assert _collider_law().markov_blanket(i) == blanket


@given(seed=seeds, m=concept_counts, q=edge_probs)
def test_log_odds_do_not_change_when_a_concept_outside_the_markov_blanket_is_flipped(seed, m, q):
    # Spec claim 2: ell_i(c_-i) depends only on the Markov-blanket coordinates of c_-i.
    law = _law(seed, m, q)
    ell = law.log_odds()
    for i in range(m):
        outside = set(range(m)) - law.markov_blanket(i) - {i}
        for j in outside:
            bit = 2 ** (m - 1 - j)
            for t in range(2**m):
                assert_allclose(ell[i, t ^ bit], ell[i, t], rtol=LOG_ODDS_RTOL, atol=LOG_ODDS_ATOL)


def test_the_log_odds_of_a_concept_do_change_when_a_blanket_member_is_flipped():
    # The negative control of the invariance above: C_3's log-odds depend on its child C_4.
    ell = _collider_law().log_odds()
    bit = 2 ** (5 - 1 - 3)
    assert abs(ell[2, 0] - ell[2, bit]) > 0.1


def test_a_law_given_only_by_its_joint_has_no_markov_blanket():
    with pytest.raises(InputError, match="this law has no DAG"):
        ConceptLaw.from_joint([0.25] * 4).markov_blanket(0)


# --- bad input: laws --------------------------------------------------------------------------

@pytest.mark.parametrize("parents", [[(1,), (0,)], [(0,)], [(), (0, 0)], [(), (-1,)],
                                     [(), (), (0, 2)]])
def test_parents_that_form_a_cycle_or_a_forward_edge_are_rejected(parents):
    cpts = [[0.5] * 2 ** len(pa) for pa in parents]
    with pytest.raises(InputError, match="a cycle or a forward edge was given"):
        ConceptLaw.from_dag(parents, cpts)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.2, -0.1])
def test_a_cpt_probability_outside_the_open_unit_interval_is_rejected(bad):
    with pytest.raises(InputError, match=re.escape("cpts[1] has a probability outside (0, 1)")):
        ConceptLaw.from_dag([(), (0,)], [[0.5], [0.5, bad]])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_cpt_probability_is_rejected_naming_the_table(bad):
    with pytest.raises(InputError, match=re.escape("cpts[1] contains")):
        ConceptLaw.from_dag([(), (0,)], [[0.5], [0.5, bad]])


def test_a_cpt_of_the_wrong_length_for_its_parent_count_is_rejected():
    with pytest.raises(InputError, match=re.escape("cpts[1] has length 1, expected 2")):
        ConceptLaw.from_dag([(), (0,)], [[0.5], [0.5]])


@pytest.mark.parametrize("cpts", [[[0.5]], [[0.5], [0.4, 0.6], [0.5]]])
def test_a_number_of_cpts_different_from_the_number_of_concepts_is_rejected(cpts):
    with pytest.raises(InputError, match="cpts"):
        ConceptLaw.from_dag([(), (0,)], cpts)


@pytest.mark.parametrize("joint", [[0.5, 0.5, 0.0, 0.0], [0.6, 0.5, -0.1, 0.0]])
def test_a_joint_with_a_zero_or_negative_probability_concept_vector_is_rejected(joint):
    with pytest.raises(InputError, match="every concept vector needs positive probability"):
        ConceptLaw.from_joint(joint)


@pytest.mark.parametrize("joint", [[0.3, 0.3, 0.3, 0.3], [0.5, 0.5 + 1e-9]])
def test_a_joint_that_does_not_sum_to_one_is_rejected(joint):
    with pytest.raises(InputError, match="joint sums to"):
        ConceptLaw.from_joint(joint)


@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_a_joint_whose_length_is_not_a_power_of_two_of_at_least_two_is_rejected(n):
    with pytest.raises(InputError, match=re.escape(f"joint must have length 2^m for some m >= 1; got {n}")):
        ConceptLaw.from_joint(np.full(n, 1.0 / max(n, 1)))


def test_a_joint_containing_nan_is_rejected_as_nan():
    with pytest.raises(InputError, match="joint contains NaN"):
        ConceptLaw.from_joint([np.nan, 0.5, 0.25, 0.25])


TOO_MANY = MAX_EXACT_M + 1
LIMIT_MESSAGE = (re.escape(f"m = {TOO_MANY} concepts exceeds the exact-enumeration limit of "
                           f"{MAX_EXACT_M}") + ".*sample .*minibatches")


@pytest.mark.parametrize("build", [
    lambda: concept_vectors(TOO_MANY),
    lambda: ContextSet.complete(TOO_MANY),
    lambda: ConceptLaw.random_dag(TOO_MANY, np.random.default_rng(0)),
    lambda: Vocabulary.full(TOO_MANY),
    lambda: ConceptLaw.from_joint(np.full(2**TOO_MANY, 2.0**-TOO_MANY)),
], ids=["concept_vectors", "ContextSet.complete", "random_dag", "Vocabulary.full", "from_joint"])
def test_m_over_the_exact_limit_is_rejected_naming_the_limit_and_suggesting_sampling(build):
    with pytest.raises(InputError, match=LIMIT_MESSAGE):
        build()


@pytest.mark.parametrize("m", [0, -1, 2.0, True])
def test_a_concept_count_that_is_not_a_positive_integer_is_rejected(m):
    with pytest.raises(InputError, match="m must be a positive integer"):
        concept_vectors(m)


@pytest.mark.parametrize("q", [-0.1, 1.1, np.nan])
def test_an_edge_probability_outside_zero_one_is_rejected(q):
    with pytest.raises(InputError, match=re.escape("edge probability q must be in [0, 1]")):
        ConceptLaw.random_dag(3, np.random.default_rng(0), q=q)


@pytest.mark.parametrize("low, high", [(0.0, 0.5), (0.7, 0.3), (0.5, 1.0), (-0.2, 0.5)])
def test_a_cpt_range_outside_the_open_unit_interval_or_reversed_is_rejected(low, high):
    with pytest.raises(InputError, match=re.escape("need 0 < low <= high < 1 for the CPT range")):
        ConceptLaw.random_dag(3, np.random.default_rng(0), low=low, high=high)


# --- bad input: contexts, vocabularies, models ------------------------------------------------

@pytest.mark.parametrize("shape", [(0, 2), (2, 0), (3,)])
def test_an_empty_or_non_matrix_context_set_is_rejected(shape):
    with pytest.raises(InputError, match="a context set needs a non-empty"):
        ContextSet(np.zeros(shape))


@pytest.mark.parametrize("bad", [2, -2, 0.5, np.nan])
def test_a_context_code_outside_minus_one_zero_one_is_rejected(bad):
    with pytest.raises(InputError, match=re.escape("context codes must be in {-1, 0, +1}")):
        ContextSet(np.array([[0.0, 1.0], [bad, 0.0]]))


def test_a_context_set_with_a_duplicate_context_is_rejected():
    with pytest.raises(InputError, match="duplicate contexts"):
        ContextSet(np.array([[1, 0], [0, -1], [1, 0]]))


@pytest.mark.parametrize("frac", [0.0, -0.5, 1.5, np.nan])
def test_a_context_subset_fraction_outside_zero_one_is_rejected(frac):
    with pytest.raises(InputError, match=re.escape("frac must be in (0, 1]")):
        ContextSet.subset(2, np.random.default_rng(0), frac)


def test_an_empty_vocabulary_is_rejected():
    with pytest.raises(InputError, match="a vocabulary needs at least one token"):
        Vocabulary(2, [])


@pytest.mark.parametrize("ids", [[0, 1, 1], [0, 4], [-1, 2]])
def test_vocabulary_ids_that_repeat_or_leave_the_cube_are_rejected(ids):
    with pytest.raises(InputError, match=re.escape("vocabulary ids must be distinct indices in [0, 4)")):
        Vocabulary(2, ids)


def test_non_integer_vocabulary_ids_are_rejected_not_truncated():
    # 0.7 and 1.2 are not token indices; truncating them to 0 and 1 hides a caller's bug.
    with pytest.raises(InputError, match="vocabulary ids"):
        Vocabulary(2, [0.7, 1.2])


@pytest.mark.parametrize("contexts_m, vocab_m", [(2, 3), (3, 2)])
def test_a_model_whose_parts_disagree_on_the_number_of_concepts_is_rejected(contexts_m, vocab_m):
    law = _law(0, 3)
    with pytest.raises(InputError, match="disagree on the number of concepts"):
        ConceptModel(law, ContextSet.complete(contexts_m), Vocabulary.full(vocab_m))


def test_a_context_with_no_compatible_token_in_a_partial_vocabulary_is_inconsistent():
    law = _law(0, 3)
    vocab = Vocabulary(3, [0b000])
    contexts = ContextSet(np.array([[0, 0, 0], [1, 0, 0]]))  # the second fixes C_1 = 1
    with pytest.raises(InputError, match=re.escape("context [1, 0, 0] has no compatible token") + ".*inconsistent"):
        ConceptModel(law, contexts, vocab)


# --- contexts and vocabularies -----------------------------------------------------------------

@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_the_complete_context_set_has_all_three_to_the_m_distinct_ternary_codes(m):
    cs = ContextSet.complete(m)
    assert len(cs) == 3**m and cs.m == m
    assert {tuple(s) for s in cs.S} == set(itertools.product((-1, 0, 1), repeat=m))


@given(seed=seeds, m=concept_counts, frac=st.floats(0.01, 1.0))
def test_a_uniform_context_subset_has_the_rounded_fraction_of_distinct_complete_contexts(seed, m, frac):
    cs = ContextSet.subset(m, sim.streams(seed).data, frac)
    assert abs(len(cs) - max(1.0, frac * 3**m)) <= 0.5
    codes = {tuple(s) for s in cs.S}
    assert len(codes) == len(cs)
    assert codes <= set(itertools.product((-1, 0, 1), repeat=m))


@given(seed=seeds, m=concept_counts, frac=st.floats(0.01, 1.0))
def test_a_context_subset_keeping_singles_always_contains_the_two_m_single_concept_contexts(
        seed, m, frac):
    cs = ContextSet.subset(m, sim.streams(seed).data, frac, keep_single=True)
    codes = {tuple(s) for s in cs.S}
    singles = {tuple(v * (np.arange(m) == i)) for i in range(m) for v in (-1, 1)}
    assert len(singles) == 2 * m
    assert singles <= codes
    assert len(codes) == len(cs)
    assert abs(len(cs) - max(2 * m, frac * 3**m)) <= 0.5


@given(seed=seeds, m=st.integers(2, 5), frac=fracs)
def test_a_vocabulary_subset_keeps_both_values_of_every_concept(seed, m, frac):
    vocab = Vocabulary.subset(m, sim.streams(seed).data, frac)
    assert np.all(vocab.C.min(0) == 0) and np.all(vocab.C.max(0) == 1)
    assert np.all(np.diff(vocab.ids) > 0)
    assert_array_equal(vocab.C, concept_vectors(m)[vocab.ids])


def test_concept_vectors_are_in_binary_order_with_the_first_concept_most_significant():
    C = concept_vectors(3)
    assert_array_equal(C @ np.array([4, 2, 1]), np.arange(8))


# --- the exact table ------------------------------------------------------------------------

@given(seed=seeds, m=concept_counts, q=edge_probs)
def test_the_table_is_the_law_conditioned_on_the_fixed_concepts_as_in_spec_1_2(seed, m, q):
    model = _model(seed, m, q)
    law, S = model.law, model.S
    vecs = _vectors(m)
    want = np.zeros((len(S), 2**m))
    for x, s in enumerate(S):
        denom = math.fsum(law.joint[_index(c)] for c in vecs if _agrees(s, c))  # over c' in the cube
        for c in vecs:
            if _agrees(s, c):
                want[x, _index(c)] = law.joint[_index(c)] / denom
    P = model.table
    assert_allclose(P, want, rtol=TABLE_RTOL, atol=TABLE_ATOL)
    assert_allclose(P.sum(1), 1.0, rtol=SUM_RTOL, atol=SUM_ATOL)
    assert np.all(P[want == 0] == 0.0)  # exactly zero outside the support
    assert np.all(P[want > 0] > 0.0)


@given(seed=seeds, m=concept_counts, context_frac=st.none() | fracs, vocab_frac=fracs)
def test_with_a_partial_vocabulary_the_table_is_normalised_over_the_compatible_tokens(
        seed, m, context_frac, vocab_frac):
    model = _model(seed, m, context_frac=context_frac, vocab_frac=vocab_frac)
    want = _direct_table(model.law.joint, model.S, model.vocab.ids, m)
    assert_allclose(model.table, want, rtol=TABLE_RTOL, atol=TABLE_ATOL)
    assert np.all(model.table[want == 0] == 0.0)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_the_support_of_a_context_is_a_sub_cube_of_size_two_to_the_unknown_count(m):
    model = _model(0, m)
    sizes = model.support.sum(1)
    assert_array_equal(sizes, 2 ** (m - np.abs(model.S).sum(1)))
    for x, s in enumerate(model.S):
        assert {int(t) for t in np.flatnonzero(model.support[x])} == {
            _index(c) for c in _vectors(m) if _agrees(s, c)}


@given(seed=seeds, m=concept_counts, context_frac=st.none() | fracs, vocab_frac=st.none() | fracs)
def test_within_compatible_contexts_token_log_probabilities_differ_by_the_log_odds(
        seed, m, context_frac, vocab_frac):
    # Spec claim 1: log p(y1 | x) - log p(y0 | x) = ell_i(c_-i) for x in X_i(c_-i).
    model = _model(seed, m, context_frac=context_frac, vocab_frac=vocab_frac)
    ell = _direct_log_odds(model.law.joint, m)
    for i in range(m):
        for y0, y1 in model.token_pairs(i):
            xs = model.compatible(i, y0)
            got = np.log(model.table[xs, y1]) - np.log(model.table[xs, y0])
            want = np.full(len(xs), ell[i, model.vocab.ids[y0]])
            assert_allclose(got, want, rtol=LOG_ODDS_RTOL, atol=LOG_ODDS_ATOL)


# --- pairs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_full_vocabulary_token_pairs_number_two_to_the_m_minus_one_and_differ_only_at_i(m):
    model = _model(1, m)
    C = model.C
    for i in range(m):
        pairs = model.token_pairs(i)
        assert pairs.shape == (2 ** (m - 1), 2)
        diff = C[pairs[:, 1]] - C[pairs[:, 0]]
        e = np.zeros(m, dtype=np.int64)
        e[i] = 1
        assert_array_equal(diff, np.broadcast_to(e, diff.shape))
        assert np.all(C[pairs[:, 0], i] == 0)
        assert len({tuple(p) for p in pairs}) == len(pairs)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_complete_context_pairs_number_three_to_the_m_minus_one_and_differ_only_at_i(m):
    model = _model(1, m)
    S = model.S
    for i in range(m):
        pairs = model.context_pairs(i)
        assert pairs.shape == (3 ** (m - 1), 2)
        assert np.all(S[pairs[:, 0], i] == -1) and np.all(S[pairs[:, 1], i] == 1)
        rest = np.arange(m) != i
        assert_array_equal(S[pairs[:, 0]][:, rest], S[pairs[:, 1]][:, rest])
        assert len({tuple(p) for p in pairs}) == len(pairs)


@given(seed=seeds, m=concept_counts, context_frac=st.none() | fracs, vocab_frac=st.none() | fracs)
def test_compatible_contexts_are_those_where_both_tokens_of_a_pair_are_possible(
        seed, m, context_frac, vocab_frac):
    model = _model(seed, m, context_frac=context_frac, vocab_frac=vocab_frac)
    S, P = model.S, model.table
    for i in range(m):
        for y0, y1 in model.token_pairs(i):
            xs = model.compatible(i, y0)
            both = np.flatnonzero((P[:, y0] > 0) & (P[:, y1] > 0))
            assert_array_equal(xs, both)
            assert np.all(S[xs, i] == 0)


@given(seed=seeds, m=concept_counts, context_frac=st.none() | fracs, vocab_frac=st.none() | fracs)
def test_separating_contexts_are_those_where_exactly_one_token_of_a_pair_is_possible(
        seed, m, context_frac, vocab_frac):
    model = _model(seed, m, context_frac=context_frac, vocab_frac=vocab_frac)
    P = model.table
    for i in range(m):
        for y0, y1 in model.token_pairs(i):
            xs, labels = model.separating(i, y0)
            one = np.flatnonzero((P[:, y0] > 0) != (P[:, y1] > 0))
            assert_array_equal(xs, one)
            # The label 2 kappa_i - 1 is +1 exactly where y1 (c_i = 1) is the possible token.
            assert_array_equal(labels, np.where(P[xs, y1] > 0, 1.0, -1.0))


@given(seed=seeds, m=concept_counts, vocab_frac=fracs)
def test_with_a_partial_vocabulary_token_pairs_are_exactly_those_with_both_endpoints_present(
        seed, m, vocab_frac):
    model = _model(seed, m, vocab_frac=vocab_frac)
    for i in range(m):
        got = {tuple(int(v) for v in p) for p in model.token_pairs(i)}
        assert got == _pairs_by_brute_force(model.C, i)
        assert len(got) == len(model.token_pairs(i))


@given(seed=seeds, m=concept_counts, context_frac=fracs)
def test_with_a_partial_context_set_context_pairs_are_exactly_those_with_both_contexts_present(
        seed, m, context_frac):
    model = _model(seed, m, context_frac=context_frac)
    S = model.S
    for i in range(m):
        rest = np.arange(m) != i
        want = {(a, b) for a in range(len(S)) for b in range(len(S))
                if S[a, i] == -1 and S[b, i] == 1 and np.array_equal(S[a, rest], S[b, rest])}
        got = {tuple(int(v) for v in p) for p in model.context_pairs(i)}
        assert got == want


# --- metrics: the D-T2 closed form -------------------------------------------------------------

def _closed_form(model: ConceptModel, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F = S A^T and G* = 1/2 (2C - 1) pinv(A) (spec D-T2)."""
    return model.S @ A.T, 0.5 * (2 * model.C - 1) @ np.linalg.pinv(A)


@pytest.mark.parametrize("m, d", [(2, 2), (3, 3), (3, 5), (4, 4), (4, 6)])
def test_the_closed_form_with_orthonormal_axes_is_exactly_linear_orthogonal_and_aligned(m, d):
    model = _model(2, m)
    A = np.linalg.qr(sim.streams(2).noise.standard_normal((d, m)))[0]
    F, G = _closed_form(model, A)
    s = metrics.summary(model, F, G)
    got = [s[k] for k in ("lin_g_mean", "lin_g_min", "lin_f_mean", "align",
                          "orth_mean", "orth_max", "orth_causal_max")]
    assert_allclose(got, [1, 1, 1, 1, 0, 0, 0], rtol=CLOSED_FORM_RTOL, atol=CLOSED_FORM_ATOL)


@pytest.mark.parametrize("m, d, seed", [(2, 2, 0), (3, 3, 1), (3, 5, 2), (4, 4, 3), (4, 6, 4)])
def test_the_closed_form_with_gaussian_axes_has_euclidean_cosines_of_inv_a_t_a_and_causal_zero(
        m, d, seed):
    # Spec D-T2 consequences 1-4: linear for any A; Gram of directions = Q = inv(A^T A);
    # alignment 1/sqrt((A^T A)_ii Q_ii); orthogonal under M = Cov(g)^+.
    model = _model(seed, m)
    A = sim.streams(seed).noise.standard_normal((d, m))
    F, G = _closed_form(model, A)
    s = metrics.summary(model, F, G)
    Q = np.linalg.inv(A.T @ A)
    corr = np.abs(Q) / np.sqrt(np.outer(np.diag(Q), np.diag(Q)))
    iu = np.triu_indices(m, 1)
    align = np.mean(1.0 / np.sqrt(np.diag(A.T @ A) * np.diag(Q)))
    got = [s["lin_g_min"], s["lin_f_mean"], s["orth_max"], s["orth_mean"], s["align"],
           s["orth_causal_max"]]
    want = [1.0, 1.0, corr[iu].max(), corr[iu].mean(), align, 0.0]
    assert_allclose(got, want, rtol=CLOSED_FORM_RTOL, atol=CLOSED_FORM_ATOL)
    # Not vacuous: a Gaussian A is far from orthogonal, so the Euclidean cosines are not 0.
    assert s["orth_max"] > 0.01


def test_metrics_needing_two_concepts_or_two_pairs_are_nan_for_one_concept():
    model = _model(0, 1)
    F, G = _closed_form(model, np.array([[0.6], [0.8]]))  # a unit axis in d = 2
    s = metrics.summary(model, F, G)
    for k in ("lin_g_mean", "lin_g_min", "lin_f_mean", "orth_mean", "orth_max", "orth_causal_max"):
        assert math.isnan(s[k]), k
    assert_allclose(s["align"], 1.0, rtol=CLOSED_FORM_RTOL, atol=CLOSED_FORM_ATOL)


@pytest.mark.parametrize("m", [1, 2])
def test_the_summary_of_one_dimensional_embeddings_is_defined(m):
    # d = 1 is a legal model (d < m is experiment E3); Cov(g) is then a 1 x 1 matrix.
    model = _model(0, m)
    F, G = _random_FG(model, 0, 1)
    s = metrics.summary(model, F, G)
    assert_allclose(s["kl"], _direct_kl(model.table, F, G), rtol=METRIC_RTOL, atol=METRIC_ATOL)
    if m == 2:
        # Two directions on a line are parallel under any inner product.
        assert_allclose([s["orth_max"], s["orth_causal_max"]], [1.0, 1.0],
                        rtol=CLOSED_FORM_RTOL, atol=CLOSED_FORM_ATOL)


# --- metrics: KL and log-odds error against direct loops ---------------------------------------

def _random_FG(model: ConceptModel, seed: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = sim.streams(seed).init
    return rng.standard_normal((len(model.S), d)), rng.standard_normal((len(model.vocab.ids), d))


def _direct_kl(P: np.ndarray, F: np.ndarray, G: np.ndarray) -> float:
    total = []
    for x in range(len(P)):
        z = [float(F[x] @ g) for g in G]
        zmax = max(z)
        lse = zmax + math.log(math.fsum(math.exp(v - zmax) for v in z))
        total.append(math.fsum(P[x, y] * (math.log(P[x, y]) - (z[y] - lse))
                               for y in range(len(z)) if P[x, y] > 0))
    return math.fsum(total) / len(total)


@given(seed=seeds, m=st.integers(1, 4), d=st.integers(1, 4), vocab_frac=st.none() | fracs)
def test_kl_equals_a_direct_float64_computation_and_is_non_negative(seed, m, d, vocab_frac):
    model = _model(seed, m, vocab_frac=vocab_frac)
    F, G = _random_FG(model, seed, d)
    got = metrics.kl(model, F, G)
    assert_allclose(got, _direct_kl(model.table, F, G), rtol=METRIC_RTOL, atol=METRIC_ATOL)
    assert got >= 0.0


def _direct_log_odds_error(model: ConceptModel, F: np.ndarray, G: np.ndarray) -> float:
    """max |f(x)^T (g(y1) - g(y0)) - ell_i| over pairs (brute force) and contexts where both
    tokens are in the support (spec 1.3, 4.3), with supports and ell from the spec formulas."""
    m = model.law.m
    ell = _direct_log_odds(model.law.joint, m)
    vecs = _vectors(m)
    ids = model.vocab.ids
    worst = 0.0
    for i in range(m):
        for a, b in _pairs_by_brute_force(model.C, i):
            for x, s in enumerate(model.S):
                if _agrees(s, vecs[ids[a]]) and _agrees(s, vecs[ids[b]]):
                    worst = max(worst, abs(float(F[x] @ (G[b] - G[a])) - ell[i, ids[a]]))
    return worst


@given(seed=seeds, m=st.integers(1, 4), d=st.integers(1, 4), context_frac=st.none() | fracs,
       vocab_frac=st.none() | fracs)
def test_the_log_odds_error_equals_a_direct_loop_over_pairs_and_compatible_contexts(
        seed, m, d, context_frac, vocab_frac):
    model = _model(seed, m, context_frac=context_frac, vocab_frac=vocab_frac)
    F, G = _random_FG(model, seed, d)
    assert_allclose(metrics.log_odds_error(model, F, G), _direct_log_odds_error(model, F, G),
                    rtol=METRIC_RTOL, atol=METRIC_ATOL)


@given(seed=seeds, m=st.integers(1, 4), d=st.integers(1, 4))
def test_the_log_odds_error_is_zero_when_every_logit_is_log_p_of_the_token(seed, m, d):
    # f(x) = (1, r(x)), g(y) = (log p(c(y)), 0): f^T (g(y1) - g(y0)) = ell_i exactly.
    model = _model(seed, m)
    F, _ = _random_FG(model, seed, d + 1)
    F[:, 0] = 1.0
    G = np.zeros((len(model.vocab.ids), d + 1))
    G[:, 0] = np.log(model.law.joint[model.vocab.ids])
    assert metrics.log_odds_error(model, F, G) <= EXACT_LOG_ODDS_ATOL
    # ... and shifting one token's logit breaks it (the metric can see an error).
    G[-1, 0] += 0.5
    assert metrics.log_odds_error(model, F, G) >= 0.5 - EXACT_LOG_ODDS_ATOL


# --- metrics: helpers and validation ----------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1])
def test_pairwise_cosines_of_fewer_than_two_rows_are_empty(k):
    assert metrics.pairwise_cosines(np.ones((k, 3))).shape == (0,)


def test_pairwise_cosines_list_each_unordered_pair_of_rows_once():
    D = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])
    r = 1 / math.sqrt(2)
    assert_allclose(metrics.pairwise_cosines(D), [r, 0.0, -r], rtol=METRIC_RTOL, atol=METRIC_ATOL)


@pytest.mark.parametrize("shape_F, shape_G", [((26, 3), (8, 3)), ((27, 3), (8, 2)),
                                              ((27, 3), (7, 3))])
def test_summary_rejects_embeddings_and_unembeddings_that_do_not_match_the_model(shape_F, shape_G):
    model = _model(0, 3)
    with pytest.raises(InputError, match="do not match 27 contexts and 8 tokens"):
        metrics.summary(model, np.ones(shape_F), np.ones(shape_G))
