"""The metrics of spec 4.3: linearity, concept directions, orthogonality, alignment,
log-odds error and fit (KL), all in float64 on embeddings F (|X|, d) and unembeddings
G (|Y|, d) of a :class:`~sim.concepts.structure.ConceptModel`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from sim.errors import InputError


def _unit(V: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(V, axis=-1, keepdims=True)
    return np.divide(V, n, out=np.zeros_like(V), where=n > 0)


def pairwise_cosines(D: np.ndarray) -> np.ndarray:
    """Cosines of all unordered pairs of rows of D (k, d); empty when k < 2."""
    U = _unit(np.asarray(D, dtype=np.float64))
    iu = np.triu_indices(len(U), 1)
    return (U @ U.T)[iu]


def cosine(u, v) -> float:
    u, v = np.asarray(u, float), np.asarray(v, float)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def unembedding_differences(model, G, i: int) -> np.ndarray:
    """D_i: g(y1) - g(y0) over the concept-i token pairs (k, d)."""
    p = model.token_pairs(i)
    return G[p[:, 1]] - G[p[:, 0]]


def embedding_differences(model, F, i: int) -> np.ndarray:
    """E_i: f(x1) - f(x0) over the concept-i context pairs present (k, d)."""
    p = model.context_pairs(i)
    return F[p[:, 1]] - F[p[:, 0]]


def directions(model, F, G) -> tuple[np.ndarray, np.ndarray]:
    """Concept directions (g_bar (m, d), f_bar (m, d)): means of the raw differences."""
    m = model.law.m
    gbar = np.stack([unembedding_differences(model, G, i).mean(0) for i in range(m)])
    fbar = np.stack([embedding_differences(model, F, i).mean(0)
                     if len(model.context_pairs(i)) else np.full(F.shape[1], np.nan)
                     for i in range(m)])
    return gbar, fbar


def causal_inner_product(G) -> np.ndarray:
    """M = Cov_{y ~ uniform}(g(y))^+ (Park et al.'s causal inner product)."""
    G = np.asarray(G, dtype=np.float64)
    return np.linalg.pinv(np.atleast_2d(np.cov(G.T, bias=True)), hermitian=True)


def _cross_abs_cos(V: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    K = V @ (V.T if M is None else M @ V.T)
    d = np.sqrt(np.abs(np.diag(K)))
    C = K / np.outer(d, d)
    return np.abs(C[np.triu_indices(len(V), 1)])


def log_odds_error(model, F, G) -> float:
    """max |f(x)^T (g(y1) - g(y0)) - ell_i(c_-i)| over pairs and their compatible contexts."""
    ell = model.law.log_odds()
    worst = 0.0
    for i in range(model.law.m):
        for y0, y1 in model.token_pairs(i):
            xs = model.compatible(i, y0)
            if xs.size:
                err = F[xs] @ (G[y1] - G[y0]) - ell[i, model.vocab.ids[y0]]
                worst = max(worst, float(np.abs(err).max()))
    return worst


def kl(model, F, G) -> float:
    """mean_x KL(p(. | x) || p_hat(. | x)) with p_hat = softmax(F G^T)."""
    P = model.table
    logq = log_softmax(np.asarray(F, float) @ np.asarray(G, float).T, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * (np.log(np.where(P > 0, P, 1.0)) - logq), 0.0)
    return float(terms.sum(1).mean())


def summary(model, F, G, *, log_odds: bool = True) -> dict[str, float]:
    """Every metric of spec 4.3 as a flat dict of floats (NaN where undefined); with
    ``log_odds=False`` the log-odds error (the costliest, a loop over pairs) is left out,
    e.g. for curves recorded at many checkpoints."""
    F, G = np.asarray(F, np.float64), np.asarray(G, np.float64)
    if F.shape != (len(model.contexts), G.shape[1]) or G.shape[0] != len(model.vocab.ids):
        raise InputError(f"F {F.shape} and G {G.shape} do not match {len(model.contexts)} "
                         f"contexts and {len(model.vocab.ids)} tokens with a common d")
    m = model.law.m
    lin_g = [pairwise_cosines(unembedding_differences(model, G, i)) for i in range(m)]
    lin_f = [pairwise_cosines(embedding_differences(model, F, i)) for i in range(m)]
    gbar, fbar = directions(model, F, G)
    orth = _cross_abs_cos(gbar)
    orth_c = _cross_abs_cos(gbar, causal_inner_product(G))
    align = [cosine(fbar[i], gbar[i]) for i in range(m) if np.isfinite(fbar[i]).all()]
    nan = float("nan")
    return {
        "lin_g_mean": float(np.mean([c.mean() for c in lin_g if c.size])) if any(c.size for c in lin_g) else nan,
        "lin_g_min": float(min(c.min() for c in lin_g if c.size)) if any(c.size for c in lin_g) else nan,
        "lin_f_mean": float(np.mean([c.mean() for c in lin_f if c.size])) if any(c.size for c in lin_f) else nan,
        "orth_mean": float(orth.mean()) if orth.size else nan,
        "orth_max": float(orth.max()) if orth.size else nan,
        "orth_causal_max": float(orth_c.max()) if orth_c.size else nan,
        "align": float(np.mean(align)) if align else nan,
        **({"logodds_err": log_odds_error(model, F, G)} if log_odds else {}),
        "kl": kl(model, F, G),
    }
