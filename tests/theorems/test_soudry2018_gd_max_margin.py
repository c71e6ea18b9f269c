"""GD -> max-margin: the three witnesses agree on drawn instances, and the checks can fail."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import streams
from sim.data import separable
from tests.strategies import separable_binary, separable_multiclass
from theorems.convex import NotSeparableError
from theorems.soudry2018 import _gd_claims
from theorems.soudry2018.gd_max_margin import (
    DIRECTION_TOL,
    GradientDescentMaxMargin,
    Instance,
    angle_law,
    check_direction,
)

# The claims' own pass bounds (named there with their reasons).
MARGIN_GAP = _gd_claims.MARGIN_GAP.bound


def test_angle_law_is_proved_symbolically():
    d = angle_law()
    assert d.proved, d.detail
    assert d.values["spot_check_error"] < 1e-5  # the spot check at L = 1e6 is O(1/L)


@settings(max_examples=6)  # each example runs up to 5e4 GD steps
@given(separable_binary(n=(10, 80), d=(2, 8)), st.sampled_from(["ngd", "momentum"]),
       st.sampled_from(["logistic", "exponential"]))
def test_fast_gd_reaches_the_reference_direction(data, method, loss):
    chk = check_direction(Instance(*data), method=method, loss=loss, steps=100_000)
    assert chk.one_minus_cos <= DIRECTION_TOL and chk.margin_gap <= MARGIN_GAP, chk


@settings(max_examples=5)  # each example runs up to 5e4 GD steps
@given(separable_multiclass(n=(10, 50), d=(2, 5), k=(3, 4)))
def test_cross_entropy_gd_reaches_the_multiclass_reference(data):
    X, y, k = data
    chk = check_direction(Instance(X, y, k), method="momentum")
    assert chk.passed, chk


# --- negative controls ---------------------------------------------------------------------

@given(separable_binary(n=(5, 60), d=(2, 6)), st.integers(0, 10**6))
def test_direction_check_refuses_non_separable_data(data, seed):
    X, y = separable.with_contradiction(*data, streams(seed).noise)
    with pytest.raises(NotSeparableError):
        check_direction(Instance(X, y))


def test_direction_check_fails_when_gd_has_not_converged():
    inst = Instance(*separable.planted(100, 10, streams(1).data))
    chk = check_direction(inst, method="gd", steps=50)
    assert not chk.passed and chk.one_minus_cos > DIRECTION_TOL


def test_adam_without_eps_fails_the_l2_check():
    X, y = separable.planted(30, 50, streams(0).data, anisotropy=1.0, margin=0.5)
    chk = check_direction(Instance(X, y), method="adam", steps=5_000, lr=1e-2, adam_eps=0.0)
    assert not chk.passed and chk.one_minus_cos > 1e3 * DIRECTION_TOL


def test_support_claim_detects_a_wrong_support_set(monkeypatch):
    """G6's measurement must count a mismatch when the reference's support is wrong."""
    import theorems.convex as convex

    real = convex.max_margin

    def dropped(X, y, **kw):
        r = real(X, y, **kw)
        return type(r)(**{**r.__dict__, "support": r.support[1:]})

    monkeypatch.setattr(convex, "max_margin", dropped)
    m = _gd_claims.measure_support(0)
    assert m.values["support_mismatch"] >= 1


def test_kkt_claim_fails_for_an_unrefined_perturbed_reference(monkeypatch):
    """G1 must fail if the reference returned a point off the optimum."""
    from theorems.convex import maxmargin

    real = maxmargin.max_margin

    def skewed(X, y, **kw):
        r = real(X, y, **kw)
        w = r.w * (1 + 1e-3)
        res = type(r.residuals)(r.residuals.primal_infeasibility, r.residuals.dual_infeasibility,
                                float(np.max(np.abs(w - r.w))), r.residuals.complementarity)
        return type(r)(**{**r.__dict__, "w": w, "residuals": res})

    monkeypatch.setattr("theorems.convex.max_margin", skewed)
    m = _gd_claims.measure_kkt(0)
    assert m.values["kkt_residual"] > 1e-10 or m.values["exact_gap"] > 1e-10


def test_theorem_witnesses_agree_on_the_example():
    thm = GradientDescentMaxMargin()
    inst = thm.example(2)
    ref = thm.reference(inst)
    sim = thm.simulate(inst, seed=2)
    gap = float(np.linalg.norm(sim["direction"] - ref.direction) ** 2 / 2)
    assert gap <= DIRECTION_TOL
    assert thm.compare(inst)["one_minus_cos"] <= DIRECTION_TOL


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_direction_at_paper_scale(seed):
    """n = 2000, d = 100: working-set reference, dual-momentum GD to the G2 bounds."""
    X, y = separable.planted(2000, 100, streams(seed).data, anisotropy=10.0)
    chk = check_direction(Instance(X, y), method="momentum", steps=200_000)
    assert chk.passed, chk
