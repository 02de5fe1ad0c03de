"""The package never imports the benchmarks: they live outside it and are not in the wheel."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _is_benchmarks(module: str) -> bool:
    return module.split(".")[0] == "benchmarks" or module.startswith("condolake.bench")


def test_no_module_in_src_imports_the_benchmarks() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(filter(_is_benchmarks, _imported_modules(path)))
        for path in SRC.rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_the_scan_sees_an_import_of_the_benchmarks(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from benchmarks.serve import run_serve_benchmark\n")
    assert list(filter(_is_benchmarks, _imported_modules(module))) == ["benchmarks.serve"]


def test_the_package_has_no_bench_folder() -> None:
    assert not (SRC / "condolake" / "bench").exists()
