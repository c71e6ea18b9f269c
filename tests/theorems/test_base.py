"""The claim contract: verdicts, aggregation over seeds, readable failures."""

import math

import numpy as np
import pytest

from theorems.base import Claim, ClaimFailed, Measurement
from theorems.tolerances import Threshold, Tol

UPPER = Threshold("err", 1e-3, why="test bound")
LOWER = Threshold("score", 0.9, upper=False, why="test floor")


def _claim(values_by_seed, statistic="worst", inconclusive=()):
    def measure(seed):
        return Measurement(values_by_seed[seed], {"seed": seed},
                           inconclusive="not converged" if seed in inconclusive else "")

    return Claim(id="toy.thm.claim", spec="toy:1", paper="Toy 2024", reference="Thm 1",
                 statement="A toy claim.", kind="simulation", measure=measure,
                 criteria=(UPPER, LOWER), seeds=tuple(values_by_seed), statistic=statistic)


def test_worst_seed_decides_the_verdict():
    ev = _claim({0: {"err": 1e-4, "score": 0.95}, 1: {"err": 2e-3, "score": 0.99}}).check()
    assert ev.verdict == "fail" and ev.failing == ("err",)
    assert ev.measured == {"err": 2e-3, "score": 0.95}


def test_median_statistic_tolerates_one_bad_seed_of_three():
    vals = {0: {"err": 1e-4, "score": 0.95}, 1: {"err": 5e-3, "score": 0.5},
            2: {"err": 2e-4, "score": 0.97}}
    assert _claim(vals, statistic="median").check().verdict == "pass"
    assert _claim(vals).check().verdict == "fail"


def test_mean_bound_uses_a_one_sided_t_interval():
    vals = {0: {"err": 1e-4, "score": 0.95}, 1: {"err": 3e-4, "score": 0.97},
            2: {"err": 2e-4, "score": 0.96}}
    ev = _claim(vals, statistic="mean_bound").check()
    # mean 2e-4, sd 1e-4, t_{0.95, 2} = 2.919986: upper bound 2e-4 + 2.92 * 1e-4 / sqrt(3)
    assert ev.measured["err"] == pytest.approx(2e-4 + 2.919986 * 1e-4 / 3**0.5, rel=1e-6)
    assert ev.verdict == "pass"
    spread = {0: {"err": 1e-5, "score": 0.95}, 1: {"err": 9e-4, "score": 0.95}}
    assert _claim(spread, statistic="mean_bound").check().verdict == "fail"  # too uncertain
    assert _claim({0: vals[0]}, statistic="mean_bound").check().verdict == "fail"


def test_inconclusive_seed_is_never_a_pass():
    ev = _claim({0: {"err": 1e-4, "score": 0.95}}, inconclusive=(0,)).check()
    assert ev.verdict == "inconclusive" and "not converged" in ev.note
    with pytest.raises(ClaimFailed, match="INCONCLUSIVE"):
        ev.assert_ok()


def test_nan_measurement_fails():
    ev = _claim({0: {"err": math.nan, "score": 0.95}}).check()
    assert ev.verdict == "fail"


def test_failure_message_reads_like_the_claim():
    ev = _claim({3: {"err": 2e-3, "score": 0.95}}).check()
    with pytest.raises(ClaimFailed) as info:
        ev.assert_ok()
    msg = str(info.value)
    for part in ("toy.thm.claim", "toy:1", "A toy claim.", "err = 0.002", "err <= 0.001",
                 "why: test bound", "seed 3", "get_claim('toy.thm.claim').check((3,))"):
        assert part in msg


def test_seed_subset_is_respected():
    ev = _claim({0: {"err": 1e-4, "score": 0.95}, 1: {"err": 1.0, "score": 0.0}}).check(seeds=(0,))
    assert ev.seeds == (0,) and ev.verdict == "pass"


def test_missing_statistic_is_an_error_not_a_pass():
    with pytest.raises(KeyError, match="did not measure"):
        _claim({0: {"err": 1e-4}}).check()


def test_claims_without_criteria_or_reasons_are_rejected():
    with pytest.raises(ValueError, match="no criterion"):
        Claim(id="a.b.c", spec="s", paper="p", reference="r", statement="s", kind="simulation",
              measure=lambda s: None, criteria=())
    with pytest.raises(ValueError, match="reason"):
        Threshold("x", 1.0, why=" ")
    with pytest.raises(ValueError, match="reason"):
        Tol(why="", atol=1e-3)
    with pytest.raises(ValueError, match="not both 0"):
        Tol(why="because")


def test_tolerance_bound_combines_absolute_and_relative():
    t = Tol(why="x", atol=1e-3, rtol=1e-2)
    assert t.accepts(10.05, 10.0) and not t.accepts(10.2, 10.0)


def test_a_nan_statistic_from_a_seed_that_says_why_is_inconclusive_not_failed():
    vals = {0: {"err": math.nan, "score": math.nan}, 1: {"err": 1e-4, "score": 0.95}}
    ev = _claim(vals, inconclusive=(0,)).check()
    assert ev.verdict == "inconclusive" and ev.failing == ()
    assert "not converged" in ev.note


def test_a_nan_statistic_without_a_reason_fails():
    vals = {0: {"err": math.nan, "score": 0.95}, 1: {"err": 1e-4, "score": 0.95}}
    ev = _claim(vals).check()
    assert ev.verdict == "fail" and ev.failing == ("err",)


def test_an_inconclusive_seed_does_not_hide_a_failure_elsewhere():
    vals = {0: {"err": math.nan, "score": math.nan}, 1: {"err": 1e-1, "score": 0.95}}
    ev = _claim(vals, inconclusive=(0,)).check()
    assert ev.verdict == "fail"


def test_paired_z_is_the_one_sample_z_and_handles_constant_differences():
    from theorems.base import paired_z

    d = np.array([1.0, 2.0, 3.0, 6.0])
    assert paired_z(d) == pytest.approx(d.mean() / (d.std(ddof=1) / 2.0), rel=1e-15)
    assert paired_z(np.zeros(5)) == 0.0
    assert paired_z(np.full(5, -0.1)) == -np.inf
    with pytest.raises(ValueError, match="at least 2"):
        paired_z([1.0])
