"""The one training loop.

Every simulation in the package, from gradient descent on a linear model to training a
small network, runs through :func:`train`: the caller supplies the update for one step and
an observer that turns the current state into a record; the loop owns step counting,
log-spaced checkpoints, callbacks (which may stop the run) and the history. Update rules
live with the model they update (:mod:`sim.gd` for linear models); this module knows
nothing about any of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Protocol

import numpy as np

from sim.errors import InputError, positive_int


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
        for t in self.extra_checkpoints:
            if not (isinstance(t, (int, np.integer)) and 0 <= t <= self.steps):
                raise InputError(f"extra checkpoint {t!r} is not a step in [0, {self.steps}]")

    def checkpoints(self) -> np.ndarray:
        """Sorted unique steps at which the observer is called (0 and ``steps`` included)."""
        n = max(2, int(math.ceil(self.checkpoints_per_decade * math.log10(self.steps + 1))) + 1)
        grid = np.unique(np.round(np.logspace(0.0, math.log10(self.steps), n)).astype(np.int64))
        extra = np.asarray(self.extra_checkpoints, dtype=np.int64)
        return np.unique(np.concatenate([[0], grid, extra, [self.steps]]))


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
        return self.records[-1]

    @property
    def last_step(self) -> int:
        """The step of the final record."""
        return self.steps[-1]


def stop_when(name: str, threshold: float, *, below: bool = True) -> Callback:
    """A callback that stops once record[name] is <= threshold (or >= with below=False)."""

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
    callbacks = tuple(callbacks)
    marks = config.checkpoints()
    history = History()
    start = time.perf_counter()

    def record(t: int) -> str | None:
        rec = observe(t)
        history.steps.append(t)
        history.records.append(rec)
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
