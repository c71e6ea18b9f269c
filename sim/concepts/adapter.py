"""Concept geometry of a real language model, from plain arrays (spec linear_origins 4.5).

The same measurements as :mod:`sim.concepts.metrics`, for a model the user brings: an
unembedding matrix (the output layer's rows gamma(y), one per token) and, per concept, the
token pairs (y0, y1) that differ only in the concept and the hidden states lambda(x0),
lambda(x1) of context pairs that differ only in it. Nothing is downloaded; the arrays can come
from any framework.

For concept W:

* unembedding direction g_W = mean over its token pairs of gamma(y1) - gamma(y0);
* embedding direction f_W = mean over its context pairs of lambda(x1) - lambda(x0);
* linearity: mean pairwise cosine of the individual differences (tokens and contexts);
* alignment: cos(f_W, g_W) (Euclidean, the paper's prediction C4) and cos(f_W, M g_W)
  under the causal inner product M = Cov_y(gamma(y))^+ (Park et al.; D-T2.4);
* orthogonality: |cos(g_W, g_W')| for W != W', Euclidean and under M;
* a permutation test of alignment: the mean diagonal cosine against the same mean after
  re-pairing embedding and unembedding directions by a permutation of the concepts (all
  permutations when there are at most :data:`EXACT_PERMUTATIONS_UP_TO` concepts, else
  ``n_permutations`` seeded draws), p = (1 + #{null >= observed}) / (1 + #null);
* a random-pair baseline: cos(f_W, mean difference of ``n_random_pairs`` random token
  pairs), averaged over concepts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from collections.abc import Mapping

import numpy as np

from sim import errors
from sim.concepts.metrics import _check_FG, _unit, causal_inner_product, pairwise_cosines
from sim.errors import InputError, as_matrix

__all__ = ["EXACT_PERMUTATIONS_UP_TO", "ConceptData", "ConceptGeometry", "concept_geometry",
           "from_concept_model"]

EXACT_PERMUTATIONS_UP_TO = 8  # 8! = 40320 permutations are enumerated; more are sampled
# Rounds of n_random_pairs draws for the baseline before giving up when every draw is a pair
# (y, y) (probability 1/V per pair; only a tiny vocabulary and n_random_pairs = 1 reach it).
MAX_BASELINE_DRAWS = 100
_SCALE_WHAT = "their squares (norms and the covariance of the unembedding)"


@dataclass(frozen=True)
class ConceptData:
    """One concept: token pairs (k, 2) of ids (y0, y1), and hidden states (k', d) of the
    context pairs, ``h0`` for the contexts with the concept's first value, ``h1`` for its
    second, row by row."""

    token_pairs: np.ndarray
    h0: np.ndarray
    h1: np.ndarray


@dataclass(frozen=True)
class ConceptGeometry:
    """The measurements; matrices are indexed by ``names`` in order."""

    names: tuple[str, ...]
    g: np.ndarray  # (c, d) unembedding directions
    f: np.ndarray  # (c, d) embedding directions
    lin_g: np.ndarray  # (c,) mean pairwise cosine of token-pair differences (NaN with one pair)
    lin_f: np.ndarray  # (c,) the same for context-pair differences
    alignment: np.ndarray  # (c, c): cos(f_W, g_W'); the diagonal is the prediction
    alignment_causal: np.ndarray  # (c, c): cos(f_W, M g_W')
    orthogonality: np.ndarray  # (c, c): |cos(g_W, g_W')|
    orthogonality_causal: np.ndarray  # (c, c): |<g_W, g_W'>_M| normalised
    mean_alignment: float
    mean_off_diagonal: float  # mean |cos(f_W, g_W')|, W != W'
    random_pair_baseline: float
    p_value: float
    n_permutations: int
    exact_test: bool
    details: Mapping[str, float] = field(default_factory=dict)


def _cos_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return _unit(A) @ _unit(B).T


def _causal(M: np.ndarray, V: np.ndarray) -> np.ndarray:
    K = V @ M @ V.T
    d = np.sqrt(np.abs(np.diag(K)))
    return np.abs(K / np.outer(d, d))


def concept_geometry(unembedding, concepts: Mapping[str, ConceptData], *,
                     rng: np.random.Generator, n_permutations: int = 10_000,
                     n_random_pairs: int = 100) -> ConceptGeometry:
    """Measure linearity, alignment and orthogonality of the named concepts (see module doc).

    ``rng`` drives the sampled permutations (above EXACT_PERMUTATIONS_UP_TO concepts) and the
    random token pairs of the baseline; everything else is deterministic.
    """
    gamma = as_matrix("unembedding", unembedding, min_rows=2)
    errors.check_scale("unembedding", gamma, what=_SCALE_WHAT)
    V, d = gamma.shape
    errors.generator("rng", rng)
    errors.instance("concepts", concepts, Mapping)
    if len(concepts) < 2:
        raise InputError(f"need at least 2 concepts to compare alignment and orthogonality; got {len(concepts)}")
    n_permutations = errors.count("n_permutations", n_permutations)
    n_random_pairs = errors.count("n_random_pairs", n_random_pairs)
    names = tuple(concepts)
    g, f, lin_g, lin_f = [], [], [], []
    for name in names:
        c = concepts[name]
        if not isinstance(c, ConceptData):
            raise InputError(f"concept {name!r} must be a ConceptData; got {type(c).__name__}")
        pairs = np.asarray(c.token_pairs)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] < 1:
            raise InputError(f"concept {name!r}: token_pairs must be a (k, 2) array with k >= 1; "
                             f"got shape {pairs.shape}")
        if pairs.dtype.kind not in "iu":
            raise InputError(f"concept {name!r}: token_pairs must hold integer token ids")
        if (pairs < 0).any() or (pairs >= V).any():
            bad = pairs[(pairs < 0) | (pairs >= V)][0]
            raise InputError(f"concept {name!r}: token id {int(bad)} is outside the vocabulary [0, {V})")
        same = pairs[:, 0] == pairs[:, 1]
        if same.any():
            k = int(np.flatnonzero(same)[0])
            raise InputError(f"concept {name!r}: token pair {k} is ({int(pairs[k, 0])}, {int(pairs[k, 1])}); "
                             f"a pair must be two different tokens ({int(same.sum())} such pairs)")
        h0 = as_matrix(f"{name}.h0", c.h0)
        h1 = as_matrix(f"{name}.h1", c.h1)
        errors.check_scale(f"{name}.h0", h0, what=_SCALE_WHAT)
        errors.check_scale(f"{name}.h1", h1, what=_SCALE_WHAT)
        if h0.shape != h1.shape:
            raise InputError(f"concept {name!r}: h0 {h0.shape} and h1 {h1.shape} must pair row by row")
        if h0.shape[1] != d:
            raise InputError(f"concept {name!r}: hidden states have width {h0.shape[1]} but the "
                             f"unembedding has d = {d}")
        Dg = gamma[pairs[:, 1]] - gamma[pairs[:, 0]]
        Df = h1 - h0
        g.append(Dg.mean(0))
        f.append(Df.mean(0))
        for what, v in (("unembedding direction g (mean of gamma(y1) - gamma(y0))", g[-1]),
                        ("embedding direction f (mean of h1 - h0)", f[-1])):
            if not v.any():
                raise InputError(f"concept {name!r}: the {what} is the zero vector; its alignment "
                                 "and orthogonality are undefined")
        cg, cf = pairwise_cosines(Dg), pairwise_cosines(Df)
        lin_g.append(float(cg.mean()) if cg.size else math.nan)
        lin_f.append(float(cf.mean()) if cf.size else math.nan)
    g, f = np.array(g), np.array(f)
    M = causal_inner_product(gamma)
    align = _cos_matrix(f, g)
    align_causal = _cos_matrix(f, g @ M)
    c = len(names)
    off = ~np.eye(c, dtype=bool)
    observed = float(np.mean(np.diag(align)))
    if c <= EXACT_PERMUTATIONS_UP_TO:
        perms = np.array(list(itertools.permutations(range(c))))
        exact = True
    else:
        perms = np.array([rng.permutation(c) for _ in range(n_permutations)])
        exact = False
    null = align[np.arange(c)[None, :], perms].mean(1)  # mean cos(f_W, g_pi(W))
    if exact:  # the identity is one of the enumerated permutations: the null includes it
        p = float(np.mean(null >= observed - 1e-12))
    else:
        p = float((1 + np.sum(null >= observed - 1e-12)) / (1 + len(null)))
    for _ in range(MAX_BASELINE_DRAWS):
        r = rng.integers(V, size=(n_random_pairs, 2))
        r = r[r[:, 0] != r[:, 1]]
        if len(r):
            break
    else:
        raise InputError(f"every one of {MAX_BASELINE_DRAWS} draws of {n_random_pairs} random token "
                         f"pairs was a pair (y, y); raise n_random_pairs")
    baseline = float(np.mean(_cos_matrix(f, (gamma[r[:, 1]] - gamma[r[:, 0]]).mean(0, keepdims=True))))
    return ConceptGeometry(
        names=names, g=g, f=f, lin_g=np.array(lin_g), lin_f=np.array(lin_f),
        alignment=align, alignment_causal=align_causal,
        orthogonality=np.abs(_cos_matrix(g, g)), orthogonality_causal=_causal(M, g),
        mean_alignment=observed, mean_off_diagonal=float(np.abs(align[off]).mean()),
        random_pair_baseline=baseline, p_value=p, n_permutations=len(perms), exact_test=exact,
        details={"mean_alignment_causal": float(np.mean(np.diag(align_causal))),
                 "mean_orthogonality": float(np.abs(_cos_matrix(g, g))[off].mean()),
                 "mean_orthogonality_causal": float(_causal(M, g)[off].mean())})


def from_concept_model(model, F, G) -> dict[str, ConceptData]:
    """The adapter's input for a :class:`~sim.concepts.structure.ConceptModel` with trained
    embeddings F (contexts) and unembeddings G (tokens): concept i's token and context pairs."""
    F, G = _check_FG(model, F, G)
    out = {}
    for i in range(model.law.m):
        cp = model.context_pairs(i)
        out[f"concept {i}"] = ConceptData(token_pairs=model.token_pairs(i),
                                          h0=F[cp[:, 0]], h1=F[cp[:, 1]])
    return out
