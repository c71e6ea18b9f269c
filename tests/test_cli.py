"""Bad input to the command line and the registry: every verb and option of
``python -m theorems`` refuses it with ONE line on stderr (``python -m theorems: error: ...``),
naming the argument and the problem, exit status 2 and no traceback; the registry raises
typed errors with the closest registered ids."""

import json
import subprocess
import sys
import textwrap

import pytest

from sim.errors import InputError
from theorems import registry
from theorems.__main__ import USAGE_ERROR, main
from theorems.registry import (
    ExtraPackageError,
    RegistryError,
    UnknownClaimError,
    UnknownTheoremError,
    get_claim,
    get_theorem,
)
from theorems.search import ReplayError, replay
from theorems.search import search as run_search

pytestmark = pytest.mark.heavy  # long tests: tests/conftest.py runs them first

PREFIX = "python -m theorems: error: "
A_THEOREM = "jiang2024.canonical_solution"  # cheap: its search space is m in 1..4


def cli(capsys, *argv):
    """Run ``main(argv)`` in this process; return (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv, says=()) -> str:
    """Run the command and check it is refused with one line naming ``says``; return it."""
    code, out, err = cli(capsys, *argv)
    lines = err.splitlines()
    assert code == USAGE_ERROR, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    assert "Traceback" not in err
    for fragment in ([says] if isinstance(says, str) else says):
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def extra(monkeypatch, tmp_path):
    """Set REPRESENTATION_THEOREMS_EXTRA (and put ``tmp_path`` on sys.path) for one test;
    the registry is rebuilt before and after."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def set_extra(value: str):
        monkeypatch.setenv(registry.EXTRA_ENV, value)
        registry.refresh()
    yield set_extra
    monkeypatch.delenv(registry.EXTRA_ENV, raising=False)
    registry.refresh()


def _package(root, name: str, files: dict) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(textwrap.dedent(text))


# --- the parser itself --------------------------------------------------------------------------

def test_no_command_is_one_line(capsys):
    refused(capsys, says="required: command")


def test_a_mistyped_verb_gets_the_closest_one(capsys):
    refused(capsys, "lst", says=("invalid choice: 'lst'", "did you mean 'list'?"))


def test_an_unknown_option_is_one_line(capsys):
    refused(capsys, "list", "--verbose", says="unrecognized arguments: --verbose")


def test_a_process_run_prints_one_line_and_no_traceback():
    """The same through the interpreter: the exit status and stderr of the real process."""
    res = subprocess.run([sys.executable, "-m", "theorems", "search", "jiang2024.canonical_soluton"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == USAGE_ERROR
    assert res.stderr.splitlines() == [
        f"{PREFIX}no theorem 'jiang2024.canonical_soluton'; did you mean '{A_THEOREM}'?"]


def test_an_unexpected_error_is_one_line_unless_traceback_is_asked_for(capsys, monkeypatch):
    import theorems.registry

    def broken():
        raise RuntimeError("a bug")
    monkeypatch.setattr(theorems.registry, "all_theorems", broken)
    code, _, err = cli(capsys, "list")
    assert code not in (0, USAGE_ERROR)
    assert err.splitlines() == [f"{PREFIX}unexpected RuntimeError: a bug (rerun with --traceback "
                                "for details)"]
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--traceback", "list"])


# --- search ---------------------------------------------------------------------------------------

def test_search_names_an_unknown_theorem_with_close_matches(capsys):
    line = refused(capsys, "search", "jiang2024.canonical_soluton", says="no theorem")
    assert line == f"{PREFIX}no theorem 'jiang2024.canonical_soluton'; did you mean '{A_THEOREM}'?"


def test_search_checks_every_id_before_searching(capsys, tmp_path):
    refused(capsys, "search", A_THEOREM, "foo.bar", "--out", tmp_path, says="no theorem 'foo.bar'")
    assert not list(tmp_path.iterdir())  # nothing ran, nothing was saved


def test_search_says_when_a_claim_id_is_given(capsys):
    refused(capsys, "search", f"{A_THEOREM}.margin",
            says=("that is a claim id", f"its theorem is '{A_THEOREM}'"))


@pytest.mark.parametrize("value", ["0", "-3", "x", "1.5"])
def test_search_refuses_examples_that_are_not_positive_integers(capsys, value):
    refused(capsys, "search", A_THEOREM, "--examples", value,
            says=("argument --examples", "must be a positive integer"))


def test_search_refuses_an_output_folder_that_is_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    refused(capsys, "search", A_THEOREM, "--examples", 1, "--out", tmp_path / "file",
            says=("--out", "is a file, not a folder"))


def test_search_runs_and_saves_on_good_input(capsys, tmp_path):
    code, out, err = cli(capsys, "search", A_THEOREM, "--examples", 2, "--out", tmp_path)
    assert code == 0 and not err
    assert (tmp_path / f"search-{A_THEOREM}.json").exists() and A_THEOREM in out
    code, out, err = cli(capsys, "search", "--replay", tmp_path / f"search-{A_THEOREM}.json")
    assert code == 0 and not err and "replayed" in out


@pytest.mark.parametrize(("content", "says"), [
    (None, "no such file"),
    ('{"theorem": "jiang2024.canonical_solution", "par', "is not JSON"),
    ("[1, 2]", "is not a saved search: it lacks 'theorem', 'params', 'worst_gap'"),
    ('{"theorem": "jiang2024.canonical_solution", "worst_gap": 0}', "it lacks 'params'"),
    ('{"theorem": 7, "params": {}, "worst_gap": 0}', "'theorem' must be a theorem id"),
    ('{"theorem": "jiang2024.canonical_solution", "params": null, "worst_gap": null}',
     "'params' must be an object"),
    ('{"theorem": "jiang2024.canonical_solutio", "params": {"m": 2}, "worst_gap": 0}',
     f"no theorem 'jiang2024.canonical_solutio'; did you mean '{A_THEOREM}'?"),
    ('{"theorem": "jiang2024.canonical_solution", "params": {"q": 2}, "worst_gap": 0}',
     "do not build an instance of jiang2024.canonical_solution: KeyError"),
], ids=["missing", "garbled", "not_an_object", "no_params", "theorem_not_a_string",
        "params_null", "unknown_theorem", "params_do_not_fit"])
def test_replay_refuses_a_bad_file(capsys, tmp_path, content, says):
    path = tmp_path / "search.json"
    if content is not None:
        path.write_text(content)
    refused(capsys, "search", "--replay", path, says=(f"--replay '{path}'", says))


def test_replay_refuses_a_folder_and_ids_together_with_a_file(capsys, tmp_path):
    refused(capsys, "search", "--replay", tmp_path, says="is a folder")
    refused(capsys, "search", A_THEOREM, "--replay", tmp_path / "x.json",
            says="either theorem ids or --replay")


def test_the_search_functions_raise_typed_errors(tmp_path):
    with pytest.raises(UnknownTheoremError, match="did you mean"):
        run_search("jiang2024.canonical_soluton", examples=1)
    with pytest.raises(InputError, match="examples must be a positive integer"):
        run_search(A_THEOREM, examples=0)
    with pytest.raises(ReplayError, match="no such file"):
        replay(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text(json.dumps({"theorem": A_THEOREM}))
    with pytest.raises(ReplayError, match="lacks 'params', 'worst_gap'"):
        replay(tmp_path / "bad.json")


# --- new --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "says"), [
    (["Smith-2025", "probe"], "paper 'Smith-2025' must be a lower-case Python identifier"),
    (["2025smith", "probe"], "paper '2025smith' must be"),
    (["smith2025", "Probe"], "slug 'Probe' must be a lower-case Python identifier"),
    (["smith2025", "class"], "slug 'class' must be"),
    (["smith2025", "_private"], "slug '_private' must be"),
    (["smith2025", "probe", "--package", "my-pkg"], "--package 'my-pkg' must be an importable"),
    (["smith2025", "probe", "--package", "a..b"], "--package 'a..b' must be"),
    (["smith2025", "probe", "--spec", "no colon"], "--spec 'no colon' must look like KEY:NUMBER"),
    (["smith2025", "probe", "--spec", 'x:1"; import os'], "--spec 'x:1\"; import os' must look"),
    (["smith2025", "probe", "--spec", "gd:G2"],
     "--spec 'gd:G2' is already the spec key of claim 'soudry2018.gd_max_margin.direction'"),
], ids=["paper_dash", "paper_digit_first", "slug_upper", "slug_keyword", "slug_private",
        "package_dash", "package_empty_part", "spec_space", "spec_quote", "spec_taken"])
def test_new_refuses_bad_names_and_writes_nothing(capsys, tmp_path, args, says):
    refused(capsys, "new", *args, "--root", tmp_path, says=says)
    assert not list(tmp_path.iterdir())


def test_new_refuses_a_root_that_is_missing_or_a_file(capsys, tmp_path):
    refused(capsys, "new", "smith2025", "probe", "--root", tmp_path / "none",
            says=("--root", "does not exist"))
    assert not (tmp_path / "none").exists()
    (tmp_path / "file").write_text("")
    refused(capsys, "new", "smith2025", "probe", "--root", tmp_path / "file",
            says=("--root", "is a file, not a folder"))


def test_new_refuses_to_overwrite_or_shadow(capsys, tmp_path):
    code, out, _ = cli(capsys, "new", "smith2025", "probe", "--root", tmp_path, "--package", "mine")
    assert code == 0 and "wrote" in out
    refused(capsys, "new", "smith2025", "probe", "--root", tmp_path, "--package", "mine",
            says="exists already")
    (tmp_path / "mine" / "helpers.py").write_text("")
    refused(capsys, "new", "helpers", "probe", "--root", tmp_path, "--package", "mine",
            says="paper 'helpers' would shadow the module")
    assert not (tmp_path / "mine" / "helpers").exists()


def test_new_refuses_a_test_that_exists_already(capsys, tmp_path):
    checks = tmp_path / "paper_checks" / "test_smith2025.py"
    checks.parent.mkdir()
    checks.write_text("def test_probe_main(evidence):\n    pass\n")
    refused(capsys, "new", "smith2025", "probe", "--root", tmp_path, "--package", "mine",
            says="already has test_probe_main")
    assert not (tmp_path / "mine").exists()


# --- tables -------------------------------------------------------------------------------

def _report(folder, complete=True, claims=()):
    folder.mkdir()
    (folder / "claims.json").write_text(json.dumps(
        {"provenance": {"run": {"complete": complete}}, "claims": list(claims)}))
    return folder


@pytest.mark.parametrize(("case", "says"), [
    ("no report", ["claims.json does not exist", "run pytest paper_checks/ first"]),
    ("partial report", "from an incomplete run"),
    ("garbled report", "is not a claims report"),
    ("missing file", "NOTES.md is not a file"),
    ("no block", "has no <!-- claims-table"),
])
def test_tables_refuses_what_it_cannot_generate_from_and_writes_nothing(capsys, tmp_path, case,
                                                                       says):
    readme = tmp_path / "README.md"
    readme.write_text("# no blocks\n")
    rep = tmp_path / "rep"
    if case == "partial report":
        _report(rep, complete=False)
    elif case == "garbled report":
        _report(rep)
        (rep / "claims.json").write_text("{not json")
    elif case != "no report":
        _report(rep)
    target = tmp_path / "NOTES.md" if case == "missing file" else readme
    refused(capsys, "tables", target, "--report", rep, says=says)
    assert readme.read_text() == "# no blocks\n"


def test_tables_updates_a_file_and_check_says_whether_it_is_current(capsys, tmp_path):
    claim = {"id": "p.thm.a", "spec": "p:1", "verdict": "pass", "expect": "pass",
             "statistic": "median", "seeds": [0], "measured": {"err": 0.5},
             "criteria": [{"statistic": "err", "bound": 1.0, "direction": "<=", "holds": True}]}
    rep = _report(tmp_path / "rep", claims=[claim])
    readme = tmp_path / "README.md"
    readme.write_text("<!-- claims-table: p -->\n<!-- /claims-table -->\n")
    code, out, _ = cli(capsys, "tables", readme, "--report", rep, "--check")
    assert code == 1 and "differ from" in out and "p.thm.a" not in readme.read_text()
    code, out, _ = cli(capsys, "tables", readme, "--report", rep)
    assert code == 0 and "updated" in out and "| p:1 | `p.thm.a` | PASS | err 0.5 (≤ 1) |" in readme.read_text()
    assert cli(capsys, "tables", readme, "--report", rep, "--check")[0] == 0


# --- REPRESENTATION_THEOREMS_EXTRA, list and ablate ---------------------------------------------------

@pytest.mark.parametrize("verb", ["list", "ablate", "search"])
def test_a_missing_extra_package_is_one_line_for_every_verb(capsys, extra, verb):
    extra("no_such_package_here")
    refused(capsys, verb, says=("REPRESENTATION_THEOREMS_EXTRA names 'no_such_package_here'",
                                "cannot be imported", "ModuleNotFoundError"))


def test_an_extra_module_that_is_not_a_package_is_named(capsys, extra):
    extra("json.decoder")
    refused(capsys, "list", says="'json.decoder', which is a module, not a package")


def test_an_extra_package_with_a_broken_module_is_named(capsys, extra, tmp_path):
    _package(tmp_path, "brokenthms", {"paper/__init__.py": "", "paper/thm.py": "1 / 0\n"})
    extra("brokenthms")
    refused(capsys, "list", says=("package 'brokenthms'", "module 'brokenthms.paper.thm'",
                                  "ZeroDivisionError"))


def test_an_extra_package_with_a_broken_subpackage_is_named(capsys, extra, tmp_path):
    _package(tmp_path, "brokensub", {"paper/__init__.py": "import no_such_dependency\n"})
    extra("brokensub")
    refused(capsys, "list", says=("package 'brokensub'", "'brokensub.paper' cannot be imported",
                                  "ModuleNotFoundError: No module named 'no_such_dependency'"))


def test_an_extra_theorem_of_a_paper_this_package_holds_is_a_registry_error(capsys, extra,
                                                                            tmp_path):
    _package(tmp_path, "clashthms", {"jiang2024/__init__.py": "", "jiang2024/dup.py": '''
        from theorems.jiang2024.canonical_solution import CanonicalSolution

        class Again(CanonicalSolution):
            pass
        '''})
    extra("clashthms")
    with pytest.raises(RegistryError, match="paper 'jiang2024' is declared by two packages: "
                                            "'theorems' .* and 'clashthms' "):
        registry.all_theorems()
    refused(capsys, "list", says=("paper 'jiang2024' is declared by two packages",
                                  "'clashthms' (REPRESENTATION_THEOREMS_EXTRA)"))


# --- the registry -----------------------------------------------------------------------------------

def test_get_claim_names_close_matches_and_is_still_a_key_error():
    with pytest.raises(UnknownClaimError) as info:
        get_claim("soudry2018.gd_max_margin.directon")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, LookupError) and isinstance(err, InputError)
    assert str(err).startswith("no claim 'soudry2018.gd_max_margin.directon'; did you mean "
                               "'soudry2018.gd_max_margin.direction'")
    assert err.suggestions[0] == "soudry2018.gd_max_margin.direction"
    assert len(str(err)) < 300  # the suggestions, not the list of every claim


def test_get_claim_explains_a_spec_key_or_a_theorem_id():
    with pytest.raises(KeyError, match="'gd:G2' is the spec key of claim "
                                       "'soudry2018.gd_max_margin.direction'"):
        get_claim("gd:G2")
    with pytest.raises(KeyError, match="that is a theorem id; its claims are "):
        get_claim("soudry2018.gd_max_margin")
    with pytest.raises(KeyError, match="claims are registered; `python -m theorems list`"):
        get_claim("zzz")
    with pytest.raises(UnknownClaimError, match="a claim id must be a string"):
        get_claim(7)


def test_get_theorem_names_close_matches():
    assert get_theorem(A_THEOREM).id == A_THEOREM
    with pytest.raises(UnknownTheoremError, match=f"did you mean '{A_THEOREM}'"):
        get_theorem("jiang2024.canonical_soluton")
    with pytest.raises(LookupError):
        get_theorem(None)


def test_a_missing_extra_package_is_a_typed_error(extra):
    extra("no_such_package_here")
    with pytest.raises(ExtraPackageError, match="names 'no_such_package_here', which cannot be "
                                                "imported: ModuleNotFoundError"):
        registry.all_theorems()
    assert issubclass(ExtraPackageError, InputError)


# --- theorem packages declared by entry points ----------------------------------------------------

THEOREM = '''
from theorems import Claim, Decision, Measurement, Theorem, Threshold


class Answer(Theorem):
    paper, slug, title, citation = "{paper}", "answer", "a toy theorem", "none"

    def statement(self): return Decision("proved", "toy")
    def example(self, seed=0): return 0
    def reference(self, instance): return None
    def simulate(self, instance, seed=0): return {{"x": 0.0}}
    def compare(self, instance, seed=0): return {{"gap": 0.0}}
    def negative_controls(self): return {{}}

    def claims(self):
        return (Claim(id=self.id + ".main", spec="{spec}", paper="Toy", reference="Thm 1",
                      statement="Toy.", kind="simulation",
                      measure=lambda seed: Measurement({{"err": 0.0}}),
                      criteria=(Threshold("err", 1.0, why="toy"),)),)
'''


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """Install toy distributions by writing their dist-info next to their packages on
    sys.path (what pip does), with the override unset; the registry is rebuilt around it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(registry.EXTRA_ENV, raising=False)
    packages = []

    def install(dist: str, package: str, paper: str, spec: str, value: str | None = None):
        packages.append(package)
        _package(tmp_path, package, {f"{paper}/__init__.py": "",
                                     f"{paper}/answer.py": THEOREM.format(paper=paper, spec=spec)})
        info = tmp_path / f"{dist.replace('-', '_')}-0.1.dist-info"  # as pip names it
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(
            f"[{registry.ENTRY_POINT_GROUP}]\n{package} = {value or package}\n")
        registry.refresh()
    yield install
    registry.refresh()
    for name in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[name]  # the next test's packages of the same name are other files


def test_an_entry_point_registers_its_package_and_the_override_replaces_it(installed, monkeypatch):
    installed("paper-a", "pkga", "toya2099", "toya:1")
    assert get_theorem("toya2099.answer").paper == "toya2099"
    source = registry.source_of("toya2099.answer")
    assert source.package == "pkga" and source.origin == "entry point 'pkga' of paper-a"
    assert get_claim("toya2099.answer.main").spec == "toya:1"
    monkeypatch.setenv(registry.EXTRA_ENV, "")  # the override: this package's theorems only
    registry.refresh()
    with pytest.raises(UnknownTheoremError):
        get_theorem("toya2099.answer")
    assert get_theorem(A_THEOREM)


def test_two_packages_declaring_one_paper_is_an_error_naming_both(installed, capsys):
    installed("paper-a", "pkga", "toy2099", "toya:1")
    installed("paper-b", "pkgb", "toy2099", "toyb:1")
    with pytest.raises(RegistryError, match=r"paper 'toy2099' is declared by two packages: 'pkga' "
                                            r"\(entry point 'pkga' of paper-a\) and 'pkgb' "
                                            r"\(entry point 'pkgb' of paper-b\)"):
        registry.all_theorems()
    refused(capsys, "list", says=("paper 'toy2099' is declared by two packages", "paper-a",
                                  "paper-b"))


def test_two_packages_sharing_a_spec_key_is_an_error_naming_both(installed):
    installed("paper-a", "pkga", "toya2099", "toy:1")
    installed("paper-b", "pkgb", "toyb2099", "toy:1")
    with pytest.raises(RegistryError, match=r"spec key 'toy:1' used by 'toya2099.answer.main' "
                                            r"\(package 'pkga' .*paper-a\)\) and "
                                            r"'toyb2099.answer.main' \(package 'pkgb' .*paper-b\)\)"):
        registry.all_claims()


def test_an_entry_point_that_names_an_attribute_is_refused(installed, capsys):
    installed("paper-a", "pkga", "toya2099", "toya:1", value="pkga:Answer")
    refused(capsys, "list", says=("entry point 'pkga' of paper-a", "names 'pkga:Answer'",
                                  "must name a package"))


def test_an_entry_point_package_that_cannot_be_imported_is_named(installed, capsys, tmp_path):
    installed("paper-a", "pkga", "toya2099", "toya:1")
    (tmp_path / "pkga" / "__init__.py").write_text("import no_such_dependency\n")
    refused(capsys, "list", says=("the entry point 'pkga' of paper-a names 'pkga', which cannot "
                                  "be imported", "No module named 'no_such_dependency'"))
