"""The metrics of spec 4.3: linearity, concept directions, orthogonality, alignment,
log-odds error and fit (KL), all in float64 on embeddings F (|X|, d) and unembeddings
G (|Y|, d) of a :class:`~sim.concepts.structure.ConceptModel`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from sim import errors
from sim.concepts.structure import ConceptModel
from sim.errors import InputError

# What the metrics square: cosines (norms), the covariance of G and the logits F G^T.
_SCALE_WHAT = "their squares (norms, covariances and logits)"


def _unit(V: np.ndarray) -> np.ndarray:
    """Rows of V over their norms (zero rows stay zero). Where a norm over- or underflows
    (entries beyond 1e154 or below 1e-154) that row is rescaled by its largest entry first;
    every other row is divided exactly as written."""
    with np.errstate(over="ignore", under="ignore"):
        n = np.linalg.norm(V, axis=-1, keepdims=True)
    out = np.divide(V, n, out=np.zeros_like(V), where=(n > 0) & (n < np.inf))
    redo = ~((n > 0) & (n < np.inf))[..., 0] & V.any(axis=-1)
    if redo.any():
        W = V[redo] / np.max(np.abs(V[redo]), axis=-1, keepdims=True)
        out[redo] = W / np.linalg.norm(W, axis=-1, keepdims=True)
    return out


def pairwise_cosines(D) -> np.ndarray:
    """Cosines of all unordered pairs of rows of D (k, d); empty when k < 2 (a zero row has
    cosine 0 with every other row)."""
    D = errors.as_array("D", D)
    if D.ndim != 2:
        raise InputError(f"D must be a 2-D array of row vectors (k, d); got shape {D.shape}")
    return _pairwise_cosines(D)


def _pairwise_cosines(D: np.ndarray) -> np.ndarray:
    U = _unit(D)
    iu = np.triu_indices(len(U), 1)
    return (U @ U.T)[iu]


def cosine(u, v) -> float:
    """cos(u, v) of two nonzero finite vectors of one length (rescaled first where the
    direct formula over- or underflows)."""
    u, v = errors.as_vector("u", u), errors.as_vector("v", v)
    if u.shape != v.shape:
        raise InputError(f"u has length {u.shape[0]} but v has length {v.shape[0]}")
    for name, w in (("u", u), ("v", v)):
        if not w.any():
            raise InputError(f"{name} is the zero vector: its cosine with anything is undefined")
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        c = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    if not np.isfinite(c):
        c = float(errors.unit("u", u) @ errors.unit("v", v))
    return c


def _check_model(model) -> ConceptModel:
    return errors.instance("model", model, ConceptModel)


def _check_F(model, F) -> np.ndarray:
    F = errors.as_matrix("F", F)
    if F.shape[0] != len(model.contexts):
        raise InputError(f"F has {F.shape[0]} rows but the model has {len(model.contexts)} contexts")
    errors.check_scale("F", F, what=_SCALE_WHAT)
    return F


def _check_G(model, G) -> np.ndarray:
    G = errors.as_matrix("G", G)
    if G.shape[0] != len(model.vocab.ids):
        raise InputError(f"G has {G.shape[0]} rows but the model has {len(model.vocab.ids)} tokens")
    errors.check_scale("G", G, what=_SCALE_WHAT)
    return G


def _check_FG(model, F, G) -> tuple[np.ndarray, np.ndarray]:
    _check_model(model)
    F, G = errors.as_matrix("F", F), errors.as_matrix("G", G)
    if F.shape != (len(model.contexts), G.shape[1]) or G.shape[0] != len(model.vocab.ids):
        raise InputError(f"F {F.shape} and G {G.shape} do not match {len(model.contexts)} "
                         f"contexts and {len(model.vocab.ids)} tokens with a common d")
    errors.check_scale("F", F, what=_SCALE_WHAT)
    errors.check_scale("G", G, what=_SCALE_WHAT)
    return F, G


def unembedding_differences(model, G, i: int) -> np.ndarray:
    """D_i: g(y1) - g(y0) over the concept-i token pairs (k, d)."""
    G = _check_G(_check_model(model), G)
    return _unembedding_differences(model, G, i)


def _unembedding_differences(model, G, i: int) -> np.ndarray:
    p = model.token_pairs(i)
    return G[p[:, 1]] - G[p[:, 0]]


def embedding_differences(model, F, i: int) -> np.ndarray:
    """E_i: f(x1) - f(x0) over the concept-i context pairs present (k, d)."""
    F = _check_F(_check_model(model), F)
    return _embedding_differences(model, F, i)


def _embedding_differences(model, F, i: int) -> np.ndarray:
    p = model.context_pairs(i)
    return F[p[:, 1]] - F[p[:, 0]]


def directions(model, F, G) -> tuple[np.ndarray, np.ndarray]:
    """Concept directions (g_bar (m, d), f_bar (m, d)): means of the raw differences."""
    F, G = _check_FG(model, F, G)
    return _directions(model, F, G)


def _directions(model, F, G) -> tuple[np.ndarray, np.ndarray]:
    m = model.law.m
    gbar = np.stack([_unembedding_differences(model, G, i).mean(0) for i in range(m)])
    fbar = np.stack([_embedding_differences(model, F, i).mean(0)
                     if len(model.context_pairs(i)) else np.full(F.shape[1], np.nan)
                     for i in range(m)])
    return gbar, fbar


def causal_inner_product(G) -> np.ndarray:
    """M = Cov_{y ~ uniform}(g(y))^+ (Park et al.'s causal inner product)."""
    G = errors.as_matrix("G", G)
    errors.check_scale("G", G, what="their squares (the covariance)")
    return np.linalg.pinv(np.atleast_2d(np.cov(G.T, bias=True)), hermitian=True)


def _cross_abs_cos(V: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
    K = V @ (V.T if M is None else M @ V.T)
    d = np.sqrt(np.abs(np.diag(K)))
    C = K / np.outer(d, d)
    return np.abs(C[np.triu_indices(len(V), 1)])


def log_odds_error(model, F, G) -> float:
    """max |f(x)^T (g(y1) - g(y0)) - ell_i(c_-i)| over pairs and their compatible contexts."""
    F, G = _check_FG(model, F, G)
    ell = model.law.log_odds()
    worst = 0.0
    for i in range(model.law.m):
        for y0, y1 in model._token_pairs[i]:
            xs = model._compatible(i, y0)
            if xs.size:
                err = F[xs] @ (G[y1] - G[y0]) - ell[i, model.vocab.ids[y0]]
                worst = max(worst, float(np.abs(err).max()))
    return worst


def kl(model, F, G) -> float:
    """mean_x KL(p(. | x) || p_hat(. | x)) with p_hat = softmax(F G^T)."""
    F, G = _check_FG(model, F, G)
    return _kl(model, F, G)


def _kl(model, F, G) -> float:
    P = model.table
    logq = log_softmax(F @ G.T, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * (np.log(np.where(P > 0, P, 1.0)) - logq), 0.0)
    return float(terms.sum(1).mean())


def summary(model, F, G, *, log_odds: bool = True) -> dict[str, float]:
    """Every metric of spec 4.3 as a flat dict of floats (NaN where undefined); with
    ``log_odds=False`` the log-odds error (the costliest, a loop over pairs) is left out,
    e.g. for curves recorded at many checkpoints."""
    F, G = _check_FG(model, F, G)
    m = model.law.m
    lin_g = [_pairwise_cosines(_unembedding_differences(model, G, i)) for i in range(m)]
    lin_f = [_pairwise_cosines(_embedding_differences(model, F, i)) for i in range(m)]
    gbar, fbar = _directions(model, F, G)
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
        "kl": _kl(model, F, G),
    }
