"""The max-margin layer: four certified programs on an exact power-of-two rescaling of the
data (the same answers at any scale).

* :func:`max_margin`: the binary hard-margin SVM (with or without bias), certified by KKT
  residuals in the original coordinates;
* :func:`separability`: whether binary data are linearly separable, certified both ways
  (a direction with a rigorous margin bound, or multipliers of the theorem of the
  alternative, :class:`NotSeparableError`);
* :func:`multiclass_max_margin`: the multiclass (next-token) max-margin program, with
  ``n_classes`` for ordinary labels or a ``support`` mask for soft labels;
* :func:`nuclear_max_margin`: the minimum-nuclear-norm logit table (Jiang et al.'s P3),
  certified by a dual point.

A solve that cannot be certified raises :class:`SolverFailure`, naming why.
"""

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
    NuclearMaxMarginResult,
    max_margin,
    multiclass_max_margin,
    nuclear_max_margin,
    separability,
)

__all__ = [
    "DEFAULT_SETTINGS", "Equilibration", "KKTResiduals", "MaxMarginResult", "MinNormSolution",
    "MulticlassMaxMarginResult", "NotSeparableError", "NuclearMaxMarginResult",
    "SeparabilityCertificate", "SolverFailure", "SolverSettings", "max_margin",
    "multiclass_max_margin", "nuclear_max_margin", "separability",
]
