"""Shared pieces of the Jiang et al. theorem modules: citation, seeds, instances, closed forms."""

from __future__ import annotations

import numpy as np

from sim import streams
from sim.concepts import ConceptLaw, ConceptModel, ContextSet, Vocabulary

PAPER = "Jiang et al. 2024 (ICML; arXiv 2403.03867), as formalised in the spec"
SEEDS = (0, 1, 2)
TAG_D = "[D: the spec's formalisation, proved there; the paper's exact statement is unknown]"
TAG_O = "[O: the spec's own reference run; not a number from the paper]"


def dag_model(seed: int, m: int, *, q: float = 0.5, contexts: ContextSet | None = None,
              vocab: Vocabulary | None = None) -> ConceptModel:
    """The reference protocol's law (random DAG, CPTs ~ U[0.3, 0.7]) drawn from ``seed``."""
    law = ConceptLaw.random_dag(m, streams(seed).data, q=q)
    return ConceptModel.build(law, contexts, vocab)


def embedding_axes(seed: int, d: int, m: int, kind: str = "orthonormal") -> np.ndarray:
    """A (d, m) full-column-rank A: orthonormal columns, or i.i.d. Gaussian."""
    rng = streams(seed).noise
    G = rng.standard_normal((d, m))
    if kind == "orthonormal":
        return np.linalg.qr(G)[0]
    if kind == "gaussian":
        return G
    raise ValueError(f"unknown embedding axes kind {kind!r}")


def closed_form_G(C: np.ndarray, A: np.ndarray) -> np.ndarray:
    """D-T2: G* = 1/2 (2C - 1) (A^T A)^{-1} A^T."""
    return 0.5 * (2 * C - 1) @ np.linalg.solve(A.T @ A, A.T)


def canonical_Z(S: np.ndarray, C: np.ndarray) -> np.ndarray:
    """D-P2: Z_c = 1/2 S (2C - 1)^T."""
    return 0.5 * S @ (2 * C - 1).T
