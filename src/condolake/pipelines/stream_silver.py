"""One micro-batch of change rows -> silver and quarantine, exactly once.

Every change is judged once, in one pass per table (`_judged`): malformed, a tombstone, an
older version of a key the same micro-batch changes again, stale (not newer than what silver
or the positions table already hold for the key), a delete, or a fresh upsert that the rules
find valid or reject. One Spark job counts the outcomes of every table. The writes follow,
each one only when it has rows, each a Delta transaction (query, table, step) with the
micro-batch id as its version, so a micro-batch replayed after a crash skips the commits it
had already made. A replayed micro-batch judges against silver as it was before its first
attempt (Delta time travel), so it takes the same decisions and logs the same read, valid,
quarantined and duplicate counts (what its first attempt already re-processed or superseded
in quarantine is not counted again).

Per-key order: the order of the version silver holds (Debezium's LSN, or a landing file's
time) is kept on the silver row (`_source_position`). Changes that leave no row in silver
(deletes, and fresh versions the rules reject) append their order to ops/change_positions;
a later change of the key is stale when it is not newer than either.

A truncate (Debezium's `op: "t"`, a table-level change at an LSN) removes the table's silver
rows it precedes: the rows the stream wrote from older changes, and every row of a batch load
or a landing file (they have no place in the WAL's order, and the source table is empty).
Changes after it, in the same micro-batch or later, apply as usual; changes before it in the
micro-batch are stale. Its LSN goes to ops/change_positions with a NULL key, so a replayed
older change of any key stays stale, and the open quarantine records it precedes are closed
as `truncated` (an orphan retried later would otherwise bring back a row the source dropped).

Handover from batch loads: a key the stream has not changed yet holds what the latest batch
load that covered it read; a change event whose transaction that load's snapshot saw is
`loaded` (counted as a duplicate), except a delete of a key the load did not read (found in
the load's bronze rows), which still applies (streaming/snapshots.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from zoneinfo import ZoneInfo

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.catalog import POSITIONS, POSITIONS_SCHEMA, SOURCE_SNAPSHOTS
from condolake.lake import delta
from condolake.lake.versions import latest_version
from condolake.layout import (
    DELETE_OP,
    INGESTED_AT_COL,
    OP_COL,
    POSITION_COL,
    REASONS_COL,
    RUN_ID_COL,
    SOURCE_COL,
    Layer,
    bronze_schema,
    quarantine_schema,
    silver_schema,
    table_path,
)
from condolake.monitoring.runlog import RunRecord, TableCounts
from condolake.pipelines.load import (
    LoadContext,
    close_quarantined_keys,
    close_quarantined_where,
    reprocess_quarantined,
    supersede_quarantined,
    write_quarantine,
)
from condolake.source.tables import SOURCE_TABLES, TABLES_BY_NAME, SourceTable
from condolake.streaming.changes import (
    KEY_COL,
    LATEST_COL,
    MALFORMED_COL,
    ORDER_COL,
    TOMBSTONE_OP,
    TRUNCATE_OP,
    TX_COL,
    is_stale,
    is_truncated,
    malformed_records,
    with_latest,
)
from condolake.streaming.snapshots import Claim, latest_claim
from condolake.transforms.silver.quarantine import malformed_to_quarantine, to_quarantine
from condolake.transforms.silver.validate import (
    LINEAGE_COLS,
    is_valid,
    parsed,
    to_silver,
    validated,
)

log = logging.getLogger(__name__)
POSTGRES_SOURCE = "postgres"  # batch reads of the PostgreSQL source (pipelines/batch.py)
CDC_SOURCE = "kafka"  # change events of the PostgreSQL source itself
LANDING_SOURCE = "landing"
# How the rows of each source are named in `_source` (kafka:<topic>/<partition>/<offset>,
# landing:<file>): a silver row's order counts only for changes of the same source.
SOURCE_PREFIXES = {CDC_SOURCE: "kafka:", LANDING_SOURCE: "landing:"}
OUTCOME_COL = "_outcome"
KNOWN_ORDER = "_known_order"
KNOWN_TRUNCATE = "_known_truncate"  # the latest truncate of the table applied before
TRUNCATED_AT = "_truncated_at"  # the latest truncate, this micro-batch's included
# The outcomes of a record, and where each is counted.
MALFORMED, TOMBSTONE, OLDER, STALE = "malformed", "tombstone", "older", "stale"
DELETE, VALID, REJECTED, TRUNCATE = "delete", "valid", "rejected", "truncate"
# A change a batch load's snapshot already saw; a delete of that kind until the load's
# bronze rows tell whether the load read the key (then `loaded`, else a `delete`).
LOADED, LOADED_DELETE = "loaded", "loaded_delete"
CLAIM_COL = "_claim_run_id"
DUPLICATES = (TOMBSTONE, OLDER, STALE, LOADED)
APPLIED = (DELETE, VALID, TRUNCATE)
QUARANTINED = (MALFORMED, REJECTED)
TRUNCATED = "truncated"  # how a truncate closes quarantine records


def positions_path(lake_root: str) -> str:
    return table_path(lake_root, Layer.OPS, POSITIONS)


def source_snapshots_path(lake_root: str) -> str:
    return table_path(lake_root, Layer.OPS, SOURCE_SNAPSHOTS)


def stream_context(spark: SparkSession, lake_root: str, timezone: str, query: str,
                   query_id: str, batch_id: int) -> tuple[LoadContext, RunRecord]:
    """Context and run record of one micro-batch; its run id names query, checkpoint, batch."""
    now = dt.datetime.now(dt.UTC)
    run_id = f"stream-{query}-{query_id[:8]}-{batch_id:08d}"
    run_date = now.astimezone(ZoneInfo(timezone)).date()
    ctx = LoadContext(spark, lake_root, run_id, run_date, now)
    return ctx, RunRecord(run_id=run_id, job=f"stream:{query}", started_at=now,
                          run_date=run_date)


@dataclass(frozen=True)
class Judged:
    """A table's records of one micro-batch with their `_outcome` (checkpointed), and silver
    as the micro-batch judged them against."""

    table: SourceTable
    records: DataFrame
    silver: DataFrame

    def having(self, *outcomes: str) -> DataFrame:
        return self.records.where(F.col(OUTCOME_COL).isin(*outcomes))


def apply_changes(
    ctx: LoadContext,
    run: RunRecord,
    changes: Mapping[str, DataFrame],
    *,
    app_id: str,
    batch_id: int,
    source: str,
    replay: bool = False,
) -> list[str]:
    """Applies one micro-batch of change rows per table; adds each table's counts to `run`
    and returns the silver tables it changed.

    `app_id` names the query and its checkpoint: with `batch_id` it makes each commit's
    Delta transaction id (a reset checkpoint starts a new app id, so nothing is skipped).
    `replay`: this micro-batch may have run before (the first one after a start); it then
    judges against the silver versions from before its first attempt.
    """
    tables = [table for table in SOURCE_TABLES if table.name in changes]
    silver = {table.name: _silver_before(ctx, table, replay) for table in SOURCE_TABLES}
    judged: dict[str, Judged] = {}
    for table in tables:  # parents first: a child's parent may arrive in this batch
        parents = {fk.parent: _valid_keys(TABLES_BY_NAME[fk.parent], silver[fk.parent],
                                          judged.get(fk.parent))
                   for fk in table.foreign_keys}
        judged[table.name] = _judged(ctx, table, changes[table.name], source,
                                     silver[table.name], parents)
    outcomes, truncated_at = _outcomes(judged)
    for name, found in outcomes.items():
        if found.get(LOADED_DELETE):
            judged[name] = _resolve_loaded_deletes(ctx, judged[name], found)
    counts = {name: _table_counts(name, source, found) for name, found in outcomes.items()}
    # Positions first: a batch running at the same time leaves keys with a stream position
    # alone, so a deleted key must have its position before silver loses the row (a batch
    # holding an older PostgreSQL snapshot would otherwise bring it back).
    leaving = [j for name, j in judged.items() if any(
        outcomes[name].get(outcome) for outcome in (DELETE, REJECTED, TRUNCATE))]
    _save_positions(ctx, source, leaving, app_id, batch_id)
    changed: list[str] = []
    for table in tables:
        started = time.monotonic()
        table_counts = counts[table.name]
        if _write(ctx, judged[table.name], outcomes[table.name], table_counts,
                  truncated_at.get(table.name), app_id=f"{app_id}.{table.name}",
                  batch_id=batch_id):
            changed.append(table.name)
        table_counts.seconds = round(time.monotonic() - started, 3)
    for table in SOURCE_TABLES:
        table_counts = counts.get(table.name) or TableCounts(table.name, source)
        if any(fk.parent in changed for fk in table.foreign_keys):
            # Orphans waiting in quarantine for a parent that this micro-batch brought.
            started = time.monotonic()
            table_counts.rows_reprocessed = reprocess_quarantined(ctx, table)
            table_counts.seconds += round(time.monotonic() - started, 3)
            # A replay finds nothing left to re-process if its first attempt did it; the
            # children of this table must still get their turn.
            if (table_counts.rows_reprocessed or replay) and table.name not in changed:
                changed.append(table.name)
        if table_counts.rows_read or table_counts.rows_reprocessed:
            run.tables.append(table_counts)
    return changed


def _silver_before(ctx: LoadContext, table: SourceTable, replay: bool) -> DataFrame:
    """Silver/`table` as this micro-batch first found it: the latest version, or, when it
    may be a replay that already committed there, the version before its first commit."""
    path = ctx.path(Layer.SILVER, table.name)
    if replay:
        mine = delta.versions_of_run(ctx.spark, path, ctx.run_id)
        if mine:
            return delta.read_version(ctx.spark, path, mine[0] - 1)
    return delta.read(ctx.spark, path, silver_schema(table))


def _valid_keys(parent: SourceTable, silver: DataFrame, judged: Judged | None) -> DataFrame:
    """Keys of a parent table's valid rows once this micro-batch is applied."""
    key = parent.primary_key
    if judged is None:
        return silver.select(key)
    truncate = judged.having(TRUNCATE).agg(F.max(ORDER_COL).alias(TRUNCATED_AT))
    keys = silver.crossJoin(truncate).where(
        F.col(TRUNCATED_AT).isNull() | survives_truncate(F.col(TRUNCATED_AT))).select(key)
    applied = judged.having(*APPLIED).select(F.col(KEY_COL).cast("int").alias(key),
                                             F.col(OUTCOME_COL))
    deleted = applied.where(F.col(OUTCOME_COL) == DELETE).select(key)
    added = applied.where(F.col(OUTCOME_COL) == VALID).select(key)
    return keys.join(deleted, on=key, how="left_anti").unionByName(added).distinct()


def _known_orders(ctx: LoadContext, table: SourceTable, source: str,
                  silver: DataFrame) -> DataFrame:
    """Per key: the highest order of `source` applied to it (the order of silver's row when
    it came from `source`, or of a delete or a rejected version recorded in the positions
    table)."""
    key = table.primary_key
    from_source = F.col(SOURCE_COL).startswith(SOURCE_PREFIXES[source])
    in_silver = silver.where(from_source).select(
        F.col(key).alias(KEY_COL), F.col(POSITION_COL).alias(KNOWN_ORDER))
    recorded = _recorded_positions(ctx, table, source).where(F.col("key").isNotNull()).select(
        F.col("key").alias(KEY_COL), F.col("order").alias(KNOWN_ORDER))
    return in_silver.unionByName(recorded).groupBy(KEY_COL).agg(
        F.max(KNOWN_ORDER).alias(KNOWN_ORDER))


def _recorded_positions(ctx: LoadContext, table: SourceTable, source: str) -> DataFrame:
    """ops/change_positions rows of `table` from `source`, except this run's own (a replay
    must not find them)."""
    return delta.read(ctx.spark, positions_path(ctx.lake_root), POSITIONS_SCHEMA).where(
        (F.col("source") == source) & (F.col("table") == table.name)
        & (F.col("run_id") != ctx.run_id))


def _truncates(ctx: LoadContext, table: SourceTable, source: str,
               changes: DataFrame) -> DataFrame:
    """One row: the order of the latest truncate of `table` applied before
    (`_known_truncate`) and of the latest one, this micro-batch's included
    (`_truncated_at`); NULL when there is none."""
    known = _recorded_positions(ctx, table, source).where(
        F.col("key").isNull() & (F.col("op") == TRUNCATE_OP)
    ).agg(F.max("order").alias(KNOWN_TRUNCATE))
    in_batch = changes.where(
        F.col(MALFORMED_COL).isNull() & (F.col(OP_COL) == TRUNCATE_OP)
    ).agg(F.max(ORDER_COL).alias("_batch_truncate"))
    return known.crossJoin(in_batch).select(
        KNOWN_TRUNCATE, F.greatest(KNOWN_TRUNCATE, "_batch_truncate").alias(TRUNCATED_AT))


def survives_truncate(truncated_at: Column) -> Column:
    """A silver row that a truncate at order `truncated_at` leaves: one the change stream
    wrote from a later change. A row of a batch load or a landing file has no place in the
    WAL's order; the truncate emptied the source table, so it goes."""
    from_stream = F.col(SOURCE_COL).startswith(SOURCE_PREFIXES[CDC_SOURCE])
    return F.coalesce(from_stream & (F.col(POSITION_COL) >= truncated_at), F.lit(False))


def _judged(ctx: LoadContext, table: SourceTable, changes: DataFrame, source: str,
            silver: DataFrame, parents: Mapping[str, DataFrame]) -> Judged:
    """Every record of `table` in the micro-batch with its outcome (checkpointed)."""
    known = with_latest(changes, table).join(
        _known_orders(ctx, table, source, silver), on=KEY_COL, how="left"
    ).crossJoin(F.broadcast(_truncates(ctx, table, source, changes)))
    claims = loaded_snapshots(ctx.spark, ctx.lake_root).get(table.name, ())
    loaded = F.col(KNOWN_ORDER).isNull() & F.col(CLAIM_COL).isNotNull()
    checked = validated(known, table, ctx.run_date, parents).select(
        "*", (latest_claim(F.col(KEY_COL), F.col(TX_COL), claims) if source == CDC_SOURCE
              else F.lit(None).cast("string")).alias(CLAIM_COL))
    is_truncate = F.col(OP_COL) == TRUNCATE_OP
    outcome = (
        F.when(F.col(MALFORMED_COL).isNotNull(), F.lit(MALFORMED))
        .when(F.col(OP_COL) == TOMBSTONE_OP, F.lit(TOMBSTONE))
        # A truncate not newer than one already applied is that one again.
        .when(is_truncate & is_stale(F.col(KNOWN_TRUNCATE)), F.lit(STALE))
        .when(is_truncate, F.lit(TRUNCATE))
        .when(~F.col(LATEST_COL), F.lit(OLDER))
        .when(is_stale(F.col(KNOWN_ORDER), unique_orders=source == CDC_SOURCE)
              | is_truncated(F.col(TRUNCATED_AT)), F.lit(STALE))
        .when(loaded & (F.col(OP_COL) == DELETE_OP), F.lit(LOADED_DELETE))
        .when(loaded, F.lit(LOADED))
        .when(F.col(OP_COL) == DELETE_OP, F.lit(DELETE))
        .when(is_valid(), F.lit(VALID))
        .otherwise(F.lit(REJECTED))
    )
    # A local checkpoint, not a cache: a cached plan that reads silver would be recomputed
    # after this micro-batch writes silver (Spark refreshes caches of a written path), and
    # then judge against the new rows (the records just applied would look stale).
    records = checked.select("*", outcome.alias(OUTCOME_COL)).localCheckpoint(
        eager=False, storageLevel=StorageLevel.MEMORY_AND_DISK)
    return Judged(table, records, silver)


def _resolve_loaded_deletes(ctx: LoadContext, judged: Judged, found: dict[str, int]) -> Judged:
    """Decides the deletes whose transaction a batch load saw (few: those in flight while the
    load read): `loaded` when the load read the key (it exists in the load's snapshot, so it
    came back after the delete), else a `delete` (the load never deletes). Updates `found`."""
    table = judged.table
    candidates = judged.having(LOADED_DELETE).select(KEY_COL, CLAIM_COL)
    runs = [row[CLAIM_COL] for row in candidates.select(CLAIM_COL).distinct().collect()]
    bronze = delta.read(ctx.spark, ctx.path(Layer.BRONZE, table.name), bronze_schema(table))
    read = [(row[KEY_COL], row[CLAIM_COL]) for row in bronze.where(
        F.col(RUN_ID_COL).isin(*runs)).select(
        parsed(table.primary_key, "int").cast("long").alias(KEY_COL),
        F.col(RUN_ID_COL).alias(CLAIM_COL),
    ).join(candidates, on=[KEY_COL, CLAIM_COL], how="left_semi").distinct().collect()]
    read_by_load = F.lit(False)
    for key, run_id in read:
        read_by_load = read_by_load | ((F.col(KEY_COL) == key) & (F.col(CLAIM_COL) == run_id))
    outcome = F.when(F.col(OUTCOME_COL) != LOADED_DELETE, F.col(OUTCOME_COL)).when(
        read_by_load, F.lit(LOADED)).otherwise(F.lit(DELETE))
    records = judged.records.withColumn(OUTCOME_COL, outcome).localCheckpoint(
        eager=False, storageLevel=StorageLevel.MEMORY_AND_DISK)
    total = found.pop(LOADED_DELETE)
    found[LOADED] = found.get(LOADED, 0) + len(read)
    found[DELETE] = found.get(DELETE, 0) + total - len(read)
    return Judged(table, records, judged.silver)


def loaded_snapshots(spark: SparkSession, lake_root: str) -> dict[str, tuple[Claim, ...]]:
    """Per table, the snapshots batch loads recorded, newest first (ops/source_snapshots)."""
    path = source_snapshots_path(lake_root)
    version = latest_version(Path(path)) if delta.exists(spark, path) else None
    if version is None:
        return {}
    return _claims_at(spark, path, version.version, version.committed_at)


@functools.lru_cache(maxsize=4)
def _claims_at(spark: SparkSession, path: str, version: int, committed_at: dt.datetime
               ) -> dict[str, tuple[Claim, ...]]:
    """The claims of one version of the table (cached: a micro-batch reads them only when a
    batch load has recorded a new one)."""
    rows = delta.read_version(spark, path, version).orderBy(F.col("taken_at").desc()).collect()
    claims: dict[str, list[Claim]] = {}
    for row in rows:
        claims.setdefault(row["table"], []).append(
            Claim(row["run_id"], row["key_after"], row["xmax"], tuple(row["xip"] or ())))
    return {table: tuple(found) for table, found in claims.items()}


def _outcomes(judged: Mapping[str, Judged]
              ) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Table -> outcome -> records, and table -> order of its latest truncate applied by
    this micro-batch, from one Spark job over all the micro-batch's records."""
    found: dict[str, dict[str, int]] = {name: {} for name in judged}
    truncated_at: dict[str, int] = {}
    frames = [j.records.select(F.lit(name).alias("table"), F.col(OUTCOME_COL), F.col(ORDER_COL))
              for name, j in judged.items()]
    if frames:
        for row in reduce(DataFrame.unionByName, frames).groupBy("table", OUTCOME_COL).agg(
                F.count(F.lit(1)).alias("count"), F.max(ORDER_COL).alias("last")).collect():
            found[row["table"]][row[OUTCOME_COL]] = int(row["count"])
            if row[OUTCOME_COL] == TRUNCATE:
                truncated_at[row["table"]] = int(row["last"])
    return found, truncated_at


def _table_counts(name: str, source: str, outcomes: Mapping[str, int]) -> TableCounts:
    return TableCounts(
        name, source, rows_read=sum(outcomes.values()),
        rows_valid=sum(outcomes.get(outcome, 0) for outcome in APPLIED),
        rows_quarantined=sum(outcomes.get(outcome, 0) for outcome in QUARANTINED),
        rows_duplicate=sum(outcomes.get(outcome, 0) for outcome in DUPLICATES),
    )


def _write(ctx: LoadContext, judged: Judged, outcomes: Mapping[str, int],
           counts: TableCounts, truncated_at: int | None, *, app_id: str,
           batch_id: int) -> bool:
    """Quarantine, silver and the quarantine's bookkeeping of one table; whether silver
    changed. `truncated_at`: the order of the truncate this micro-batch applies, if any."""
    table = judged.table
    if outcomes.get(MALFORMED) or outcomes.get(REJECTED):
        rows = malformed_to_quarantine(
            malformed_records(judged.having(MALFORMED).drop(REASONS_COL)), table,
            ctx.started_at,
        ).unionByName(to_quarantine(judged.having(REJECTED), table, ctx.started_at))
        with delta.idempotent(ctx.spark, f"{app_id}.quarantine", batch_id):
            write_quarantine(ctx, table, rows, step=f"quarantine.{table.name}")
    if not any(outcomes.get(outcome) for outcome in APPLIED):
        return False
    upserts = to_silver(judged.having(VALID), table)
    path = ctx.path(Layer.SILVER, table.name)
    tag = ctx.tag(f"silver.{table.name}")
    # Always a MERGE, even when silver held none of the keys at judging: a blind append
    # does not conflict with a batch's concurrent MERGE of the same new keys (Delta lets
    # blind appends through), and silver would hold both rows. A newer change with the same
    # values still updates the row's position: it is the order a later event is judged by.
    rows = upserts.select("*", F.lit("u").alias(OP_COL)).unionByName(
        _delete_rows(judged.having(DELETE), table))
    kept = None
    if truncated_at is not None:
        # Rows a batch load read after the truncate (its snapshot saw it) are newer than it.
        kept = _read_after_truncate(ctx, judged)
        # The truncate's removals go in the same MERGE: one commit, and a key the
        # micro-batch changes again after the truncate keeps one row (its new version).
        rows = rows.unionByName(_truncated_rows(judged.silver, table, truncated_at).join(
            rows.select(table.primary_key), on=table.primary_key, how="left_anti").join(
            kept, on=table.primary_key, how="left_anti"))
    with delta.idempotent(ctx.spark, f"{app_id}.silver", batch_id):
        delta.apply_changes(ctx.spark, rows, path, table.primary_key,
                            [*table.column_names, *LINEAGE_COLS],
                            [*table.column_names, POSITION_COL], commit_tag=tag)
    if truncated_at is not None:
        log.info(f"{ctx.run_id}: {table.name} truncated at source order {truncated_at}: "
                 "silver rows of older changes, batch loads and landing files removed")
        close_quarantined_where(ctx, table, _quarantined_before_truncate(table, truncated_at),
                                TRUNCATED, except_keys=kept)
    if outcomes.get(DELETE):
        close_quarantined_keys(ctx, table, judged.having(DELETE).select(
            F.col(KEY_COL).cast("int").alias(table.primary_key)), "deleted")
    if outcomes.get(VALID):
        counts.rows_superseded = supersede_quarantined(
            ctx, table, written=upserts.select(table.primary_key, INGESTED_AT_COL))
    return True


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


def _read_after_truncate(ctx: LoadContext, judged: Judged) -> DataFrame:
    """Keys (the table's key column) that a batch load read in a snapshot that had already
    seen the micro-batch's latest truncate: their silver row or quarantine record is newer
    than the truncate, so it stays. Empty when no load saw it."""
    table = judged.table
    key = table.primary_key
    none = ctx.spark.createDataFrame([], f"`{key}` int")
    claims = loaded_snapshots(ctx.spark, ctx.lake_root).get(table.name, ())
    latest = judged.having(TRUNCATE).orderBy(F.col(ORDER_COL).desc()).select(TX_COL).first()
    if not claims or latest is None or latest[TX_COL] is None:
        return none
    bronze = delta.read(ctx.spark, ctx.path(Layer.BRONZE, table.name), bronze_schema(table))
    read = bronze.where(F.col(RUN_ID_COL).isin(*{claim.run_id for claim in claims})).select(
        parsed(key, "int").cast("long").alias(KEY_COL), F.col(RUN_ID_COL).alias(CLAIM_COL))
    # A key counts for the latest load covering it, and only if that load saw the truncate.
    return read.where(
        latest_claim(F.col(KEY_COL), F.lit(int(latest[TX_COL])), claims) == F.col(CLAIM_COL)
    ).select(F.col(KEY_COL).cast("int").alias(key)).distinct().localCheckpoint(eager=True)


def _truncated_rows(silver: DataFrame, table: SourceTable, truncated_at: int) -> DataFrame:
    """Delete rows (silver-shaped, `_op` = d) for the silver rows a truncate removes."""
    return silver.where(~survives_truncate(F.lit(truncated_at))).select(
        *table.column_names, *LINEAGE_COLS, F.lit(DELETE_OP).alias(OP_COL))


def _quarantined_before_truncate(table: SourceTable, truncated_at: int) -> Column:
    """Open quarantine records of a key that a truncate at `truncated_at` precedes. Records
    without a readable key (malformed events) stay open: they describe a producer's fault,
    which the truncate does not mend."""
    keyed = parsed(table.primary_key, "int").isNotNull()
    return keyed & ~survives_truncate(F.lit(truncated_at))


def _save_positions(ctx: LoadContext, source: str, judged: list[Judged], app_id: str,
                    batch_id: int) -> None:
    """Appends the orders of the changes that leave no row in silver (deletes, rejected
    fresh versions, and truncates with a NULL key): a later, older event of those keys (of
    any key, after a truncate) is then stale. One commit for all tables, none when there is
    nothing to record."""
    frames = [
        j.having(DELETE, REJECTED, TRUNCATE).where(
            F.col(KEY_COL).isNotNull() | (F.col(OUTCOME_COL) == TRUNCATE)).select(
            F.lit(source).alias("source"), F.lit(j.table.name).alias("table"),
            F.col(KEY_COL).cast("int").alias("key"), F.col(ORDER_COL).alias("order"),
            F.col(OP_COL).alias("op"), F.lit(ctx.run_id).alias("run_id"),
            F.lit(ctx.started_at).cast("timestamp").alias("updated_at"),
        )
        for j in judged
    ]
    if not frames:
        return
    with delta.idempotent(ctx.spark, f"{app_id}.positions", batch_id):
        delta.append(reduce(DataFrame.unionByName, frames), positions_path(ctx.lake_root),
                     ctx.tag("positions"))


def stream_owned_keys(spark: SparkSession, lake_root: str, table: SourceTable) -> DataFrame:
    """Keys of `table` that the change stream has applied: the stream owns their versions.

    A batch snapshot read from PostgreSQL has no commit order to compare with the stream's,
    so a batch run leaves these keys alone instead of overwriting a newer change (or bringing
    back a deleted row): silver rows that came from Kafka, and the keys Kafka deleted or whose
    latest change the rules rejected.
    """
    key = table.primary_key
    streamed = delta.read(spark, table_path(lake_root, Layer.SILVER, table.name),
                          silver_schema(table)).where(
        F.col(SOURCE_COL).startswith(SOURCE_PREFIXES[CDC_SOURCE])).select(key)
    recorded = delta.read(spark, positions_path(lake_root), POSITIONS_SCHEMA).where(
        (F.col("source") == CDC_SOURCE) & (F.col("table") == table.name)
        & F.col("key").isNotNull()  # a truncate's position names no key
    ).select(F.col("key").alias(key))
    return streamed.unionByName(recorded).distinct()


def forget_positions(spark: SparkSession, lake_root: str, source: str) -> None:
    """Drops the recorded positions (deletes, rejected versions) of `source`."""
    path = positions_path(lake_root)
    if delta.exists(spark, path):
        delta.delete_where(spark, path, F.col("source") == source)


def ensure_stream_tables(spark: SparkSession, lake_root: str) -> None:
    """Silver, quarantine and positions tables exist (silver with its change data feed on)
    before streams start, so a micro-batch never has to create one."""
    for table in SOURCE_TABLES:
        silver = table_path(lake_root, Layer.SILVER, table.name)
        delta.ensure_table(spark, silver, silver_schema(table))
        delta.enable_change_feed(spark, silver)
        delta.ensure_table(spark, table_path(lake_root, Layer.QUARANTINE, table.name),
                           quarantine_schema(table))
    delta.ensure_table(spark, positions_path(lake_root), POSITIONS_SCHEMA)

