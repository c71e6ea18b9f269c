"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed): trained transformers on the rectangle game, claims 24a-24r.

One test per claim, named by its spec number.
"""

import pytest

@pytest.mark.claim("zhang2024.hypothesis_encoding.posterior_probe")
def test_claim24_a_trained_transformer_encodes_the_hypothesis_posterior(evidence):
    evidence.assert_ok()
