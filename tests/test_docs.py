"""The API reference builds from the docstrings without a warning, and documents every name
of ``theorems.__all__`` and ``sim.__all__``; those names are importable, and a theorem needs
no private one (the template ``init`` writes imports none)."""

import subprocess
import sys
from pathlib import Path

import pytest

import sim
import theorems

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 300  # the build takes ~10 s on 2 cores


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("docs")
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-d", str(out / "doctrees"), str(ROOT / "docs"), str(out / "html")],
                         capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert res.returncode == 0, f"sphinx -W failed:\n{res.stderr}{res.stdout}"
    return "".join(p.read_text(encoding="utf-8") for p in (out / "html").glob("*.html"))


def test_the_reference_builds_without_warnings_and_documents_the_public_api(html):
    public = [f"theorems.{n}" for n in theorems.__all__] + [
        f"sim.{n}" for n in sim.__all__ if not hasattr(getattr(sim, n), "__path__")
        and type(getattr(sim, n)).__name__ != "module"]
    missing = [name for name in public if f'id="{name}"' not in html]
    assert not missing, f"not in the API reference: {missing}"
    for module in ("sim.gd.run", "sim.train.train", "theorems.scaffold.init_paper"):
        assert f'id="{module}"' in html


def test_every_public_name_resolves():
    for package in (theorems, sim):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
    with pytest.raises(AttributeError, match="no attribute 'nuclear_max_margn'"):
        theorems.nuclear_max_margn  # noqa: B018


def test_the_four_max_margin_programs_and_the_jiang_closed_forms_are_public():
    from theorems import convex
    from theorems.jiang2024 import _common, closed_forms
    for name in ("max_margin", "separability", "multiclass_max_margin", "nuclear_max_margin"):
        assert name in convex.__all__ and name in theorems.__all__
    assert _common.closed_form_G is closed_forms.closed_form_G is theorems.closed_form_G
    assert _common.canonical_Z is closed_forms.canonical_Z is theorems.canonical_Z
