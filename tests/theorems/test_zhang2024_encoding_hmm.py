"""The HMM encoding theorem's belief reference."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from sim.bayes.hmm import HMM
from tests.strategies import seeds
from theorems.zhang2024 import encoding_hmm as el

ROUND = 1e-10  # float64 round trips through a few divisions


@settings(max_examples=10)
@given(seeds, st.integers(2, 5), st.integers(2, 6), st.integers(1, 40))
def test_the_belief_product_right_to_left_equals_the_forward_filter(seed, K, V, T):
    rng = streams(seed).data
    hmm = HMM.random(K, V, rng)
    x = hmm.sample(5, T, rng)[1]
    assert np.abs(el.last_belief_by_products(hmm, x) - hmm.filter(x)[:, -1]).max() \
        <= el.BELIEF_ORDERS


def test_the_belief_reference_rejects_the_released_codes_filter():
    thm = el.HMMEncoding()
    bad = thm.corrupt(0)
    assert thm.reference(bad).residual > el.BELIEF_ORDERS
    assert thm.reference(bad.instance).residual <= el.BELIEF_ORDERS
