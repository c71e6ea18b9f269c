"""The one training loop.

Every simulation in the package, from gradient descent on a linear model to training a
small network, runs through :func:`train`: the caller supplies the update for one step and
an observer that turns the current state into a record; the loop owns step counting,
log-spaced checkpoints, callbacks (which may stop the run) and the history. Update rules
live with the model they update (:mod:`sim.gd` for linear models); this module knows
nothing about any of them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Protocol

import numpy as np
import torch

from sim import errors
from sim.errors import InputError, positive_float, positive_int

OPTIMIZERS = ("gd", "adam")

# Progress of long runs: silent by default; `pytest --log-cli-level=INFO` (or any logging
# configuration at INFO) shows it live, at most one line per PROGRESS_EVERY_S per run.
PROGRESS = logging.getLogger("representation_theorems.progress")
PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class TrainConfig:
    """How long to run and where to record.

    Parameters
    ----------
    steps : int
        Maximum number of update steps.
    checkpoints_per_decade : int
        Records are taken at step 0, at about this many log-spaced steps per decade of t,
        and at the last step; log spacing is what rate fits in ln t need.
    extra_checkpoints : tuple of int
        Further steps at which to record (e.g. the ends of a fit window).
    """

    steps: int
    checkpoints_per_decade: int = 10
    extra_checkpoints: tuple[int, ...] = ()

    def __post_init__(self):
        positive_int("steps", self.steps)
        positive_int("checkpoints_per_decade", self.checkpoints_per_decade)
        for t in errors.sequence("extra_checkpoints", self.extra_checkpoints):
            if isinstance(t, (bool, np.bool_)) or not (isinstance(t, (int, np.integer)) and 0 <= t <= self.steps):
                raise InputError(f"extra checkpoint {t!r} is not a step in [0, {self.steps}]")

    def checkpoints(self) -> np.ndarray:
        """Sorted unique steps at which the observer is called (0 and ``steps`` included)."""
        n = max(2, int(math.ceil(self.checkpoints_per_decade * math.log10(self.steps + 1))) + 1)
        grid = np.unique(np.round(np.logspace(0.0, math.log10(self.steps), n)).astype(np.int64))
        extra = np.asarray(self.extra_checkpoints, dtype=np.int64)
        return np.unique(np.concatenate([[0], grid, extra, [self.steps]]))


@dataclass(frozen=True)
class OptimConfig:
    """A full-batch update rule: plain gradient descent or Adam (``eps`` may be 0)."""

    name: str = "gd"
    lr: float = 0.5
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {OPTIMIZERS}; got {self.name!r}")
        positive_float("lr", self.lr)
        betas = errors.sequence("betas", self.betas)
        if len(betas) != 2:
            raise InputError(f"Adam betas must be a pair (beta1, beta2); got {self.betas!r}")
        for i, b in enumerate(betas):
            errors.in_interval(f"betas[{i}]", b, 0.0, 1.0, high_open=True, label="Adam betas")
        errors.nonnegative_float("eps", self.eps)


def optimizer_step(params, config: OptimConfig, *, grad_fn=None,
                   loss_fn=None) -> Callable[[int], None]:
    """A ``step(t)`` for :func:`train` applying ``config``'s update to ``params`` in place.

    Gradients come from ``grad_fn()`` (a list of tensors, e.g. closed-form gradients,
    which cost a fraction of autograd on small models) or from autograd on ``loss_fn()``;
    give exactly one. ``gd``: p -= lr * g. ``adam``: the bias-corrected Adam update
    p -= lr * m_hat / (sqrt(v_hat) + eps), with eps = 0 allowed (the l_inf-biased limit).
    """
    errors.instance("config", config, OptimConfig)
    params = list(errors.sequence("params", params))
    if not params:
        raise InputError("no parameters to optimise")
    for i, p in enumerate(params):
        if not (isinstance(p, torch.Tensor) and p.dtype.is_floating_point):
            raise errors.InputTypeError(f"params[{i}] must be a floating-point torch.Tensor; got "
                                        f"{type(p).__name__}{'' if not isinstance(p, torch.Tensor) else ' of dtype ' + str(p.dtype)}")
    if (grad_fn is None) == (loss_fn is None):
        raise InputError("give exactly one of grad_fn or loss_fn")
    errors.function("grad_fn" if grad_fn is not None else "loss_fn", grad_fn if grad_fn is not None else loss_fn)
    if grad_fn is None:
        def grad_fn():
            return torch.autograd.grad(loss_fn(), params)

    lr = config.lr
    if config.name == "gd":
        def step(t: int) -> None:
            grads = grad_fn()  # outside no_grad: the autograd path needs a graph
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(g, alpha=lr)
        return step

    b1, b2 = config.betas
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]

    # torch's foreach ops apply each per-tensor kernel in turn (on a CPU; bit-identical to a
    # loop over the parameters, tested), with one dispatch per operation instead of one per
    # parameter, which on a small transformer's ~30 tensors is most of the update's cost.
    def step(t: int) -> None:
        grads = list(grad_fn())
        with torch.no_grad():
            torch._foreach_mul_(m1, b1)
            torch._foreach_add_(m1, grads, alpha=1 - b1)
            torch._foreach_mul_(m2, b2)
            torch._foreach_addcmul_(m2, grads, grads, value=1 - b2)
            denom = torch._foreach_div(m2, 1 - b2**t)
            torch._foreach_sqrt_(denom)
            torch._foreach_add_(denom, config.eps)
            torch._foreach_addcdiv_(params, m1, denom, value=-lr / (1 - b1**t))
    return step


class Callback(Protocol):
    """Called with each record; returning a non-empty string stops the run with that reason."""

    def __call__(self, step: int, record: Mapping[str, float]) -> str | None: ...


@dataclass
class History:
    """Records taken at the checkpoints of one run."""

    steps: list[int] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    stop_reason: str | None = None
    seconds: float = 0.0

    def column(self, name: str) -> np.ndarray:
        """The recorded values of ``name`` over the checkpoints, as a float64 array."""
        if not self.records or name not in self.records[0]:
            known = sorted(self.records[0]) if self.records else []
            raise InputError(f"no recorded quantity {name!r}; recorded: {known}")
        return np.array([r[name] for r in self.records], dtype=np.float64)  # (T,) or (T, p)

    @property
    def last(self) -> dict:
        """The final record."""
        if not self.records:
            raise InputError("the history has no records yet")
        return self.records[-1]

    @property
    def last_step(self) -> int:
        """The step of the final record."""
        if not self.steps:
            raise InputError("the history has no records yet")
        return self.steps[-1]


def stop_when(name: str, threshold: float, *, below: bool = True) -> Callback:
    """A callback that stops once record[name] is <= threshold (or >= with below=False)."""
    if not isinstance(name, str):
        raise errors.InputTypeError(f"name must be the str key of a recorded quantity; got {type(name).__name__}")
    threshold = errors.finite_float("threshold", threshold)

    def callback(step: int, record: Mapping[str, float]) -> str | None:
        value = record[name]
        hit = value <= threshold if below else value >= threshold
        return f"{name} {'<=' if below else '>='} {threshold:g} at step {step}" if hit else None

    return callback


def train(
    step: Callable[[int], None],
    config: TrainConfig,
    observe: Callable[[int], dict],
    callbacks: Iterable[Callback] = (),
) -> History:
    """Run ``step(t)`` for t = 1..config.steps, recording ``observe(t)`` at the checkpoints.

    ``step`` performs update number t in place on state it closes over. ``observe`` must
    return a dict of floats; a non-finite value stops the run (reason recorded), because a
    trajectory that has overflowed can only mislead the statistics computed from it.
    """
    errors.function("step", step)
    errors.instance("config", config, TrainConfig)
    errors.function("observe", observe)
    callbacks = errors.functions("callbacks", callbacks)
    marks = config.checkpoints()
    history = History()
    start = time.perf_counter()
    last_log = [start]
    verbose = PROGRESS.isEnabledFor(logging.INFO)

    def record(t: int) -> str | None:
        rec = observe(t)
        if not isinstance(rec, Mapping):
            raise errors.InputTypeError(f"observe must return a dict of recorded quantities; got "
                                        f"{type(rec).__name__} at step {t}")
        history.steps.append(t)
        history.records.append(rec)
        if verbose and (time.perf_counter() - last_log[0] >= PROGRESS_EVERY_S or t == config.steps):
            last_log[0] = time.perf_counter()
            shown = ", ".join(f"{k}={v:.4g}" for k, v in rec.items() if isinstance(v, float))
            PROGRESS.info("step %d/%d (%.0f%%) after %.1fs: %s", t, config.steps,
                          100.0 * t / config.steps, last_log[0] - start, shown)
        bad = [k for k, v in rec.items()
               if isinstance(v, (int, float, np.number)) and not math.isfinite(float(v))]
        if bad:
            return f"non-finite {bad} at step {t}"
        for cb in callbacks:
            reason = cb(t, rec)
            if reason:
                return reason
        return None

    reason = record(0)
    k = 1
    t = 0
    while reason is None and t < config.steps:
        nxt = int(marks[k])
        while t < nxt:
            t += 1
            step(t)
        k += 1
        reason = record(t)
    history.stop_reason = reason
    history.seconds = time.perf_counter() - start
    return history
