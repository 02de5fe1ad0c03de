"""One micro-batch of change rows -> silver, quarantine and the key positions, exactly once.

Every write carries a Delta transaction id (query, table, step) with the micro-batch id as its
version, so a micro-batch replayed after a crash skips the commits it had already made. The
steps after the silver MERGE are idempotent by construction (insert-if-absent, newer-wins).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import reduce
from zoneinfo import ZoneInfo

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.errors import CondoLakeError
from condolake.lake import delta
from condolake.lake.layout import Layer, quarantine_schema, silver_schema, table_path
from condolake.lake.types import struct
from condolake.monitoring.runlog import RunRecord, TableCounts, write_run
from condolake.pipelines.load import (
    LoadContext,
    close_quarantined_keys,
    reprocess_quarantined,
    supersede_quarantined,
    valid_parent_keys,
    write_quarantine,
)
from condolake.source.tables import SOURCE_TABLES, SourceTable
from condolake.streaming.changes import (
    DELETE_OP,
    KEY_COL,
    MALFORMED_COL,
    OP_COL,
    ORDER_COL,
    TOMBSTONE_OP,
    is_stale,
    malformed_records,
    ranked_changes,
)
from condolake.transforms.silver.quarantine import malformed_to_quarantine, to_quarantine
from condolake.transforms.silver.validate import (
    DUPLICATE_RANK_COL,
    LINEAGE_COLS,
    is_valid,
    to_silver,
    validated,
)

Progress = Callable[[str], None]


class ConservationError(CondoLakeError):
    """A micro-batch's counts do not add up: read != valid + quarantined + duplicate."""


POSITIONS = "change_positions"
POSITIONS_SCHEMA = struct(
    "source: string, table: string, key: int, order: long, op: string, run_id: string, "
    "updated_at: timestamp"
)
KNOWN_ORDER = "_known_order"
OUTCOME_COL = "_outcome"
CDC_SOURCE = "kafka"  # change events of the PostgreSQL source itself
LANDING_SOURCE = "landing"


def positions_path(lake_root: str) -> str:
    return table_path(lake_root, Layer.OPS, POSITIONS)


def stream_context(spark: SparkSession, lake_root: str, timezone: str, query: str,
                   query_id: str, batch_id: int) -> tuple[LoadContext, RunRecord]:
    """Context and run record of one micro-batch; its run id names query, checkpoint, batch."""
    now = dt.datetime.now(dt.UTC)
    run_id = f"stream-{query}-{query_id[:8]}-{batch_id:08d}"
    run_date = now.astimezone(ZoneInfo(timezone)).date()
    ctx = LoadContext(spark, lake_root, run_id, run_date, now)
    return ctx, RunRecord(run_id=run_id, job=f"stream:{query}", started_at=now,
                          run_date=run_date)


def apply_changes(
    ctx: LoadContext,
    run: RunRecord,
    changes: Mapping[str, DataFrame],
    *,
    app_id: str,
    batch_id: int,
    source: str,
    progress: Progress | None = None,
) -> RunRecord:
    """Applies one micro-batch of change rows per table, parents first, and logs the run.

    `app_id` names the query and its checkpoint: with `batch_id` it makes each commit's
    Delta transaction id (a reset checkpoint starts a new app id, so nothing is skipped).
    """
    tables = [table for table in SOURCE_TABLES if table.name in changes]
    frames = {table.name: changes[table.name].persist(StorageLevel.MEMORY_AND_DISK)
              for table in tables}
    pending: dict[str, tuple[TableCounts, DataFrame]] = {}
    try:
        for table in tables:
            pending[table.name] = _judge_versions(ctx, table, frames[table.name], source)
        _save_all_positions(ctx, source, {name: latest for name, (_, latest) in pending.items()},
                            app_id, batch_id)
        parents_changed: set[str] = set()
        for table in SOURCE_TABLES:  # parents first; a table without records may have orphans
            if table.name in pending:
                counts, latest = pending[table.name]
                if counts.rows_read:
                    _write_table(ctx, table, frames[table.name], latest, counts,
                                 app_id=f"{app_id}.{table.name}", batch_id=batch_id)
            else:
                counts = TableCounts(table.name, source)
            if any(fk.parent in parents_changed for fk in table.foreign_keys):
                # Orphans waiting in quarantine for a parent that this micro-batch brought.
                counts.rows_reprocessed = reprocess_quarantined(ctx, table)
            if counts.rows_read or counts.rows_reprocessed:
                run.tables.append(counts)
            if counts.rows_valid or counts.rows_reprocessed:
                parents_changed.add(table.name)
    finally:
        for _, latest in pending.values():
            latest.unpersist()
        for frame in frames.values():
            frame.unpersist()
    run.status = "succeeded" if run.conserved else "failed"
    if not run.conserved:
        run.error = "conservation broken (rows read != valid + quarantined + duplicate)"
    if run.tables:
        run.finished_at = dt.datetime.now(dt.UTC)
        with delta.idempotent(ctx.spark, f"{app_id}.runlog", batch_id):
            write_run(ctx.spark, ctx.lake_root, run)
        if progress:
            progress(_summary(run))
    if not run.conserved:
        # A counting bug must stop the stream loudly, not let it run on uncounted.
        raise ConservationError(f"{run.run_id}: {run.error}")
    return run


def _summary(run: RunRecord) -> str:
    return f"{run.run_id}: " + "; ".join(
        f"{c.table} {c.rows_read:,} read, {c.rows_valid:,} applied, "
        f"{c.rows_quarantined:,} quarantined, {c.rows_duplicate:,} duplicate"
        for c in run.tables
    )


def _judge_versions(ctx: LoadContext, table: SourceTable, changes: DataFrame,
                    source: str) -> tuple[TableCounts, DataFrame]:
    """Counts the micro-batch's records of `table` and keeps the newest version per key
    that is newer than what was applied before (persisted, with `_op` and `_order`)."""
    counts = TableCounts(table.name, source)
    totals = changes.agg(
        F.count(F.lit(1)).alias("read"),
        F.count(F.when(F.col(OP_COL) == TOMBSTONE_OP, True)).alias("tombstones"),
        F.count(F.col(MALFORMED_COL)).alias("malformed"),
    ).first()
    assert totals is not None
    counts.rows_read = int(totals["read"])
    counts.rows_quarantined = int(totals["malformed"])
    # For now every readable record that is not the newest version counts as a duplicate;
    # `_write_table` moves the newest ones to valid or quarantined.
    counts.rows_duplicate = counts.rows_read - counts.rows_quarantined
    ranked = _with_known_order(ctx, table, ranked_changes(changes, table), source)
    latest = ranked.where(
        (F.col(DUPLICATE_RANK_COL) == 1)
        & ~is_stale(F.col(KNOWN_ORDER), unique_orders=source == CDC_SOURCE)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    return counts, latest


def _write_table(ctx: LoadContext, table: SourceTable, changes: DataFrame, latest: DataFrame,
                 counts: TableCounts, *, app_id: str, batch_id: int) -> None:
    if counts.rows_quarantined:
        with delta.idempotent(ctx.spark, f"{app_id}.malformed", batch_id):
            write_quarantine(ctx, table, malformed_to_quarantine(
                malformed_records(changes), table, ctx.started_at),
                step=f"malformed.{table.name}")
    valid, rejected = _write_fresh(ctx, table, latest, app_id, batch_id)
    counts.rows_valid = valid
    counts.rows_quarantined += rejected
    counts.rows_duplicate -= valid + rejected
    if valid:
        counts.rows_superseded = supersede_quarantined(ctx, table)


def _with_known_order(ctx: LoadContext, table: SourceTable, ranked: DataFrame,
                      source: str) -> DataFrame:
    """Adds `_known_order`: the order of the last change from `source` applied to the key.

    Orders are only comparable within one source (LSNs, file times), so each keeps its own.
    Positions this very run saved are ignored: a replayed micro-batch must apply its changes.
    """
    known = delta.read(ctx.spark, positions_path(ctx.lake_root), POSITIONS_SCHEMA).where(
        (F.col("source") == source) & (F.col("table") == table.name)
        & (F.col("run_id") != ctx.run_id)
    ).select(F.col("key").alias(KEY_COL), F.col("order").alias(KNOWN_ORDER))
    return ranked.join(known, on=KEY_COL, how="left")


def _write_fresh(ctx: LoadContext, table: SourceTable, latest: DataFrame, app: str,
                 batch_id: int) -> tuple[int, int]:
    """Validates the upserts, MERGEs them and the deletes into silver; quarantines the rest.

    Returns (changes applied to silver, records quarantined).
    """
    checked = validated(latest.drop(MALFORMED_COL), table, ctx.run_date,
                        valid_parent_keys(ctx, table))
    outcome = (F.when(F.col(OP_COL) == DELETE_OP, F.lit("delete"))
               .when(is_valid(), F.lit("valid")).otherwise(F.lit("rejected")))
    judged = checked.select("*", outcome.alias(OUTCOME_COL)).persist(
        StorageLevel.MEMORY_AND_DISK)
    try:
        outcomes = {row[OUTCOME_COL]: int(row["count"])
                    for row in judged.groupBy(OUTCOME_COL).count().collect()}
        n_valid, n_rejected = outcomes.get("valid", 0), outcomes.get("rejected", 0)
        n_deletes = outcomes.get("delete", 0)
        if n_rejected:
            rejected = judged.where(F.col(OUTCOME_COL) == "rejected")
            with delta.idempotent(ctx.spark, f"{app}.quarantine", batch_id):
                write_quarantine(ctx, table, to_quarantine(rejected, table, ctx.started_at),
                                 step=f"quarantine.{table.name}")
        deletes = judged.where(F.col(OUTCOME_COL) == "delete")
        if n_valid or n_deletes:
            rows = to_silver(judged.where(F.col(OUTCOME_COL) == "valid"), table).select(
                "*", F.lit("u").alias(OP_COL))
            _merge_silver(ctx, table, rows.unionByName(_delete_rows(deletes, table)), app,
                          batch_id)
        if n_deletes:
            close_quarantined_keys(ctx, table, deletes.select(
                F.col(KEY_COL).cast("int").alias(table.primary_key)), "deleted")
        return n_valid + n_deletes, n_rejected
    finally:
        judged.unpersist()


def _delete_rows(deletes: DataFrame, table: SourceTable) -> DataFrame:
    """Silver-shaped rows that carry only the key of a deleted record."""
    schema = silver_schema(table)
    return deletes.select(
        *[(F.col(KEY_COL) if field.name == table.primary_key else F.lit(None))
          .cast(field.dataType).alias(field.name) for field in schema.fields
          if field.name in table.column_names],
        *[F.col(name) for name in LINEAGE_COLS],
        F.lit(DELETE_OP).alias(OP_COL),
    )


def _merge_silver(ctx: LoadContext, table: SourceTable, rows: DataFrame, app: str,
                  batch_id: int) -> None:
    path = ctx.path(Layer.SILVER, table.name)
    delta.ensure_table(ctx.spark, path, silver_schema(table))
    columns = [*table.column_names, *LINEAGE_COLS]
    with delta.idempotent(ctx.spark, f"{app}.silver", batch_id):
        delta.apply_changes(ctx.spark, rows, path, table.primary_key, columns,
                            table.column_names, commit_tag=ctx.tag(f"silver.{table.name}"))


def _save_all_positions(ctx: LoadContext, source: str, latest: Mapping[str, DataFrame],
                        app_id: str, batch_id: int) -> None:
    """Remembers the newest order applied per key (a later, older event is then stale).

    Saved before silver is written: a batch run that MERGEs silver meanwhile then leaves these
    keys to the stream (see `stream_owned_keys`). One commit for all tables.
    """
    frames = [
        frame.select(
            F.lit(source).alias("source"), F.lit(name).alias("table"),
            F.col(KEY_COL).cast("int").alias("key"),
            F.col(ORDER_COL).alias("order"), F.col(OP_COL).alias("op"),
            F.lit(ctx.run_id).alias("run_id"), F.current_timestamp().alias("updated_at"),
        ).where(F.col("key").isNotNull())
        for name, frame in latest.items()
    ]
    if not frames:
        return
    rows = reduce(DataFrame.unionByName, frames)
    path = positions_path(ctx.lake_root)
    delta.ensure_table(ctx.spark, path, POSITIONS_SCHEMA)
    with delta.idempotent(ctx.spark, f"{app_id}.positions", batch_id):
        delta.upsert_positions(ctx.spark, rows, path)


def stream_owned_keys(spark: SparkSession, lake_root: str, table: SourceTable) -> DataFrame:
    """Keys of `table` that a change stream has applied: the stream owns their versions.

    A batch snapshot read from PostgreSQL has no commit order to compare with the stream's,
    so a batch run leaves these keys alone instead of overwriting a newer change (or bringing
    back a deleted row).
    """
    return delta.read(spark, positions_path(lake_root), POSITIONS_SCHEMA).where(
        (F.col("source") == CDC_SOURCE) & (F.col("table") == table.name)
    ).select(F.col("key").alias(table.primary_key)).distinct()


def forget_positions(spark: SparkSession, lake_root: str, source: str) -> None:
    """Drops the per-key positions of `source`: its next replay applies every change again.

    Applying them again in commit order ends in the same silver rows; forgetting is what makes
    a replay after a reset safe even if a crash came between a position and its MERGE.
    """
    path = positions_path(lake_root)
    if delta.exists(spark, path):
        delta.delete_where(spark, path, F.col("source") == source)


def ensure_stream_tables(spark: SparkSession, lake_root: str) -> None:
    """Silver and quarantine tables exist (with the change data feed on) before streams start."""
    for table in SOURCE_TABLES:
        silver = table_path(lake_root, Layer.SILVER, table.name)
        delta.ensure_table(spark, silver, silver_schema(table))
        delta.enable_change_feed(spark, silver)
        delta.ensure_table(spark, table_path(lake_root, Layer.QUARANTINE, table.name),
                           quarantine_schema(table))
