"""Versions of the lake's Delta tables and when they were committed, read with the `deltalake`
package (delta-rs): no JVM, and no parsing of `_delta_log` by hand.

The API serves the gold tables at these versions; health reports how old they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from condolake.lake.gold_set import read_published
from condolake.layout import Layer, table_path

MILLIS_PER_SECOND = 1000


@dataclass(frozen=True)
class DeltaVersion:
    version: int
    committed_at: dt.datetime  # UTC


def latest_version(table_dir: Path) -> DeltaVersion | None:
    """The table's newest version and its commit time, or None when there is no Delta table;
    OSError when its log cannot be read."""
    table = _open(table_dir)
    if table is None:
        return None
    version = table.version()
    return DeltaVersion(version, _commit_time(table, version) or _file_time(
        table_dir, version, fallback=dt.datetime.now(tz=dt.UTC)))


def version_at(table_dir: Path, version: int, published_at: dt.datetime) -> DeltaVersion:
    """`version` of the table with its commit time (its log entry cleaned up: `published_at`,
    when the set that names it was published, which is no earlier)."""
    table = _open(table_dir)
    committed_at = _commit_time(table, version) if table is not None else None
    return DeltaVersion(version, committed_at or _file_time(table_dir, version, published_at))


def served_versions(lake_root: str, tables: Sequence[str]) -> dict[str, DeltaVersion | None]:
    """The version of each gold table readers are served: the published gold set's (None: not
    in the set), or each table's latest while no set was published yet (a lake written by an
    older CondoLake). OSError or ValueError when the published set cannot be read."""
    published = read_published(lake_root)

    def folder(table: str) -> Path:
        return Path(table_path(lake_root, Layer.GOLD, table))

    if published is None:
        return {table: latest_version(folder(table)) for table in tables}
    return {table: version_at(folder(table), published.gold[table], published.published_at)
            if table in published.gold else None for table in tables}


def _open(table_dir: Path) -> DeltaTable | None:
    """The Delta table in `table_dir` at its latest version; None when there is none.
    OSError when there is one that cannot be read."""
    if not table_dir.is_dir():
        return None
    try:
        return DeltaTable(str(table_dir))
    except TableNotFoundError:  # no _delta_log, or no commit in it yet
        return None
    except DeltaError as error:
        raise OSError(f"the Delta table in {table_dir} cannot be read: {error}") from error


def _commit_time(table: DeltaTable, version: int) -> dt.datetime | None:
    """The commit's own timestamp (in-commit timestamp first), None if the commit has none."""
    newer = table.version() - version
    if newer < 0:
        return None
    entry: dict[str, Any]
    for entry in table.history(newer + 1):
        if entry.get("version") != version:
            continue
        millis = entry.get("inCommitTimestamp", entry.get("timestamp"))
        if isinstance(millis, int):
            return dt.datetime.fromtimestamp(millis / MILLIS_PER_SECOND, tz=dt.UTC)
    return None


def _file_time(table_dir: Path, version: int, fallback: dt.datetime) -> dt.datetime:
    """When the commit file was written, for a commit without a timestamp of its own."""
    try:
        mtime = (table_dir / "_delta_log" / f"{version:020d}.json").stat().st_mtime
    except OSError:
        return fallback
    return dt.datetime.fromtimestamp(mtime, tz=dt.UTC)
