"""What a cached result depends on: the source closure of its modules, and the stack.

:func:`source_closure` follows the imports of a set of modules, transitively, by static
analysis of their source (``ast``): module-level imports and imports inside functions,
relative imports, ``importlib.import_module("...")`` with a literal name, and attributes of
imported packages (``theorems.max_margin``, ``from sim import train``), resolved through the
package's lazy API to the module that defines them. It keeps the modules of the *project*:
the packages this package ships (``theorems``, ``sim``), the theorem packages the registry
walks (entry points, ``REPRESENTATION_THEOREMS_EXTRA``), the packages of the modules it
starts from, and any module whose file lies outside the standard library and the
site-packages folders (a user's own code). The standard library and installed third-party
packages are covered by :func:`stack` instead (versions, machine; torch's CPU capability and
device through :func:`torch_facts`, where :func:`imports_torch` says a closure needs them).
Finding a closure imports no third-party package itself (a project package's lazy API may,
to say which module defines a name it exports). Anything
it cannot decide is kept: a name that cannot be resolved enters the closure as unresolved,
a file that cannot be parsed enters with its bytes' hash.

The closure says which files were read, not what a computation did: data files a
measurement opens at run time, or code reached through computed import names, are not in
it (the README says so).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import os
import platform
import site
import sys
import sysconfig
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

OWN_PACKAGES = ("theorems", "sim")
# the numerical stack whose versions every key records (absent ones as None)
STACK = ("numpy", "scipy", "torch", "cvxpy", "clarabel", "sympy", "scikit-learn",
         "hypothesis", "matplotlib", "python-flint", "threadpoolctl", "representation-theorems")
UNRESOLVED = "unresolved"  # the digest of a module name that resolves to no file


@cache
def _third_party_roots() -> tuple[str, ...]:
    """Folders of installed code (site-packages) and of the standard library."""
    roots = set(site.getsitepackages()) | {site.getusersitepackages()}
    paths = sysconfig.get_paths()
    roots |= {paths[k] for k in ("purelib", "platlib", "stdlib", "platstdlib") if k in paths}
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots if r))


def _file_of(name: str) -> str | None:
    """The file module ``name`` is loaded from (a package's ``__init__.py``), or None when
    it has none (builtin, frozen, namespace) or cannot be found. Never imports ``name``
    itself; finding a submodule imports its parent packages."""
    module = sys.modules.get(name)
    if module is not None:
        path = getattr(module, "__file__", None)
        return os.path.realpath(path) if path else None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    except Exception:  # a parent package's __init__ raised: keep the name (conservative)
        return None
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return os.path.realpath(spec.origin)


def _in_project(name: str, file: str | None, packages: frozenset[str]) -> bool:
    top = name.partition(".")[0]
    if top in packages:
        return True
    if file is None or top in sys.stdlib_module_names:
        return False
    return not file.startswith(_third_party_roots())


def _third_party_tree(name: str, packages: frozenset[str]) -> bool:
    """Whether ``name`` lies in an installed third-party or standard-library package, decided
    from its top-level package alone: finding a submodule's file would import its parents
    (torch, for ``torch.cuda``), which a key must not do."""
    top = name.partition(".")[0]
    if top in packages:
        return False
    if top in sys.stdlib_module_names:
        return True
    file = _file_of(top)
    return file is not None and file.startswith(_third_party_roots())


def _package_of(name: str, file: str | None) -> str:
    """The package a module's relative imports start from."""
    return name if file and Path(file).name == "__init__.py" else name.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if not node.level:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else [])) or None


@cache
def _parse(file: str) -> tuple[str, ast.AST | None]:
    """(sha256 of the file's bytes, its syntax tree or None when it is not Python source)."""
    data = Path(file).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not file.endswith(".py"):
        return digest, None
    try:
        return digest, ast.parse(data, filename=file)
    except (SyntaxError, ValueError):
        return digest, None


def _imports(name: str, file: str, tree: ast.AST) -> tuple[set[str], set[tuple[str, str]]]:
    """(modules the source imports, (module, attribute) pairs it reads from them)."""
    package = _package_of(name, file)
    modules: set[str] = set()
    attrs: set[tuple[str, str]] = set()
    bound: dict[str, str] = {}  # local name -> the module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules.add(alias.name)
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if base is None:
                continue
            modules.add(base)
            for alias in node.names:
                if alias.name != "*":
                    attrs.add((base, alias.name))
        elif isinstance(node, ast.Call) and node.args and _is_import_call(node.func):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                target = arg.value
                if target.startswith("."):
                    level = len(target) - len(target.lstrip("."))
                    fake = ast.ImportFrom(module=target.lstrip(".") or None, names=[], level=level)
                    target = _absolute(fake, package) or ""
                if target:
                    modules.add(target)
    for node in ast.walk(tree):  # attributes of imported modules: pkg.name, pkg.sub.name
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in bound and chain:
            prefix = bound[node.id]
            for attr in reversed(chain):
                attrs.add((prefix, attr))
                prefix = f"{prefix}.{attr}"
    return modules, attrs


def _is_import_call(func: ast.AST) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _defines(name: str, attr: str) -> bool:
    """Whether module ``name`` holds ``attr`` at its top level (loaded, or by its source)."""
    module = sys.modules.get(name)
    if module is not None:
        return attr in vars(module)
    file = _file_of(name)
    if file is None:
        return False
    tree = _parse(file)[1]
    if tree is None:
        return False
    for node in getattr(tree, "body", []):
        targets = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            targets = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                targets += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            targets = [a.asname or a.name.partition(".")[0] for a in node.names]
        if attr in targets:
            return True
    return False


def _attribute_modules(parent: str, attr: str) -> set[str]:
    """The modules that define ``parent.attr``: the submodule of that name, or the module
    an object of that name comes from (a package's lazy API), or the modules the package's
    source names that define it (for plain constants)."""
    if attr.startswith("__"):  # a module's own dunders (__path__, __file__) name no code
        return set()
    sub = f"{parent}.{attr}"
    if sub in sys.modules or _file_of(sub) is not None:
        return {sub}
    found: set[str] = set()
    module = sys.modules.get(parent)
    if module is not None:
        try:
            obj = getattr(module, attr)
        except Exception:  # a lazy API that fails to resolve: the package's text decides
            obj = None
        if inspect.ismodule(obj):
            found.add(obj.__name__)
        elif (inspect.isclass(obj) or inspect.isroutine(obj)) and isinstance(
                getattr(obj, "__module__", None), str):
            found.add(obj.__module__)
    file = _file_of(parent)
    if file is not None and Path(file).name == "__init__.py" and _parse(file)[1] is not None:
        top = parent.partition(".")[0]
        for node in ast.walk(_parse(file)[1]):  # the lazy API's table: "pkg.module" strings
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and node.value.partition(".")[0] == top and node.value.isascii()
                    and all(p.isidentifier() for p in node.value.split("."))
                    and _file_of(node.value) is not None and _defines(node.value, attr)):
                found.add(node.value)
    return found


def project_packages(extra=()) -> frozenset[str]:
    """The top-level packages whose modules enter a closure: this package's, the
    registry's theorem packages, and ``extra``."""
    from theorems import registry
    names = set(OWN_PACKAGES) | {s.package for s in registry.sources()} | set(extra)
    return frozenset(n.partition(".")[0] for n in names)


def source_closure(roots, packages: frozenset[str] | None = None) -> dict[str, str]:
    """``{module name: sha256 of its file}`` for ``roots`` and every project module they
    import, transitively; parent packages count (their ``__init__`` runs on import). A
    project name that resolves to no file maps to ``UNRESOLVED``."""
    roots = [r for r in roots if r]
    if packages is None:
        packages = project_packages(roots)
    out: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        parts = name.split(".")
        if parts[0] not in packages and parts[0] in sys.stdlib_module_names:
            continue
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        if len(parts) > 1 and _third_party_tree(name, packages):
            continue
        file = _file_of(name)
        if not _in_project(name, file, packages):
            continue
        if file is None or not os.path.isfile(file):
            out[name] = UNRESOLVED
            continue
        out[name] = _parse(file)[0]
        todo += _dependencies(name, file, packages)
    return dict(sorted(out.items()))


@cache
def _dependencies(name: str, file: str, packages: frozenset[str]) -> list[str]:
    """The modules that module ``name`` (loaded from ``file``) may import (unfiltered)."""
    tree = _parse(file)[1]
    if tree is None:
        return []
    modules, attrs = _imports(name, file, tree)
    found = sorted(modules)
    for parent, attr in sorted(attrs):
        if not _third_party_tree(parent, packages) and _in_project(parent, _file_of(parent),
                                                                      packages):
            found += sorted(_attribute_modules(parent, attr))
    return found


def forget_sources() -> None:
    """Drop the parsed sources (after files were edited in this process)."""
    _parse.cache_clear()
    _dependencies.cache_clear()
    _top_level_imports.cache_clear()


@cache
def cpu() -> dict:
    """This machine's CPU: ``vendor`` (the CPUID vendor, e.g. GenuineIntel, AuthenticAMD) and
    ``model``, from /proc/cpuinfo on Linux, else what :mod:`platform` says (None where
    nothing does). Trained networks' float32 values depend on the vendor even on pinned
    kernels (README "What is bit-identical"), so keys and reports record it."""
    vendor = model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                name = name.strip()
                if name == "vendor_id" and vendor is None:
                    vendor = value.strip() or None
                elif name == "model name" and model is None:
                    model = value.strip() or None
                if vendor and model:
                    break
    except OSError:
        pass
    return {"vendor": vendor or platform.processor() or None, "model": model}


def stack(torch: bool = True) -> dict:
    """Versions of Python and the numerical stack, the machine (its CPU vendor included) and,
    unless ``torch`` is false, :func:`torch_facts` (reading them loads torch): this
    process's, read once (a fresh copy each call)."""
    out = dict(_stack())
    if torch:
        out.update(torch_facts())
    return out


def torch_facts() -> dict:
    """torch's CPU capability (the widest kernels it dispatches to) and the device, ``cpu``
    or ``cuda (<GPU name>)``: this process's, read once (loads torch; a fresh copy)."""
    return dict(_torch_facts())


@cache
def _stack() -> dict:
    out = {"python": sys.version, "implementation": sys.implementation.name,
           "machine": platform.machine(), "system": platform.system(),
           "cpu_vendor": cpu()["vendor"]}
    for dist in STACK:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


@cache
def _torch_facts() -> dict:
    try:
        import torch
        return {"torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "device": (f"cuda ({torch.cuda.get_device_name(0)})"
                           if torch.cuda.is_available() else "cpu")}
    except Exception as exc:  # no torch, or a torch without the query: say so in the key
        return {"torch_cpu_capability": f"unknown ({type(exc).__name__})"}


def imports_torch(sources) -> bool:
    """Whether a module of ``sources`` (a :func:`source_closure`) imports torch when it is
    imported: an ``import`` of torch or of a torch module outside every function body.
    An import inside a function is not seen here; the cache checks what a measurement
    loaded instead (:mod:`theorems.cache`)."""
    for name, digest in sources.items():
        file = None if digest == UNRESOLVED else _file_of(name)
        if file is not None and "torch" in _top_level_imports(file):
            return True
    return False


@cache
def _top_level_imports(file: str) -> frozenset[str]:
    """The top-level package names a module imports outside its function bodies."""
    tree = _parse(file)[1]
    if tree is None:
        return frozenset()
    found: set[str] = set()
    todo = list(getattr(tree, "body", []))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name.partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.partition(".")[0])
        todo += list(ast.iter_child_nodes(node))
    return frozenset(found)
