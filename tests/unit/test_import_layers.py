"""The package's import structure: layers that only import downward (the import-linter
contract in pyproject.toml), no import cycle between modules, and no private name used across
modules.

The contract is checked by `lint-imports` itself, on the real tree and on a copy of it with
one upward import added, so a contract that could never fail would be caught here.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = PROJECT / "src" / "condolake"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path, source: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package under `source`, with `project`'s pyproject.toml."""
    environment = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project, env=environment, capture_output=True, text=True, check=False,
    )


def test_the_layer_contract_is_kept() -> None:
    result = lint_imports(PROJECT, PROJECT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "src" / "condolake"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    upward = copy / "transforms" / "__init__.py"
    upward.write_text(upward.read_text(encoding="utf-8")
                      + "\nfrom condolake.serving import api  # noqa: E402,F401\n",
                      encoding="utf-8")

    result = lint_imports(tmp_path, tmp_path / "src")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 1 broken." in result.stdout
    assert ("condolake.transforms is not allowed to import condolake.serving:"
            in result.stdout)
    assert "condolake.transforms -> condolake.serving.api" in result.stdout


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The groups of two or more modules that import each other, directly or not (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(imports.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_cycles_finds_a_cycle_and_only_it() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(imports) == [["a", "b", "c"]]


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("condolake")
    imports = {module: graph.find_modules_directly_imported_by(module)
               for module in graph.modules}
    assert cycles(imports) == []


def python_files() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def private_imports(path: Path, modules: set[str]) -> Iterator[str]:
    """`from condolake.x import _name` and `module._name` for an imported condolake module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("condolake"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{path.name}:{node.lineno} from {node.module} import {alias.name}"
                if f"{node.module}.{alias.name}" in modules:
                    module_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("condolake") and alias.asname:
                    module_aliases.add(alias.asname)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            yield f"{path.name}:{node.lineno} {node.value.id}.{node.attr}"


def test_private_imports_are_found(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from condolake.services.daemons import _alive, Daemon\n"
                      "from condolake.lake import delta\n"
                      "delta._retry(1)\ndelta.retrying(2)\n", encoding="utf-8")
    modules = {"condolake.lake.delta", "condolake.services.daemons"}
    assert list(private_imports(sample, modules)) == [
        "sample.py:1 from condolake.services.daemons import _alive",
        "sample.py:3 delta._retry",
    ]


def test_no_private_name_is_used_across_modules() -> None:
    modules = set(grimp.build_graph("condolake").modules)
    found = [use for path in python_files() for use in private_imports(path, modules)]
    assert found == []
