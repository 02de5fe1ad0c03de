"""Gold tables in memory, one snapshot per Delta version, read without a JVM (DuckDB + delta).

When a new version shows up in a table's `_delta_log`, DuckDB reads it with `delta_scan` and
orders it by every allowlisted sort; the rows and orders become an immutable `TableIndex`
that answers requests. The log is looked at for a table at most once every `refresh_s`
seconds, so a new version is served without a restart and the requests in between cost no
file system access.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from condolake.bench.duckdb_baseline import load_extensions
from condolake.errors import ConfigError
from condolake.lake.layout import Layer, table_path
from condolake.serving.index import TableIndex
from condolake.serving.queries import GOLD_SPECS, TableSpec, copy_statement

log = logging.getLogger(__name__)

DELTA_LOG = "_delta_log"
COMMIT_FILE = re.compile(r"(\d{20})\.json")
# How often a load is retried when a commit lands while the table is being copied.
LOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class DeltaVersion:
    version: int
    committed_at: dt.datetime  # UTC


def _commit_time(commit_file: Path) -> dt.datetime:
    """`commitInfo.timestamp` (ms since the epoch) of a commit, else the file's mtime."""
    with commit_file.open(encoding="utf-8") as lines:
        for line in lines:
            if '"commitInfo"' not in line:
                continue
            info = json.loads(line).get("commitInfo", {})
            millis = info.get("inCommitTimestamp", info.get("timestamp"))
            if isinstance(millis, int):
                return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
    return dt.datetime.fromtimestamp(commit_file.stat().st_mtime, tz=dt.UTC)


def latest_version(table_dir: Path) -> DeltaVersion | None:
    """The newest commit in `<table_dir>/_delta_log`, or None when there is no Delta table."""
    try:
        with os.scandir(table_dir / DELTA_LOG) as entries:
            numbers = [int(m.group(1)) for entry in entries
                       if (m := COMMIT_FILE.fullmatch(entry.name))]
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not numbers:
        return None
    version = max(numbers)
    commit_file = table_dir / DELTA_LOG / f"{version:020d}.json"
    try:
        return DeltaVersion(version, _commit_time(commit_file))
    except FileNotFoundError:  # removed by log cleanup between the listing and the read
        return latest_version(table_dir)


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
class _TableState:
    snapshot: Snapshot | None = None
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None  # why the latest version could not be read


class LakeReader:
    """Snapshots of the gold tables of one lake, shared by every request."""

    def __init__(self, lake_root: str, refresh_s: float, extension_dir: Path,
                 tables: Sequence[str] = tuple(GOLD_SPECS),
                 clock: Callable[[], float] = time.monotonic) -> None:
        if "://" in lake_root and not lake_root.startswith("file://"):
            raise ConfigError(f"the API serves a lake on the local file system, not {lake_root}")
        self._lake_root = lake_root.removeprefix("file://")
        self._refresh_s = refresh_s
        self._clock = clock
        self._states = {name: _TableState() for name in tables}
        self._extension_dir = extension_dir
        self._conn = duckdb.connect(":memory:")
        self._delta_loaded = False
        self._extension_lock = threading.Lock()

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self._states)

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
        state = self._states[table]
        return self._clock() - state.checked_at < self._refresh_s, state.snapshot

    def snapshot(self, table: str) -> Snapshot | None:
        """The table's current snapshot (None: no such Delta table), refreshed when due.

        While one thread loads a new version, the others keep answering from the old one.
        """
        state = self._states[table]
        if self._clock() - state.checked_at < self._refresh_s:
            return state.snapshot
        if not state.lock.acquire(blocking=state.snapshot is None):
            return state.snapshot
        try:
            if self._clock() - state.checked_at >= self._refresh_s:
                self._refresh(table, state)
            return state.snapshot
        finally:
            state.lock.release()

    def _refresh(self, table: str, state: _TableState) -> None:
        """Looks at the log; loads a version not seen yet. A version that cannot be read is
        logged and tried again after `refresh_s`; meanwhile the previous one is served."""
        try:
            version = latest_version(self.table_dir(table))
            current = state.snapshot
            if version is None:
                state.snapshot, state.failure = None, None
            elif current is None or current.version.version != version.version:
                state.snapshot, state.failure = self._load(GOLD_SPECS[table], version), None
        except (OSError, ValueError, duckdb.Error) as error:
            state.failure = f"{type(error).__name__}: {error}"
            log.error("gold table %s could not be read: %s", table, state.failure)
        finally:
            state.checked_at = self._clock()

    def failure(self, table: str) -> str | None:
        """Why the table's latest version could not be read, if it could not."""
        return self._states[table].failure

    def _load(self, spec: TableSpec, version: DeltaVersion) -> Snapshot:
        """Reads `version` and orders it every allowed way; if a newer commit lands meanwhile,
        reads that one instead, so the snapshot is exactly the version it is labelled with."""
        self._load_delta_extension()
        path = str(self.table_dir(spec.name))
        relation = f"load_{spec.name}"
        with self._conn.cursor() as cursor:  # temp tables are private to this cursor
            for _ in range(LOAD_ATTEMPTS):
                cursor.execute(copy_statement(spec, relation), [path])
                after = latest_version(Path(path))
                if after is None or after.version == version.version:
                    break
                version = after
            index = TableIndex.read(cursor, spec, relation)
        return Snapshot(spec, version, index)

    def close(self) -> None:
        self._conn.close()
