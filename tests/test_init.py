"""``python -m theorems init``: the paper repository it writes, the example theorem's
witnesses and control, ``new`` inside it, and the bad input it refuses (the repository
installed from the built wheel and run: tests/test_new_user.py)."""

import importlib
import tomllib

import numpy as np
import pytest

from sim.errors import InputError
from tests.test_cli import refused
from tests.test_contract import assert_reference_rejects_a_corrupted_input
from theorems import registry
from theorems.__main__ import main
from theorems.scaffold import ENTRY_POINT_GROUP, init_paper

PAPER, PACKAGE = "smith2025", "smith2025_theorems"
EXAMPLE = f"{PAPER}.all_support_vectors"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository written by init, importable and registered (as ``pip install -e`` would
    make it, through the override instead of the entry point)."""
    root = tmp_path / "paper"
    init_paper(root, paper=PAPER)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv(registry.EXTRA_ENV, PACKAGE)
    registry.refresh()
    yield root
    registry.refresh()
    for name in [m for m in list(importlib.sys.modules) if m.startswith(PACKAGE)]:
        del importlib.sys.modules[name]


def test_init_writes_a_repository_that_declares_its_theorem_package(tmp_path):
    written = init_paper(tmp_path / "smith-2025", paper=None)
    root = tmp_path / "smith-2025"
    assert sorted(p.relative_to(root).as_posix() for p in written) == sorted([
        "pyproject.toml", "README.md", ".gitignore", "paper.tex",
        "smith_2025_theorems/__init__.py", "smith_2025_theorems/smith_2025/__init__.py",
        "smith_2025_theorems/smith_2025/all_support_vectors.py",
        "paper_checks/test_smith_2025.py"])
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"][ENTRY_POINT_GROUP] == {
        "smith_2025_theorems": "smith_2025_theorems"}
    assert meta["project"]["dependencies"][0].startswith("representation-theorems>=")
    assert "\\input{paper_checks_report/claims.tex}" in (root / "paper.tex").read_text()
    readme = (root / "README.md").read_text()
    assert readme.count("python3 -m ") == 3, readme
    theorem = (root / "smith_2025_theorems/smith_2025/all_support_vectors.py").read_text()
    assert "__PAPER__" not in theorem and 'PAPER = "smith_2025"' in theorem
    assert "._" not in "".join(ln for ln in theorem.splitlines() if ln.startswith(("from", "import"))), \
        "the example theorem imports a private name"


def test_the_example_theorem_meets_the_contract_and_its_claims_pass(repo):
    thm = registry.get_theorem(EXAMPLE)
    assert registry.source_of(EXAMPLE).package == PACKAGE
    assert thm.statement().proved
    ref = thm.reference(thm.example(0))
    assert ref.residual <= ref.tol
    assert "off-diagonal" in assert_reference_rejects_a_corrupted_input(thm)
    controls = thm.negative_controls()
    assert controls and all(broken_fails() for broken_fails in controls.values())
    for claim in thm.claims():
        ev = claim.check()
        assert ev.verdict == "pass", ev.summary()
    gaps = thm.compare(thm.example(1))
    assert set(gaps) == {"reference_gap", "one_minus_cos"} and all(np.isfinite(list(gaps.values())))


def test_its_threshold_can_fail(repo):
    """The claim is not vacuous: the same measurement against a bound it cannot meet fails."""
    import dataclasses

    from theorems import ClaimFailed, Threshold
    claim = registry.get_claim(f"{EXAMPLE}.direction")
    strict = dataclasses.replace(claim, criteria=(Threshold("one_minus_cos", 1e-30, why="broken"),))
    with pytest.raises(ClaimFailed, match=r"FAILS: one_minus_cos = .*required one_minus_cos <= 1e-30"):
        strict.check((0,)).assert_ok()


def test_new_inside_it_writes_into_its_package_with_the_next_spec_key(repo, capsys):
    assert main(["new", PAPER, "next_result", "--root", str(repo)]) == 0
    module = repo / PACKAGE / PAPER / "next_result.py"
    assert module.is_file() and f'spec="{PAPER}:2"' in module.read_text()
    assert "def test_next_result_main(" in (repo / "paper_checks" / f"test_{PAPER}.py").read_text()
    assert "wrote" in capsys.readouterr().out


def test_init_refuses_a_folder_that_is_not_empty_naming_it(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    refused(capsys, "init", tmp_path, "--paper", PAPER,
            says=(str(tmp_path), "is not empty: refusing to write a paper repository"))
    refused(capsys, "init", tmp_path / "notes.txt", says=("notes.txt", "is a file"))
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(("args", "says"), [
    (["--paper", "jiang2024"], "paper 'jiang2024' is already held by the package 'theorems'"),
    (["--paper", "Smith-2025"], "paper 'Smith-2025' must be a lower-case Python identifier"),
    (["--paper", PAPER, "--package", "numpy"], "--package 'numpy' is importable already"),
    (["--paper", PAPER, "--package", "a.b"], "--package 'a.b' must be a top-level package"),
], ids=["paper_taken", "paper_not_identifier", "package_importable", "package_dotted"])
def test_init_refuses_names_that_clash_or_are_malformed(capsys, tmp_path, args, says):
    refused(capsys, "init", tmp_path / "new", *args, says=says)
    assert not (tmp_path / "new").exists()


def test_init_refuses_a_folder_name_that_is_no_paper_key(tmp_path):
    with pytest.raises(InputError, match="cannot make a paper key of the folder name '2025'; give --paper"):
        init_paper(tmp_path / "2025")
