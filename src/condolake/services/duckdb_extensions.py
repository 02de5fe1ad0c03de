"""DuckDB extensions from their PyPI wheels (DuckDB cannot download them here), loaded by path."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

import duckdb

from condolake.errors import DependencyError

# The postgres extension only loads under the name DuckDB gives it internally.
EXTENSION_FILE_NAMES = {"postgres": "postgres_scanner.duckdb_extension",
                        "delta": "delta.duckdb_extension"}


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def extension_file(name: str) -> Path:
    """The extension shipped in the `duckdb-extension-<name>` wheel for this DuckDB."""
    try:
        package = import_module(f"duckdb_extension_{name}")
    except ImportError as error:
        raise DependencyError(f"pip package duckdb-extension-{name} is not installed") from error
    root = Path(package.__file__ or "").parent
    candidates = sorted(root.rglob("*.duckdb_extension"))
    matching = [path for path in candidates if f"v{duckdb.__version__}" in path.parts]
    if not (matching or candidates):
        raise DependencyError(f"no .duckdb_extension file in {root}")
    return (matching or candidates)[0]


def load_extensions(conn: duckdb.DuckDBPyConnection, folder: Path,
                    names: Sequence[str]) -> None:
    """Loads extensions by path, from copies in `folder` named as DuckDB expects."""
    conn.execute("SET autoinstall_known_extensions = false")
    conn.execute("SET autoload_known_extensions = false")
    for name in names:
        target = folder / EXTENSION_FILE_NAMES[name]
        if not target.exists():
            shutil.copyfile(extension_file(name), target)
        conn.execute(f"LOAD {sql_string(str(target))}")
