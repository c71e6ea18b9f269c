"""Theorems about learned representations, each checked three ways.

The public API, everything a new theorem composes, is listed in ``__all__`` and imported
lazily (``import theorems`` loads nothing heavy; ``theorems.max_margin`` loads the
max-margin layer when first used):

* the contract (:mod:`theorems.base`): :class:`Theorem`, :class:`Claim`,
  :class:`Measurement`, :class:`Evidence`, :class:`SolveResult`, :class:`ClaimFailed`;
* named tolerances and thresholds (:mod:`theorems.tolerances`): :class:`Threshold`,
  :class:`Tol` and the shared tiers;
* the statistics claims are judged with: :func:`aggregate` (``worst``, ``median``,
  ``mean_bound``) and :func:`paired_z`;
* the symbolic layer: :class:`Decision`, :func:`decide_identity`, :func:`exact_kkt`,
  :func:`rational_matrix`;
* the max-margin layer (:mod:`theorems.convex`): :func:`max_margin`,
  :func:`separability`, :func:`multiclass_max_margin`, :func:`nuclear_max_margin`, their
  results and errors;
* the closed forms of the Jiang et al. theorems (:mod:`theorems.jiang2024.closed_forms`):
  :func:`closed_form_G` (D-T2) and :func:`canonical_Z` (D-P2);
* the registry (:mod:`theorems.registry`): :func:`all_theorems`, :func:`all_claims`,
  :func:`get_theorem`, :func:`get_claim` and its typed errors.

One subpackage per paper holds one module per theorem. The simulation side (data, the GD
layer, the training loop, oracles, probes) is :mod:`sim`.
"""

from __future__ import annotations

from sim._lazy import lazy_api

# name -> the module that defines it (imported on first use)
_API = {
    "theorems.base": ("CONFIDENCE", "Claim", "ClaimFailed", "Evidence", "KINDS",
                      "MIN_REFUTATION_SEEDS", "Measurement", "STATISTICS", "SolveResult",
                      "Theorem", "aggregate", "paired_z"),
    "theorems.tolerances": ("FLOAT64_EXACT", "KKT_RESIDUAL", "SEPARABILITY",
                            "SYMBOLIC_SPOT_CHECK", "Threshold", "Tol"),
    "theorems._symbolic": ("Decision", "VacuousCheck", "decide_identity", "exact_kkt",
                           "rational_matrix"),
    "theorems.convex": ("DEFAULT_SETTINGS", "KKTResiduals", "MaxMarginResult",
                        "MulticlassMaxMarginResult", "NotSeparableError",
                        "NuclearMaxMarginResult", "SeparabilityCertificate", "SolverFailure",
                        "SolverSettings", "max_margin", "multiclass_max_margin",
                        "nuclear_max_margin", "separability"),
    "theorems.jiang2024.closed_forms": ("canonical_Z", "closed_form_G"),
    "theorems.registry": ("ExtraPackageError", "RegistryError", "UnknownClaimError",
                          "UnknownTheoremError", "all_claims", "all_theorems", "get_claim",
                          "get_theorem"),
}
__all__, __getattr__, __dir__ = lazy_api("theorems", globals(), _API)
