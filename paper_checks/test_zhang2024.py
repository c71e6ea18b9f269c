"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed).

One test per claim, numbered as in the spec's section 4; statements are the spec's
standard provable forms ([EXACT]) unless a claim's text says otherwise.
"""

import pytest

AR = "zhang2024.ar_optimum"


@pytest.mark.claim(f"{AR}.gibbs")
def test_claim01_the_true_conditional_minimises_log_loss(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{AR}.lemma_m")
def test_claim02_merging_contexts_costs_a_jensen_shannon_divergence(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{AR}.sufficiency")
def test_claim03_a_sufficient_embedding_reaches_the_conditional_entropy(evidence):
    evidence.assert_ok()

HMM = "zhang2024.hmm_belief"


@pytest.mark.claim(f"{HMM}.forward_filter")
def test_claim17_the_forward_filter_is_exact_and_sufficient(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HMM}.injectivity")
def test_claim18_belief_to_predictive_is_injective_iff_full_rank(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HMM}.viterbi")
def test_claim19_viterbi_last_state_is_not_the_belief_argmax(evidence):
    evidence.assert_ok()

EXCH = "zhang2024.exchangeable"


@pytest.mark.claim(f"{EXCH}.closed_forms")
def test_claim04_conjugate_closed_forms_equal_quadrature(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{EXCH}.permutation")
def test_claim05_predictives_depend_on_the_data_only_through_the_statistic(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{EXCH}.predictive_determines_statistic")
def test_claim06_the_one_step_predictive_determines_the_statistic(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{EXCH}.normal_gamma_moments")
def test_claim07_normal_gamma_moments_are_posterior_expectations(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{EXCH}.mse_optimum")
def test_claim08_the_mse_optimum_is_the_predictive_mean(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{EXCH}.memorisation_floor")
def test_claim09_the_memorisation_floor(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{EXCH}.latent_floor")
def test_claim10_probing_the_latent_parameter_has_a_floor(evidence):
    evidence.assert_ok()

HYP = "zhang2024.hypotheses"


@pytest.mark.claim(f"{HYP}.box_posterior")
def test_claim23_the_rectangle_posterior_depends_only_on_the_box(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HYP}.one_step_rank")
def test_claim23b_one_step_predictive_does_not_determine_the_posterior(evidence):
    evidence.assert_ok()

TOPICS = "zhang2024.topics"


@pytest.mark.claim(f"{TOPICS}.bag_of_words")
def test_claim25_the_lda_posterior_is_bag_of_words(evidence):
    evidence.assert_ok()
