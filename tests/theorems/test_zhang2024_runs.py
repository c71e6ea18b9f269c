"""The shared trained runs of the Zhang et al. encoding claims: validation, the CPU budget,
caching, the random-init control, and the rectangle game's cell tokens."""

import dataclasses

import numpy as np
import pytest
import torch

from sim import streams
from sim.bayes import RectangleGame
from sim.errors import InputError
from theorems.zhang2024 import _runs
from theorems.zhang2024._runs import SCALES, cell_tokens, current_scale, run

# A scale small enough for a unit test: a few steps, tiny probe sets.
TINY = dataclasses.replace(SCALES["cpu"], name="tiny", n_train=64, n_probe=40, n_val=10,
                           n_test=10, length=12, rect_length=4, d_model=8, n_heads=2, d_ff=8,
                           n_layers=1, steps=tuple((f, 3) for f in _runs.FAMILIES))


def test_a_tiny_run_holds_the_models_data_split_and_embeddings():
    r = run("hmm", 0, TINY)
    assert run("hmm", 0, TINY) is r  # one run per (family, seed, scale) in a process
    assert r.inputs["id"].shape == (50, 12) and r.latent["id"]["z"].shape == (50, 12)
    assert (len(r.split.train), len(r.split.val), len(r.split.test)) == (30, 10, 10)
    H = r.embedding("trained", position=-2)
    assert H.dtype == np.float64 and H.shape == (50, 8)
    assert not np.allclose(H, r.embedding("random", position=-2))  # training moved the weights
    assert r.details["scale"] == "tiny" and r.details["steps"] == 3


@pytest.mark.parametrize("family, length", [("ng", 12), ("hmm", 12), ("rect", 4), ("lda", 32)])
def test_training_sequences_are_one_longer_than_the_probed_ones(monkeypatch, family, length):
    # the probed last position (T observations seen) must be one the model was trained at,
    # i.e. it predicted x_{T+1} in training, as in the authors' protocol (spec 3.1, 3.2)
    seen = {}
    real = _runs.train_transformer

    def spy(config, data, **kw):
        seen["length"] = np.asarray(data).shape[1]
        return real(config, data, **kw)

    monkeypatch.setattr(_runs, "train_transformer", spy)
    r = _runs._run.__wrapped__(family, 0, TINY)  # uncached: the spy must see the training
    assert r.inputs["id"].shape[1] == length and seen["length"] == length + 1
    if family == "ng":  # the probe targets are computed from exactly the probed tokens
        np.testing.assert_array_equal(r.latent["id"]["x"], r.inputs["id"])
        assert r.latent["ood"]["x"].shape[1] == r.inputs["ood"].shape[1] == length


def test_the_random_control_is_the_trained_models_starting_point():
    r = run("bb", 1, TINY)
    start = _runs.CausalTransformer(r.config, generator=_runs.streams(1).torch("init"))
    for a, b in zip(start.parameters(), r.random_model.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("args, message", [
    (("gpt", 0), "unknown family"),
    (("bb", -1), "non-negative integer"),
    (("bb", True), "non-negative integer"),
    (("bb", 0, "cpu"), "must be a Scale"),
    (("bb", 0, dataclasses.replace(TINY, steps=(("bb", 3),))), "sets no steps"),
])
def test_bad_runs_are_refused(args, message):
    with pytest.raises(InputError, match=message):
        run(*args)


def test_bad_embedding_requests_are_refused():
    r = run("rect", 0, TINY)
    with pytest.raises(InputError, match="which must be one of"):
        r.embedding("start")
    with pytest.raises(InputError, match="no 'ood' data"):
        r.embedding(data="ood")
    with pytest.raises(InputError, match="outside them"):
        r.embedding(position=9)  # rectangle sequences have 4 points here
    with pytest.raises(InputError, match="position must be one of"):
        r.embedding(position=3)


def test_a_scale_that_cannot_fit_the_cpu_budget_is_refused(monkeypatch):
    monkeypatch.setattr(_runs, "_device", lambda: "cpu")
    monkeypatch.delenv("REPRESENTATION_THEOREMS_ALLOW_LONG", raising=False)
    assert SCALES["paper"].cpu_seconds("bb") > _runs.CPU_LIMIT_S
    with pytest.raises(InputError, match="would take about .* min on this CPU"):
        run("bb", 0, SCALES["paper"])


def test_the_scale_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(_runs.SCALE_ENV, "paper")
    assert current_scale() is SCALES["paper"]
    monkeypatch.setenv(_runs.SCALE_ENV, "huge")
    with pytest.raises(InputError, match="the scales are"):
        current_scale()
    monkeypatch.delenv(_runs.SCALE_ENV)
    assert current_scale() is SCALES["cpu"]


def test_cell_tokens_index_the_cells_in_the_order_of_their_areas():
    game = RectangleGame.hard()
    x = np.array([[[0.1, 0.1], [0.1, 6.3], [6.3, 0.1], [2.1, 4.2]]])
    last = len(game.axis) - 2
    assert cell_tokens(game, x).tolist() == [[0, last, last * (last + 1), 2 * (last + 1) + 4]]
    # the cell's width x height equals cell_areas at that token
    assert game.cell_areas()[2 * (last + 1) + 4] == pytest.approx((2.4 - 2.0) * (4.4 - 4.0))


# --- the belief certificate (claim 20) --------------------------------------------------------

def _clusters(seed: int, collinear: bool = False):
    """Three well-separated clusters in 5-D with one-hot beliefs; ``collinear`` appends a
    column equal to the first plus 1e-7 noise (a condition number near 1e7 after
    standardising, as for an HMM embedding of an earlier draw, where a 1e-8 solve was too
    coarse for the active-set refinement and the layer's 1e-10 defaults certified it)."""
    rng = streams(seed).data
    y = np.repeat(np.arange(3), 40)
    H = 4.0 * np.eye(5)[y] + rng.standard_normal((120, 5)) * 0.3
    if collinear:
        H = np.column_stack([H, H[:, 0] + 1e-7 * rng.standard_normal(120)])
    return H, np.eye(3)[y]


@pytest.mark.parametrize("collinear", [False, True])
def test_the_belief_certificate_certifies_separated_clusters(collinear):
    from theorems.zhang2024.encoding_latent import belief_certificate

    H, b = _clusters(0, collinear)
    margin, outcome = belief_certificate(H, b, np.arange(120))
    assert outcome == "certified" and margin > 0.1


def test_the_belief_certificate_refuses_shuffled_or_contradictory_labels():
    from theorems.zhang2024.encoding_latent import belief_certificate

    H, b = _clusters(1)
    labels = np.random.default_rng(0).permutation(b.argmax(1))
    margin, outcome = belief_certificate(H, b, np.arange(120), labels)
    # the separability LP is degenerate here (optimum t = 0 on a large face); the theorem of
    # the alternative proves what the LP alone left "optimal_inaccurate"
    assert (margin, outcome) == (0.0, "not separable")
    H[1] = H[0]  # one point with two labels: no separator exists, and the LP proves it
    b[1] = np.roll(b[0], 1)
    margin, outcome = belief_certificate(H, b, np.arange(120))
    assert (margin, outcome) == (0.0, "not separable")
