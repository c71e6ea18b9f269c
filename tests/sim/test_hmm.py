"""The HMM oracles of :mod:`sim.bayes.hmm` (spec §1.6, §2.2; claims 17-19).

Every exact quantity is checked against the spec's printed fixtures, or against a direct
enumeration written here from the definition ``p(z_{1:n}, x_{1:n}) = pi0(z_1) B(z_1, x_1)
prod A(z_{i-1}, z_i) B(z_i, x_i)`` with ``itertools.product`` (independent of the
module's vectorised enumeration).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sim.bayes.hmm import HMM, MAX_BRUTE_FORCE_PATHS, RANK_RTOL
from sim.errors import InputError

SEED = 20240605

#: The spec prints its fixtures rounded to 6 decimals: half a unit in the last place.
FIXTURE_TOL = 5e-7
#: Forward recursion vs enumeration: both are a few dozen float64 products and sums of
#: numbers in (0, 1], so they agree to ~1e-15; 1e-12 leaves room without hiding bugs.
EXACT_TOL = 1e-12
#: Log-probabilities of short sequences are O(10); relative 1e-12 plus the same absolute.
LOG_TOL = 1e-12

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _fixture() -> HMM:
    """Spec §2.2 numeric example."""
    return HMM([[.9, .1], [.2, .8]], [[.7, .2, .1], [.1, .3, .6]], [.5, .5])


def _witness() -> HMM:
    """Claim 19 witness: Viterbi's last state differs from argmax of the filter."""
    return HMM([[.4, .6], [.9, .1]], [[.25, .75], [.47, .53]], [.5, .5])


def _joint(h: HMM, x, z) -> float:
    """p(z_{1:n}, x_{1:n}) straight from the definition."""
    p = h.pi0[z[0]] * h.B[z[0], x[0]]
    for i in range(1, len(x)):
        p *= h.A[z[i - 1], z[i]] * h.B[z[i], x[i]]
    return float(p)


def _marginal(h: HMM, x) -> float:
    """p(x_{1:n}) by summing the joint over all K**n state paths (vectorised over paths)."""
    x = np.asarray(x)
    z = np.array(list(itertools.product(range(h.K), repeat=len(x))))
    p = h.pi0[z[:, 0]] * np.prod(h.B[z, x], axis=1) * np.prod(h.A[z[:, :-1], z[:, 1:]], axis=1)
    return float(p.sum())


def _enumerated_filter(h: HMM, x) -> np.ndarray:
    """p(z_n | x_{1:n}) for the last n = len(x), by enumeration."""
    post = np.zeros(h.K)
    for z in itertools.product(range(h.K), repeat=len(x)):
        post[z[-1]] += _joint(h, x, z)
    return post / post.sum()


def _random_case(seed: int, max_paths: int = 4096):
    """A seeded random HMM (K in 2..4, V in 2..5) and a sequence sampled from it."""
    rng = np.random.default_rng(seed)
    K, V = int(rng.integers(2, 5)), int(rng.integers(2, 6))
    T = int(rng.integers(1, 7))
    while K ** T > max_paths:
        T -= 1
    h = HMM.random(K, V, rng)
    _, x = h.sample(1, T, rng)
    return h, x[0], rng


# --- the spec fixture (§2.2) ------------------------------------------------------------

def test_the_forward_filter_reproduces_the_spec_fixture_beliefs():
    b = _fixture().filter([0, 2, 1])
    expected = [[0.875, 0.125], [0.419355, 0.580645], [0.393822, 0.606178]]
    assert_allclose(b, expected, rtol=0, atol=FIXTURE_TOL)


def test_the_fixture_next_state_and_one_step_predictive_match_the_spec():
    h = _fixture()
    b3 = h.filter([0, 2, 1])[-1]
    assert_allclose(h.next_state(b3), [0.475676, 0.524324], rtol=0, atol=FIXTURE_TOL)
    assert_allclose(h.predictive(b3), [0.385405, 0.252432, 0.362162], rtol=0, atol=FIXTURE_TOL)


def test_the_code_variant_counts_the_last_emission_twice_and_differs_from_the_filter():
    h = _fixture()
    variant = h.code_variant_last_posterior([0, 2, 1])
    assert_allclose(variant, [0.302222, 0.697778], rtol=0, atol=FIXTURE_TOL)
    assert np.abs(variant - h.filter([0, 2, 1])[-1]).max() > 0.09


def test_filter_accepts_a_batch_and_returns_one_belief_sequence_per_row():
    h = _fixture()
    x = np.array([[0, 2, 1], [1, 1, 0]])
    batch = h.filter(x)
    assert batch.shape == (2, 3, 2)
    for s in range(2):
        assert_allclose(batch[s], h.filter(x[s]), rtol=EXACT_TOL, atol=EXACT_TOL)
    assert_allclose(h.code_variant_last_posterior(x)[0], h.code_variant_last_posterior(x[0]),
                    rtol=EXACT_TOL, atol=EXACT_TOL)


# --- claim 17: filter, predictives, sufficiency -------------------------------------------

@given(seed=seeds)
def test_the_forward_filter_equals_brute_force_enumeration_at_every_position(seed):
    h, x, _ = _random_case(seed)
    b = h.filter(x)
    for n in range(1, len(x) + 1):
        assert_allclose(b[n - 1], _enumerated_filter(h, x[:n]), rtol=EXACT_TOL, atol=EXACT_TOL)
    assert_allclose(h.brute_force_filter(x), b, rtol=EXACT_TOL, atol=EXACT_TOL)


@given(seed=seeds)
def test_the_one_step_predictive_of_the_belief_is_the_enumerated_conditional(seed):
    h, x, _ = _random_case(seed, max_paths=1024)
    p_prefix = _marginal(h, x)
    expected = [_marginal(h, [*x, v]) / p_prefix for v in range(h.V)]
    assert_allclose(h.predictive(h.filter(x)[-1]), expected, rtol=EXACT_TOL, atol=EXACT_TOL)


@given(seed=seeds, k=st.integers(1, 3))
def test_the_k_step_predictive_from_the_belief_alone_is_the_enumerated_conditional(seed, k):
    # k_step_log_predictive sees only b_n, so matching p(future | x_{1:n}) shows the
    # k-step predictive is a function of b_n: equal beliefs give equal predictives.
    h, x, rng = _random_case(seed, max_paths=256)
    future = rng.integers(0, h.V, size=k)
    expected = math.log(_marginal(h, [*x, *future]) / _marginal(h, x))
    got = h.k_step_log_predictive(h.filter(x)[-1], future)
    assert_allclose(got, expected, rtol=LOG_TOL, atol=LOG_TOL)
    assert_allclose(got, h.log_likelihood([*x, *future]) - h.log_likelihood(x),
                    rtol=LOG_TOL, atol=LOG_TOL)


def test_two_different_prefixes_with_equal_beliefs_have_equal_k_step_predictives():
    # Doubly stochastic A (a Birkhoff mixture of permutations) keeps the uniform law
    # uniform, and token u has the same emission probability in every state, so a prefix
    # (u, u, a, w) leaves the same belief as (a, w) although the two histories differ.
    rng = np.random.default_rng(SEED)
    K, V, u = 3, 4, 3
    perms = [np.eye(K)[list(p)] for p in itertools.permutations(range(K))]
    A = np.einsum("p,pij->ij", rng.dirichlet(np.ones(len(perms))), perms)
    B = np.hstack([0.8 * rng.dirichlet(np.ones(V - 1), size=K), np.full((K, 1), 0.2)])
    h = HMM(A, B, np.full(K, 1 / K))
    short, long = [0, 2, 1], [u, u, 0, 2, 1]
    b_short, b_long = h.filter(short)[-1], h.filter(long)[-1]
    assert_allclose(b_short, b_long, rtol=EXACT_TOL, atol=EXACT_TOL)
    for k in (1, 2, 3):
        total = 0.0
        for future in itertools.product(range(V), repeat=k):
            p_short = _marginal(h, [*short, *future]) / _marginal(h, short)
            p_long = _marginal(h, [*long, *future]) / _marginal(h, long)
            assert_allclose(p_short, p_long, rtol=EXACT_TOL, atol=EXACT_TOL)
            assert_allclose(math.exp(h.k_step_log_predictive(b_long, future)), p_long,
                            rtol=EXACT_TOL, atol=EXACT_TOL)
            total += p_long
        assert_allclose(total, 1.0, rtol=EXACT_TOL, atol=EXACT_TOL)


def test_k_step_log_predictive_vectorises_over_beliefs_and_futures():
    h, rng = _fixture(), np.random.default_rng(SEED)
    _, x = h.sample(4, 5, rng)
    b = h.filter(x)[:, -1]
    futures = rng.integers(0, h.V, size=(4, 2))
    batch = h.k_step_log_predictive(b, futures)
    assert batch.shape == (4,)
    for s in range(4):
        assert_allclose(batch[s], h.k_step_log_predictive(b[s], futures[s]), rtol=LOG_TOL, atol=LOG_TOL)


def test_an_impossible_future_has_log_predictive_minus_infinity():
    h = HMM(np.eye(2), [[1.0, 0.0], [0.5, 0.5]], [1.0, 0.0])
    assert h.k_step_log_predictive([1.0, 0.0], [1]) == -np.inf


# --- claim 18: Prop. 4(c) -----------------------------------------------------------------

def test_dirichlet_random_hmms_with_v_at_least_k_are_injective_on_the_simplex():
    # A fixed seeded batch, not Hypothesis: rank K holds a.s., but about 1 draw in 10**4
    # has a smallest singular value below 1e-6, so fresh random draws could flake on the
    # margin check (which shows the verdict does not hinge on the tolerance).
    rng = np.random.default_rng(SEED)
    smallest = []
    for _ in range(300):
        K = int(rng.integers(2, 6))
        h = HMM.random(K, int(rng.integers(K, K + 4)), rng)
        assert h.injective_on_simplex()
        smallest.append(np.linalg.svd(h.A @ h.B, compute_uv=False)[-1])
    assert min(smallest) > 10 * RANK_RTOL


def test_fewer_symbols_than_states_can_never_be_injective():
    assert not HMM.random(4, 3, np.random.default_rng(SEED)).injective_on_simplex()


def test_identical_emission_rows_make_distinct_beliefs_share_a_predictive():
    # States 1 and 2 emit alike, so A B = A[:, 0] B_0 + (A[:, 1] + A[:, 2]) B_1 has rank 2 < 3.
    rng = np.random.default_rng(SEED)
    A = rng.dirichlet(np.ones(3), size=3)
    e0, e1 = rng.dirichlet(np.ones(4), size=2)
    h = HMM(A, np.vstack([e0, e1, e1]), np.full(3, 1 / 3))
    assert not h.injective_on_simplex()
    d = np.linalg.svd(h.A @ h.B)[0][:, -1]           # left null vector: d A B = 0
    assert_allclose(d.sum(), 0.0, rtol=0, atol=1e-12)  # forced, since rows of A B sum to 1
    b, b2 = np.full(3, 1 / 3) + 0.1 * d, np.full(3, 1 / 3) - 0.1 * d
    assert b.min() > 0 and b2.min() > 0 and np.abs(b - b2).max() > 0.05
    assert_allclose(h.predictive(b), h.predictive(b2), rtol=1e-12, atol=1e-15)


# --- claim 19: Viterbi is a different, non-sufficient label --------------------------------

def test_viterbi_last_state_differs_from_the_filter_argmax_on_the_spec_witness():
    h = _witness()
    b3 = h.filter([0, 1, 1])[-1]
    path, message = h.viterbi([0, 1, 1])
    assert_allclose(b3, [0.590890, 0.409110], rtol=0, atol=FIXTURE_TOL)
    assert_allclose(message, [0.485437, 0.514563], rtol=0, atol=FIXTURE_TOL)
    assert int(np.argmax(b3)) == 0 and path[-1] == 1


@given(seed=seeds)
def test_viterbi_matches_the_enumerated_most_probable_path_and_max_message(seed):
    h, x, _ = _random_case(seed)
    paths = list(itertools.product(range(h.K), repeat=len(x)))
    joint = np.array([_joint(h, x, z) for z in paths])
    path, message = h.viterbi(x)
    assert_allclose(_joint(h, x, path), joint.max(), rtol=1e-12, atol=0)
    best_end = np.array([max(j for z, j in zip(paths, joint) if z[-1] == s) for s in range(h.K)])
    assert_allclose(message, best_end / best_end.sum(), rtol=EXACT_TOL, atol=EXACT_TOL)


# --- sampling and construction --------------------------------------------------------------

def test_sampled_pairs_of_tokens_follow_the_exact_joint_law():
    h, rng = _fixture(), np.random.default_rng(SEED)
    S = 200_000
    z, x = h.sample(S, 2, rng)
    assert z.shape == x.shape == (S, 2) and x.dtype == z.dtype == np.int64
    counts = np.bincount(x[:, 0] * h.V + x[:, 1], minlength=h.V ** 2) / S
    exact = np.array([_marginal(h, [a, c]) for a in range(h.V) for c in range(h.V)])
    # Five binomial standard errors: a correct sampler fails this about once in 10**5 runs.
    assert_allclose(counts, exact, rtol=0, atol=5 * math.sqrt(0.25 / S))


def test_the_sampler_never_visits_a_zero_probability_state_or_token():
    h = HMM([[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [0.0, 1.0])
    z, x = h.sample(500, 6, np.random.default_rng(SEED))
    assert_array_equal(z, 1)
    assert_array_equal(x, 2)


def test_random_hmms_are_reproducible_from_the_seed_with_uniform_initial_law():
    a, b = (HMM.random(4, 7, np.random.default_rng(SEED)) for _ in range(2))
    assert_array_equal(a.A, b.A)
    assert_array_equal(a.B, b.B)
    assert_array_equal(a.pi0, np.full(4, 0.25))
    assert a.A.shape == (4, 4) and a.B.shape == (4, 7) and a.K == 4 and a.V == 7


def test_the_stored_matrices_are_read_only():
    h = _fixture()
    with pytest.raises(ValueError):
        h.A[0, 0] = 0.5


# --- bad input --------------------------------------------------------------------------------

def test_a_transition_row_that_does_not_sum_to_one_is_rejected_naming_the_row():
    with pytest.raises(InputError, match=re.escape("A row 1 sums to 0.899999999")):
        HMM([[.9, .1], [.2, .7]], [[.5, .5], [.5, .5]], [.5, .5])


def test_an_emission_row_off_by_more_than_the_tolerance_is_rejected():
    with pytest.raises(InputError, match="B row 0 sums to"):
        HMM(np.eye(2), [[.5, .5 + 1e-9], [.5, .5]], [.5, .5])


def test_a_negative_probability_is_rejected_with_its_index():
    with pytest.raises(InputError, match=re.escape("B has a negative entry -0.1 at index (1, 0)")):
        HMM(np.eye(2), [[.5, .5], [-.1, 1.1]], [.5, .5])


def test_nan_in_the_initial_law_is_rejected():
    with pytest.raises(InputError, match=re.escape("pi0 contains NaN at index (1,)")):
        HMM(np.eye(2), [[.5, .5], [.5, .5]], [.5, np.nan])


@pytest.mark.parametrize(("A", "B", "pi0", "message"), [
    (np.full((2, 3), 1 / 3), np.eye(2), [.5, .5], "A must be square"),
    (np.eye(2), np.eye(3), [.5, .5], "B has 3 rows but A has K=2"),
    (np.eye(2), np.eye(2), [1 / 3] * 3, "pi0 has length 3 but A has K=2"),
])
def test_inconsistent_shapes_are_rejected(A, B, pi0, message):
    with pytest.raises(InputError, match=re.escape(message)):
        HMM(A, B, pi0)


def test_an_out_of_alphabet_token_is_rejected_naming_the_value_and_position():
    with pytest.raises(InputError, match=re.escape("x contains token 3 at index (2,), outside the alphabet [0, 3) (1 such")):
        _fixture().filter([0, 1, 3])
    with pytest.raises(InputError, match=re.escape("token -1")):
        _fixture().filter([[0, 1], [-1, 0]])


def test_nan_and_fractional_tokens_are_rejected():
    with pytest.raises(InputError, match=re.escape("x contains NaN at index (1,)")):
        _fixture().filter([0.0, np.nan])
    with pytest.raises(InputError, match="must hold integer tokens"):
        _fixture().filter([0.0, 1.5])


def test_an_empty_sequence_is_rejected():
    with pytest.raises(InputError, match="non-empty"):
        _fixture().filter([])


def test_a_belief_that_is_not_a_distribution_is_rejected():
    with pytest.raises(InputError, match="does not sum to 1"):
        _fixture().predictive([0.5, 0.6])
    with pytest.raises(InputError, match="last axis of length K=2"):
        _fixture().next_state([1.0, 0.0, 0.0])


def test_brute_force_beyond_the_path_limit_points_to_the_forward_algorithm():
    T = int(math.log2(MAX_BRUTE_FORCE_PATHS)) + 1
    with pytest.raises(InputError, match=r"2\*\*20 paths.*use filter\(\) \(the forward algorithm\)"):
        _fixture().brute_force_filter(np.zeros(T, dtype=int))


def test_a_zero_probability_sequence_is_reported_not_divided_by_zero():
    h = HMM(np.eye(2), [[1.0, 0.0], [1.0, 0.0]], [.5, .5])
    with pytest.raises(InputError, match="probability zero under the model at position 0"):
        h.filter([1, 0])
    with pytest.raises(InputError, match="probability zero"):
        h.viterbi([1])


@given(seed=seeds)
def test_batched_viterbi_equals_one_sequence_at_a_time(seed):
    h, x, rng = _random_case(seed)
    X = np.vstack([x, h.sample(4, len(x), rng)[1]])
    paths, messages = h.viterbi(X)
    for s in range(len(X)):
        path, message = h.viterbi(X[s])
        assert paths[s].tolist() == path.tolist()
        assert_allclose(messages[s], message, rtol=0, atol=0)  # the same float operations
