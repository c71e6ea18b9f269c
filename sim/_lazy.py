"""Lazy public APIs for packages: names listed in ``__all__``, imported on first use.

``import sim`` and ``import theorems`` stay cheap (the pytest plugin imports ``theorems``
in every pytest run of an environment) while ``sim.streams`` or ``theorems.max_margin``
load their module when first used (PEP 562).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Callable, Mapping, Sequence


def lazy_api(package: str, namespace: dict, api: Mapping[str, Sequence[str]],
             modules: Sequence[str] = ()) -> tuple[list[str], Callable, Callable]:
    """``(__all__, __getattr__, __dir__)`` for ``package`` whose globals are ``namespace``.

    ``api`` maps a module to the names it defines that the package exports; ``modules`` are
    submodules listed in ``__all__`` too. Any other submodule (``theorems.base``) still
    resolves on attribute access; an unknown name raises AttributeError.
    """
    where = {name: module for module, names in api.items() for name in names}
    public = sorted(set(where) | set(modules))

    def __getattr__(name: str):
        module = where.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            namespace[name] = value  # later lookups skip this function
            return value
        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return public, __getattr__, __dir__
