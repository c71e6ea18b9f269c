"""Zhang et al. theorem modules: witnesses agree on drawn instances, and a statistic that
drops information makes each sufficiency check fail (exchangeable, HMM, hypotheses, topics)."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim import streams
from sim.bayes.exchangeable import BetaBernoulli, NormalGamma
from sim.bayes.hmm import HMM
from sim.bayes.lda import LDA
from sim.bayes.rectangles import RectangleGame
from tests.strategies import seeds
from theorems.zhang2024 import exchangeable as ex
from theorems.zhang2024 import hmm_belief as hb
from theorems.zhang2024 import hypotheses as hy
from theorems.zhang2024 import topics as tp

QUAD = 1e-8  # the spec's quadrature tolerance (claim 4)
ROUND = 1e-10  # float64 round trips through a few divisions


normal_gamma = st.builds(NormalGamma, mu0=st.floats(-3, 3), lam0=st.floats(0.2, 5),
                         alpha0=st.floats(1.5, 8), beta0=st.floats(0.2, 5))


# --- exchangeable ---------------------------------------------------------------------------

@settings(max_examples=4)  # each example runs six 2-D adaptive quadratures
@given(normal_gamma, seeds, st.integers(2, 6))
def test_normal_gamma_moments_and_expected_log_likelihood_equal_quadrature(model, seed, n):
    rng = streams(seed).data
    x = model.sample(1, n, rng)[1][0]
    y = float(x.mean() + rng.normal())
    vals = ex.ng_expectations(model, x, [
        lambda mu, tau: math.log(tau), lambda mu, tau: tau, lambda mu, tau: tau * mu,
        lambda mu, tau: tau * mu**2,
        lambda mu, tau: 0.5 * math.log(tau / (2 * math.pi)) - 0.5 * tau * (y - mu) ** 2])
    M = model.moments(x)[0]
    np.testing.assert_allclose(vals[:4], M, rtol=QUAD, atol=QUAD)
    affine = 0.5 * M[0] - 0.5 * math.log(2 * math.pi) - 0.5 * M[1] * y**2 + M[2] * y - 0.5 * M[3]
    np.testing.assert_allclose(vals[4], affine, rtol=QUAD, atol=QUAD)


@given(normal_gamma, seeds, st.integers(1, 40))
def test_normal_gamma_moments_with_n_give_back_the_sufficient_statistic(model, seed, n):
    x = model.sample(1, n, streams(seed).data)[1][0]
    M1, M2, M3, M4 = model.moments(x)[0]
    alpha_n, lam_n = model.alpha0 + n / 2, model.lam0 + n
    beta_n, mu_n = alpha_n / M2, M3 / M2
    xbar = (mu_n * lam_n - model.lam0 * model.mu0) / n
    ss = 2 * (beta_n - model.beta0 - n * model.lam0 * (xbar - model.mu0) ** 2 / (2 * lam_n))
    scale = 1.0 + abs(x.mean()) + ((x - x.mean()) ** 2).sum()
    assert abs(xbar - x.mean()) <= ROUND * scale
    assert abs(ss - ((x - x.mean()) ** 2).sum()) <= ROUND * scale * (1 + beta_n)
    assert abs(1 / (M4 - M3**2 / M2) - lam_n) <= 1e-8 * lam_n  # a difference of near-equal terms


@given(normal_gamma, seeds, st.integers(2, 20))
def test_two_moments_or_x_bar_alone_do_not_fix_the_predictive_law(model, seed, n):
    """Negative controls for claims 7 and 8: mirrored data keep (E ln tau, E tau); rescaled
    residuals keep x-bar; both change the predictive law."""
    rng = streams(seed).data
    x = model.sample(1, n, rng)[1][0]
    x = x + (1.0 if abs(x.mean() - model.mu0) < 0.5 else 0.0)  # keep x-bar away from mu0
    mirror = 2 * model.mu0 - x
    np.testing.assert_allclose(model.moments(mirror)[0, :2], model.moments(x)[0, :2], rtol=1e-12)
    y = [float(x.mean())]
    assert abs(model.log_predictive_k(x, y)[0] - model.log_predictive_k(mirror, y)[0]) > 1e-6
    wider = x.mean() + 2.0 * (x - x.mean())
    assert model.predictive_mean(wider)[0] == pytest.approx(model.predictive_mean(x)[0], rel=1e-12, abs=1e-12)
    assert abs(model.log_predictive_k(x, y)[0] - model.log_predictive_k(wider, y)[0]) > 1e-6


@given(st.floats(0.2, 20), st.floats(0.2, 20), st.integers(0, 600))
def test_the_beta_bernoulli_latent_floor_enumeration_equals_its_closed_form(a0, b0, n):
    enum, closed = ex.bb_latent_floor(BetaBernoulli(a0, b0), n)
    assert enum == pytest.approx(closed, rel=1e-11)


@pytest.mark.parametrize("model", [NormalGamma.in_distribution(), NormalGamma(0.0, 0.5, 2.5, 3.0)])
@pytest.mark.parametrize("n", [3, 30])
def test_the_normal_gamma_latent_floor_matches_monte_carlo(model, n):
    (mu, _), x = model.sample(200_000, n, streams(7).data)
    sq = (model.predictive_mean(x) - mu) ** 2
    z = (sq.mean() - ex.ng_latent_floor(model, n)) / (sq.std(ddof=1) / np.sqrt(sq.size))
    assert abs(z) < 4.5  # fixed seed; 4.5 standard errors


def test_a_probe_fitted_to_the_latent_parameter_never_beats_the_posterior_mean():
    bb = BetaBernoulli(3.0, 3.0)
    st_ = streams(11)
    (p_tr, x_tr), (p, x) = bb.sample(50_000, 8, st_.data), bb.sample(50_000, 8, st_.data)
    F = lambda v: np.column_stack([np.ones(len(v)), v.mean(1), v.mean(1) ** 3])  # noqa: E731
    probe = ex._fit_predict(F(x_tr), p_tr, F(x))
    assert ex._paired_z(probe, bb.predictive(x, 1), p) > -4.0
    cheat = p + 0.01 * st_.noise.standard_normal(p.size)  # not a function of the data
    assert ex._paired_z(cheat, bb.predictive(x, 1), p) < -10.0


# --- HMM --------------------------------------------------------------------------------------

@settings(max_examples=8)
@given(seeds, st.integers(2, 4), st.integers(4, 6), st.integers(1, 5))
def test_path_enumeration_equals_the_forward_likelihood_and_rank_is_exact(seed, K, V, n):
    rng = streams(seed).data
    hmm = HMM.random(K, V, rng)
    x = hmm.sample(1, n, rng)[1][0]
    assert hb.path_likelihood(hmm, x) == pytest.approx(np.exp(hmm.log_likelihood(x)), rel=1e-12)
    assert hb.exact_rank(hmm) == K


@settings(max_examples=8)
@given(seeds, st.integers(2, 4), st.integers(2, 6))
def test_a_rank_deficient_hmm_fails_the_injectivity_check(seed, K, V):
    bad = hb.rank_deficient(K, V, streams(seed).data)
    assert hb.exact_rank(bad) < K
    assert not bad.injective_on_simplex()


# --- hypotheses --------------------------------------------------------------------------------

axes = st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]), min_size=2, max_size=5).map(
    lambda w: tuple(float(v) for v in np.cumsum([0.0, *w])))


@settings(max_examples=10)
@given(axes)
def test_one_step_rank_is_the_cell_count_and_two_step_rank_the_hypothesis_count(axis):
    game = RectangleGame(axis)
    assert hy.exact_ranks(game) == (game.n_cells, game.n_hypotheses)
    assert hy.numeric_rank(game.one_step_matrix()) == game.n_cells


@settings(max_examples=10)
@given(axes, seeds)
def test_the_one_step_witness_shares_every_one_step_density_but_not_the_two_step_law(axis, seed):
    game = RectangleGame(axis)
    rng = streams(seed).data
    p1, p2 = hy.one_step_witness(game, rng)
    assert p2.min() > 0 and abs(p2.sum() - 1) < 1e-12
    y = game.axis[0] + rng.random((30, 2)) * (game.axis[-1] - game.axis[0])
    np.testing.assert_allclose(game.predictive_density(p1, y), game.predictive_density(p2, y),
                               rtol=0, atol=1e-12)
    assert np.abs(game.two_step_matrix() @ (p1 - p2)).max() > 1e-8


@given(seeds, st.booleans(), st.integers(1, 25))
def test_the_bounding_box_oracle_equals_the_per_point_product(seed, hard, n):
    game = RectangleGame.hard() if hard else RectangleGame.easy()
    x = game.sample(1, n, streams(seed).data)[1][0]
    np.testing.assert_allclose(hy.brute_force_posterior(game, x), game.posterior(x)[0],
                               rtol=0, atol=1e-12)


@given(seeds, st.integers(2, 10))
def test_twins_with_the_same_box_share_the_posterior_but_a_lower_corner_does_not_suffice(seed, n):
    game, rng = RectangleGame.easy(), streams(seed).data
    x = game.sample(1, n, rng)[1][0]
    twin = hy._twin_with_same_box(x, rng)
    np.testing.assert_allclose(game.posterior(twin), game.posterior(x), rtol=0, atol=1e-15)
    # same n and lower corner, upper corner pushed to the grid's far corner
    stretched = x.copy()
    stretched[np.argmax(x[:, 0]), 0] = 7.0
    stretched[np.argmax(x[:, 1]), 1] = 7.0
    # (an upper corner already in the top cell, (6, 7], has the same consistent rectangles)
    if (x.max(0) <= game.axis[-2]).any():
        assert np.abs(game.posterior(stretched) - game.posterior(x)).max() > 1e-6


# --- topics --------------------------------------------------------------------------------------

def test_the_bag_of_words_identity_is_proved_for_every_small_document():
    assert tp.bag_of_words_statement(K=2, V=2, M=3).proved
    assert tp.bag_of_words_statement(K=3, V=2, M=2).proved


@settings(max_examples=10)
@given(seeds, st.integers(2, 5), st.integers(1, 6))
@example(seed=10355, V=3, M=4)  # alpha = (0.5, 0.5): the singular end points broke plain quad
def test_the_enumerated_posterior_mean_equals_quadrature_of_the_bag_of_words_form(seed, V, M):
    rng = streams(seed).data
    model = LDA.random(2, V, rng)
    doc = model.sample(1, M, rng)[2][0]
    q_mean, q_dens = tp.quadrature_posterior(model, doc)
    assert model.posterior_mean(doc)[0, 0] == pytest.approx(q_mean, rel=QUAD)
    np.testing.assert_allclose(model.posterior_density(doc, tp._grid_points())[0], q_dens,
                               rtol=QUAD, atol=QUAD * q_dens.max())


def test_the_quadrature_reference_refuses_more_than_two_topics():
    model = LDA.random(3, 4, streams(0).data)
    with pytest.raises(ValueError, match="K = 2"):
        tp.quadrature_posterior(model, [0, 1])


# --- the trained-transformer references certify their targets (no training) -----------------
