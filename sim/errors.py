"""Errors raised for bad input, and the validators that raise them.

Every public entry point of :mod:`sim` and :mod:`theorems` validates its arrays here, so
that NaN, infinite values, mismatched shapes, empty data and bad labels are reported with
the argument's name and the problem, never clipped or passed on.
"""

from __future__ import annotations

import numpy as np


class InputError(ValueError):
    """An argument violates a documented precondition (shape, finiteness, label set)."""


def as_matrix(name: str, value, *, min_rows: int = 1) -> np.ndarray:
    """Return ``value`` as a finite float64 matrix of shape (n, d), n >= ``min_rows``, d >= 1."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array; got {type(value).__name__}: {exc}") from None
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
    """Return ``value`` as a finite float64 vector, optionally of a given length."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array; got {type(value).__name__}: {exc}") from None
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


def binary_labels(name: str, y, n: int) -> np.ndarray:
    """Return labels as a float64 vector of +-1 of length ``n``; anything else is an error."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of +1/-1 labels; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} labels but the data has {n} rows")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold numeric labels +1/-1") from None
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
    if n_classes < 2:
        raise InputError(f"n_classes must be at least 2; got {n_classes}")
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


def positive_int(name: str, value) -> int:
    """Return ``value`` as a positive int, or raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def positive_float(name: str, value) -> float:
    """Return ``value`` as a finite positive float, or raise (bools and strings too)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise InputError(f"{name} must be a positive number; got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number; got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be a finite positive number; got {value!r}")
    return v
