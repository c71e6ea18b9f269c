"""Errors raised for bad input, and the validators that raise them.

Every public entry point of :mod:`sim` and :mod:`theorems` validates its arguments here, so
that NaN, infinite values, complex numbers, strings passed as numbers, mismatched shapes,
empty data, bad labels, counts that are not integers, generators or configuration objects
of the wrong type and magnitudes whose squares leave float64's range are reported with the
argument's name and the problem, never clipped or passed on.

Two error types, one family: :class:`InputError` (a ``ValueError``) for a value outside a
documented precondition, and :class:`InputTypeError` (also a ``TypeError``) for an argument
of the wrong kind. Catching :class:`InputError` catches both.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np


class InputError(ValueError):
    """An argument violates a documented precondition (shape, finiteness, label set)."""


class InputTypeError(InputError, TypeError):
    """An argument has the wrong type: a float or a string for a count, an int where a
    random generator is expected, a dict for a configuration object, complex numbers or
    strings for a real array. A subclass of :class:`InputError`, so one ``except`` catches
    every bad-input error, and of ``TypeError``, which is what it is."""


#: Bounds on the largest magnitude an array may hold where a computation squares it (norms,
#: variances, Gram matrices): with max |a| in [SCALE_MIN, SCALE_MAX / sqrt(count)], sums
#: of up to ``count`` squares lie in [1e-300, 1e300], so they, their square roots and their
#: reciprocals (step sizes 1 / R^2, standardising scales) are normal float64 numbers.
SCALE_MIN = 1e-150
SCALE_MAX = 1e150

#: The largest count any validator accepts: counts feed numpy shapes and int64 arithmetic.
MAX_COUNT = int(np.iinfo(np.int64).max)


def _shown(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- arrays -------------------------------------------------------------------------------

def as_array(name: str, value, *, finite: bool = True) -> np.ndarray:
    """Return ``value`` as a real float64 array (no copy when it already is one).

    Refused, naming ``name``: complex numbers (even with zero imaginary parts: casting
    would drop them), strings, bytes, dates, and objects that are not real numbers
    (:class:`InputTypeError`); with ``finite`` (the default) NaN and infinite entries
    (:class:`InputError`, with the first offending index).
    """
    if isinstance(value, (str, bytes)):
        raise InputTypeError(f"{name} must be a numeric array; got a string {_shown(value)}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:  # ragged nesting, tensors needing grad
        raise InputTypeError(f"{name} must be a numeric array; got {type(value).__name__}: {exc}") from None
    kind = raw.dtype.kind
    if kind == "c":
        raise InputTypeError(f"{name} must be real; got complex values (dtype {raw.dtype}); pass the "
                             "real part explicitly if the imaginary parts are rounding noise")
    if kind in "USVMm":
        raise InputTypeError(f"{name} must be a numeric array; got dtype {raw.dtype} "
                             f"({'strings' if kind in 'US' else 'non-numeric values'})")
    if kind == "O":
        for item in raw.flat:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
                what = "complex" if isinstance(item, numbers.Complex) else type(item).__name__
                raise InputTypeError(f"{name} must be a numeric array of real numbers; it holds "
                                     f"{what} {_shown(item)}")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputTypeError(f"{name} must be a numeric array; got {type(value).__name__}: {exc}") from None
    if finite:
        check_finite(name, arr)
    return arr


def as_matrix(name: str, value, *, min_rows: int = 1) -> np.ndarray:
    """Return ``value`` as a finite real float64 matrix of shape (n, d), n >= ``min_rows``, d >= 1."""
    arr = as_array(name, value, finite=False)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (n, d); got shape {arr.shape}")
    n, d = arr.shape
    if n < min_rows:
        raise InputError(f"{name} is empty: it has {n} rows, at least {min_rows} needed")
    if d < 1:
        raise InputError(f"{name} has no columns (shape {arr.shape})")
    check_finite(name, arr)
    return arr


def as_vector(name: str, value, *, length: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite real float64 vector, optionally of a given length."""
    arr = as_array(name, value, finite=False)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array; got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise InputError(f"{name} has length {arr.shape[0]}, expected {length}")
    check_finite(name, arr)
    return arr


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise naming the first non-finite entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[where]) else "an infinite value"
        raise InputError(f"{name} contains {kind} at index {where} ({int(bad.sum())} non-finite entries)")


def check_scale(name: str, arr: np.ndarray, *, axis: int | None = None, what: str = "its squares") -> None:
    """Raise unless squaring ``arr`` (finite) stays inside float64's normal range.

    The largest magnitude (of the whole array, or of each slice along ``axis`` = 0, i.e. per
    column, when the computation squares columns separately) must lie in
    [SCALE_MIN, SCALE_MAX / sqrt(count)], count being the number of squared terms summed
    (the array's size, or its number of rows with ``axis=0``). All-zero arrays (or columns)
    pass: whether zero is acceptable is the caller's question. Rescaling the input fixes a
    refusal; nothing is clipped.
    """
    if arr.size == 0:
        return
    if axis is None:
        peaks, count = np.array([np.max(np.abs(arr))]), arr.size
    else:
        peaks, count = np.max(np.abs(arr), axis=axis).ravel(), arr.shape[axis]
    limit = SCALE_MAX / math.sqrt(count)
    bad = (peaks > limit) | ((peaks > 0) & (peaks < SCALE_MIN))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        where = "" if axis is None else f" (column {j})"
        side = "large" if peaks[j] > limit else "small"
        raise InputError(
            f"{name} has entries of magnitude {float(peaks[j]):.3g}{where}: too {side} for "
            f"{what} to stay in float64's normal range (largest magnitude must lie in "
            f"[{SCALE_MIN:g}, {limit:.3g}]); rescale {name}")


def binary_labels(name: str, y, n: int) -> np.ndarray:
    """Return labels as a float64 vector of +-1 of length ``n``; anything else is an error."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of +1/-1 labels; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} labels but the data has {n} rows")
    if arr.dtype.kind in "cUSVMm" or (arr.dtype.kind == "O" and not all(
            isinstance(v, numbers.Real) for v in arr.flat)):
        raise InputTypeError(f"{name} must hold numeric labels +1/-1; got dtype {arr.dtype}")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must hold numeric labels +1/-1") from None
    bad = ~np.isin(arr, (-1.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name} must contain only +1 and -1; entry {i} is {arr[i]!r} "
            f"({int(bad.sum())} invalid labels; map 0/1 labels with 2*y-1)"
        )
    return arr


def class_labels(name: str, y, n: int, n_classes: int) -> np.ndarray:
    """Return integer class labels in [0, n_classes) of length ``n``."""
    n_classes = count("n_classes", n_classes, minimum=2)
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of class indices; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} labels but the data has {n} rows")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"{name} must hold integer class indices; got dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name} must contain classes in [0, {n_classes}); entry {i} is {int(arr[i])}"
        )
    return arr.astype(np.int64)


def nonzero_rows(name: str, X: np.ndarray) -> None:
    """Raise if some row of ``X`` is the zero vector (it can never be separated)."""
    zero = ~X.any(axis=1)  # exact: a norm can underflow to 0 for a nonzero row
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise InputError(
            f"{name} row {i} is the zero vector ({int(zero.sum())} such rows); a point at the "
            "origin has margin 0 for every direction, so no homogeneous separator exists"
        )


def unit(name: str, v: np.ndarray) -> np.ndarray:
    """``v / ||v||`` for a finite vector, exact as written on ordinary input, rescaled by its
    largest entry first where ||v|| over- or underflows; the zero vector is refused."""
    with np.errstate(over="ignore", under="ignore"):
        nrm = np.linalg.norm(v)
    if 0 < nrm < np.inf:
        return v / nrm
    if not v.any():
        raise InputError(f"{name} is the zero vector; it has no direction")
    w = v / np.max(np.abs(v))
    return w / np.linalg.norm(w)


# --- scalars ------------------------------------------------------------------------------

def count(name: str, value, *, minimum: int | None = 1, maximum: int | None = MAX_COUNT) -> int:
    """Return ``value`` as an int in [minimum, maximum]: a count, a size, an index bound.

    Python and numpy integers only: a float (even 3.0), a bool, a string or None is an
    :class:`InputTypeError`; an integer out of range is an :class:`InputError`
    (``minimum=None`` or ``maximum=None``: no bound on that side).
    """
    if minimum is None:
        want = "an integer"
    elif minimum == 1:
        want = "a positive integer"
    elif minimum == 0:
        want = "a non-negative integer"
    else:
        want = f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{name} must be {want}; got {type(value).__name__} {_shown(value)}")
    v = int(value)
    if minimum is not None and v < minimum:
        if minimum in (0, 1):
            raise InputError(f"{name} must be {want}; got {v!r}")
        raise InputError(f"{name} must be at least {minimum}; got {v!r}")
    if maximum is not None and v > maximum:
        raise InputError(f"{name} must be at most {maximum}; got {v!r}")
    return v


def positive_int(name: str, value) -> int:
    """Return ``value`` as a positive int, or raise (see :func:`count`)."""
    return count(name, value, minimum=1)


def index(name: str, value, size: int) -> int:
    """Return ``value`` as an index in [0, size); negative (wrap-around) indices are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{name} must be an integer index in [0, {size}); got "
                             f"{type(value).__name__} {_shown(value)}")
    if not 0 <= int(value) < size:
        raise InputError(f"{name} must be an index in [0, {size}); got {int(value)}")
    return int(value)


def _float(name: str, value, what: str) -> float:
    """float(value) for a real scalar; bools, strings, complex numbers, arrays with
    dimensions and objects without a float value are an :class:`InputTypeError`."""
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)) \
            or getattr(value, "ndim", 0) != 0 or getattr(getattr(value, "dtype", None), "kind", "f") in "cbUSO":
        raise InputTypeError(f"{name} must be {what}; got {type(value).__name__} {_shown(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be {what}; got {type(value).__name__} {_shown(value)}") from None


def real(name: str, value, *, what: str = "a finite real number") -> float:
    """Return ``value`` as a finite float; non-numbers (bools, strings, complex) are an
    :class:`InputTypeError`, NaN and infinities an :class:`InputError`."""
    v = _float(name, value, what)
    if not math.isfinite(v):
        raise InputError(f"{name} must be {what}; got {_shown(value)}")
    return v


def finite_float(name: str, value) -> float:
    """Return ``value`` as a finite float of any sign, or raise."""
    return real(name, value)


def positive_float(name: str, value) -> float:
    """Return ``value`` as a finite positive float, or raise (bools and strings too)."""
    v = _float(name, value, "a positive number")
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be a finite positive number; got {value!r}")
    return v


def nonnegative_float(name: str, value) -> float:
    """Return ``value`` as a finite float >= 0, or raise."""
    v = real(name, value, what="finite and >= 0")
    if v < 0:
        raise InputError(f"{name} must be finite and >= 0; got {value!r}")
    return v


def in_interval(name: str, value, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False, label: str | None = None) -> float:
    """Return ``value`` as a float in the interval from ``low`` to ``high`` (each end closed
    unless ``*_open``); NaN fails every comparison and is refused with the rest."""
    if high == math.inf and high_open:  # a half-line: say it as a bound
        text = f"{'>' if low_open else '>='} {low:g} (and finite)"
    else:
        text = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    shown = label or name
    v = _float(name, value, f"a real number {text}")
    ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        raise InputError(f"{shown} must be {text}; got {value!r}")
    return v


# --- objects ------------------------------------------------------------------------------

def generator(name: str, value) -> np.random.Generator:
    """Return ``value`` if it is a ``numpy.random.Generator``; an int seed, None or the legacy
    ``RandomState`` are refused (library code never seeds or touches global state)."""
    if not isinstance(value, np.random.Generator):
        raise InputTypeError(f"{name} must be a numpy.random.Generator (e.g. sim.streams(seed).data "
                             f"or numpy.random.default_rng(seed)); got {type(value).__name__}")
    return value


def torch_generator(name: str, value, *, optional: bool = True):
    """Return ``value`` if it is a ``torch.Generator`` (or None when ``optional``)."""
    import torch

    if value is None and optional:
        return None
    if not isinstance(value, torch.Generator):
        raise InputTypeError(f"{name} must be a torch.Generator (e.g. sim.streams(seed).torch('init'))"
                             f"{' or None' if optional else ''}; got {type(value).__name__}")
    return value


def instance(name: str, value, cls: type | tuple[type, ...]):
    """Return ``value`` if it is an instance of ``cls`` (a config object, a model, a split)."""
    if not isinstance(value, cls):
        want = cls.__name__ if not isinstance(cls, tuple) else " or ".join(c.__name__ for c in cls)
        article = "an" if want[0] in "AEIOU" else "a"
        raise InputTypeError(f"{name} must be {article} {want}; got {type(value).__name__}")
    return value


def function(name: str, value):
    """Return ``value`` if it is callable."""
    if not callable(value):
        raise InputTypeError(f"{name} must be callable; got {type(value).__name__} {_shown(value)}")
    return value


def functions(name: str, value) -> tuple:
    """Return ``value`` (an iterable of callables, e.g. callbacks) as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InputTypeError(f"{name} must be a sequence of callables; got {type(value).__name__}")
    out = tuple(value)
    for i, f in enumerate(out):
        function(f"{name}[{i}]", f)
    return out


def sequence(name: str, value) -> tuple:
    """Return ``value`` (a non-string iterable) as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InputTypeError(f"{name} must be a sequence; got {type(value).__name__} {_shown(value)}")
    return tuple(value)
