"""Fixtures shared by the theorem tests."""

import dataclasses

import pytest

from theorems.zhang2024 import runs

# The Zhang runs wing at a tiny scale: the code path of every scale (the paper tier's
# included), with every family trained 60 steps on 640 sequences, so that a claim's
# measurement runs end to end in a unit test.
TINY = dataclasses.replace(runs.SCALES["cpu"], name="tiny", n_train=640, n_probe=400, n_val=100,
                           n_test=200, steps=tuple((f, 60) for f in runs.FAMILIES))


@pytest.fixture
def tiny(monkeypatch):
    """The current scale set to :data:`TINY` for one test."""
    monkeypatch.setitem(runs.SCALES, "tiny", TINY)
    monkeypatch.setenv(runs.SCALE_ENV, "tiny")
    return TINY
