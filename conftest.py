"""Options shared by both suites (tests/ and paper_checks/): the slow, paper-scale tier.

The paper-checks plugin (``theorems.pytest_plugin``, installed with the package) adds
``--paper-scale``; ``--runslow`` is this repository's alias of it. Either runs every test
marked ``slow`` here (the plugin itself skips only slow *claim* tests, in any repository).
"""

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", dest="paper_scale",
                     help="alias of --paper-scale: also run tests marked slow (the paper-scale tier)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("paper_scale"):
        return
    skip = pytest.mark.skip(reason="slow / paper-scale: run with --runslow or --paper-scale")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
