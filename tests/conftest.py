"""Developer-suite configuration: Hypothesis profiles and the slow-test option.

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


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
