"""Conjugate exchangeable models and their exact Bayesian targets.

Zhang et al. 2024, "What Should Embeddings Embed? Autoregressive Models Represent Latent
Generating Distributions", arXiv 2406.03707; formulas and presets from the spec digest
(``shared/papers/embeddings_embed.md``) §1.5 and §2.1.

Three models, each a frozen dataclass of validated hyperparameters (Gamma laws shape-rate):

* :class:`BetaBernoulli` ``(a0, b0)``: ``p ~ Beta(a0, b0)``, ``x_i | p ~ Bern(p)``;
* :class:`NormalGamma` ``(mu0, lam0, alpha0, beta0)``: ``tau ~ Gamma(alpha0, beta0)``,
  ``mu | tau ~ N(mu0, 1/(lam0 tau))``, ``x_i | mu, tau ~ N(mu, 1/tau)``;
* :class:`GammaExponential` ``(a0, b0)``: ``lam ~ Gamma(a0, b0)``, ``x_i | lam ~ Exp(lam)``.

Conventions shared by every method:

* ``x`` is an array (S, n) of S sequences of n observations, or a 1-D (n,) array treated as
  one sequence (outputs then have leading dimension S = 1). n = 0 (empty prefixes) is
  allowed: posteriors, moments and predictives are then the prior's.
* Everything is float64 and vectorised over the S sequences; outputs are (S,) unless said.
* Observations must be finite and in the model's support (BB tokens in {0, 1}; GE x >= 0),
  otherwise :class:`sim.errors.InputError` names the offending entry.
* ``sufficient_statistic`` needs n >= 1 (k/n and xbar are undefined for n = 0). The NG
  unbiased standard deviation ``s`` is NaN for n = 1 (the only NaN any method returns).
* Observations or hyperparameters so large (or small) that a posterior parameter, a moment,
  a log-predictive or a draw would overflow float64 are an :class:`InputError` naming the
  argument; the Student-t and Lomax log-predictives are evaluated in log space where the
  direct formula overflows, so they stay finite wherever the answer is.
* Every random draw goes through the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special, stats

from sim import errors
from sim.errors import InputError, check_finite, positive_float, positive_int

__all__ = ["BetaBernoulli", "GammaExponential", "NormalGamma"]


# --- validation helpers -------------------------------------------------------------------

_finite_float = errors.finite_float


def _as_array(name: str, value) -> np.ndarray:
    return errors.as_array(name, value, finite=False)


def _as_sequences(name: str, value) -> np.ndarray:
    """Return ``value`` as a finite float64 (S, n) array; a 1-D (n,) input becomes (1, n)."""
    arr = _as_array(name, value)
    if arr.ndim == 1:
        arr = arr[None, :]  # (n,) -> (1, n): one sequence
    elif arr.ndim != 2:
        raise InputError(f"{name} must be a 1-D (n,) or 2-D (S, n) array; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"{name} holds no sequences (shape {arr.shape})")
    check_finite(name, arr)
    return arr


def _as_next(name: str, value, n_seq: int) -> np.ndarray:
    """Return one next observation per sequence, (S,); a scalar is broadcast."""
    arr = _as_array(name, value)
    if arr.ndim == 0:
        arr = np.full(n_seq, float(arr))
    elif arr.ndim != 1 or arr.shape[0] != n_seq:
        raise InputError(f"{name} must be a scalar or a 1-D array of length {n_seq} (one per "
                         f"sequence); got shape {arr.shape}")
    check_finite(name, arr)
    return arr


def _as_future(name: str, value, n_seq: int) -> np.ndarray:
    """Return future blocks as (S, k); a 1-D (k,) block is shared by every sequence."""
    arr = _as_array(name, value)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (n_seq, arr.shape[0]))  # (k,) -> (S, k)
    elif arr.ndim != 2 or arr.shape[0] != n_seq:
        raise InputError(f"{name} must be a 1-D (k,) array or a 2-D ({n_seq}, k) array; "
                         f"got shape {arr.shape}")
    check_finite(name, arr)
    return arr


def _first_bad(name: str, arr: np.ndarray, bad: np.ndarray, what: str) -> None:
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{name} must contain {what}; entry {where} is {float(arr[where])!r} "
                         f"({int(bad.sum())} invalid entries)")


def _check_rng(rng) -> np.random.Generator:
    return errors.generator("rng", rng)


def _check_length(length) -> int:
    return errors.count("length", length, minimum=0)


def _quiet():
    """Silence float64 over/underflow warnings around a closed form whose results are then
    checked (an overflow becomes an InputError naming the argument, not a warning)."""
    return np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")


# --- shared machinery ---------------------------------------------------------------------

class _Conjugate:
    """Methods common to the three models; subclasses supply the model-specific pieces."""

    _POST_NAMES: ClassVar[tuple[str, ...]]

    # Subclass hooks: _support(name, arr), _post(x) -> tuple of (S,) arrays,
    # _log_pred(post, y) -> (S,), _update(post, y) -> post, _moments(post) -> (S, 4).

    def _seq(self, name: str, x) -> np.ndarray:
        arr = _as_sequences(name, x)
        self._support(name, arr)
        return arr

    @classmethod
    def in_distribution(cls):
        """The spec's in-distribution preset (§2.1)."""
        return cls.ID

    @classmethod
    def out_of_distribution(cls):
        """The spec's out-of-distribution preset (§2.1)."""
        return cls.OOD

    def _finite(self, what: str, name: str, arrays) -> None:
        """Raise if a computed quantity overflowed: the inputs are too large for float64."""
        for a in arrays:
            if not np.all(np.isfinite(a)):
                raise InputError(f"{what} overflows float64 for this {name} under {self!r}: "
                                 f"rescale {name} (or the hyperparameters)")

    def _checked_post(self, name: str, xs: np.ndarray, post=None):
        """The posterior parameters of ``xs`` (or ``post`` as given), refused where they
        (or, for Beta-Bernoulli, a_n + b_n) overflow."""
        with _quiet():
            post = self._post(xs) if post is None else post
            extra = self._overflow_terms(post)
        self._finite("the posterior", name, (*post, *extra))
        return post

    def _overflow_terms(self, post) -> tuple:
        return ()

    def _checked_log_pred(self, name: str, post, y) -> np.ndarray:
        """log p(y | post); every model's predictive is positive on its whole support, so a
        non-finite value can only be an overflow, and is refused."""
        with _quiet():
            out = self._log_pred(post, y)
        self._finite("the log-predictive", name, (out,))
        return out

    def posterior(self, x) -> dict[str, np.ndarray]:
        """Posterior parameters after each sequence, each (S,)."""
        return dict(zip(self._POST_NAMES, self._checked_post("x", self._seq("x", x))))

    def moments(self, x) -> np.ndarray:
        """The spec's four posterior "moments" probe targets, (S, 4)."""
        post = self._checked_post("x", self._seq("x", x))
        with _quiet():
            out = self._moments(post)
        self._finite("a posterior moment", "x", (out,))
        return out

    def predictive(self, x, x_next) -> np.ndarray:
        """One-step predictive pmf/pdf p(x_next | x), (S,); ``x_next`` scalar or (S,)."""
        xs = self._seq("x", x)
        y = _as_next("x_next", x_next, xs.shape[0])
        self._support("x_next", y)
        logp = self._checked_log_pred("x_next", self._checked_post("x", xs), y)
        with _quiet():  # a density below 1e-308 underflows to 0, its correctly rounded value
            return np.exp(logp)

    def log_predictive_k(self, x, future) -> np.ndarray:
        """log p(future | x) = sum_j log p(f_j | x, f_1..f_{j-1}), (S,).

        ``future`` is (S, k), or (k,) shared by every sequence; k = 0 gives 0.
        """
        xs = self._seq("x", x)
        f = _as_future("future", future, xs.shape[0])
        self._support("future", f)
        post = self._checked_post("x", xs)
        total = np.zeros(xs.shape[0])
        for j in range(f.shape[1]):
            total += self._checked_log_pred("future", post, f[:, j])
            with _quiet():
                post = self._update(post, f[:, j])
            post = self._checked_post("future", xs, post)
        return total

    def _draws(self, *arrays):
        """Refuse prior draws that overflowed (hyperparameters far outside float64's range)."""
        self._finite("a draw from the prior", "sample", arrays)

    def _support(self, name: str, arr: np.ndarray) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


# --- Beta-Bernoulli -----------------------------------------------------------------------

@dataclass(frozen=True)
class BetaBernoulli(_Conjugate):
    """``p ~ Beta(a0, b0)``, tokens ``x_i | p ~ Bern(p)``; posterior ``Beta(a_n, b_n)``."""

    a0: float
    b0: float

    ID: ClassVar[BetaBernoulli]
    OOD: ClassVar[BetaBernoulli]
    _POST_NAMES: ClassVar[tuple[str, ...]] = ("a_n", "b_n")

    def __post_init__(self):
        object.__setattr__(self, "a0", positive_float("a0", self.a0))
        object.__setattr__(self, "b0", positive_float("b0", self.b0))

    def _support(self, name, arr):
        _first_bad(name, arr, (arr != 0.0) & (arr != 1.0), "only tokens 0 and 1")

    def sample(self, n_seq: int, length: int, rng: np.random.Generator):
        """Draw ``(p, x)``: p (S,) from the prior, x (S, length) tokens in {0., 1.}."""
        n_seq, length, rng = positive_int("n_seq", n_seq), _check_length(length), _check_rng(rng)
        p = rng.beta(self.a0, self.b0, size=n_seq)  # (S,)
        x = rng.binomial(1, p[:, None], size=(n_seq, length)).astype(np.float64)  # (S, L)
        self._draws(p, x)
        return p, x

    def _overflow_terms(self, post):
        return (post[0] + post[1],)

    def _post(self, x):
        k = x.sum(axis=1)  # (S,) number of ones
        n = x.shape[1]
        return self.a0 + k, self.b0 + (n - k)

    def _log_pred(self, post, y):
        a, b = post
        return np.log(np.where(y == 1.0, a, b)) - np.log(a + b)

    def _update(self, post, y):
        a, b = post
        return a + y, b + (1.0 - y)

    def _moments(self, post):
        a, b = post
        j = np.arange(4.0)  # E[p^m] = prod_{j<m} (a+j)/(a+b+j)
        return np.cumprod((a[:, None] + j) / ((a + b)[:, None] + j), axis=1)  # (S, 4)

    def sufficient_statistic(self, x) -> np.ndarray:
        """k/n, (S,); needs n >= 1."""
        xs = self._seq("x", x)
        if xs.shape[1] == 0:
            raise InputError("sufficient_statistic needs n >= 1 observations; k/n is undefined for n = 0")
        return xs.mean(axis=1)

    def predictive_mean(self, x) -> np.ndarray:
        """P(x_{n+1} = 1 | x) = a_n / (a_n + b_n), (S,)."""
        a, b = self._checked_post("x", self._seq("x", x))
        return a / (a + b)


# --- Normal-Gamma -------------------------------------------------------------------------

@dataclass(frozen=True)
class NormalGamma(_Conjugate):
    """Normal with unknown mean and precision under the Normal-Gamma prior (shape-rate)."""

    mu0: float
    lam0: float
    alpha0: float
    beta0: float

    ID: ClassVar[NormalGamma]
    OOD: ClassVar[NormalGamma]
    _POST_NAMES: ClassVar[tuple[str, ...]] = ("alpha_n", "lam_n", "mu_n", "beta_n")

    def __post_init__(self):
        object.__setattr__(self, "mu0", _finite_float("mu0", self.mu0))
        for name in ("lam0", "alpha0", "beta0"):
            object.__setattr__(self, name, positive_float(name, getattr(self, name)))

    def _support(self, name, arr):
        pass  # every finite real is an observation

    def sample(self, n_seq: int, length: int, rng: np.random.Generator):
        """Draw ``((mu, tau), x)``: mu, tau each (S,), x (S, length)."""
        n_seq, length, rng = positive_int("n_seq", n_seq), _check_length(length), _check_rng(rng)
        with _quiet():
            tau = rng.gamma(self.alpha0, 1.0 / self.beta0, size=n_seq)  # (S,) numpy uses scale = 1/rate
            mu = rng.normal(self.mu0, 1.0 / np.sqrt(self.lam0 * tau))  # (S,)
            x = rng.normal(mu[:, None], 1.0 / np.sqrt(tau)[:, None], size=(n_seq, length))  # (S, L)
        self._draws(tau, mu, x)
        return (mu, tau), x

    @staticmethod
    def _xbar_ss(x):
        n = x.shape[1]
        xbar = x.sum(axis=1) / max(n, 1)  # (S,); 0 for n = 0, where it is multiplied by n
        ss = ((x - xbar[:, None]) ** 2).sum(axis=1)  # (S,) two-pass sum of squares
        return xbar, ss

    def _post(self, x):
        n = x.shape[1]
        xbar, ss = self._xbar_ss(x)
        lam_n = self.lam0 + n
        mu_n = (self.lam0 * self.mu0 + n * xbar) / lam_n
        beta_n = self.beta0 + 0.5 * ss + n * self.lam0 * (xbar - self.mu0) ** 2 / (2.0 * lam_n)
        s = x.shape[0]
        return np.full(s, self.alpha0 + n / 2.0), np.full(s, lam_n), mu_n, beta_n

    def _log_pred(self, post, y):
        alpha, lam, mu, beta = post
        scale = np.sqrt(beta * (lam + 1.0) / (alpha * lam))  # Student-t scale (not squared)
        out = stats.t.logpdf(y, df=2.0 * alpha, loc=mu, scale=scale)
        bad = ~np.isfinite(out)
        if bad.any():  # z^2 overflowed inside scipy: the same log-density, with log z for z^2
            nu, sc = 2.0 * alpha[bad], scale[bad]
            z = np.abs(y[bad] - mu[bad]) / sc
            out = np.array(out, dtype=np.float64)
            out[bad] = (special.gammaln((nu + 1.0) / 2.0) - special.gammaln(nu / 2.0)
                        - 0.5 * np.log(nu * np.pi) - np.log(sc)
                        - (nu + 1.0) / 2.0 * (2.0 * np.log(z) - np.log(nu) + np.log1p(nu / z**2)))
        return out

    def _update(self, post, y):
        alpha, lam, mu, beta = post
        return (alpha + 0.5, lam + 1.0, (lam * mu + y) / (lam + 1.0),
                beta + lam * (y - mu) ** 2 / (2.0 * (lam + 1.0)))

    def _moments(self, post):
        alpha, lam, mu, beta = post
        e_tau = alpha / beta
        return np.stack([special.digamma(alpha) - np.log(beta), e_tau, e_tau * mu,
                         e_tau * mu**2 + 1.0 / lam], axis=1)  # (S, 4): E ln tau, E tau, E tau mu, E tau mu^2

    def sufficient_statistic(self, x) -> np.ndarray:
        """(xbar, s), (S, 2), s the unbiased (n - 1) standard deviation; needs n >= 1, s NaN at n = 1."""
        xs = self._seq("x", x)
        n = xs.shape[1]
        if n == 0:
            raise InputError("sufficient_statistic needs n >= 1 observations; xbar is undefined for n = 0")
        with _quiet():
            xbar, ss = self._xbar_ss(xs)
        self._finite("the sample mean or sum of squares", "x", (xbar, ss))
        s = np.sqrt(ss / (n - 1)) if n > 1 else np.full(xs.shape[0], np.nan)
        return np.stack([xbar, s], axis=1)  # (S, 2)

    def predictive_mean(self, x) -> np.ndarray:
        """E[x_{n+1} | x] = mu_n, (S,)."""
        return self._checked_post("x", self._seq("x", x))[2]


# --- Gamma-Exponential --------------------------------------------------------------------

@dataclass(frozen=True)
class GammaExponential(_Conjugate):
    """``lam ~ Gamma(a0, b0)`` (shape-rate), ``x_i | lam ~ Exp(rate lam)``; Lomax predictive."""

    a0: float
    b0: float

    ID: ClassVar[GammaExponential]
    OOD: ClassVar[GammaExponential]
    _POST_NAMES: ClassVar[tuple[str, ...]] = ("a_n", "b_n")

    def __post_init__(self):
        object.__setattr__(self, "a0", positive_float("a0", self.a0))
        object.__setattr__(self, "b0", positive_float("b0", self.b0))

    def _support(self, name, arr):
        _first_bad(name, arr, arr < 0.0, "non-negative observations")

    def sample(self, n_seq: int, length: int, rng: np.random.Generator):
        """Draw ``(lam, x)``: lam (S,), x (S, length)."""
        n_seq, length, rng = positive_int("n_seq", n_seq), _check_length(length), _check_rng(rng)
        with _quiet():
            lam = rng.gamma(self.a0, 1.0 / self.b0, size=n_seq)  # (S,) numpy uses scale = 1/rate
            x = rng.exponential(1.0 / lam[:, None], size=(n_seq, length))  # (S, L)
        self._draws(lam, x)
        return lam, x

    def _post(self, x):
        return np.full(x.shape[0], self.a0 + x.shape[1]), self.b0 + x.sum(axis=1)

    def _log_pred(self, post, y):
        a, b = post
        out = np.log(a) + a * np.log(b) - (a + 1.0) * np.log(b + y)
        bad = ~np.isfinite(out)
        if bad.any():  # a log b overflowed: the same log-density as log a - a log1p(y/b) - log(b + y)
            a_, b_, y_ = a[bad], b[bad], y[bad]
            out = np.array(out, dtype=np.float64)
            out[bad] = np.log(a_) - a_ * np.log1p(y_ / b_) - np.log(b_ + y_)
        return out

    def _update(self, post, y):
        a, b = post
        return a + 1.0, b + y

    def _moments(self, post):
        a, b = post
        j = np.arange(4.0)  # E[lam^m] = prod_{j<m} (a+j)/b
        return np.cumprod((a[:, None] + j) / b[:, None], axis=1)  # (S, 4)

    def sufficient_statistic(self, x) -> np.ndarray:
        """xbar, (S,); needs n >= 1."""
        xs = self._seq("x", x)
        if xs.shape[1] == 0:
            raise InputError("sufficient_statistic needs n >= 1 observations; xbar is undefined for n = 0")
        with _quiet():
            out = xs.mean(axis=1)
        self._finite("the sample mean", "x", (out,))
        return out

    def predictive_mean(self, x) -> np.ndarray:
        """E[x_{n+1} | x] = b_n / (a_n - 1), (S,); infinite (InputError) when a_n <= 1."""
        a, b = self._checked_post("x", self._seq("x", x))
        if np.any(a <= 1.0):
            raise InputError(f"the Lomax predictive mean is infinite for a_n <= 1; a_n = {float(a[0])!r} "
                             "(a0 + n must exceed 1)")
        return b / (a - 1.0)


# Presets of the spec §2.1 (ID / OOD hyperparameters).
BetaBernoulli.ID, BetaBernoulli.OOD = BetaBernoulli(2.0, 8.0), BetaBernoulli(8.0, 2.0)
NormalGamma.ID, NormalGamma.OOD = NormalGamma(1.0, 1.0, 5.0, 1.0), NormalGamma(5.0, 1.0, 2.0, 1.0)
GammaExponential.ID, GammaExponential.OOD = GammaExponential(2.0, 4.0), GammaExponential(2.0, 1.0)
