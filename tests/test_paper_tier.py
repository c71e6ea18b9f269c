"""The paper tier cannot rot while no GPU is at hand: ``pytest paper_checks/ --paper-scale``
runs end to end on a CPU, through the plugin, with the paper scale replaced by a tiny one.

The replacement is a pytest plugin given with ``-p`` (written below into a temporary folder):
it swaps ``runs.SCALES["paper"]`` for a scale of the same name and the paper's code path
(its expectations, its statements, its probes) at the sizes of a unit test. Everything else
is the run a user with a GPU starts: the option, the scale setting it implies, the prepared
trainings, the claims, the report (for seed 0 only: every seed takes the same path). The verdicts of a tiny model mean nothing, so the test
checks what must hold at any size: every Zhang encoding claim produced evidence (no ERROR
row), its statement and details name the paper tier's sizes, and its expectation is the
paper tier's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from theorems.registry import get_claim
from theorems.zhang2024 import runs

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]
ENCODING_CHECKS = sorted(str(p.relative_to(ROOT))
                         for p in (ROOT / "paper_checks").glob("test_zhang2024_encoding_*.py"))
# The claims the paper tier expects to hold although the CPU scale refutes them (the
# encoding modules key their expectations by scale; spec embeddings_embed 6.1).
PAPER_EXPECTS_PASS = {"embeddings_embed:20", "embeddings_embed:21", "embeddings_embed:24b",
                      "embeddings_embed:24c", "embeddings_embed:24r"}

TINY_PAPER = '''
import dataclasses

from theorems.zhang2024 import runs


def pytest_configure(config):
    # The paper tier's code path at a unit test's sizes: same name, so everything keyed by
    # scale takes the paper branch.
    runs.SCALES["paper"] = dataclasses.replace(
        runs.SCALES["paper"], n_train=192, n_probe=160, n_val=40, n_test=80, length=16,
        rect_length=6, lda_length=16, d_model=16, n_layers=1, n_heads=2, d_ff=32,
        steps=tuple((f, 8) for f in runs.FAMILIES))
'''


@pytest.fixture(scope="module")
def paper_tier(tmp_path_factory):
    """claims.json of ``pytest <the encoding checks> --paper-scale`` with the tiny paper
    scale, and the run's output."""
    tmp = tmp_path_factory.mktemp("paper-tier")
    (tmp / "tiny_paper_scale.py").write_text(TINY_PAPER, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop(runs.SCALE_ENV, None)
    env["PAPER_CHECKS_SEEDS"] = "0"  # the code path is the same for every seed
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *ENCODING_CHECKS, "--paper-scale", "-p",
         "tiny_paper_scale", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",  # unused here
         "--report-dir", str(tmp / "rep"), "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    report = tmp / "rep.partial" / "claims.json"  # a selection of files: a partial report
    assert report.is_file(), out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(report.read_text()), out


def test_the_paper_tier_runs_every_encoding_claim_end_to_end(paper_tier):
    data, out = paper_tier
    assert out.returncode in (0, 1), out.stdout[-3000:] + out.stderr[-3000:]  # 1: tiny fails
    claims = data["claims"]
    specs = {c["spec"] for c in claims}
    assert PAPER_EXPECTS_PASS <= specs and len(claims) >= 19, sorted(specs)
    errors = {c["id"]: c.get("error") for c in claims if c.get("outcome") == "error"
              or c.get("verdict") == "error"}
    assert not errors, errors
    for c in claims:
        assert c["verdict"] in ("pass", "fail"), (c["id"], c["verdict"])
        assert c["seeds"] == [0] and c["statistic"] == get_claim(c["id"]).statistic, c["id"]


def test_the_paper_tier_states_what_it_ran_and_expects_the_paper_tiers_verdicts(paper_tier):
    data, _ = paper_tier
    for c in data["claims"]:
        assert "paper scale: d_model 16, 1 layers" in c["statement"], (c["id"], c["statement"])
        details = json.dumps([s["details"] for s in c["per_seed"]])
        assert '"scale": "paper"' in details and '"scale": "cpu"' not in details, c["id"]
        if c["spec"] in PAPER_EXPECTS_PASS:
            assert c["expect"] == "pass", (c["id"], c["expect"])
