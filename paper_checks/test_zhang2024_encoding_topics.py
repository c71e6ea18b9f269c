"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed): trained transformers on synthetic LDA, claim 26.

One test per claim, named by its spec number.
"""

import pytest


@pytest.mark.claim("zhang2024.topic_encoding.mixture_probe")
def test_claim26_a_trained_transformer_encodes_the_topic_mixture(evidence):
    evidence.assert_ok()
