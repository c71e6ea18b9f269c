"""Linearly separable (and deliberately non-separable) classification data.

Every generator takes a ``numpy.random.Generator`` and returns float64 arrays; labels are
+-1 for binary data and 0..k-1 for multiclass data. Data are separable through the origin
(no bias) by construction, with a planted margin, and scaled so that max ||x_i|| = 1
(directions, and hence every max-margin direction, are unchanged by the scaling).
"""

from __future__ import annotations

import numpy as np

from sim import errors
from sim.errors import InputError

# Rounds of rejection sampling before planted_multiclass or rational gives up (a margin no
# point can meet, e.g. two equal class rows in d = 1, would otherwise loop forever).
MAX_DRAWS = 50
# rational's entries are integers returned as float64: up to 2^53 every one is exact.
MAX_RATIONAL_ABS = 2**53


def _check_sizes(n: int, d: int, rng) -> None:
    errors.positive_int("n", n)
    errors.positive_int("d", d)
    errors.generator("rng", rng)


def planted(n: int, d: int, rng: np.random.Generator, *, margin: float = 0.1,
            anisotropy: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Anisotropic Gaussian points labelled by a random hyperplane, pushed apart by ``margin``.

    x ~ N(0, diag(s)^2) with s log-spaced from 1 down to 1/``anisotropy``, u a random unit
    vector, y = sign(<u, x>), then x += y * margin * u. With anisotropy > 1 the class-mean
    difference (the first gradient step from zero) points away from the max-margin
    direction, so a direction check on this data has something to fail on; anisotropy = 1
    gives the isotropic blobs of the performance notes.
    """
    _check_sizes(n, d, rng)
    errors.positive_float("margin", margin)
    errors.in_interval("anisotropy", anisotropy, 1.0, np.inf, high_open=True)
    scales = np.logspace(0.0, -np.log10(anisotropy), d)
    X = rng.standard_normal((n, d)) * scales
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    y = np.sign(X @ u)
    y[y == 0] = 1.0
    X = X + (margin * y)[:, None] * u
    with np.errstate(over="ignore"):
        top = np.linalg.norm(X, axis=1).max()
    if not np.isfinite(top):
        raise InputError(f"margin = {margin!r} is too large: the points' norms overflow float64 "
                         "(the data are rescaled to max ||x|| = 1, so a margin of order 1 suffices)")
    return X / top, y


def planted_multiclass(n: int, d: int, k: int, rng: np.random.Generator, *,
                       margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Points labelled by argmax of k random linear scores, separated by at least ``margin``.

    Points whose top-two score gap under the planted W (unit-norm rows) is below
    ``margin`` are redrawn, so the data are separable with margin >= margin / sqrt(2). A W
    with two rows closer than 2 * margin is redrawn first: the gap of that pair,
    <x, w_a - w_b>, would then be below ``margin`` for most points (in low d, random rows
    can nearly coincide), and the points could not be drawn.
    """
    _check_sizes(n, d, rng)
    errors.positive_float("margin", margin)
    k = errors.count("k", k, minimum=2)
    for _ in range(MAX_DRAWS):
        W = rng.standard_normal((k, d))
        W /= np.linalg.norm(W, axis=1, keepdims=True)
        apart = np.linalg.norm(W[:, None, :] - W[None, :, :], axis=2)[np.triu_indices(k, 1)]
        if apart.min() >= 2 * margin:
            break
    else:
        raise InputError(f"could not draw {k} score directions in R^{d} pairwise at least "
                         f"{2 * margin:g} apart in {MAX_DRAWS} rounds; lower the margin or raise d")
    rows = []
    for _ in range(MAX_DRAWS):
        X = rng.standard_normal((4 * n, d))
        S = np.sort(X @ W.T, axis=1)
        rows.append(X[S[:, -1] - S[:, -2] >= margin])
        if sum(len(r) for r in rows) >= n:
            break
    else:
        raise InputError(f"could not draw {n} points with top-two score gap >= {margin} in "
                         f"{MAX_DRAWS} rounds (d={d}, k={k}); lower the margin or raise d")
    X = np.concatenate(rows)[:n]
    y = np.argmax(X @ W.T, axis=1)
    return X / np.linalg.norm(X, axis=1).max(), y


def rational(n: int, d: int, rng: np.random.Generator, *, max_abs: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Small-integer points separable through the origin (for exact, rational arithmetic).

    Entries are integers in [-max_abs, max_abs] (1 <= max_abs <= MAX_RATIONAL_ABS; with
    max_abs = 0 every point is the origin and no point could ever be accepted); labels come
    from an integer direction u and points with <u, x> = 0 are redrawn, so every point has
    ``|<u, x>| >= 1``.
    """
    _check_sizes(n, d, rng)
    max_abs = errors.count("max_abs", max_abs, minimum=1, maximum=MAX_RATIONAL_ABS)
    u = rng.integers(-3, 4, size=d)
    while not u.any():
        u = rng.integers(-3, 4, size=d)
    X = np.empty((0, d))
    for _ in range(MAX_DRAWS):
        if X.shape[0] >= n:
            break
        cand = rng.integers(-max_abs, max_abs + 1, size=(2 * n, d)).astype(np.float64)
        X = np.concatenate([X, cand[cand @ u != 0]])
    if X.shape[0] < n:  # practically unreachable: each candidate is kept w.p. >= 2/3
        raise InputError(f"could not draw {n} points off the hyperplane in {MAX_DRAWS} rounds")
    X = X[:n]
    return X, np.sign(X @ u)


def with_contradiction(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Append -x_j with the label of x_j for a random j: no homogeneous separator can exist.

    y_j <w, x_j> >= 1 and y_j <w, -x_j> >= 1 cannot both hold, so the result is
    non-separable through the origin whatever the rest of the data are.
    """
    X = errors.as_matrix("X", X)
    y = errors.binary_labels("y", y, X.shape[0])
    errors.generator("rng", rng)
    j = int(rng.integers(X.shape[0]))
    return np.vstack([X, -X[j]]), np.append(y, y[j])
