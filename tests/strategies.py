"""Shared Hypothesis strategies; each domain is exactly a theorem's assumptions.

Instances are built by construction (planted separators), not filtered, and carry only an
integer seed drawn by Hypothesis: the arrays come from local generators seeded by it.
"""

from __future__ import annotations

from hypothesis import strategies as st

from sim import streams
from sim.data import separable

seeds = st.integers(min_value=0, max_value=2**31 - 1)


@st.composite
def separable_binary(draw, n=(5, 200), d=(2, 20)):
    """Binary data separable through the origin (any anisotropy in [1, 100])."""
    seed = draw(seeds)
    nn, dd = draw(st.integers(*n)), draw(st.integers(*d))
    anisotropy = draw(st.floats(1.0, 100.0))
    margin = draw(st.floats(0.05, 1.0))
    X, y = separable.planted(nn, dd, streams(seed).data, anisotropy=anisotropy, margin=margin)
    return X, y


@st.composite
def separable_multiclass(draw, n=(6, 80), d=(2, 8), k=(3, 5)):
    """Multiclass data separable by a linear argmax."""
    seed = draw(seeds)
    X, y = separable.planted_multiclass(draw(st.integers(*n)), draw(st.integers(*d)),
                                        kk := draw(st.integers(*k)), streams(seed).data)
    return X, y, kk


@st.composite
def rational_binary(draw, n=(3, 25), d=(2, 4)):
    """Small-integer separable data for exact rational arithmetic."""
    seed = draw(seeds)
    return separable.rational(draw(st.integers(*n)), draw(st.integers(*d)), streams(seed).data)
