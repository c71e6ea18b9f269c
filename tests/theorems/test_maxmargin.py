"""The max-margin layer: certified solutions, independent witnesses, negative controls, bad input."""

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
    residuals,
)
from theorems.convex.maxmargin import _binary_system
from theorems.tolerances import KKT_RESIDUAL

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


def test_support_sets_with_equalities_tie_the_correct_logits():
    # Planted W0 whose classes 0 and 1 share a row: wherever either wins, both are correct.
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


@given(separable_binary(n=(5, 60), d=(2, 6)), st.integers(0, 10**6), st.booleans())
def test_farkas_multipliers_bound_the_separability_lp_from_above(data, seed, bias):
    # weak duality: lambda >= 0, sum 1, with r = A^T lambda bounds the LP's optimal margin
    X, y = _contradiction(data, seed, bias)
    A, n_free = _binary_system(X, y, bias)
    bound, lam = _farkas_bound(A, None, n_free, DEFAULT_SETTINGS)
    assert lam.min() >= 0.0 and abs(lam.sum() - 1.0) <= FEASIBLE
    r = A.T @ lam
    assert bound == pytest.approx(np.abs(r[: A.shape[1] - n_free]).sum(), abs=0.0)
    assert separability(X, y, bias=bias).margin_box <= bound + FEASIBLE


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
    A, n_free = _binary_system(X, y, bias)
    assert _farkas_bound(A, None, n_free, DEFAULT_SETTINGS) is None
    with pytest.raises(SolverFailure, match="no certificate of non-separability"):
        separability(X, y, bias=bias, settings=CUT_SHORT)
    with pytest.raises(SolverFailure, match="not trusted"):
        max_margin(X, y, bias=bias, settings=CUT_SHORT)


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
