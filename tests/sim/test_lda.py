"""Tiny LDA with fixed topics, :mod:`sim.bayes.lda` (spec §1.8, §2.4; claim 25).

The exact posterior (a Dirichlet mixture from enumerating topic assignments) is checked
against adaptive quadrature over the topic mixture written here from the definition: for
K = 2 and theta = (t, 1 - t),

    p(t | w)  ∝  Beta(t; alpha_0, alpha_1) · prod_v (t beta_0v + (1 - t) beta_1v)^count_v,

which never enumerates assignments. Bag-of-words sufficiency (claim 25) is checked over
every permutation of the document.
"""

from __future__ import annotations

import itertools
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import integrate, special

import sim.bayes.lda as lda_module
from sim import streams
from sim.bayes import LDA
from sim.bayes.lda import MAX_ASSIGNMENTS, ROW_SUM_TOL
from sim.errors import InputError
from tests.strategies import seeds

SEED = 20240605

#: Spec claim 4's tolerance for closed form versus quadrature; quad is run at epsrel 1e-12.
QUAD_RTOL = 1e-8
QUAD_EPSREL = 1e-12
#: Sums of exp(log evidence) over all V**M documents (at most 27 terms, each the logsumexp
#: of at most 8 terms): a few dozen ulp of 1.
EVIDENCE_ATOL = 1e-12
#: The same mixture weights summed in a different order (a permuted document): the log
#: weights are sums of <= 6 logs of size <= ~50, so they differ by ~1e-13 at most.
PERMUTATION_ATOL = 1e-12
#: Monte Carlo checks: |empirical - exact| <= MC_SIGMAS standard errors; 5 sigma makes a
#: false alarm a ~6e-7 event per comparison for a correct sampler.
MC_SIGMAS = 5.0

alphas = st.floats(0.2, 5.0)


def _fixture() -> LDA:
    """Two well-separated topics over three words."""
    return LDA([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [0.5, 0.5])


def _random_case(seed: int, K: int, V: int, M: int, alpha, eta: float):
    """A random LDA (topics ~ Dir(eta), Dirichlet prior ``alpha``) and one sampled document."""
    rng = streams(seed).data
    topics = LDA.random(K, V, rng, eta=eta).topics
    model = LDA(topics, alpha)
    _, _, w = model.sample(1, M, rng)
    return model, w[0], rng


# --- quadrature oracle (K = 2) ----------------------------------------------------------------

def _quad(model: LDA, counts, g) -> float:
    """∫_0^1 g(t) Beta(t; alpha) prod_v (t beta_0v + (1-t) beta_1v)^count_v dt.

    The Beta weight's endpoint singularities (alpha < 1) are handed to QUADPACK's QAWS
    (``weight="alg"``), which integrates (t - 0)^(a0-1) (1 - t)^(a1-1) f(t) exactly in the
    weight; the remaining integrand is smooth.
    """
    (a0, a1), (b0, b1) = model.alpha, model.topics

    def f(t):
        lik = math.prod((t * b0[v] + (1.0 - t) * b1[v]) ** int(c) for v, c in enumerate(counts))
        return g(t) * lik

    val = integrate.quad(f, 0.0, 1.0, weight="alg", wvar=(a0 - 1.0, a1 - 1.0),
                         epsabs=0, epsrel=QUAD_EPSREL, limit=200)[0]
    return val / math.exp(special.betaln(a0, a1))


def _counts(w, V: int) -> np.ndarray:
    return np.bincount(np.asarray(w), minlength=V)


# --- the evidence -----------------------------------------------------------------------------

@pytest.mark.parametrize("M", [1, 2, 3])
def test_the_exact_evidence_sums_to_one_over_every_document_of_a_given_length(M):
    model = LDA.random(2, 3, np.random.default_rng(SEED + M))
    docs = np.array(list(itertools.product(range(3), repeat=M)))  # all V**M documents
    assert docs.shape == (3 ** M, M)
    ev = np.exp(model.log_evidence(docs))
    assert ev.shape == (3 ** M,) and (ev > 0).all()
    assert_allclose(ev.sum(), 1.0, rtol=0, atol=EVIDENCE_ATOL)


def test_the_evidence_sums_to_one_for_three_topics_and_an_asymmetric_prior_too():
    topics = LDA.random(3, 4, np.random.default_rng(SEED)).topics
    model = LDA(topics, [0.3, 1.0, 2.5])
    docs = np.array(list(itertools.product(range(4), repeat=3)))
    assert_allclose(np.exp(model.log_evidence(docs)).sum(), 1.0, rtol=0, atol=EVIDENCE_ATOL)


# --- exact posterior versus quadrature (K = 2) ------------------------------------------------

@settings(max_examples=20)
@given(seed=seeds, V=st.integers(2, 5), M=st.integers(1, 6), a0=alphas, a1=alphas,
       eta=st.floats(0.2, 5.0))
def test_the_two_topic_posterior_mean_density_and_evidence_equal_quadrature(seed, V, M, a0, a1, eta):
    model, w, rng = _random_case(seed, 2, V, M, [a0, a1], eta)
    counts = _counts(w, V)
    z = _quad(model, counts, lambda t: 1.0)
    m0 = _quad(model, counts, lambda t: t) / z
    m1 = _quad(model, counts, lambda t: 1.0 - t) / z
    assert_allclose(model.posterior_mean(w)[0], [m0, m1], rtol=QUAD_RTOL, atol=0)
    assert_allclose(np.exp(model.log_evidence(w)[0]), z, rtol=QUAD_RTOL, atol=0)
    # The density at a few interior points: Beta(t) * likelihood(t) / evidence.
    t = rng.uniform(0.02, 0.98, size=4)
    lik = np.array([math.prod((ti * model.topics[0, v] + (1 - ti) * model.topics[1, v]) ** int(c)
                              for v, c in enumerate(counts)) for ti in t])
    prior = np.exp((a0 - 1) * np.log(t) + (a1 - 1) * np.log1p(-t) - special.betaln(a0, a1))
    dens = model.posterior_density(w, np.column_stack([t, 1 - t]))
    assert dens.shape == (1, 4)
    assert_allclose(dens[0], prior * lik / z, rtol=QUAD_RTOL, atol=0)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_the_two_topic_posterior_density_integrates_to_one(alpha):
    model = LDA(_fixture().topics, alpha)
    w = [0, 2, 2, 1]

    def density(t):
        return model.posterior_density(w, [[t, 1.0 - t]])[0, 0]

    def density_from_one(s):  # t = 1 - s, so that points near t = 1 stay off the boundary
        return model.posterior_density(w, [[1.0 - s, s]])[0, 0]

    total = sum(integrate.quad(f, 0.0, 0.5, epsabs=0, epsrel=1e-11, limit=200)[0]
                for f in (density, density_from_one))
    assert_allclose(total, 1.0, rtol=QUAD_RTOL, atol=0)


def test_with_an_empty_document_the_posterior_is_the_prior():
    model = LDA(_fixture().topics, [0.5, 2.0])
    empty = np.empty((1, 0), dtype=np.int64)
    assert_allclose(model.posterior_mean(empty), [[0.2, 0.8]], rtol=1e-15, atol=0)
    assert_allclose(model.log_evidence(empty), [0.0], rtol=0, atol=0)


# --- bag-of-words sufficiency (claim 25) ------------------------------------------------------

def _all_orders(w) -> np.ndarray:
    """Every distinct permutation of the document, (P, M)."""
    return np.array(sorted(set(itertools.permutations(np.asarray(w).tolist()))))


@given(seed=seeds, V=st.integers(2, 5), M=st.integers(1, 6), alpha=alphas, eta=st.floats(0.2, 5.0))
def test_the_two_topic_posterior_mean_is_the_same_for_every_permutation_of_the_document(seed, V, M, alpha, eta):
    model, w, _ = _random_case(seed, 2, V, M, alpha, eta)
    means = model.posterior_mean(_all_orders(w))
    assert_allclose(means, np.broadcast_to(model.posterior_mean(w), means.shape),
                    rtol=0, atol=PERMUTATION_ATOL)


@settings(max_examples=10)
@given(seed=seeds, V=st.integers(2, 5), M=st.integers(1, 5), alpha=alphas, eta=st.floats(0.2, 5.0))
def test_the_three_topic_posterior_mean_is_the_same_for_every_permutation_of_the_document(seed, V, M, alpha, eta):
    model, w, _ = _random_case(seed, 3, V, M, alpha, eta)
    orders = _all_orders(w)
    means = model.posterior_mean(orders)
    assert means.shape == (orders.shape[0], 3)
    assert_allclose(means.sum(1), 1.0, rtol=0, atol=PERMUTATION_ATOL)
    assert_allclose(means, np.broadcast_to(model.posterior_mean(w), means.shape),
                    rtol=0, atol=PERMUTATION_ATOL)
    theta = np.random.default_rng(seed).dirichlet(np.ones(3), size=2)
    dens = model.posterior_density(orders, theta / theta.sum(1, keepdims=True))
    assert_allclose(dens, np.broadcast_to(dens[0], dens.shape), rtol=1e-11, atol=0)


def test_documents_with_the_same_counts_in_a_different_order_have_identical_counts():
    model = _fixture()
    assert_array_equal(model.counts([0, 2, 2, 1]), model.counts([2, 1, 0, 2]))
    assert_array_equal(model.counts([[0, 2, 2, 1], [2, 2, 2, 2]]), [[1, 1, 2], [0, 0, 4]])


def test_documents_with_the_same_distinct_words_but_different_counts_have_different_posteriors():
    # Negative control: the posterior depends on the counts, not only on which words occur.
    model = _fixture()
    a, b = model.posterior_mean([[0, 0, 0, 2], [0, 2, 2, 2]])
    assert_array_equal(model.counts([0, 0, 0, 2]) > 0, model.counts([0, 2, 2, 2]) > 0)
    assert a[0] - b[0] > 0.2  # word 0 is topic 0's word, word 2 is topic 1's


# --- sampling ---------------------------------------------------------------------------------

def test_samples_have_the_documented_shapes_and_ids_in_range():
    model = LDA.random(3, 7, np.random.default_rng(SEED))
    theta, z, w = model.sample(50, 9, np.random.default_rng(SEED))
    assert theta.shape == (50, 3) and z.shape == (50, 9) and w.shape == (50, 9)
    assert np.issubdtype(z.dtype, np.integer) and np.issubdtype(w.dtype, np.integer)
    assert ((0 <= z) & (z < 3)).all() and ((0 <= w) & (w < 7)).all()
    assert (theta >= 0).all()
    assert_allclose(theta.sum(1), 1.0, rtol=0, atol=1e-12)


def test_empirical_word_and_topic_frequencies_match_the_model():
    alpha = np.array([0.5, 1.0, 2.0])
    topics = LDA.random(3, 5, np.random.default_rng(SEED)).topics
    model = LDA(topics, alpha)
    D, M = 40_000, 6
    theta, z, w = model.sample(D, M, np.random.default_rng(SEED + 1))

    def check(name, per_doc, exact):
        # Documents are i.i.d., tokens within one are not: standard errors over documents.
        se = per_doc.std(0, ddof=1) / math.sqrt(per_doc.shape[0])
        assert (np.abs(per_doc.mean(0) - exact) <= MC_SIGMAS * se).all(), (name, per_doc.mean(0), exact, se)

    mean_theta = alpha / alpha.sum()
    check("theta", theta, mean_theta)
    check("topic frequencies", np.stack([(z == k).mean(1) for k in range(3)], 1), mean_theta)
    check("word frequencies", np.stack([(w == v).mean(1) for v in range(5)], 1), mean_theta @ topics)
    # Given the topics z, words are independent draws from the topic rows: binomial errors.
    for k in range(3):
        wk = w[z == k]
        freq = np.bincount(wk, minlength=5) / wk.size
        se = np.sqrt(topics[k] * (1 - topics[k]) / wk.size)
        assert (np.abs(freq - topics[k]) <= MC_SIGMAS * se + 1e-12).all(), (k, freq, topics[k])


def test_words_are_the_inverse_cdf_of_their_topic_on_the_streams_uniforms():
    """Each word is the number of its topic's cumulative probabilities below one uniform draw
    of the stream (the sampler's search must give exactly these integers, which is what
    keeps every seed's documents the ones the checked numbers were measured on)."""
    model = LDA.random(4, 9, np.random.default_rng(SEED), eta=0.3, alpha=0.5)
    D, M = 300, 7
    theta, z, w = model.sample(D, M, np.random.default_rng(SEED + 2))
    rng = np.random.default_rng(SEED + 2)
    theta_ref = rng.dirichlet(model.alpha, size=D)
    z_ref = np.minimum((rng.random((D, M, 1)) > np.cumsum(theta_ref, 1)[:, None, :]).sum(-1), 3)
    u = rng.random((D, M))
    w_ref = np.minimum((u[..., None] > np.cumsum(model.topics, 1)[z_ref]).sum(-1), 8)
    assert_array_equal(theta, theta_ref)
    assert_array_equal(z, z_ref)
    assert_array_equal(w, w_ref)


def test_the_sampler_never_emits_a_zero_probability_word_or_topic():
    model = LDA([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [1e-3, 5.0])
    _, z, w = model.sample(2000, 5, np.random.default_rng(SEED))
    assert_array_equal(w, z + 1)


def test_samples_are_reproducible_from_the_seed():
    model = _fixture()
    a = model.sample(4, 5, np.random.default_rng(SEED))
    b = model.sample(4, 5, np.random.default_rng(SEED))
    for x, y in zip(a, b):
        assert_array_equal(x, y)


def test_random_topics_are_distributions_reproducible_from_the_seed_with_symmetric_alpha():
    a = LDA.random(4, 6, np.random.default_rng(SEED), eta=0.3, alpha=0.7)
    b = LDA.random(4, 6, np.random.default_rng(SEED), eta=0.3, alpha=0.7)
    assert a.topics.shape == (4, 6) and a.K == 4 and a.V == 6
    assert (a.topics >= 0).all()
    assert np.abs(a.topics.sum(1) - 1).max() <= ROW_SUM_TOL
    assert_array_equal(a.topics, b.topics)
    assert_array_equal(a.alpha, np.full(4, 0.7))


def test_the_stored_arrays_are_read_only():
    model = LDA.random(2, 3, np.random.default_rng(SEED))
    with pytest.raises(ValueError):
        model.topics[0, 0] = 0.5
    with pytest.raises(ValueError):
        model.alpha[0] = 1.0


def test_the_model_copies_its_inputs():
    topics = np.array([[0.5, 0.5], [0.2, 0.8]])
    model = LDA(topics, 1.0)
    topics[0] = [1.0, 0.0]
    assert_array_equal(model.topics[0], [0.5, 0.5])


# --- bad input ----------------------------------------------------------------------------------

def test_a_topic_row_that_does_not_sum_to_one_is_rejected_naming_the_row():
    with pytest.raises(InputError, match=re.escape("topics row 1 sums to 1.1000000000000001, not 1")):
        LDA([[0.5, 0.5], [0.6, 0.5]], 1.0)
    with pytest.raises(InputError, match="topics row 0 sums to"):
        LDA([[0.5, 0.5 + 1e-9], [0.5, 0.5]], 1.0)


def test_negative_or_non_finite_topics_are_rejected():
    with pytest.raises(InputError, match="topics must be finite and non-negative"):
        LDA([[1.2, -0.2], [0.5, 0.5]], 1.0)
    with pytest.raises(InputError, match="topics must be finite and non-negative"):
        LDA([[np.nan, 1.0], [0.5, 0.5]], 1.0)


@pytest.mark.parametrize("topics", [[0.5, 0.5], np.ones((2, 2, 2)) / 2, np.empty((0, 3))])
def test_topics_that_are_not_a_matrix_are_rejected(topics):
    with pytest.raises(InputError, match="topics must be a \\(K, V\\) matrix"):
        LDA(topics, 1.0)


@pytest.mark.parametrize("alpha", [0.0, -1.0, [1.0, 0.0], [1.0, np.nan], np.inf])
def test_a_non_positive_or_non_finite_alpha_is_rejected(alpha):
    with pytest.raises(InputError, match="alpha must be finite and positive"):
        LDA(_fixture().topics, alpha)


@pytest.mark.parametrize("alpha", [[1.0, 1.0, 1.0], [[1.0, 1.0]]])
def test_an_alpha_of_the_wrong_length_is_rejected(alpha):
    with pytest.raises(InputError, match=re.escape("alpha must be a scalar or have length K=2; got shape")):
        LDA(_fixture().topics, alpha)


def test_an_out_of_vocabulary_token_is_rejected_naming_value_and_position():
    with pytest.raises(InputError, match=re.escape("w[0, 2] = 3 is not a word id in [0, 3)")):
        _fixture().posterior_mean([0, 1, 3])
    with pytest.raises(InputError, match=re.escape("w[1, 0] = -1 is not a word id in [0, 3)")):
        _fixture().counts([[0, 1], [-1, 0]])


def test_nan_and_fractional_tokens_are_rejected():
    with pytest.raises(InputError, match="w holds NaN or infinite tokens"):
        _fixture().posterior_mean([0.0, np.nan])
    with pytest.raises(InputError, match="w must hold integer word ids; got non-integer values"):
        _fixture().posterior_mean([0.0, 1.5])
    with pytest.raises(InputError, match="w must hold integer word ids; got dtype"):
        _fixture().counts(["a", "b"])


def test_integral_float_tokens_are_accepted_as_word_ids():
    model = _fixture()
    assert_array_equal(model.posterior_mean([0.0, 2.0]), model.posterior_mean([0, 2]))


def test_documents_of_three_dimensions_are_rejected_with_their_shape():
    with pytest.raises(InputError, match=re.escape("w must have shape (M,) or (D, M); got (1, 2, 3)")):
        _fixture().posterior_mean(np.zeros((1, 2, 3), dtype=int))


@pytest.mark.parametrize("method", ["mixture", "posterior_mean", "density"])
def test_a_document_too_long_for_exact_enumeration_is_rejected(method):
    M = int(math.log2(MAX_ASSIGNMENTS)) + 1  # 2**21 assignments for K = 2
    model, doc = _fixture(), np.zeros(M, dtype=int)
    call = {"mixture": lambda: model.mixture(doc), "posterior_mean": lambda: model.posterior_mean(doc),
            "density": lambda: model.posterior_density(doc, [[0.5, 0.5]])}[method]
    with pytest.raises(InputError, match=re.escape(f"exact enumeration needs K**M = 2**{M}")):
        call()


@pytest.mark.parametrize("method", ["mixture", "log_evidence"])
def test_the_enumeration_limit_is_enforced_before_any_assignment_is_enumerated(method, monkeypatch):
    # A guard that runs after enumerating is no guard: at K = 2, M = 21 it costs ~6 s and
    # ~1 GB before refusing, and at M = 30 it exhausts memory. The check must come first.
    def product(*args, **kwargs):
        pytest.fail(f"{method} enumerated topic assignments before checking the limit")

    monkeypatch.setattr(lda_module, "itertools", SimpleNamespace(product=product))
    with pytest.raises(InputError, match="enumeration"):
        getattr(_fixture(), method)(np.zeros(30, dtype=int))


@pytest.mark.parametrize("theta,message", [
    ([[0.5, 0.6]], "theta must lie in the open simplex"),
    ([[0.0, 1.0]], "theta must lie in the open simplex"),
    ([[1.2, -0.2]], "theta must lie in the open simplex"),
    ([[0.2, 0.3, 0.5]], "theta must have shape (P, 2); got (1, 3)"),
])
def test_theta_off_the_open_simplex_is_rejected_by_posterior_density(theta, message):
    with pytest.raises(InputError, match=re.escape(message)):
        _fixture().posterior_density([0, 1], theta)


def test_a_document_impossible_under_every_topic_is_reported():
    model = LDA([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], 1.0)
    with pytest.raises(InputError, match="probability 0 under every topic assignment"):
        model.posterior_mean([0, 2])


@pytest.mark.parametrize("kwargs,name", [({"K": 0, "V": 3}, "K"), ({"K": 2, "V": 0}, "V"),
                                         ({"K": 2, "V": 3, "eta": 0.0}, "eta"),
                                         ({"K": 2, "V": 3, "alpha": -1.0}, "alpha")])
def test_random_rejects_non_positive_sizes_and_concentrations(kwargs, name):
    with pytest.raises(InputError, match=f"^{name} must be a"):
        LDA.random(rng=np.random.default_rng(SEED), **kwargs)


@pytest.mark.parametrize("n_docs,length,name", [(0, 3, "n_docs"), (2, 0, "length"), (2.5, 3, "n_docs")])
def test_sample_rejects_non_positive_sizes(n_docs, length, name):
    with pytest.raises(InputError, match=f"{name} must be a positive integer"):
        _fixture().sample(n_docs, length, np.random.default_rng(SEED))
