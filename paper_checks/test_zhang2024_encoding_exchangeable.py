"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed): trained transformers on exchangeable data, claims 11-16.

With spec 6.2's 11u, 11r, 14r, 16r and 16b.
One test per claim, named by its spec number, in spec order.
"""

import pytest

ENC = "zhang2024.exchangeable_encoding"


@pytest.mark.claim(f"{ENC}.beta_bernoulli")
def test_claim11_a_trained_transformer_encodes_beta_bernoulli_moments(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.untrained_beta_bernoulli")
def test_claim11u_the_untrained_control_already_encodes_the_first_moments(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.beta_bernoulli_beats_untrained")
def test_claim11r_training_does_not_beat_the_untrained_control_on_higher_moments(evidence):
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


@pytest.mark.claim(f"{ENC}.ood_beats_untrained")
def test_claim14r_training_does_not_beat_the_untrained_control_out_of_distribution(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.no_memorisation")
def test_claim15_the_embedding_does_not_memorise_tokens(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.beats_random_init")
def test_claim16_likelihood_training_beats_the_untrained_control_on_normal_gamma(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.beta_bernoulli_beats_random_init")
def test_claim16r_training_does_not_halve_the_beta_bernoulli_probe_error(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{ENC}.untrained_keeps_tokens")
def test_claim16b_training_keeps_the_token_floor_where_the_untrained_control_breaks_it(evidence):
    evidence.assert_ok()
