"""Bad input is rejected with a clear :class:`sim.errors.InputError` naming the problem.

Covers the validators in :mod:`sim.errors` directly and the public entry points that use
them: :func:`sim.gd.run`, :func:`sim.data.separable.planted` (and siblings) and
:func:`sim.streams`.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import sim
from sim import errors, gd
from sim.data import separable
from sim.errors import InputError

SEED = 20240611


def _binary_data(n: int = 6, d: int = 3):
    """Small valid binary data (float64, +-1 labels, no zero rows) from a seeded stream."""
    return separable.planted(n, d, sim.streams(SEED).data)


def _multiclass_data(n: int = 6, d: int = 3, k: int = 3):
    """Small valid multiclass data (labels 0..k-1) from a seeded stream."""
    return separable.planted_multiclass(n, d, k, sim.streams(SEED).data)


# --- the error type ---------------------------------------------------------------------

def test_input_error_is_a_value_error_so_callers_catching_value_error_still_catch_it():
    assert issubclass(InputError, ValueError)
    assert sim.InputError is InputError


# --- as_matrix / as_vector ----------------------------------------------------------------

def test_nan_in_a_matrix_is_reported_as_nan_with_its_index_and_the_count():
    X = np.ones((4, 3))
    X[1, 2] = np.nan
    X[3, 0] = np.nan
    with pytest.raises(InputError, match=re.escape("X contains NaN at index (1, 2) (2 non-finite")):
        errors.as_matrix("X", X)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_entry_in_a_matrix_is_reported_as_infinite_with_its_index(value):
    X = np.ones((3, 2))
    X[2, 1] = value
    with pytest.raises(InputError, match=re.escape("X contains an infinite value at index (2, 1)")):
        errors.as_matrix("X", X)


def test_the_first_non_finite_entry_decides_between_nan_and_infinite():
    X = np.ones((3, 2))
    X[0, 1] = np.inf
    X[2, 0] = np.nan
    with pytest.raises(InputError, match=re.escape("infinite value at index (0, 1)")):
        errors.as_matrix("X", X)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()])
def test_a_matrix_argument_of_the_wrong_ndim_is_rejected_with_its_shape(shape):
    with pytest.raises(InputError, match=re.escape(f"X must be a 2-D array (n, d); got shape {shape}")):
        errors.as_matrix("X", np.zeros(shape))


def test_a_matrix_with_zero_rows_is_reported_as_empty():
    with pytest.raises(InputError, match=re.escape("X is empty: it has 0 rows")):
        errors.as_matrix("X", np.empty((0, 3)))


def test_a_matrix_with_fewer_rows_than_required_is_reported_as_empty():
    with pytest.raises(InputError, match="at least 3 needed"):
        errors.as_matrix("X", np.ones((2, 2)), min_rows=3)


def test_a_matrix_with_zero_columns_is_rejected():
    with pytest.raises(InputError, match="has no columns"):
        errors.as_matrix("X", np.empty((3, 0)))


def test_a_non_numeric_matrix_is_rejected_as_not_numeric():
    with pytest.raises(InputError, match="X must be a numeric array"):
        errors.as_matrix("X", [["a", "b"]])


def test_a_valid_matrix_comes_back_as_float64_with_the_same_values():
    X = [[1, 2], [3, 4]]
    out = errors.as_matrix("X", X)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.array(X, dtype=np.float64))


def test_a_vector_of_the_wrong_length_is_rejected_with_both_lengths():
    with pytest.raises(InputError, match=re.escape("init has length 3, expected 5")):
        errors.as_vector("init", np.zeros(3), length=5)


def test_a_vector_argument_of_the_wrong_ndim_is_rejected():
    with pytest.raises(InputError, match="init must be a 1-D array"):
        errors.as_vector("init", np.zeros((2, 2)))


def test_nan_in_a_vector_is_reported_with_its_index():
    v = np.zeros(4)
    v[3] = np.nan
    with pytest.raises(InputError, match=re.escape("v contains NaN at index (3,)")):
        errors.as_vector("v", v)


# --- binary labels ------------------------------------------------------------------------

def test_zero_one_labels_are_rejected_with_a_message_asking_for_plus_and_minus_one():
    # The entry is shown with repr, which under numpy 2 reads "np.float64(0.0)".
    with pytest.raises(InputError, match=re.escape("must contain only +1 and -1; entry 0 is ") + r"(np\.float64\()?0\.0"):
        errors.binary_labels("y", np.array([0, 1, 1, 0]), 4)


def test_the_binary_label_message_suggests_mapping_zero_one_labels():
    with pytest.raises(InputError, match=re.escape("2 invalid labels; map 0/1 labels with 2*y-1")):
        errors.binary_labels("y", np.array([1, 0, -1, 0]), 4)


@pytest.mark.parametrize("bad", [2.0, 0.5, np.nan, np.inf])
def test_any_label_other_than_plus_or_minus_one_is_rejected(bad):
    with pytest.raises(InputError, match=re.escape("+1 and -1")):
        errors.binary_labels("y", np.array([1.0, -1.0, bad]), 3)


def test_a_binary_label_count_that_differs_from_the_row_count_is_rejected():
    with pytest.raises(InputError, match=re.escape("y has 3 labels but the data has 4 rows")):
        errors.binary_labels("y", np.array([1, -1, 1]), 4)


def test_binary_labels_of_the_wrong_ndim_are_rejected():
    with pytest.raises(InputError, match="1-D array of \\+1/-1 labels"):
        errors.binary_labels("y", np.ones((2, 2)), 2)


def test_non_numeric_binary_labels_are_rejected():
    with pytest.raises(InputError, match="numeric labels"):
        errors.binary_labels("y", np.array(["a", "b"]), 2)


def test_valid_binary_labels_come_back_as_float64_plus_minus_one():
    out = errors.binary_labels("y", np.array([1, -1, 1], dtype=np.int8), 3)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, -1.0, 1.0])


# --- multiclass labels ----------------------------------------------------------------------

@pytest.mark.parametrize("bad, index", [([0, 1, 3], 2), ([0, -1, 2], 1)])
def test_a_class_index_out_of_range_is_rejected_with_the_range_and_the_entry(bad, index):
    with pytest.raises(InputError, match=re.escape(f"classes in [0, 3); entry {index} is {bad[index]}")):
        errors.class_labels("y", np.array(bad), 3, 3)


@pytest.mark.parametrize("bad", [[0.0, 1.5, 2.0], [0.0, np.nan, 1.0], [0.0, np.inf, 1.0]])
def test_non_integer_class_labels_are_rejected(bad):
    with pytest.raises(InputError, match="must hold integer class indices"):
        errors.class_labels("y", np.array(bad), 3, 3)


def test_string_class_labels_are_rejected_as_non_integer():
    with pytest.raises(InputError, match="must hold integer class indices"):
        errors.class_labels("y", np.array(["0", "1"]), 2, 2)


def test_integer_valued_float_class_labels_are_accepted_as_int64():
    out = errors.class_labels("y", np.array([0.0, 2.0, 1.0]), 3, 3)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [0, 2, 1])


def test_a_class_label_count_that_differs_from_the_row_count_is_rejected():
    with pytest.raises(InputError, match=re.escape("y has 2 labels but the data has 3 rows")):
        errors.class_labels("y", np.array([0, 1]), 3, 2)


def test_fewer_than_two_classes_is_rejected():
    with pytest.raises(InputError, match="n_classes must be at least 2"):
        errors.class_labels("y", np.array([0, 0]), 2, 1)


def test_class_labels_of_the_wrong_ndim_are_rejected():
    with pytest.raises(InputError, match="1-D array of class indices"):
        errors.class_labels("y", np.zeros((2, 1), dtype=int), 2, 2)


# --- zero rows ----------------------------------------------------------------------------

def test_a_zero_row_is_reported_as_the_zero_vector_with_its_index_and_count():
    X = np.ones((4, 2))
    X[2] = 0.0
    X[3] = 0.0
    with pytest.raises(InputError, match=re.escape("X row 2 is the zero vector (2 such rows)")):
        errors.nonzero_rows("X", X)


def test_rows_with_any_nonzero_entry_pass_the_zero_row_check():
    # The squared norm of a row of tiny entries underflows to 0; the check must not use it.
    X = np.array([[0.0, 1e-300], [1.0, 0.0]])
    assert errors.nonzero_rows("X", X) is None  # returns without raising


# --- positive_int / positive_float ----------------------------------------------------------

@pytest.mark.parametrize("value", [0, -1, -10, True, False, 1.5, 2.0, np.nan, np.inf, "3", None])
def test_positive_int_rejects_zero_negatives_bools_floats_nan_and_non_numbers(value):
    with pytest.raises(InputError, match="steps must be a positive integer"):
        errors.positive_int("steps", value)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_positive_python_and_numpy_integers_as_int(value):
    out = errors.positive_int("steps", value)
    assert type(out) is int
    assert out == int(value)


@pytest.mark.parametrize("value", [0, 0.0, -1e-9, -3, np.nan, np.inf, -np.inf])
def test_positive_float_rejects_zero_negatives_nan_and_infinity(value):
    with pytest.raises(InputError, match="lr must be a finite positive number"):
        errors.positive_float("lr", value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_positive_float_rejects_bools(value):
    # Library bug (reported): positive_float(True) returns 1.0 because float(True) == 1.0;
    # positive_int rejects bools explicitly, positive_float does not.
    with pytest.raises(InputError, match="lr must be"):
        errors.positive_float("lr", value)


@pytest.mark.parametrize("value", [None, "abc", [1.0]])
def test_positive_float_rejects_non_numbers(value):
    with pytest.raises(InputError, match="lr must be a positive number"):
        errors.positive_float("lr", value)


@pytest.mark.parametrize("value", [1, 0.25, np.float64(3.5), 1e-300])
def test_positive_float_accepts_finite_positive_numbers_as_float(value):
    out = errors.positive_float("lr", value)
    assert type(out) is float
    assert out == float(value)


# --- gd.run -------------------------------------------------------------------------------

def test_gd_run_rejects_nan_in_x_naming_nan_and_the_index():
    X, y = _binary_data()
    X[4, 1] = np.nan
    with pytest.raises(InputError, match=re.escape("X contains NaN at index (4, 1)")):
        gd.run(X, y, steps=1)


def test_gd_run_rejects_infinite_x_naming_the_index():
    X, y = _binary_data()
    X[0, 0] = -np.inf
    with pytest.raises(InputError, match=re.escape("X contains an infinite value at index (0, 0)")):
        gd.run(X, y, steps=1)


def test_gd_run_rejects_one_dimensional_x():
    _, y = _binary_data()
    with pytest.raises(InputError, match="X must be a 2-D array"):
        gd.run(np.ones(6), y, steps=1)


def test_gd_run_rejects_empty_data():
    with pytest.raises(InputError, match="X is empty"):
        gd.run(np.empty((0, 3)), np.empty(0), steps=1)


def test_gd_run_rejects_zero_one_labels_asking_for_plus_and_minus_one():
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape("+1 and -1")):
        gd.run(X, (y + 1) / 2, steps=1)


def test_gd_run_rejects_a_label_count_mismatch():
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape("y has 5 labels but the data has 6 rows")):
        gd.run(X, y[:5], steps=1)


def test_gd_run_rejects_a_zero_row_as_the_zero_vector():
    X, y = _binary_data()
    X[3] = 0.0
    with pytest.raises(InputError, match="row 3 is the zero vector"):
        gd.run(X, y, steps=1)


def test_gd_run_rejects_multiclass_labels_out_of_range():
    X, y = _multiclass_data()
    y = y.copy()
    y[1] = 3
    with pytest.raises(InputError, match=re.escape("classes in [0, 3); entry 1 is 3")):
        gd.run(X, y, loss="cross_entropy", n_classes=3, steps=1)


def test_gd_run_rejects_non_integer_multiclass_labels():
    X, y = _multiclass_data()
    y = y.astype(np.float64)
    y[0] = 0.5
    with pytest.raises(InputError, match="integer class indices"):
        gd.run(X, y, loss="cross_entropy", n_classes=3, steps=1)


@pytest.mark.parametrize("method", ["sgd", "GD", "", None])
def test_gd_run_rejects_an_unknown_method_listing_the_known_ones(method):
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape(f"method must be one of {gd.METHODS}")):
        gd.run(X, y, method=method, steps=1)


@pytest.mark.parametrize("loss", ["hinge", "Logistic", "", None])
def test_gd_run_rejects_an_unknown_loss_listing_the_known_ones(loss):
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape(f"loss must be one of {gd.LOSSES}")):
        gd.run(X, y, loss=loss, steps=1)


def test_gd_run_rejects_cross_entropy_without_n_classes():
    X, y = _multiclass_data()
    with pytest.raises(InputError, match="needs n_classes"):
        gd.run(X, y, loss="cross_entropy", steps=1)


def test_gd_run_rejects_logistic_loss_with_n_classes():
    X, y = _multiclass_data()
    with pytest.raises(InputError, match="'logistic' is binary"):
        gd.run(X, y, loss="logistic", n_classes=3, steps=1)


def test_gd_run_rejects_tol_without_a_reference():
    X, y = _binary_data()
    with pytest.raises(InputError, match="pass reference as well"):
        gd.run(X, y, tol=1e-3, steps=1)


def test_gd_run_rejects_a_zero_reference_as_having_no_direction():
    X, y = _binary_data()
    with pytest.raises(InputError, match="reference is the zero vector"):
        gd.run(X, y, reference=np.zeros(X.shape[1]), steps=1)


def test_gd_run_rejects_a_reference_of_the_wrong_length():
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape("reference has length 2, expected 3")):
        gd.run(X, y, reference=np.ones(2), steps=1)


def test_gd_run_rejects_a_nan_reference():
    X, y = _binary_data()
    with pytest.raises(InputError, match="reference contains NaN"):
        gd.run(X, y, reference=np.array([1.0, np.nan, 0.0]), steps=1)


def test_gd_run_rejects_an_init_of_the_wrong_length():
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape("init has length 4, expected 3")):
        gd.run(X, y, init=np.zeros(4), steps=1)


def test_gd_run_multiclass_init_must_have_length_k_times_d():
    X, y = _multiclass_data(k=3, d=3)
    with pytest.raises(InputError, match=re.escape("init has length 3, expected 9")):
        gd.run(X, y, loss="cross_entropy", n_classes=3, init=np.zeros(3), steps=1)


def test_gd_run_rejects_a_non_finite_init():
    X, y = _binary_data()
    with pytest.raises(InputError, match="init contains an infinite value"):
        gd.run(X, y, init=np.array([0.0, np.inf, 0.0]), steps=1)


def test_exponential_loss_gd_without_lr_is_rejected_asking_for_lr():
    X, y = _binary_data()
    with pytest.raises(InputError, match="exponential-loss gd .* pass lr"):
        gd.run(X, y, method="gd", loss="exponential", steps=1)


@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf])
def test_gd_run_rejects_a_non_positive_or_non_finite_lr(lr):
    X, y = _binary_data()
    with pytest.raises(InputError, match="lr must be a finite positive number"):
        gd.run(X, y, method="gd", lr=lr, steps=1)


@pytest.mark.parametrize("steps", [0, -5, 2.5, True])
def test_gd_run_rejects_a_bad_step_count(steps):
    X, y = _binary_data()
    with pytest.raises(InputError, match="steps must be a positive integer"):
        gd.run(X, y, steps=steps)


def test_gd_run_rejects_zero_checkpoints_per_decade():
    X, y = _binary_data()
    with pytest.raises(InputError, match="checkpoints_per_decade must be a positive integer"):
        gd.run(X, y, steps=1, checkpoints_per_decade=0)


# --- data generators ----------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, -1, 1.0, True])
def test_planted_rejects_a_non_positive_or_non_integer_sample_count(n):
    with pytest.raises(InputError, match="n must be a positive integer"):
        separable.planted(n, 3, np.random.default_rng(SEED))


def test_planted_rejects_zero_dimensions():
    with pytest.raises(InputError, match="d must be a positive integer"):
        separable.planted(5, 0, np.random.default_rng(SEED))


@pytest.mark.parametrize("anisotropy", [0.999, 0.5, 0.0, -2.0, np.nan])
def test_planted_rejects_anisotropy_below_one(anisotropy):
    with pytest.raises(InputError, match="anisotropy must be >= 1"):
        separable.planted(5, 3, np.random.default_rng(SEED), anisotropy=anisotropy)


@pytest.mark.parametrize("margin", [0.0, -0.1, np.nan])
def test_planted_rejects_a_non_positive_margin(margin):
    with pytest.raises(InputError, match="margin must be"):
        separable.planted(5, 3, np.random.default_rng(SEED), margin=margin)


def test_planted_multiclass_rejects_fewer_than_two_classes():
    with pytest.raises(InputError, match="k must be at least 2"):
        separable.planted_multiclass(5, 3, 1, np.random.default_rng(SEED))


def test_rational_rejects_zero_samples():
    with pytest.raises(InputError, match="n must be a positive integer"):
        separable.rational(0, 3, np.random.default_rng(SEED))


def test_with_contradiction_validates_its_labels():
    X, y = _binary_data()
    with pytest.raises(InputError, match=re.escape("+1 and -1")):
        separable.with_contradiction(X, (y + 1) / 2, np.random.default_rng(SEED))


# --- streams ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", None, np.float64(2.0)])
def test_streams_rejects_seeds_that_are_not_non_negative_integers(seed):
    with pytest.raises(InputError, match="seed must be a non-negative integer"):
        sim.streams(seed)


def test_streams_accepts_zero_and_numpy_integer_seeds():
    assert sim.streams(0).seed == 0
    s = sim.streams(np.int64(5))
    assert s.seed == 5 and type(s.seed) is int


def test_planted_multiclass_with_an_unreachable_margin_raises_instead_of_looping():
    # Three classes in d = 1: of three unit rows (each +1 or -1) two coincide, whose gap
    # is 0 for every point, however often the rows are redrawn.
    from sim.data.separable import planted_multiclass

    with pytest.raises(InputError, match="could not draw 3 score directions in R\\^1"):
        planted_multiclass(5, 1, 3, np.random.default_rng(1))
    # two classes in d = 1: a coinciding pair of rows (this seed's first draw) is redrawn
    # until the rows are +1 and -1, and the points can be drawn
    X, y = planted_multiclass(5, 1, 2, np.random.default_rng(1))
    assert X.shape == (5, 1) and set(y.tolist()) <= {0, 1}
    with pytest.raises(InputError, match="margin"):
        planted_multiclass(5, 3, 3, np.random.default_rng(0), margin=float("nan"))


def test_run_rejects_a_non_positive_tol():
    from sim.data.separable import planted
    from sim.gd import run

    X, y = planted(10, 3, np.random.default_rng(0))
    with pytest.raises(InputError, match="tol"):
        run(X, y, reference=np.ones(3), tol=-1.0, steps=5)
