"""The package's layers, read from its source (docs/development/layout.md states them): every import
of every module, at the top or inside a function, relative or absolute, against the rules below. A
wrong arrow fails, naming the module and what it imports; so does a module that sits in no layer.

The layers, bottom up: ``runtime`` imports nothing of the package outside itself; ``core`` only
``core``, without an import cycle among its modules; ``tracking`` only ``runtime``, ``core`` and
``tracking``; ``sweep`` no ``analysis`` and no door; ``analysis`` no door. The doors sit on top and
may import anything; the package's ``__init__`` only ``core``."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = "imbalance_sweep"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE
LAYERS = ("runtime", "core", "tracking", "sweep", "analysis")  # the folders, bottom up
DOORS = ("cli", "app", "launch", "flip", "compare", "server", "keras_callback", "__main__")
ROOT = "__init__"  # the package's own __init__.py, as the messages name it
# what each layer may import of the package; the doors may import anything
MAY_IMPORT = {
    "runtime": lambda target: layer_of(target) == "runtime",
    "core": lambda target: layer_of(target) == "core",
    "tracking": lambda target: layer_of(target) in ("runtime", "core", "tracking"),
    "sweep": lambda target: layer_of(target) not in ("analysis", "door"),
    "analysis": lambda target: layer_of(target) != "door",
    ROOT: lambda target: layer_of(target) == "core",
}
RULES = {
    "runtime": "runtime imports nothing of the package outside runtime",
    "core": "core imports only core",
    "tracking": "tracking imports only runtime, core and tracking",
    "sweep": "sweep imports no analysis and no door",
    "analysis": "analysis imports no door",
    ROOT: "the package's __init__ imports only core",
}


def modules(root: Path) -> dict[str, Path]:
    """Each module of the package at ``root`` by its dotted name inside the package (a package's
    ``__init__.py`` by the package's name, the top one's as :data:`ROOT`)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts) or ROOT] = path
    return found


def layer_of(name: str) -> str | None:
    """``runtime`` ... ``analysis`` for a module in those folders, ``door`` for a door, :data:`ROOT`
    for the package's ``__init__``; None for a module in no layer."""
    first = name.split(".")[0]
    if first in LAYERS:
        return first
    if name in DOORS:
        return "door"
    return ROOT if name == ROOT else None


def _known(name: str, known: Mapping[str, Path]) -> str:
    """The longest prefix of ``name`` that is a module of the package (a name imported from a
    module is an arrow to that module; from the package itself, to its ``__init__``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return ROOT


def imported(name: str, path: Path, package: str, known: Mapping[str, Path]) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for each import of the package's modules anywhere in ``path``'s code."""
    is_package = path.name == "__init__.py"
    own = [] if name == ROOT else name.split(".")
    here = own if is_package else own[:-1]  # the package a relative import starts from
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(here):
                    raise AssertionError(f"{name}:{node.lineno}: a relative import beyond the package")
                base = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
                base_name = ".".join([package, *base])
            else:
                base_name = node.module or ""
            targets = [f"{base_name}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == package or target.startswith(f"{package}."):
                yield node.lineno, _known(target.removeprefix(package).removeprefix("."), known)


def arrows(root: Path, package: str = PACKAGE) -> dict[str, dict[str, int]]:
    """Each module's imports of the package: ``{module: {imported module: first line}}``."""
    known = modules(root)
    found: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        targets = found.setdefault(name, {})
        for line, target in imported(name, path, package, known):
            if target != name:
                targets.setdefault(target, line)
    return found


def wrong_arrows(root: Path, package: str = PACKAGE) -> list[str]:
    """One line per module in no layer and per import against its layer's rule."""
    wrong = []
    for name, targets in arrows(root, package).items():
        layer = layer_of(name)
        if layer is None:
            wrong.append(f"{name}: in no layer (a top-level module that is not a door: {', '.join(DOORS)})")
            continue
        if layer == "door":
            continue
        for target, line in targets.items():
            if not MAY_IMPORT[layer](target):
                wrong.append(f"{name} -> {target} (line {line}): {RULES[layer]}")
    return wrong


def cycles(graph: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """The import cycles of ``graph``: each strongly connected part of more than one module, sorted
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph.get(start, ())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1:
                    found.append(sorted(part))
    return sorted(found)


def core_cycles(root: Path, package: str = PACKAGE) -> list[list[str]]:
    """The import cycles among the modules of ``core``."""
    graph = {
        name: {target: line for target, line in targets.items() if layer_of(target) == "core"}
        for name, targets in arrows(root, package).items()
        if layer_of(name) == "core"
    }
    return cycles(graph)


# --- the package ------------------------------------------------------------------------------------


def test_every_module_sits_in_its_layer_and_imports_only_what_the_layer_may():
    found = arrows(SOURCE)
    # the checker reads the package, not an empty folder: arrows it must see are there
    assert len(found) > 50
    assert {"core.evaluation", "tracking.tracker", "sweep.config"} <= set(found["sweep.runner"])
    wrong = wrong_arrows(SOURCE)
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_core_has_no_import_cycle():
    found = core_cycles(SOURCE)
    assert not found, "import cycles in core (each: the modules of one):\n" + "\n".join(
        ", ".join(cycle) for cycle in found
    )


# --- the checker, on a package made for it ------------------------------------------------------------


def _package(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


ALLOWED = {
    "__init__.py": "from .core.a import f\n",
    "runtime/__init__.py": "",
    "runtime/signals.py": "",
    "core/__init__.py": "",
    "core/a.py": "from . import b\nfrom .b import g as f\n",
    "core/b.py": "import os\n\ndef g():\n    return os\n",
    "tracking/__init__.py": "",
    "tracking/client.py": "from ..core import a\nfrom ..runtime import signals\nimport pkg.core.b\n",
    "sweep/__init__.py": "",
    "sweep/runner.py": "from ..tracking.client import a\nfrom pkg.core.a import f\n",
    "analysis/__init__.py": "",
    "analysis/report.py": "from ..sweep import runner\nfrom .. import core\n",
    "cli.py": "from .analysis import report\nfrom .sweep import runner\n",
    "app.py": "from . import cli\nfrom .analysis.report import runner\n",
}


def test_the_checker_passes_a_package_whose_arrows_point_down(tmp_path):
    root = _package(tmp_path, ALLOWED)
    assert not wrong_arrows(root, "pkg")
    assert not core_cycles(root, "pkg")
    assert arrows(root, "pkg")["analysis.report"] == {"sweep.runner": 1, "core": 2}


def test_the_checker_names_every_wrong_arrow_and_a_module_in_no_layer(tmp_path):
    root = _package(
        tmp_path,
        {
            **ALLOWED,
            "__init__.py": "from .sweep import runner\n",
            "runtime/signals.py": "from ..core import b\n",
            # inside a function, relative: still an arrow
            "core/b.py": "def g():\n    from ..tracking import client\n    return client\n",
            "tracking/client.py": "import pkg.cli\n",
            "sweep/runner.py": "from pkg.analysis.report import x\n",
            "analysis/report.py": "if True:\n    from .. import app\n",
            "helpers.py": "",  # at the top, not a door
        },
    )
    assert sorted(wrong_arrows(root, "pkg")) == [
        "__init__ -> sweep.runner (line 1): the package's __init__ imports only core",
        "analysis.report -> app (line 2): analysis imports no door",
        "core.b -> tracking.client (line 2): core imports only core",
        f"helpers: in no layer (a top-level module that is not a door: {', '.join(DOORS)})",
        "runtime.signals -> core.b (line 1): runtime imports nothing of the package outside runtime",
        "sweep.runner -> analysis.report (line 1): sweep imports no analysis and no door",
        "tracking.client -> cli (line 1): tracking imports only runtime, core and tracking",
    ]


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    root = _package(
        tmp_path,
        {
            **ALLOWED,
            "core/b.py": "def g():\n    from .c import h\n    return h\n",
            "core/c.py": "from .a import f as h\n",
        },
    )
    assert core_cycles(root, "pkg") == [["core.a", "core.b", "core.c"]]
