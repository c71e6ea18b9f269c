"""The latent binary-concept model (Jiang et al. 2024): laws, contexts, tokens, metrics."""

from sim.concepts import metrics
from sim.concepts.law import MAX_EXACT_M, ConceptLaw, concept_vectors
from sim.concepts.structure import ConceptModel, ContextSet, Vocabulary

__all__ = ["MAX_EXACT_M", "ConceptLaw", "ConceptModel", "ContextSet", "Vocabulary",
           "concept_vectors", "metrics"]
