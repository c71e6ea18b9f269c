"""The gradient-descent layer for linear models, and the separable-data generators it runs on.

Closed-form gradients are checked against torch autograd, the log-space weights against a
direct computation (and an mpmath one where float64 underflows), the normalised methods
against the max-margin direction from the convex layer, and the data generators against
the separability certificates of :mod:`theorems.convex`.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import sim
from sim import gd
from sim.data import separable
from sim.errors import InputError
from sim.train import History
from theorems.convex import max_margin, multiclass_max_margin, separability

# --- tolerances ---------------------------------------------------------------------------

# Closed-form and autograd gradients are both a few float64 roundings from exact: relative.
GRAD_RTOL = 1e-12
# Components near 0 (cancelling per-sample terms, and u_after - init cancelling O(1) init
# entries) carry absolute rounding of a few eps times the O(1) scale of the data and init.
GRAD_ATOL = 1e-13
# log w and log l at |margin| <= 20 from two direct float64 formulas: a few roundings.
LOG_WEIGHT_RTOL = 1e-12
# log-space values that cross 0 (log l near l = 1) carry absolute rounding of a few eps.
LOG_WEIGHT_ATOL = 1e-13
# At margins of size `scale`, log w = -M - softplus(S) subtracts O(scale) numbers, losing
# about eps * scale absolutely; this is that loss per unit of scale, with a safety factor.
LARGE_MARGIN_ATOL_PER_SCALE = 1e-14
# The normalised binary weights formed without logarithms (t = e^-m; t / (1 + t) over
# sum log1p(t)) against the log-space form: each is a few correctly rounded operations
# from exact, so they agree to a few ulps relatively (measured: up to 3.4e-15).
DIRECT_WEIGHT_RTOL = 1e-14
# ...and accumulated over the 2*10^4 steps of an ngd run, relative to the largest entry of
# u (measured: 2.6e-15; rounding does not grow along the normalised flow).
NGD_TRAJECTORY_RTOL = 1e-11
# Working precision (decimal digits) of the mpmath reference, far beyond float64.
MPMATH_DPS = 50
# The max-margin direction is certified by KKT residuals of about 1e-9; nothing the
# gradient methods reach can exceed the max margin by more than that, relatively.
MAX_MARGIN_RTOL = 1e-7
# Target 1 - cos to the max-margin direction for the normalised methods (from the brief).
ONE_MINUS_COS_TARGET = 1e-4
# At 1 - cos <= 1e-4 the normalised margin is within a few percent of the max margin on
# this data (measured 0.8% for NGD, 0.2% for momentum on planted(40, 5)); 5% leaves room.
MARGIN_GAP_RTOL = 0.05
# 1/beta from numpy's spectral norm here and in the library (two LAPACK SVDs): a few roundings.
LR_RTOL = 1e-12
# lr is O(1..100) here, so the relative bound alone is the meaningful one.
LR_ATOL = 0.0
# cos recorded as 1 - ||u/|u| - r||^2/2 vs the dot product of the unit vectors: a few roundings.
COS_RTOL = 1e-12
COS_ATOL = 1e-14
# Plain GD must make real progress, not just not increase: log L falls by at least 1
# (measured: about 4.7 for the binary run, about 2.7 for the 200-step multiclass one).
MIN_LOG_LOSS_DROP = 1.0
# log L at successive checkpoints of a descent method: equal up to logsumexp rounding.
MONOTONE_ATOL = 1e-12
# planted / planted_multiclass divide by the largest row norm, so it is 1 up to rounding.
ROW_NORM_ATOL = 1e-12
ROW_NORM_RTOL = 1e-12
# fit_inverse_angle on exact synthetic data recovers slope and intercept up to the
# conditioning of a least-squares fit on ~20 points (float64 arcsin/arccos roundings).
FIT_RTOL = 1e-9
FIT_ATOL = 1e-9

# --- strategies ---------------------------------------------------------------------------

seeds = st.integers(0, 10**6)
sample_counts = st.integers(1, 12)
dims = st.integers(1, 5)
class_counts = st.integers(2, 4)


def _random_binary(seed: int, n: int, d: int):
    """Gaussian X, random +-1 labels and a Gaussian init: a random point of the loss."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    return X, y, rng.standard_normal(d)


def _random_multiclass(seed: int, n: int, d: int, k: int):
    """Gaussian X, random class labels in [0, k) and a Gaussian init of length k * d."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, size=n)
    return X, y, rng.standard_normal(k * d)


def _autograd(loss_fn, init: np.ndarray) -> np.ndarray:
    u = torch.tensor(init, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(loss_fn(u), u)
    return grad.numpy()


def _binary_margins(X, y, u):
    return torch.from_numpy(y) * (torch.from_numpy(X) @ u)


def _multiclass_logits(X, u, k):
    return torch.from_numpy(X) @ u.view(k, -1).T


def _one_gd_step(X, y, init, *, loss, lr, n_classes=None) -> np.ndarray:
    traj = gd.run(X, y, method="gd", loss=loss, n_classes=n_classes, steps=1, lr=lr, init=init)
    assert traj.history.steps == [0, 1]
    return traj.u - init


# --- (a) closed-form gradient = autograd gradient ------------------------------------------

@pytest.mark.sim
@given(seed=seeds, n=sample_counts, d=dims)
def test_one_unit_step_of_gd_moves_by_minus_the_autograd_gradient_of_the_mean_logistic_loss(
        seed, n, d):
    X, y, init = _random_binary(seed, n, d)

    def mean_logistic(u):
        m = _binary_margins(X, y, u)
        # logaddexp(0, -m) = log(1 + e^-m) with the exact derivative (softplus thresholds).
        return torch.logaddexp(torch.zeros_like(m), -m).mean()

    grad = _autograd(mean_logistic, init)
    moved = _one_gd_step(X, y, init, loss="logistic", lr=1.0)
    assert_allclose(moved, -grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.sim
@given(seed=seeds, n=sample_counts, d=dims, k=class_counts)
def test_one_unit_step_of_gd_moves_by_minus_the_autograd_gradient_of_the_mean_cross_entropy(
        seed, n, d, k):
    X, y, init = _random_multiclass(seed, n, d, k)

    def mean_cross_entropy(u):
        return torch.nn.functional.cross_entropy(_multiclass_logits(X, u, k), torch.from_numpy(y))

    grad = _autograd(mean_cross_entropy, init)
    moved = _one_gd_step(X, y, init, loss="cross_entropy", lr=1.0, n_classes=k)
    assert_allclose(moved, -grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# --- (b) exponential loss with an explicit lr ----------------------------------------------

@pytest.mark.sim
@given(seed=seeds, n=sample_counts, d=dims, lr=st.sampled_from([0.05, 0.3, 1.0, 2.5]))
def test_one_gd_step_on_the_binary_exponential_loss_moves_by_minus_lr_times_its_gradient(
        seed, n, d, lr):
    X, y, init = _random_binary(seed, n, d)
    grad = _autograd(lambda u: torch.exp(-_binary_margins(X, y, u)).mean(), init)
    moved = _one_gd_step(X, y, init, loss="exponential", lr=lr)
    assert_allclose(moved, -lr * grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.sim
@given(seed=seeds, n=sample_counts, d=dims, k=class_counts, lr=st.sampled_from([0.05, 0.3, 1.0]))
def test_one_gd_step_on_the_multiclass_exponential_loss_moves_by_minus_lr_times_its_gradient(
        seed, n, d, k, lr):
    X, y, init = _random_multiclass(seed, n, d, k)
    labels = torch.from_numpy(y)[:, None]

    def mean_exponential(u):
        s = _multiclass_logits(X, u, k)
        margins = s.gather(1, labels) - s
        is_label = torch.zeros_like(s, dtype=torch.bool).scatter_(1, labels, True)
        # l_i = sum over the wrong classes c of exp(-(s_{i,y_i} - s_{i,c})).
        return torch.where(is_label, 0.0, torch.exp(-margins)).sum(1).mean()

    grad = _autograd(mean_exponential, init)
    moved = _one_gd_step(X, y, init, loss="exponential", lr=lr, n_classes=k)
    assert_allclose(moved, -lr * grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)


# --- (c) log_weights ---------------------------------------------------------------------

def _margin_matrix(seed: int, n: int, r: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Margins (n, r) uniform in [low, high); for r > 1 one entry per row is +inf (the label)."""
    rng = np.random.default_rng(seed)
    M = rng.uniform(low, high, size=(n, r))
    label = np.zeros((n, r), dtype=bool)
    if r > 1:
        label[np.arange(n), rng.integers(0, r, size=n)] = True
        M[label] = np.inf
    return M, label


def _direct_log_weights(M: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """log w = log(-dl/dM) and log l from the textbook formulas (fine for |M| <= 20)."""
    e = np.exp(-M)  # exp(-inf) = 0 on label entries
    total = e.sum(axis=1)
    if loss == "exponential":
        return -M, np.log(total)
    # l = log(1 + total), w = e / (1 + total)
    return -M - np.log1p(total)[:, None], np.log(np.log1p(total))


LOG_WEIGHT_CASES = [("logistic", 1), ("exponential", 1), ("cross_entropy", 3),
                    ("exponential", 4)]


@pytest.mark.parametrize("loss, r", LOG_WEIGHT_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_weights_agree_with_the_direct_formulas_at_moderate_margins(loss, r, seed):
    M, label = _margin_matrix(seed, 16, r, -20.0, 20.0)
    log_w, log_l = gd.log_weights(M, loss)
    want_w, want_l = _direct_log_weights(M, loss)
    assert np.all(log_w[label] == -np.inf)
    assert_allclose(log_w[~label], want_w[~label], rtol=LOG_WEIGHT_RTOL, atol=LOG_WEIGHT_ATOL)
    assert_allclose(log_l, want_l, rtol=LOG_WEIGHT_RTOL, atol=LOG_WEIGHT_ATOL)


def _mpmath_log_weights(M: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """log w and log l in MPMATH_DPS-digit arithmetic, rounded to float64 at the end."""
    with mpmath.workdps(MPMATH_DPS):
        log_w = np.full(M.shape, -np.inf)
        log_l = np.empty(M.shape[0])
        for i, row in enumerate(M):
            finite = [mpmath.mpf(float(m)) for m in row if np.isfinite(m)]
            S = mpmath.log(mpmath.fsum(mpmath.exp(-m) for m in finite))
            if loss == "exponential":
                shift, log_l[i] = 0, float(S)
            else:
                sp = mpmath.log1p(mpmath.exp(S))
                shift, log_l[i] = sp, float(mpmath.log(sp))
            for c, m in enumerate(row):
                if np.isfinite(m):
                    log_w[i, c] = float(-mpmath.mpf(float(m)) - shift)
    return log_w, log_l


@pytest.mark.parametrize("loss, r", LOG_WEIGHT_CASES)
@pytest.mark.parametrize("scale", [1e3, 1e5])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_log_weights_stay_finite_and_exact_at_margins_where_the_naive_formula_is_zero_over_zero(
        loss, r, scale, sign):
    M, label = _margin_matrix(7, 8, r, scale, 2 * scale)
    M[~label] *= sign
    if sign > 0:
        # The naive normalised weights w / sum(w) underflow to 0 / 0 here.
        with np.errstate(under="ignore", invalid="ignore"):
            naive = np.exp(-M) / np.exp(-M).sum()
        assert np.all(np.isnan(naive))
    log_w, log_l = gd.log_weights(M, loss)
    assert np.all(np.isfinite(log_w[~label])) and np.all(log_w[label] == -np.inf)
    assert np.all(np.isfinite(log_l))
    want_w, want_l = _mpmath_log_weights(M, loss)
    atol = LARGE_MARGIN_ATOL_PER_SCALE * scale
    assert_allclose(log_w[~label], want_w[~label], rtol=LOG_WEIGHT_RTOL, atol=atol)
    assert_allclose(log_l, want_l, rtol=LOG_WEIGHT_RTOL, atol=atol)


# --- (d) NGD and momentum converge in direction to the max-margin separator -----------------

STEPS_TO_TARGET = {"ngd": 6000, "momentum": 2000}  # measured: ~3000 and ~650 on this data


@pytest.fixture(scope="module")
def planted_40_by_5():
    X, y = separable.planted(40, 5, sim.streams(0).data)
    return X, y, max_margin(X, y)


@pytest.mark.sim
@pytest.mark.solver
@pytest.mark.parametrize("method", ["ngd", "momentum"])
def test_normalised_methods_reach_the_max_margin_direction_and_increase_the_margin(
        method, planted_40_by_5):
    X, y, mm = planted_40_by_5
    traj = gd.run(X, y, method=method, steps=STEPS_TO_TARGET[method], reference=mm.direction,
                  tol=ONE_MINUS_COS_TARGET)
    h = traj.history
    assert h.stop_reason is not None and h.stop_reason.startswith("one_minus_cos <="), h.stop_reason
    assert h.last["one_minus_cos"] <= ONE_MINUS_COS_TARGET
    margin = h.column("normalized_margin")
    # margin[0] is at u = 0 (recorded as 0); margin[1] is after the first step.
    assert margin[-1] > margin[1]
    assert margin[-1] > 0.0
    assert margin[-1] <= mm.margin * (1 + MAX_MARGIN_RTOL)
    assert margin[-1] >= mm.margin * (1 - MARGIN_GAP_RTOL)
    # The returned parameters are the ones recorded last.
    assert_allclose(traj.direction @ mm.direction, h.last["cos"], rtol=COS_RTOL, atol=COS_ATOL)


# --- (e) plain GD at lr = 1/beta is a descent method -------------------------------------------

@pytest.mark.sim
def test_plain_gd_at_the_default_lr_one_over_beta_never_increases_the_logistic_loss():
    X, y = separable.planted(30, 4, sim.streams(1).data)
    Z = y[:, None] * X
    beta = np.linalg.norm(Z, 2) ** 2 / (4 * X.shape[0])
    traj = gd.run(X, y, method="gd", steps=2000, checkpoints_per_decade=20)
    assert_allclose(traj.lr, 1.0 / beta, rtol=LR_RTOL, atol=LR_ATOL)
    log_loss = traj.history.column("log_loss")
    assert np.all(np.diff(log_loss) <= MONOTONE_ATOL), np.diff(log_loss).max()
    assert log_loss[-1] < log_loss[0] - MIN_LOG_LOSS_DROP


@pytest.mark.sim
def test_plain_gd_at_the_default_lr_one_over_beta_never_increases_the_cross_entropy():
    k = 3
    X, y = separable.planted_multiclass(30, 4, k, sim.streams(1).data)
    beta = np.linalg.norm(X, 2) ** 2 / (2 * X.shape[0])
    # 200 steps: small torch ops on (n, k) tensors are slow on a loaded 2-core machine.
    traj = gd.run(X, y, method="gd", loss="cross_entropy", n_classes=k, steps=200,
                  checkpoints_per_decade=20)
    assert_allclose(traj.lr, 1.0 / beta, rtol=LR_RTOL, atol=LR_ATOL)
    log_loss = traj.history.column("log_loss")
    assert np.all(np.diff(log_loss) <= MONOTONE_ATOL), np.diff(log_loss).max()
    assert log_loss[-1] < log_loss[0] - MIN_LOG_LOSS_DROP


# --- (f) the data generators ------------------------------------------------------------------

def _assert_max_row_norm_is_one(X):
    assert_allclose(np.linalg.norm(X, axis=1).max(), 1.0, rtol=ROW_NORM_RTOL, atol=ROW_NORM_ATOL)


@pytest.mark.solver
@given(seed=seeds, n=st.integers(1, 30), d=st.integers(1, 6),
       anisotropy=st.sampled_from([1.0, 10.0, 100.0]))
def test_planted_data_are_plus_minus_one_labelled_unit_scaled_and_separable_through_the_origin(
        seed, n, d, anisotropy):
    X, y = separable.planted(n, d, sim.streams(seed).data, anisotropy=anisotropy)
    assert X.shape == (n, d) and y.shape == (n,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert set(np.unique(y)) <= {-1.0, 1.0}
    _assert_max_row_norm_is_one(X)
    mm = max_margin(X, y)
    assert np.all(y * (X @ mm.direction) > 0.0)


@pytest.mark.solver
@given(seed=seeds, n=st.integers(1, 20), d=st.integers(2, 5), k=class_counts)
def test_planted_multiclass_labels_are_classes_in_range_and_the_data_are_separable(seed, n, d, k):
    # d >= 2: with d = 1 the generator can loop forever (reported library bug).
    X, y = separable.planted_multiclass(n, d, k, sim.streams(seed).data)
    assert X.shape == (n, d) and y.shape == (n,)
    assert np.issubdtype(y.dtype, np.integer)
    assert np.all((y >= 0) & (y < k))
    _assert_max_row_norm_is_one(X)
    res = multiclass_max_margin(X, y, n_classes=k)
    scores = X @ res.direction.T  # (n, k)
    own = scores[np.arange(n), y][:, None]
    others = np.ones((n, k), dtype=bool)
    others[np.arange(n), y] = False
    assert np.all((own - scores)[others] > 0.0)


@pytest.mark.solver
@given(seed=seeds, n=st.integers(1, 20), d=st.integers(1, 5))
def test_rational_data_are_small_integers_with_plus_minus_one_labels_and_separable(seed, n, d):
    X, y = separable.rational(n, d, sim.streams(seed).data)
    assert X.shape == (n, d) and y.shape == (n,)
    assert np.array_equal(X, np.round(X))
    assert np.all(np.abs(X) <= 6)
    assert set(np.unique(y)) <= {-1.0, 1.0}
    assert separability(X, y).separable


@pytest.mark.solver
@given(seed=seeds, n=st.integers(1, 20), d=st.integers(1, 5))
def test_with_contradiction_appends_a_negated_point_and_makes_the_data_non_separable(seed, n, d):
    s = sim.streams(seed)
    X, y = separable.planted(n, d, s.data)
    X2, y2 = separable.with_contradiction(X, y, s.noise)
    assert X2.shape == (n + 1, d) and y2.shape == (n + 1,)
    np.testing.assert_array_equal(X2[:n], X)
    np.testing.assert_array_equal(y2[:n], y)
    j = [i for i in range(n) if np.array_equal(X2[n], -X[i]) and y2[n] == y[i]]
    assert j, "the appended point is not -x_j with the label of x_j"
    assert not separability(X2, y2).separable


# --- (g) fit_inverse_angle ------------------------------------------------------------------

def _history_from_angles(steps, theta) -> History:
    """A History recording one_minus_cos = 1 - cos(theta) (as 2 sin^2(theta/2), accurately)."""
    records = [{"one_minus_cos": float(2.0 * np.sin(th / 2.0) ** 2)} for th in theta]
    return History(steps=[int(t) for t in steps], records=records)


@pytest.mark.parametrize("slope, intercept", [(0.7, 1.3), (2.0, 0.5), (0.05, 3.0)])
def test_fit_inverse_angle_recovers_the_slope_and_intercept_of_exact_synthetic_data(slope, intercept):
    steps = np.unique(np.round(np.logspace(0.0, 5.0, 41)).astype(np.int64))
    theta = 1.0 / (slope * np.log(steps) + intercept)
    assert np.all((theta > 0) & (theta < np.pi))
    # Points outside the window carry garbage; a fit that used them would be off.
    window = (steps >= 10) & (steps <= 10**4)
    theta = np.where(window, theta, 0.5 * theta)
    history = _history_from_angles(np.concatenate([[0], steps]), np.concatenate([[1.0], theta]))
    fit = gd.fit_inverse_angle(history, 10, 10**4)
    assert fit["points"] == int(window.sum())
    assert_allclose([fit["slope"], fit["intercept"]], [slope, intercept], rtol=FIT_RTOL, atol=FIT_ATOL)
    assert_allclose(fit["r2"], 1.0, rtol=FIT_RTOL, atol=FIT_ATOL)


def test_fit_inverse_angle_with_fewer_than_three_points_in_the_window_raises():
    history = _history_from_angles([0, 1, 10, 100, 1000], [1.0, 0.9, 0.5, 0.3, 0.2])
    with pytest.raises(InputError, match=r"fewer than 3 checkpoints in \[5, 200\]"):
        gd.fit_inverse_angle(history, 5, 200)


def test_fit_inverse_angle_without_a_recorded_angle_raises():
    history = History(steps=[1, 2, 3, 4], records=[{"norm": 1.0}] * 4)
    with pytest.raises(InputError, match="no recorded quantity 'one_minus_cos'"):
        gd.fit_inverse_angle(history, 1, 4)


# --- the trajectory --------------------------------------------------------------------------

@pytest.mark.sim
def test_gd_run_is_deterministic_and_records_cos_consistently_with_one_minus_cos():
    X, y = separable.planted(20, 3, sim.streams(4).data)
    ref = sim.streams(4).init.standard_normal(3)
    a = gd.run(X, y, method="ngd", steps=200, reference=ref)
    b = gd.run(X, y, method="ngd", steps=200, reference=ref)
    np.testing.assert_array_equal(a.u, b.u)
    assert a.history.steps == b.history.steps
    assert_allclose(a.history.column("cos"), 1.0 - a.history.column("one_minus_cos"),
                    rtol=COS_RTOL, atol=COS_ATOL)
    assert_allclose(a.direction @ (ref / np.linalg.norm(ref)), a.history.last["cos"],
                    rtol=COS_RTOL, atol=COS_ATOL)


# --- the normalised weights without logarithms (the ngd fast path) ---------------------------

def _log_space_weights(M, loss):
    return gd._ratio_exp(*gd.log_weights(M, loss))[:, 0]


@pytest.mark.parametrize(("loss", "low", "high"), [
    ("exponential", -600.0, 600.0),  # every margin: the same arithmetic
    ("logistic", gd.LATE_MARGIN, 900.0),  # all margins large: softmax(-m) exactly
])
def test_the_normalised_weights_are_bit_identical_where_the_logarithms_cancel(loss, low, high):
    M = np.random.default_rng(3).uniform(low, high, (300, 1))
    M[0, 0] = low
    q = gd._normalised_binary(-M[:, 0], loss)
    assert np.array_equal(q, _log_space_weights(M, loss))


@pytest.mark.parametrize(("low", "high"), [(-600.0, 29.0), (-5.0, 5.0), (29.0, 29.99)])
def test_below_the_early_margin_the_direct_weights_are_a_few_ulps_from_the_log_space_ones(
        low, high):
    M = np.random.default_rng(4).uniform(low, high, (300, 1))
    M[0, 0] = low
    q = gd._normalised_binary(-M[:, 0], "logistic")
    assert_allclose(q, _log_space_weights(M, "logistic"), rtol=DIRECT_WEIGHT_RTOL, atol=0)


@pytest.mark.parametrize("smallest", [gd.EARLY_MARGIN, 35.0, -gd.OVERFLOW_MARGIN, -800.0])
def test_between_the_regimes_and_beyond_overflow_only_the_log_space_form_is_used(smallest):
    M = np.array([[smallest], [smallest + 1.0], [smallest + 50.0]])
    assert gd._normalised_binary(-M[:, 0], "logistic") is None


def test_an_ngd_run_with_the_fast_weights_follows_the_log_space_trajectory(monkeypatch):
    """Through the early, middle and late regimes of the margins: the direct weights' few
    ulps stay a few ulps of the trajectory (bit for bit where the regime is exact)."""
    X, y = separable.planted(200, 10, np.random.default_rng(5), margin=0.3)
    fast = gd.run(X, y, method="ngd", steps=20_000, checkpoints_per_decade=1)
    monkeypatch.setattr(gd, "_normalised_binary", lambda S, loss: None)
    slow = gd.run(X, y, method="ngd", steps=20_000, checkpoints_per_decade=1)
    smallest = float(np.min(fast.u @ (y[:, None] * X).T))
    assert smallest > gd.LATE_MARGIN, "the run never reached the exact late regime"
    assert_allclose(fast.u, slow.u, rtol=0, atol=NGD_TRAJECTORY_RTOL * np.abs(slow.u).max())
