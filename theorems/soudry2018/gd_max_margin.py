"""Gradient descent on separable data converges in direction to the hard-margin SVM.

On linearly separable data, gradient descent on the logistic (or exponential, or softmax
cross-entropy) loss of a linear model without bias diverges in norm and converges in
direction to w_hat = argmin ||w||^2 s.t. y_i <w, x_i> >= 1, with angle O(1/log t) for a
constant step eta <= 1/beta.

References
----------
Soudry, Hoffer, Nacson, Gunasekar, Srebro. The Implicit Bias of Gradient Descent on
Separable Data. JMLR 19(70), 2018; arXiv 1710.10345 (main theorem: w(t) = w_hat log t +
rho(t) with rho bounded; rate O(1/log t); multiclass extension to cross-entropy).
Ji & Telgarsky. The Implicit Bias of Gradient Descent on Nonseparable Data. COLT 2019.
Ji, Srebro, Telgarsky. Fast Margin Maximization via Dual Acceleration. ICML 2021.

Notes
-----
Witnesses: symbolic (sympy) -- the angle law implied by w(t) = w_hat ln t + rho, and an
exact rational KKT certificate of the reference on integer data; convex reference
(DAQP or Clarabel, :mod:`theorems.convex`); simulation (:mod:`sim.gd`, numpy float64):
dual momentum or loss-normalised GD for the limit, plain GD for the rate. Normalised GD
(eta / L) is gradient flow on log L re-timed, so it follows the same path as GD; that is
why it is an honest fast witness of the limit. Plain GD is the only witness of the rate.
Not checked: stochastic GD, the non-separable (Ji & Telgarsky) decomposition, deep
linear networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import sympy

from sim import gd, streams
from sim.data import separable
from sim.errors import InputError
from theorems._symbolic import Decision, exact_kkt
from theorems.base import Claim, Theorem
from theorems.convex import NotSeparableError, max_margin, multiclass_max_margin
from theorems.soudry2018 import _gd_claims

DIRECTION_TOL = _gd_claims.DIRECTION.bound  # the G2/G4 pass bound on 1 - cos


@dataclass(frozen=True)
class Instance:
    """Separable data: binary (labels +-1) when ``n_classes`` is None, else multiclass."""

    X: np.ndarray
    y: np.ndarray
    n_classes: int | None = None


@dataclass(frozen=True)
class DirectionCheck:
    """How close a gradient method's direction came to the max-margin direction."""

    one_minus_cos: float
    margin_gap: float  # |normalised margin of u - SVM margin|
    svm_margin: float
    initial_one_minus_cos: float  # after the first step (the class-mean direction)
    steps: int
    method: str
    loss: str
    passed: bool
    steps_curve: np.ndarray = None  # checkpoints of the run
    one_minus_cos_curve: np.ndarray = None  # 1 - cos at those checkpoints


def draw_instance(seed: int, *, n=(20, 200), d=(2, 20), anisotropy: float = 10.0,
                  margin: float = 0.1) -> Instance:
    """A binary instance with n, d drawn from the given ranges (inclusive) by ``seed``."""
    rng = streams(seed).data
    nn, dd = int(rng.integers(n[0], n[1] + 1)), int(rng.integers(d[0], d[1] + 1))
    X, y = separable.planted(nn, dd, rng, anisotropy=anisotropy, margin=margin)
    return Instance(X, y)


def reference_direction(inst: Instance) -> tuple[np.ndarray, float]:
    """The certified max-margin direction (flattened W for multiclass) and its margin."""
    if inst.n_classes is None:
        ref = max_margin(inst.X, inst.y)
        return ref.direction, ref.margin
    ref = multiclass_max_margin(inst.X, inst.y, n_classes=inst.n_classes)
    return ref.direction.reshape(-1), ref.margin


def check_direction(inst: Instance, *, method: str = "momentum", loss: str | None = None,
                    tol: float = DIRECTION_TOL, steps: int = 50_000,
                    **run_kwargs) -> DirectionCheck:
    """Run ``method`` from zero and compare its direction with the max-margin reference.

    The run stops once both 1 - cos <= ``tol`` and the normalised-margin gap is within
    the G2 bound (or after ``steps``). Raises :class:`~theorems.convex.NotSeparableError`
    on non-separable data: there is no direction to converge to, and the check refuses
    rather than report a number.
    """
    loss = loss or ("logistic" if inst.n_classes is None else "cross_entropy")
    ref_dir, ref_margin = reference_direction(inst)
    gap_bound = _gd_claims.MARGIN_GAP.bound

    def converged(step: int, rec: dict) -> str | None:
        gap = abs(rec["normalized_margin"] - ref_margin)
        if rec["one_minus_cos"] <= tol and gap <= gap_bound:
            return f"1 - cos <= {tol:g} and margin gap <= {gap_bound:g} at step {step}"
        return None

    traj = gd.run(inst.X, inst.y, n_classes=inst.n_classes, method=method, loss=loss,
                  steps=steps, reference=ref_dir, callbacks=[converged], **run_kwargs)
    last = traj.history.last
    gap = abs(last["normalized_margin"] - ref_margin)
    return DirectionCheck(
        one_minus_cos=last["one_minus_cos"], margin_gap=gap, svm_margin=ref_margin,
        initial_one_minus_cos=traj.history.records[1]["one_minus_cos"],
        steps=traj.history.last_step, method=method, loss=loss,
        passed=last["one_minus_cos"] <= tol and gap <= _gd_claims.MARGIN_GAP.bound,
        steps_curve=np.asarray(traj.history.steps, dtype=np.float64),
        one_minus_cos_curve=traj.history.column("one_minus_cos"))


def angle_law() -> Decision:
    """Symbolic: w(t) = w_hat L + rho (L = ln t) gives (1 - cos theta) L^2 -> |rho_perp|^2 / (2 |w_hat|^2).

    Hence theta ~ |rho_perp| / (|w_hat| ln t): 1/theta is asymptotically linear in ln t,
    theta * ln t is bounded, and ||w(t)|| grows like |w_hat| ln t.
    """
    a, rp, L = sympy.symbols("a rho_perp L", positive=True)
    r0 = sympy.Symbol("rho_par", real=True)
    cos = (a * L + r0) / sympy.sqrt((a * L + r0) ** 2 + rp**2)
    lim = sympy.limit((1 - cos) * L**2, L, sympy.oo)
    expected = rp**2 / (2 * a**2)
    norm_rate = sympy.limit(sympy.sqrt((a * L + r0) ** 2 + rp**2) / L, L, sympy.oo)
    ok = sympy.simplify(lim - expected) == 0 and sympy.simplify(norm_rate - a) == 0
    # Numeric spot check at an admissible point, large L (non-vacuous: cos != 1 there).
    pt = {a: 1.7, rp: 0.6, r0: -0.4}
    val = float(((1 - cos) * L**2).subs(pt).subs(L, 1e6).evalf(40))
    spot = abs(val - float(expected.subs(pt))) / float(expected.subs(pt))
    if ok and spot < 1e-5:
        return Decision("proved", "limit (1-cos) ln^2 t = |rho_perp|^2/(2|w_hat|^2) and "
                        "||w||/ln t -> |w_hat| (sympy limits; spot check at L=1e6)",
                        {"limit": str(lim), "spot_check_error": spot})
    return Decision("refuted" if not ok else "undecided",
                    f"limit computed as {lim}, expected {expected}; spot error {spot:.2e}")


class GradientDescentMaxMargin(Theorem):
    """GD on separable data converges in direction to the hard-margin SVM (Soudry et al. 2018)."""

    paper = "soudry2018"
    slug = "gd_max_margin"
    title = "Gradient descent converges in direction to the max-margin solution"
    citation = "Soudry et al. 2018, JMLR 19(70), arXiv 1710.10345 (main theorem and rate)"

    def statement(self) -> Decision:
        return angle_law()

    def example(self, seed: int = 0) -> Instance:
        return draw_instance(seed)

    def reference(self, instance: Instance):
        """The max-margin layer's KKT-certified solution; on non-separable data it refuses
        with the separability LP's certificate (NotSeparableError)."""
        if instance.n_classes is None:
            return max_margin(instance.X, instance.y)
        return multiclass_max_margin(instance.X, instance.y, n_classes=instance.n_classes)

    def corrupt(self, instance: Instance) -> Instance:
        """The data with a contradiction appended (a point and its negation share a label):
        no max-margin solution exists, and the reference must refuse rather than answer."""
        if instance.n_classes is not None:
            raise InputError("corrupt() appends a contradiction to binary data (n_classes None)")
        return Instance(*separable.with_contradiction(instance.X, instance.y, streams(0).noise))

    def simulate(self, instance: Instance, seed: int = 0) -> dict:
        traj = gd.run(instance.X, instance.y, n_classes=instance.n_classes, method="momentum",
                      loss="logistic" if instance.n_classes is None else "cross_entropy",
                      steps=20_000)
        return {"direction": traj.direction, "steps": traj.history.last_step,
                "normalized_margin": traj.history.last["normalized_margin"]}

    def compare(self, instance: Instance, seed: int = 0) -> dict:
        chk = check_direction(instance)
        return {"one_minus_cos": chk.one_minus_cos, "margin_gap": chk.margin_gap}

    def claims(self) -> tuple[Claim, ...]:
        return _gd_claims.build(self)

    def search_space(self):
        from hypothesis import strategies as st
        strategy = st.fixed_dictionaries({
            "seed": st.integers(0, 2**31 - 1), "n": st.integers(10, 200),
            "d": st.integers(2, 20), "anisotropy": st.floats(1.0, 100.0)})

        def build(p: dict) -> Instance:
            rng = streams(p["seed"]).data
            return Instance(*separable.planted(p["n"], p["d"], rng, anisotropy=p["anisotropy"]))
        return strategy, build

    def negative_controls(self) -> dict:
        def non_separable() -> bool:
            inst = self.example(0)
            X, y = separable.with_contradiction(inst.X, inst.y, streams(0).noise)
            try:
                check_direction(Instance(X, y))
            except NotSeparableError:
                return True
            return False

        def adam_geometry() -> bool:
            X, y = separable.planted(30, 50, streams(0).data, anisotropy=1.0, margin=0.5)
            return not check_direction(Instance(X, y), method="adam", steps=5_000,
                                       lr=1e-2, adam_eps=0.0).passed

        return {"separability broken (a point and its negation share a label)": non_separable,
                "gradient geometry broken (Adam, eps = 0, is not l2-biased)": adam_geometry}


def exact_certificate(X, y) -> tuple[Decision, float]:
    """Sympy's exact KKT decision for the reference on (X, y), and max |w_exact - w_float|."""
    ref = max_margin(X, y)
    act = np.flatnonzero(ref.alpha > 0)
    # Integer data put many points on the margin; a nonnegative least-squares fit of
    # w = Z_S^T alpha returns multipliers on a linearly independent subset (Caratheodory),
    # on which the exact rational KKT system is square and solvable.
    Z = (np.asarray(y)[:, None] * np.asarray(X))[act]
    alpha, _ = scipy.optimize.nnls(Z.T, ref.w)
    dec = exact_kkt(X, y, act[alpha > 0])
    if "w" not in dec.values:
        return dec, float("inf")
    w_exact = np.array([float(v) for v in dec.values["w"]])
    return dec, float(np.max(np.abs(w_exact - ref.w)))
