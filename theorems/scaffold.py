"""``python -m theorems init DIR`` and ``python -m theorems new PAPER SLUG``.

``init`` writes a paper repository that works at once: a ``pyproject.toml`` that declares
its theorem package to the registry (entry point group ``representation_theorems.theorems``),
that package with one small, real theorem (three witnesses, a negative control, claims that
pass), its ``paper_checks/`` test, a ``paper.tex`` that inputs the report's macros, and a
README of three commands.

``new`` writes a theorem module and its claim test. The generated files run at once and fail
until they are filled in: the statement is undecided, the claim's measurement raises, and
there is no negative control yet, so the contract test and the claim test both say what is
missing. Inside a repository written by ``init`` it writes into that repository's package.
"""

from __future__ import annotations

import keyword
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path

from sim.errors import InputError
from theorems.registry import ENTRY_POINT_GROUP
EXAMPLE_SLUG = "all_support_vectors"  # the theorem ``init`` writes

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

from theorems import Claim, Decision, Measurement, Theorem, Threshold

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


def _used_specs() -> dict[str, str] | None:
    """Spec key -> claim id of every registered claim; None when the registry is unreadable
    (not the scaffold's concern)."""
    from theorems import registry
    try:
        return {c.spec: c.id for c in registry.all_claims()}
    except InputError:
        return None


def check_spec_is_new(spec: str | None, paper: str) -> None:
    """Raise InputError if a registered claim already uses the spec key (``PAPER:1`` when
    ``spec`` is None). It imports every registered theorem module, so ``python -m theorems
    new`` runs it before :func:`new_theorem`, which does not; an unreadable registry is
    not the scaffold's concern and is skipped."""
    spec = _spec(spec, _identifier("paper", paper))
    used = (_used_specs() or {}).get(spec)
    if used is not None:
        raise InputError(f"--spec {spec!r} is already the spec key of claim {used!r}; give a new "
                         "one with --spec")


def next_free_spec(paper: str) -> str:
    """The first spec key ``PAPER:1``, ``PAPER:2``, ... that no registered claim uses."""
    paper = _identifier("paper", paper)
    used = _used_specs() or {}
    k = 1
    while f"{paper}:{k}" in used or f"{paper}:{k}b" in used:
        k += 1
    return f"{paper}:{k}"


def declared_package(root) -> str | None:
    """The theorem package that ``root/pyproject.toml`` declares to the registry (the
    repository ``init`` wrote), or None when it declares none. Several are an error: give
    ``--package``."""
    path = Path(root) / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML ({exc}); fix it or give --package") from None
    declared = sorted(set(data.get("project", {}).get("entry-points", {})
                          .get(ENTRY_POINT_GROUP, {}).values()))
    if len(declared) > 1:
        raise InputError(f"{path} declares {len(declared)} theorem packages ({declared}); "
                         "choose one with --package")
    return declared[0] if declared else None


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
    if checks.exists() and not checks.is_file():
        raise InputError(f"{checks} is not a file; the claim test goes there")
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


# --- init ----------------------------------------------------------------------------------

TEMPLATES = "_templates/paper"  # inside this package
# template file -> where it goes ({package}, {paper}: the names chosen)
LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "paper.tex.tmpl": "paper.tex",
    "package_init.py.tmpl": "{package}/__init__.py",
    "paper_init.py.tmpl": "{package}/{paper}/__init__.py",
    "theorem.py.tmpl": "{package}/{paper}/" + EXAMPLE_SLUG + ".py",
    "test_paper.py.tmpl": "paper_checks/test_{paper}.py",
}


def default_names(folder, paper: str | None = None, package: str | None = None) -> tuple[str, str]:
    """``(paper, package)`` for :func:`init_paper`, each checked: ``paper`` defaults to the
    folder's name with ``-``, ``.`` and spaces turned into ``_``; ``package`` to
    ``<paper>_theorems``, a top-level package name."""
    if paper is None:
        name = Path(folder).absolute().name
        paper = re.sub(r"[-. ]+", "_", name.lower())
        if not re.fullmatch(r"[a-z][a-z0-9_]*", paper) or keyword.iskeyword(paper):
            raise InputError(f"cannot make a paper key of the folder name {name!r}; give "
                             "--paper, e.g. --paper smith2025")
    paper = _identifier("paper", paper)
    package = f"{paper}_theorems" if package is None else _package(package)
    if "." in package:
        raise InputError(f"--package {package!r} must be a top-level package name (no dots), "
                         f"e.g. {paper}_theorems")
    return paper, package


def _empty_folder(folder) -> Path:
    folder = Path(folder)
    if folder.is_symlink():
        raise InputError(f"{folder} is a symbolic link; give a new or empty folder")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; give a new or empty folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise InputError(f"{folder} is not empty: refusing to write a paper repository into it; "
                         "give a new or empty folder")
    return folder


def check_names_are_free(paper: str, package: str) -> None:
    """Raise InputError if a registered package already holds the paper key (claim ids are
    namespaced by paper) or if ``package`` is importable already (it would shadow or be
    shadowed). Reads the registry, so ``python -m theorems init`` runs it before
    :func:`init_paper`, which does not; an unreadable registry is skipped."""
    import importlib.util

    from theorems import registry
    try:
        owner = next((registry.source_of(t.id) for t in registry.all_theorems()
                      if t.paper == paper), None)
    except InputError:
        owner = None
    if owner is not None:
        raise InputError(f"paper {paper!r} is already held by the package {owner}; claim ids "
                         "are namespaced by paper: give another --paper")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        where = spec.origin or ", ".join(spec.submodule_search_locations or [])
        raise InputError(f"--package {package!r} is importable already (from {where}); choose "
                         "another package name")


def _own_version() -> str:
    try:
        return version("representation-theorems")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "0.1.0"


def init_paper(folder, *, paper: str | None = None, package: str | None = None) -> list[Path]:
    """Write a paper repository into ``folder`` (new or empty); return the paths written.

    Parameters
    ----------
    folder : path
        The repository to create; refused when it is a file, a link or a non-empty folder.
    paper : str, optional
        The paper key (the claim ids' namespace), a lower-case identifier; default: the
        folder's name with ``-``, ``.`` and spaces turned into ``_``.
    package : str, optional
        The theorem package; default ``<paper>_theorems``.

    Returns
    -------
    list of Path
        Every file written. ``pip install -e <folder>`` then registers the package, and
        ``pytest paper_checks/`` in the folder checks its claims and writes the report.
    """
    from theorems.report import macro_name
    folder = _empty_folder(folder)
    paper, package = default_names(folder, paper, package)
    claim = f"{paper}.{EXAMPLE_SLUG}.direction"
    tokens = {
        "__PAPER__": paper, "__PACKAGE__": package, "__DIST__": package.replace("_", "-"),
        "__VERSION__": _own_version(),
        "__MACRO_COS__": macro_name(claim, "one_minus_cos"),
        "__MACRO_GAP__": macro_name(claim, "reference_gap"),
        "__MACRO_VERDICT__": macro_name(claim, "verdict"),
    }
    templates = files("theorems").joinpath(TEMPLATES)
    written = []
    for name, dest in LAYOUT.items():
        text = templates.joinpath(name).read_text(encoding="utf-8")
        for token, value in tokens.items():
            text = text.replace(token, value)
        path = folder / dest.format(package=package, paper=paper)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
