"""Bronze -> silver/quarantine for one table of one run: validate, split, merge, count."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.lake import delta
from condolake.layout import (
    INGESTED_AT_COL,
    REASONS_COL,
    RECORD_ID_COL,
    RESOLUTION_COL,
    RESOLVED_AT_COL,
    RESOLVED_RUN_ID_COL,
    RUN_ID_COL,
    Layer,
    bronze_schema,
    quarantine_schema,
    silver_schema,
    table_path,
)
from condolake.logs import Stage, stage_fields
from condolake.monitoring.quality import add_failures, count_rule_failures
from condolake.monitoring.runlog import TableCounts
from condolake.source.tables import TABLES_BY_NAME, SourceTable
from condolake.transforms.silver.quarantine import to_quarantine
from condolake.transforms.silver.validate import (
    DUPLICATE_RANK_COL,
    LINEAGE_COLS,
    is_valid,
    only_retryable,
    parsed,
    ranked_by_recency,
    to_silver,
    validated,
)

log = logging.getLogger(__name__)
OUTCOME_COL = "_outcome"
OWNED_COL = "_stream_owned"
FAILED_COL = "_failed_rules"
OWNED_KEY_COL = "_owned_key"
UTC_LITERAL = "%Y-%m-%d %H:%M:%S.%f+00:00"


@dataclass(frozen=True)
class LoadContext:
    spark: SparkSession
    lake_root: str
    run_id: str
    run_date: dt.date
    started_at: dt.datetime
    # table -> rule -> records of this run that the rule rejected (for ops/dq_results).
    rule_failures: dict[str, dict[str, int]] = field(default_factory=dict, compare=False)

    def count_failures(self, table: str, groups: list[tuple[list[str] | None, int]]) -> None:
        """Adds the rule failures of records judged (none judged: the table has no results)."""
        if groups:
            add_failures(self.rule_failures.setdefault(table, {}), count_rule_failures(groups))

    def path(self, layer: Layer, table: str) -> str:
        return table_path(self.lake_root, layer, table)

    def tag(self, step: str) -> str:
        """Commit tag of one write of this run (Delta userMetadata)."""
        return f"{self.run_id}:{step}"


def valid_parent_keys(ctx: LoadContext, table: SourceTable) -> dict[str, DataFrame]:
    """Keys of the valid (silver) rows of each parent of `table`."""
    keys = {}
    for foreign_key in table.foreign_keys:
        parent = TABLES_BY_NAME[foreign_key.parent]
        keys[parent.name] = delta.read(
            ctx.spark, ctx.path(Layer.SILVER, parent.name), silver_schema(parent)
        ).select(parent.primary_key)
    return keys


def load_table(
    ctx: LoadContext,
    table: SourceTable,
    counts: TableCounts,
    *,
    unique_keys: bool,
    keys_are_new: bool = False,
    owned_keys: DataFrame | None = None,
) -> TableCounts:
    """Validates this run's bronze rows of `table` into silver and quarantine.

    `unique_keys`: the source cannot send a key twice in one load (no de-duplication needed).
    `keys_are_new`: every key is new to the lake (an incremental read above the high-water
    mark), so no quarantined record can be superseded by this load.

    `owned_keys`: keys a change stream has applied (one column, the primary key). Records of
    those keys are counted as duplicates of the stream's newer version and not written.

    `counts.rows_quarantined` may already hold records rejected before they reached bronze
    (malformed lines); `rows_read` is set here to bronze rows of the run plus those.
    """
    started = time.monotonic()
    bronze = delta.read(ctx.spark, ctx.path(Layer.BRONZE, table.name), bronze_schema(table))
    load = bronze.where(F.col(RUN_ID_COL) == ctx.run_id)
    if not unique_keys:
        load = ranked_by_recency(load, table)
    else:
        load = load.select("*", F.lit(1).alias(DUPLICATE_RANK_COL))
    if owned_keys is not None:
        owned = owned_keys.select(F.col(table.primary_key).alias(OWNED_KEY_COL),
                                  F.lit(True).alias(OWNED_COL))
        load = load.join(owned, on=parsed(table.primary_key, "int") == F.col(OWNED_KEY_COL),
                         how="left").drop(OWNED_KEY_COL)
        latest = (F.col(DUPLICATE_RANK_COL) == 1) & F.col(OWNED_COL).isNull()
    else:
        latest = F.col(DUPLICATE_RANK_COL) == 1
    checked = validated(load, table, ctx.run_date, valid_parent_keys(ctx, table)).select(
        "*", F.when(~latest, F.lit("duplicate")).when(is_valid(), F.lit("valid"))
        .otherwise(F.lit("rejected")).alias(OUTCOME_COL)
    )
    # Counting first and then writing each outcome re-reads the run's bronze rows, which is
    # cheaper than caching the wide validated frame (measured: 16 s against 44 s per 1M rows).
    # The rejected records are grouped by their reasons in the same pass (per-rule counts).
    failed = F.when(F.col(OUTCOME_COL) == "rejected", F.col(REASONS_COL)).alias(FAILED_COL)
    groups = checked.groupBy(OUTCOME_COL, failed).count().collect()
    outcomes: dict[str, int] = {}
    for row in groups:
        outcomes[row[OUTCOME_COL]] = outcomes.get(row[OUTCOME_COL], 0) + int(row["count"])
    ctx.count_failures(table.name, [(row[FAILED_COL], int(row["count"])) for row in groups])
    counts.rows_duplicate = outcomes.get("duplicate", 0)
    counts.rows_valid = outcomes.get("valid", 0)
    counts.rows_read = counts.rows_quarantined + sum(outcomes.values())
    counts.rows_quarantined += outcomes.get("rejected", 0)
    if counts.rows_valid:
        _write_valid(ctx, table, checked.where(F.col(OUTCOME_COL) == "valid"),
                     keys_are_new=keys_are_new)
    if outcomes.get("rejected", 0):
        _write_rejected(ctx, table, checked.where(F.col(OUTCOME_COL) == "rejected"))
    else:
        # Every run leaves the table's whole layout in place, even with nothing rejected.
        delta.ensure_table(ctx.spark, ctx.path(Layer.QUARANTINE, table.name),
                           quarantine_schema(table))
    counts.rows_reprocessed = reprocess_quarantined(ctx, table)
    if counts.rows_valid and not keys_are_new:
        counts.rows_superseded = supersede_quarantined(ctx, table)
    counts.seconds = round(time.monotonic() - started, 3)
    log.info(
        f"{table.name}: {counts.rows_read:,} read, {counts.rows_valid:,} valid, "
        f"{counts.rows_quarantined:,} quarantined, {counts.rows_duplicate:,} duplicate"
        + (f", {counts.rows_reprocessed:,} re-processed from quarantine"
           if counts.rows_reprocessed else ""),
        extra=stage_fields(Stage.SILVER, table.name, counts.seconds),
    )
    return counts


def _write_valid(ctx: LoadContext, table: SourceTable, valid: DataFrame, *,
                 keys_are_new: bool) -> None:
    path = ctx.path(Layer.SILVER, table.name)
    rows = to_silver(valid, table)
    tag = ctx.tag(f"silver.{table.name}")
    if keys_are_new or not delta.exists(ctx.spark, path):
        # Nothing to match against: a plain append is the same result as a MERGE, much cheaper.
        delta.append(rows, path, commit_tag=tag)
    else:
        delta.upsert_latest(ctx.spark, rows, path, table.primary_key, table.column_names,
                            commit_tag=tag)


def _write_rejected(ctx: LoadContext, table: SourceTable, rejected: DataFrame) -> None:
    write_quarantine(ctx, table, to_quarantine(rejected, table, ctx.started_at),
                     step=f"quarantine.{table.name}")


def write_quarantine(ctx: LoadContext, table: SourceTable, rows: DataFrame, step: str) -> None:
    """Merges quarantine rows by fingerprint (a re-read bad record is not added twice)."""
    path = ctx.path(Layer.QUARANTINE, table.name)
    delta.insert_new(ctx.spark, rows, path, RECORD_ID_COL, ctx.tag(step))


def _open_quarantine(ctx: LoadContext, table: SourceTable) -> DataFrame:
    quarantine = delta.read(
        ctx.spark, ctx.path(Layer.QUARANTINE, table.name), quarantine_schema(table)
    )
    return quarantine.where(F.col(RESOLVED_RUN_ID_COL).isNull())


def _resolve(ctx: LoadContext, table: SourceTable, record_ids: DataFrame, how: str) -> None:
    delta.update_where(
        ctx.spark, ctx.path(Layer.QUARANTINE, table.name), record_ids, RECORD_ID_COL,
        {
            RESOLVED_RUN_ID_COL: f"'{ctx.run_id}'",
            RESOLUTION_COL: f"'{how}'",
            # An explicit UTC offset: a bare literal would be read in the session time zone.
            RESOLVED_AT_COL: f"TIMESTAMP'{ctx.started_at.astimezone(dt.UTC):{UTC_LITERAL}}'",
        },
        commit_tag=ctx.tag(f"quarantine.{table.name}.{how}"),
    )


def reprocess_quarantined(ctx: LoadContext, table: SourceTable) -> int:
    """Moves quarantined records whose only faults were retryable (orphans) and are now gone."""
    if not table.foreign_keys:
        return 0
    # Records quarantined by this very run were just judged against the same parents.
    waiting = _open_quarantine(ctx, table).where(
        only_retryable(F.col(REASONS_COL)) & (F.col(RUN_ID_COL) != ctx.run_id)
    )
    retried = validated(
        waiting.select(*table.column_names, *LINEAGE_COLS, RECORD_ID_COL),
        table, ctx.run_date, valid_parent_keys(ctx, table),
    ).where(is_valid()).cache()
    try:
        moved = retried.count()
        if moved:
            # Several versions of one key may wait together (an insert and its update): the
            # latest goes to silver, and all of them leave quarantine.
            latest = ranked_by_recency(retried, table).where(F.col(DUPLICATE_RANK_COL) == 1)
            delta.upsert_latest(
                ctx.spark, to_silver(latest, table), ctx.path(Layer.SILVER, table.name),
                table.primary_key, table.column_names,
                only_if_newer=True, commit_tag=ctx.tag(f"silver.{table.name}.reprocessed"),
            )
            _resolve(ctx, table, retried.select(RECORD_ID_COL), "reprocessed")
    finally:
        retried.unpersist()
    return moved


def close_quarantined_keys(ctx: LoadContext, table: SourceTable, keys: DataFrame,
                           how: str) -> None:
    """Closes the open quarantine records of `keys` (one column: the primary key, typed).

    A key deleted at the source must not come back when its quarantined orphan is retried.
    """
    key = table.primary_key
    waiting = _open_quarantine(ctx, table).select(
        RECORD_ID_COL, parsed(key, "int").alias(key)
    ).join(keys.select(key).distinct(), on=key, how="left_semi").select(RECORD_ID_COL)
    if not waiting.isEmpty():
        _resolve(ctx, table, waiting, how)


def close_quarantined_where(ctx: LoadContext, table: SourceTable, which: Column,
                            how: str, *, except_keys: DataFrame | None = None) -> None:
    """Closes the open quarantine records of `table` that `which` selects, but those of
    `except_keys` (one column: the table's key)."""
    waiting = _open_quarantine(ctx, table).where(which)
    if except_keys is not None:
        key = table.primary_key
        waiting = waiting.join(except_keys.select(F.col(key).alias("_kept_key")),
                               on=parsed(key, "int") == F.col("_kept_key"), how="left_anti")
    waiting = waiting.select(RECORD_ID_COL)
    if not waiting.isEmpty():
        _resolve(ctx, table, waiting, how)


def supersede_quarantined(ctx: LoadContext, table: SourceTable,
                          written: DataFrame | None = None) -> int:
    """Closes open quarantine records whose key now has a newer valid row in silver.

    `written`: the (key, `_ingested_at`) of the rows this run wrote, when only those can be
    newer (a stream's micro-batch); otherwise the whole silver table is compared.
    """
    key = table.primary_key
    waiting = _open_quarantine(ctx, table).select(
        RECORD_ID_COL, parsed(key, "int").alias(key), F.col(INGESTED_AT_COL).alias("_q_at")
    ).where(F.col(key).isNotNull())
    if written is None:
        written = delta.read(ctx.spark, ctx.path(Layer.SILVER, table.name),
                             silver_schema(table)).select(key, INGESTED_AT_COL)
    newer = waiting.join(written, on=key, how="inner").where(
        F.col(INGESTED_AT_COL) > F.col("_q_at")).select(RECORD_ID_COL).cache()
    try:
        superseded = newer.count()
        if superseded:
            _resolve(ctx, table, newer, "superseded")
    finally:
        newer.unpersist()
    return superseded


