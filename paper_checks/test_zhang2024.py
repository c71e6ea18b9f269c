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

ENC = "zhang2024.exchangeable_encoding"


@pytest.mark.claim(f"{ENC}.beta_bernoulli")
def test_claim11_a_trained_transformer_encodes_beta_bernoulli_moments(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.normal_gamma")
def test_claim12_a_trained_transformer_encodes_normal_gamma_statistics(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.gamma_exponential")
def test_claim13_a_trained_transformer_encodes_gamma_exponential_log_moments(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.out_of_distribution")
def test_claim14_the_encoding_holds_out_of_distribution(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.no_memorisation")
def test_claim15_the_embedding_does_not_memorise_tokens(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.beats_random_init")
def test_claim16_training_beats_the_random_init_control(evidence):
    evidence.assert_ok()

HMM_ENC = "zhang2024.hmm_encoding"


@pytest.mark.claim(f"{HMM_ENC}.belief_state")
def test_claim20_a_trained_transformer_encodes_the_belief_state(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HMM_ENC}.position_matching")
def test_claim21_each_embedding_matches_its_information_set(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HMM_ENC}.true_state_bound")
def test_claim22_probing_the_true_state_obeys_the_bayes_bound(evidence):
    evidence.assert_ok()


@pytest.mark.claim("zhang2024.hypothesis_encoding.posterior_probe")
def test_claim24_a_trained_transformer_encodes_the_hypothesis_posterior(evidence):
    evidence.assert_ok()


@pytest.mark.claim("zhang2024.topic_encoding.mixture_probe")
def test_claim26_a_trained_transformer_encodes_the_topic_mixture(evidence):
    evidence.assert_ok()
