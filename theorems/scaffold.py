"""``python -m theorems new PAPER SLUG``: write a theorem module and its checks.

The generated files run at once and fail until they are filled in: the statement is
undecided, the claim's measurement raises, and there is no negative control yet, so the
contract test and the claim test both say what is missing.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from sim.errors import InputError

MODULE = '''"""{title}

One line saying what the theorem states.

References
----------
{paper}: authors, title, venue, arXiv id and version; theorem and equation numbers.

Notes
-----
Assumptions; the symbol map; which witnesses check what; what is not checked.
"""

from __future__ import annotations

from theorems._symbolic import Decision
from theorems.base import Claim, Measurement, Theorem
from theorems.tolerances import Threshold

PAPER = "{paper}"


def measure_{slug}(seed: int) -> Measurement:
    """Measure the claim on the instance drawn from ``seed`` (use sim.streams(seed))."""
    raise NotImplementedError("{pkg}.{paper}.{slug}: measure_{slug} is not written yet")


class {cls}(Theorem):
    """{title}"""

    paper = "{paper}"
    slug = "{slug}"
    title = "{title}"
    citation = "{paper}: fill in the paper, version and theorem number"

    def statement(self) -> Decision:
        return Decision("undecided", "statement() is not written yet")

    def example(self, seed: int = 0):
        raise NotImplementedError("example() is not written yet")

    def reference(self, instance):
        raise NotImplementedError("reference() is not written yet")

    def simulate(self, instance, seed: int = 0) -> dict:
        raise NotImplementedError("simulate() is not written yet")

    def compare(self, instance, seed: int = 0) -> dict:
        raise NotImplementedError("compare() is not written yet")

    def claims(self) -> tuple[Claim, ...]:
        return (
            Claim(id=f"{{self.id}}.main", spec="{spec}", paper=PAPER,
                  reference="Theorem N", kind="simulation", seeds=(0, 1, 2), budget_s=1.0,
                  statement="One sentence: what is claimed, and whether it is the paper's "
                  "statement or a formalisation of it.",
                  measure=measure_{slug},
                  criteria=(Threshold("error", 0.0, why="fill in the bound and its reason"),)),
        )

    def negative_controls(self) -> dict:
        return {{}}  # name -> callable returning True when the check fails on broken input
'''

TEST = '''

@pytest.mark.claim("{paper}.{slug}.main")
def test_{slug}_main(evidence):
    evidence.assert_ok()
'''


def _identifier(kind: str, name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise InputError(f"{kind} {name!r} must be a lower-case Python identifier, e.g. smith2025")
    return name


def new_theorem(paper: str, slug: str, *, root: Path = Path("."), package: str = "theorems",
                spec: str | None = None) -> list[Path]:
    """Write ``<root>/<package>/<paper>/<slug>.py`` and the paper-checks test; return paths.

    Refuses to overwrite an existing theorem module.
    """
    paper, slug = _identifier("paper", paper), _identifier("slug", slug)
    pkg_dir = Path(root) / package.replace(".", "/")
    module = pkg_dir / paper / f"{slug}.py"
    if module.exists():
        raise InputError(f"{module} exists already; choose another slug")
    written = []
    for init in (pkg_dir / "__init__.py", pkg_dir / paper / "__init__.py"):
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""Theorems of {init.parent.name}."""\n', encoding="utf-8")
            written.append(init)
    cls = "".join(w.capitalize() for w in slug.split("_"))
    module.write_text(MODULE.format(paper=paper, slug=slug, cls=cls, pkg=package,
                                    spec=spec or f"{paper}:1",
                                    title=slug.replace("_", " ").capitalize()), encoding="utf-8")
    written.append(module)
    checks = Path(root) / "paper_checks" / f"test_{paper}.py"
    checks.parent.mkdir(parents=True, exist_ok=True)
    if not checks.exists():
        checks.write_text(f'"""Claims of {paper}, one test per claim."""\n\nimport pytest\n',
                          encoding="utf-8")
    with checks.open("a", encoding="utf-8") as fh:
        fh.write(TEST.format(paper=paper, slug=slug))
    written.append(checks)
    return written
