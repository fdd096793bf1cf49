"""The code imports in one direction, as the README's "Architecture" draws it: views and
commands use the operations, which use the schemas and the mail package, which use the
models; nothing imports a layer above it, and no modules import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Each layer, and the packages (or modules) above it that it must never import.
NEVER_IMPORTS = {
    "shared.models": ("shared.schemas", "shared.mail", "shared.operations", "shared.reports"),
    "shared.schemas": ("shared.mail", "shared.operations", "shared.reports"),
    "shared.mail": ("shared.schemas", "shared.operations", "shared.reports"),
    "shared.operations": ("shared.reports", "shared.web", "shared.cli", "intake", "responder"),
    "shared.reports": ("shared.web", "shared.cli", "intake", "responder"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("shared", "intake", "responder"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The project's modules a file imports (``from package import module`` counts as the
    module, not the package's ``__init__``), function-local imports included."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            submodules = {name for name in names if name in MODULES}
            imported |= submodules if len(submodules) == len(names) else {node.module}
    return imported & MODULES.keys()


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("layer", NEVER_IMPORTS)
def test_no_layer_imports_one_above_it(layer):
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _within(module, layer)
        for target in targets
        if any(_within(target, above) for above in NEVER_IMPORTS[layer])
    )
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    cycles = []
    for start in sorted(GRAPH):
        # Depth-first from each module, looking for a way back to it.
        stack, seen = [(start, [start])], set()
        while stack:
            module, path = stack.pop()
            for target in sorted(GRAPH[module]):
                if target == start:
                    cycles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert cycles == []
