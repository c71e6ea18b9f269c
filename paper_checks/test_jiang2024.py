"""Jiang et al. 2024, On the Origins of Linear Representations in LLMs (spec linear_origins).

One test per claim, numbered as in the spec's section 5; most statements are the spec's
formalisations ([D]) or its reference runs ([O]), as each claim's text says.
"""

import pytest

LOG_ODDS = "jiang2024.log_odds"
MATCHING = "jiang2024.matching_linearity"
CANONICAL = "jiang2024.canonical_solution"
FIXED = "jiang2024.fixed_embedding_max_margin"


@pytest.mark.claim(f"{LOG_ODDS}.context_free")
def test_claim01_pair_log_odds_do_not_depend_on_the_context(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{LOG_ODDS}.markov_blanket")
def test_claim02_log_odds_depend_only_on_the_markov_blanket(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{MATCHING}.parallel")
def test_claim03_log_odds_matching_makes_differences_parallel(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{MATCHING}.cross_concept")
def test_claim04_matching_across_concepts_and_its_incompatibility(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{CANONICAL}.margin")
def test_claim05_canonical_logits_have_margin_one(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{CANONICAL}.spectrum")
def test_claim06_canonical_logits_have_a_flat_spectrum(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{FIXED}.closed_form")
def test_claim07_p2_closed_form_with_fixed_structured_embeddings(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{FIXED}.causal_inner_product")
def test_claim08_causal_inner_product_makes_concepts_orthogonal(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{FIXED}.per_pair_svm")
def test_claim09_per_pair_svm_is_background_free_for_orthogonal_axes(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{FIXED}.gd_linearity")
def test_claim10_gd_on_unembeddings_becomes_linear(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{FIXED}.random_F_control")
def test_claim11_random_embeddings_give_no_linearity(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{FIXED}.rate")
def test_claim12_linearity_improves_like_inverse_log_squared(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{MATCHING}.gd_reaches_matching")
def test_claim21_gradient_descent_reaches_log_odds_matching(evidence):
    evidence.assert_ok()

JOINT = "jiang2024.joint_training"


@pytest.mark.claim(f"{JOINT}.balancedness")
def test_claim13_gradient_descent_keeps_the_factors_balanced(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.non_identifiability")
def test_claim14_euclidean_geometry_is_not_identified_by_the_loss(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.gd_m4")
def test_claim15_joint_gd_at_d_equal_m_is_linear_orthogonal_and_aligned(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.adam_m6")
def test_claim16_joint_adam_at_d_equal_m_is_linear_orthogonal_and_aligned(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.alignment")
def test_claim17_fitted_runs_with_d_at_least_m_are_aligned(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.orthogonality")
def test_claim18_fitted_runs_with_d_at_least_m_are_orthogonal(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.welch_bound")
def test_claim19_fewer_dimensions_than_concepts_forbid_orthogonality(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{JOINT}.incomplete_contexts")
def test_claim20_incomplete_context_sets(evidence):
    evidence.assert_ok()


@pytest.mark.claim("jiang2024.joint_max_margin.canonical_only_at_d_equal_m")
def test_claim22_joint_max_margin_is_canonical_only_at_d_equal_m(evidence):
    evidence.assert_ok()
