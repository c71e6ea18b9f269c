"""Command line: ``python -m theorems {new,list,ablate,search} ...``.

* ``new PAPER SLUG``: scaffold a theorem module and its paper-checks test.
* ``list``: the registered theorems and claims.
* ``ablate``: run every theorem's negative controls and show which assumption each breaks.
* ``search``: counterexample search on the gap between witnesses (see theorems.search).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _new(args) -> int:
    from theorems.scaffold import new_theorem
    for path in new_theorem(args.paper, args.slug, root=Path(args.root), package=args.package,
                            spec=args.spec):
        print(f"wrote {path}")
    print("next: fill in the module (statement, example, reference, simulate, compare, claims, "
          "negative_controls), then run: pytest tests/test_contract.py paper_checks/ -k "
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
    failures = 0
    print(f"{'theorem':<44} {'assumption broken':<66} check fails?")
    for thm in all_theorems():
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
    from theorems.registry import all_theorems
    if args.replay:
        out = search.replay(Path(args.replay))
        print(f"{out['theorem']}: saved gap {out['worst_gap']:.3g}, replayed "
              f"{out['replayed_gap']:.3g} {out['replayed_gaps']} at {out['params']}")
        return 0
    ids = args.theorems or [t.id for t in all_theorems()]
    for tid in ids:
        start = time.perf_counter()
        found = search.search(tid, examples=args.examples, out=Path(args.out))
        print(f"{tid}: worst gap {found['worst_gap']:.3g} {found['gaps']} at {found['params']} "
              f"({args.examples} examples, {time.perf_counter() - start:.0f}s; saved in {args.out})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theorems")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("new", help="scaffold a theorem module and its paper-checks test")
    p.add_argument("paper", help="paper key, e.g. smith2025")
    p.add_argument("slug", help="theorem slug, e.g. probe_recovers_posterior")
    p.add_argument("--root", default=".", help="repository root (default: .)")
    p.add_argument("--package", default="theorems",
                   help="package to write into (outside this one, add it to "
                        "REPRESENTATION_THEOREMS_EXTRA)")
    p.add_argument("--spec", default=None, help="spec key of the first claim (default PAPER:1)")
    p.set_defaults(func=_new)
    sub.add_parser("list", help="registered theorems and claims").set_defaults(func=_list)
    sub.add_parser("ablate", help="run every negative control").set_defaults(func=_ablate)
    p = sub.add_parser("search", help="counterexample search on the gap between witnesses")
    p.add_argument("theorems", nargs="*", help="theorem ids (default: all)")
    p.add_argument("--examples", type=int, default=50)
    p.add_argument("--out", default="paper_checks_report/search")
    p.add_argument("--replay", default=None, help="a saved search-<id>.json to recompute")
    p.set_defaults(func=_search)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
