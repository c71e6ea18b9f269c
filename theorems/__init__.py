"""Theorems about learned representations, each checked three ways.

The contract (:mod:`theorems.base`), named tolerances (:mod:`theorems.tolerances`), the
registry that discovers theorem modules (:mod:`theorems.registry`), the shared symbolic
layer (:mod:`theorems._symbolic`) and the max-margin layer (:mod:`theorems.convex`); one
subpackage per paper holds one module per theorem.
"""

from theorems.base import Claim, ClaimFailed, Evidence, Measurement, Theorem
from theorems.tolerances import Threshold, Tol

__all__ = ["Claim", "ClaimFailed", "Evidence", "Measurement", "Theorem", "Threshold", "Tol",
           "all_claims", "all_theorems", "get_claim"]


def __getattr__(name):
    # The registry imports every theorem module; load it only when asked for.
    if name in ("all_claims", "all_theorems", "get_claim"):
        from theorems import registry
        return getattr(registry, name)
    raise AttributeError(name)
