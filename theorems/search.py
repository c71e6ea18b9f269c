"""Counterexample search: Hypothesis, steered by ``target()``, maximises the gap between a
theorem's witnesses (the largest value :meth:`Theorem.compare` reports) over its search
space, and saves the worst instance found so that it can be replayed.

Run on demand: ``python -m theorems search [THEOREM_ID ...] --examples 50 --out DIR``;
``python -m theorems search --replay DIR/search-<id>.json`` recomputes a saved instance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings, target

from theorems.registry import all_theorems


def _theorem(theorem_id: str):
    for thm in all_theorems():
        if thm.id == theorem_id:
            return thm
    raise KeyError(f"no theorem {theorem_id!r}; known: {[t.id for t in all_theorems()]}")


def worst_gap(thm, params: dict) -> tuple[float, dict]:
    """Build the instance from ``params`` and return (largest gap, all gaps)."""
    _, build = thm.search_space()
    gaps = {k: float(v) for k, v in thm.compare(build(params)).items()}
    finite = [v for v in gaps.values() if math.isfinite(v)]
    worst = max(finite) if len(finite) == len(gaps) else math.inf
    return worst, gaps


def search(theorem_id: str, *, examples: int = 50, out: Path | None = None) -> dict:
    """Search one theorem's space; return (and save, with ``out``) the worst instance."""
    thm = _theorem(theorem_id)
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
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"search-{theorem_id}.json").write_text(json.dumps(found, indent=2), encoding="utf-8")
    return found


def replay(path: Path) -> dict:
    """Recompute the gaps of a saved instance."""
    saved = json.loads(Path(path).read_text(encoding="utf-8"))
    gap, gaps = worst_gap(_theorem(saved["theorem"]), saved["params"])
    return {**saved, "replayed_gap": gap, "replayed_gaps": gaps}
