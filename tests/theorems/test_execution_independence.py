"""A trained claim's verdict and values do not depend on the caller's thread count, nor a
trained run on the host's instruction set.

The shared runs train and embed on a fixed number of threads (``sim.threads.RUN_THREADS``), so
the same seed gives the same network whether the caller runs on one thread or two (a
serial run, a ``-n`` worker, the API). Checked on claim 13 (Gamma-Exponential) at a tiny
replacement scale, the same code path as the CPU scale at a fraction of its cost; two
scale objects with different names keep the two runs apart in the run cache.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits

from theorems.registry import get_claim
from theorems import runshare
from theorems.zhang2024 import runs

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

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


# --- the machine: pinned kernels -------------------------------------------------------------

FIT = '''
import dataclasses, hashlib, sys
from theorems.zhang2024 import runs
scale = dataclasses.replace(runs.SCALES["cpu"], name="tiny-kernels", n_train=320, n_probe=60,
                            n_val=10, n_test=20, length=12, rect_length=4, d_model=16,
                            n_layers=1, n_heads=2, d_ff=32,
                            steps=tuple((f, 30) for f in runs.FAMILIES))
out = runs._fit("eg", 0, scale)
digest = hashlib.sha256()
for key in sorted(k for k in out if k not in ("seconds", "kernels")):
    value = out[key]
    for name in sorted(value) if isinstance(value, dict) else [None]:
        t = value[name] if name is not None else value
        digest.update(repr(t).encode() if not hasattr(t, "numpy") else t.numpy().tobytes())
print(digest.hexdigest(), out.get("kernels"))
'''


def _fit_in_process_with(env: dict) -> str:
    """The digest of one tiny training (weights, loss, embeddings) in a fresh interpreter
    whose environment adds ``env``."""
    full = {k: v for k, v in os.environ.items()
            if k not in runs.TRAINING_KERNELS and k not in HOST_CAPS}
    full.update(env, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", FIT], env=full, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


ROOT = Path(__file__).resolve().parents[2]
# A host with a narrower instruction set, emulated on this one: MKL and oneDNN told to use
# at most AVX2 (torch's own kernels are pinned to AVX2 already).
HOST_CAPS = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def test_a_run_on_the_pinned_kernels_does_not_depend_on_the_hosts_instruction_set():
    """Trained on TRAINING_KERNELS, a run is the same bits on this CPU and on a narrower
    one; the control: torch's kernels left to the host's widest instruction set (AVX-512
    here, where it exists) train another network from the same seed."""
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        pytest.skip("the control needs a CPU whose widest kernels are not AVX2 (AVX-512)")
    pinned = _fit_in_process_with(dict(runs.TRAINING_KERNELS))
    narrower = _fit_in_process_with({**runs.TRAINING_KERNELS, **HOST_CAPS})
    assert pinned.endswith("{'torch': 'AVX2', 'mkl_cbwr': 'AVX2'}"), pinned
    assert pinned == narrower
    widest = _fit_in_process_with({})  # the host's own kernels (not a worker: no embeddings)
    capped = _fit_in_process_with({"ATEN_CPU_CAPABILITY": "avx2"})
    assert widest.split()[0] != capped.split()[0], "the control cannot tell kernels apart"
