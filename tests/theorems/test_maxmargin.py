"""The max-margin layer: certified solutions, independent witnesses, negative controls, bad input."""

import math
from fractions import Fraction
from importlib.metadata import version

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim import gd, streams
from sim.data import separable
from sim.errors import InputError
from tests.strategies import rational_binary, separable_binary, separable_multiclass
from theorems._symbolic import exact_kkt
from theorems.convex import (
    NotSeparableError,
    max_margin,
    multiclass_max_margin,
    separability,
)
from theorems.convex._program import (
    DEFAULT_SETTINGS,
    SolverFailure,
    SolverSettings,
    _farkas_bound,
    accept_kkt,
    alternative_bound,
    certify_separable,
    decide,
    direction_lower_bound,
    equilibrate,
    residuals,
    separability_threshold,
    solve_min_norm,
)
from theorems.convex.maxmargin import _binary_system, nuclear_max_margin
from theorems.tolerances import KKT_RESIDUAL, SEPARABILITY

# Two certified float64 solutions of the same strictly convex program agree to rounding.
SAME_SOLUTION = 1e-9
# A feasibility check on refined solutions: margins are >= 1 up to float64 rounding.
FEASIBLE = 1e-10
# GD witness: dual momentum reaches 1 - cos <= 1e-8 within 2e4 steps on these sizes.
GD_AGREEMENT = 1e-6


def _cos_gap(a, b):
    a, b = np.ravel(a) / np.linalg.norm(a), np.ravel(b) / np.linalg.norm(b)
    return float(np.linalg.norm(a - b) ** 2 / 2)


@given(separable_binary())
def test_binary_solution_is_feasible_and_satisfies_kkt(data):
    X, y = data
    r = max_margin(X, y)
    assert r.status == "optimal" and r.residuals.worst <= KKT_RESIDUAL.atol
    m = y * (X @ r.w)
    assert m.min() >= 1 - FEASIBLE
    np.testing.assert_allclose(m[r.support], 1.0, rtol=0, atol=KKT_RESIDUAL.atol)
    np.testing.assert_allclose(r.w, (r.alpha * y) @ X, rtol=0, atol=KKT_RESIDUAL.atol * 10)
    assert np.all(r.alpha >= 0)
    np.testing.assert_allclose(r.margin, 1 / np.linalg.norm(r.w), rtol=1e-14, atol=0)


@given(separable_binary(n=(10, 120), d=(2, 8)))
def test_working_set_gives_the_full_problem_solution(data):
    X, y = data
    full = max_margin(X, y, working_set=False)
    ws = max_margin(X, y, working_set=True)
    assert _cos_gap(ws.w, full.w) <= SAME_SOLUTION
    np.testing.assert_allclose(ws.margin, full.margin, rtol=SAME_SOLUTION, atol=0)


@given(separable_binary(n=(10, 100), d=(2, 6)), st.floats(0.01, 100.0))
def test_scaling_the_data_scales_the_margin(data, c):
    X, y = data
    a, b = max_margin(X, y), max_margin(c * X, y)
    np.testing.assert_allclose(b.margin, c * a.margin, rtol=SAME_SOLUTION, atol=0)
    assert _cos_gap(a.w, b.w) <= SAME_SOLUTION


@given(separable_binary(n=(10, 100), d=(2, 6)))
def test_a_free_bias_never_lowers_the_margin(data):
    X, y = data
    if len(np.unique(y)) < 2:
        return
    nb, wb = max_margin(X, y), max_margin(X, y, bias=True)
    assert wb.margin >= nb.margin * (1 - SAME_SOLUTION)
    np.testing.assert_allclose(float(wb.alpha @ y), 0.0, rtol=0, atol=KKT_RESIDUAL.atol * 10)
    assert (y * (X @ wb.w + wb.bias)).min() >= 1 - FEASIBLE


@pytest.mark.parametrize("solver", ["auto", "clarabel"])
@pytest.mark.parametrize("bias", [False, True])
def test_a_row_just_off_the_margin_beside_a_full_active_face_leaves_the_solution_certified(
        bias, solver):
    """Rows on the margin fix the optimum (three with a bias, two without), and one more
    lies 5e-7 beyond it, inside the solver's active slack: the equality system on all of
    them has no solution. The property test above found such data (37 points in 2-D, a
    bias); the reference refused them with its KKT check. The optimum here is known: w =
    (0, 1), no bias, margin 1."""
    X = np.array([[-1.0, 1.0], [1.0, 1.0], [0.0, -1.0], [0.5, -1.0 - 5e-7], [3.0, 4.0],
                  [-2.0, -3.0]])
    y = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    if not bias:  # two rows on the margin fix w in 2-D: drop the third
        X, y = np.delete(X, 2, axis=0), np.delete(y, 2)
    res = max_margin(X, y, bias=bias, solver=solver)
    assert res.residuals.worst <= KKT_RESIDUAL.atol
    np.testing.assert_allclose(res.w, [0.0, 1.0], rtol=0, atol=SAME_SOLUTION)
    np.testing.assert_allclose(res.margin, 1.0, rtol=SAME_SOLUTION, atol=0)
    if bias:
        np.testing.assert_allclose(res.bias, 0.0, rtol=0, atol=SAME_SOLUTION)


@settings(max_examples=10)  # each example runs sympy's exact solve: keep the count modest
@given(rational_binary())
@example(separable.rational(8, 2, streams(0).data))
def test_sympy_proves_the_reference_exactly_on_integer_data(data):
    from theorems.soudry2018.gd_max_margin import exact_certificate

    X, y = data
    decision, gap = exact_certificate(X, y)
    assert decision.proved, decision.detail
    assert gap <= FEASIBLE


@settings(max_examples=8)  # each example runs 2e4 GD steps
@given(separable_binary(n=(10, 60), d=(2, 6)))
def test_gradient_descent_witness_agrees_with_the_reference(data):
    X, y = data
    r = max_margin(X, y)
    traj = gd.run(X, y, method="momentum", steps=20_000, reference=r.direction, tol=1e-8)
    assert traj.history.last["one_minus_cos"] <= GD_AGREEMENT


@given(separable_binary(n=(10, 80), d=(2, 6)))
def test_two_class_multiclass_is_the_binary_svm_split_in_half(data):
    X, y = data
    b = max_margin(X, y)
    m = multiclass_max_margin(X, (y > 0).astype(int), n_classes=2)
    np.testing.assert_allclose(m.W, np.stack([-b.w / 2, b.w / 2]), rtol=0, atol=1e-7)


@given(separable_multiclass())
def test_multiclass_solution_is_feasible_and_certified(data):
    X, y, k = data
    r = multiclass_max_margin(X, y, n_classes=k)
    S = X @ r.W.T
    gaps = S[np.arange(len(y)), y][:, None] - S
    gaps[np.arange(len(y)), y] = np.inf
    assert gaps.min() >= 1 - FEASIBLE
    assert r.residuals.worst <= KKT_RESIDUAL.atol


def _tied_support_sets():
    """Planted W0 whose classes 0 and 1 share a row: wherever either wins, both are correct."""
    rng = streams(3).data
    W0 = rng.standard_normal((5, 4))
    W0[0] = W0[1]
    X = rng.standard_normal((200, 4))
    S0 = X @ W0.T
    support = np.zeros((200, 5), dtype=bool)
    top = S0.argmax(1)
    support[np.arange(200), top] = True
    support[np.isin(top, (0, 1)), :2] = True
    gap = np.array([S0[i, support[i]].min() - S0[i, ~support[i]].max() for i in range(200)])
    X, support = X[gap > 0.1][:40], support[gap > 0.1][:40]
    assert support[:, 0].any(), "the instance must contain two-class support sets"
    return X, support


def test_support_sets_with_equalities_tie_the_correct_logits():
    X, support = _tied_support_sets()
    r = multiclass_max_margin(X, support=support, equalize=True)
    S = X @ r.W.T
    both = support[:, 0]
    np.testing.assert_allclose(S[both, 0], S[both, 1], rtol=0, atol=KKT_RESIDUAL.atol)
    for i in range(len(X)):
        assert S[i, support[i]].min() - S[i, ~support[i]].max() >= 1 - FEASIBLE


# --- negative controls: the checks must be able to fail ------------------------------------

@given(separable_binary(n=(5, 80), d=(2, 6)), st.integers(0, 10**6))
def test_contradictory_data_are_certified_not_separable(data, seed):
    X, y = separable.with_contradiction(*data, streams(seed).noise)
    cert = separability(X, y)
    assert not cert.separable and cert.margin_box <= cert.threshold
    with pytest.raises(NotSeparableError, match="not separable") as info:
        max_margin(X, y)
    assert info.value.certificate.margin_box <= info.value.certificate.threshold


# One Clarabel iteration: every solve below ends short of optimal, so the separability
# decision must come from the theorem of the alternative.
CUT_SHORT = SolverSettings(max_iter=1)


def _contradiction(data, seed: int, bias: bool):
    """Non-separable data: -x_j with x_j's label (no homogeneous separator) or, with a bias,
    x_j again with the other label (no separator at all)."""
    X, y = data
    if not bias:
        return separable.with_contradiction(X, y, streams(seed).noise)
    j = int(streams(seed).noise.integers(len(y)))
    return np.vstack([X, X[j]]), np.append(y, -y[j])


@given(separable_binary(n=(5, 60), d=(2, 6)), st.integers(0, 10**6), st.booleans())
def test_a_solve_cut_short_still_proves_contradictory_data_not_separable(data, seed, bias):
    X, y = _contradiction(data, seed, bias)
    cert = separability(X, y, bias=bias, settings=CUT_SHORT)
    assert cert.proof == "farkas" and not cert.separable and cert.margin_box <= cert.threshold
    with pytest.raises(NotSeparableError, match="theorem of the alternative"):
        max_margin(X, y, bias=bias, settings=CUT_SHORT)


# The rigorous rounding allowance that alternative_bound adds to ||A^T lambda||_1: about
# 2 gamma_{R+1} (|A|^T lambda)_j per coordinate, below 1e-12 for R <= 61 rows, d <= 7
# coordinates and equilibrated entries <= 1 (plus a free coordinate's |r_free| F term).
BOUND_ROUNDING = 1e-12


def _exact(x) -> Fraction:
    return Fraction(float(x))


def _exact_rows(M, v) -> list[Fraction]:
    """Each row of M times v in exact rational arithmetic (every float is a rational)."""
    vq = [_exact(t) for t in v]
    return [sum((_exact(a) * b for a, b in zip(row, vq) if a != 0), Fraction(0))
            for row in np.asarray(M, dtype=np.float64)]


def _exact_alternative_bound(Ah, n_free: int, lam) -> Fraction:
    """(sum_reg |r_j| + |r_free| F) / sum(lambda), r = Ah^T lambda, in exact arithmetic;
    F = max over the two signs of the free column f of min ||a_reg||_1 / |f| (a row with
    f < 0 caps the free coordinate from above at any point with positive margins, one with
    f > 0 from below)."""
    Ah = np.asarray(Ah)
    p = Ah.shape[1]
    r = _exact_rows(Ah.T, lam)
    num = sum((abs(t) for t in r[: p - n_free]), Fraction(0))
    if n_free and r[-1] != 0:
        f = [_exact(t) for t in Ah[:, -1]]
        l1 = [sum((abs(_exact(t)) for t in row[:-1]), Fraction(0)) for row in Ah]
        caps = [min(l1[i] / abs(f[i]) for i in range(len(f)) if sign * f[i] > 0)
                for sign in (-1, 1)]
        num += abs(r[-1]) * max(caps)
    return num / sum((_exact(t) for t in lam), Fraction(0))


@given(separable_binary(n=(5, 60), d=(2, 6)), st.integers(0, 10**6), st.booleans())
def test_farkas_multipliers_bound_the_separability_lp_from_above(data, seed, bias):
    # weak duality: lambda >= 0, sum 1, with r = A^T lambda bounds the LP's optimal margin;
    # the bound is recomputed here exactly, and the LP's certified lower bound lies below it
    X, y = _contradiction(data, seed, bias)
    A, n_free = _binary_system(X, y, bias)
    cert = separability(X, y, bias=bias)
    Ah = cert.scaling.A
    bound, lam = _farkas_bound(Ah, None, n_free, DEFAULT_SETTINGS)
    assert lam.min() >= 0.0 and abs(lam.sum() - 1.0) <= FEASIBLE
    exact = _exact_alternative_bound(Ah, n_free, lam)
    assert exact <= _exact(bound) <= exact + _exact(BOUND_ROUNDING)
    assert cert.margin_lower <= bound


@pytest.mark.parametrize("equalize", [False, True])
def test_a_cut_short_multiclass_solve_proves_a_contradiction_with_and_without_equalities(equalize):
    # a point repeated with the complementary correct classes: with equalize the E u = 0 rows enter
    # the multipliers (A^T lambda + E^T mu), and the bound must still prove non-separability
    rng = streams(5).data
    X = rng.standard_normal((12, 3))
    support = np.zeros((13, 4), dtype=bool)
    support[np.arange(12), rng.integers(4, size=12)] = True
    X = np.vstack([X, X[0]])
    support[12] = ~support[0]  # x_0 again, correct for every class but x_0's own
    with pytest.raises(NotSeparableError, match="theorem of the alternative") as info:
        multiclass_max_margin(X, support=support, equalize=equalize, settings=CUT_SHORT)
    cert = info.value.certificate
    assert cert.proof == "farkas" and cert.margin_box <= cert.threshold


@given(separable_binary(n=(5, 60), d=(2, 6)), st.booleans())
def test_the_theorem_of_the_alternative_never_refutes_separable_data(data, bias):
    # negative control: for separable data no multipliers exist (the QP is infeasible), so a
    # solve cut short is a SolverFailure, never a proof of non-separability
    X, y = data
    bias = bias and np.unique(y).size == 2  # a bias needs both labels
    A, n_free = _binary_system(X, y, bias)
    assert _farkas_bound(A, None, n_free, DEFAULT_SETTINGS) is None
    with pytest.raises(SolverFailure, match="no certificate of non-separability"):
        separability(X, y, bias=bias, settings=CUT_SHORT)
    with pytest.raises(SolverFailure, match="not trusted"):
        # Clarabel alone: DAQP does not read Clarabel's iteration cap and would solve it
        max_margin(X, y, bias=bias, settings=CUT_SHORT, solver="clarabel")


@given(separable_binary(n=(10, 80), d=(2, 6)), st.floats(1e-4, 0.5))
def test_a_perturbed_solution_fails_the_kkt_check(data, eps):
    X, y = data
    r = max_margin(X, y)
    rng = streams(0).noise
    w = r.w + eps * np.linalg.norm(r.w) * rng.standard_normal(r.w.shape) / np.sqrt(r.w.size)
    res = residuals(y[:, None] * X, None, w, r.alpha, np.zeros(0), 0)
    assert res.worst > KKT_RESIDUAL.atol


@given(rational_binary(n=(6, 20)))
def test_sympy_never_proves_a_wrong_active_set(data):
    X, y = data
    r = max_margin(X, y)
    wrong = np.setdiff1d(np.arange(len(y)), r.support)[:2]  # points off the margin
    if wrong.size == 0:
        return
    assert exact_kkt(X, y, wrong).outcome != "proved"


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [max_margin, separability])
def test_bad_binary_input_is_named(fn):
    X = np.eye(3)
    with pytest.raises(InputError, match="NaN"):
        fn(np.array([[np.nan, 1.0], [1.0, 0.0]]), [1, -1])
    with pytest.raises(InputError, match=r"\+1 and -1"):
        fn(X, [0, 1, 1])
    with pytest.raises(InputError, match="3 labels but the data has 2 rows"):
        fn(X[:2], [1, 1, -1])
    with pytest.raises(InputError, match="empty"):
        fn(np.zeros((0, 3)), [])
    with pytest.raises(InputError, match="zero vector"):
        fn(np.vstack([X, np.zeros(3)]), [1, 1, -1, 1])


def test_bias_with_one_label_is_rejected():
    with pytest.raises(InputError, match="both labels"):
        max_margin(np.eye(3), [1, 1, 1], bias=True)


def test_bad_multiclass_input_is_named():
    X = np.eye(3)
    with pytest.raises(InputError, match="exactly one of"):
        multiclass_max_margin(X)
    with pytest.raises(InputError, match=r"classes in \[0, 3\)"):
        multiclass_max_margin(X, [0, 1, 3], n_classes=3)
    with pytest.raises(InputError, match="no correct class"):
        multiclass_max_margin(X, support=np.array([[True, False], [False, False], [True, False]]))
    with pytest.raises(InputError, match="no margin to maximise"):
        multiclass_max_margin(X, support=np.ones((3, 2), dtype=bool))
    with pytest.raises(InputError, match="boolean"):
        multiclass_max_margin(X, support=np.ones((3, 2)))


# --- the acceptance tolerances near their edges --------------------------------------------

# Candidates are built with a residual (or margin, or bound) of the tolerance times 1 +- EDGE.
# KKT: shrinking a certified u by (1 - delta) makes the worst residual delta up to ~1e-16 of
# rounding; 1% of 1e-8 is 1e-10, a million times that.
KKT_EDGE = 0.01
# Separability: the LP is solved to ~1e-10 absolute; 5% of the 1.5e-7 threshold below is
# 7.5e-9, 75 times that.
SEPARABILITY_EDGE = 0.05
# The near-threshold data: rows (0.75, 0.75) and -(0.75, 0.75 - delta), which the
# equilibration leaves unchanged (largest entries 0.75 in [1/2, 1)); their box-LP value is
# exactly delta / 2 (v = (delta / 1.5 - 1, 1)) and their largest row l1-norm is 1.5.
NEAR_L1 = 1.5


def _near_threshold(delta: float):
    X = np.array([[0.75, 0.75], [0.75, 0.75 - delta]])
    y = np.array([1.0, -1.0])
    exact_delta = _exact(0.75) - _exact(X[1, 1])  # the delta the rounded entry carries
    return X, y, exact_delta / 2


def _shrunk(X, y, delta):
    A = y[:, None] * X
    r = max_margin(X, y)
    return A, r.w * (1.0 - delta), r.alpha


@pytest.mark.parametrize("scale", ["1", "1e8", "1e-8", "columns"])
@pytest.mark.parametrize("side", [-1, 1])
def test_the_kkt_acceptance_refuses_a_residual_just_above_its_tolerance(scale, side):
    # the same relative miss is refused (or accepted) at every scale of the data
    X, y = separable.planted(40, 4, streams(2).data)
    X = X * {"1": 1.0, "1e8": 1e8, "1e-8": 1e-8, "columns": np.array([1e4, 1e2, 1.0, 1e-4])}[scale]
    delta = KKT_RESIDUAL.atol * (1 + side * KKT_EDGE)
    A, u, lam = _shrunk(X, y, delta)
    res = residuals(A, None, u, lam, np.zeros(0), 0)
    assert res.worst == pytest.approx(delta, rel=KKT_EDGE / 10), res  # the construction hits
    if side > 0:
        with pytest.raises(SolverFailure, match="fails its KKT check"):
            accept_kkt(A, None, u, lam, np.zeros(0), 0)
    else:
        assert accept_kkt(A, None, u, lam, np.zeros(0), 0).worst <= KKT_RESIDUAL.atol


def test_a_nan_residual_is_never_accepted():
    X, y = separable.planted(20, 3, streams(2).data)
    A, u, lam = _shrunk(X, y, 0.0)
    lam = lam.copy()
    lam[np.flatnonzero(lam > 0)[0]] = np.nan
    with pytest.raises(SolverFailure, match="fails its KKT check"):
        accept_kkt(A, None, u, lam, np.zeros(0), 0)


@pytest.mark.parametrize("scale", [1.0, 2.0**40, 2.0**-40])
@pytest.mark.parametrize("side", [-1, 1])
def test_the_separability_decision_at_its_threshold(scale, side):
    threshold = SEPARABILITY.atol * NEAR_L1
    X, y, t_star = _near_threshold(2 * threshold * (1 + side * SEPARABILITY_EDGE))
    cert = separability(X * scale, y)
    # a power-of-two scale leaves the equilibrated data, and so the decision, unchanged
    assert np.array_equal(cert.scaling.A, y[:, None] * X)
    assert cert.threshold == threshold  # atol times the l1-norm 0.75 + 0.75, both exact
    if side > 0:
        assert cert.separable and cert.proof == "lp"
        assert threshold < cert.margin_lower and _exact(cert.margin_lower) <= t_star
    else:
        assert not cert.separable and cert.proof == "lp"
        assert t_star <= _exact(cert.margin_upper) and cert.margin_upper <= threshold


def test_decide_needs_a_certificate_on_the_right_side_of_the_threshold():
    t = SEPARABILITY.atol
    above, below = t * (1 + SEPARABILITY_EDGE), t * (1 - SEPARABILITY_EDGE)
    assert decide(above, math.inf, t) is True
    assert decide(-math.inf, below, t) is False
    assert decide(-math.inf, t, t) is False  # "not separable" is margin <= threshold
    assert decide(t, math.inf, t) is None  # "separable" needs margin > threshold
    assert decide(below, above, t) is None
    with pytest.raises(SolverFailure, match="contradictory"):
        decide(above, below, t)


@pytest.mark.parametrize("side", [-1, 1])
def test_a_direction_near_the_threshold_is_certified_only_above_it(side):
    threshold = SEPARABILITY.atol * NEAR_L1
    X, y, t_star = _near_threshold(2 * threshold * (1 + side * SEPARABILITY_EDGE))
    A = y[:, None] * X
    scaling = equilibrate(A)
    v = np.array([float(2 * t_star / _exact(1.5)) - 1.0, 1.0])  # the LP's optimum, rounded
    lower = direction_lower_bound(A, None, 0, scaling, v)
    exact = min(_exact_rows(scaling.A, v))
    assert _exact(lower) <= exact and exact - _exact(lower) <= _exact(BOUND_ROUNDING)
    assert decide(lower, math.inf, threshold) is (True if side > 0 else None)


@pytest.mark.parametrize("side", [-1, 1])
def test_farkas_multipliers_near_the_threshold_prove_only_below_it(side):
    # rows a and -a (exactly not separable); multipliers (1/2 + eps, 1/2 - eps) are off the
    # optimum (1/2, 1/2) and bound the margin by 3 eps: a proof only while 3 eps <= threshold
    threshold = SEPARABILITY.atol * NEAR_L1
    A = np.array([[0.75, 0.75], [-0.75, -0.75]])
    eps = threshold * (1 + side * SEPARABILITY_EDGE) / 3
    lam = np.array([0.5 + eps, 0.5 - eps])
    bound = alternative_bound(A, None, 0, lam)
    exact = _exact_alternative_bound(A, 0, lam)
    assert exact <= _exact(bound) <= exact + _exact(BOUND_ROUNDING)
    assert decide(-math.inf, bound, threshold) is (None if side > 0 else False)


def test_a_direction_off_the_equalities_certifies_only_what_their_null_space_allows():
    # the row a = (1, 1) under the equality v1 + v2 = 0: every feasible margin is exactly 0,
    # while v = (1, 1), off the null space, has a.v = 2; the certified bound must be <= 0
    A, E = np.array([[1.0, 1.0]]), np.array([[1.0, 1.0]])
    assert direction_lower_bound(A, E, 0, equilibrate(A, E), np.array([1.0, 1.0])) <= 0.0
    assert not certify_separable(A, E).separable
    # and a point a rounding error off the null space keeps nearly all of its margin
    A, E = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    scaling = equilibrate(A, E)
    lower = direction_lower_bound(A, E, 0, scaling, np.array([1.0, 2.0**-40]))
    t_star = _exact(scaling.A[0, 0])  # max a_hat v over the box with v2 = 0
    assert _exact(lower) <= t_star and decide(lower, math.inf, separability_threshold(scaling))


def test_the_farkas_bound_covers_the_rounding_that_hides_a_residual():
    # r = 1/4 + 2^-61 - 1/4 = 2^-61 exactly, but float64 sums it to 0 in this order: the
    # bound must still cover the exact value (an unverified bound of 0 would be a false proof)
    A = np.array([[1.0], [2.0**-60], [-1.0]])
    lam = np.array([0.25, 0.5, 0.25])
    assert (A.T @ lam)[0] in (0.0, 2.0**-61)  # 0 in the written order; a BLAS may reorder
    bound = alternative_bound(A, None, 0, lam)
    assert _exact_alternative_bound(A, 0, lam) == Fraction(1, 2**61) <= _exact(bound)


# --- bad input in this layer -----------------------------------------------------------------

@pytest.mark.parametrize("settings", [{"max_iter": 10}, None, "tight", 1e-10])
def test_settings_that_are_not_solver_settings_are_named(settings):
    X, y = separable.planted(10, 3, streams(0).data)
    for call in (lambda: max_margin(X, y, settings=settings),
                 lambda: separability(X, y, settings=settings),
                 lambda: multiclass_max_margin(X, (y > 0).astype(int), n_classes=2,
                                               settings=settings),
                 lambda: nuclear_max_margin(np.eye(3, dtype=bool), settings=settings),
                 lambda: solve_min_norm(y[:, None] * X, settings=settings),
                 lambda: certify_separable(y[:, None] * X, settings=settings)):
        with pytest.raises(InputError, match="settings must be a"):
            call()


@pytest.mark.parametrize("field,value", [("max_iter", 0), ("max_iter", 1.5), ("max_iter", True),
                                         ("tol_feas", -1e-10), ("tol_gap_abs", float("nan")),
                                         ("tol_gap_rel", "1e-10")])
def test_bad_solver_settings_are_named(field, value):
    with pytest.raises(InputError, match=f"settings.{field}"):
        SolverSettings(**{field: value})


@pytest.mark.parametrize("n_classes", [3.0, True, np.True_, 0, 1, -2, "3", None])
def test_bad_n_classes_is_named(n_classes):
    X = np.eye(3)
    with pytest.raises(InputError, match="n_classes"):
        multiclass_max_margin(X, [0, 1, 2], n_classes=n_classes)


@pytest.mark.parametrize("bias", [1, 0, "yes", None, 1.0])
def test_a_bias_that_is_not_a_bool_is_named(bias):
    X, y = separable.planted(10, 3, streams(0).data)
    for fn in (max_margin, separability):
        with pytest.raises(InputError, match="bias must be True or False"):
            fn(X, y, bias=bias)


def test_other_flags_that_are_not_bools_are_named():
    X = np.eye(3)
    with pytest.raises(InputError, match="equalize must be True or False"):
        multiclass_max_margin(X, [0, 1, 2], n_classes=3, equalize="no")
    with pytest.raises(InputError, match="equalize must be True or False"):
        nuclear_max_margin(np.eye(3, dtype=bool), equalize=1)
    with pytest.raises(InputError, match="working_set must be True, False or None"):
        max_margin(X, [1, 1, 1], working_set="auto")


@pytest.mark.parametrize("exponent", [300, -300])
def test_entries_near_1e300_are_decided_and_the_max_margin_is_refused_by_name(exponent):
    # separability is decided at any float64 scale; the max-margin solution's multipliers
    # (~scale^-2) and 1/2 ||w||^2 leave float64 beyond ~1e+-154, and are refused by name
    X, y = separable.planted(30, 4, streams(4).data)
    base = separability(X, y)
    cert = separability(X * 10.0**exponent, y)
    assert cert.separable and base.separable and np.all(np.isfinite(cert.direction))
    assert np.all(y * ((X * 10.0**exponent) @ cert.direction) > 0)
    with pytest.raises(InputError, match="outside float64's range"):
        max_margin(X * 10.0**exponent, y)
    Xc, yc = separable.with_contradiction(X, y, streams(4).noise)
    assert not separability(Xc * 10.0**exponent, yc).separable


@pytest.mark.parametrize("exponent", [150, -150])
def test_entries_near_1e150_are_solved(exponent):
    X, y = separable.planted(30, 4, streams(4).data)
    s = 10.0**exponent
    a, b = max_margin(X, y), max_margin(X * s, y)
    assert np.all(np.isfinite(b.w)) and np.all(np.isfinite(b.alpha)) and 0 < b.objective < np.inf
    assert _cos_gap(a.w, b.w) <= SAME_SOLUTION
    np.testing.assert_allclose(b.margin, s * a.margin, rtol=SAME_SOLUTION, atol=0)


def test_data_beyond_float64s_exponent_range_are_refused_by_name():
    # each tiny entry is 1e-600 of its row's and its column's largest: no exact rescaling
    X = np.array([[1e300, 1e-300], [1e-300, 1e300]])
    with pytest.raises(InputError, match="cannot be rescaled exactly"):
        separability(X, [1, 1])
    with pytest.raises(InputError, match="cannot be rescaled exactly"):
        max_margin(X, [1, 1])


def test_the_largest_and_smallest_floats_are_decided_or_refused_by_name():
    big, tiny = np.finfo(np.float64).max, np.finfo(np.float64).smallest_subnormal
    cert = separability(np.array([[big, 0.0], [0.0, -big]]), [1, -1])
    assert cert.separable and np.isfinite(cert.margin) and np.all(np.isfinite(cert.direction))
    with pytest.raises(InputError, match="margins overflow float64"):
        separability(np.array([[big, big], [big / 2, big]]), [1, 1])  # margin > 1.8e308
    cert = separability(np.array([[tiny, 0.0], [0.0, tiny]]), [1, 1])
    assert cert.separable and cert.margin > 0
    for X in (np.array([[big, 0.0], [0.0, big]]), np.array([[tiny, 0.0], [0.0, tiny]])):
        with pytest.raises(InputError, match="outside float64's range"):
            max_margin(X, [1, 1])  # w, alpha or 1/2 ||w||^2 would over- or underflow


# Complex input is the validators' business (sim.errors.as_matrix, not this layer). A complex
# ndarray used to be cast to float64 with its imaginary part dropped (a ComplexWarning); the
# layer relies on as_matrix to refuse it, and this test holds both to that contract.
def test_complex_input_is_refused_by_name():
    X = np.array([[1.0 + 1.0j, 0.0], [0.0, 1.0]])
    for fn in (separability, max_margin):
        with pytest.raises(InputError, match="X"):
            fn(X, [1, 1])
    with pytest.raises(InputError, match="X"):
        multiclass_max_margin(X, [0, 1], n_classes=2)


# --- the fast path: DAQP's active-set solve, cross-checked against Clarabel -----------------

# DAQP's point and Clarabel's are each refined on their active set and KKT-certified on every
# row: the same float64 optimum of one strictly convex program. 1 - cos <= 1e-12 (and the
# margin to 1e-12 relative) is the accuracy goal of the fast reference; measured 0 to 1e-29.
CROSS_CHECK = 1e-12


@given(separable_binary(), st.booleans())
def test_daqp_agrees_with_clarabel_on_the_full_problem(data, working_set):
    X, y = data
    fast = max_margin(X, y, solver="daqp", working_set=working_set)
    ref = max_margin(X, y, solver="clarabel", working_set=False)
    assert (fast.solver, fast.solver_version) == ("DAQP", version("daqp"))
    assert (ref.solver, ref.solver_version) == ("CLARABEL", version("clarabel"))
    assert fast.status == "optimal" and fast.residuals.worst <= KKT_RESIDUAL.atol
    assert _cos_gap(fast.w, ref.w) <= CROSS_CHECK
    np.testing.assert_allclose(fast.margin, ref.margin, rtol=CROSS_CHECK, atol=0)
    assert (y * (X @ fast.w)).min() >= 1 - FEASIBLE


@given(separable_multiclass(), st.booleans())
def test_daqp_agrees_with_clarabel_on_multiclass_programs(data, working_set):
    X, y, k = data
    fast = multiclass_max_margin(X, y, n_classes=k, solver="daqp", working_set=working_set)
    ref = multiclass_max_margin(X, y, n_classes=k, solver="clarabel", working_set=False)
    assert fast.solver == "DAQP" and fast.residuals.worst <= KKT_RESIDUAL.atol
    assert _cos_gap(fast.W, ref.W) <= CROSS_CHECK
    np.testing.assert_allclose(fast.margin, ref.margin, rtol=CROSS_CHECK, atol=0)


def test_daqp_agrees_with_clarabel_with_equalities():
    X, support = _tied_support_sets()
    fast = multiclass_max_margin(X, support=support, equalize=True, solver="daqp")
    ref = multiclass_max_margin(X, support=support, equalize=True, solver="clarabel")
    assert fast.solver == "DAQP" and fast.residuals.worst <= KKT_RESIDUAL.atol
    assert _cos_gap(fast.W, ref.W) <= CROSS_CHECK


@given(separable_binary(n=(5, 60), d=(2, 6)), st.integers(0, 10**6))
def test_daqp_refuses_non_separable_data_with_the_certificate(data, seed):
    # negative control: DAQP's working set ends infeasible, and the verdict is the
    # separability certificate's, not DAQP's exit flag
    X, y = _contradiction(data, seed, False)
    with pytest.raises(NotSeparableError) as info:
        max_margin(X, y, solver="daqp")
    cert = info.value.certificate
    assert not cert.separable and cert.margin_box <= cert.threshold


class _WrongDAQP:
    """A stand-in for the daqp module whose answers are wrong: the true optimum scaled by
    1.01 (feasible, no row active: fails stationarity) or an 'infeasible' exit flag."""

    def __init__(self, flag: int):
        import daqp
        self.daqp, self.flag = daqp, flag

    def solve(self, *args, **kwargs):
        x, fval, flag, info = self.daqp.solve(*args, **kwargs)
        return 1.01 * x, fval, (flag if self.flag == 1 else self.flag), info


@pytest.mark.parametrize("flag", [1, -1])
def test_an_uncertified_daqp_answer_falls_back_to_clarabel(monkeypatch, flag):
    from theorems.convex import _program

    X, y = separable.planted(80, 5, streams(4).data, margin=0.3)
    ref = max_margin(X, y, solver="clarabel")
    monkeypatch.setattr(_program, "_daqp", lambda: _WrongDAQP(flag))
    r = max_margin(X, y)
    assert r.solver == "CLARABEL" and r.residuals.worst <= KKT_RESIDUAL.atol
    assert _cos_gap(r.w, ref.w) <= CROSS_CHECK
    with pytest.raises(SolverFailure, match="KKT check" if flag == 1 else "exit flag -1"):
        max_margin(X, y, solver="daqp")


def test_without_daqp_clarabel_solves_alone(monkeypatch):
    from theorems.convex import _program

    X, y = separable.planted(40, 4, streams(6).data, margin=0.3)
    monkeypatch.setattr(_program, "_daqp", lambda: None)
    assert max_margin(X, y).solver == "CLARABEL"
    with pytest.raises(InputError, match="needs the daqp package"):
        max_margin(X, y, solver="daqp")


def test_a_bias_is_solved_by_clarabel_and_named():
    X, y = separable.planted(60, 4, streams(7).data, margin=0.3)
    assert max_margin(X, y, bias=True).solver == "CLARABEL"
    with pytest.raises(InputError, match="without unregularised coordinates"):
        max_margin(X, y, bias=True, solver="daqp")


def test_an_unknown_solver_is_refused_by_name():
    with pytest.raises(InputError, match="solver must be one of"):
        max_margin(np.eye(2), [1, 1], solver="osqp")
