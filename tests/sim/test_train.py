"""The training loop: checkpoint schedule, step order, records, callbacks and stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import InputError
from sim.train import History, OptimConfig, TrainConfig, optimizer_step, stop_when, train

# Rounding log-spaced points to integers and the two end points can move one checkpoint
# into or out of a decade, so the count in a full decade may differ from the target by 1.
PER_DECADE_SLACK = 1


class _Counter:
    """A step function that records the order of the steps it is called with."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, t: int) -> None:
        self.calls.append(t)


def _full_decades(steps: int):
    """Decades [10^k, 10^(k+1)), k >= 1, that lie wholly inside [1, steps]."""
    k = 1
    while 10 ** (k + 1) <= steps:
        yield k
        k += 1


# --- TrainConfig.checkpoints ------------------------------------------------------------

@given(steps=st.integers(1, 10**6), per_decade=st.integers(1, 30),
       extra=st.lists(st.integers(0, 10**6), max_size=4))
def test_checkpoints_are_sorted_unique_integers_in_range_including_zero_steps_and_extras(
        steps, per_decade, extra):
    extra = tuple(t for t in extra if t <= steps)
    cp = TrainConfig(steps, per_decade, extra).checkpoints()
    assert np.issubdtype(cp.dtype, np.integer)
    assert cp[0] == 0
    assert cp[-1] == steps
    assert np.all(np.diff(cp) > 0)
    assert set(extra) <= set(cp.tolist())


@given(steps=st.integers(100, 10**6), per_decade=st.integers(1, 20))
def test_checkpoints_are_log_spaced_with_about_the_requested_count_per_decade(steps, per_decade):
    cp = TrainConfig(steps, per_decade).checkpoints()
    for k in _full_decades(steps):
        count = int(((cp >= 10**k) & (cp < 10 ** (k + 1))).sum())
        assert abs(count - per_decade) <= PER_DECADE_SLACK, (k, count, cp)


def test_checkpoints_of_ten_thousand_steps_at_ten_per_decade_have_ten_in_each_full_decade():
    cp = TrainConfig(10_000, 10).checkpoints()
    counts = [int(((cp >= 10**k) & (cp < 10 ** (k + 1))).sum()) for k in (1, 2, 3)]
    assert counts == [10, 10, 10]


def test_a_single_step_run_checkpoints_only_zero_and_one():
    np.testing.assert_array_equal(TrainConfig(1).checkpoints(), [0, 1])


# --- TrainConfig validation -------------------------------------------------------------

@pytest.mark.parametrize("steps", [0, -1, 2.0, True, None, "10"])
def test_train_config_rejects_a_step_count_that_is_not_a_positive_integer(steps):
    with pytest.raises(InputError, match="steps must be a positive integer"):
        TrainConfig(steps)


@pytest.mark.parametrize("per_decade", [0, -3, 1.5, False])
def test_train_config_rejects_a_checkpoint_density_that_is_not_a_positive_integer(per_decade):
    with pytest.raises(InputError, match="checkpoints_per_decade must be a positive integer"):
        TrainConfig(10, per_decade)


@pytest.mark.parametrize("extra", [(11,), (-1,), (2.5,), ("3",)])
def test_train_config_rejects_extra_checkpoints_outside_the_run_or_not_integers(extra):
    with pytest.raises(InputError, match=r"extra checkpoint .* is not a step in \[0, 10\]"):
        TrainConfig(10, extra_checkpoints=extra)


# --- train ----------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [1, 2, 17, 1000])
def test_train_calls_step_exactly_steps_times_in_order_one_to_steps(steps):
    step = _Counter()
    history = train(step, TrainConfig(steps, 5), lambda t: {"t": float(t)})
    assert step.calls == list(range(1, steps + 1))
    assert history.stop_reason is None
    assert history.last_step == steps


def test_train_records_exactly_at_the_checkpoints_after_that_many_steps():
    config = TrainConfig(500, 4, extra_checkpoints=(123, 321))
    step = _Counter()
    seen = []

    def observe(t):
        seen.append((t, len(step.calls)))
        return {"t": float(t), "done": float(len(step.calls))}

    history = train(step, config, observe)
    marks = config.checkpoints().tolist()
    assert history.steps == marks
    # The observer for checkpoint t runs after exactly t steps, once per checkpoint.
    assert seen == [(t, t) for t in marks]
    np.testing.assert_array_equal(history.column("done"), np.array(marks, dtype=np.float64))
    assert history.last == {"t": 500.0, "done": 500.0}
    assert history.seconds >= 0.0


def test_stop_when_stops_the_run_at_the_first_checkpoint_below_the_threshold_with_a_reason():
    config = TrainConfig(10_000, 10)
    step = _Counter()
    history = train(step, config, lambda t: {"loss": 1.0 / (t + 1)},
                    callbacks=[stop_when("loss", 0.01)])
    marks = config.checkpoints()
    first = int(marks[marks >= 99][0])
    assert history.last_step == first
    assert step.calls == list(range(1, first + 1))
    assert history.stop_reason == f"loss <= 0.01 at step {first}"


def test_stop_when_above_stops_once_the_value_reaches_the_threshold():
    config = TrainConfig(1000, 10)
    history = train(_Counter(), config, lambda t: {"norm": float(t)},
                    callbacks=[stop_when("norm", 50.0, below=False)])
    marks = config.checkpoints()
    first = int(marks[marks >= 50][0])
    assert history.last_step == first
    assert history.stop_reason == f"norm >= 50 at step {first}"


def test_a_callback_that_never_fires_lets_the_run_finish():
    history = train(_Counter(), TrainConfig(100, 3), lambda t: {"loss": 1.0},
                    callbacks=[stop_when("loss", 0.5)])
    assert history.stop_reason is None
    assert history.last_step == 100


def test_any_callback_returning_a_string_stops_the_run_with_that_reason():
    def at_step_ten_or_later(step, record):
        return "enough" if step >= 10 else None

    step = _Counter()
    history = train(step, TrainConfig(1000, 10), lambda t: {"x": 0.0},
                    callbacks=[lambda s, r: None, at_step_ten_or_later])
    assert history.stop_reason == "enough"
    assert history.last_step == len(step.calls)
    assert 10 <= history.last_step < 1000


def test_a_callback_can_stop_the_run_at_step_zero_before_any_update():
    step = _Counter()
    history = train(step, TrainConfig(50), lambda t: {"x": 0.0}, callbacks=[lambda s, r: "now"])
    assert step.calls == []
    assert history.steps == [0]
    assert history.stop_reason == "now"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64(np.nan)])
def test_a_non_finite_record_stops_the_run_with_a_reason_naming_the_key(bad):
    config = TrainConfig(1000, 10)
    step = _Counter()
    history = train(step, config, lambda t: {"fine": 1.0, "loss": bad if t >= 40 else 1.0})
    marks = config.checkpoints()
    first = int(marks[marks >= 40][0])
    assert history.last_step == first
    assert step.calls == list(range(1, first + 1))
    assert history.stop_reason == f"non-finite ['loss'] at step {first}"
    # The offending record is kept, so the caller can see what went wrong.
    assert not math.isfinite(history.last["loss"])


def test_a_non_finite_record_stops_the_run_before_callbacks_see_it():
    seen = []

    def spy(step, record):
        seen.append(step)
        return None

    history = train(_Counter(), TrainConfig(100, 5), lambda t: {"loss": math.nan if t else 1.0},
                    callbacks=[spy])
    assert seen == [0]
    assert history.steps == [0, 1]
    assert "'loss'" in history.stop_reason


# --- History ---------------------------------------------------------------------------

def test_history_column_returns_the_recorded_values_as_float64():
    h = History(steps=[0, 1, 2], records=[{"a": 1, "b": 0.5}, {"a": 2, "b": 0.25}, {"a": 3, "b": 0.0}])
    col = h.column("a")
    assert col.dtype == np.float64
    np.testing.assert_array_equal(col, [1.0, 2.0, 3.0])
    assert h.last == {"a": 3, "b": 0.0}
    assert h.last_step == 2


def test_history_column_of_an_unknown_name_raises_listing_the_recorded_names():
    h = History(steps=[0], records=[{"loss": 1.0, "norm": 0.0}])
    with pytest.raises(InputError, match=r"no recorded quantity 'margin'; recorded: \['loss', 'norm'\]"):
        h.column("margin")


def test_history_column_of_an_empty_history_raises():
    with pytest.raises(InputError, match=r"no recorded quantity 'loss'; recorded: \[\]"):
        History().column("loss")


def test_progress_is_silent_by_default_and_logged_at_info(caplog):
    import logging

    from sim.train import PROGRESS, TrainConfig, train

    config = TrainConfig(steps=50)
    with caplog.at_level(logging.WARNING, logger=PROGRESS.name):
        train(lambda t: None, config, lambda t: {"x": float(t)})
    assert not caplog.records
    with caplog.at_level(logging.INFO, logger=PROGRESS.name):
        train(lambda t: None, config, lambda t: {"x": float(t)})
    assert any("step 50/50 (100%)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("eps", [1e-8, 0.0])
def test_adam_step_is_the_per_parameter_update_bit_for_bit(eps):
    """The foreach update equals the textbook loop over parameters exactly (float32, tensors
    of several shapes, 50 steps of random gradients): the loop is what the trained runs'
    numbers were measured with, so the update must not move them by a rounding."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(3,), (4, 5), (2, 3, 4), (1,)]
    start = [torch.randn(s, generator=gen) for s in shapes]
    params = [p.clone() for p in start]
    grads: list = []
    step = optimizer_step(params, OptimConfig("adam", 1e-2, eps=eps), grad_fn=lambda: grads)
    ref, m1, m2 = [p.clone() for p in start], [torch.zeros(s) for s in shapes], [torch.zeros(s) for s in shapes]
    for t in range(1, 51):
        grads[:] = [torch.randn(s, generator=gen) for s in shapes]
        step(t)
        for p, g, a, b in zip(ref, grads, m1, m2):
            a.mul_(0.9).add_(g, alpha=0.1)
            b.mul_(0.999).addcmul_(g, g, value=1 - 0.999)
            p.addcdiv_(a, (b / (1 - 0.999**t)).sqrt_().add_(eps), value=-1e-2 / (1 - 0.9**t))
    assert all(torch.equal(p, r) for p, r in zip(params, ref))
    assert not any(torch.equal(p, s) for p, s in zip(params, start))
