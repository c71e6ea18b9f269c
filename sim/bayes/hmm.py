"""Discrete hidden Markov models and their exact inference oracles.

Setting 2 of Zhang et al. (2024), "What Should Embeddings Embed? Autoregressive Models
Represent Latent Generating Distributions", arXiv 2406.03707 (digest
``shared/papers/embeddings_embed.md`` sections 1.6 and 2.2). An HMM has ``K`` states,
a row-stochastic transition matrix ``A`` (K, K), a row-stochastic emission matrix
``B`` (K, V) and an initial law ``pi0`` (K,)::

    p(x_{1:n}) = sum_{z_{1:n}} pi0(z_1) B(z_1, x_1) prod_{i>=2} A(z_{i-1}, z_i) B(z_i, x_i).

The belief state ``b_n = p(z_n | x_{1:n})`` is the predictive sufficient statistic
(Prop. 4(a)); it comes from the scaled forward algorithm
``b_1 ∝ pi0 ⊙ B[:, x_1]``, ``b_{n+1} ∝ (b_n A) ⊙ B[:, x_{n+1}]``. The one-step
observation predictive is ``b_n A B`` and the map ``b -> b A B`` is injective on the
simplex iff ``rank(A B) = K`` (Prop. 4(c)).

Also here: brute-force enumeration (the oracle for the oracle, tiny ``T`` only),
log-space Viterbi (a hard label that is *not* predictive sufficient, claim 19), and the
released code's last-position "posterior" ``∝ b_N ⊙ B[:, x_N]``, which counts the last
emission twice (spec §2.2, §3.10 item 5) and is reproduced for comparison only.

Everything is numpy float64; token arrays are int64 of shape (S, T) (S sequences of
length T), and a 1-D token array is treated as one sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import errors
from sim.errors import InputError, check_finite, positive_float, positive_int

#: Allowed |row sum - 1| for A, B, pi0 and for belief vectors (float64 Dirichlet draws and
#: normalised beliefs sum to 1 within a few ulp, so 1e-10 only rejects real mistakes).
ROW_SUM_TOL = 1e-10
#: ``injective_on_simplex``: a singular value of A B counts as zero when it is at most
#: RANK_RTOL times the largest one (float64 rounding of A @ B is ~1e-16 relative).
RANK_RTOL = 1e-9
#: ``brute_force_filter`` refuses more than this many state paths.
MAX_BRUTE_FORCE_PATHS = 10**6


def _stochastic(name: str, value, ndim: int) -> np.ndarray:
    """Return ``value`` as a finite, nonnegative float64 array whose rows sum to 1."""
    arr = np.array(errors.as_array(name, value, finite=False))  # a copy: it is made read-only
    if arr.ndim != ndim or 0 in arr.shape:
        raise InputError(f"{name} must be a non-empty {ndim}-D array; got shape {arr.shape}")
    check_finite(name, arr)
    if (arr < 0).any():
        where = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise InputError(f"{name} has a negative entry {float(arr[where]):.12g} at index {where}")
    rows = np.atleast_2d(arr).sum(axis=1)
    bad = np.abs(rows - 1.0) > ROW_SUM_TOL
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = f"{name} row {i}" if ndim == 2 else name
        raise InputError(f"{what} sums to {float(rows[i]):.17g}, not 1 (tolerance {ROW_SUM_TOL}); "
                         "it must be a probability distribution")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class HMM:
    """A discrete HMM ``(A, B, pi0)``; validated and stored read-only as float64."""

    A: np.ndarray
    B: np.ndarray
    pi0: np.ndarray

    def __post_init__(self):
        A = _stochastic("A", self.A, 2)
        B = _stochastic("B", self.B, 2)
        pi0 = _stochastic("pi0", self.pi0, 1)
        K = A.shape[0]
        if A.shape != (K, K):
            raise InputError(f"A must be square (K, K); got shape {A.shape}")
        if B.shape[0] != K:
            raise InputError(f"B has {B.shape[0]} rows but A has K={K} states; B must be (K, V)")
        if pi0.shape != (K,):
            raise InputError(f"pi0 has length {pi0.shape[0]} but A has K={K} states")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", B)
        object.__setattr__(self, "pi0", pi0)

    @property
    def K(self) -> int:
        """Number of hidden states."""
        return self.A.shape[0]

    @property
    def V(self) -> int:
        """Alphabet size."""
        return self.B.shape[1]

    @classmethod
    def random(cls, K: int, V: int, rng: np.random.Generator, *,
               alpha: float = 0.5, delta: float = 0.5) -> HMM:
        """Rows of A ~ Dir(alpha·1_K), rows of B ~ Dir(delta·1_V), uniform pi0 (spec §2.2)."""
        K, V = positive_int("K", K), positive_int("V", V)
        alpha, delta = positive_float("alpha", alpha), positive_float("delta", delta)
        errors.generator("rng", rng)
        A = rng.dirichlet(np.full(K, alpha), size=K)
        B = rng.dirichlet(np.full(V, delta), size=K)
        # Renormalise: Dirichlet draws can sum to 1 +- a few ulp; keep the check exact-ish.
        return cls(A / A.sum(1, keepdims=True), B / B.sum(1, keepdims=True), np.full(K, 1.0 / K))

    # --- sampling ---------------------------------------------------------------------

    def sample(self, n_seq: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_seq`` independent sequences of ``length``: states ``z`` and tokens ``x``, both (S, T) int64."""
        S, T = positive_int("n_seq", n_seq), positive_int("length", length)
        errors.generator("rng", rng)
        cum_pi, cum_A, cum_B = (np.cumsum(m, axis=-1) for m in (self.pi0, self.A, self.B))
        for c in (cum_pi, cum_A, cum_B):
            c[..., -1] = 1.0  # u lies in (0, 1], so the last category always catches it

        def draw(cum: np.ndarray) -> np.ndarray:  # cum: (S, n) rows of CDFs
            u = 1.0 - rng.random(cum.shape[0])
            return (cum < u[:, None]).sum(axis=1)

        z = np.empty((S, T), dtype=np.int64)
        x = np.empty((S, T), dtype=np.int64)
        z[:, 0] = draw(np.broadcast_to(cum_pi, (S, self.K)))
        x[:, 0] = draw(cum_B[z[:, 0]])
        for t in range(1, T):
            z[:, t] = draw(cum_A[z[:, t - 1]])
            x[:, t] = draw(cum_B[z[:, t]])
        return z, x

    # --- validation of call arguments ------------------------------------------------

    def _tokens(self, x, name: str = "x") -> tuple[np.ndarray, bool]:
        """Return ``x`` as int64 (S, T), T >= 1, tokens in [0, V); and whether it was 1-D."""
        arr = np.asarray(x)
        if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or arr.size == 0:
            raise InputError(f"{name} must be a non-empty 1-D (T,) or 2-D (S, T) token array; got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.issubdtype(arr.dtype, np.floating):
                raise InputError(f"{name} must hold integer tokens; got dtype {arr.dtype}")
            check_finite(name, arr)
            if (arr != np.round(arr)).any():
                where = tuple(int(i) for i in np.argwhere(arr != np.round(arr))[0])
                raise InputError(f"{name} must hold integer tokens; entry {where} is {arr[where].item()!r}")
        bad = (arr < 0) | (arr >= self.V)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{name} contains token {arr[where].item()!r} at index {where}, outside the "
                             f"alphabet [0, {self.V}) ({int(bad.sum())} such tokens)")
        one = arr.ndim == 1
        return np.atleast_2d(arr).astype(np.int64), one

    def _belief(self, b, name: str = "b") -> np.ndarray:
        """Return ``b`` as float64 (..., K): finite, nonnegative, summing to 1 on the last axis."""
        arr = errors.as_array(name, b, finite=False)
        if arr.ndim < 1 or arr.shape[-1] != self.K:
            raise InputError(f"{name} must have last axis of length K={self.K}; got shape {arr.shape}")
        check_finite(name, arr)
        if (arr < 0).any():
            raise InputError(f"{name} has negative entries; a belief is a distribution over states")
        if (np.abs(arr.sum(-1) - 1.0) > ROW_SUM_TOL).any():
            raise InputError(f"{name} does not sum to 1 over states (tolerance {ROW_SUM_TOL})")
        return arr

    # --- exact inference -------------------------------------------------------------

    def _forward(self, x) -> tuple[np.ndarray, np.ndarray, bool]:
        """Scaled forward pass: beliefs (S, T, K), log normalisers (S, T), was-1-D flag."""
        xs, one = self._tokens(x)
        S, T = xs.shape
        b = np.empty((S, T, self.K))
        logc = np.empty((S, T))
        alpha = self.pi0[None, :] * self.B[:, xs[:, 0]].T
        for t in range(T):
            if t > 0:
                alpha = (b[:, t - 1] @ self.A) * self.B[:, xs[:, t]].T
            c = alpha.sum(axis=1)
            if (c <= 0).any():
                s = int(np.flatnonzero(c <= 0)[0])
                raise InputError(f"sequence {s} has probability zero under the model at position {t}")
            b[:, t] = alpha / c[:, None]
            logc[:, t] = np.log(c)
        return b, logc, one

    def filter(self, x) -> np.ndarray:
        """Beliefs ``b[:, n-1] = p(z_n | x_{1:n})``, shape (S, T, K), or (T, K) for 1-D ``x``."""
        b, _, one = self._forward(x)
        return b[0] if one else b

    def log_likelihood(self, x) -> np.ndarray | float:
        """``log p(x_{1:T})`` per sequence (S,), or a float for 1-D ``x``."""
        _, logc, one = self._forward(x)
        ll = logc.sum(axis=1)
        return float(ll[0]) if one else ll

    def next_state(self, b) -> np.ndarray:
        """Next-state predictive ``c = b A`` (``p(z_{n+1} | x_{1:n})`` for ``b = b_n``)."""
        return self._belief(b) @ self.A

    def predictive(self, b) -> np.ndarray:
        """One-step observation predictive ``b A B`` (``p(x_{n+1} | x_{1:n})`` for ``b = b_n``)."""
        return self._belief(b) @ self.A @ self.B

    def k_step_log_predictive(self, b, future) -> np.ndarray | float:
        """``log p(x_{n+1:n+k} = future | b_n = b)`` by a forward pass started from ``b``.

        ``b`` (K,) with ``future`` (k,) gives a float; ``b`` (S, K) with ``future`` (k,) or
        (S, k) gives (S,). Impossible futures give ``-inf``.
        """
        bb = self._belief(b)
        fut, _ = self._tokens(future, "future")
        single = bb.ndim == 1
        bb = np.atleast_2d(bb)
        if bb.ndim != 2:
            raise InputError(f"b must be (K,) or (S, K); got shape {np.shape(b)}")
        S = bb.shape[0]
        if fut.shape[0] not in (1, S):
            raise InputError(f"future has {fut.shape[0]} rows but b has {S}")
        fut = np.broadcast_to(fut, (max(S, fut.shape[0]), fut.shape[1]))
        bb = np.broadcast_to(bb, (fut.shape[0], self.K))
        logp = np.zeros(fut.shape[0])
        alpha = bb
        with np.errstate(divide="ignore", invalid="ignore"):
            for t in range(fut.shape[1]):
                alpha = (alpha @ self.A) * self.B[:, fut[:, t]].T
                c = alpha.sum(axis=1)
                logp += np.log(c)
                alpha = np.where(c[:, None] > 0, alpha / c[:, None], 0.0)
        return float(logp[0]) if single and logp.shape[0] == 1 else logp

    def brute_force_filter(self, x) -> np.ndarray:
        """``p(z_n | x_{1:n})`` by enumerating all K**T state paths; (T, K) or (S, T, K).

        An oracle for tiny T only: the forward algorithm (:meth:`filter`) is the real thing.
        """
        xs, one = self._tokens(x)
        S, T = xs.shape
        if self.K ** T > MAX_BRUTE_FORCE_PATHS:
            raise InputError(f"brute_force_filter would enumerate K**T = {self.K}**{T} paths, more than "
                             f"{MAX_BRUTE_FORCE_PATHS}; use filter() (the forward algorithm) instead")
        paths = np.indices((self.K,) * T).reshape(T, -1).T  # (K**T, T), every state path
        out = np.empty((S, T, self.K))
        for s in range(S):
            step = self.B[paths, xs[s]]                      # emission factor at each position
            step[:, 0] *= self.pi0[paths[:, 0]]
            step[:, 1:] *= self.A[paths[:, :-1], paths[:, 1:]]
            w = np.cumprod(step, axis=1)                     # p(z_{1:n}, x_{1:n}) for each n
            for n in range(T):
                joint = np.bincount(paths[:, n], weights=w[:, n], minlength=self.K)
                if joint.sum() <= 0:
                    raise InputError(f"sequence {s} has probability zero under the model at position {n}")
                out[s, n] = joint / joint.sum()
        return out[0] if one else out

    def viterbi(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Log-space Viterbi: ``(path, last_message)`` for one sequence (T,), or both stacked
        for a batch (S, T).

        ``path`` (T,) is ``argmax_{z_{1:T}} p(z_{1:T} | x_{1:T})`` (ties go to the lowest
        state index); ``last_message`` (K,) is the max-product message at position T,
        ``max_{z_{1:T-1}} p(z_{1:T-1}, z_T = z, x_{1:T})``, normalised to sum to 1.
        """
        xs, one = self._tokens(x)
        with np.errstate(divide="ignore"):
            logA, logB, logpi = np.log(self.A), np.log(self.B), np.log(self.pi0)
        S, T = xs.shape
        back = np.zeros((S, T, self.K), dtype=np.int64)
        delta = logpi + logB[:, xs[:, 0]].T                  # (S, K)
        for t in range(1, T):
            scores = delta[:, :, None] + logA                # (S, from, to)
            back[:, t] = np.argmax(scores, axis=1)
            delta = np.take_along_axis(scores, back[:, t, None, :], axis=1)[:, 0] + logB[:, xs[:, t]].T
        dead = ~np.isfinite(delta.max(1))
        if dead.any():
            raise InputError(f"sequence {int(np.argmax(dead))} has probability zero under the model; "
                             "no Viterbi path exists")
        path = np.empty((S, T), dtype=np.int64)
        path[:, -1] = np.argmax(delta, axis=1)
        rows = np.arange(S)
        for t in range(T - 1, 0, -1):
            path[:, t - 1] = back[rows, t, path[:, t]]
        msg = np.exp(delta - delta.max(1, keepdims=True))
        msg /= msg.sum(1, keepdims=True)
        return (path[0], msg[0]) if one else (path, msg)

    def code_variant_last_posterior(self, x) -> np.ndarray:
        """The released code's last-position "posterior" ``∝ b_N ⊙ B[:, x_N]``; (K,) or (S, K).

        A BUG reproduced for comparison only: the repository's backward pass starts from
        ``B[:, x_N]`` instead of ``1``, so the last emission is counted twice (spec §2.2).
        The exact filter is :meth:`filter`.
        """
        b, _, one = self._forward(x)
        xs, _ = self._tokens(x)
        v = b[:, -1] * self.B[:, xs[:, -1]].T
        v /= v.sum(axis=1, keepdims=True)
        return v[0] if one else v

    def injective_on_simplex(self, rtol: float = RANK_RTOL) -> bool:
        """Prop. 4(c): ``b -> b A B`` is injective on the simplex iff ``rank(A B) == K``.

        Singular values of ``A B`` at most ``rtol`` times the largest count as zero.
        """
        rtol = positive_float("rtol", rtol)
        s = np.linalg.svd(self.A @ self.B, compute_uv=False)
        rank = int((s > rtol * s[0]).sum()) if s.size and s[0] > 0 else 0
        return rank == self.K
