"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed): trained transformers on HMM data, claims 20-22.

One test per claim, named by its spec number; each claim is judged on the peaked
(emissions Dirichlet(0.05)) and the diffuse (Dirichlet(0.5)) HMM family.
"""

import pytest

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
