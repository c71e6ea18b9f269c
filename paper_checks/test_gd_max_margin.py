"""Gradient descent converges in direction to the max-margin solution (Soudry et al. 2018).

One test per claim, in the order of the spec keys gd:G1 ... gd:G6; each body only asserts
the evidence that the ``evidence`` fixture produced for the marked claim.
"""

import pytest

PREFIX = "soudry2018.gd_max_margin"


@pytest.mark.claim(f"{PREFIX}.kkt")
def test_g1_reference_satisfies_kkt_exactly(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{PREFIX}.direction")
def test_g2_fast_gd_converges_to_svm_direction(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{PREFIX}.rate")
def test_g3_plain_gd_angle_decays_like_one_over_log_t(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{PREFIX}.multiclass")
def test_g4_cross_entropy_gd_converges_to_multiclass_svm(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{PREFIX}.controls")
def test_g5_broken_assumptions_break_the_check(evidence):
    evidence.assert_ok()


@pytest.mark.claim(f"{PREFIX}.support")
def test_g6_support_vectors_are_the_min_margin_points(evidence):
    evidence.assert_ok()
