"""The max-margin layer: hard-margin SVMs, separability certificates and the multiclass
(next-token) max-margin program, each certified by independent KKT residual checks, on an
exact power-of-two rescaling of the data (the same answers at any scale)."""

from theorems.convex._program import (
    DEFAULT_SETTINGS,
    Equilibration,
    KKTResiduals,
    MinNormSolution,
    NotSeparableError,
    SeparabilityCertificate,
    SolverFailure,
    SolverSettings,
)
from theorems.convex.maxmargin import (
    MaxMarginResult,
    MulticlassMaxMarginResult,
    max_margin,
    multiclass_max_margin,
    separability,
)

__all__ = [
    "DEFAULT_SETTINGS", "Equilibration", "KKTResiduals", "MaxMarginResult", "MinNormSolution",
    "MulticlassMaxMarginResult", "NotSeparableError", "SeparabilityCertificate",
    "SolverFailure", "SolverSettings", "max_margin", "multiclass_max_margin", "separability",
]
