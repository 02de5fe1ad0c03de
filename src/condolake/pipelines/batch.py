"""Batch jobs: PostgreSQL / file / API sources -> bronze -> silver + quarantine -> gold."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.catalog import SOURCE_SNAPSHOTS_SCHEMA, WATERMARKS
from condolake.config import Settings
from condolake.ingestion.bronze import as_bronze
from condolake.ingestion.postgres import Snapshot, SnapshotReader, snapshot_reader
from condolake.lake import delta
from condolake.layout import (
    REASONS_COL,
    RUN_ID_COL,
    SOURCE_COL,
    Layer,
    bronze_schema,
    table_path,
)
from condolake.logs import Stage, stage_fields
from condolake.monitoring.runlog import (
    SNAPSHOT_FINGERPRINT,
    RunRecord,
    TableCounts,
    read_watermark,
    save_watermark,
)
from condolake.pipelines.errors import mentions_postgres
from condolake.pipelines.gold import gold_paths, rebuild_gold, update_gold
from condolake.pipelines.load import (
    LoadContext,
    close_quarantined_keys,
    load_table,
    write_quarantine,
)
from condolake.pipelines.quality import write_rule_results
from condolake.pipelines.runs import execute
from condolake.pipelines.stream_silver import (
    POSTGRES_SOURCE,
    positions_path,
    source_snapshots_path,
    stream_owned_keys,
)
from condolake.services.postgres import SourceDatabase
from condolake.source.tables import (
    SOURCE_TABLES,
    TABLES_BY_NAME,
    TRANSACOES,
    SourceTable,
)

log = logging.getLogger(__name__)
# Tables read incrementally by key; the others are snapshotted and merged.
INCREMENTAL_TABLES = frozenset({TRANSACOES.name})


def snapshot_mark(fingerprint: int, run_date: dt.date) -> int:
    """The mark saved for a snapshot read on `run_date` (a 63-bit number, like the
    fingerprint)."""
    return (fingerprint * 1_000_003 + run_date.toordinal()) % 2**63


def _layer_paths(lake_root: str, layers: Sequence[Layer],
                 tables: Sequence[SourceTable] = SOURCE_TABLES) -> list[str]:
    return [table_path(lake_root, layer, table.name) for layer in layers for table in tables]


def ingest_paths(lake_root: str, tables: Sequence[SourceTable] = SOURCE_TABLES) -> list[str]:
    """Tables an ingest run may change (and must roll back on failure)."""
    return _layer_paths(lake_root, (Layer.BRONZE, Layer.SILVER, Layer.QUARANTINE), tables) + [
        table_path(lake_root, Layer.OPS, WATERMARKS), source_snapshots_path(lake_root),
    ]



def land_in_bronze(ctx: LoadContext, table: SourceTable, rows: DataFrame) -> None:
    """Appends one source read to bronze in one commit."""
    path = ctx.path(Layer.BRONZE, table.name)
    if not delta.exists(ctx.spark, path):
        # Bronze is only ever filtered by run: file statistics on the other columns would
        # cost time on every write and never skip a file.
        delta.ensure_table(ctx.spark, path, bronze_schema(table),
                           {"delta.dataSkippingStatsColumns": RUN_ID_COL})
    delta.append(rows, path, commit_tag=ctx.tag(f"bronze.{table.name}"))


def ingest_postgres_body(
    db: SourceDatabase, settings: Settings, *, handover: bool = False
) -> Callable[[LoadContext, RunRecord], None]:
    """The PostgreSQL load. `handover`: the load that hands the lake over to the change
    stream (`condolake cdc start`, once the replication slot exists): it also removes from
    silver the rows it loaded earlier whose key PostgreSQL no longer has (a batch load
    otherwise never deletes), so that no change before the slot is missing."""

    def body(ctx: LoadContext, run: RunRecord) -> None:
        # Extract everything first, all tables in one snapshot: a source failure then happens
        # before silver is touched, and the snapshot says which source changes the load holds.
        marks: dict[str, tuple[str, int]] = {}  # table -> (column, mark) to save on success
        covered: dict[str, int | None] = {}  # table read -> the keys read lie above this
        with snapshot_reader(db) as reader:
            for table in SOURCE_TABLES:
                counts = TableCounts(table.name, POSTGRES_SOURCE)
                run.tables.append(counts)
                after = _extract(ctx, reader, table, counts, marks, settings)
                if counts.rows_read:
                    covered[table.name] = after
            present = {table.name: reader.read_keys(ctx.spark, table, settings)
                       for table in SOURCE_TABLES} if handover else {}
        # Keys above the mark are new to the lake unless a stream may have written them first.
        streamed = delta.exists(ctx.spark, positions_path(ctx.lake_root))
        loaded: set[str] = set()
        for counts in run.tables:
            table = TABLES_BY_NAME[counts.table]
            parents = {foreign_key.parent for foreign_key in table.foreign_keys}
            # Nothing read and no parent loaded: no record can change (not even a quarantined
            # orphan's), so the table is left untouched.
            if counts.rows_read == 0 and not parents & loaded and delta.exists(
                    ctx.spark, ctx.path(Layer.QUARANTINE, table.name)):
                continue
            loaded.add(table.name)
            load_table(ctx, table, counts, unique_keys=True,
                       keys_are_new=table.name in INCREMENTAL_TABLES and not streamed,
                       owned_keys=(stream_owned_keys(ctx.spark, ctx.lake_root, table)
                                   if streamed else None))
        for name, keys in present.items():
            remove_vanished(ctx, TABLES_BY_NAME[name], keys)
        save_snapshots(ctx, reader.snapshot, covered)
        for name, (column, mark) in marks.items():
            save_watermark(ctx.spark, ctx.lake_root, POSTGRES_SOURCE, name, column, mark,
                           ctx.run_id, commit_tag=ctx.tag(f"watermark.{name}.{column}"))

    return body


def _extract(ctx: LoadContext, reader: SnapshotReader, table: SourceTable, counts: TableCounts,
             marks: dict[str, tuple[str, int]], settings: Settings) -> int | None:
    """Lands the rows of `table` to load in bronze; returns the key they lie above (None: the
    whole table). Records the mark to save in `marks`."""
    after = None
    if table.name in INCREMENTAL_TABLES:
        after = read_watermark(ctx.spark, ctx.lake_root, POSTGRES_SOURCE, table.name,
                               table.primary_key)
        keys = reader.key_range(table, after)
        counts.watermark_from = after
        counts.watermark_to = keys.up_to if not keys.empty else after
        if counts.watermark_to is not None and counts.watermark_to != after:
            marks[table.name] = (table.primary_key, counts.watermark_to)
        scope = f" with {table.primary_key} > {after}" if after is not None else ""
    else:
        # A snapshot equal to the one last loaded on the same run date is not read at all
        # (the rules compare dates with the run date: a record rejected today may pass
        # tomorrow, so each run date reads every snapshot once).
        fingerprint = snapshot_mark(reader.fingerprint(table), ctx.run_date)
        if fingerprint == read_watermark(ctx.spark, ctx.lake_root, POSTGRES_SOURCE,
                                         table.name, SNAPSHOT_FINGERPRINT):
            log.info(f"{table.name}: unchanged since the last load, not read")
            return after
        keys = reader.key_range(table, None)
        marks[table.name] = (SNAPSHOT_FINGERPRINT, fingerprint)
        scope = ""
    log.info(f"reading {table.name}{scope} from PostgreSQL: {keys.rows:,} rows",
             extra=stage_fields(Stage.EXTRACT, table.name))
    if not keys.empty:
        source_rows = reader.read_table(ctx.spark, table, keys, settings)
        land_in_bronze(
            ctx, table, as_bronze(source_rows, table, POSTGRES_SOURCE, ctx.run_id, ctx.started_at),
        )
        counts.rows_read = keys.rows  # until load_table counts what bronze holds
    return after


def remove_vanished(ctx: LoadContext, table: SourceTable, present: DataFrame) -> int:
    """Deletes the silver rows an earlier load wrote whose key is not among `present` (the
    source's keys now); a row the stream has written meanwhile is kept (checked at commit)."""
    key = table.primary_key
    path = ctx.path(Layer.SILVER, table.name)
    if not delta.exists(ctx.spark, path):
        return 0
    loaded = delta.read(ctx.spark, path).where(F.col(SOURCE_COL) == POSTGRES_SOURCE)
    vanished = loaded.select(key).join(present, on=key, how="left_anti").localCheckpoint(
        eager=True)
    count = vanished.count()
    if count:
        delta.delete_matching(ctx.spark, vanished, path, key,
                              condition=f"t.`{SOURCE_COL}` = '{POSTGRES_SOURCE}'",
                              commit_tag=ctx.tag(f"vanished.{table.name}"))
        close_quarantined_keys(ctx, table, vanished.select(key), "deleted")
        log.info(f"{table.name}: {count:,} rows removed from silver (deleted at the source "
                 "before change capture started)")
    return count


def save_snapshots(ctx: LoadContext, snapshot: Snapshot, covered: Mapping[str, int | None]
                   ) -> None:
    """Records, in one commit, that silver holds `snapshot`'s version of the keys of each table
    read (above its `key_after`), once silver is written: a change the stream receives later
    for those keys is new only if its transaction is not visible in the snapshot."""
    if not covered:
        return
    rows = [(name, ctx.run_id, after, snapshot.xmin, snapshot.xmax, list(snapshot.xip),
             ctx.started_at) for name, after in covered.items()]
    delta.append(ctx.spark.createDataFrame(rows, SOURCE_SNAPSHOTS_SCHEMA),
                 source_snapshots_path(ctx.lake_root), ctx.tag("source_snapshots"))


def transform_body(ctx: LoadContext, run: RunRecord) -> None:
    rebuild_gold(ctx, run)


def _describe_source_failure(summary: str) -> str:
    if mentions_postgres(summary):
        return f"the PostgreSQL source failed during the read ({summary})"
    return summary


def ingest_postgres(spark: SparkSession, settings: Settings, db: SourceDatabase, *,
                    run_date: dt.date | None = None, handover: bool = False) -> RunRecord:
    return execute(spark, settings, "ingest_postgres",
                   ingest_postgres_body(db, settings, handover=handover),
                   ingest_paths(settings.lake_path),
                   _describe_source_failure, on_success=write_rule_results,
                   run_date=run_date)


def transform(spark: SparkSession, settings: Settings, *,
              run_date: dt.date | None = None) -> RunRecord:
    return execute(spark, settings, "transform", transform_body,
                   gold_paths(settings.lake_path), run_date=run_date)


def batch(spark: SparkSession, settings: Settings, db: SourceDatabase, *,
          run_date: dt.date | None = None, handover: bool = False) -> RunRecord:
    """Ingest PostgreSQL and bring gold up to date, as one all-or-nothing run (`handover`:
    see `ingest_postgres_body`)."""
    ingest = ingest_postgres_body(db, settings, handover=handover)

    def body(ctx: LoadContext, run: RunRecord) -> None:
        ingest(ctx, run)
        # Gold follows every silver change since the published set (the whole marts on a
        # first load), this run's and a concurrent stream's alike.
        update_gold(ctx, run)

    return execute(spark, settings, "batch", body,
                   ingest_paths(settings.lake_path) + gold_paths(settings.lake_path),
                   _describe_source_failure, on_success=write_rule_results,
                   run_date=run_date)


# What a file or API reader hands over: the rows for bronze and, if any, records rejected
# before they could be split into columns (already in quarantine's shape).
ReadRecords = Callable[[LoadContext], tuple[DataFrame, DataFrame | None]]


def ingest_records(
    spark: SparkSession,
    settings: Settings,
    table: SourceTable,
    job: str,
    source: str,
    read: ReadRecords,
    *,
    run_date: dt.date | None = None,
) -> RunRecord:
    """Ingest of records from a file or API reader that reads everything before any write.

    The read happens inside the run, so a source that cannot be read is a failed run in
    ops/runs like any other.
    """

    def body(ctx: LoadContext, run: RunRecord) -> None:
        counts = TableCounts(table.name, source)
        bronze_rows, malformed = read(ctx)
        land_in_bronze(ctx, table, bronze_rows)
        if malformed is not None:
            write_quarantine(ctx, table, malformed, step=f"malformed.{table.name}")
            groups = [(row[REASONS_COL], int(row["count"]))
                      for row in malformed.groupBy(REASONS_COL).count().collect()]
            ctx.count_failures(table.name, groups)
            counts.rows_quarantined = sum(records for _, records in groups)
        run.tables.append(load_table(ctx, table, counts, unique_keys=False))

    return execute(spark, settings, job, body, ingest_paths(settings.lake_path, (table,)),
                   on_success=write_rule_results, run_date=run_date)
