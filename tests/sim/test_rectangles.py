"""The rectangle game of :mod:`sim.bayes.rectangles` (spec §1.7, §2.3; claims 23, 23b).

The posterior is checked against the spec's printed fixture and against a brute-force
computation written here from the definition ``pi(h | x) ∝ prod_i 1[x_i in h] / area(h)``
over a hypothesis list built here with ``itertools`` (independent of the module's
vectorised bounding-box shortcut). The one- and two-step predictives are checked through
their defining properties (column sums, constancy on cells, the exact rational matrix).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sim import streams
from sim.bayes import RectangleGame
from sim.errors import InputError
from tests.strategies import seeds

SEED = 20240605

#: The spec prints the fixture's probabilities to 3 significant digits (0.0970, 0.0431):
#: half a unit in the last printed place.
FIXTURE_TOL = 5e-5
#: Posterior versus the brute-force product: both are float64 products or exp of sums of at
#: most 20 log-areas, O(100) in size at n = 20 on the hard grid, so they agree to ~1e-14
#: relative; 1e-12 leaves room for rounding without hiding a wrong exponent or area.
POSTERIOR_RTOL = 1e-12
#: Differences of log-posteriors of size O(100): rounding of ~100 ulp of 100 is ~2e-12 at
#: worst; the shared normaliser cancels exactly in the odds only in exact arithmetic.
LOG_ATOL = 1e-11
#: Sums of at most 784 non-negative float64 terms that add to 1 exactly: ~784 ulp of 1.
SUM_ATOL = 1e-13
#: Sums of the same terms in different orders / products of a handful of floats.
ROUNDING_RTOL = 1e-12
#: ``exact_one_step_matrix`` (rationals) versus the float matrix: each float entry is a
#: couple of correctly rounded operations on values in [0, 1], so a few ulp of 1.
EXACT_ATOL = 1e-15

EASY = RectangleGame.easy()
HARD = RectangleGame.hard()
GAMES = {"easy": EASY, "hard": HARD}
grids = st.sampled_from(sorted(GAMES))

FIXTURE_X = [(1.2, 3.5), (2.7, 4.1)]


def _hypotheses(axis) -> list[tuple[float, float, float, float]]:
    """All rectangles [a_i, a_k] x [a_j, a_l], i < k, j < l, ordered by (i, k, j, l)."""
    pairs = list(itertools.combinations(range(len(axis)), 2))
    return [(axis[i], axis[k], axis[j], axis[l]) for i, k in pairs for j, l in pairs]


def _brute_posterior(axis, x) -> np.ndarray:
    """pi(h | x) ∝ prod over points of 1[x_i in h] / area(h), straight from the definition."""
    w = []
    for x_lo, x_hi, y_lo, y_hi in _hypotheses(axis):
        area = (x_hi - x_lo) * (y_hi - y_lo)
        p = 1.0
        for px, py in x:
            p *= (1.0 / area) if (x_lo <= px <= x_hi and y_lo <= py <= y_hi) else 0.0
        w.append(p)
    w = np.array(w)
    return w / w.sum()


def _smallest_containing(game: RectangleGame, box) -> set[int]:
    """Indices of the minimal-area rectangles containing ``box`` (a set: ties are possible)."""
    x_lo, x_hi, y_lo, y_hi = box
    best, arg = math.inf, set()
    for h, (a, b, c, d) in enumerate(_hypotheses(game.axis)):
        if a <= x_lo and x_hi <= b and c <= y_lo and y_hi <= d:
            area = (b - a) * (d - c)
            if area < best:
                best, arg = area, {h}
            elif area == best:
                arg.add(h)
    return arg


def _sequence(game: RectangleGame, n: int, seed: int) -> tuple[int, np.ndarray]:
    h, x = game.sample(1, n, streams(seed).data)
    return int(h[0]), x[0]


def _cell_bounds(game: RectangleGame):
    """(x_lo, x_hi, y_lo, y_hi) of each cell, in the module's order c = cx * (size-1) + cy."""
    a = game.axis
    return [(a[cx], a[cx + 1], a[cy], a[cy + 1])
            for cx in range(len(a) - 1) for cy in range(len(a) - 1)]


# --- the spec fixture (§2.3) ------------------------------------------------------------

def test_the_fixture_has_120_consistent_hypotheses_ten_x_intervals_times_twelve_y_intervals():
    post = EASY.posterior(FIXTURE_X)[0]
    assert int((post > 0).sum()) == 120 == 10 * 12


def test_the_fixture_map_is_1_3_by_3_5_with_probability_0_0970():
    post = EASY.posterior(FIXTURE_X)[0]
    h = int(np.argmax(post))
    assert_array_equal(EASY.hypotheses[h], [1.0, 3.0, 3.0, 5.0])
    assert_allclose(post[h], 0.0970, rtol=0, atol=FIXTURE_TOL)
    assert EASY.map_hypothesis(FIXTURE_X)[0] == h


def test_the_fixture_has_four_area_6_rectangles_at_0_0431_each_and_nothing_else_in_between():
    post = EASY.posterior(FIXTURE_X)[0]
    order = np.argsort(-post, kind="stable")
    runners_up = order[1:5]
    assert_array_equal(EASY.areas[runners_up], [6.0] * 4)
    assert_allclose(post[runners_up], [0.0431] * 4, rtol=0, atol=FIXTURE_TOL)
    assert {tuple(r) for r in EASY.hypotheses[runners_up].tolist()} == {
        (0.0, 3.0, 3.0, 5.0), (1.0, 4.0, 3.0, 5.0), (1.0, 3.0, 2.0, 5.0), (1.0, 3.0, 3.0, 6.0)}
    assert post[order[5]] < 0.0431 - 0.01  # the next one (area 8) is well below


# --- the grids ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(GAMES))
def test_both_grids_have_784_hypotheses_and_49_cells_in_the_documented_order(name):
    game = GAMES[name]
    assert game.n_hypotheses == 784 == math.comb(8, 2) ** 2
    assert game.n_cells == 49
    assert game.hypotheses.shape == (784, 4) and game.areas.shape == (784,)
    assert_array_equal(game.hypotheses, np.array(_hypotheses(game.axis)))
    assert (game.areas > 0).all()


def test_the_hard_grid_axis_is_the_spec_one_and_the_easy_grid_is_0_to_7():
    assert HARD.axis == (0, 0.4, 2, 2.4, 4, 4.4, 6, 6.4)
    assert EASY.axis == tuple(range(8))


def test_the_stored_arrays_are_read_only():
    with pytest.raises(ValueError):
        EASY.hypotheses[0, 0] = 1.0
    with pytest.raises(ValueError):
        EASY.areas[0] = 1.0


# --- sampling -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(GAMES))
def test_sampled_points_lie_inside_their_sampled_rectangle(name):
    game = GAMES[name]
    h, x = game.sample(2000, 7, np.random.default_rng(SEED))
    assert h.shape == (2000,) and x.shape == (2000, 7, 2) and x.dtype == np.float64
    assert ((0 <= h) & (h < 784)).all()
    r = game.hypotheses[h][:, None, :]
    assert ((r[..., 0] <= x[..., 0]) & (x[..., 0] <= r[..., 1])
            & (r[..., 2] <= x[..., 1]) & (x[..., 1] <= r[..., 3])).all()


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_true_hypothesis_always_has_positive_posterior(name):
    game = GAMES[name]
    h, x = game.sample(500, 20, np.random.default_rng(SEED + 1))
    lp = game.log_posterior(x)
    assert np.isfinite(lp[np.arange(500), h]).all()
    assert (game.posterior(x)[np.arange(500), h] > 0).all()


def test_the_same_seed_gives_the_same_draws():
    h1, x1 = HARD.sample(5, 6, np.random.default_rng(SEED))
    h2, x2 = HARD.sample(5, 6, np.random.default_rng(SEED))
    assert_array_equal(h1, h2)
    assert_array_equal(x1, x2)


# --- the posterior (claim 23) ---------------------------------------------------------------

@settings(max_examples=25)
@given(seed=seeds, name=grids, n=st.integers(1, 20))
def test_the_posterior_equals_a_brute_force_product_of_indicator_over_area(seed, name, n):
    game = GAMES[name]
    _, x = _sequence(game, n, seed)
    assert_allclose(game.posterior(x)[0], _brute_posterior(game.axis, x.tolist()),
                    rtol=POSTERIOR_RTOL, atol=0)


@given(seed=seeds, name=grids, n=st.integers(1, 20))
def test_the_posterior_depends_on_the_data_only_through_n_and_the_bounding_box(seed, name, n):
    game = GAMES[name]
    _, x = _sequence(game, n, seed)
    from_box = np.exp(game.log_posterior_from_box(n, game.bounding_box(x)))
    assert_allclose(game.posterior(x), from_box, rtol=POSTERIOR_RTOL, atol=0)
    # Another data set with the same n and box: the box's corners plus interior points.
    box = game.bounding_box(x)[0]
    rng = np.random.default_rng(seed)
    other = np.column_stack([rng.uniform(box[0], box[1], n), rng.uniform(box[2], box[3], n)])
    other[0], other[-1] = (box[0], box[2]), (box[1], box[3])
    assert_allclose(game.posterior(other), game.posterior(x), rtol=POSTERIOR_RTOL, atol=0)


@given(seed=seeds, name=grids, n=st.integers(1, 20))
def test_the_map_is_the_smallest_grid_rectangle_enclosing_the_bounding_box(seed, name, n):
    game = GAMES[name]
    _, x = _sequence(game, n, seed)
    box = game.bounding_box(x)
    h = int(np.argmax(game.posterior(x)[0]))
    assert game.enclosing_rectangle(box)[0] == h == game.map_hypothesis(x)[0]
    assert _smallest_containing(game, box[0]) == {h}


@given(seed=seeds, name=grids, n=st.integers(1, 20))
def test_the_posterior_odds_of_two_consistent_rectangles_are_the_inverse_area_ratio_to_the_n(seed, name, n):
    game = GAMES[name]
    _, x = _sequence(game, n, seed)
    lp = game.log_posterior(x)[0]
    ok = np.flatnonzero(np.isfinite(lp))
    a, b = np.random.default_rng(seed).choice(ok, size=2)
    # log pi(a) - log pi(b) = n log(area_b / area_a)
    assert_allclose(lp[a] - lp[b], n * (math.log(game.areas[b]) - math.log(game.areas[a])),
                    rtol=0, atol=LOG_ATOL)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_with_no_points_the_posterior_is_the_uniform_prior(name):
    game = GAMES[name]
    post = game.posterior(np.empty((0, 2)))
    assert post.shape == (1, 784)
    assert_allclose(post, 1 / 784, rtol=1e-15, atol=0)  # exp(-log 784): one rounding
    assert_allclose(game.posterior(np.empty((3, 0, 2))), 1 / 784, rtol=1e-15, atol=0)


def test_a_batch_of_sequences_gives_row_by_row_the_single_sequence_posterior():
    _, x = HARD.sample(4, 5, np.random.default_rng(SEED))
    batch = HARD.log_posterior(x)
    for s in range(4):
        assert_array_equal(batch[s], HARD.log_posterior(x[s])[0])


def test_a_point_on_a_rectangle_boundary_lies_in_it():
    post = EASY.posterior([(1.0, 3.0), (3.0, 5.0)])[0]
    h = int(np.argmax(post))
    assert_array_equal(EASY.hypotheses[h], [1.0, 3.0, 3.0, 5.0])


# --- predictives (claim 23b) ------------------------------------------------------------------

def _random_posteriors(game: RectangleGame, rng: np.random.Generator) -> np.ndarray:
    """Dense Dirichlet posteriors and sparse data posteriors, (6, 784)."""
    dense = rng.dirichlet(np.full(game.n_hypotheses, 0.3), size=3)
    _, x = game.sample(3, int(rng.integers(1, 6)), rng)
    return np.vstack([dense / dense.sum(1, keepdims=True), game.posterior(x)])


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_one_step_matrix_columns_sum_to_one_and_cell_masses_too(name):
    game = GAMES[name]
    M = game.one_step_matrix()
    assert M.shape == (49, 784) and (M >= 0).all()
    assert_allclose(M.sum(0), 1.0, rtol=0, atol=SUM_ATOL)
    masses = game.cell_masses(_random_posteriors(game, np.random.default_rng(SEED)))
    assert masses.shape == (6, 49) and (masses >= 0).all()
    assert_allclose(masses.sum(1), 1.0, rtol=0, atol=SUM_ATOL)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_predictive_density_is_constant_on_each_cell_and_integrates_to_the_cell_mass(name):
    game = GAMES[name]
    rng = np.random.default_rng(SEED + 2)
    post = _random_posteriors(game, rng)
    cells = np.array(_cell_bounds(game))  # (49, 4)
    centres = np.column_stack([cells[:, :2].mean(1), cells[:, 2:].mean(1)])
    dens_centre = game.predictive_density(post, centres[None])  # (S, 49)
    areas = (cells[:, 1] - cells[:, 0]) * (cells[:, 3] - cells[:, 2])
    assert_allclose(areas, game.cell_areas(), rtol=ROUNDING_RTOL, atol=0)
    assert_allclose(dens_centre * areas, game.cell_masses(post), rtol=ROUNDING_RTOL, atol=0)
    # Three interior points of every cell (strictly inside: 5% away from each edge).
    for _ in range(3):
        u = rng.uniform(0.05, 0.95, size=(49, 2))
        y = np.column_stack([cells[:, 0] + u[:, 0] * (cells[:, 1] - cells[:, 0]),
                             cells[:, 2] + u[:, 1] * (cells[:, 3] - cells[:, 2])])
        assert_allclose(game.predictive_density(post, y[None]), dens_centre,
                        rtol=ROUNDING_RTOL, atol=0)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_one_step_matrix_equals_its_exact_rational_version(name):
    game = GAMES[name]
    exact = np.array([[float(f) for f in row] for row in game.exact_one_step_matrix()])
    assert_allclose(game.one_step_matrix(), exact, rtol=0, atol=EXACT_ATOL)


def test_the_one_step_matrix_entry_is_the_cell_overlap_over_the_rectangle_area():
    M = HARD.one_step_matrix()
    cells = _cell_bounds(HARD)
    rng = np.random.default_rng(SEED)
    for h in rng.choice(784, size=40, replace=False):
        a, b, c, d = HARD.hypotheses[h]
        for ci in rng.choice(49, size=10, replace=False):
            x0, x1, y0, y1 = cells[ci]
            overlap = max(0.0, min(b, x1) - max(a, x0)) * max(0.0, min(d, y1) - max(c, y0))
            assert_allclose(M[ci, h], overlap / ((b - a) * (d - c)), rtol=ROUNDING_RTOL, atol=EXACT_ATOL)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_two_step_matrix_is_the_outer_product_of_the_one_step_columns(name):
    game = GAMES[name]
    M, T = game.one_step_matrix(), game.two_step_matrix()
    assert T.shape == (49 * 49, 784)
    T3 = T.reshape(49, 49, 784)
    for h in range(784):
        # a single float64 product per entry, correctly rounded whichever way it is formed
        assert_array_equal(T3[:, :, h], np.outer(M[:, h], M[:, h]))
    assert_allclose(T3.sum(1), M, rtol=0, atol=SUM_ATOL)  # marginalising c2 gives one step


# --- enclosing_rectangle ---------------------------------------------------------------------

def _width(game, h, axis_index):
    r = game.hypotheses[h]
    return r[2 * axis_index + 1] - r[2 * axis_index]


def _contains(game, h, box):
    a, b, c, d = game.hypotheses[h]
    return a <= box[0] and box[1] <= b and c <= box[2] and box[3] <= d


@pytest.mark.parametrize("name", sorted(GAMES))
def test_a_zero_width_box_on_an_interior_grid_line_gets_a_rectangle_one_cell_wide(name):
    game = GAMES[name]
    a = game.axis
    w = np.diff(a)
    for i in range(1, 7):  # interior grid lines
        box = (a[i], a[i], 0.5 * (a[0] + a[1]), 0.5 * (a[0] + a[1]))  # zero width in x
        h = int(game.enclosing_rectangle(box)[0])
        assert _contains(game, h, box)
        assert _width(game, h, 0) == min(w[i - 1], w[i])  # one cell: the narrower neighbour
        assert _width(game, h, 1) == w[0]
        assert h in _smallest_containing(game, box)
        # same on the y axis
        box_y = (0.5 * (a[0] + a[1]), 0.5 * (a[0] + a[1]), a[i], a[i])
        h = int(game.enclosing_rectangle(box_y)[0])
        assert _contains(game, h, box_y) and _width(game, h, 1) == min(w[i - 1], w[i])
        assert h in _smallest_containing(game, box_y)


def test_a_single_point_on_a_grid_crossing_gets_the_map_rectangle():
    for game in (EASY, HARD):
        for x in ([(3.0, 2.0)], [(2.0, 4.0)], [(0.0, 0.0)], [(game.axis[-1], game.axis[-1])]):
            box = game.bounding_box(x)
            assert game.enclosing_rectangle(box)[0] == game.map_hypothesis(x)[0]
            assert _contains(game, int(game.enclosing_rectangle(box)[0]), box[0])


@pytest.mark.parametrize("name", sorted(GAMES))
def test_a_box_touching_the_grid_edge_gets_the_edge_cell(name):
    game = GAMES[name]
    a = game.axis
    cases = [
        ((0.0, 0.5 * a[1], 0.0, 0.5 * a[1]), (a[0], a[1], a[0], a[1])),    # x in [0, half a cell]
        ((0.0, 0.0, 0.0, 0.0), (a[0], a[1], a[0], a[1])),                    # the corner itself
        ((a[6] + 0.01, a[7], a[6] + 0.01, a[7]), (a[6], a[7], a[6], a[7])),  # top-right cell
        ((a[7], a[7], a[0], a[7]), (a[6], a[7], a[0], a[7])),                # right edge, full height
    ]
    for box, expected in cases:
        h = int(game.enclosing_rectangle(box)[0])
        assert_array_equal(game.hypotheses[h], expected)
        assert _smallest_containing(game, box) == {h}


def test_enclosing_rectangle_takes_a_batch_of_boxes():
    boxes = np.array([[1.2, 2.7, 3.5, 4.1], [0.0, 0.5, 0.0, 0.5]])
    h = EASY.enclosing_rectangle(boxes)
    assert h.shape == (2,)
    assert_array_equal(EASY.hypotheses[h], [[1, 3, 3, 5], [0, 1, 0, 1]])


# --- bad input ----------------------------------------------------------------------------------

def test_a_point_outside_the_grid_is_rejected_naming_its_position():
    with pytest.raises(InputError, match=r"^x\[0, 1\] = .* lies outside the grid \[0\.0, 7\.0\]\^2$"):
        EASY.posterior([(1.0, 1.0), (7.5, 1.0)])
    with pytest.raises(InputError, match="outside the grid"):
        HARD.posterior([(-0.1, 1.0)])
    with pytest.raises(InputError, match=r"y\[0, 0\] = .* outside the grid"):
        EASY.predictive_density(np.full(784, 1 / 784), [(1.0, 8.0)])


def test_the_outside_the_grid_message_prints_the_point_as_plain_numbers():
    # The point should read "(7.5, 1.0)", not the NumPy 2 scalar repr "(np.float64(7.5), ...)".
    with pytest.raises(InputError, match=re.escape("x[0, 1] = (7.5, 1.0) lies outside the grid")):
        EASY.posterior([(1.0, 1.0), (7.5, 1.0)])


def test_nan_points_are_rejected_with_their_index():
    with pytest.raises(InputError, match=re.escape("x contains NaN at index (0, 1, 0)")):
        EASY.posterior([(1.0, 1.0), (np.nan, 1.0)])
    with pytest.raises(InputError, match=re.escape("x contains an infinite value")):
        EASY.bounding_box([(1.0, np.inf)])


@pytest.mark.parametrize("shape", [(3, 3), (4, 1), (1, 1, 1, 2), (2, 3, 4, 2), (2,)])
def test_points_of_the_wrong_shape_are_rejected(shape):
    with pytest.raises(InputError, match=re.escape("x must have shape (n, 2) or (S, n, 2); got (")):
        EASY.posterior(np.ones(shape))


@pytest.mark.parametrize("shape", [(3, 3), (1, 1, 1, 2), (2,)])
def test_a_wrong_shape_message_reports_the_shape_the_caller_passed(shape):
    with pytest.raises(InputError, match=re.escape(f"x must have shape (n, 2) or (S, n, 2); got {shape}")):
        EASY.posterior(np.ones(shape))


def test_no_sequences_at_all_are_rejected():
    with pytest.raises(InputError, match="holds no sequences"):
        EASY.posterior(np.empty((0, 3, 2)))


@pytest.mark.parametrize("axis,message", [
    ((0.0, 1.0, 1.0, 2.0), "axis must be strictly increasing; axis[1] = "),
    ((0.0, 2.0, 1.0), "axis must be strictly increasing; axis[1] = "),
    ((3.0,), "at least 2 values"),
    ((), "at least 2 values"),
    ((0.0, np.nan, 2.0), "axis contains NaN at index (1,)"),
])
def test_a_bad_axis_is_rejected(axis, message):
    with pytest.raises(InputError, match=re.escape(message)):
        RectangleGame(axis)


def test_the_axis_message_prints_the_offending_values_as_plain_numbers():
    # "axis[1] = 2.0 >= axis[2] = 1.0", not the NumPy 2 scalar repr "np.float64(2.0)".
    with pytest.raises(InputError, match=re.escape("axis[1] = 2.0 >= axis[2] = 1.0")):
        RectangleGame((0.0, 2.0, 1.0))


@pytest.mark.parametrize("posterior,message", [
    (np.full(784, 1 / 700), "sum to 1"),
    (np.r_[-0.5, 1.5, np.zeros(782)], "non-negative"),
    (np.full(783, 1 / 783), "posterior must have shape (784,) or (S, 784); got (1, 783)"),
    (np.full((2, 2, 784), 1 / 784), "got (2, 2, 784)"),
])
def test_a_posterior_that_is_not_a_distribution_over_the_784_hypotheses_is_rejected(posterior, message):
    with pytest.raises(InputError, match=re.escape(message)):
        EASY.cell_masses(posterior)
    with pytest.raises(InputError, match=re.escape(message)):
        EASY.predictive_density(posterior, [(1.0, 1.0)])


def test_a_predictive_density_with_mismatched_batches_is_rejected():
    with pytest.raises(InputError, match="y holds 3 sequences of points but there are 2 posteriors"):
        EASY.predictive_density(np.full((2, 784), 1 / 784), np.ones((3, 1, 2)))


def test_the_bounding_box_of_zero_points_is_rejected():
    with pytest.raises(InputError, match=re.escape("bounding_box needs n >= 1 points")):
        EASY.bounding_box(np.empty((0, 2)))


def test_log_posterior_from_box_with_n_zero_points_to_log_posterior():
    with pytest.raises(InputError, match=re.escape("n must be >= 1 with a box; got 0 (use log_posterior for n = 0)")):
        EASY.log_posterior_from_box(0, (1.0, 2.0, 1.0, 2.0))


def test_a_box_of_the_wrong_shape_is_rejected():
    with pytest.raises(InputError, match=re.escape("box must have shape (4,) or (S, 4); got (3,)")):
        EASY.consistent((1.0, 2.0, 3.0))


@pytest.mark.parametrize("box", [(-1.0, 2.0, 1.0, 2.0), (1.0, 8.0, 1.0, 2.0), (3.0, 2.0, 1.0, 2.0),
                                 (np.nan, 2.0, 1.0, 2.0)],
                         ids=["below-the-grid", "beyond-the-grid", "inverted", "nan"])
def test_enclosing_rectangle_rejects_a_box_that_is_not_a_box_inside_the_grid(box):
    # No grid rectangle encloses such a box: an InputError, not a KeyError from a lookup.
    with pytest.raises(InputError, match="box"):
        EASY.enclosing_rectangle(box)


def test_log_posterior_from_box_rejects_a_box_outside_the_grid():
    # No hypothesis is consistent with it: an InputError, not a NaN posterior (and a warning).
    with pytest.raises(InputError, match="box"):
        EASY.log_posterior_from_box(2, (-1.0, 2.0, 1.0, 2.0))


@pytest.mark.parametrize("rng", [None, 3, np.random.RandomState(0)])
def test_sampling_without_a_numpy_generator_is_rejected(rng):
    with pytest.raises(InputError, match="rng must be a numpy.random.Generator"):
        EASY.sample(2, 3, rng)


@pytest.mark.parametrize("n_seq,length,name", [(0, 3, "n_seq"), (-1, 3, "n_seq"), (2, 0, "length"),
                                               (2.0, 3, "n_seq"), (True, 3, "n_seq")])
def test_non_positive_or_non_integer_sample_sizes_are_rejected(n_seq, length, name):
    with pytest.raises(InputError, match=f"{name} must be a positive integer"):
        EASY.sample(n_seq, length, np.random.default_rng(SEED))
