"""Latent Dirichlet allocation with fixed topics, and its exact posterior over a document's
topic mixture for tiny documents.

Zhang et al. 2024, "What Should Embeddings Embed?", arXiv 2406.03707; spec digest
(``shared/papers/embeddings_embed.md``) §1.8 and §2.4.

Model: topics ``beta_k ~ Dir(eta 1_V)`` (fixed once drawn), ``theta_d ~ Dir(alpha)``,
``z_dm ~ Cat(theta_d)``, ``w_dm ~ Cat(beta_{z_dm})``. Given the topics, the posterior over
``theta_d`` is a finite mixture of Dirichlets, found by enumerating the topic assignments:

    p(theta | w) = sum_z  c_z Dir(theta; alpha + n(z)) / sum_z c_z,
    c_z = prod_m beta[z_m, w_m] · B(alpha + n(z)) / B(alpha),

with ``n(z)`` the topic counts of ``z`` and ``B`` the multivariate Beta function. The
enumeration has ``K**M`` terms and is refused above :data:`MAX_ASSIGNMENTS`.

Documents are integer token arrays ``(D, M)`` (or ``(M,)`` for one) with ids in ``[0, V)``;
an empty document (M = 0) has the prior as its posterior.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import special

from sim import errors
from sim.errors import InputError, positive_float, positive_int

__all__ = ["LDA", "MAX_ASSIGNMENTS"]

MAX_ASSIGNMENTS = 2**20  # K**M terms; beyond this exact enumeration is refused
ROW_SUM_TOL = 1e-12
SIMPLEX_TOL = 1e-12  # |sum theta - 1| allowed for density points (float64 rounding is ~1e-16)


@dataclass(frozen=True, eq=False)
class LDA:
    """Fixed topics ``(K, V)`` (rows on the simplex) and a Dirichlet prior ``alpha`` (K,)."""

    topics: np.ndarray
    alpha: np.ndarray

    def __post_init__(self):
        # copies (np.array): they are made read-only below
        topics = np.array(errors.as_array("topics", self.topics, finite=False))
        alpha = np.array(errors.as_array("alpha", self.alpha, finite=False))
        if topics.ndim != 2 or topics.shape[0] < 1 or topics.shape[1] < 1:
            raise InputError(f"topics must be a (K, V) matrix; got shape {topics.shape}")
        if not np.all(np.isfinite(topics)) or (topics < 0).any():
            raise InputError("topics must be finite and non-negative")
        sums = topics.sum(1)
        if np.abs(sums - 1).max() > ROW_SUM_TOL:
            k = int(np.argmax(np.abs(sums - 1)))
            raise InputError(f"topics row {k} sums to {sums[k]:.17g}, not 1 (tolerance "
                             f"{ROW_SUM_TOL}); each topic must be a distribution over words")
        if alpha.ndim == 0:
            alpha = np.full(topics.shape[0], float(alpha))
        if alpha.shape != (topics.shape[0],):
            raise InputError(f"alpha must be a scalar or have length K={topics.shape[0]}; "
                             f"got shape {alpha.shape}")
        if not np.all(np.isfinite(alpha)) or (alpha <= 0).any():
            raise InputError(f"alpha must be finite and positive; got {alpha.tolist()}")
        for name, arr in (("topics", topics), ("alpha", alpha)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def K(self) -> int:
        return self.topics.shape[0]

    @property
    def V(self) -> int:
        return self.topics.shape[1]

    @classmethod
    def random(cls, K: int, V: int, rng: np.random.Generator, *, eta: float = 0.5,
               alpha: float = 0.5) -> LDA:
        """Topics ``beta_k ~ Dir(eta 1_V)``, symmetric ``alpha`` (spec §2.4 defaults 0.5)."""
        K, V = positive_int("K", K), positive_int("V", V)
        eta, alpha = positive_float("eta", eta), positive_float("alpha", alpha)
        errors.generator("rng", rng)
        topics = rng.dirichlet(np.full(V, eta), size=K)
        return cls(topics / topics.sum(1, keepdims=True), np.full(K, alpha))

    # --- generator --------------------------------------------------------------------

    def sample(self, n_docs: int, length: int, rng: np.random.Generator):
        """Documents: mixtures ``theta`` (D, K), assignments ``z`` and words ``w`` (D, M)."""
        D, M = positive_int("n_docs", n_docs), positive_int("length", length)
        errors.generator("rng", rng)
        theta = rng.dirichlet(self.alpha, size=D)
        z = (rng.random((D, M, 1)) > np.cumsum(theta, 1)[:, None, :]).sum(-1)
        z = np.minimum(z, self.K - 1)  # cumsum may end at 1 - ulp
        # A word is the number of its topic's cumulative probabilities below a uniform draw:
        # a sorted search per topic (the same integers as counting them over a (D, M, V)
        # comparison, without building that array).
        cum = np.cumsum(self.topics, 1)
        u = rng.random((D, M))
        w = np.empty((D, M), dtype=np.int64)
        for k in range(self.K):
            at = z == k
            w[at] = np.searchsorted(cum[k], u[at], side="left")
        return theta, z, np.minimum(w, self.V - 1)

    # --- exact posterior --------------------------------------------------------------

    def documents(self, w, name: str = "w") -> np.ndarray:
        """Validate documents: an integer array (D, M) (or (M,)) with ids in [0, V)."""
        arr = np.asarray(w)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2:
            raise InputError(f"{name} must have shape (M,) or (D, M); got {arr.shape}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                raise InputError(f"{name} holds NaN or infinite tokens")
            if np.any(arr != np.round(arr)):
                raise InputError(f"{name} must hold integer word ids; got non-integer values")
        elif arr.dtype.kind not in "iu":
            raise InputError(f"{name} must hold integer word ids; got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self.V)
        if bad.any():
            d, m = np.argwhere(bad)[0]
            raise InputError(f"{name}[{d}, {m}] = {arr[d, m]} is not a word id in [0, {self.V})")
        return arr

    def counts(self, w) -> np.ndarray:
        """Bag of words: word counts per document, (D, V)."""
        w = self.documents(w)
        out = np.zeros((w.shape[0], self.V), dtype=np.int64)
        np.add.at(out, (np.repeat(np.arange(w.shape[0]), w.shape[1]), w.ravel()), 1)
        return out

    def _assignments(self, M: int) -> np.ndarray:
        """All K**M topic assignments of a length-M document, (K**M, M); refused above the limit."""
        if self.K ** M > MAX_ASSIGNMENTS:
            raise InputError(f"exact enumeration needs K**M = {self.K}**{M} topic assignments, "
                             f"more than {MAX_ASSIGNMENTS}; use shorter documents or fewer topics")
        return np.array(list(itertools.product(range(self.K), repeat=M)),
                        dtype=np.int64).reshape(self.K ** M, M)

    def _log_lbeta(self, a: np.ndarray) -> np.ndarray:
        return special.gammaln(a).sum(-1) - special.gammaln(a.sum(-1))

    def mixture(self, w) -> tuple[np.ndarray, np.ndarray]:
        """The exact posterior of each document as a Dirichlet mixture.

        Returns the components' parameters ``alpha + n(z)`` (D, K**M, K) and their
        normalised weights (D, K**M).
        """
        w = self.documents(w)
        D, M = w.shape
        Z = self._assignments(M)
        n_z = np.stack([(Z == k).sum(1) for k in range(self.K)], 1)  # (K**M, K)
        params = self.alpha + n_z
        log_prior_ratio = self._log_lbeta(params) - self._log_lbeta(self.alpha)  # (K**M,)
        with np.errstate(divide="ignore"):
            log_topics = np.log(self.topics)
        log_c = log_topics[Z[None, :, :], w[:, None, :]].sum(-1) + log_prior_ratio  # (D, K**M)
        if np.isneginf(log_c.max(1)).any():
            raise InputError("a document has probability 0 under every topic assignment")
        log_c -= log_c.max(1, keepdims=True)
        c = np.exp(log_c)
        return np.broadcast_to(params, (D, *params.shape)), c / c.sum(1, keepdims=True)

    def log_evidence(self, w) -> np.ndarray:
        """log p(w | topics, alpha) per document, (D,), by exact enumeration."""
        w = self.documents(w)
        Z = self._assignments(w.shape[1])
        n_z = np.stack([(Z == k).sum(1) for k in range(self.K)], 1)
        with np.errstate(divide="ignore"):
            log_c = np.log(self.topics)[Z[None], w[:, None]].sum(-1) + \
                self._log_lbeta(self.alpha + n_z) - self._log_lbeta(self.alpha)
        return special.logsumexp(log_c, axis=1)

    def posterior_mean(self, w) -> np.ndarray:
        """E[theta | w], (D, K)."""
        params, weights = self.mixture(w)
        return np.einsum("dz,dzk->dk", weights, params / params.sum(-1, keepdims=True))

    def posterior_density(self, w, theta) -> np.ndarray:
        """p(theta | w) at points ``theta`` (P, K) on the open simplex, (D, P)."""
        theta = np.atleast_2d(errors.as_array("theta", theta))
        if theta.ndim != 2 or theta.shape[1] != self.K:
            raise InputError(f"theta must have shape (P, {self.K}); got {theta.shape}")
        if (theta <= 0).any() or np.abs(theta.sum(1) - 1).max() > SIMPLEX_TOL:
            raise InputError("theta must lie in the open simplex (positive, summing to 1)")
        params, weights = self.mixture(w)
        log_dir = ((params[:, :, None, :] - 1) * np.log(theta)[None, None]).sum(-1) \
            - self._log_lbeta(params)[..., None]  # (D, K**M, P)
        with np.errstate(over="ignore"):
            out = np.einsum("dz,dzp->dp", weights, np.exp(log_dir))
        if not np.isfinite(out).all():
            d, q = np.argwhere(~np.isfinite(out))[0]
            raise InputError(f"the posterior density of document {d} at theta[{q}] exceeds float64's "
                             f"range (log density terms up to {float(log_dir.max()):.4g}; alpha = "
                             f"{self.alpha.tolist()}): the posterior is too concentrated to tabulate")
        return out
