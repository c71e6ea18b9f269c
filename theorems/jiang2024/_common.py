"""Shared pieces of the Jiang et al. theorem modules: citation, seeds, instances, and the
closed forms (public in :mod:`theorems.jiang2024.closed_forms`)."""

from __future__ import annotations

import numpy as np

from sim import streams
from sim.concepts import ConceptLaw, ConceptModel, ContextSet, Vocabulary
from theorems.jiang2024.closed_forms import canonical_Z, closed_form_G

__all__ = ["PAPER", "SEEDS", "TAG_D", "TAG_O", "canonical_Z", "closed_form_G", "dag_model",
           "embedding_axes"]

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
