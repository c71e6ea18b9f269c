"""Simulation layer: seeded data generators, exact oracles, the gradient-descent layer for
linear models, the one training loop, models and probes.

The public API is listed in ``__all__`` and imported lazily (``sim.train`` loads the
training loop when first used):

* seeds and threads: :func:`streams` (:class:`Streams`), :func:`fixed_threads`,
  ``RUN_THREADS``;
* bad input: :class:`InputError`, :class:`InputTypeError` (validators in
  :mod:`sim.errors`);
* the GD layer (:mod:`sim.gd`): ``sim.gd.run`` and its :class:`Trajectory`,
  :func:`fit_inverse_angle`;
* the training loop (:mod:`sim.train`): ``sim.train.train``, :class:`TrainConfig`,
  :class:`OptimConfig`, :class:`History`, :class:`Callback`, :func:`stop_when`,
  :func:`optimizer_step`;
* the exact oracles (:mod:`sim.bayes`): :class:`BetaBernoulli`, :class:`NormalGamma`,
  :class:`GammaExponential`, :class:`HMM`, :class:`RectangleGame`, :class:`LDA`;
* the latent binary-concept model (:mod:`sim.concepts`): :class:`ConceptLaw`,
  :class:`ConceptModel`, :class:`ContextSet`, :class:`Vocabulary`;
* probes (:mod:`sim.probes`): :func:`ridge_probe`, :func:`softmax_probe`,
  :func:`mlp_probe`, :func:`split` (:class:`Split`), :class:`ProbeResult`;
* data generators: :mod:`sim.data.separable`; models: :mod:`sim.models`.

Nothing here imports :mod:`theorems`; the dependency runs one way, ``theorems -> sim``.
"""

from __future__ import annotations

from sim._lazy import lazy_api

# name -> the module that defines it (imported on first use); modules map to themselves
_API = {
    "sim.errors": ("InputError", "InputTypeError"),
    "sim.rng": ("Streams", "streams"),
    "sim.threads": ("RUN_THREADS", "fixed_threads"),
    "sim.gd": ("Trajectory", "fit_inverse_angle"),
    "sim.train": ("Callback", "History", "OptimConfig", "TrainConfig", "optimizer_step",
                  "stop_when"),
    "sim.bayes": ("BetaBernoulli", "GammaExponential", "HMM", "LDA", "NormalGamma",
                  "RectangleGame"),
    "sim.concepts": ("ConceptLaw", "ConceptModel", "ContextSet", "Vocabulary"),
    "sim.probes": ("ProbeResult", "Split", "mlp_probe", "ridge_probe", "softmax_probe", "split"),
}
# ``sim.train`` is the module; its loop is ``sim.train.train`` (a top-level name ``train``
# would be shadowed by the submodule once it is imported)
_MODULES = ("bayes", "concepts", "data", "errors", "gd", "models", "probes", "rng", "threads",
            "train")
__all__, __getattr__, __dir__ = lazy_api("sim", globals(), _API, _MODULES)
