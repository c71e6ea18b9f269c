"""Counterexample search: Hypothesis, steered by ``target()``, maximises the gap between a
theorem's witnesses (the largest value :meth:`Theorem.compare` reports) over its search
space, and saves the worst instance found so that it can be replayed.

Run on demand: ``python -m theorems search [THEOREM_ID ...] --examples 50 --out DIR``;
``python -m theorems search --replay DIR/search-<id>.json`` recomputes a saved instance.

Bad input raises :class:`sim.errors.InputError` naming it: an unknown theorem id
(:class:`~theorems.registry.UnknownTheoremError`, with the closest ids), a count of examples
that is not a positive integer, an output folder that is a file, and a replay file that is
missing, unreadable, not JSON, not a saved search, or whose parameters do not build an
instance of its theorem (:class:`ReplayError`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sim.errors import InputError, positive_int
from theorems.registry import UnknownTheoremError, get_theorem

SAVED_KEYS = ("theorem", "params", "worst_gap")  # what a saved search must hold to be replayed


class ReplayError(InputError):
    """A replay file that cannot be replayed; the message names the file and the problem."""


def _theorem(theorem_id: str):
    return get_theorem(theorem_id)


def worst_gap(thm, params: dict) -> tuple[float, dict]:
    """Build the instance from ``params`` and return (largest gap, all gaps)."""
    _, build = thm.search_space()
    return _largest(thm, build(params))


def _largest(thm, instance) -> tuple[float, dict]:
    gaps = {k: float(v) for k, v in thm.compare(instance).items()}
    finite = [v for v in gaps.values() if math.isfinite(v)]
    return (max(finite) if len(finite) == len(gaps) else math.inf), gaps


def output_folder(out) -> Path:
    """``out`` as a folder to save searches in, created if needed; InputError naming it
    when it is a file or cannot be created."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {str(out)!r} cannot be created: {exc.strerror or exc}") from None
    return out


def search(theorem_id: str, *, examples: int = 50, out: Path | None = None) -> dict:
    """Search one theorem's space; return (and save, with ``out``) the worst instance."""
    # Hypothesis is imported by a search, not with the module: the registry imports
    # every module of the package, and every pytest run with a claim imports the registry
    from hypothesis import HealthCheck, Phase, given, settings, target

    thm = _theorem(theorem_id)
    examples = positive_int("examples", examples)
    if out is not None:
        out = output_folder(out)  # refused before the search runs, not after
    strategy, _ = thm.search_space()
    found = {"theorem": theorem_id, "worst_gap": -math.inf, "params": None, "gaps": None,
             "examples": examples}

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              phases=[Phase.generate, Phase.target],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def explore(params):
        gap, gaps = worst_gap(thm, params)
        target(gap if math.isfinite(gap) else 1e300, label="largest witness gap")
        if gap > found["worst_gap"]:
            found.update(worst_gap=gap, params=params, gaps=gaps)

    explore()
    if out is not None:
        (out / f"search-{theorem_id}.json").write_text(json.dumps(found, indent=2), encoding="utf-8")
    return found


def load_saved(path) -> dict:
    """A saved search read back and checked; :class:`ReplayError` naming ``path`` otherwise."""
    path = Path(path)
    shown = str(path)
    if not path.exists():
        raise ReplayError(f"--replay {shown!r}: no such file")
    if path.is_dir():
        raise ReplayError(f"--replay {shown!r} is a folder; give a saved search-<id>.json in it")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"--replay {shown!r} cannot be read: {exc}") from None
    try:
        saved = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"--replay {shown!r} is not JSON ({exc.msg}: line {exc.lineno}, "
                          f"column {exc.colno}); give a file written by `python -m theorems "
                          "search`") from None
    if not isinstance(saved, dict) or any(k not in saved for k in SAVED_KEYS):
        missing = [k for k in SAVED_KEYS if not isinstance(saved, dict) or k not in saved]
        raise ReplayError(f"--replay {shown!r} is not a saved search: it lacks "
                          f"{', '.join(map(repr, missing))}")
    if not isinstance(saved["theorem"], str):
        raise ReplayError(f"--replay {shown!r}: 'theorem' must be a theorem id string; got "
                          f"{saved['theorem']!r}")
    if not isinstance(saved["params"], dict):
        raise ReplayError(f"--replay {shown!r}: 'params' must be an object of search "
                          f"parameters; got {saved['params']!r} (a search that found no "
                          "instance saves none)")
    return saved


def replay(path: Path) -> dict:
    """Recompute the gaps of a saved instance."""
    saved = load_saved(path)
    try:
        thm = _theorem(saved["theorem"])
    except UnknownTheoremError as exc:
        raise UnknownTheoremError(f"--replay {str(path)!r}: {exc}", exc.key, exc.suggestions) from None
    _, build = thm.search_space()
    try:
        instance = build(saved["params"])
    except Exception as exc:  # the parameters came from a file: they are input
        raise ReplayError(f"--replay {str(path)!r}: params {saved['params']!r} do not build an "
                          f"instance of {thm.id}: {type(exc).__name__}: {exc}") from None
    gap, gaps = _largest(thm, instance)
    return {**saved, "replayed_gap": gap, "replayed_gaps": gaps}
