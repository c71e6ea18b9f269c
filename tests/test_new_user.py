"""A new user's path, end to end and outside this repository: the wheel built from this
tree, installed into a fresh virtual environment, ``python -m theorems init`` in a temporary
folder, that repository installed, and its ``pytest paper_checks/``: the claims table and the
report appear, the example claims pass, and a copy with a deliberately broken threshold fails
with the readable message.

The environment sees the system's site-packages (``--system-site-packages``) so torch and the
other dependencies are not installed again, but ``theorems`` and ``sim`` come from the wheel
(checked), and the plugin from the wheel's entry point: no file of this repository is copied
into the paper repository or put on its path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]
WHEEL_FILES = ("pyproject.toml", "README.md", "theorems", "sim")  # what the wheel is built from
STEP_TIMEOUT_S = 600  # one install or pytest run; each takes seconds on 2 cores
PAPER, PACKAGE = "smith2025", "smith2025_theorems"
CLAIM = f"{PAPER}.all_support_vectors.direction"


def _run(cmd, cwd, env, check=True) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=STEP_TIMEOUT_S)
    if check:
        assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """(python of the fresh environment, its environment variables, the init'd repository)."""
    base = tmp_path_factory.mktemp("new_user")
    src = base / "src"  # a clean copy: a stale build/ folder here could put old files in the wheel
    src.mkdir()
    for name in WHEEL_FILES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                          if (ROOT / name).is_dir() else {}))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PAPER_CHECKS_SEEDS", "REPRESENTATION_THEOREMS_EXTRA")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", base / "dist", src], base, env)
    wheel = next((base / "dist").glob("representation_theorems-*.whl"))
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", base / "venv"],
         base, env)
    python = base / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", "-q", wheel], base, env)
    where = _run([python, "-c", "import theorems, sim; print(theorems.__file__, sim.__file__)"],
                 base, env).stdout.split()
    assert all(Path(p).is_relative_to(base / "venv") for p in where), where
    _run([python, "-m", "theorems", "init", base / "paper", "--paper", PAPER], base, env)
    repo = base / "paper"
    _run([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "-e", repo],
         base, env)
    return python, env, repo


def test_the_claims_table_and_report_appear_and_the_example_claims_pass(user):
    python, env, repo = user
    out = _run([python, "-m", "pytest", "paper_checks/", "-p", "no:cacheprovider"], repo, env,
               check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "representation-theorems" in out.stdout  # the plugin, from the wheel's entry point
    assert "2 passed" in out.stdout.splitlines()[-1], out.stdout
    table = out.stdout.split("= claims =", 1)[1]
    assert f"{PAPER}:1 " in table and "PASS" in table.split(f"{PAPER}:1 ", 1)[1].splitlines()[0]
    assert f"claims report: {repo / 'paper_checks_report'}" in table
    data = json.loads((repo / "paper_checks_report" / "claims.json").read_text())
    assert {c["id"]: c["verdict"] for c in data["claims"]} == {
        CLAIM: "pass", f"{PAPER}.all_support_vectors.needs_every_point_on_the_margin": "pass"}
    assert data["provenance"]["complete"] is True
    tex = (repo / "paper_checks_report" / "claims.tex").read_text()
    cited = {line.split("\\rt", 1)[1].split("$")[0].split("}")[0].split(" ")[0]
             for line in (repo / "paper.tex").read_text().splitlines() if "\\rt" in line}
    defined = {line.split("{\\rt", 1)[1].split("}")[0] for line in tex.splitlines()
               if line.startswith("\\newcommand")}
    assert cited and cited <= defined, (cited, defined)
    assert not (repo / "conftest.py").exists() and not (repo / "paper_checks" / "conftest.py").exists()


def test_a_broken_copy_of_its_threshold_fails_with_the_readable_message(user, tmp_path):
    python, env, repo = user
    broken = tmp_path / "broken"
    shutil.copytree(repo / "paper_checks", broken / "paper_checks")
    module = repo / PACKAGE / PAPER / "all_support_vectors.py"
    text = module.read_text()
    bound = 'DIRECTION = Threshold("one_minus_cos", 1e-6,'
    assert bound in text
    pkg = broken / "brokenpkg" / PAPER
    shutil.copytree(repo / PACKAGE, broken / "brokenpkg", ignore=shutil.ignore_patterns("*.egg-info"))
    (pkg / "all_support_vectors.py").write_text(text.replace(bound, bound.replace("1e-6", "1e-30")))
    env = dict(env, REPRESENTATION_THEOREMS_EXTRA="brokenpkg", PYTHONPATH=str(broken))
    out = _run([python, "-m", "pytest", "paper_checks/", "-p", "no:cacheprovider",
                "-k", "direction"], broken, env, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"claim {CLAIM} [{PAPER}:1] is FAIL" in out.stdout
    assert "FAILS: one_minus_cos = " in out.stdout and "required one_minus_cos <= 1e-30" in out.stdout
    assert f"reproduce: PAPER_CHECKS_SEEDS=0,1,2 pytest 'paper_checks/test_{PAPER}.py::" in out.stdout
    assert "PARTIAL claims report" in out.stdout  # -k selected: the complete report is not replaced
    assert (repo / "paper_checks_report" / "claims.json").exists()
