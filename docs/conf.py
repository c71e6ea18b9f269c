"""Sphinx configuration: the API reference of representation-theorems, from the docstrings.

Built with warnings as errors (``python -m sphinx -W -b html docs docs/_build``), which
tests/test_docs.py does in the test suite.
"""

project = "representation-theorems"
author = "representation-theorems contributors"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the signatures show them; docstrings say what they mean
autodoc_default_options = {"members": True, "show-inheritance": False}
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = []
