"""Options shared by both suites (tests/ and paper_checks/): the slow, paper-scale tier."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", "--paper-scale", action="store_true", dest="runslow",
                     help="also run tests marked slow (the paper-scale tier)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("runslow"):
        return
    skip = pytest.mark.skip(reason="slow / paper-scale: run with --runslow or --paper-scale")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
