"""sim.threads.fixed_threads: the block runs on the counts asked for, the caller's come back,
and a torch that the block itself loads is pinned from its first use without the block
loading it (a fresh interpreter for those, where torch is not loaded yet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from threadpoolctl import threadpool_info

from sim.errors import InputError
from sim.threads import THREAD_ENV, fixed_threads


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


def _fresh(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter whose thread variables are exactly ``env``."""
    full = {k: v for k, v in os.environ.items() if k not in THREAD_ENV} | (env or {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=full)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


# torch and OpenBLAS cap a count read from the environment at the CPUs they may use, so a
# setting that differs from a block's count needs two of them to show.
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
TWO_CPUS = pytest.mark.skipif(CPUS < 2,
                              reason="a count of 2 read from the environment is capped at 1 CPU")


@pytest.mark.parametrize("env", [None, pytest.param({"OMP_NUM_THREADS": "1"}, marks=TWO_CPUS)],
                         ids=["no setting", "OMP_NUM_THREADS=1"])
def test_a_torch_the_block_loads_is_pinned_at_once_and_given_its_own_count_after(env):
    """torch loads inside a block of 2 threads (nested in one of 1): its own count is read
    from the caller's settings (with OMP_NUM_THREADS=1, 1), not from the block's."""
    own = _fresh("import json, torch; print(json.dumps(torch.get_num_threads()))", env)
    if env is not None:
        assert own == 1
    got = _fresh(FRESH, env)
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


@TWO_CPUS
def test_a_blas_library_the_block_loads_starts_on_the_blocks_count():
    """numpy's BLAS is loaded before the block (threadpoolctl pins it); scipy's own BLAS and
    scikit-learn's OpenMP load inside it, and read their counts from the environment then.
    The caller asks for 1 thread; inside a block of 2 every library has 2, and afterwards the
    caller's setting and numpy's 1 thread are back (the libraries loaded inside keep 2)."""
    code = textwrap.dedent('''
        import json, os
        from threadpoolctl import threadpool_info
        from sim.threads import THREAD_ENV, fixed_threads

        def counts():
            return {i["filepath"]: i["num_threads"] for i in threadpool_info()}

        out = {"before": counts()}
        with fixed_threads(2):
            import sklearn.svm, scipy.linalg  # noqa: F401  (loaded inside the block)
            out["inside"] = counts()
            out["env_inside"] = {k: os.environ.get(k) for k in THREAD_ENV}
        out["after"] = counts()
        out["env_after"] = {k: os.environ.get(k) for k in THREAD_ENV}
        print(json.dumps(out))
    ''')
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    got = _fresh(code, env)
    before, inside, after = got["before"], got["inside"], got["after"]
    loaded_inside = set(inside) - set(before)
    assert before and set(before.values()) == {1}, got
    assert loaded_inside, f"nothing was loaded inside the block: {got}"
    assert set(inside.values()) == {2}, got
    assert got["env_inside"] == dict.fromkeys(THREAD_ENV, "2")
    assert got["env_after"] == {k: env.get(k) for k in THREAD_ENV}
    assert {after[f] for f in before} == {1} and {after[f] for f in loaded_inside} == {2}, got
