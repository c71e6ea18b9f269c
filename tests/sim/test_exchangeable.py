"""The conjugate exchangeable models of :mod:`sim.bayes.exchangeable` (spec §1.5, §2.1).

Fixtures of spec §2.1, a quadrature witness of the closed forms (spec claim 4), permutation
invariance and sufficiency of the predictives (claim 5), sampling sanity and bad input.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import integrate, optimize, special

from sim.bayes import BetaBernoulli, GammaExponential, NormalGamma
from sim.bayes.exchangeable import BetaBernoulli as BB_direct
from sim.errors import InputError

SEED = 20240605

# The spec prints its fixtures to 9-10 significant digits, so agreement to 1e-8 relative
# is the most a correct implementation can be asked for (and far below any formula slip).
FIXTURE_RTOL = 1e-8
# Spec claim 4 tolerance for closed form versus quadrature; quad is run at epsrel <= 1e-10.
QUAD_RTOL = 1e-8
QUAD_EPSREL = 1e-11
# Quantities that are equal in exact arithmetic but computed through different float64
# summation orders (permuted data, batch versus sequential update): a few hundred ulps.
ROUNDING_RTOL = 1e-10
ROUNDING_ATOL = 1e-12
# Monte Carlo checks: |empirical mean - exact mean| <= MC_SIGMAS standard errors, with the
# standard error sd/sqrt(N) from the exact prior standard deviation (N independent draws);
# 5 sigma makes a false alarm a ~6e-7 event for a correct sampler.
MC_SIGMAS = 5.0
MC_SEQUENCES = 100_000

MODELS = [BetaBernoulli.ID, BetaBernoulli.OOD, NormalGamma.ID, NormalGamma.OOD,
          GammaExponential.ID, GammaExponential.OOD]
MODEL_IDS = ["BB-ID", "BB-OOD", "NG-ID", "NG-OOD", "GE-ID", "GE-OOD"]


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def _one(model, n: int, rng: np.random.Generator) -> np.ndarray:
    """One sequence of n observations (1-D) drawn from the model."""
    return model.sample(1, n, rng)[1][0]


# --- spec §2.1 fixtures ----------------------------------------------------------------------

NG_X = (0.5, 1.5, 2.0, -0.3)
BB_X = (1, 0, 1, 1, 0)
GE_X = (0.2, 0.5, 1.0)


def test_the_normal_gamma_fixture_posterior_moments_and_sample_std_match_the_spec():
    ng = NormalGamma(1.0, 1.0, 5.0, 1.0)
    post = ng.posterior(NG_X)
    actual = [post["alpha_n"][0], post["lam_n"][0], post["mu_n"][0], post["beta_n"][0]]
    assert_allclose(actual, [7.0, 5.0, 0.94, 2.586], rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(ng.moments(NG_X)[0], [0.922672055, 2.706883217, 2.544470224, 2.591802011],
                    rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(ng.sufficient_statistic(NG_X)[0], [0.925, 1.027537509], rtol=FIXTURE_RTOL, atol=0)


def test_the_beta_bernoulli_fixture_posterior_moments_and_predictive_match_the_spec():
    bb = BetaBernoulli(2, 8)
    post = bb.posterior(BB_X)
    assert_allclose([post["a_n"][0], post["b_n"][0]], [5.0, 10.0], rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(bb.moments(BB_X)[0], [1 / 3, 0.125, 0.0514705882, 0.0228758170],
                    rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(bb.predictive(BB_X, 1)[0], 1 / 3, rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(bb.predictive_mean(BB_X)[0], 1 / 3, rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(bb.sufficient_statistic(BB_X)[0], 0.6, rtol=FIXTURE_RTOL, atol=0)


def test_the_gamma_exponential_fixture_posterior_moments_and_predictive_mean_match_the_spec():
    ge = GammaExponential(2, 4)
    post = ge.posterior(GE_X)
    assert_allclose([post["a_n"][0], post["b_n"][0]], [5.0, 5.7], rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(ge.moments(GE_X)[0], [0.877192982, 0.923361034, 1.133952147, 1.591511786],
                    rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(ge.predictive_mean(GE_X)[0], 1.425, rtol=FIXTURE_RTOL, atol=0)
    assert_allclose(ge.sufficient_statistic(GE_X)[0], 1.7 / 3, rtol=FIXTURE_RTOL, atol=0)


def test_the_presets_are_the_spec_hyperparameters():
    assert BetaBernoulli.in_distribution() == BetaBernoulli(2, 8)
    assert BetaBernoulli.out_of_distribution() == BetaBernoulli(8, 2)
    assert NormalGamma.in_distribution() == NormalGamma(1, 1, 5, 1)
    assert NormalGamma.out_of_distribution() == NormalGamma(5, 1, 2, 1)
    assert GammaExponential.in_distribution() == GammaExponential(2, 4)
    assert GammaExponential.out_of_distribution() == GammaExponential(2, 1)
    assert BB_direct is BetaBernoulli


def test_the_models_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BetaBernoulli.ID.a0 = 3.0


# --- quadrature witness (spec claim 4) --------------------------------------------------------

def _bb_quad(model: BetaBernoulli, x: np.ndarray, g) -> float:
    """E[g(p) | x] by quadrature of the raw likelihood times the Beta prior, normalised."""
    logb = special.betaln(model.a0, model.b0)

    def w(p):
        lik = math.prod(p if xi == 1 else 1.0 - p for xi in x)
        return lik * p ** (model.a0 - 1) * (1 - p) ** (model.b0 - 1) * math.exp(-logb)

    z = integrate.quad(w, 0, 1, epsabs=0, epsrel=QUAD_EPSREL, limit=200)[0]
    return integrate.quad(lambda p: g(p) * w(p), 0, 1, epsabs=0, epsrel=QUAD_EPSREL, limit=200)[0] / z


def _ge_quad(model: GammaExponential, x: np.ndarray, g) -> float:
    """E[g(lam) | x] by quadrature of the raw likelihood times the Gamma prior, normalised."""
    def logw(lam):
        return ((model.a0 - 1) * math.log(lam) - model.b0 * lam
                + sum(math.log(lam) - lam * xi for xi in x))

    mode = optimize.minimize_scalar(lambda u: -logw(math.exp(u)), bracket=(-3.0, 3.0)).x
    c = logw(math.exp(mode))  # rescale so the integrand peaks near 1

    def w(lam):
        return math.exp(logw(lam) - c) if lam > 0 else 0.0

    pts = (math.exp(mode),)
    z = integrate.quad(w, 0, np.inf, epsabs=0, epsrel=QUAD_EPSREL, limit=200)[0]
    num = integrate.quad(lambda lam: g(lam) * w(lam), 0, 10 * pts[0], epsabs=0, epsrel=QUAD_EPSREL,
                         limit=200, points=pts)[0]
    num += integrate.quad(lambda lam: g(lam) * w(lam), 10 * pts[0], np.inf, epsabs=0,
                          epsrel=QUAD_EPSREL, limit=200)[0]
    return num / z


def _ng_quad(model: NormalGamma, x: np.ndarray, gs) -> np.ndarray:
    """E[g(mu, tau) | x] for each g by dblquad of the raw likelihood times the prior.

    The integration box is centred on the numerically located mode: log tau over the range
    where the log integrand stays within 60 of its peak, mu within 12 conditional standard
    deviations 1/sqrt((lam0 + n) tau) (truncation error below exp(-60)).
    """
    xs = [float(v) for v in x]
    n = len(xs)
    log2pi = math.log(2 * math.pi)

    def logjoint(mu, tau):
        lt = math.log(tau)
        lp = ((model.alpha0 - 1) * lt - model.beta0 * tau
              + 0.5 * (math.log(model.lam0) + lt - log2pi) - 0.5 * model.lam0 * tau * (mu - model.mu0) ** 2)
        for v in xs:
            lp += 0.5 * (lt - log2pi) - 0.5 * tau * (v - mu) ** 2
        return lp

    start = [sum(xs) / n if n else model.mu0, 0.0]
    res = optimize.minimize(lambda v: -logjoint(v[0], math.exp(v[1])), start, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12})
    mu_hat, u_hat, c = res.x[0], res.x[1], -res.fun
    u_lo = u_hi = u_hat
    while logjoint(mu_hat, math.exp(u_hi)) > c - 60:
        u_hi += 0.5
    while logjoint(mu_hat, math.exp(u_lo)) > c - 60:
        u_lo -= 0.5

    def half(u):
        return 12.0 / math.sqrt((model.lam0 + n) * math.exp(u))

    out = []
    for g in [lambda mu, tau: 1.0, *gs]:
        def f(mu, u, g=g):
            tau = math.exp(u)  # substitution tau = e^u, dtau = tau du
            return g(mu, tau) * math.exp(logjoint(mu, tau) - c + u)

        out.append(integrate.dblquad(f, u_lo, u_hi, lambda u: mu_hat - half(u),
                                     lambda u: mu_hat + half(u), epsabs=0, epsrel=1e-10)[0])
    return np.array(out[1:]) / out[0]


@pytest.mark.parametrize("model", [BetaBernoulli.ID, BetaBernoulli.OOD], ids=["ID", "OOD"])
@pytest.mark.parametrize("n", [0, 3, 6])
def test_beta_bernoulli_moments_and_predictive_equal_quadrature_of_likelihood_times_prior(model, n):
    x = _one(model, n, _rng(n))
    desired = [_bb_quad(model, x, lambda p, m=m: p**m) for m in (1, 2, 3, 4)]
    assert_allclose(model.moments(x)[0], desired, rtol=QUAD_RTOL, atol=0)
    for token, g in ((1.0, lambda p: p), (0.0, lambda p: 1 - p)):
        assert_allclose(model.predictive(x, token)[0], _bb_quad(model, x, g), rtol=QUAD_RTOL, atol=0)


@pytest.mark.parametrize("model", [GammaExponential.ID, GammaExponential.OOD], ids=["ID", "OOD"])
@pytest.mark.parametrize("n", [0, 3, 6])
def test_gamma_exponential_moments_and_predictive_equal_quadrature_of_likelihood_times_prior(model, n):
    rng = _rng(10 + n)
    x = _one(model, n, rng)
    desired = [_ge_quad(model, x, lambda lam, m=m: lam**m) for m in (1, 2, 3, 4)]
    assert_allclose(model.moments(x)[0], desired, rtol=QUAD_RTOL, atol=0)
    y = float(rng.exponential(1.0))
    desired_pdf = _ge_quad(model, x, lambda lam: lam * math.exp(-lam * y))
    assert_allclose(model.predictive(x, y)[0], desired_pdf, rtol=QUAD_RTOL, atol=0)


@pytest.mark.parametrize("model,n", [(NormalGamma.ID, 5), (NormalGamma.OOD, 6)], ids=["ID", "OOD"])
def test_normal_gamma_moments_and_student_t_predictive_equal_quadrature_of_likelihood_times_prior(model, n):
    rng = _rng(20 + n)
    x = _one(model, n, rng)
    y = float(x.mean() + rng.standard_normal())
    gs = [lambda mu, tau: math.log(tau), lambda mu, tau: tau, lambda mu, tau: tau * mu,
          lambda mu, tau: tau * mu * mu,
          lambda mu, tau: math.sqrt(tau / (2 * math.pi)) * math.exp(-0.5 * tau * (y - mu) ** 2)]
    desired = _ng_quad(model, x, gs)
    assert_allclose(model.moments(x)[0], desired[:4], rtol=QUAD_RTOL, atol=0)
    assert_allclose(model.predictive(x, y)[0], desired[4], rtol=QUAD_RTOL, atol=0)


@pytest.mark.parametrize("model", [BetaBernoulli.ID, GammaExponential.ID], ids=["BB", "GE"])
def test_the_two_step_predictive_equals_quadrature_of_the_de_finetti_integral(model):
    rng = _rng(30)
    x = _one(model, 4, rng)
    f = _one(model, 2, rng)
    if isinstance(model, BetaBernoulli):
        def lik(p):
            return math.prod(p if fi == 1 else 1 - p for fi in f)
        desired = _bb_quad(model, x, lik)
    else:
        desired = _ge_quad(model, x, lambda lam: lam**2 * math.exp(-lam * (f[0] + f[1])))
    assert_allclose(model.log_predictive_k(x, f)[0], math.log(desired), rtol=QUAD_RTOL, atol=0)


@pytest.mark.parametrize("model", [NormalGamma.ID, NormalGamma.OOD, GammaExponential.ID,
                                   GammaExponential.OOD], ids=["NG-ID", "NG-OOD", "GE-ID", "GE-OOD"])
def test_the_predictive_mean_is_the_mean_of_the_predictive_density(model):
    x = _one(model, 4, _rng(40))
    lo = 0.0 if isinstance(model, GammaExponential) else -np.inf
    desired = integrate.quad(lambda y: y * model.predictive(x, y)[0], lo, np.inf,
                             epsabs=0, epsrel=QUAD_EPSREL, limit=400)[0]
    assert_allclose(model.predictive_mean(x)[0], desired, rtol=QUAD_RTOL, atol=0)


# --- exchangeability and sufficiency (spec claim 5) -------------------------------------------

@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_one_and_two_step_predictives_are_invariant_under_permutations_of_the_data(model, seed, n):
    rng = np.random.default_rng(seed)
    x = _one(model, n, rng)
    future = _one(model, 2, rng)
    perm = rng.permutation(n)
    assert_allclose(model.predictive(x[perm], future[0]), model.predictive(x, future[0]),
                    rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)
    assert_allclose(model.log_predictive_k(x[perm], future), model.log_predictive_k(x, future),
                    rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)
    # The future block is exchangeable too: p(f1, f2 | x) = p(f2, f1 | x).
    assert_allclose(model.log_predictive_k(x, future[::-1]), model.log_predictive_k(x, future),
                    rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)


def _same_statistic(model, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A different dataset with the same n and sum u(x) (NG: same n, xbar and SS)."""
    if isinstance(model, BetaBernoulli):  # same (n, k): another arrangement of the tokens
        return rng.permutation(x)
    if isinstance(model, GammaExponential):  # same n and sum, spread differently
        return x.sum() * rng.dirichlet(np.ones(x.size))
    d = x - x.mean()  # NG: reflect the deviations in a hyperplane containing the 1 vector
    v = rng.standard_normal(x.size)
    v -= v.mean()  # v orthogonal to 1, so the reflection keeps the sum of d (zero)
    v /= np.linalg.norm(v)
    return x.mean() + d - 2.0 * v * (v @ d)


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 12))
def test_two_datasets_sharing_the_sufficient_statistic_have_the_same_predictives(model, seed, n):
    rng = np.random.default_rng(seed)
    x = _one(model, n, rng)
    other = _same_statistic(model, x, rng)
    future = _one(model, 2, rng)
    assert_allclose(model.predictive(other, future[0]), model.predictive(x, future[0]),
                    rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)
    assert_allclose(model.log_predictive_k(other, future), model.log_predictive_k(x, future),
                    rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_the_sequential_update_agrees_with_the_batch_posterior(model):
    rng = _rng(50)
    x = _one(model, 5, rng)
    f = _one(model, 3, rng)
    chain = sum(np.log(model.predictive(np.concatenate([x, f[:j]]), f[j])) for j in range(3))
    assert_allclose(model.log_predictive_k(x, f), chain, rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)
    assert_allclose(model.log_predictive_k(x, f[:1]), np.log(model.predictive(x, f[0])),
                    rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)
    assert_allclose(model.log_predictive_k(x, np.empty(0)), [0.0], rtol=0, atol=0)


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_a_batch_of_sequences_gives_row_by_row_the_single_sequence_results(model):
    _, x = model.sample(4, 6, _rng(60))
    y = _one(model, 4, _rng(61))
    batch = [model.moments(x), model.predictive(x, y), model.predictive_mean(x),
             model.sufficient_statistic(x), *model.posterior(x).values()]
    for s in range(4):
        single = [model.moments(x[s]), model.predictive(x[s], y[s]), model.predictive_mean(x[s]),
                  model.sufficient_statistic(x[s]), *model.posterior(x[s]).values()]
        for b, one in zip(batch, single):
            assert_allclose(b[s], one[0], rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL)


# --- empty prefix -----------------------------------------------------------------------------

def test_with_no_observations_the_posterior_and_predictive_are_the_prior_ones():
    empty = np.empty((2, 0))
    ng = NormalGamma.ID
    post = ng.posterior(empty)
    assert_allclose(np.stack(list(post.values())), np.array([[5.0, 1.0, 1.0, 1.0]] * 2).T, rtol=0, atol=0)
    assert_allclose(ng.moments(empty)[0], [special.digamma(5.0), 5.0, 5.0, 6.0], rtol=1e-15, atol=0)
    bb = BetaBernoulli(2, 8)
    assert_allclose(bb.predictive(empty, 1), [0.2, 0.2], rtol=1e-15, atol=0)
    ge = GammaExponential(2, 4)
    assert_allclose(ge.moments(empty)[0], [0.5, 6 / 16, 24 / 64, 120 / 256], rtol=1e-15, atol=0)
    assert_allclose(ge.predictive_mean(empty), [4.0, 4.0], rtol=1e-15, atol=0)


@pytest.mark.parametrize("model", [BetaBernoulli.ID, NormalGamma.ID, GammaExponential.ID],
                         ids=["BB", "NG", "GE"])
def test_the_sufficient_statistic_of_an_empty_prefix_is_rejected_as_undefined(model):
    with pytest.raises(InputError, match="needs n >= 1 observations"):
        model.sufficient_statistic(np.empty((3, 0)))


def test_the_normal_gamma_sample_std_of_a_single_observation_is_nan_and_the_mean_is_the_value():
    stat = NormalGamma.ID.sufficient_statistic([[2.5], [-1.0]])
    assert_allclose(stat[:, 0], [2.5, -1.0], rtol=0, atol=0)
    assert np.isnan(stat[:, 1]).all()


# --- sampling sanity ----------------------------------------------------------------------------

def _check_mean(name: str, draws: np.ndarray, mean: float, sd: float) -> None:
    se = sd / math.sqrt(draws.size)
    assert abs(draws.mean() - mean) <= MC_SIGMAS * se, (name, draws.mean(), mean, se)


def test_beta_bernoulli_draws_match_the_prior_mean_and_the_bernoulli_likelihood():
    a, b = 2.0, 8.0
    p, x = BetaBernoulli(a, b).sample(MC_SEQUENCES, 3, _rng(70))
    assert p.shape == (MC_SEQUENCES,) and x.shape == (MC_SEQUENCES, 3) and x.dtype == np.float64
    assert set(np.unique(x)) <= {0.0, 1.0}
    _check_mean("p", p, a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))))
    # x_1 - p has mean 0 given p, with sd sqrt(E p(1-p)) <= 1/2 (independent over sequences).
    _check_mean("x1 - p", x[:, 0] - p, 0.0, 0.5)


def test_normal_gamma_draws_match_the_prior_means_and_the_normal_likelihood():
    mu0, lam0, al, be = 5.0, 2.5, 3.0, 2.0  # lam0 != 1 so the prior precision scaling shows
    (mu, tau), x = NormalGamma(mu0, lam0, al, be).sample(MC_SEQUENCES, 2, _rng(71))
    _check_mean("tau", tau, al / be, math.sqrt(al) / be)
    _check_mean("mu", mu, mu0, math.sqrt(be / (lam0 * (al - 1))))  # Var mu = E[1/(lam0 tau)]
    w = np.sqrt(lam0 * tau) * (mu - mu0)  # standard normal given tau
    _check_mean("w^2", w**2, 1.0, math.sqrt(2.0))  # chi-square(1): mean 1, sd sqrt(2)
    z = np.sqrt(tau) * (x[:, 0] - mu)  # standard normal given (mu, tau)
    _check_mean("z", z, 0.0, 1.0)
    _check_mean("z^2", z**2, 1.0, math.sqrt(2.0))


def test_gamma_exponential_draws_match_the_prior_mean_and_the_exponential_likelihood():
    a, b = 2.0, 4.0
    lam, x = GammaExponential(a, b).sample(MC_SEQUENCES, 2, _rng(72))
    assert (x >= 0).all()
    _check_mean("lam", lam, a / b, math.sqrt(a) / b)
    _check_mean("lam x1", lam * x[:, 0], 1.0, 1.0)  # Exp(1) given lam: mean 1, sd 1


def test_the_same_generator_state_gives_the_same_draws():
    for model in MODELS:
        t1, x1 = model.sample(3, 4, _rng(80))
        t2, x2 = model.sample(3, 4, _rng(80))
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(np.asarray(t1), np.asarray(t2))


def test_a_zero_length_sample_gives_parameters_and_an_empty_data_array():
    theta, x = GammaExponential.ID.sample(5, 0, _rng(81))
    assert theta.shape == (5,) and x.shape == (5, 0)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,kwargs,name", [
    (BetaBernoulli, {"a0": 0.0, "b0": 1.0}, "a0"),
    (BetaBernoulli, {"a0": 1.0, "b0": -2.0}, "b0"),
    (BetaBernoulli, {"a0": float("nan"), "b0": 1.0}, "a0"),
    (NormalGamma, {"mu0": float("nan"), "lam0": 1.0, "alpha0": 1.0, "beta0": 1.0}, "mu0"),
    (NormalGamma, {"mu0": float("inf"), "lam0": 1.0, "alpha0": 1.0, "beta0": 1.0}, "mu0"),
    (NormalGamma, {"mu0": 0.0, "lam0": 0.0, "alpha0": 1.0, "beta0": 1.0}, "lam0"),
    (NormalGamma, {"mu0": 0.0, "lam0": 1.0, "alpha0": float("nan"), "beta0": 1.0}, "alpha0"),
    (NormalGamma, {"mu0": 0.0, "lam0": 1.0, "alpha0": 1.0, "beta0": -1.0}, "beta0"),
    (GammaExponential, {"a0": float("inf"), "b0": 1.0}, "a0"),
    (GammaExponential, {"a0": 1.0, "b0": 0.0}, "b0"),
])
def test_non_positive_or_non_finite_hyperparameters_are_rejected_naming_the_parameter(cls, kwargs, name):
    with pytest.raises(InputError, match=rf"^{name} must be a finite"):
        cls(**kwargs)


@pytest.mark.parametrize("model", [BetaBernoulli.ID, NormalGamma.ID, GammaExponential.ID],
                         ids=["BB", "NG", "GE"])
def test_nan_in_the_data_is_reported_with_its_index(model):
    x = np.zeros((2, 4))
    x[1, 2] = np.nan
    with pytest.raises(InputError, match=re.escape("x contains NaN at index (1, 2)")):
        model.moments(x)


def test_a_beta_bernoulli_token_other_than_zero_or_one_is_reported_with_its_value():
    with pytest.raises(InputError, match=re.escape("x must contain only tokens 0 and 1; entry (0, 1) is 2.0")):
        BetaBernoulli.ID.posterior([1, 2, 0])
    with pytest.raises(InputError, match=re.escape("x_next must contain only tokens 0 and 1; entry (0,) is 0.5")):
        BetaBernoulli.ID.predictive([1, 0], 0.5)


def test_a_negative_exponential_observation_is_reported_with_its_value():
    with pytest.raises(InputError, match=re.escape("x must contain non-negative observations; entry (0, 0) is -0.5")):
        GammaExponential.ID.moments([-0.5, 1.0])


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_data_of_the_wrong_ndim_is_rejected_with_its_shape(shape):
    with pytest.raises(InputError, match=re.escape(f"x must be a 1-D (n,) or 2-D (S, n) array; got shape {shape}")):
        NormalGamma.ID.posterior(np.zeros(shape))


def test_a_next_observation_per_sequence_of_the_wrong_length_is_rejected():
    with pytest.raises(InputError, match="x_next must be a scalar or a 1-D array of length 2"):
        NormalGamma.ID.predictive(np.zeros((2, 3)), np.zeros(3))


def test_a_future_block_with_the_wrong_number_of_rows_is_rejected():
    with pytest.raises(InputError, match=re.escape("future must be a 1-D (k,) array or a 2-D (2, k) array")):
        NormalGamma.ID.log_predictive_k(np.zeros((2, 3)), np.zeros((3, 2)))


def test_an_infinite_lomax_predictive_mean_is_rejected():
    with pytest.raises(InputError, match="predictive mean is infinite for a_n <= 1"):
        GammaExponential(0.5, 1.0).predictive_mean(np.empty(0))


@pytest.mark.parametrize("rng", [None, 3, np.random.RandomState(0)])
def test_sampling_without_a_numpy_generator_is_rejected(rng):
    with pytest.raises(InputError, match="rng must be a numpy.random.Generator"):
        BetaBernoulli.ID.sample(2, 3, rng)


def test_non_positive_sequence_counts_and_negative_lengths_are_rejected():
    with pytest.raises(InputError, match="n_seq must be a positive integer"):
        NormalGamma.ID.sample(0, 3, _rng())
    with pytest.raises(InputError, match="length must be a non-negative integer"):
        NormalGamma.ID.sample(2, -1, _rng())
