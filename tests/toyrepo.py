"""The toy paper repository that tests/test_paper_checks_plugin.py and tests/test_claim_cache.py
run pytest on, in a subprocess, as a user would (so no theorem is trained).

The two modules differ in their toy claims and claim tests, not in how a toy claim is made
and put in front of the registry, nor in how the repository is laid out: that is here, once,
so that the plugin and the cache are tested on the same kind of repository.
"""

from __future__ import annotations

from pathlib import Path

_CLAIM = '''
def _claim(cid, spec, measure, **kw):
    return Claim(id=cid, spec=spec, paper="Toy", reference="Thm 1", statement="Toy.",
                 kind="simulation", measure=measure,
                 criteria=(Threshold("err", 1.0, why="toy bound"),), **kw)

REFUTE = dict(expect="fail", expect_reason="the toy bound is known to fail",
              seeds=(0, 1, 2), statistic="median")
TOY = {c.id: c for c in (
'''

_REGISTER = ''')}
_registered = registry.get_claim
registry.get_claim = lambda cid: TOY[cid] if cid in TOY else _registered(cid)
'''


def conftest_text(head: str, claims: str) -> str:
    """The text of a toy ``paper_checks/conftest.py``.

    ``head`` is its imports (``registry``, ``Claim`` and ``Threshold`` among them) and the
    toy measurements; ``claims`` is one ``_claim(id, spec, measure, **kw),`` line per toy
    claim (every one judged by ``err <= 1``; ``**REFUTE`` for a claim expected to fail).
    The toy claims are looked up before the registry's, so the plugin runs them as it runs a
    theorem's, and every other claim id still resolves as before.
    """
    return head + _CLAIM + claims + _REGISTER


def write(root: Path, conftest: str, tests: str,
          package: tuple[str, dict[str, str]] | None = None) -> Path:
    """Write the toy repository in the new folder ``root`` and return ``root``.

    It holds ``paper_checks/conftest.py`` and ``paper_checks/test_toy.py`` (the texts
    given) and a ``pytest.ini`` that declares the ``claim`` and ``slow`` markers and turns
    pytest-benchmark off, as the project's own configuration does (it warns under xdist),
    and the Hypothesis and anyio plugins, which no toy claim uses (importing them is a
    second of every toy run and of each of its xdist workers).
    The plugin is the installed one: nothing of it is copied. ``package``, a name and its
    modules' texts by file name, is a package of the repository's own beside paper_checks/
    for the toy claims to measure with; the ini then puts the repository on the path, so
    that the conftest can import it.
    """
    checks = root / "paper_checks"
    checks.mkdir(parents=True)
    pythonpath = ""
    if package is not None:
        name, modules = package
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("", encoding="utf-8")
        for filename, text in modules.items():
            (root / name / filename).write_text(text, encoding="utf-8")
        pythonpath = "pythonpath = .\n"
    (checks / "conftest.py").write_text(conftest, encoding="utf-8")
    (checks / "test_toy.py").write_text(tests, encoding="utf-8")
    (root / "pytest.ini").write_text(
        "[pytest]\naddopts = -p no:benchmark -p no:hypothesispytest -p no:anyio\n" + pythonpath
        + "markers =\n    claim(id): claim\n    slow: slow\n", encoding="utf-8")
    return root
