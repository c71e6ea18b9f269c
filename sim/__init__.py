"""Simulation layer: seeded data generators, the gradient-descent layer for linear models
and the one training loop.

Nothing here imports :mod:`theorems`; the dependency runs one way, ``theorems -> sim``.
"""

from sim.errors import InputError, InputTypeError
from sim.rng import Streams, streams

__all__ = ["InputError", "InputTypeError", "Streams", "streams"]
