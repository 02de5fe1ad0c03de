"""Gold tables in memory, one snapshot per Delta version, read without a JVM (DuckDB + delta).

Which version to serve comes from `lake/versions.py`.

When a new gold set is published (`lake/gold_set.py`), DuckDB reads each table at the set's
version with `delta_scan` and orders it by every allowlisted sort; the rows and orders become
an immutable `TableIndex` that answers requests. The set is looked at at most once every
`refresh_s` seconds, so a new one is served without a restart and the requests in between
cost no file system access.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from condolake.errors import ConfigError
from condolake.lake.gold_set import is_local
from condolake.lake.versions import DeltaVersion, served_versions
from condolake.layout import Layer, table_path
from condolake.services.duckdb_extensions import load_extensions
from condolake.serving.index import TableIndex
from condolake.serving.queries import TableSpec, copy_statement, gold_specs

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Snapshot:
    """One version of a gold table, in memory."""

    spec: TableSpec
    version: DeltaVersion
    index: TableIndex

    @property
    def tipos(self) -> list[str]:
        return [str(v) for v in self.index.distinct("tipo")]


@dataclass
class _Served:
    """What is being served: one snapshot per table (None: not built), switched together."""

    snapshots: dict[str, Snapshot | None]
    checked_at: float = float("-inf")
    failures: dict[str, str] = field(default_factory=dict)  # why a table could not be read


class LakeReader:
    """Snapshots of the gold tables of one lake, shared by every request.

    The tables are read at the versions of the published gold set (`lake/gold_set.py`), which
    one update produced together, so every answer comes from marts that agree with each other;
    a new set is switched to only once all its tables are loaded. A lake where no set was
    published yet is read at each table's latest version.
    """

    def __init__(self, lake_root: str, refresh_s: float, extension_dir: Path,
                 tables: Sequence[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not is_local(lake_root):
            raise ConfigError(f"the API serves a lake on the local file system, not {lake_root}")
        self._lake_root = lake_root.removeprefix("file://")
        self._refresh_s = refresh_s
        self._clock = clock
        self._tables = tuple(gold_specs() if tables is None else tables)
        self._served = _Served(dict.fromkeys(self._tables))
        self._lock = threading.Lock()
        self._extension_dir = extension_dir
        self._conn = duckdb.connect(":memory:")
        self._delta_loaded = False
        self._extension_lock = threading.Lock()

    @property
    def tables(self) -> tuple[str, ...]:
        return self._tables

    def table_dir(self, table: str) -> Path:
        return Path(table_path(self._lake_root, Layer.GOLD, table))

    def _load_delta_extension(self) -> None:
        """Loads the delta extension once, when the first table is read (it is large)."""
        with self._extension_lock:
            if not self._delta_loaded:
                self._extension_dir.mkdir(parents=True, exist_ok=True)
                load_extensions(self._conn, self._extension_dir, ["delta"])
                self._delta_loaded = True

    def cached_snapshot(self, table: str) -> tuple[bool, Snapshot | None]:
        """(fresh, snapshot) without touching the disk: fresh when checked within refresh_s."""
        served = self._served
        return self._clock() - served.checked_at < self._refresh_s, served.snapshots[table]

    def snapshot(self, table: str) -> Snapshot | None:
        """The table's snapshot in the served set (None: no such Delta table), refreshed when
        due."""
        return self.snapshots(blocking_for=table)[table]

    def snapshots(self, blocking_for: str | None = None) -> Mapping[str, Snapshot | None]:
        """Every table's snapshot, all from one set, refreshed when due. While one thread
        loads a new set, the others keep answering from the old one (a thread asking for a
        table nothing is served of yet, or for all when nothing is served, waits for it)."""
        served = self._served
        if self._clock() - served.checked_at < self._refresh_s:
            return served.snapshots
        waits = (all(snapshot is None for snapshot in served.snapshots.values())
                 if blocking_for is None else served.snapshots[blocking_for] is None)
        if not self._lock.acquire(blocking=waits):
            return served.snapshots
        try:
            if self._clock() - self._served.checked_at >= self._refresh_s:
                self._refresh()
            return self._served.snapshots
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        """Looks at the published set; loads the versions not served yet. If the set or one of
        its tables cannot be read, that is logged and the whole set tried again after
        `refresh_s`; meanwhile the previous set is served."""
        current = self._served
        checked_at = self._clock()
        try:
            wanted = served_versions(self._lake_root, self._tables)
        except (OSError, ValueError) as error:
            why = f"the published gold set could not be read: {type(error).__name__}: {error}"
            log.error("%s", why)
            self._served = _Served(current.snapshots, checked_at, dict.fromkeys(self._tables, why))
            return
        snapshots, failures = dict(current.snapshots), {}
        for table, version in wanted.items():
            served = current.snapshots[table]
            if version is None:
                snapshots[table] = None
            elif served is None or served.version.version != version.version:
                try:
                    snapshots[table] = self._load(gold_specs()[table], version)
                except (OSError, ValueError, duckdb.Error) as error:
                    failures[table] = f"{type(error).__name__}: {error}"
                    log.error("gold table %s could not be read: %s", table, failures[table])
        if failures:
            held = f"held back with its set, as {', '.join(sorted(failures))} could not be read"
            self._served = _Served(current.snapshots, checked_at,
                                   {**dict.fromkeys(self._tables, held), **failures})
        else:
            self._served = _Served(snapshots, checked_at)

    def failure(self, table: str) -> str | None:
        """Why the table's version in the latest set could not be served, if it could not."""
        return self._served.failures.get(table)

    def _load(self, spec: TableSpec, version: DeltaVersion) -> Snapshot:
        """Reads exactly `version` (time travel) and orders it every allowed way."""
        self._load_delta_extension()
        relation = f"load_{spec.name}"
        with self._conn.cursor() as cursor:  # temp tables are private to this cursor
            cursor.execute(copy_statement(spec, relation, "delta_scan(?, version := ?)"),
                           [str(self.table_dir(spec.name)), version.version])
            index = TableIndex.read(cursor, spec, relation)
        return Snapshot(spec, version, index)

    def close(self) -> None:
        self._conn.close()
