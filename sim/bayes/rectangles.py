"""The rectangle game: a discrete hypothesis space of axis-aligned rectangles (size principle).

Zhang et al. 2024, "What Should Embeddings Embed?", arXiv 2406.03707; spec digest
(``shared/papers/embeddings_embed.md``) §1.7 (Prop. 5) and §2.3.

A grid has ``size`` strictly increasing axis values ``a_0 < ... < a_{size-1}`` per
coordinate. The hypotheses are the rectangles ``[a_i, a_k] x [a_j, a_l]`` with ``i < k``,
``j < l`` (``C(size, 2)**2`` of them, 784 for size 8). A sequence draws ``h`` uniformly and
then points i.i.d. uniform in ``h``. Under the uniform prior

    pi(h | x_{1:n})  ∝  1[x_{1:n} ⊂ h] · area(h)^(-n),

so the posterior depends on the data only through ``n`` and the bounding box. The grid's
``(size-1)**2`` unit cells (49 for size 8) carry the one-step predictive: every rectangle's
density is constant on each cell, so the predictive law is fixed by the cell masses
``M @ pi`` with ``M[c, h] = area(c ∩ h) / area(h)``.

Conventions: hypotheses are rows ``(x_lo, x_hi, y_lo, y_hi)`` ordered by
``(i, k, j, l)`` lexicographically; cells are indexed ``c = cx * (size - 1) + cy``; points are
arrays ``(S, n, 2)`` (or ``(n, 2)`` for one sequence); a point on a rectangle's boundary lies
in it. Points outside the grid's square, or not finite, are an :class:`InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from sim import errors
from sim.errors import InputError, check_finite, positive_int

__all__ = ["RectangleGame"]

EASY_AXIS = tuple(float(i) for i in range(8))
HARD_AXIS = (0.0, 0.4, 2.0, 2.4, 4.0, 4.4, 6.0, 6.4)


@dataclass(frozen=True, eq=False)
class RectangleGame:
    """Rectangles on the grid ``axis x axis`` with a uniform prior (spec §2.3)."""

    axis: tuple[float, ...]
    hypotheses: np.ndarray = field(init=False, repr=False)
    areas: np.ndarray = field(init=False, repr=False)
    index: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        axis = errors.as_array("axis", self.axis, finite=False)
        if axis.ndim != 1 or axis.size < 2:
            raise InputError(f"axis must be a 1-D sequence of at least 2 values; got shape {axis.shape}")
        check_finite("axis", axis)
        if np.any(np.diff(axis) <= 0):
            i = int(np.argmax(np.diff(axis) <= 0))
            raise InputError(f"axis must be strictly increasing; axis[{i}] = {float(axis[i])} >= "
                             f"axis[{i + 1}] = {float(axis[i + 1])}")
        object.__setattr__(self, "axis", tuple(float(a) for a in axis))
        pairs = [(i, k) for i in range(axis.size) for k in range(i + 1, axis.size)]
        idx = np.array([(i, k, j, l) for i, k in pairs for j, l in pairs], dtype=np.int64)
        rects = axis[idx]  # (H, 4): x_lo, x_hi, y_lo, y_hi
        with np.errstate(over="ignore", under="ignore"):
            areas = (rects[:, 1] - rects[:, 0]) * (rects[:, 3] - rects[:, 2])
        tiny = np.finfo(np.float64).tiny
        if not (np.isfinite(areas).all() and (areas >= tiny).all()):
            raise InputError(f"axis spans [{float(axis[0])!r}, {float(axis[-1])!r}] with cells as narrow as "
                             f"{float(np.diff(axis).min())!r}: rectangle areas leave float64's normal range "
                             f"[{tiny:.3g}, {np.finfo(np.float64).max:.3g}] (the posterior uses log area); "
                             "rescale the axis")
        for name, arr in (("hypotheses", rects), ("areas", areas), ("index", idx)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def easy(cls) -> RectangleGame:
        """The spec's easy grid: axis (0, 1, ..., 7)."""
        return cls(EASY_AXIS)

    @classmethod
    def hard(cls) -> RectangleGame:
        """The spec's hard grid: axis (0, 0.4, 2, 2.4, 4, 4.4, 6, 6.4), unequal cells."""
        return cls(HARD_AXIS)

    @property
    def n_hypotheses(self) -> int:
        return self.hypotheses.shape[0]

    @property
    def n_cells(self) -> int:
        return (len(self.axis) - 1) ** 2

    # --- validation -------------------------------------------------------------------

    def points(self, x, name: str = "x") -> np.ndarray:
        """Return ``x`` as a validated float64 (S, n, 2) array of points inside the grid."""
        arr = errors.as_array(name, x, finite=False)
        if arr.ndim not in (2, 3) or arr.shape[-1] != 2:
            raise InputError(f"{name} must have shape (n, 2) or (S, n, 2); got {arr.shape}")
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape[0] == 0:
            raise InputError(f"{name} holds no sequences (shape {arr.shape})")
        check_finite(name, arr)
        lo, hi = self.axis[0], self.axis[-1]
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            s, i, _ = np.argwhere(bad)[0]
            raise InputError(f"{name}[{s}, {i}] = {tuple(float(v) for v in arr[s, i])} lies outside the grid "
                             f"[{lo}, {hi}]^2")
        return arr

    # --- generator --------------------------------------------------------------------

    def sample(self, n_seq: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``h`` uniformly and ``length`` points uniform in it, per sequence.

        Returns the hypothesis indices (S,) and the points (S, length, 2).
        """
        S, n = positive_int("n_seq", n_seq), positive_int("length", length)
        errors.generator("rng", rng)
        h = rng.integers(self.n_hypotheses, size=S)
        r = self.hypotheses[h]  # (S, 4)
        u = rng.random((S, n, 2))
        x = np.stack([r[:, None, 0] + u[..., 0] * (r[:, None, 1] - r[:, None, 0]),
                      r[:, None, 2] + u[..., 1] * (r[:, None, 3] - r[:, None, 2])], axis=-1)
        return h, x

    # --- the posterior ----------------------------------------------------------------

    def bounding_box(self, x) -> np.ndarray:
        """The sufficient statistic's box ``(min x1, max x1, min x2, max x2)``, (S, 4); n >= 1."""
        x = self.points(x)
        if x.shape[1] == 0:
            raise InputError("bounding_box needs n >= 1 points; an empty prefix has no box")
        return np.stack([x[..., 0].min(1), x[..., 0].max(1), x[..., 1].min(1), x[..., 1].max(1)], 1)

    def boxes(self, box) -> np.ndarray:
        """Validate boxes ``(x_lo, x_hi, y_lo, y_hi)``: (S, 4), finite, lo <= hi, inside the grid."""
        arr = errors.as_array("box", box, finite=False)
        if arr.ndim not in (1, 2) or arr.shape[-1] != 4:
            raise InputError(f"box must have shape (4,) or (S, 4); got {arr.shape}")
        arr = np.atleast_2d(arr)
        check_finite("box", arr)
        if (arr[:, 0] > arr[:, 1]).any() or (arr[:, 2] > arr[:, 3]).any():
            s = int(np.argmax((arr[:, 0] > arr[:, 1]) | (arr[:, 2] > arr[:, 3])))
            raise InputError(f"box[{s}] = {arr[s].tolist()} has a low end above its high end")
        lo, hi = self.axis[0], self.axis[-1]
        if (arr < lo).any() or (arr > hi).any():
            s = int(np.argmax(((arr < lo) | (arr > hi)).any(1)))
            raise InputError(f"box[{s}] = {arr[s].tolist()} lies outside the grid [{lo}, {hi}]^2")
        return arr

    def consistent(self, box) -> np.ndarray:
        """(S, H) booleans: which rectangles contain each box ``(x_lo, x_hi, y_lo, y_hi)``."""
        box = self.boxes(box)
        r = self.hypotheses
        return ((r[None, :, 0] <= box[:, None, 0]) & (box[:, None, 1] <= r[None, :, 1])
                & (r[None, :, 2] <= box[:, None, 2]) & (box[:, None, 3] <= r[None, :, 3]))

    def log_posterior_from_box(self, n, box) -> np.ndarray:
        """log pi(h | data) from the sufficient statistic ``(n, box)``, (S, H); -inf if inconsistent."""
        n = errors.count("n", n, minimum=0)
        if n < 1:
            raise InputError(f"n must be >= 1 with a box; got {n} (use log_posterior for n = 0)")
        ok = self.consistent(box)
        logw = np.where(ok, -n * np.log(self.areas)[None, :], -np.inf)
        top = logw.max(1, keepdims=True)
        return logw - top - np.log(np.exp(logw - top).sum(1, keepdims=True))

    def log_posterior(self, x) -> np.ndarray:
        """log pi(h | x_{1:n}) under the uniform prior, (S, H); n = 0 gives the prior."""
        x = self.points(x)
        if x.shape[1] == 0:
            return np.full((x.shape[0], self.n_hypotheses), -np.log(self.n_hypotheses))
        return self.log_posterior_from_box(x.shape[1], self.bounding_box(x))

    def posterior(self, x) -> np.ndarray:
        """pi(h | x_{1:n}), (S, H)."""
        return np.exp(self.log_posterior(x))

    def map_hypothesis(self, x) -> np.ndarray:
        """Index of the posterior mode per sequence, (S,)."""
        return np.argmax(self.log_posterior(x), axis=1)

    def enclosing_rectangle(self, box) -> np.ndarray:
        """Index of the smallest grid rectangle containing each box, (S,).

        On each coordinate the interval ``[a_i, a_k]`` with ``a_i`` the largest axis value
        <= the box's low end and ``a_k`` the smallest >= its high end; when they coincide
        (a box of zero width on an axis value) the narrower of the two neighbours is taken.
        """
        box = self.boxes(box)
        a = np.asarray(self.axis)
        size = a.size

        def interval(lo, hi):
            i = np.searchsorted(a, lo, side="right") - 1
            k = np.searchsorted(a, hi, side="left")
            same = i == k
            if same.any():  # zero width on a grid line: widen to the narrower neighbour
                left = np.where(i > 0, a[i] - a[np.maximum(i - 1, 0)], np.inf)
                right = np.where(k < size - 1, a[np.minimum(k + 1, size - 1)] - a[k], np.inf)
                go_left = same & (left <= right)
                i = np.where(go_left, i - 1, i)
                k = np.where(same & ~go_left, k + 1, k)
            return i, k

        i, k = interval(box[:, 0], box[:, 1])
        j, l = interval(box[:, 2], box[:, 3])
        pos = {tuple(r): h for h, r in enumerate(self.index.tolist())}
        return np.array([pos[(a_, b_, c_, d_)] for a_, b_, c_, d_ in zip(i, k, j, l)], dtype=np.int64)

    # --- predictives ------------------------------------------------------------------

    def cell_areas(self) -> np.ndarray:
        """Areas of the unit cells, (C,), indexed ``cx * (size - 1) + cy``."""
        w = np.diff(self.axis)
        return np.outer(w, w).ravel()

    def one_step_matrix(self) -> np.ndarray:
        """M (C, H): M[c, h] = P(next point in cell c | h) = area(c ∩ h) / area(h)."""
        size = len(self.axis)
        inside_x = (self.index[None, :, 0] <= np.arange(size - 1)[:, None]) & \
                   (np.arange(size - 1)[:, None] < self.index[None, :, 1])  # (size-1, H)
        inside_y = (self.index[None, :, 2] <= np.arange(size - 1)[:, None]) & \
                   (np.arange(size - 1)[:, None] < self.index[None, :, 3])
        inside = (inside_x[:, None, :] & inside_y[None, :, :]).reshape(self.n_cells, -1)
        return inside * self.cell_areas()[:, None] / self.areas[None, :]

    def two_step_matrix(self) -> np.ndarray:
        """(C*C, H): P(cells (c1, c2) for the next two points | h) = M[c1, h] M[c2, h]."""
        M = self.one_step_matrix()
        return (M[:, None, :] * M[None, :, :]).reshape(self.n_cells ** 2, -1)

    def exact_one_step_matrix(self) -> list[list[Fraction]]:
        """``one_step_matrix`` in exact rationals, reading each axis value as its decimal text."""
        a = [Fraction(repr(v)) for v in self.axis]
        w = [a[i + 1] - a[i] for i in range(len(a) - 1)]
        rows = []
        for cx in range(len(w)):
            for cy in range(len(w)):
                rows.append([w[cx] * w[cy] / ((a[k] - a[i]) * (a[l] - a[j]))
                             if i <= cx < k and j <= cy < l else Fraction(0)
                             for i, k, j, l in self.index.tolist()])
        return rows

    def cell_masses(self, posterior) -> np.ndarray:
        """The one-step predictive as cell masses, (S, C), for posteriors (S, H)."""
        post = self._posterior_arg(posterior)
        return post @ self.one_step_matrix().T

    def predictive_density(self, posterior, y) -> np.ndarray:
        """p(y | data) = sum_h pi(h | data) 1[y in h] / area(h) at points y, (S, m)."""
        post = self._posterior_arg(posterior)
        y = self.points(y, "y")
        if y.shape[0] not in (1, post.shape[0]):
            raise InputError(f"y holds {y.shape[0]} sequences of points but there are "
                             f"{post.shape[0]} posteriors")
        r = self.hypotheses
        inside = ((r[:, 0] <= y[..., 0, None]) & (y[..., 0, None] <= r[:, 1])
                  & (r[:, 2] <= y[..., 1, None]) & (y[..., 1, None] <= r[:, 3]))  # (S, m, H)
        return np.einsum("smh,sh->sm", inside / self.areas, post)

    def _posterior_arg(self, posterior) -> np.ndarray:
        post = np.atleast_2d(errors.as_array("posterior", posterior, finite=False))
        if post.ndim != 2 or post.shape[1] != self.n_hypotheses:
            raise InputError(f"posterior must have shape ({self.n_hypotheses},) or "
                             f"(S, {self.n_hypotheses}); got {post.shape}")
        check_finite("posterior", post)
        if (post < 0).any() or np.abs(post.sum(1) - 1).max() > 1e-9:
            raise InputError("posterior rows must be non-negative and sum to 1 (tolerance 1e-9)")
        return post
