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
