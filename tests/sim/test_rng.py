"""Seeded streams: reproducible, seed-dependent, and independent of each other."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.errors import InputError
from sim.rng import STREAMS

DRAWS = 8  # values compared per stream; 8 float64 draws never coincide by chance


def _draw(gen: np.random.Generator) -> np.ndarray:
    return gen.random(DRAWS)


@given(seed=st.integers(0, 2**63))
def test_the_same_seed_gives_the_same_draws_on_every_stream(seed):
    a, b = sim.streams(seed), sim.streams(seed)
    for name in STREAMS:
        np.testing.assert_array_equal(_draw(getattr(a, name)), _draw(getattr(b, name)))


@given(seed=st.integers(0, 10**6), delta=st.integers(1, 10**6))
def test_different_seeds_give_different_draws_on_every_stream(seed, delta):
    a, b = sim.streams(seed), sim.streams(seed + delta)
    for name in STREAMS:
        assert not np.array_equal(_draw(getattr(a, name)), _draw(getattr(b, name))), name


def test_the_named_streams_of_one_seed_differ_from_each_other():
    s = sim.streams(11)
    draws = {name: _draw(getattr(s, name)) for name in STREAMS}
    for i, x in enumerate(STREAMS):
        for y in STREAMS[i + 1:]:
            assert not np.array_equal(draws[x], draws[y]), (x, y)


@pytest.mark.parametrize("used", STREAMS)
def test_drawing_from_one_stream_does_not_change_the_draws_of_the_others(used):
    fresh = sim.streams(3)
    busy = sim.streams(3)
    getattr(busy, used).standard_normal(1000)  # consume one stream heavily
    for name in STREAMS:
        if name != used:
            np.testing.assert_array_equal(_draw(getattr(busy, name)), _draw(getattr(fresh, name)))


def test_drawing_data_does_not_change_init():
    a, b = sim.streams(42), sim.streams(42)
    a.data.integers(0, 10, size=500)
    np.testing.assert_array_equal(a.init.standard_normal(DRAWS), b.init.standard_normal(DRAWS))


def test_seeds_equal_as_integers_give_equal_streams_whatever_their_integer_type():
    np.testing.assert_array_equal(_draw(sim.streams(np.int64(9)).data), _draw(sim.streams(9).data))


# --- torch generators -----------------------------------------------------------------------

def _torch_draw(g: torch.Generator) -> np.ndarray:
    return torch.rand(DRAWS, generator=g, dtype=torch.float64).numpy()


def test_the_torch_data_generator_is_reproducible_from_the_seed():
    np.testing.assert_array_equal(_torch_draw(sim.streams(5).torch("data")),
                                  _torch_draw(sim.streams(5).torch("data")))


def test_repeated_torch_calls_on_one_streams_object_restart_the_same_sequence():
    s = sim.streams(5)
    np.testing.assert_array_equal(_torch_draw(s.torch("data")), _torch_draw(s.torch("data")))


def test_torch_generators_differ_between_streams_and_between_seeds():
    s = sim.streams(5)
    data = _torch_draw(s.torch("data"))
    assert not np.array_equal(data, _torch_draw(s.torch("init")))
    assert not np.array_equal(data, _torch_draw(sim.streams(6).torch("data")))


def test_making_a_torch_generator_does_not_advance_the_numpy_stream():
    a, b = sim.streams(8), sim.streams(8)
    _torch_draw(a.torch("data"))
    np.testing.assert_array_equal(_draw(a.data), _draw(b.data))


def test_torch_generators_leave_the_global_torch_generator_alone():
    before = torch.random.get_rng_state()
    _torch_draw(sim.streams(8).torch("noise"))
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("name", ["Data", "weights", "", "seed"])
def test_an_unknown_torch_stream_name_raises_listing_the_known_ones(name):
    with pytest.raises(InputError, match=f"unknown stream {name!r}; known: "):
        sim.streams(0).torch(name)
