"""Bad input everywhere in :mod:`sim`: every public entry point refuses it by name.

The audit, kept as tests, organised by module. Each case asserts the error type
(:class:`~sim.errors.InputError`, or its subclass :class:`~sim.errors.InputTypeError` where
the argument has the wrong kind) and that the message names the argument and the problem.
The bad inputs: complex numbers (which a float64 cast would silently truncate), strings and
objects passed as numbers, entries near 1e+-300 (whose squares, sums or exponentials
overflow inside), NaN parameters, degenerate pairs, empty batches, one-row splits, zero
ranges, floats for counts, ints for generators and dicts for configuration objects.
Where an overflow on finite input has an answer, the test checks that it is computed (in
log space or after rescaling) and equals an independent reference; nothing may hang.

A last section checks that no probe selects on its test split: corrupting the test rows
leaves the choice and the validation score unchanged and moves the reported score, while
corrupting the validation rows moves the validation score (so the check can fail).
"""

from __future__ import annotations

import contextlib
import math
import re
import signal

import mpmath
import numpy as np
import pytest
import torch

import sim
from sim import errors, gd, streams
from sim.bayes import HMM, LDA, BetaBernoulli, GammaExponential, NormalGamma, RectangleGame
from sim.concepts import ConceptLaw, ConceptModel, ContextSet, Vocabulary, metrics
from sim.concepts.adapter import ConceptData, concept_geometry, from_concept_model
from sim.concepts.hf import measure_causal_lm, read_word_pairs
from sim.data import separable
from sim.errors import InputError, InputTypeError
from sim.models.bilinear import Bilinear, fit, gradients, population_loss
from sim.models.transformer import CausalTransformer, TransformerConfig, train_transformer
from sim.probes import Split, mlp_probe, ridge_probe, softmax_probe, split
from sim.train import History, OptimConfig, TrainConfig, optimizer_step, stop_when, train

SEED = 20240612
# Seconds a refusal may take before it counts as a hang (the refusals below are instant).
DEADLINE_S = 10
# A quantity computed on the rescaled (log-space) path agrees with the ordinary path, or
# with a 50-digit mpmath reference, to float64 rounding of a few operations.
RESCALED_RTOL = 1e-12
# The ridge probe's R^2 is invariant under scaling the embedding (it standardises first);
# scaled by 1e30 it agrees to the rounding of the standardisation.
SCALE_INVARIANCE_ATOL = 1e-9
mpmath.mp.dps = 50


def rng(seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


@contextlib.contextmanager
def deadline(seconds: int = DEADLINE_S):
    """Fail (instead of hanging) if the block runs longer than ``seconds``."""
    def alarm(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: the call hangs")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _binary(n: int = 8, d: int = 3):
    return separable.planted(n, d, streams(SEED).data)


# --- sim.errors: the validators -------------------------------------------------------------

def test_input_type_error_is_an_input_error_and_a_type_error():
    assert issubclass(InputTypeError, InputError) and issubclass(InputTypeError, TypeError)
    assert issubclass(InputError, ValueError)


@pytest.mark.parametrize("value, problem", [
    (np.ones((2, 2)) + 1j, "must be real; got complex"),
    (np.ones((2, 2)) + 0j, "must be real; got complex"),  # zero imaginary parts too: no silent cast
    (np.array([["1", "2"]]), "must be a numeric array; got dtype <U1"),
    (np.array([[1.0, "a"]], dtype=object), "must be a numeric array of real numbers"),
    (np.array([[1.0, 2j]], dtype=object), "must be a numeric array of real numbers; it holds complex"),
    ({"a": 1}, "must be a numeric array"),
    ([[1.0, 2.0], [3.0]], "must be a numeric array"),
    ("12", "must be a numeric array; got a string"),
])
@pytest.mark.parametrize("validator", [errors.as_matrix, errors.as_array])
def test_arrays_that_are_not_real_numbers_are_refused_as_a_type_error(validator, value, problem):
    with pytest.raises(InputTypeError, match=r"^X " + re.escape(problem)):
        validator("X", value)


def test_a_complex_vector_is_refused_not_truncated():
    with pytest.raises(InputTypeError, match="v must be real"):
        errors.as_vector("v", np.ones(3) + 1j)


@pytest.mark.parametrize("value", [3.0, np.float64(2.0), "3", None, True, 1 + 0j])
def test_a_count_of_the_wrong_type_is_a_type_error(value):
    with pytest.raises(InputTypeError, match="n must be a positive integer"):
        errors.count("n", value)


def test_a_count_out_of_range_names_the_bound():
    with pytest.raises(InputError, match="n must be a positive integer; got 0"):
        errors.count("n", 0)
    with pytest.raises(InputError, match="k must be at least 2; got 1"):
        errors.count("k", 1, minimum=2)
    with pytest.raises(InputError, match=f"n must be at most {errors.MAX_COUNT}"):
        errors.count("n", 2**70)


@pytest.mark.parametrize("value", [0, None, np.random.RandomState(0), torch.Generator(), "rng"])
def test_anything_but_a_numpy_generator_is_refused_where_an_rng_is_expected(value):
    with pytest.raises(InputTypeError, match="rng must be a numpy.random.Generator"):
        errors.generator("rng", value)


@pytest.mark.parametrize("validator, value", [
    (errors.positive_float, 1 + 1j), (errors.positive_float, np.ones(2)),
    (errors.finite_float, 2j), (errors.finite_float, "1.0"), (errors.nonnegative_float, True),
])
def test_scalars_that_are_not_real_numbers_are_a_type_error(validator, value):
    with pytest.raises(InputTypeError, match="^x must be"):
        validator("x", value)


@pytest.mark.parametrize("value", [np.nan, -0.1, 1.0])
def test_an_interval_refuses_nan_and_values_outside_naming_the_interval(value):
    with pytest.raises(InputError, match=r"q must be in \[0, 1\)"):
        errors.in_interval("q", value, 0.0, 1.0, high_open=True)


@pytest.mark.parametrize("scale, side", [(1e200, "large"), (1e-200, "small")])
def test_a_scale_whose_squares_leave_float64_is_refused_with_a_rescale_hint(scale, side):
    with pytest.raises(InputError, match=f"X has entries of magnitude .* too {side} .* rescale X"):
        errors.check_scale("X", np.ones((3, 2)) * scale)


def test_a_zero_array_passes_the_scale_check():
    assert errors.check_scale("X", np.zeros((3, 2))) is None


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_unit_rescales_where_the_norm_over_or_underflows(scale):
    v = np.array([1.0, -2.0, 2.0])
    np.testing.assert_allclose(errors.unit("v", v * scale), v / 3.0, rtol=RESCALED_RTOL)


def test_unit_refuses_the_zero_vector():
    with pytest.raises(InputError, match="v is the zero vector"):
        errors.unit("v", np.zeros(3))


def test_instance_and_function_checks_name_the_argument_and_the_expected_type():
    with pytest.raises(InputTypeError, match="config must be an OptimConfig; got dict"):
        errors.instance("config", {}, OptimConfig)
    with pytest.raises(InputTypeError, match=r"callbacks\[1\] must be callable"):
        errors.functions("callbacks", [print, 5])


# --- sim.rng --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [3.0, "3", None, True])
def test_streams_refuses_a_seed_of_the_wrong_type_as_a_type_error(seed):
    with pytest.raises(InputTypeError, match="seed must be a non-negative integer"):
        sim.streams(seed)


# --- sim.data.separable ---------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda r: separable.planted(5, 3, r),
    lambda r: separable.planted_multiclass(5, 3, 3, r),
    lambda r: separable.rational(5, 3, r),
    lambda r: separable.with_contradiction(*_binary(), r),
])
@pytest.mark.parametrize("bad_rng", [0, None, np.random.RandomState(0)])
def test_generators_refuse_an_rng_that_is_not_a_numpy_generator(call, bad_rng):
    with pytest.raises(InputTypeError, match="rng must be a numpy.random.Generator"):
        call(bad_rng)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"anisotropy": np.inf}, InputError, "anisotropy must be >= 1"),
    ({"anisotropy": "a"}, InputTypeError, "anisotropy must be a real number"),
    ({"anisotropy": 2 + 0j}, InputTypeError, "anisotropy must be a real number"),
    ({"margin": 1e300}, InputError, r"margin = 1e\+300 is too large: the points' norms overflow"),
    ({"margin": "0.1"}, InputTypeError, "margin must be a positive number"),
])
def test_planted_refuses_parameters_that_would_give_nan_or_zero_rows(kwargs, error, message):
    with pytest.raises(error, match=message):
        separable.planted(5, 3, rng(), **kwargs)


@pytest.mark.parametrize("k, error", [(3.0, InputTypeError), ("3", InputTypeError), (1, InputError)])
def test_planted_multiclass_refuses_a_class_count_that_is_not_an_integer_above_one(k, error):
    with pytest.raises(error, match="k must be"):
        separable.planted_multiclass(5, 3, k, rng())


def test_rational_with_max_abs_zero_raises_promptly_instead_of_hanging():
    # Every entry would be 0, so <u, x> = 0 for every draw: the redraw loop never ended.
    with deadline(), pytest.raises(InputError, match="max_abs must be a positive integer; got 0"):
        separable.rational(5, 3, rng(), max_abs=0)


@pytest.mark.parametrize("max_abs, error, message", [
    (-1, InputError, "max_abs must be a positive integer"),
    (2.5, InputTypeError, "max_abs must be a positive integer"),
    (10**30, InputError, f"max_abs must be at most {separable.MAX_RATIONAL_ABS}"),
])
def test_rational_refuses_other_bad_entry_ranges(max_abs, error, message):
    with deadline(), pytest.raises(error, match=message):
        separable.rational(5, 3, rng(), max_abs=max_abs)


def test_with_contradiction_refuses_complex_data():
    X, y = _binary()
    with pytest.raises(InputTypeError, match="X must be real"):
        separable.with_contradiction(X + 1j, y, rng())


# --- sim.gd ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scale, side", [(1e200, "large"), (1e-200, "small")])
@pytest.mark.parametrize("method", ["gd", "ngd", "momentum"])
def test_gd_refuses_data_whose_squared_norms_leave_float64(method, scale, side):
    # Before: 1e200 overflowed the margins to a NaN trajectory, 1e-200 divided by zero.
    X, y = _binary()
    with pytest.raises(InputError, match=f"X has entries of magnitude .* too {side}"):
        gd.run(X * scale, y, method=method, steps=5)


def test_gd_refuses_complex_data_and_an_init_whose_norm_overflows():
    X, y = _binary()
    with pytest.raises(InputTypeError, match="X must be real"):
        gd.run(X + 1j, y, steps=5)
    with pytest.raises(InputTypeError, match="init must be real"):
        gd.run(X, y, init=np.ones(3) + 1j, steps=5)
    with pytest.raises(InputError, match="init has entries of magnitude"):
        gd.run(X, y, init=np.ones(3) * 1e300, steps=5)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_a_reference_of_extreme_scale_gives_the_same_angles_as_a_unit_one(scale):
    # Before: 1e300 overflowed its norm; 1e-300 was reported as "the zero vector".
    X, y = _binary()
    ref = np.array([1.0, -2.0, 2.0])
    a = gd.run(X, y, reference=ref, steps=50).history.column("cos")
    b = gd.run(X, y, reference=ref * scale, steps=50).history.column("cos")
    np.testing.assert_allclose(b, a, rtol=RESCALED_RTOL)


@pytest.mark.parametrize("n_classes, error", [(2.0, InputTypeError), ("2", InputTypeError), (1, InputError)])
def test_gd_refuses_a_class_count_that_is_not_an_integer_above_one(n_classes, error):
    X, y = _binary()
    with pytest.raises(error, match="n_classes must be"):
        gd.run(X, (y > 0).astype(int), loss="cross_entropy", n_classes=n_classes, steps=5)


@pytest.mark.parametrize("kwargs, message", [
    ({"callbacks": 5}, "callbacks must be a sequence of callables"),
    ({"callbacks": [5]}, r"callbacks\[0\] must be callable"),
    ({"method": "adam", "adam_betas": 3}, "betas must be a sequence"),
    ({"method": "adam", "adam_eps": "0"}, "eps must be finite and >= 0"),
])
def test_gd_refuses_callbacks_and_adam_settings_of_the_wrong_type(kwargs, message):
    X, y = _binary()
    with pytest.raises(InputTypeError, match=message):
        gd.run(X, y, steps=5, **kwargs)


def _angles(one_minus_cos):
    h = History()
    for t, g in zip((0, 10, 100, 1000, 10_000), one_minus_cos):
        h.steps.append(t)
        h.records.append({"one_minus_cos": g})
    return h


@pytest.mark.parametrize("args, error, message", [
    (({}, 1, 100), InputTypeError, "history must be a History; got dict"),
    ((None, 1, 100), InputTypeError, "history must be a History"),
    (("H", "a", 100), InputTypeError, "t_min must be a positive number"),
    (("H", np.nan, 100), InputError, "t_min must be a finite positive number"),
    (("H", 100, 100), InputError, r"t_min must be below t_max"),
    (("H", 1000, 10), InputError, r"t_min must be below t_max"),
])
def test_fit_inverse_angle_refuses_a_bad_history_or_window(args, error, message):
    h = _angles([0.5, 0.4, 0.3, 0.2, 0.1])
    args = tuple(h if a == "H" else a for a in args)
    with pytest.raises(error, match=message):
        gd.fit_inverse_angle(*args)


def test_fit_inverse_angle_refuses_a_zero_angle_instead_of_fitting_infinity():
    h = _angles([0.5, 0.4, 0.3, 0.0, 0.0])
    with pytest.raises(InputError, match=r"angle to the reference is 0\.0 at step 1000: 1/theta is undefined"):
        gd.fit_inverse_angle(h, 1, 10_000)


# --- sim.train ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"extra_checkpoints": 5}, InputTypeError, "extra_checkpoints must be a sequence"),
    ({"extra_checkpoints": (True,)}, InputError, "extra checkpoint True is not a step"),
])
def test_train_config_refuses_extra_checkpoints_that_are_not_steps(kwargs, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(steps=10, **kwargs)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"betas": 3}, InputTypeError, "betas must be a sequence"),
    ({"betas": ("a", 0.9)}, InputTypeError, r"betas\[0\] must be a real number in \[0, 1\)"),
    ({"betas": (1j, 0.9)}, InputTypeError, r"betas\[0\] must be a real number"),
    ({"eps": "a"}, InputTypeError, "eps must be finite and >= 0"),
    ({"eps": 1j}, InputTypeError, "eps must be finite and >= 0"),
    ({"lr": np.nan}, InputError, "lr must be a finite positive number"),
])
def test_optim_config_refuses_settings_that_are_not_real_numbers(kwargs, error, message):
    with pytest.raises(error, match=message):
        OptimConfig("adam", **kwargs)


def test_optimizer_step_refuses_configs_parameters_and_gradients_of_the_wrong_type():
    p = torch.zeros(3, requires_grad=True)
    with pytest.raises(InputTypeError, match="config must be an OptimConfig; got dict"):
        optimizer_step([p], {"name": "gd"}, grad_fn=lambda: [p])
    with pytest.raises(InputTypeError, match="params must be a sequence"):
        optimizer_step(5, OptimConfig(), grad_fn=lambda: [p])
    with pytest.raises(InputTypeError, match=r"params\[0\] must be a floating-point torch.Tensor; got ndarray"):
        optimizer_step([np.zeros(3)], OptimConfig(), grad_fn=lambda: [p])
    with pytest.raises(InputTypeError, match="grad_fn must be callable"):
        optimizer_step([p], OptimConfig(), grad_fn=5)


def test_train_refuses_a_config_step_observer_or_callbacks_of_the_wrong_type():
    config = TrainConfig(steps=3)
    with pytest.raises(InputTypeError, match="config must be a TrainConfig; got dict"):
        train(lambda t: None, {"steps": 3}, lambda t: {})
    with pytest.raises(InputTypeError, match="step must be callable"):
        train(5, config, lambda t: {})
    with pytest.raises(InputTypeError, match="callbacks must be a sequence of callables"):
        train(lambda t: None, config, lambda t: {}, 5)
    with pytest.raises(InputTypeError, match="observe must return a dict of recorded quantities; got list"):
        train(lambda t: None, config, lambda t: [1.0])


def test_stop_when_and_an_empty_history_refuse_by_name():
    with pytest.raises(InputTypeError, match="name must be the str key"):
        stop_when(5, 1.0)
    with pytest.raises(InputError, match="threshold must be a finite real number"):
        stop_when("loss", np.nan)
    with pytest.raises(InputError, match="the history has no records"):
        History().last  # noqa: B018 - the property raises


# --- sim.probes: inputs and splits ----------------------------------------------------------

N = 60
SP = split(N, 15, 15)


def _probe_data(seed: int = SEED, n: int = N, d: int = 4, k: int = 2):
    r = rng(seed)
    H = r.standard_normal((n, d)) * r.uniform(0.5, 2.0, d)
    Y = H @ r.standard_normal((d, k)) + 0.1 * r.standard_normal((n, k))
    logits = H[:, :3]
    P = np.exp(logits - logits.max(1, keepdims=True))
    return H, Y, P / P.sum(1, keepdims=True)


@pytest.mark.parametrize("args, error, message", [
    ((60.0, 15, 15), InputTypeError, "n must be a positive integer"),
    ((60, 15.0, 15), InputTypeError, "n_val must be a positive integer"),
    (("60", 15, 15), InputTypeError, "n must be a positive integer"),
    ((60, 15, 1), InputError, r"cannot split 60 rows .* \(each part needs at least 2"),
    ((31, 15, 15), InputError, "cannot split 31 rows"),
])
def test_split_refuses_sizes_that_are_not_integers_or_leave_a_part_of_one_row(args, error, message):
    with pytest.raises(error, match=message):
        split(*args)


@pytest.mark.parametrize("sp, error, message", [
    (Split(np.arange(40), np.arange(40, 55), np.array([55])), InputError, "split.test has 1 row"),
    (Split(np.arange(40), np.array([40]), np.arange(41, 60)), InputError, "split.val has 1 row"),
    (Split(np.array([0]), np.arange(1, 40), np.arange(40, 60)), InputError, "split.train has 1 row"),
    (Split(np.arange(40.0), np.arange(40, 55), np.arange(55, 60)), InputTypeError, "split.train must hold integer"),
    (Split(np.arange(40).reshape(20, 2), np.arange(40, 55), np.arange(55, 60)), InputError, "split.train must be a 1-D"),
    (Split(np.array(["a", "b"]), np.arange(40, 55), np.arange(55, 60)), InputTypeError, "split.train must hold integer"),
])
@pytest.mark.parametrize("probe", ["ridge", "softmax"])
def test_probes_refuse_splits_with_a_one_row_part_or_non_integer_indices(probe, sp, error, message):
    # Before: a one-row test split gave R^2 = NaN (with a warning); float indices an IndexError.
    H, Y, P = _probe_data()
    with pytest.raises(error, match=message):
        ridge_probe(H, Y, sp) if probe == "ridge" else softmax_probe(H, P, sp)


@pytest.mark.parametrize("make, error, message", [
    (lambda H: H + 1j, InputTypeError, "embeddings must be real"),
    (lambda H: H.astype(str), InputTypeError, "embeddings must be a numeric array"),
    (lambda H: H * 1e200, InputError, r"embeddings has entries of magnitude .* \(column 0\): too large"),
    (lambda H: H * 1e-200, InputError, r"embeddings has entries of magnitude .* too small"),
    (lambda H: H * 0 + 1e30, InputError, "embeddings are constant on the train split"),
    (lambda H: H + 1e30, InputError, "embeddings are constant on the train split"),  # 1e30 + x == 1e30
])
@pytest.mark.parametrize("probe", ["ridge", "softmax", "mlp"])
def test_probes_refuse_embeddings_they_cannot_standardise(probe, make, error, message):
    # Before: 1e-200 embeddings were read as constant and scored R^2 = -0.2 silently.
    H, Y, P = _probe_data()
    fn = {"ridge": lambda: ridge_probe(make(H), Y, SP), "softmax": lambda: softmax_probe(make(H), P, SP),
          "mlp": lambda: mlp_probe(make(H), Y, SP, hidden=(4,), alphas=(1e-2,))}[probe]
    with pytest.raises(error, match=message):
        fn()


def test_an_embedding_of_1e30_values_is_probed_as_well_as_one_of_unit_values():
    H, Y, _ = _probe_data()
    assert ridge_probe(H * 1e30, Y, SP).scores["r2"] == pytest.approx(
        ridge_probe(H, Y, SP).scores["r2"], abs=SCALE_INVARIANCE_ATOL)


@pytest.mark.parametrize("make, error, message", [
    (lambda Y: Y + 1j, InputTypeError, "targets must be real"),
    (lambda Y: Y.astype(str), InputTypeError, "targets must be a numeric array"),
    (lambda Y: Y * 1e200, InputError, "targets has entries of magnitude"),  # R^2 squares them
    (lambda Y: Y * 1e-200, InputError, "targets has entries of magnitude"),  # before: R^2 = 1.0
    (lambda Y: np.ones_like(Y), InputError, "targets column 0 is constant on the val split"),
])
@pytest.mark.parametrize("probe", ["ridge", "mlp"])
def test_r2_probes_refuse_targets_whose_r2_is_undefined_or_overflows(probe, make, error, message):
    H, Y, _ = _probe_data()
    fn = ridge_probe if probe == "ridge" else (lambda *a: mlp_probe(*a, hidden=(4,), alphas=(1e-2,)))
    with pytest.raises(error, match=message):
        fn(H, make(Y), SP)


def test_a_target_constant_on_the_test_rows_alone_is_refused():
    H, Y, _ = _probe_data()
    Y[SP.test, 1] = 3.0
    with pytest.raises(InputError, match="targets column 1 is constant on the test split"):
        ridge_probe(H, Y, SP)


def test_the_softmax_probe_refuses_complex_target_distributions():
    H, _, P = _probe_data()
    with pytest.raises(InputTypeError, match="target distributions must be real"):
        softmax_probe(H, P + 0j, SP)


@pytest.mark.parametrize("alphas, error, message", [
    ((True,), InputTypeError, r"alphas\[0\] must be a positive number"),
    ("ab", InputTypeError, "alphas must be a sequence of numbers"),
    (0.5, InputTypeError, "alphas must be a sequence of numbers"),
    ((np.nan,), InputError, r"alphas\[0\] must be a finite positive number"),
    ((), InputError, "alphas must be a non-empty sequence"),
])
def test_probe_penalties_must_be_a_sequence_of_positive_numbers(alphas, error, message):
    H, Y, _ = _probe_data()
    with pytest.raises(error, match=message):
        ridge_probe(H, Y, SP, alphas=alphas)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"hidden": (4.5,)}, InputTypeError, r"hidden\[0\] must be a positive integer"),  # was truncated to 4
    ({"hidden": (0,)}, InputError, r"hidden\[0\] must be a positive integer"),
    ({"hidden": 4}, InputTypeError, "hidden must be a sequence of layer widths"),
    ({"hidden": ()}, InputError, "hidden must be a non-empty sequence"),
    ({"seed": 0.5}, InputTypeError, "seed must be a non-negative integer"),
    ({"seed": rng()}, InputTypeError, "seed must be a non-negative integer"),
    ({"seed": 2**40}, InputError, "seed must be at most 4294967295"),
    ({"max_iter": 0}, InputError, "max_iter must be a positive integer"),
    ({"max_iter": 5.5}, InputTypeError, "max_iter must be a positive integer"),
    ({"tol": np.nan}, InputError, "tol must be finite and >= 0"),
    ({"tol": -1.0}, InputError, "tol must be finite and >= 0"),
    ({"tol": "a"}, InputTypeError, "tol must be finite and >= 0"),
])
def test_the_mlp_probe_refuses_sizes_seeds_and_stopping_rules_by_name(kwargs, error, message):
    H, Y, _ = _probe_data()
    with pytest.raises(error, match=message):
        mlp_probe(H, Y, SP, **({"alphas": (1e-2,)} | kwargs))


# --- sim.bayes.exchangeable -----------------------------------------------------------------

MODELS = [BetaBernoulli(2.0, 3.0), NormalGamma(1.0, 1.0, 2.0, 1.0), GammaExponential(2.0, 3.0)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("method", ["posterior", "moments", "predictive_mean"])
def test_exchangeable_observations_must_be_real_numbers(model, method):
    with pytest.raises(InputTypeError, match="x must be real"):
        getattr(model, method)(np.ones((2, 3)) + 0j)
    with pytest.raises(InputTypeError, match="x must be a numeric array"):
        getattr(model, method)(np.array([["1", "0"]]))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_exchangeable_futures_and_next_observations_must_be_real(model):
    with pytest.raises(InputTypeError, match="future must be real"):
        model.log_predictive_k(np.ones(3), np.ones(2) + 1j)
    with pytest.raises(InputTypeError, match="x_next must be"):
        model.predictive(np.ones(3), 1 + 1j)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("kwargs, error, name", [
    ({"n_seq": 2.0, "length": 3}, InputTypeError, "n_seq"),
    ({"n_seq": 2, "length": 3.0}, InputTypeError, "length"),
    ({"n_seq": 2, "length": 3, "rng": 0}, InputTypeError, "rng"),
])
def test_exchangeable_samplers_refuse_counts_and_generators_of_the_wrong_type(model, kwargs, error, name):
    with pytest.raises(error, match=f"^{name} must be"):
        model.sample(**({"rng": rng()} | kwargs))


@pytest.mark.parametrize("model, method, x, message", [
    (NormalGamma(1.0, 1.0, 2.0, 1.0), "moments", np.full((1, 3), 1e200), "the posterior overflows float64 for this x"),
    (NormalGamma(1.0, 1.0, 2.0, 1.0), "posterior", np.array([[1e300, -1e300]]), "the posterior overflows"),
    (NormalGamma(1e300, 1.0, 2.0, 1.0), "moments", np.zeros((1, 3)), "the posterior overflows"),
    (NormalGamma(1.0, 1.0, 2.0, 1.0), "sufficient_statistic", np.full((1, 2), 1e308), "the sample mean or sum of squares overflows"),
    (GammaExponential(2.0, 3.0), "moments", np.full((1, 3), 1e308), "the posterior overflows"),
    (GammaExponential(2.0, 3.0), "predictive_mean", np.full((1, 3), 1e308), "the posterior overflows"),
    (GammaExponential(2.0, 3.0), "sufficient_statistic", np.full((1, 3), 1e308), "the sample mean overflows"),
    (GammaExponential(2.0, 1e-300), "moments", np.zeros((1, 3)), "a posterior moment overflows"),
    (BetaBernoulli(1e308, 1e308), "moments", np.ones((1, 3)), "the posterior overflows"),
])
def test_closed_forms_that_overflow_on_finite_input_are_refused_not_returned_as_inf_or_zero(model, method, x, message):
    # Before: inf or NaN results (or moments of exactly 0 from 1/inf), with a warning at most.
    with pytest.raises(InputError, match=message + ".* rescale x"):
        getattr(model, method)(x)


def test_a_future_whose_posterior_update_overflows_is_refused():
    with pytest.raises(InputError, match="the posterior overflows float64 for this future"):
        NormalGamma(1.0, 1.0, 2.0, 1.0).log_predictive_k(np.zeros((1, 3)), [1e300, 1.0])


@pytest.mark.parametrize("model", [GammaExponential(1e-300, 1e-300), NormalGamma(1.0, 1e300, 1e300, 1e-300)],
                         ids=lambda m: type(m).__name__)
def test_prior_draws_that_overflow_are_refused(model):
    with pytest.raises(InputError, match="a draw from the prior overflows float64 for this sample"):
        model.sample(4, 3, rng())


def _student_t_logpdf(y, df, loc, scale) -> float:
    """log Student-t density in 50-digit arithmetic (an independent reference)."""
    y, df, loc, scale = (mpmath.mpf(float(v)) for v in (y, df, loc, scale))
    z = (y - loc) / scale
    return float(mpmath.loggamma((df + 1) / 2) - mpmath.loggamma(df / 2) - mpmath.log(df * mpmath.pi) / 2
                 - mpmath.log(scale) - (df + 1) / 2 * mpmath.log(1 + z * z / df))


@pytest.mark.parametrize("beta0, y", [(1e-300, 1e10), (1e-200, 1e50), (1.0, 1e100)])
def test_the_normal_gamma_log_predictive_is_finite_and_exact_where_its_square_overflows(beta0, y):
    # Before: z^2 overflowed inside scipy and the log-predictive of a finite point was -inf.
    ng = NormalGamma(0.0, 1.0, 2.0, beta0)
    x = np.zeros((1, 2))
    post = ng.posterior(x)
    alpha, lam, mu, beta = (float(post[k][0]) for k in ("alpha_n", "lam_n", "mu_n", "beta_n"))
    scale = math.sqrt(beta * (lam + 1.0) / (alpha * lam))
    got = float(ng.log_predictive_k(x, [y])[0])
    assert math.isfinite(got)
    assert got == pytest.approx(_student_t_logpdf(y, 2 * alpha, mu, scale), rel=RESCALED_RTOL)


def test_the_lomax_log_predictive_is_finite_and_exact_where_a_log_b_overflows():
    ge = GammaExponential(1e300, 1.0)
    got = float(ge.log_predictive_k(np.zeros((1, 2)), [1.0])[0])
    a, b, y = mpmath.mpf(1e300) + 2, mpmath.mpf(1.0), mpmath.mpf(1.0)
    ref = float(mpmath.log(a) + a * mpmath.log(b) - (a + 1) * mpmath.log(b + y))
    assert got == pytest.approx(ref, rel=RESCALED_RTOL)


# --- sim.bayes.hmm --------------------------------------------------------------------------

A2 = np.array([[0.9, 0.1], [0.2, 0.8]])
B2 = np.array([[0.5, 0.5], [0.1, 0.9]])
PI2 = np.array([0.5, 0.5])


@pytest.mark.parametrize("args, error, message", [
    ((A2 + 0j, B2, PI2), InputTypeError, "A must be real"),
    ((A2, B2.astype(str), PI2), InputTypeError, "B must be a numeric array"),
    ((A2, B2, [0.5, None]), InputTypeError, "pi0 must be a numeric array of real numbers"),
])
def test_hmm_matrices_must_be_real_numbers(args, error, message):
    with pytest.raises(error, match=message):
        HMM(*args)


def test_hmm_generators_and_beliefs_refuse_by_name():
    h = HMM(A2, B2, PI2)
    with pytest.raises(InputTypeError, match="rng must be a numpy.random.Generator"):
        HMM.random(2, 3, 0)
    with pytest.raises(InputTypeError, match="rng must be a numpy.random.Generator"):
        h.sample(2, 3, 0)
    with pytest.raises(InputTypeError, match="b must be real"):
        h.predictive(np.array([0.5, 0.5]) + 0j)


# --- sim.bayes.rectangles -------------------------------------------------------------------

@pytest.mark.parametrize("axis, error, message", [
    ((0.0, 1e200, 2e200), InputError, "axis spans .* rectangle areas leave float64's normal range"),
    ((0.0, 1e-200, 2e-200), InputError, "axis spans .* rectangle areas leave float64's normal range"),
    ((-1e308, 0.0, 1e308), InputError, "axis spans"),
    ((0.0, 1 + 0j, 2.0), InputTypeError, "axis must be"),
    (("0", "1", "2"), InputTypeError, "axis must be a numeric array"),
])
def test_a_rectangle_axis_whose_areas_overflow_or_that_is_not_real_is_refused(axis, error, message):
    # Before: areas of inf or 0 made log(area) infinite and the posterior NaN.
    with pytest.raises(error, match=message):
        RectangleGame(axis)


def test_rectangle_arguments_refuse_complex_points_and_non_integer_counts():
    g = RectangleGame.easy()
    with pytest.raises(InputTypeError, match="x must be real"):
        g.posterior(np.ones((3, 2)) + 1j)
    with pytest.raises(InputTypeError, match="y must be real"):
        g.predictive_density(np.full(784, 1 / 784), np.ones((1, 2)) + 1j)
    with pytest.raises(InputTypeError, match="posterior must be real"):
        g.cell_masses(np.full(784, 1 / 784) + 0j)
    with pytest.raises(InputTypeError, match="n must be a non-negative integer"):
        g.log_posterior_from_box(2.0, [0, 1, 0, 1])
    with pytest.raises(InputError, match="n must be at most"):  # before: a raw OverflowError
        g.log_posterior_from_box(10**400, [0, 1, 0, 1])


# --- sim.bayes.lda --------------------------------------------------------------------------

def test_lda_refuses_complex_parameters_and_bad_density_points():
    lda = LDA.random(2, 3, rng())
    with pytest.raises(InputTypeError, match="topics must be real"):
        LDA(lda.topics + 0j, [1.0, 1.0])
    with pytest.raises(InputTypeError, match="alpha must be real"):
        LDA(lda.topics, np.array([1.0, 1.0]) + 0j)
    with pytest.raises(InputError, match="theta contains NaN"):  # before: a NaN density
        lda.posterior_density([0, 1], [[np.nan, 0.5]])
    with pytest.raises(InputTypeError, match="theta must be a numeric array"):
        lda.posterior_density([0, 1], "ab")
    with pytest.raises(InputTypeError, match="rng must be a numpy.random.Generator"):
        LDA.random(2, 3, 0)


def test_an_lda_density_beyond_float64_is_refused_instead_of_returned_as_inf():
    lda = LDA(LDA.random(2, 3, rng()).topics, [1e300, 1e300])
    with pytest.raises(InputError, match="posterior density of document 0 at theta.* exceeds float64"):
        lda.posterior_density([0, 1], [[0.5, 0.5]])


# --- sim.concepts: laws, contexts, vocabularies, models -------------------------------------

LAW = ConceptLaw.random_dag(3, rng())
MODEL = ConceptModel.build(LAW)


@pytest.mark.parametrize("call, error, message", [
    (lambda: ConceptLaw.from_joint(np.full(4, 0.25) + 0j), InputTypeError, "joint must be real"),
    (lambda: ConceptLaw(m=2, joint=np.full(4, np.nan)), InputError, "joint contains NaN"),  # was unchecked
    (lambda: ConceptLaw(m=2, joint=np.full(3, 1 / 3)), InputError, "joint must have length 2"),
    (lambda: ConceptLaw.from_dag(5, [[0.5]]), InputTypeError, "parents must be a sequence"),
    (lambda: ConceptLaw.from_dag([(), (0.5,)], [[0.5], [0.3, 0.6]]), InputTypeError, r"parents\[1\]\[0\] must be an integer"),
    (lambda: ConceptLaw.random_dag(3, 0), InputTypeError, "rng must be a numpy.random.Generator"),
    (lambda: ConceptLaw.random_dag(3, rng(), q=1j), InputTypeError, "q must be a real number"),
    (lambda: ConceptLaw.random_dag(3, rng(), low="a"), InputTypeError, "low must be a finite real number"),
    (lambda: LAW.markov_blanket(99), InputError, r"i must be an index in \[0, 3\); got 99"),
    (lambda: LAW.markov_blanket(-1), InputError, r"i must be an index in \[0, 3\); got -1"),  # was silently wrong
    (lambda: LAW.markov_blanket(1.5), InputTypeError, "i must be an integer index"),
])
def test_concept_laws_refuse_bad_tables_graphs_generators_and_indices(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda: ContextSet(np.array([[1, 0]]) + 0j), InputTypeError, "context codes must be integers"),
    (lambda: ContextSet(np.array([[True, False]])), InputTypeError, "context codes must be integers"),
    (lambda: ContextSet.subset(3, 0), InputTypeError, "rng must be a numpy.random.Generator"),
    (lambda: ContextSet.subset(3, rng(), frac="a"), InputTypeError, "frac must be a real number"),
    (lambda: Vocabulary(30, np.arange(3)), InputError, "m = 30 concepts exceeds the exact-enumeration limit"),
    (lambda: Vocabulary.subset(3, rng(), frac=np.nan), InputError, r"frac must be in \(0, 1\]"),
    (lambda: Vocabulary.subset(3, rng(), frac=5), InputError, r"frac must be in \(0, 1\]"),
    (lambda: Vocabulary.subset(3, 0), InputTypeError, "rng must be a numpy.random.Generator"),
    (lambda: ConceptModel({}, ContextSet.complete(3), Vocabulary.full(3)), InputTypeError, "law must be a ConceptLaw"),
    (lambda: ConceptModel.build({}), InputTypeError, "law must be a ConceptLaw"),
    (lambda: ConceptModel.build(LAW, np.zeros((2, 3))), InputTypeError, "contexts must be a ContextSet"),
    (lambda: MODEL.token_pairs(99), InputError, r"i must be an index in \[0, 3\)"),
    (lambda: MODEL.token_pairs(1.0), InputTypeError, "i must be an integer index"),
    (lambda: MODEL.context_pairs(-1), InputError, r"i must be an index in \[0, 3\)"),
    (lambda: MODEL.compatible(0, 999), InputError, r"y0 must be an index in \[0, 8\)"),
    (lambda: MODEL.separating(0, -999), InputError, r"y0 must be an index in \[0, 8\)"),
])
def test_context_sets_vocabularies_and_models_refuse_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- sim.concepts.metrics -------------------------------------------------------------------

F3 = rng(1).standard_normal((len(MODEL.contexts), 4))
G3 = rng(2).standard_normal((len(MODEL.vocab.ids), 4))


@pytest.mark.parametrize("fn", [metrics.summary, metrics.kl, metrics.log_odds_error, metrics.directions,
                                from_concept_model])
@pytest.mark.parametrize("F, G, error, message", [
    (F3 + 1j, G3, InputTypeError, "F must be real"),
    (F3.astype(str), G3, InputTypeError, "F must be a numeric array"),
    (F3 * np.nan, G3, InputError, "F contains NaN"),
    (F3 * 1e200, G3, InputError, "F has entries of magnitude .* too large"),
    (F3, G3 * 1e-200, InputError, "G has entries of magnitude .* too small"),
    (F3[:3], G3, InputError, "do not match 27 contexts and 8 tokens"),
])
def test_metrics_refuse_embeddings_that_are_not_finite_real_or_of_usable_scale(fn, F, G, error, message):
    with pytest.raises(error, match=message):
        fn(MODEL, F, G)


def test_metrics_refuse_a_model_of_the_wrong_type():
    with pytest.raises(InputTypeError, match="model must be a ConceptModel; got dict"):
        metrics.summary({}, F3, G3)


@pytest.mark.parametrize("u, v, error, message", [
    ([0.0, 0.0], [1.0, 0.0], InputError, "u is the zero vector"),
    ([1.0, 0.0, 0.0], [1.0, 0.0], InputError, "u has length 3 but v has length 2"),
    ([1j, 0.0], [1.0, 0.0], InputTypeError, "u must be"),
])
def test_cosine_refuses_zero_vectors_mismatched_lengths_and_complex_input(u, v, error, message):
    with pytest.raises(error, match=message):
        metrics.cosine(u, v)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_cosines_of_extreme_scale_equal_those_of_unit_scale(scale):
    # Before: 1e200 overflowed the norms (NaN or 0), 1e-200 underflowed them (NaN or 0).
    D = np.array([[1.0, 0.0], [1.0, 1.0], [-2.0, 0.5]])
    np.testing.assert_allclose(metrics.pairwise_cosines(D * scale), metrics.pairwise_cosines(D), rtol=RESCALED_RTOL)
    assert metrics.cosine(D[1] * scale, D[2] * scale) == pytest.approx(metrics.cosine(D[1], D[2]), rel=RESCALED_RTOL)


def test_pairwise_cosines_and_the_causal_inner_product_refuse_bad_arrays():
    with pytest.raises(InputError, match="D must be a 2-D array"):
        metrics.pairwise_cosines(np.ones(3))
    with pytest.raises(InputError, match="G has entries of magnitude"):
        metrics.causal_inner_product(G3 * 1e200)
    with pytest.raises(InputTypeError, match="G must be real"):
        metrics.causal_inner_product(G3 + 1j)


# --- sim.concepts.adapter and hf ------------------------------------------------------------

GAMMA = rng(3).standard_normal((10, 4))
HH = rng(4).standard_normal((3, 4))


def _concepts(**override):
    out = {"a": ConceptData(np.array([[0, 1], [2, 3]]), HH, HH + 1.0),
           "b": ConceptData(np.array([[4, 5], [6, 7]]), HH, HH - 1.0)}
    return out | override


@pytest.mark.parametrize("gamma, concepts, kwargs, error, message", [
    (GAMMA, _concepts(a=ConceptData(np.array([[2, 2], [0, 1]]), HH, HH + 1.0)), {}, InputError,
     r"concept 'a': token pair 0 is \(2, 2\); a pair must be two different tokens"),
    (GAMMA, _concepts(a=ConceptData(np.array([[0, 1]]), HH, HH)), {}, InputError,
     "concept 'a': the embedding direction f .* is the zero vector"),
    (np.vstack([GAMMA[:1], GAMMA]), _concepts(a=ConceptData(np.array([[0, 1]]), HH, HH + 1.0)), {}, InputError,
     "concept 'a': the unembedding direction g .* is the zero vector"),  # tokens 0 and 1 share a row
    (GAMMA * 1e200, _concepts(), {}, InputError, "unembedding has entries of magnitude"),
    (GAMMA * 1e-200, _concepts(), {}, InputError, "unembedding has entries of magnitude"),
    (GAMMA + 1j, _concepts(), {}, InputTypeError, "unembedding must be real"),
    (GAMMA, _concepts(a=ConceptData(np.array([[0, 1]]), HH + 1j, HH)), {}, InputTypeError, "a.h0 must be real"),
    (GAMMA, _concepts(a=ConceptData(np.array([[0, 1]]), HH * 1e200, -HH * 1e200)), {}, InputError,
     "a.h0 has entries of magnitude"),
    (GAMMA, [1, 2], {}, InputTypeError, "concepts must be a Mapping; got list"),
    (GAMMA, None, {}, InputTypeError, "concepts must be a Mapping; got NoneType"),
    (GAMMA, _concepts(), {"n_permutations": 3.0}, InputTypeError, "n_permutations must be a positive integer"),
    (GAMMA, _concepts(), {"n_random_pairs": 3.0}, InputTypeError, "n_random_pairs must be a positive integer"),
    (GAMMA, _concepts(), {"rng": 0}, InputTypeError, "rng must be a numpy.random.Generator"),
])
def test_the_concept_adapter_refuses_degenerate_pairs_scales_and_types(gamma, concepts, kwargs, error, message):
    with pytest.raises(error, match=message):
        concept_geometry(gamma, concepts, **({"rng": rng()} | kwargs))


def test_the_random_pair_baseline_is_finite_even_when_a_draw_is_a_pair_y_y():
    # Before: with two tokens and one random pair, a draw (y, y) (probability 1/2) gave NaN.
    gamma = GAMMA[:2]
    concepts = {"a": ConceptData(np.array([[0, 1]]), HH, HH + 1.0), "b": ConceptData(np.array([[1, 0]]), HH, HH - 2.0)}
    baselines = [concept_geometry(gamma, concepts, rng=rng(s), n_random_pairs=1).random_pair_baseline
                 for s in range(8)]
    assert all(math.isfinite(b) for b in baselines)


def test_the_hugging_face_entry_points_refuse_bad_arguments_before_loading_anything(tmp_path):
    with pytest.raises(InputTypeError, match="rng must be a numpy.random.Generator"):
        measure_causal_lm(tmp_path, rng=0)
    with pytest.raises(InputTypeError, match="template must be a str"):
        measure_causal_lm(tmp_path, rng=rng(), template=5)
    with pytest.raises(InputTypeError, match=r"concepts\['x'\]\[0\] must be a pair of words"):
        measure_causal_lm(tmp_path, {"x": ["he"]}, rng=rng())
    with pytest.raises(InputTypeError, match="path must be a str or PathLike"):
        read_word_pairs(5)


# --- sim.models.bilinear --------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda: Bilinear(3.0, 4, 2), InputTypeError, "n_contexts must be a positive integer"),
    (lambda: Bilinear(3, 0, 2), InputError, "n_tokens must be a positive integer"),
    (lambda: Bilinear(3, 4, 2, generator=0), InputTypeError, "generator must be a torch.Generator"),
    (lambda: Bilinear(3, 4, 2, F=np.ones((3, 2)) + 1j), InputTypeError, "F must be real"),
    (lambda: Bilinear(3, 4, 2, init_scale=1e300), InputError, r"init_scale = 1e\+300 .* initial logits F G\^T overflow"),
    (lambda: population_loss(np.zeros((27, 8)), torch.from_numpy(MODEL.table)), InputTypeError,
     "logits must be a floating-point torch.Tensor; got ndarray"),
    (lambda: population_loss(torch.zeros((27, 7), dtype=torch.float64), torch.from_numpy(MODEL.table)),
     InputError, r"logits \(27, 7\) and P \(27, 8\) must be"),
    (lambda: gradients("net", torch.from_numpy(MODEL.table)), InputTypeError, "net must be a Bilinear"),
    (lambda: fit(MODEL, d=3, optim={"name": "gd"}, steps=3, seed=0), InputTypeError, "optim must be an OptimConfig"),
    (lambda: fit({}, d=3, optim=OptimConfig(), steps=3, seed=0), InputTypeError, "model must be a ConceptModel"),
    (lambda: fit(MODEL, d=3, optim=OptimConfig(), steps=3, seed=0, observe=5), InputTypeError,
     "observe must be callable"),
    (lambda: fit(MODEL, d=3, optim=OptimConfig(), steps=3, seed=0, F=np.ones((27, 3)) + 1j), InputTypeError,
     "F must be real"),
])
def test_the_bilinear_model_refuses_sizes_generators_tables_and_configs_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- sim.models.transformer -----------------------------------------------------------------

TINY = dict(d_model=8, n_heads=2, d_ff=8, max_len=8)
TOKENS = CausalTransformer(TransformerConfig(**TINY), generator=torch.Generator().manual_seed(SEED))
VALUES = CausalTransformer(TransformerConfig(input="values", head="mse", **TINY),
                           generator=torch.Generator().manual_seed(SEED))


@pytest.mark.parametrize("model, x, error, message", [
    (TOKENS, np.zeros((0, 5), int), InputError, r"x holds no sequences \(shape \(0, 5\)\)"),
    (VALUES, np.zeros((0, 5)), InputError, "x holds no sequences"),
    (TOKENS, np.array([["0", "1"]]), InputTypeError, "token sequences must hold integer ids; got dtype <U1"),
    (TOKENS, np.array([[0, None]], dtype=object), InputTypeError, "token sequences must hold integer ids"),
    (TOKENS, np.zeros((2, 3)) + 0j, InputTypeError, "token sequences must hold integer ids"),
    (VALUES, np.ones((2, 3)) + 1j, InputTypeError, "x must be real"),
    (VALUES, torch.ones((2, 3), dtype=torch.complex64), InputTypeError, "x must be real; got a complex tensor"),
    (VALUES, np.array([["1", "2"]]), InputTypeError, "x must be a numeric array"),
    (VALUES, np.full((2, 3), 1e39), InputError, "beyond float32's range"),
    (VALUES, torch.full((2, 3), 1e39, dtype=torch.float64), InputError, "beyond float32's range"),
    (VALUES, np.full((2, 3), 1e30), InputError, "the embedding of sequence 0 of x is not finite"),
])
def test_embed_refuses_empty_batches_non_numbers_and_inputs_that_overflow_float32(model, x, error, message):
    # Before: an empty batch crashed in torch.cat; 1e30 values gave NaN embeddings.
    with pytest.raises(error, match=message):
        model.embed(x)


def test_the_loss_and_training_refuse_inputs_on_which_the_model_overflows():
    with pytest.raises(InputError, match="the loss on x is nan"):
        VALUES.loss(np.full((2, 3), 1e30))
    with pytest.raises(InputError, match="the initial model's loss on data is nan"):
        train_transformer(VALUES.config, np.full((4, 3), 1e30), steps=2, batch_size=2, seed=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"validation": np.zeros((0, 3), int)}, InputError, "x holds no sequences"),  # was a NaN val_loss
    ({"device": "nope"}, InputTypeError, "device must name a torch device"),
    ({"device": "cuda:99"}, InputError, "device 'cuda:99' is not available"),
    ({"callbacks": 5}, InputTypeError, "callbacks must be a sequence of callables"),
    ({"lr": "a"}, InputTypeError, "lr must be a positive number"),
])
def test_train_transformer_refuses_bad_validation_devices_and_callbacks(kwargs, error, message):
    with pytest.raises(error, match=message):
        train_transformer(TOKENS.config, np.zeros((4, 3), int), steps=2, batch_size=2, seed=0, **kwargs)


def test_the_transformer_refuses_a_generator_of_the_wrong_type():
    with pytest.raises(InputTypeError, match="generator must be a torch.Generator"):
        CausalTransformer(TransformerConfig(**TINY), generator=0)


# --- every probe: choices are made on validation, never on test ------------------------------

SEL_N, SEL_SPLIT = 240, split(240, 60, 60)


def _selection_data():
    r = rng(7)
    H = r.standard_normal((SEL_N, 4))
    Y = np.column_stack([H[:, 0] ** 2 + H[:, 1], H[:, 2]]) + 0.3 * r.standard_normal((SEL_N, 2))
    logits = H @ r.standard_normal((4, 3))
    P = np.exp(logits - logits.max(1, keepdims=True))
    return H, Y, P / P.sum(1, keepdims=True)


PROBES = {
    "ridge": (lambda H, T: ridge_probe(H, T, SEL_SPLIT), "r2", "val_r2", 1),
    "softmax": (lambda H, T: softmax_probe(H, T, SEL_SPLIT, alphas=(1e-2, 1.0)), "kl", "val_kl", 2),
    "mlp": (lambda H, T: mlp_probe(H, T, SEL_SPLIT, hidden=(4, 8), alphas=(1e-2,), tol=1e-3,
                                   patience=5), "r2", "val_r2", 1),
}


def _corrupt(T: np.ndarray, rows: np.ndarray, kind: int) -> np.ndarray:
    """The targets with ``rows`` replaced: by noise (regression) or by the permuted rows of
    other distributions (a distribution target), so the scores on those rows must move."""
    out = T.copy()
    r = rng(11)
    out[rows] = r.standard_normal(out[rows].shape) * 10.0 if kind == 1 else out[rows][r.permutation(len(rows))]
    return out


@pytest.mark.parametrize("name", list(PROBES))
def test_no_probe_selects_on_its_test_split(name):
    probe, score, val_score, kind = PROBES[name]
    H, Y, P = _selection_data()
    T = P if kind == 2 else Y
    base = probe(H, T)
    # corrupted test targets: the choice, the fitted model and the validation score stay ...
    bad_test = probe(H, _corrupt(T, SEL_SPLIT.test, kind))
    assert bad_test.choice == base.choice
    np.testing.assert_array_equal(bad_test.predictions, base.predictions)
    # ... while the reported test score moves (so the test split is what is reported)
    assert bad_test.scores[score] != base.scores[score]
    # corrupted test features: the same choice, other predictions
    Hc = H.copy()
    Hc[SEL_SPLIT.test] = rng(12).standard_normal(Hc[SEL_SPLIT.test].shape)
    bad_features = probe(Hc, T)
    assert bad_features.choice == base.choice
    assert not np.array_equal(bad_features.predictions, base.predictions)
    # positive control: corrupting the validation targets does move the validation score,
    # so an implementation that selected on test instead would fail the equalities above
    bad_val = probe(H, _corrupt(T, SEL_SPLIT.val, kind))
    assert bad_val.choice[val_score] != base.choice[val_score]


# --- odds and ends ---------------------------------------------------------------------------

def test_a_trajectory_without_a_direction_yet_and_a_foreign_vocabulary_are_refused():
    t = gd.Trajectory(u=np.zeros(3), history=History(), method="gd", loss="logistic", lr=1.0)
    with pytest.raises(InputError, match="u is the zero vector"):
        t.direction  # noqa: B018 - the property raises
    with pytest.raises(InputTypeError, match="vocab must be a Vocabulary"):
        ContextSet.complete(3).restrict_to(np.arange(4))
    with pytest.raises(InputError, match="vocab has m = 2 concepts but the contexts have m = 3"):
        ContextSet.complete(3).restrict_to(Vocabulary.full(2))
