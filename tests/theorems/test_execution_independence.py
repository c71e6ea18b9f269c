"""A trained claim's verdict and values do not depend on the caller's thread count.

The shared runs train and embed on a fixed number of threads (``sim.threads.RUN_THREADS``), so
the same seed gives the same network whether the caller runs on one thread or two (a
serial run, a ``-n`` worker, the API). Checked on claim 13 (Gamma-Exponential) at a tiny
replacement scale, the same code path as the CPU scale at a fraction of its cost; two
scale objects with different names keep the two runs apart in the run cache.
"""

from __future__ import annotations

import dataclasses

import torch
from threadpoolctl import threadpool_limits

from theorems.registry import get_claim
from theorems import runshare
from theorems.zhang2024 import runs

CLAIM = "zhang2024.exchangeable_encoding.gamma_exponential"
# The trained network is bit-identical; what may differ is the float64 probe fit on the
# caller's BLAS threads, whose reductions round differently only in the last digits.
PROBE_ROUNDING = 1e-10

TINY = dataclasses.replace(
    runs.SCALES["cpu"], name="tiny", n_train=640, n_probe=400, n_val=100, n_test=200,
    d_model=16, n_layers=1, n_heads=2, d_ff=32,
    steps=tuple((f, 60) for f in runs.FAMILIES))


def _check_at(threads: int, monkeypatch):
    scale = dataclasses.replace(TINY, name=f"tiny-{threads}-threads")
    monkeypatch.setitem(runs.SCALES, scale.name, scale)
    monkeypatch.setenv(runs.SCALE_ENV, scale.name)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            return get_claim(CLAIM).check()
    finally:
        torch.set_num_threads(before)


def test_a_trained_claim_has_one_verdict_at_one_and_two_threads(monkeypatch):
    one, two = _check_at(1, monkeypatch), _check_at(2, monkeypatch)
    assert len(one.seeds) >= 3 and one.claim.statistic == "median"
    assert one.verdict == two.verdict
    for seed, a, b in zip(one.seeds, one.per_seed, two.per_seed):
        assert a.details["final_train_loss"] == b.details["final_train_loss"], seed
        for stat, v in a.values.items():
            assert abs(v - b.values[stat]) <= PROBE_ROUNDING, (seed, stat, v, b.values[stat])


def test_workers_share_a_trained_network_through_the_run_folder(monkeypatch, tmp_path):
    """Under ``pytest -n`` the second process to need a run loads the first one's weights:
    the same tensors, so the same embeddings, without training again."""
    scale = dataclasses.replace(TINY, name="tiny-shared")
    monkeypatch.setenv(runshare.SHARE_ENV, str(tmp_path))
    trained = runs.build("eg", 0, scale)  # as in the first worker (not memoised)
    stored = sorted(p.name for p in tmp_path.glob("*.bin"))
    assert len(stored) == 1 and stored[0].startswith("zhang2024-eg-0-")
    loaded = runs.build("eg", 0, scale)  # as in the second worker
    assert loaded.final_loss == trained.final_loss
    for (name, a), (_, b) in zip(trained.trained.state_dict().items(),
                                 loaded.trained.state_dict().items()):
        assert torch.equal(a, b), name
    assert (trained.embedding() == loaded.embedding()).all()
    other = runs.build("eg", 1, scale)  # another seed is another network
    assert len(list(tmp_path.glob("*.bin"))) == 2
    assert not torch.equal(other.trained.head.weight, trained.trained.head.weight)
