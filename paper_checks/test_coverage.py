"""Every registered claim has exactly one paper-checks test, and no test names an unknown claim."""

import ast
from collections import Counter
from pathlib import Path

from theorems.registry import all_claims


def _marked_claim_ids() -> list[str]:
    """Claim ids in @pytest.mark.claim(...) decorators of paper_checks/test_*.py (static read)."""
    ids = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                  for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.mark.claim":
                arg = node.args[0]
                if isinstance(arg, ast.JoinedStr):
                    ids.append("".join(
                        str(consts[v.value.id]) if isinstance(v, ast.FormattedValue) else v.value
                        for v in arg.values))
                else:
                    ids.append(ast.literal_eval(arg))
    return ids


def test_every_claim_has_exactly_one_test():
    marked = Counter(_marked_claim_ids())
    registered = {c.id for c in all_claims()}
    assert not registered - set(marked), f"claims without a test: {sorted(registered - set(marked))}"
    assert not set(marked) - registered, f"tests for unknown claims: {sorted(set(marked) - registered)}"
    twice = [k for k, v in marked.items() if v > 1]
    assert not twice, f"claims tested more than once: {twice}"
