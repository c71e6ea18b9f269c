"""Shared sympy helpers: exact decisions with three outcomes, never a silent pass.

A :class:`Decision` is ``proved``, ``refuted`` or ``undecided``. Identities are decided
by simplifying the difference to zero, then spot-checked numerically at random admissible
points (a proof that the numbers contradict is reported as refuted), and an identity whose
two sides are the same expression before any work is refused as vacuous. Undecided
identities fall back to a high-precision numeric check, reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from sim.errors import InputError

OUTCOMES = ("proved", "refuted", "undecided")


@dataclass(frozen=True)
class Decision:
    """The outcome of an exact check, with what it rests on."""

    outcome: str
    detail: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")

    @property
    def proved(self) -> bool:
        return self.outcome == "proved"


class VacuousCheck(ValueError):
    """An identity whose two sides are literally the same expression proves nothing."""


def decide_identity(lhs, rhs, points: Sequence[Mapping[sympy.Symbol, float]],
                    rel_tol: float = 1e-12, digits: int = 30) -> Decision:
    """Decide lhs == rhs: simplify the difference, then evaluate at ``points``.

    ``points`` are admissible values (respecting the symbols' assumptions) drawn by the
    caller; at least one is required, so that every proof is also spot-checked.
    """
    if not points:
        raise InputError("decide_identity needs at least one admissible point to spot-check")
    if sympy.srepr(sympy.sympify(lhs)) == sympy.srepr(sympy.sympify(rhs)):
        raise VacuousCheck(f"both sides are the same expression {lhs}; nothing is being checked")
    diff = sympy.expand_log(sympy.sympify(lhs) - sympy.sympify(rhs))  # cheap first pass
    if diff != 0:
        diff = sympy.simplify(diff)
    worst = 0.0
    for pt in points:
        a = complex(sympy.N(sympy.sympify(lhs).subs(pt), digits))
        b = complex(sympy.N(sympy.sympify(rhs).subs(pt), digits))
        worst = max(worst, abs(a - b) / max(1.0, abs(b)))
    numeric_ok = worst <= rel_tol
    if diff == 0:
        if not numeric_ok:
            return Decision("refuted", f"simplified to 0 but differs by {worst:.2e} at a point",
                            {"spot_check_error": worst})
        return Decision("proved", "difference simplifies to 0; spot checks agree",
                        {"spot_check_error": worst})
    if not numeric_ok:
        return Decision("refuted", f"sides differ by {worst:.2e} (relative) at an admissible point",
                        {"spot_check_error": worst})
    return Decision("undecided", f"not simplified to 0; agrees to {worst:.1e} at "
                    f"{len(points)} points ({digits}-digit evaluation)", {"spot_check_error": worst})


def rational_matrix(X) -> sympy.Matrix:
    """An exact sympy Matrix of a float array whose entries are exactly representable."""
    X = np.asarray(X, dtype=np.float64)
    return sympy.Matrix(X.shape[0], X.shape[1],
                        [sympy.Rational(Fraction(float(v))) for v in X.ravel()])


def exact_kkt(X, y, active: Sequence[int], *, bias: bool = False) -> Decision:
    """Decide exactly whether the hard-margin SVM optimum has support ``active``.

    Solves the KKT equations on the active rows in rational arithmetic (the Gram system
    Z_S Z_S^T alpha = 1, with the bias row when ``bias``), then checks alpha >= 0 and
    y_i (<w, x_i> + b) >= 1 for every i exactly. KKT conditions are sufficient for this
    convex program, so a pass *proves* optimality of the exact w returned in ``values``.
    """
    Xq = rational_matrix(X)
    yq = [sympy.Integer(int(v)) for v in np.asarray(y)]
    n = Xq.rows
    active = sorted(set(int(i) for i in active))
    if not active:
        return Decision("undecided", "no active rows given; nothing to solve")
    Z = sympy.Matrix.vstack(*[yq[i] * Xq.row(i) for i in range(n)])
    ZS = sympy.Matrix.vstack(*[Z.row(i) for i in active])
    if ZS.rank() < len(active) and not bias:
        return Decision("undecided", f"the {len(active)} active rows are linearly dependent; "
                        "the multipliers are not unique and no exact certificate was built")
    G = ZS * ZS.T
    k = len(active)
    if bias:
        ys = sympy.Matrix([yq[i] for i in active])
        K = sympy.Matrix.vstack(sympy.Matrix.hstack(G, ys), sympy.Matrix.hstack(ys.T, sympy.zeros(1, 1)))
        rhs = sympy.Matrix([1] * k + [0])
    else:
        K, rhs = G, sympy.Matrix([1] * k)
    if K.det() == 0:
        return Decision("undecided", "the KKT system on the active rows is singular")
    sol = K.LUsolve(rhs)
    alpha = sol[:k, 0]
    b = sol[k, 0] if bias else sympy.Integer(0)
    w = ZS.T * alpha
    margins = [(Z.row(i) * w)[0, 0] + yq[i] * b for i in range(n)]
    values = {"w": [sympy.nsimplify(v) for v in w], "b": b, "alpha": list(alpha),
              "margin_sq": 1 / (w.T * w)[0, 0]}
    neg = [active[j] for j in range(k) if alpha[j] < 0]
    if neg:
        return Decision("refuted", f"multipliers of rows {neg} are negative: the active set "
                        "is not the optimum's", values)
    viol = [i for i in range(n) if margins[i] < 1]
    if viol:
        return Decision("refuted", f"rows {viol[:5]} violate y_i(<w, x_i> + b) >= 1 exactly", values)
    return Decision("proved", f"exact KKT certificate on {k} active rows: alpha > 0 there, "
                    "every margin >= 1, stationarity and complementarity hold by construction",
                    values)
