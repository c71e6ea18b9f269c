"""The max-margin layer at every scale: data scaled by 1e-8 or 1e8, or with columns on scales
1e4 : ... : 1e-4, get the answers of the unscaled data, and every certificate's claim is
recomputed here in exact rational arithmetic (each float64 number is a rational)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from sim.data import separable
from tests.strategies import separable_binary, separable_multiclass
from theorems._symbolic import exact_kkt
from theorems.convex import NotSeparableError, max_margin, multiclass_max_margin, separability
from theorems.convex.maxmargin import _binary_system
from theorems.tolerances import KKT_RESIDUAL

# 1 - cos and the relative margin gap between the certified solutions of one strictly convex
# program solved at two scales: the uniform scale maps back exactly (w -> w / s) and each
# solution is KKT-certified to 1e-8 relative (the refined points sit at ~1e-15, measured);
# 1e-9 leaves room for conditioning without letting a wrong solution through.
SAME_SOLUTION = 1e-9
# The float64 solution on column-scaled data against sympy's exact rational optimum, in the
# coordinates of the unscaled columns (max-norm, relative): measured ~4e-15; 1e-9 as above.
EXACT_AGREEMENT = 1e-9
# A refined solution's margins are >= 1 up to float64 rounding of y_i <w, x_i>.
FEASIBLE = 1e-10
# With columns on scales 1e4 : ... : 1e-4 the nearly free (cheap) coordinates carry large
# components that cancel in <w, x_i>, whose rounding then exceeds FEASIBLE (a margin of
# 1 - 5e-10 measured on a multiclass draw): such margins are checked against what the layer
# certifies, 1 - a_r u <= KKT_RESIDUAL (the primal part of its KKT check).
COLUMN_FEASIBLE = KKT_RESIDUAL.atol
# The uniform scales of the issue, and its column scaling 1e4 : ... : 1e-4 (log-spaced).
UNIFORM = (1e-8, 1e8)
SCALINGS = ("1e-8", "1e8", "columns")
COLUMN_DECADES = 4


def _scaled(X, kind: str) -> np.ndarray:
    if kind == "columns":
        return X * np.logspace(COLUMN_DECADES, -COLUMN_DECADES, X.shape[1])
    return X * float(kind)


def _cos_gap(a, b) -> float:
    a, b = np.ravel(a) / np.linalg.norm(a), np.ravel(b) / np.linalg.norm(b)
    return float(np.linalg.norm(a - b) ** 2 / 2)


def _q(x) -> Fraction:
    return Fraction(float(x))


def _rows(M, v) -> list[Fraction]:
    """Each row of M times v, exactly."""
    vq = [_q(t) for t in v]
    return [sum((_q(a) * b for a, b in zip(row, vq) if a != 0), Fraction(0))
            for row in np.asarray(M, dtype=np.float64)]


def _rebuilt(A, cert) -> np.ndarray:
    """The equilibrated matrix rebuilt here from the certificate's exponents, checked to be
    exactly diag(2^row) A diag(2^col) (so a claim about it is a claim about A)."""
    sc = cert.scaling
    Ah = np.ldexp(A, sc.row[:, None] + sc.col[None, :])
    assert np.array_equal(np.ldexp(Ah, -(sc.row[:, None] + sc.col[None, :])), A)
    assert np.array_equal(Ah, np.asarray(sc.A))
    return Ah


def _bias_ok(y, bias: bool) -> bool:
    return not bias or np.unique(y).size == 2


def _check_separable_certificate(X, y, bias: bool, cert) -> None:
    """Recompute a "separable" claim: the box point's exact margins on the equilibrated data
    are at least margin_lower (> threshold), and the direction's exact margins on the
    ORIGINAL data are positive."""
    A, n_free = _binary_system(X, y, bias)
    Ah = _rebuilt(A, cert)
    v = cert.box_point
    box = max(Fraction(1), max(abs(_q(t)) for t in v[: v.size - n_free]))
    assert cert.separable and cert.margin_lower > cert.threshold
    assert min(_rows(Ah, v)) / box >= _q(cert.margin_lower)
    u = [_q(t) * Fraction(2) ** int(e) for t, e in zip(v, cert.scaling.col)]
    margins = [sum((_q(a) * b for a, b in zip(row, u)), Fraction(0)) for row in A]
    assert min(margins) > 0


def _exact_bound(Ah, n_free: int, lam) -> Fraction:
    """The theorem of the alternative's bound, exactly: (sum_reg |r| + |r_free| F) / sum lam,
    r = Ah^T lam, F the cap on a free coordinate at any point with positive margins."""
    p = Ah.shape[1]
    r = _rows(Ah.T, lam)
    num = sum((abs(t) for t in r[: p - n_free]), Fraction(0))
    if n_free and r[-1] != 0:
        f = [_q(t) for t in Ah[:, -1]]
        l1 = [sum((abs(_q(t)) for t in row[:-1]), Fraction(0)) for row in Ah]
        num += abs(r[-1]) * max(min(l1[i] / abs(f[i]) for i in range(len(f)) if s * f[i] > 0)
                                for s in (-1, 1))
    return num / sum((_q(t) for t in lam), Fraction(0))


def _check_not_separable_certificate(X, y, bias: bool, cert) -> None:
    """Recompute a "not separable" claim from the certificate's multipliers, exactly."""
    A, n_free = _binary_system(X, y, bias)
    Ah = _rebuilt(A, cert)
    lam = cert.multipliers
    assert not cert.separable and lam is not None and lam.min() >= 0
    assert _exact_bound(Ah, n_free, lam) <= _q(cert.margin_upper) <= _q(cert.threshold)


def _contradiction(X, y, seed: int, bias: bool):
    """Non-separable data: -x_j with x_j's label or, with a bias, x_j with the other label."""
    if not bias:
        return separable.with_contradiction(X, y, streams(seed).noise)
    j = int(streams(seed).noise.integers(len(y)))
    return np.vstack([X, X[j]]), np.append(y, -y[j])


# --- properties ------------------------------------------------------------------------------

@given(separable_binary(n=(5, 60), d=(2, 8)), st.sampled_from(SCALINGS), st.booleans())
def test_separable_data_are_certified_separable_at_every_scale(data, kind, bias):
    X, y = data
    bias = _bias_ok(y, bias) and bias
    Xs = _scaled(X, kind)
    base, cert = separability(X, y, bias=bias), separability(Xs, y, bias=bias)
    assert base.separable and cert.separable
    _check_separable_certificate(Xs, y, bias, cert)


@given(separable_binary(n=(5, 60), d=(2, 8)), st.sampled_from(UNIFORM), st.booleans())
def test_a_uniform_scale_maps_the_max_margin_solution_back_exactly(data, s, bias):
    X, y = data
    bias = _bias_ok(y, bias) and bias
    a, b = max_margin(X, y, bias=bias), max_margin(s * X, y, bias=bias)
    assert _cos_gap(a.w, b.w) <= SAME_SOLUTION
    np.testing.assert_allclose(b.margin, s * a.margin, rtol=SAME_SOLUTION, atol=0)
    np.testing.assert_allclose(b.w, a.w / s, rtol=0, atol=SAME_SOLUTION * np.abs(a.w).max() / s)
    if bias:
        np.testing.assert_allclose(b.bias, a.bias, rtol=0, atol=SAME_SOLUTION * max(1, abs(a.bias)))
    m = y * (s * X @ b.w + (b.bias if bias else 0.0))
    assert m.min() >= 1 - FEASIBLE and b.residuals.worst <= KKT_RESIDUAL.atol


@settings(max_examples=8)  # each example runs sympy's exact KKT solve on float rationals
@given(separable_binary(n=(5, 60), d=(2, 8)))
def test_column_scaled_max_margin_is_the_exact_optimum(data):
    # column scaling changes the program (it is a weighted norm of the unscaled problem), so
    # the witness is sympy's exact KKT solution of the scaled data on the certified support
    X, y = data
    S = np.logspace(COLUMN_DECADES, -COLUMN_DECADES, X.shape[1])
    r = max_margin(X * S, y)
    assert separability(X * S, y).separable
    dec = exact_kkt(X * S, y, np.flatnonzero(r.alpha > 0))
    assert dec.proved, dec.detail
    w_exact = np.array([float(t) for t in dec.values["w"]])
    gap = np.abs(S * (r.w - w_exact)).max() / np.abs(S * w_exact).max()
    assert gap <= EXACT_AGREEMENT
    np.testing.assert_allclose(r.margin ** -2, float(1 / dec.values["margin_sq"]),
                               rtol=EXACT_AGREEMENT, atol=0)


@given(separable_binary(n=(5, 60), d=(2, 8)), st.integers(0, 10**6),
       st.sampled_from(SCALINGS), st.booleans())
def test_non_separable_data_stay_certified_non_separable_at_every_scale(data, seed, kind, bias):
    X, y = _contradiction(*data, seed, bias)
    Xs = _scaled(X, kind)
    assert not separability(X, y, bias=bias).separable
    cert = separability(Xs, y, bias=bias)
    _check_not_separable_certificate(Xs, y, bias, cert)
    with pytest.raises(NotSeparableError, match="not separable"):
        max_margin(Xs, y, bias=bias)


@given(separable_multiclass(n=(6, 40), d=(2, 6), k=(3, 4)), st.sampled_from(UNIFORM))
def test_a_uniform_scale_maps_the_multiclass_solution_back_exactly(data, s):
    X, y, k = data
    a, b = multiclass_max_margin(X, y, n_classes=k), multiclass_max_margin(s * X, y, n_classes=k)
    assert _cos_gap(a.W, b.W) <= SAME_SOLUTION
    np.testing.assert_allclose(b.margin, s * a.margin, rtol=SAME_SOLUTION, atol=0)


@given(separable_multiclass(n=(6, 40), d=(2, 6), k=(3, 4)))
def test_column_scaled_multiclass_solutions_are_certified(data):
    X, y, k = data
    Xs = _scaled(X, "columns")
    r = multiclass_max_margin(Xs, y, n_classes=k)
    S = Xs @ r.W.T
    gaps = S[np.arange(len(y)), y][:, None] - S
    gaps[np.arange(len(y)), y] = np.inf
    assert gaps.min() >= 1 - COLUMN_FEASIBLE and r.residuals.worst <= KKT_RESIDUAL.atol


# --- regressions: each was answered "not separable" (or failed) before the rescaling ---------

@pytest.mark.parametrize("x", [1e8, 1e-8])
def test_a_single_far_or_near_point_is_separable(x):
    X, y = np.array([[x, 0.0]]), np.array([1.0])
    cert = separability(X, y)
    _check_separable_certificate(X, y, False, cert)
    r = max_margin(X, y)
    np.testing.assert_allclose(r.w, [1 / x, 0.0], rtol=SAME_SOLUTION, atol=0)
    np.testing.assert_allclose(r.margin, x, rtol=SAME_SOLUTION, atol=0)


def _regression_data():
    return separable.planted(30, 3, streams(1).data)


@pytest.mark.parametrize("kind", SCALINGS)
def test_scaled_planted_data_are_separable(kind):
    X, y = _regression_data()
    Xs = _scaled(X, kind)  # "columns" on d = 3 is exactly 1e4 : 1 : 1e-4
    cert = separability(Xs, y)
    _check_separable_certificate(Xs, y, False, cert)
    r, base = max_margin(Xs, y), max_margin(X, y)
    feasible = COLUMN_FEASIBLE if kind == "columns" else FEASIBLE
    assert r.residuals.worst <= KKT_RESIDUAL.atol and (y * (Xs @ r.w)).min() >= 1 - feasible
    if kind != "columns":
        np.testing.assert_allclose(r.margin, float(kind) * base.margin, rtol=SAME_SOLUTION, atol=0)


@pytest.mark.parametrize("kind", SCALINGS)
@pytest.mark.parametrize("bias", [False, True])
def test_scaled_contradictions_are_certified_not_separable(kind, bias):
    X, y = _contradiction(*_regression_data(), 7, bias)
    Xs = _scaled(X, kind)
    _check_not_separable_certificate(Xs, y, bias, separability(Xs, y, bias=bias))
    with pytest.raises(NotSeparableError):
        max_margin(Xs, y, bias=bias)


@pytest.mark.parametrize("s", UNIFORM)
def test_scaled_multiclass_data_are_solved(s):
    X, y = separable.planted_multiclass(30, 4, 3, streams(1).data)
    a, b = multiclass_max_margin(X, y, n_classes=3), multiclass_max_margin(s * X, y, n_classes=3)
    np.testing.assert_allclose(b.W, a.W / s, rtol=0, atol=SAME_SOLUTION * np.abs(a.W).max() / s)


@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.integers(1, 10),
       st.sampled_from(["plain", "uniform", "columns", "rows", "zeros"]),
       st.floats(-300.0, 300.0))
def test_the_exponent_equilibration_is_the_floating_point_one(seed, R, p, kind, decades):
    # dense data are equilibrated on their entries' binary exponents; wherever that path
    # answers, its exponents, scaled matrix and range are the floating-point sweeps' own
    from theorems.convex._program import _dense_exponents, _equilibrate_sweeps

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((R, p))
    if kind == "uniform":
        A *= 10.0 ** decades
    elif kind == "columns":
        A *= np.logspace(0.0, decades / 2, p)[None, :]
    elif kind == "rows":
        A *= np.logspace(0.0, decades / 2, R)[:, None]
    elif kind == "zeros":
        A[rng.random(A.shape) < 0.4] = 0.0
    fast = _dense_exponents(A)
    if kind in ("plain", "zeros") and A.any():
        assert fast is not None  # well-scaled data take the exponent path
    if fast is None:
        return
    slow = _equilibrate_sweeps(A)
    assert np.array_equal(fast.row, slow.row) and np.array_equal(fast.col, slow.col)
    assert np.array_equal(fast.A, slow.A) and fast.range_log2 == slow.range_log2
