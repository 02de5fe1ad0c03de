"""What `condolake maintain` does to the lake, decided from listings and settings (no I/O here).

* every Delta table `<lake>/<layer>/<table>` is compacted (OPTIMIZE) and vacuumed;
* VACUUM keeps the files of the last `retention_h` hours, at least a week: a running stream,
  a reader on an older snapshot or a time-travel query may still need them;
* a checkpoint folder under `<lake>/_checkpoints/` that no streaming query uses is removed;
* rows of `ops/change_positions` that no query can read again are deleted (see
  `PositionsRule`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from condolake.errors import ConfigError
from condolake.layout import Layer, table_path
from condolake.pipelines.stream_silver import CDC_SOURCE, LANDING_SOURCE
from condolake.source.tables import SOURCE_TABLES
from condolake.streaming.queries import KAFKA, LANDING, QUERY_NAMES

MIN_RETENTION_H = 168  # Delta's own safety floor: 7 days
DELTA_LOG = "_delta_log"
# Spark refuses a VACUUM below Delta's floor unless this is false (tests only).
RETENTION_CHECK_CONF = "spark.databricks.delta.retentionDurationCheck.enabled"
# The query that reads each source's per-key positions (pipelines/stream_silver.py).
POSITION_QUERIES = {CDC_SOURCE: KAFKA, LANDING_SOURCE: LANDING}


class RetentionError(ConfigError):
    """A VACUUM retention below the safe minimum, without --unsafe-retention."""


def retention_hours(requested: float | None, configured: float, *, unsafe: bool = False) -> float:
    """The VACUUM retention to use: `requested` (--retention-hours) or the setting.

    Below MIN_RETENTION_H VACUUM could delete files a running stream or a reader still needs,
    so it is refused unless `unsafe` (tests, which own their lake).
    """
    hours = float(configured if requested is None else requested)
    source = ("--retention-hours" if requested is not None
              else "CONDOLAKE_VACUUM_RETENTION_H")
    if hours < 0:
        raise RetentionError(f"{source} must not be negative (got {hours:g})")
    if hours < MIN_RETENTION_H and not unsafe:
        raise RetentionError(
            f"VACUUM retention {hours:g} h ({source}) is below the safe minimum of "
            f"{MIN_RETENTION_H} h (7 days): files that a running stream or a reader of an "
            f"older version still needs could be deleted; use {MIN_RETENTION_H} or more"
        )
    return hours


@dataclass(frozen=True, order=True)
class LakeTable:
    layer: Layer
    name: str

    def path(self, lake_root: str) -> str:
        return table_path(lake_root, self.layer, self.name)

    def __str__(self) -> str:
        return f"{self.layer.value}/{self.name}"


def lake_tables(listing: Mapping[str, Mapping[str, Collection[str]]]) -> list[LakeTable]:
    """The Delta tables of a lake listing: layer folder -> table folder -> entries in it.

    A folder is a table when it holds a `_delta_log`; folders of unknown layers (such as
    `_checkpoints`) are not tables of the lake. Ordered by layer (bronze first), then name.
    """
    order = list(Layer)
    tables = [
        LakeTable(Layer(layer), name)
        for layer, folders in listing.items() if layer in {member.value for member in Layer}
        for name, entries in folders.items() if DELTA_LOG in entries
    ]
    return sorted(tables, key=lambda table: (order.index(table.layer), table.name))


def orphan_checkpoints(folders: Iterable[str],
                       queries: Collection[str] = QUERY_NAMES) -> list[str]:
    """Checkpoint folders of queries that no longer exist (hidden entries are left alone)."""
    return sorted(name for name in folders if name not in queries and not name.startswith("."))


@dataclass(frozen=True)
class PositionsRule:
    """Which rows of ops/change_positions can go: those no query could need again.

    A row (source, table, key) -> order records a delete or a rejected version (a change that
    left no silver row to carry its order). It is read by that source's query, to drop a late
    event older than it, and (source kafka) by the batch, to leave stream-owned keys alone.
    Pruning by age is unsafe: a late or replayed event can come at any time and a forgotten
    delete would bring the row back. What no query reads again:
      * rows of a source or table the code does not know (nothing reads them);
      * rows of a source whose query has no checkpoint: its next start replays its source
        from the beginning, exactly as after `condolake stream reset`, which forgets the
        same rows.
    While a stream process runs, a missing checkpoint may be one being created, so only the
    first kind goes. Rows updated after `planned_at` are always kept (a query that started
    since the plan was made).
    """

    keep_sources: tuple[str, ...]
    tables: tuple[str, ...]
    planned_at: dt.datetime

    def is_prunable(self, source: str, table: str, updated_at: dt.datetime | None) -> bool:
        if updated_at is None or updated_at >= self.planned_at:
            return False
        return source not in self.keep_sources or table not in self.tables

    def condition(self) -> str:
        """The same rule as a Spark SQL predicate over ops/change_positions."""
        micros = int(self.planned_at.timestamp()) * 1_000_000 + self.planned_at.microsecond
        needed = (f"source IN ({_sql_list(self.keep_sources)}) "
                  f"AND `table` IN ({_sql_list(self.tables)})") if self.keep_sources else "false"
        return f"NOT ({needed}) AND updated_at < timestamp_micros({micros})"


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def positions_rule(checkpoints: Collection[str], stream_running: bool,
                   planned_at: dt.datetime) -> PositionsRule:
    """The rule for a lake whose `_checkpoints/` holds `checkpoints` (query folder names)."""
    keep = tuple(sorted(
        source for source, query in POSITION_QUERIES.items()
        if stream_running or query in checkpoints
    ))
    return PositionsRule(keep, tuple(table.name for table in SOURCE_TABLES), planned_at)


@dataclass(frozen=True)
class MaintenancePlan:
    tables: tuple[LakeTable, ...]
    retention_h: float
    unsafe_retention: bool
    orphan_checkpoints: tuple[str, ...]
    positions: PositionsRule | None  # None: there is no positions table

    def describe(self) -> list[str]:
        lines = [f"OPTIMIZE and VACUUM (retention {self.retention_h:g} h"
                 + (", unsafe: tests only" if self.unsafe_retention else "")
                 + f") {len(self.tables)} tables"]
        lines += [f"  {table}" for table in self.tables]
        lines.append("remove checkpoints of queries that no longer exist: "
                     + (", ".join(self.orphan_checkpoints) or "none"))
        if self.positions is None:
            lines.append("ops/change_positions: no table, nothing to prune")
        else:
            kept = ", ".join(self.positions.keep_sources) or "none"
            lines.append(f"ops/change_positions: keep the rows of sources whose query may "
                         f"need them ({kept}), prune the rest")
        return lines


def make_plan(listing: Mapping[str, Mapping[str, Collection[str]]], checkpoints: Iterable[str],
              *, retention_h: float, unsafe_retention: bool, stream_running: bool,
              planned_at: dt.datetime, positions_table: str) -> MaintenancePlan:
    """Everything maintenance will do, from a listing of the lake (see `lake_tables`)."""
    tables = lake_tables(listing)
    folders = set(checkpoints)
    has_positions = any(str(table) == positions_table for table in tables)
    return MaintenancePlan(
        tables=tuple(tables),
        retention_h=retention_h,
        unsafe_retention=unsafe_retention,
        orphan_checkpoints=tuple(orphan_checkpoints(folders)),
        positions=positions_rule(folders, stream_running, planned_at) if has_positions else None,
    )
