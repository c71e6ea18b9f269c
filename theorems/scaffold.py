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

    def corrupt(self, instance):
        """A wrong input reference() must reject: self.Corrupted(instance, wrong_answer,
        planted="what is wrong with it"), or data that break its check (Theorem.corrupt)."""
        raise NotImplementedError("corrupt() is not written yet")

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


EXAMPLES = {"paper": "smith2025", "slug": "probe_recovers_posterior"}
SPEC = re.compile(r"[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+")  # e.g. smith2025:1, embeddings_embed:23b


def _identifier(kind: str, name) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name) \
            or keyword.iskeyword(name):
        raise InputError(f"{kind} {name!r} must be a lower-case Python identifier (letters, "
                         f"digits, underscores, starting with a letter), e.g. "
                         f"{EXAMPLES.get(kind, 'smith2025')}")
    return name


def _package(package) -> str:
    parts = package.split(".") if isinstance(package, str) else [None]
    if not all(isinstance(p, str) and p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise InputError(f"--package {package!r} must be an importable package name (dotted "
                         "Python identifiers), e.g. mytheorems")
    return package


def _root(root) -> Path:
    root = Path(root)
    if not root.exists():
        raise InputError(f"--root {str(root)!r} does not exist; give the repository root")
    if not root.is_dir():
        raise InputError(f"--root {str(root)!r} is a file, not a folder; give the repository root")
    return root


def _spec(spec, paper: str) -> str:
    spec = f"{paper}:1" if spec is None else spec
    if not isinstance(spec, str) or not SPEC.fullmatch(spec):
        raise InputError(f"--spec {spec!r} must look like KEY:NUMBER (letters, digits, '_', '.', "
                         f"'-'), e.g. {paper}:1")
    return spec


def check_spec_is_new(spec: str | None, paper: str) -> None:
    """Raise InputError if a registered claim already uses the spec key (``PAPER:1`` when
    ``spec`` is None). It imports every registered theorem module, so ``python -m theorems
    new`` runs it before :func:`new_theorem`, which does not; an unreadable registry is
    not the scaffold's concern and is skipped."""
    from theorems import registry
    spec = _spec(spec, _identifier("paper", paper))
    try:
        used = next((c.id for c in registry.all_claims() if c.spec == spec), None)
    except InputError:
        return
    if used is not None:
        raise InputError(f"--spec {spec!r} is already the spec key of claim {used!r}; give a new "
                         "one with --spec")


def new_theorem(paper: str, slug: str, *, root: Path = Path("."), package: str = "theorems",
                spec: str | None = None) -> list[Path]:
    """Write ``<root>/<package>/<paper>/<slug>.py`` and the paper-checks test; return paths.

    Every argument is checked before anything is written: names must be lower-case Python
    identifiers, ``root`` an existing folder, ``package`` a dotted package name and ``spec``
    a KEY:NUMBER key (:func:`check_spec_is_new` checks that no registered claim uses it).
    Refuses to overwrite an existing theorem module or test, and a paper name that would
    shadow a module of the package.
    """
    paper, slug = _identifier("paper", paper), _identifier("slug", slug)
    root, package, spec = _root(root), _package(package), _spec(spec, paper)
    pkg_dir = root / package.replace(".", "/")
    module = pkg_dir / paper / f"{slug}.py"
    if module.exists():
        raise InputError(f"{module} exists already; choose another slug")
    if (pkg_dir / f"{paper}.py").exists():
        raise InputError(f"paper {paper!r} would shadow the module {pkg_dir / f'{paper}.py'}; "
                         "choose another paper name")
    for path in (pkg_dir, pkg_dir / paper):
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} is a file; the theorem module needs a package folder there")
    checks = root / "paper_checks" / f"test_{paper}.py"
    if checks.exists() and f"def test_{slug}_main(" in checks.read_text(encoding="utf-8"):
        raise InputError(f"{checks} already has test_{slug}_main; choose another slug")
    written = []
    for init in (pkg_dir / "__init__.py", pkg_dir / paper / "__init__.py"):
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""Theorems of {init.parent.name}."""\n', encoding="utf-8")
            written.append(init)
    cls = "".join(w.capitalize() for w in slug.split("_"))
    module.write_text(MODULE.format(paper=paper, slug=slug, cls=cls, pkg=package, spec=spec,
                                    title=slug.replace("_", " ").capitalize()), encoding="utf-8")
    written.append(module)
    checks.parent.mkdir(parents=True, exist_ok=True)
    if not checks.exists():
        checks.write_text(f'"""Claims of {paper}, one test per claim."""\n\nimport pytest\n',
                          encoding="utf-8")
    with checks.open("a", encoding="utf-8") as fh:
        fh.write(TEST.format(paper=paper, slug=slug))
    written.append(checks)
    return written
