"""Developer-suite configuration: Hypothesis profiles (the slow option is in ../conftest.py),
no claim cache in the developer suite (nor in the paper-checks runs its tests start), and
the heavy modules first.

Profiles (select with HYPOTHESIS_PROFILE or --hypothesis-profile):

* ``dev`` (default): few examples for solver- and torch-backed properties, no deadline
  (solver and torch timings vary on a shared machine);
* ``ci`` (loaded automatically when CI is set): the same, derandomised, no example
  database, failing examples printed with their reproduction blob;
* ``thorough``: ten times the examples, for a local soak.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

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


def pytest_collection_finish(session):
    """The contract tests run the negative controls of the trained theorems on their seed-0
    runs at the CPU scale (theorems.zhang2024.runs). When they are selected, training those
    runs starts here, in worker processes, while the other tests run (as
    ``Claim.prepare`` does for paper_checks/); a run trains once either way, so this changes
    when it is trained, never what.

    Not under ``pytest -n`` without the plugin's share folder (a run of tests/ alone): every
    worker would train every family, each in a pool of its own, while a control runs on one
    worker and needs a few; there the worker that runs a control trains what it needs."""
    wanted = [item for item in session.items
              if item.originalname == "test_negative_controls_make_the_checks_fail"
              and "zhang2024." in item.name and "_encoding" in item.name]
    if not wanted:
        return
    from theorems.runshare import share_folder
    if os.environ.get("PYTEST_XDIST_WORKER") and share_folder() is None:
        return
    from theorems.zhang2024 import runs
    runs.prepare([(family, 0) for family in runs.FAMILIES])
