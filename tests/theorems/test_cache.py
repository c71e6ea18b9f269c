"""The cache's keys and the trained-run cache: what a key covers, and that an entry is
trusted only when it is whole and its key is the one looked up.

The plugin's side (reuse, invalidation by an edited module, corrupt entries, --no-cache) is
tested end to end in tests/test_claim_cache.py.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from theorems import _keys, cache, registry, runshare
from theorems.base import Claim, Measurement
from theorems.tolerances import Threshold


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throwaway package ``toypkg`` on sys.path: ``write(name, source)`` (re)writes a
    module and forgets what was parsed and imported."""
    root = tmp_path / "toypkg"
    root.mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> None:
        (root / f"{name}.py").write_text(textwrap.dedent(source))
        _keys.forget_sources()
        importlib.invalidate_caches()
        for mod in [m for m in sys.modules if m == "toypkg" or m.startswith("toypkg.")]:
            del sys.modules[mod]
    write("__init__", "")
    yield write
    _keys.forget_sources()
    for mod in [m for m in sys.modules if m == "toypkg" or m.startswith("toypkg.")]:
        del sys.modules[mod]


def test_the_closure_follows_imports_inside_functions_and_relative_imports(package):
    package("noise", "import json\nimport numpy\n\ndef level():\n    return 0.25\n")
    package("helpers", "from . import noise\n")
    package("unused", "X = 1\n")
    package("claim", """
        import os

        def measure(seed):
            from toypkg.helpers import noise
            import importlib
            return importlib.import_module("toypkg.deep")
    """)
    package("deep", "")
    closure = _keys.source_closure(["toypkg.claim"])
    assert set(closure) == {"toypkg", "toypkg.claim", "toypkg.helpers", "toypkg.noise",
                            "toypkg.deep"}, closure  # not os, json, numpy (versions), nor unused
    assert all(len(d) == 64 for d in closure.values())


def test_editing_an_imported_module_changes_the_key_and_editing_another_does_not(package):
    package("noise", "def level():\n    return 0.25\n")
    package("other", "Y = 2\n")
    package("claim", "def measure(seed):\n    from toypkg import noise\n")
    before = _keys.source_closure(["toypkg.claim"])
    package("other", "Y = 3\n")
    assert _keys.source_closure(["toypkg.claim"]) == before
    package("noise", "def level():\n    return 0.3\n")
    assert _keys.source_closure(["toypkg.claim"])["toypkg.noise"] != before["toypkg.noise"]


def test_a_project_module_that_cannot_be_found_stays_in_the_key_as_unresolved(package):
    package("claim", "def measure(seed):\n    import toypkg.missing\n")
    assert _keys.source_closure(["toypkg.claim"])["toypkg.missing"] == _keys.UNRESOLVED


def test_names_of_a_lazy_package_resolve_to_the_modules_that_define_them():
    closure = _keys.source_closure(["theorems.zhang2024.encoding_hmm"])
    assert {"theorems.zhang2024.runs", "sim.train", "theorems.base"} <= set(closure)
    # a claim that needs no network does not depend on the training loop
    assert "sim.train" not in _keys.source_closure(["theorems.jiang2024.log_odds"])


def _claim(**kw) -> Claim:
    base = dict(id="toy.thm.ok", spec="toy:1", paper="Toy", reference="Thm 1",
                statement="Toy.", kind="simulation", measure=lambda s: Measurement({"err": 0.5}),
                criteria=(Threshold("err", 1.0, why="toy bound"),), seeds=(0, 1))
    return Claim(**{**base, **kw})


def test_the_evidence_key_covers_parameters_seeds_settings_and_stack(tmp_path, monkeypatch):
    store = cache.Cache(tmp_path, math_threads=1)
    claim = _claim()
    key = store.evidence_key(claim, (0, 1))
    assert {"schema", "claim", "selected_seeds", "sources", "stack", "settings",
            "math_threads"} <= set(key)
    assert {"numpy", "torch", "machine", "cpu_vendor", "python"} <= set(key["stack"])
    assert "theorems.base" in key["sources"]
    variants = [store.evidence_key(claim, (0,)),
                store.evidence_key(_claim(criteria=(Threshold("err", 0.9, why="toy bound"),)), (0, 1)),
                store.evidence_key(_claim(seeds=(0, 1, 2)), (0, 1)),
                cache.Cache(tmp_path, math_threads=2).evidence_key(claim, (0, 1))]
    monkeypatch.setenv("REPRESENTATION_THEOREMS_SCALE", "paper")
    variants.append(store.evidence_key(claim, (0, 1)))
    digests = {cache.digest(k) for k in [key, *variants]}
    assert len(digests) == len(variants) + 1


def test_torch_facts_enter_the_key_of_a_claim_whose_modules_import_torch_and_no_other(package):
    package("net", "import torch.nn\n\ndef measure(seed):\n    return seed\n")
    package("plain", "import numpy\n\ndef measure(seed):\n    import torch\n    return seed\n")
    from toypkg import net, plain
    store = cache.Cache(".", math_threads=1)
    with_torch = store.evidence_key(_claim(measure=net.measure), (0,))["stack"]
    without = store.evidence_key(_claim(measure=plain.measure), (0,))["stack"]
    assert with_torch == {**without, **_keys.torch_facts()} and "device" in with_torch
    assert "torch_cpu_capability" not in without and without["torch"] == with_torch["torch"]


def test_finding_a_key_loads_no_torch_when_the_claim_does_not_import_it(tmp_path):
    """A fresh interpreter keys, stores and finds a numpy claim, measured on fixed threads,
    without ever loading torch: a user's run that needs no torch does not pay for it."""
    code = textwrap.dedent(f'''
        import sys
        from sim.threads import fixed_threads
        from theorems import cache
        from theorems.base import Claim, Measurement
        from theorems.tolerances import Threshold

        def measure(seed):
            import numpy
            return Measurement({{"err": float(numpy.float64(0.5))}})

        claim = Claim(id="toy.thm.np", spec="toy:1", paper="Toy", reference="Thm 1",
                      statement="Toy.", kind="simulation", measure=measure,
                      criteria=(Threshold("err", 1.0, why="toy bound"),), seeds=(0,))
        store = cache.Cache({str(tmp_path)!r}, math_threads=1)
        with fixed_threads(1):
            ev = claim.check()
        assert store.store(claim, (0,), ev, {{}}) == ""
        assert store.lookup(claim, (0,)).evidence is not None
        print("torch loaded:", "torch" in sys.modules)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.stdout.strip() == "torch loaded: False", out.stdout + out.stderr[-3000:]


def test_an_entry_measured_with_torch_loaded_is_not_trusted_where_torch_differs(tmp_path,
                                                                              monkeypatch):
    store = cache.Cache(tmp_path, math_threads=1)
    claim = _claim()
    assert "torch_cpu_capability" not in store.evidence_key(claim, (0, 1))["stack"]
    assert store.store(claim, (0, 1), claim.check(), {}, torch_loaded=True) == ""
    assert store.lookup(claim, (0, 1)).evidence is not None
    here = _keys.torch_facts()
    monkeypatch.setattr(_keys, "_torch_facts", lambda: {**here, "torch_cpu_capability": "SVE256"})
    miss = store.lookup(claim, (0, 1))
    assert miss.evidence is None
    assert (f"measured with torch loaded where torch_cpu_capability "
            f"{here['torch_cpu_capability']!r}") in miss.problem, miss.problem
    assert "here torch_cpu_capability 'SVE256'" in miss.problem
    # measured without torch: nothing of torch's to check, found on any machine
    assert store.store(claim, (0, 1), claim.check(), {}, torch_loaded=False) == ""
    assert store.lookup(claim, (0, 1)).evidence is not None


def test_the_arguments_a_partial_binds_and_the_modules_of_its_function_enter_the_key(package,
                                                                                  monkeypatch):
    """A claim built in one module around another module's function: the arguments it binds
    are in the key, and so is the closure of the function's module, found without the
    registry (a key imports nothing the claim does not)."""
    package("shared", "def measure(seed, steps=10):\n    return steps\n")
    from toypkg import shared

    def discover():
        raise AssertionError("a key looked the registered theorems up")
    monkeypatch.setattr(registry, "all_theorems", discover)
    monkeypatch.setattr(registry, "all_claims", discover)
    store = cache.Cache(".", math_threads=1)
    keys = [store.evidence_key(_claim(measure=functools.partial(shared.measure, steps=n)), (0,))
            for n in (10, 20)]
    assert keys[0]["claim"]["functions"]["measure"]["bound"] == [[[], [["steps", "10"]]]]
    assert cache.digest(keys[0]) != cache.digest(keys[1])
    assert "toypkg.shared" in keys[0]["sources"]


def test_an_entry_round_trips_exactly_and_a_stale_one_is_refused(tmp_path):
    store = cache.Cache(tmp_path, math_threads=1)
    claim = _claim(measure=lambda s: Measurement({"err": float("nan") if s else 0.1 + 0.2},
                                                 details={"a": [1, 2]}, inconclusive="x" * s))
    ev = claim.check()
    assert store.store(claim, (0, 1), ev, {"figures/f.png": b"\x89PNG"}) == ""
    hit = store.lookup(claim, (0, 1))
    assert hit.problem == "" and hit.figures == {"figures/f.png": b"\x89PNG"}
    assert hit.evidence.measured.keys() == ev.measured.keys()
    assert hit.evidence.per_seed[0].values == {"err": 0.1 + 0.2}  # bit for bit
    assert hit.evidence.verdict == ev.verdict and hit.evidence.note == ev.note
    entry = json.loads(hit.path.read_text())
    entry["payload"] = entry["payload"].replace("0.30000000000000004", "0.3")
    hit.path.write_text(json.dumps(entry))
    miss = store.lookup(claim, (0, 1))
    assert miss.evidence is None and "checksum" in miss.problem


def test_a_cache_folder_must_be_absent_empty_or_the_packages(tmp_path):
    assert cache.folder_problem(tmp_path / "new") is None
    (tmp_path / "file").write_text("x")
    assert "is a file" in cache.folder_problem(tmp_path / "file")
    assert "cannot be created" in cache.folder_problem(tmp_path / "file" / "sub")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("x")
    assert "not a representation-theorems cache" in cache.folder_problem(tmp_path / "mine")
    (tmp_path / "mine" / cache.TAG).write_text(cache.TAG_TEXT)
    assert cache.folder_problem(tmp_path / "mine") is None


def _save(result, path):
    path.write_text(json.dumps(result))


def _load(path):
    return json.loads(path.read_text())


def test_a_shared_run_is_stored_in_the_cache_and_loaded_by_a_later_call(tmp_path, monkeypatch,
                                                                       package):
    package("trainer", "def train():\n    return {'w': [1.5, 2.5]}\n")
    monkeypatch.delenv(runshare.SHARE_ENV, raising=False)
    monkeypatch.setenv(runshare.CACHE_ENV, str(tmp_path / "c"))
    calls = []

    def compute():
        calls.append(1)
        return {"w": [1.5, 2.5]}
    args = ("toy-run", ("family", 0), compute, _save, _load)
    assert runshare.shared(*args, module="toypkg.trainer") == {"w": [1.5, 2.5]}
    assert runshare.shared(*args, module="toypkg.trainer") == {"w": [1.5, 2.5]}
    assert calls == [1]
    assert runshare.shared("toy-run", ("family", 1), compute, _save, _load,
                           module="toypkg.trainer") and calls == [1, 1]  # another key
    package("trainer", "def train():\n    return {'w': [1.5, 2.6]}\n")  # the trainer edited
    runshare.shared(*args, module="toypkg.trainer")
    assert calls == [1, 1, 1]
    assert (tmp_path / "c" / cache.TAG).is_file()


def test_a_corrupt_shared_run_is_reported_and_computed_again(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(runshare.SHARE_ENV, raising=False)
    monkeypatch.setenv(runshare.CACHE_ENV, str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"w": 1}
    runshare.shared("toy-run", "k", compute, _save, _load)  # keyed by this test module
    [entry] = (tmp_path / f"v{cache.SCHEMA}" / "runs").glob("toy-run-*[!k]")
    (entry / "data.bin").write_text('{"w": 2}')
    with caplog.at_level(logging.WARNING, logger="representation_theorems.cache"):
        assert runshare.shared("toy-run", "k", compute, _save, _load) == {"w": 1}
    assert calls == [1, 1] and "checksum" in caplog.text and str(entry) in caplog.text
    assert runshare.shared("toy-run", "k", compute, _save, _load) == {"w": 1} and calls == [1, 1]


def test_without_the_cache_or_a_share_folder_every_call_computes(monkeypatch):
    monkeypatch.delenv(runshare.SHARE_ENV, raising=False)
    monkeypatch.delenv(runshare.CACHE_ENV, raising=False)
    calls = []
    for _ in range(2):
        runshare.shared("toy-run", "k", lambda: calls.append(1), _save, _load)
    assert calls == [1, 1]


def test_the_developer_suite_never_uses_the_users_claim_cache():
    """tests/conftest.py turns the cache off before the plugin configures it: the trained
    runs of this process (and of the runs tests start) stay out of the user's cache."""
    assert os.environ.get("PAPER_CHECKS_CACHE") == "off"
    assert runshare.cache_folder() is None, runshare.cache_folder()
