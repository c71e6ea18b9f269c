"""The exchangeable encoding theorem's reference and its targets."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from tests.strategies import seeds
from theorems.zhang2024 import encoding_exchangeable as ee

ROUND = 1e-10  # float64 round trips through a few divisions


@settings(max_examples=8)
@given(st.sampled_from(sorted(ee.EXCHANGEABLE)), st.booleans(), seeds, st.integers(1, 64))
def test_target_quadrature_equals_the_closed_forms(family, ood, seed, n):
    cls = ee.EXCHANGEABLE[family]
    prior = cls.out_of_distribution() if ood else cls.in_distribution()
    x = prior.sample(6, n, streams(seed).data)[1]
    quad = ee.quadrature_moments(family, prior, x)
    closed = prior.moments(x)
    assert np.max(np.abs(quad - closed) / np.maximum(1, np.abs(closed))) <= ee.TARGET_QUADRATURE


@pytest.mark.parametrize("family", sorted(ee.EXCHANGEABLE))
def test_targets_one_token_off_are_rejected_for_every_family(family):
    thm = ee.ExchangeableEncoding()
    bad = thm.corrupt((family, 0))
    assert thm.reference(bad).residual > ee.TARGET_QUADRATURE
    assert thm.reference(bad.instance).residual <= ee.TARGET_QUADRATURE


def test_the_ceiling_of_a_probe_targets_instance_needs_no_run():
    thm = ee.ExchangeableEncoding()
    data = thm.corrupt(("bb", 0)).instance
    ref = thm.reference(data)
    assert ref.value.shape == (4,) and ref.value[0] > 0.99  # E[p] is affine in k/n at fixed n
