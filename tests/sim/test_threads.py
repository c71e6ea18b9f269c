"""sim.threads.fixed_threads: the block runs on the counts asked for, the caller's come back,
and a torch that the block itself loads is pinned from its first use without the block
loading it (a fresh interpreter for those, where torch is not loaded yet)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from threadpoolctl import threadpool_info

from sim.errors import InputError
from sim.threads import fixed_threads


def test_a_loaded_torch_and_the_blas_run_on_the_count_asked_for_and_get_theirs_back():
    before = torch.get_num_threads()
    with fixed_threads(1):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
        with fixed_threads(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2", None])
def test_a_count_that_is_not_a_positive_integer_is_refused(n):
    with pytest.raises(InputError, match="positive integer thread count"):
        with fixed_threads(n):
            pass


FRESH = textwrap.dedent('''
    import importlib, json, sys
    from sim.threads import fixed_threads

    out = {"loaded_by_the_import": "torch" in sys.modules}
    with fixed_threads(1):
        out["loaded_by_the_block"] = "torch" in sys.modules
        with fixed_threads(2):
            torch = importlib.import_module("torch")  # loaded inside a nested block
            out["inner"] = torch.get_num_threads()
            out["inner_result"] = torch.ones(4, 4).sum().item()
        out["outer"] = torch.get_num_threads()
    out["after"] = torch.get_num_threads()
    out["loader"] = type(torch.__loader__).__name__
    out["spec_loader"] = type(torch.__spec__.loader).__name__
    out["hook_left"] = [type(f).__name__ for f in sys.meta_path if "Torch" in type(f).__name__]
    print(json.dumps(out))
''')


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_a_torch_the_block_loads_is_pinned_at_once_and_given_its_own_count_after():
    own = _fresh("import json, torch; print(json.dumps(torch.get_num_threads()))")
    got = _fresh(FRESH)
    assert not got["loaded_by_the_import"] and not got["loaded_by_the_block"], got
    assert (got["inner"], got["outer"], got["after"]) == (2, 1, own), got
    assert got["inner_result"] == 16.0
    # torch keeps its own loader, and the hook is gone once no block is open
    assert got["loader"] == got["spec_loader"] == "SourceFileLoader" and got["hook_left"] == []


def test_a_torch_loaded_past_the_hook_is_an_error_not_an_unpinned_block():
    """Another finder placed ahead of the hook loads torch: the block cannot have pinned it,
    and says so."""
    code = textwrap.dedent('''
        import importlib.machinery, sys
        from sim.threads import fixed_threads

        class Ahead:
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    return importlib.machinery.PathFinder.find_spec(name, path)
                return None

        try:
            with fixed_threads(1):
                sys.meta_path.insert(0, Ahead())
                import torch
        except RuntimeError as exc:
            print("refused:", exc)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "refused:" in out.stdout and "were not pinned" in out.stdout, out.stdout + out.stderr
