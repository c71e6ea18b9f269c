"""Zhang et al. 2024, What Should Embeddings Embed? (spec embeddings_embed): trained transformers on the rectangle game, claims 24a, 24b, 24c, 24r.

One test per claim, named by its spec number, in spec order.
"""

import pytest

HYP_ENC = "zhang2024.hypothesis_encoding"


@pytest.mark.claim(f"{HYP_ENC}.predictive_mean")
def test_claim24a_the_mse_model_encodes_the_predictive_mean(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HYP_ENC}.cell_masses")
def test_claim24b_the_cross_entropy_model_encodes_the_one_step_cell_masses(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HYP_ENC}.bounding_box")
def test_claim24c_both_models_encode_the_bounding_box(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{HYP_ENC}.posterior_probe")
def test_claim24r_a_linear_probe_reads_the_784_way_posterior(evidence):
    evidence.assert_ok()
