"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed): trained transformers on exchangeable data, claims 11-16.

One test per claim, named by its spec number.
"""

import pytest

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
