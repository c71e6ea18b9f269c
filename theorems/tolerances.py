"""Named tolerances and thresholds, each with the reason for its value.

A bare literal never appears in an assertion: a check names one of these (or builds its
own :class:`Tol` / :class:`Threshold` with a ``why``), and the report prints the reason
next to the number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tol:
    """``|measured - expected| <= atol + rtol * |expected|``, with the reason for both numbers."""

    why: str
    atol: float = 0.0
    rtol: float = 0.0

    def __post_init__(self):
        if not self.why.strip():
            raise ValueError("a tolerance needs a reason (why)")
        if self.atol < 0 or self.rtol < 0 or (self.atol == 0 and self.rtol == 0):
            raise ValueError(f"tolerance must have atol >= 0, rtol >= 0, not both 0: {self}")

    def bound(self, expected: float) -> float:
        return self.atol + self.rtol * abs(expected)

    def accepts(self, measured: float, expected: float) -> bool:
        return abs(measured - expected) <= self.bound(expected)

    def describe(self) -> str:
        parts = [f"atol {self.atol:.0e}"] if self.atol else []
        parts += [f"rtol {self.rtol:.0e}"] if self.rtol else []
        return " + ".join(parts)


@dataclass(frozen=True)
class Threshold:
    """A one-sided bound on a statistic: ``measured <= bound`` (``upper``) or ``>=``."""

    statistic: str
    bound: float
    why: str
    upper: bool = True

    def __post_init__(self):
        if not self.why.strip():
            raise ValueError("a threshold needs a reason (why)")

    def accepts(self, measured: float) -> bool:
        return measured <= self.bound if self.upper else measured >= self.bound

    def describe(self) -> str:
        return f"{self.statistic} {'<=' if self.upper else '>='} {self.bound:g}"


# --- shared tiers -------------------------------------------------------------------------

KKT_RESIDUAL = Tol(
    atol=1e-8,
    why="Clarabel is run at 1e-10 gap/feasibility tolerances and the active-set refinement "
    "solves the KKT system in float64; 1e-8 leaves 100x headroom for conditioning",
)

SEPARABILITY = Tol(
    atol=1e-7,
    why="the separability LP is solved to 1e-10 on the exactly equilibrated data (every row's "
    "largest entry in [1/2, 1)); a box margin below 1e-7 of the largest equilibrated row "
    "l1-norm is indistinguishable from 0: not separable, once multipliers of the theorem of "
    "the alternative prove the margin that small (a scale-free threshold)",
)

FLOAT64_EXACT = Tol(
    atol=1e-10,
    why="a float64 linear solve of a well-conditioned KKT system is exact to ~1e-14; "
    "1e-10 allows condition numbers up to ~1e4",
)

SYMBOLIC_SPOT_CHECK = Tol(
    rtol=1e-12, atol=1e-12,
    why="a proved identity evaluated in float64 at a random admissible point differs only "
    "by rounding",
)
