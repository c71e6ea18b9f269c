"""Command line: ``python -m theorems {init,new,list,ablate,search,tables} ...``.

* ``init DIR``: write a paper repository that works at once (see :mod:`theorems.scaffold`).
* ``new PAPER SLUG``: scaffold a theorem module and its paper-checks test.
* ``list``: the registered theorems and claims.
* ``ablate``: run every theorem's negative controls and show which assumption each breaks.
* ``search``: counterexample search on the gap between witnesses (see theorems.search).
* ``tables FILE...``: regenerate the claims tables marked in Markdown files from a complete
  run's claims.json (``--check``: exit 1, writing nothing, when one is stale; see
  :mod:`theorems.tables`).

Bad input (a mistyped theorem id, a count that is not positive, a missing or garbled replay
file, a package in ``REPRESENTATION_THEOREMS_EXTRA`` that cannot be imported, a bad name or
folder for ``new``, a non-empty folder or a taken paper key for ``init``) is reported as one line on stderr, ``python -m theorems: error: ...``,
with exit status 2 and no traceback; ``--traceback`` shows the traceback of an unexpected
error (a bug) instead of its one-line summary.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import time
from pathlib import Path

from sim.errors import InputError

PROG = "python -m theorems"
USAGE_ERROR = 2  # argparse's exit status for bad arguments; every input error uses it
UNEXPECTED_ERROR = 3  # an error that is not bad input: a bug, reported in one line


class UsageError(InputError):
    """A command-line argument argparse refused (unknown option, value of the wrong type)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are raised (and printed by :func:`main` as one line)
    instead of printing the usage block and exiting."""

    def error(self, message: str):
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:  # a mistyped verb: name the closest ones
            choices = re.findall(r"[\w-]+", bad.group(2))
            close = difflib.get_close_matches(bad.group(1), choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        raise UsageError(message)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def _init(args) -> int:
    from theorems.scaffold import check_names_are_free, default_names, init_paper
    folder = Path(args.folder)
    paper, package = default_names(folder, args.paper, args.package)
    check_names_are_free(paper, package)
    written = init_paper(folder, paper=paper, package=package)
    for path in written:
        print(f"wrote {path}")
    print(f"next: python3 -m pip install -e {folder} && cd {folder} && python3 -m pytest "
          "paper_checks/")
    return 0


def _new(args) -> int:
    from theorems.scaffold import check_spec_is_new, declared_package, new_theorem, next_free_spec
    package = args.package or declared_package(args.root) or "theorems"
    spec = args.spec or next_free_spec(args.paper)
    check_spec_is_new(spec, args.paper)
    for path in new_theorem(args.paper, args.slug, root=Path(args.root), package=package,
                            spec=spec):
        print(f"wrote {path}")
    print("next: fill in the module (statement, example, reference, simulate, compare, "
          "corrupt, claims, negative_controls), then run: pytest paper_checks/ -k "
          f"{args.slug}")
    return 0


def _list(args) -> int:
    from theorems.registry import all_theorems
    for thm in all_theorems():
        print(f"{thm.id}: {thm.title}")
        for c in thm.claims():
            print(f"    {c.spec:<22} {c.id} ({c.kind}, seeds {list(c.seeds)})")
    return 0


def _ablate(args) -> int:
    from theorems.registry import all_theorems
    theorems = all_theorems()  # an unusable registry is refused before the table starts
    failures = 0
    print(f"{'theorem':<44} {'assumption broken':<66} check fails?")
    for thm in theorems:
        for name, control in thm.negative_controls().items():
            start = time.perf_counter()
            try:
                ok = bool(control())
            except Exception as exc:  # a control that crashes is reported, not hidden
                ok, name = False, f"{name} [raised {type(exc).__name__}: {exc}]"
            failures += not ok
            print(f"{thm.id:<44} {name:<66} {'yes' if ok else 'NO'} "
                  f"({time.perf_counter() - start:.1f}s)")
    print("every check fails when its assumption is broken" if not failures else
          f"{failures} control(s) did NOT make the check fail")
    return 1 if failures else 0


def _search(args) -> int:
    from theorems import search
    from theorems.registry import all_theorems, get_theorem
    if args.replay is not None:
        if args.theorems:
            raise UsageError("--replay recomputes the saved instance of one theorem; give "
                             "either theorem ids or --replay, not both")
        out = search.replay(Path(args.replay))
        print(f"{out['theorem']}: saved gap {out['worst_gap']:.3g}, replayed "
              f"{out['replayed_gap']:.3g} {out['replayed_gaps']} at {out['params']}")
        return 0
    ids = args.theorems or [t.id for t in all_theorems()]
    for tid in dict.fromkeys(ids):  # every id is checked before any search starts
        get_theorem(tid)
    out = search.output_folder(args.out)
    for tid in dict.fromkeys(ids):
        start = time.perf_counter()
        found = search.search(tid, examples=args.examples, out=out)
        print(f"{tid}: worst gap {found['worst_gap']:.3g} {found['gaps']} at {found['params']} "
              f"({args.examples} examples, {time.perf_counter() - start:.0f}s; saved in {out})")
    return 0


def _tables(args) -> int:
    from theorems import tables
    return tables.main(args.files, args.report, check=args.check)


def parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Scaffold, list, ablate and search the theorems; "
                     "generate claims tables.")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("init", help="write a paper repository: pyproject.toml, a theorem "
                       "package with an example theorem, paper_checks/, paper.tex, README")
    p.add_argument("folder", help="the repository to create (new or empty)")
    p.add_argument("--paper", default=None,
                   help="paper key, the claim ids' namespace (default: from the folder name)")
    p.add_argument("--package", default=None,
                   help="the theorem package's name (default: <paper>_theorems)")
    p.set_defaults(func=_init)
    p = sub.add_parser("new", help="scaffold a theorem module and its paper-checks test")
    p.add_argument("paper", help="paper key, e.g. smith2025")
    p.add_argument("slug", help="theorem slug, e.g. probe_recovers_posterior")
    p.add_argument("--root", default=".", help="repository root (default: .)")
    p.add_argument("--package", default=None,
                   help="package to write into (default: the one ./pyproject.toml declares, "
                        "as in a repository written by init; else theorems)")
    p.add_argument("--spec", default=None,
                   help="spec key of the first claim (default: the first free PAPER:N)")
    p.set_defaults(func=_new)
    sub.add_parser("list", help="registered theorems and claims").set_defaults(func=_list)
    sub.add_parser("ablate", help="run every negative control").set_defaults(func=_ablate)
    p = sub.add_parser("search", help="counterexample search on the gap between witnesses")
    p.add_argument("theorems", nargs="*", help="theorem ids (default: all)")
    p.add_argument("--examples", type=_positive, default=50,
                   help="examples per theorem (a positive integer; default 50)")
    p.add_argument("--out", default="paper_checks_search")
    p.add_argument("--replay", default=None, help="a saved search-<id>.json to recompute")
    p.set_defaults(func=_search)
    p = sub.add_parser("tables", help="regenerate the claims tables marked in Markdown files "
                       "from a complete run's claims.json")
    p.add_argument("files", nargs="+", help="Markdown files with <!-- claims-table: ... --> "
                   "blocks, e.g. README.md")
    p.add_argument("--report", default="paper_checks_report",
                   help="the report folder of a complete run (default: paper_checks_report)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a file's tables differ from the report")
    p.set_defaults(func=_tables)
    return parser


def main(argv=None) -> int:
    """Run the command; bad input is one line on stderr and exit status 2."""
    show_traceback = "--traceback" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
        return args.func(args)
    except InputError as exc:  # bad input: ours, argparse's, the registry's, the scaffold's
        _error(str(exc))
        return USAGE_ERROR
    except OSError as exc:  # a file or folder the command cannot read or write
        where = f" {exc.filename!r}" if exc.filename else ""
        _error(f"cannot use{where}: {exc.strerror or exc}")
        return USAGE_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:  # a bug: one line unless --traceback
        if show_traceback:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (rerun with --traceback for details)")
        return UNEXPECTED_ERROR


def _error(message: str) -> None:
    line = " ".join(str(message).split())  # one line, whatever the message holds
    print(f"{PROG}: error: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
