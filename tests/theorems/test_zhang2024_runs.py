"""The runs wing of the Zhang et al. encoding claims: the family table, validation, the CPU
budget, the run as the only cache, the untrained control, prepared runs trained in worker
processes, and the rectangle game's cell tokens."""

import dataclasses

import numpy as np
import pytest
import torch

from sim import streams
from sim.bayes import RectangleGame
from sim.errors import InputError
from sim.probes import softmax_probe
from theorems import _keys
from theorems.runshare import CACHE_ENV, SHARE_ENV
from theorems.zhang2024 import runs
from theorems.zhang2024.runs import FAMILIES, SCALES, cell_tokens, current_scale, run

pytestmark = pytest.mark.heavy  # prepared runs start worker pools: tests/conftest.py runs it first

# One embedding of float32 weights on two kernel sets (the worker's pinned AVX2, this
# process's own): rounding of a float32 sum of d_model terms of order one.
FLOAT32_KERNELS = 1e-5
# A scale small enough for a unit test: a few steps, tiny probe sets.
TINY = dataclasses.replace(SCALES["cpu"], name="tiny", n_train=64, n_probe=40, n_val=10,
                           n_test=10, length=12, rect_length=4, d_model=8, n_heads=2, d_ff=8,
                           n_layers=1, steps=tuple((f, 3) for f in runs.FAMILIES))


def test_a_tiny_run_holds_the_models_data_split_and_embeddings():
    r = run("hmm", 0, TINY)
    assert run("hmm", 0, TINY) is r  # one run per (family, seed, scale) in a process
    assert r.inputs["id"].shape == (50, 12) and r.latent["id"]["z"].shape == (50, 12)
    assert (len(r.split.train), len(r.split.val), len(r.split.test)) == (30, 10, 10)
    H = r.embedding("trained", position=-2)
    assert H.dtype == np.float64 and H.shape == (50, 8)
    assert not np.allclose(H, r.embedding("untrained", position=-2))  # training moved the weights
    assert r.details["scale"] == "tiny" and r.details["steps"] == 3


@pytest.mark.parametrize("family, length", [("ng", 12), ("hmm", 12), ("rect", 4), ("lda", 32)])
def test_training_sequences_are_one_longer_than_the_probed_ones(family, length):
    # the probed last position (T observations seen) must be one the model was trained at,
    # i.e. it predicted x_{T+1} in training, as in the authors' protocol (spec 3.1, 3.2)
    drawn, _ = runs._draw(family, 0, TINY)  # what _fit trains on, in the worker
    assert np.asarray(drawn.train).shape[1] == length + 1
    r = run(family, 0, TINY)
    assert r.inputs["id"].shape[1] == length
    np.testing.assert_array_equal(r.inputs["id"], drawn.inputs["id"])
    if family == "ng":  # the probe targets are computed from exactly the probed tokens
        np.testing.assert_array_equal(r.latent["id"]["x"], r.inputs["id"])
        assert r.latent["ood"]["x"].shape[1] == r.inputs["ood"].shape[1] == length


def test_a_cpu_run_is_trained_and_embedded_on_the_pinned_kernels_in_a_worker():
    """Whatever kernels this process uses, a CPU run is trained in a worker on
    TRAINING_KERNELS, and its embeddings are the worker's, computed on the same kernels."""
    if runs._device() != "cpu":
        pytest.skip("the pinned kernels are those of CPU training")
    r = run("eg", 0, TINY)
    assert r.kernels == {"torch": "AVX2", "mkl_cbwr": runs.TRAINING_KERNELS["MKL_CBWR"]}, (
        "this CPU has no AVX2: its runs fall back to torch's generic kernels")
    assert r.details["train_kernels"] == r.kernels
    assert {(w, d) for w, d in r.embedded} == {(w, d) for w in runs.MODELS for d in r.inputs}
    # the worker's embedding of the probe sequences equals the trained network's own, up to
    # the float32 rounding of this process's kernels (AVX-512 here may round differently)
    here = r.trained.embed(r.inputs["id"], positions=[-1])[:, 0]
    np.testing.assert_allclose(r.embedding("trained"), here, rtol=0, atol=FLOAT32_KERNELS)
    assert r.embedding("trained") is r.embedded[("trained", "id")][-1]


def test_the_untrained_control_is_the_trained_models_starting_point():
    r = run("bb", 1, TINY)
    start = runs.CausalTransformer(r.config, generator=streams(1).torch("init"))
    for a, b in zip(start.parameters(), r.untrained.parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(start.parameters(), r.trained.parameters()))


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
        r.embedding("random")
    with pytest.raises(InputError, match="no 'ood' data"):
        r.embedding(data="ood")
    with pytest.raises(InputError, match="outside them"):
        r.embedding(position=9)  # rectangle sequences have 4 points here
    with pytest.raises(InputError, match="position must be one of"):
        r.embedding(position=3)


def test_a_scale_that_cannot_fit_the_cpu_budget_is_refused(monkeypatch):
    monkeypatch.setattr(runs, "_device", lambda: "cpu")
    monkeypatch.delenv("REPRESENTATION_THEOREMS_ALLOW_LONG", raising=False)
    assert SCALES["paper"].cpu_seconds("bb") > runs.CPU_LIMIT_S
    with pytest.raises(InputError, match="would take about .* min on this CPU"):
        run("bb", 0, SCALES["paper"])


def test_the_scale_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(runs.SCALE_ENV, "paper")
    assert current_scale() is SCALES["paper"]
    monkeypatch.setenv(runs.SCALE_ENV, "huge")
    with pytest.raises(InputError, match="the scales are"):
        current_scale()
    monkeypatch.delenv(runs.SCALE_ENV)
    assert current_scale() is SCALES["cpu"]


def test_cell_tokens_index_the_cells_in_the_order_of_their_areas():
    game = RectangleGame.hard()
    x = np.array([[[0.1, 0.1], [0.1, 6.3], [6.3, 0.1], [2.1, 4.2]]])
    last = len(game.axis) - 2
    assert cell_tokens(game, x).tolist() == [[0, last, last * (last + 1), 2 * (last + 1) + 4]]
    # the cell's width x height equals cell_areas at that token
    assert game.cell_areas()[2 * (last + 1) + 4] == pytest.approx((2.4 - 2.0) * (4.4 - 4.0))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_gives_targets_and_both_baselines_for_each_probe_row(family):
    r = run(family, 0, TINY)
    S = len(r.split.train) + len(r.split.val) + len(r.split.test)
    for data in r.inputs:
        targets = r.targets(data)
        assert targets and all(np.asarray(v).shape[0] == S for v in targets.values())
        for position in (-1, -2):
            for source in ("statistic", "current token"):
                F = r.features(source, data, position)
                assert F.dtype == np.float64 and F.ndim == 2 and F.shape[0] == S
                assert np.isfinite(F).all()
    assert r.targets() is r.targets()  # memoised on the run
    assert FAMILIES[family].name == family and FAMILIES[family].title in FAMILIES[family].describe(TINY)


def test_a_statement_says_what_was_run_at_the_scale():
    text = FAMILIES["hmm"].describe(TINY)
    assert f"T = {TINY.length}" in text and "tiny scale" in text
    assert f"{TINY.steps_for('hmm')} Adam steps" in text and f"d_model {TINY.d_model}" in text
    assert f"T = {SCALES['paper'].length}" in FAMILIES["hmm"].describe(SCALES["paper"])


def test_the_current_token_baseline_is_the_observation_at_the_position():
    r = run("hmm", 0, TINY)
    x = r.latent["id"]["x"]
    np.testing.assert_array_equal(r.current_token(position=-1).argmax(1), x[:, -1])
    np.testing.assert_array_equal(r.current_token(position=-2).argmax(1), x[:, -2])
    np.testing.assert_array_equal(r.current_token(position=9).argmax(1), x[:, 9])
    ng = run("ng", 0, TINY)
    np.testing.assert_array_equal(ng.current_token(position=-1)[:, 0], ng.latent["id"]["x"][:, -1])


def test_the_statistic_baseline_is_the_sufficient_statistic_seen_at_the_position():
    r = run("bb", 0, TINY)
    x = r.latent["id"]["x"]
    np.testing.assert_allclose(r.statistic(position=-1)[:, 0], x.mean(1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(r.statistic(position=9)[:, 0], x[:, :10].mean(1), rtol=0,
                               atol=1e-15)
    h = run("hmm", 0, TINY)
    b = h.latent["id"]["model"].filter(h.latent["id"]["x"])
    np.testing.assert_allclose(np.exp(h.statistic(position=-1)), b[:, -1], rtol=1e-12)


def test_bad_feature_requests_are_refused():
    r = run("bb", 0, TINY)
    with pytest.raises(InputError, match="source must be one of"):
        r.features("ceiling")
    with pytest.raises(InputError, match="no 'train' data"):
        r.targets("train")


def test_a_prepared_run_is_bit_identical_to_one_trained_on_demand(monkeypatch):
    """prepare() trains in worker processes (one math thread each, as on demand): the
    weights, the untrained control, and so every embedding, are the same tensors."""
    scale = dataclasses.replace(TINY, name="tiny-prepared")
    monkeypatch.delenv(SHARE_ENV, raising=False)  # as in a serial run
    monkeypatch.setattr(runs, "workers", lambda: 2)
    wanted = [("eg", 0), ("rect", 1)]
    assert runs.prepare(wanted, scale) == 2
    assert runs.prepare(wanted, scale) == 0  # already training: nothing starts twice
    for family, seed in wanted:
        prepared = run(family, seed, scale)
        here = runs.build(family, seed, scale)
        for (name, a), (_, b) in zip(prepared.trained.state_dict().items(),
                                     here.trained.state_dict().items()):
            assert torch.equal(a, b), (family, name)
        for a, b in zip(prepared.untrained.parameters(), here.untrained.parameters()):
            assert torch.equal(a, b)
        assert np.array_equal(prepared.embedding(), here.embedding())
        assert prepared.final_loss == here.final_loss
    assert runs.prepare(wanted, scale) == 0  # held in memory: nothing to train


def test_prepare_starts_nothing_where_workers_would_not_help(monkeypatch, tmp_path):
    scale = dataclasses.replace(TINY, name="tiny-unprepared")
    monkeypatch.setattr(runs, "workers", lambda: 1)
    assert runs.prepare([("bb", 0)], scale) == 0
    monkeypatch.setattr(runs, "workers", lambda: 2)
    monkeypatch.setenv(SHARE_ENV, str(tmp_path))  # as under pytest -n, on a worker but the first
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert runs.prepare([("bb", 0)], scale) == 0
    with pytest.raises(InputError, match="unknown family"):
        runs.prepare([("gpt", 0)], scale)


@pytest.fixture(scope="module")
def module_pools():
    """The worker pools of this module's tests, started by the first that needs one (each
    task sets the share folder or cache it trains into, so the tests can share them)."""
    pools: dict = {}
    yield pools
    for pool in pools.values():
        pool.shutdown(wait=False, kill_workers=True)


@pytest.fixture
def own_pools(monkeypatch, module_pools):
    """Worker pools not the process's: under pytest -n with paper_checks/ in the same run,
    the first worker's ``background`` pool is busy training every claim's runs, and a run
    the test prepares would wait behind them."""
    monkeypatch.setattr(runs, "_POOLS", module_pools)


@pytest.mark.parametrize("folder", [SHARE_ENV, CACHE_ENV])
def test_prepared_runs_are_trained_into_the_share_folder_or_the_cache(monkeypatch, tmp_path,
                                                                      folder, own_pools):
    """Under pytest -n (a share folder; the first worker prepares for every worker) or with
    the claim cache on: trained in the background into the folder, and a process that then
    needs the run loads it, the same bits as a run trained on demand in a serial run."""
    scale = dataclasses.replace(TINY, name=f"tiny-background-{folder}")
    monkeypatch.setattr(runs, "workers", lambda: 2)
    for name in (SHARE_ENV, CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(folder, str(tmp_path))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    # this process's kernels differ from the pinned worker's (as on an AVX-512 host): the
    # cache entry must still be keyed on this process's stack, or it would never be found
    host = {**_keys.stack(), "torch_cpu_capability": "the host's own"}
    monkeypatch.setattr(_keys, "stack", lambda: host)
    wanted = [("eg", 0), ("rect", 1)]
    assert runs.prepare(wanted, scale) == 2
    assert runs.prepare(wanted, scale) == 0  # already training: nothing starts twice
    for family, seed in wanted:
        assert runs._BACKGROUND[(family, seed, scale)].result(timeout=120) is None
    pattern = "zhang2024-*.bin" if folder == SHARE_ENV else "v*/runs/zhang2024-*/data.bin"
    stored = sorted(p.relative_to(tmp_path).parts[-1 if folder == SHARE_ENV else -2]
                    for p in tmp_path.glob(pattern))
    assert [n.split("-")[1:3] for n in stored] == [["eg", "0"], ["rect", "1"]], stored
    with monkeypatch.context() as m:  # loaded from the folder: nothing is trained again
        m.setattr(runs, "_train", lambda *a: pytest.fail(f"{a} trained again"))
        loaded = {k: runs.build(*k, scale) for k in wanted}
    monkeypatch.delenv(folder)
    for (family, seed), got in loaded.items():
        here = runs.build(family, seed, scale)  # trained here, as in a serial run
        for (name, a), (_, b) in zip(got.trained.state_dict().items(),
                                     here.trained.state_dict().items()):
            assert torch.equal(a, b), (family, name)
        assert np.array_equal(got.embedding(), here.embedding())
        assert got.final_loss == here.final_loss


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
    from theorems.zhang2024.encoding_hmm import belief_certificate

    H, b = _clusters(0, collinear)
    margin, outcome = belief_certificate(H, b, np.arange(120))
    assert outcome == "certified" and margin > 0.1


def test_the_belief_certificate_refuses_shuffled_or_contradictory_labels():
    from theorems.zhang2024.encoding_hmm import belief_certificate

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


def test_under_a_scheduler_prepare_submits_one_training_task_per_run(monkeypatch, tmp_path):
    """``--scheduler``: the controller's prepare submits each run once as a training task
    (theorems.scheduler.background), which trains it into the claim cache; a worker that
    then needs the run loads it. Without the cache (how the workers would share) nothing is
    submitted."""
    from theorems import scheduler
    scale = dataclasses.replace(TINY, name="tiny-scheduled")
    submitted = []
    monkeypatch.setattr(scheduler, "collecting", lambda: True)
    monkeypatch.setattr(scheduler, "background",
                        lambda key, fn, *args: submitted.append((key, fn, args)) or True)
    for name in (SHARE_ENV, CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    assert runs.prepare([("eg", 0)], scale) == 0 and not submitted
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert runs.prepare([("eg", 0), ("rect", 1), ("eg", 0)], scale) == 2
    assert [key for key, _, _ in submitted] == ["zhang2024-eg-0-tiny-scheduled",
                                                "zhang2024-rect-1-tiny-scheduled"]
    assert not runs._BACKGROUND.keys() & {("eg", 0, scale), ("rect", 1, scale)}  # none local
    for _, fn, args in submitted:  # what the cluster's workers run
        fn(*args)
    with monkeypatch.context() as m:
        m.setattr(runs, "_train", lambda *a: pytest.fail(f"{a} trained again"))
        loaded = runs.build("eg", 0, scale)
    here = runs._train("eg", 0, scale)  # on demand, as a serial run trains it
    assert loaded.final_loss == here["final_loss"]
    assert all(torch.equal(a, here["trained"][k]) for k, a in loaded.trained.state_dict().items())


@pytest.mark.parametrize("folder", [SHARE_ENV, CACHE_ENV])
def test_a_probe_fit_is_shared_through_the_share_folder_or_the_cache(monkeypatch, tmp_path,
                                                                     folder):
    """Two claims on two pytest workers that probe one run alike fit the probe once: the
    second process (here: the same run rebuilt, its memo empty) loads the first's fit, the
    same bits; another target, or no folder at all, is fitted afresh."""
    from theorems.zhang2024 import probing
    scale = dataclasses.replace(TINY, name=f"tiny-probe-{folder}")
    for name in (SHARE_ENV, CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(folder, str(tmp_path))
    r = runs.build("hmm", 0, scale)
    first = probing.fit(r, "softmax", "b_T", r.targets()["b_T"], alphas=(1e-2,), maxiter=30)
    fits = []
    monkeypatch.setitem(probing.PROBES, "softmax",
                        lambda *a, **k: fits.append(a) or softmax_probe(*a, **k))
    again = runs.build("hmm", 0, scale)
    loaded = probing.fit(again, "softmax", "b_T", again.targets()["b_T"], alphas=(1e-2,), maxiter=30)
    assert not fits and loaded.scores == first.scores
    assert loaded.predictions.tobytes() == first.predictions.tobytes()
    probing.fit(again, "softmax", "z_T", again.targets()["z_T"], alphas=(1e-2,), maxiter=30)
    assert len(fits) == 1  # another target: another key
    monkeypatch.delenv(folder)
    probing.fit(runs.build("hmm", 0, scale), "softmax", "b_T", r.targets()["b_T"],
                alphas=(1e-2,), maxiter=30)
    assert len(fits) == 2  # no folder: every process fits its own
