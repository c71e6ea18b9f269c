"""Prop. A, Lemma M, Thm. 1: witnesses agree on drawn laws, and insufficient statistics fail."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from tests.strategies import seeds
from theorems.zhang2024 import ar_optimum as ar

CONVEX = ar.CONVEX  # Clarabel on the exponential cone; see the module's reason


@settings(max_examples=10)  # each example solves two exponential-cone programs
@given(seeds, st.integers(2, 5), st.integers(2, 6))
def test_merged_minimum_exceeds_the_separate_one_by_the_js_divergence(seed, V, C):
    rng = streams(seed).data
    w = rng.dirichlet(np.ones(C))
    P = rng.dirichlet(np.ones(V), size=C)
    groups = rng.integers(0, 2, C)
    groups[0], groups[-1] = 0, 1  # two non-empty groups
    merged, q = ar.min_log_loss(w, P, groups)
    separate, _ = ar.min_log_loss(w, P, np.arange(C))
    expected = 0.0
    for g in (0, 1):
        idx = groups == g
        pbar = (w[idx, None] * P[idx]).sum(0) / w[idx].sum()
        expected += sum(w[c] * ar.kl(P[c], pbar) for c in np.flatnonzero(idx))
        np.testing.assert_allclose(q[g], pbar, rtol=0, atol=1e-4)  # exp-cone argmin accuracy
    np.testing.assert_allclose(merged - separate, expected, rtol=1e-5, atol=CONVEX)


@given(st.floats(0.2, 8.0), st.floats(0.2, 8.0), st.integers(2, 6))
def test_a_sufficient_embedding_attains_the_conditional_entropy(a0, b0, T):
    X, p = ar.bb_sequence_law(T, a0, b0)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=0, atol=1e-12)

    def sufficient(pre):
        q1 = (a0 + sum(pre)) / (a0 + b0 + len(pre))
        return np.array([1 - q1, q1])

    loss, entropy = ar.expected_log_loss(X, p, sufficient)
    np.testing.assert_allclose(loss, entropy, rtol=1e-12, atol=1e-12)


def test_a_wrong_predictive_map_exceeds_the_entropy():
    """Negative control for Thm. 1: the right statistic with the wrong kernel is not optimal."""
    X, p = ar.bb_sequence_law(5, 2.0, 8.0)
    loss, entropy = ar.expected_log_loss(X, p, lambda pre: np.array([0.5, 0.5]))
    assert loss - entropy > 1e-2


def test_lemma_m_is_proved_symbolically():
    assert ar.lemma_m_symbolic().proved
