"""Developer-suite configuration: Hypothesis profiles (the slow option is in ../conftest.py),
no claim cache in the developer suite (nor in the paper-checks runs its tests start), the
heavy modules first, and the tiny scale of the Zhang runs wing.

Profiles (select with HYPOTHESIS_PROFILE or --hypothesis-profile):

* ``dev`` (default): few examples for solver- and torch-backed properties, no deadline
  (solver and torch timings vary on a shared machine);
* ``ci`` (loaded automatically when CI is set): the same, derandomised, no example
  database, failing examples printed with their reproduction blob;
* ``thorough``: ten times the examples, for a local soak.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, settings

from theorems.zhang2024 import runs

settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True,
                          database=None, print_blob=True)
settings.register_profile("thorough", parent=settings.get_profile("dev"), max_examples=150)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


_CACHE_BEFORE = pytest.StashKey[str | None]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """No claim cache for the developer suite: neither the paper-checks runs that tests
    start (pytester, subprocesses) nor this process's own trained runs read or write the
    user's cache; tests of the cache pass --cache-dir. Set before the plugin configures
    the cache (tryfirst), which is when it decides where trained runs go."""
    config.stash[_CACHE_BEFORE] = os.environ.get("PAPER_CHECKS_CACHE")
    os.environ["PAPER_CHECKS_CACHE"] = "off"


def pytest_unconfigure(config):
    if _CACHE_BEFORE not in config.stash:
        return
    before = config.stash[_CACHE_BEFORE]
    if before is None:
        os.environ.pop("PAPER_CHECKS_CACHE", None)
    else:
        os.environ["PAPER_CHECKS_CACHE"] = before


def pytest_collection_modifyitems(config, items):
    """The modules marked ``heavy`` (they start pytest in subprocesses, or train) run
    first, in their order, and the rest after them: under ``pytest -n`` the many short
    tests then fill the gaps the long ones leave, instead of a long one starting last while
    the other workers idle. The order changes no result: every test is independent of
    which ran before it."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)  # a stable sort


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: none without it (-p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    """Under ``pytest -n`` (xdist's default ``--dist load``), the modules of tests/ go to the
    workers one at a time, in the order above, each whole to one worker, and every other
    test (paper_checks/ in the same run) on its own. xdist's ``load`` sends each worker a
    block of consecutive tests first, so one worker got every heavy module while the other
    ran out of work; a whole module also sets up its module-scoped fixtures (a built
    wheel, a paper-tier run) once. An explicit other ``--dist`` is left to xdist."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesInOrder(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module.startswith("tests/") else nodeid

    config.option.loadscopereorder = False  # keep the heavy-first order, not largest-first
    return ModulesInOrder(config, log)


# The Zhang runs wing at a tiny scale: the code path of every scale (the paper tier's
# included), with every family trained 60 steps on 640 sequences, so that a claim's
# measurement, or a theorem's negative controls, run end to end in a unit test.
TINY = dataclasses.replace(runs.SCALES["cpu"], name="tiny", n_train=640, n_probe=400, n_val=100,
                           n_test=200, steps=tuple((f, 60) for f in runs.FAMILIES))


@pytest.fixture
def tiny(monkeypatch):
    """The current scale set to :data:`TINY` for one test."""
    monkeypatch.setitem(runs.SCALES, "tiny", TINY)
    monkeypatch.setenv(runs.SCALE_ENV, "tiny")
    return TINY
