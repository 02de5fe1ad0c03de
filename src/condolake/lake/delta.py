"""Delta Lake reads and writes of the lake's tables: every write is one atomic Delta commit."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
)
from delta.exceptions import captured as _captured  # noqa: F401  (converts JVM conflicts)
from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql.types import StructType
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from condolake.layout import DELETE_OP, INGESTED_AT_COL, OP_COL

T = TypeVar("T")
# A commit that lost a race with another writer (a batch run and a stream on the same table).
CONFLICTS = (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
)
CONFLICT_NAMES = frozenset(kind.__name__ for kind in CONFLICTS)
DELTA_EXCEPTIONS = "io.delta.exceptions."
CONFLICT_ATTEMPTS = 8
CONFLICT_BACKOFF_S = 0.2
TXN_APP_ID_CONF = "spark.databricks.delta.write.txnAppId"
TXN_VERSION_CONF = "spark.databricks.delta.write.txnVersion"
CHANGE_FEED_PROPERTY = "delta.enableChangeDataFeed"
HISTORY_DEPTH = 100  # commits searched for a run's own (other writers may commit in between)


def retrying(write: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Runs `write` again when its commit conflicts with a concurrent writer.

    A MERGE re-reads the latest snapshot on every attempt, so a retry applies the same change
    on top of the other writer's commit. Jittered backoff keeps two retrying writers apart.
    """
    retryer = Retrying(
        stop=stop_after_attempt(attempts),
        wait=_conflict_backoff,
        retry=retry_if_exception(is_conflict),
        reraise=True,
    )
    return retryer(write)


def _conflict_backoff(state: RetryCallState) -> float:
    """Grows linearly with the attempt, times a random factor in [1, 2)."""
    return CONFLICT_BACKOFF_S * state.attempt_number * (1 + random.random())


def is_conflict(error: BaseException) -> bool:
    """A Delta commit conflict, whether PySpark converted it to Delta's Python class or not
    (inside a foreachBatch callback it arrives as a plain Py4JJavaError)."""
    if isinstance(error, CONFLICTS):
        return True
    java_error = getattr(error, "java_exception", None)
    name = str(java_error.getClass().getName()) if java_error is not None else ""
    return name.startswith(DELTA_EXCEPTIONS) and name.rsplit(".", 1)[-1] in CONFLICT_NAMES


@contextmanager
def idempotent(spark: SparkSession, app_id: str | None, txn_version: int | None) -> Iterator[None]:
    """Commits inside carry (app_id, txn_version); Delta skips one already committed.

    This is what makes a replayed micro-batch (same batch id after a crash) a no-op on tables
    it had already written. Use the session of the micro-batch: its conf is the query's own.
    """
    if app_id is None or txn_version is None:
        yield
        return
    spark.conf.set(TXN_APP_ID_CONF, app_id)
    spark.conf.set(TXN_VERSION_CONF, str(txn_version))
    try:
        yield
    finally:
        spark.conf.unset(TXN_APP_ID_CONF)
        spark.conf.unset(TXN_VERSION_CONF)


def exists(spark: SparkSession, path: str) -> bool:
    return bool(DeltaTable.isDeltaTable(spark, path))


def ensure_table(
    spark: SparkSession, path: str, schema: StructType,
    properties: dict[str, str] | None = None,
) -> DeltaTable:
    """The Delta table at `path`, created empty with `schema` if it is not there yet."""
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    return builder.execute()


def read(spark: SparkSession, path: str, schema: StructType | None = None) -> DataFrame:
    """The table at `path`; an empty frame of `schema` when it does not exist yet."""
    if schema is not None and not exists(spark, path):
        return spark.createDataFrame([], schema)
    return spark.read.format("delta").load(path)


def read_version(spark: SparkSession, path: str, version: int) -> DataFrame:
    """The table at `path` as it was at `version` (Delta time travel)."""
    return spark.read.format("delta").option("versionAsOf", version).load(path)


def append(df: DataFrame, path: str, commit_tag: str | None = None) -> None:
    writer = df.write.format("delta").mode("append")
    if commit_tag:
        writer = writer.option("userMetadata", commit_tag)
    retrying(lambda: writer.save(path))


def overwrite(df: DataFrame, path: str, commit_tag: str | None = None) -> None:
    """Replaces the table's content in one commit (the old version stays in its history)."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if commit_tag:
        writer = writer.option("userMetadata", commit_tag)
    # A stream may be merging into the same gold table: the full rebuild is retried on top.
    retrying(lambda: writer.save(path))


@contextmanager
def _tagged(spark: SparkSession, commit_tag: str | None) -> Iterator[None]:
    """Tags the MERGEs inside with `commit_tag` (a MERGE has no writer options)."""
    key = "spark.databricks.delta.commitInfo.userMetadata"
    if commit_tag:
        spark.conf.set(key, commit_tag)
    try:
        yield
    finally:
        spark.conf.unset(key)


def upsert_latest(
    spark: SparkSession,
    updates: DataFrame,
    path: str,
    key: str,
    value_columns: Sequence[str],
    *,
    only_if_newer: bool = False,
    commit_tag: str | None = None,
) -> None:
    """MERGE `updates` into the table by `key`: insert new keys, update keys whose values changed.

    Unchanged rows are left alone (lineage included), so re-running a load changes nothing.
    With `only_if_newer`, an existing row is replaced only by an update ingested after it.
    """
    if not exists(spark, path):
        append(updates, path, commit_tag)
        return
    target = DeltaTable.forPath(spark, path)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in value_columns)
    if only_if_newer:
        changed = f"({changed}) AND t.`{INGESTED_AT_COL}` < s.`{INGESTED_AT_COL}`"
    with _tagged(spark, commit_tag):
        retrying(
            lambda: target.alias("t")
            .merge(updates.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenMatchedUpdateAll(condition=changed)
            .whenNotMatchedInsertAll()
            .execute()
        )


def insert_new(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    key: str,
    commit_tag: str | None = None,
) -> None:
    """MERGE that only inserts rows whose `key` is not in the table yet (idempotent append)."""
    if not exists(spark, path):
        append(rows, path, commit_tag)
        return
    target = DeltaTable.forPath(spark, path)
    with _tagged(spark, commit_tag):
        retrying(
            lambda: target.alias("t")
            .merge(rows.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenNotMatchedInsertAll()
            .execute()
        )


def update_where(
    spark: SparkSession,
    path: str,
    keys: DataFrame,
    key: str,
    assignments: dict[str, str],
    commit_tag: str | None = None,
) -> None:
    """Sets `assignments` (column -> SQL expression over `s`, the keys row) on matching rows."""
    target = DeltaTable.forPath(spark, path)
    with _tagged(spark, commit_tag):
        retrying(
            lambda: target.alias("t")
            .merge(keys.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenMatchedUpdate(set=dict(assignments))  # type: ignore[arg-type]
            .execute()
        )


def apply_changes(
    spark: SparkSession,
    changes: DataFrame,
    path: str,
    key: str,
    columns: Sequence[str],
    value_columns: Sequence[str],
    commit_tag: str | None = None,
) -> None:
    """MERGE change rows by `key`: `_op` = d deletes the row, any other op upserts it.

    `columns` are the table's columns (all set from the change), `value_columns` those whose
    difference makes an update worth writing. `changes` holds at most one row per key.
    """
    target = DeltaTable.forPath(spark, path)
    is_delete = f"s.`{OP_COL}` = '{DELETE_OP}'"
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in value_columns)
    values = {f"`{c}`": f"s.`{c}`" for c in columns}
    with _tagged(spark, commit_tag):
        retrying(
            lambda: target.alias("t")
            .merge(changes.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenMatchedDelete(condition=is_delete)
            .whenMatchedUpdate(condition=f"NOT {is_delete} AND ({changed})",
                               set=values)  # type: ignore[arg-type]
            .whenNotMatchedInsert(condition=f"NOT {is_delete}",
                                  values=values)  # type: ignore[arg-type]
            .execute()
        )


def replace_keys(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    keys: Sequence[str],
    columns: Sequence[str],
    present_col: str,
    commit_tag: str | None = None,
) -> None:
    """Makes the table's rows for a set of keys equal to `rows`.

    `rows` has one row per affected key; `present_col` is false for a key that must no longer
    be in the table (it is deleted), true for a key whose row is inserted or replaced.
    """
    target = DeltaTable.forPath(spark, path)
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    values = {f"`{c}`": f"s.`{c}`" for c in columns}
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)
    with _tagged(spark, commit_tag):
        retrying(
            lambda: target.alias("t")
            .merge(rows.alias("s"), on)
            .whenMatchedDelete(condition=f"NOT s.`{present_col}`")
            .whenMatchedUpdate(condition=f"s.`{present_col}` AND ({changed})",
                               set=values)  # type: ignore[arg-type]
            .whenNotMatchedInsert(condition=f"s.`{present_col}`",
                                  values=values)  # type: ignore[arg-type]
            .execute()
        )


def delete_matching(spark: SparkSession, keys: DataFrame, path: str, key: str, *,
                    condition: str, commit_tag: str | None = None) -> None:
    """Deletes the rows whose `key` is in `keys` and that meet `condition` (on `t.`, the
    target row) when the delete commits: a MERGE, so a concurrent writer's change to one of
    those rows is a conflict, and the retry judges the row as that writer left it."""
    target = DeltaTable.forPath(spark, path)
    with _tagged(spark, commit_tag):
        retrying(
            lambda: target.alias("t").merge(keys.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenMatchedDelete(condition=condition).execute()
        )


def delete_where(spark: SparkSession, path: str, condition: Column) -> None:
    target = DeltaTable.forPath(spark, path)
    retrying(lambda: target.delete(condition))


def enable_change_feed(spark: SparkSession, path: str) -> None:
    """Turns the change data feed on for a table made before it was the default."""
    properties = DeltaTable.forPath(spark, path).detail().select("properties").first()
    if properties and properties[0].get(CHANGE_FEED_PROPERTY) == "true":
        return
    retrying(lambda: spark.sql(
        f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{CHANGE_FEED_PROPERTY}' = 'true')"
    ))


def versions_of_run(spark: SparkSession, path: str, run_id: str,
                    depth: int = HISTORY_DEPTH) -> list[int]:
    """Versions of the table committed by run `run_id` (their userMetadata is
    `<run_id>:<step>`), among the latest `depth` commits, oldest first.

    Found by tag rather than remembered, so a micro-batch replayed after a crash finds the
    commits its first attempt made."""
    prefix = f"{run_id}:"
    commits = DeltaTable.forPath(spark, path).history(depth).select(
        "version", "userMetadata").collect()
    return sorted(int(row[0]) for row in commits if (row[1] or "").startswith(prefix))


def change_feed(spark: SparkSession, path: str, first: int, last: int) -> DataFrame:
    """The change data feed of versions `first`..`last` of the table (pre- and post-images
    of updates, inserts, deletes), with `_change_type`."""
    return (spark.read.format("delta").option("readChangeFeed", "true")
            .option("startingVersion", first).option("endingVersion", last).load(path))


def version(spark: SparkSession, path: str) -> int | None:
    """Latest committed version of the table, or None when there is no table."""
    if not exists(spark, path):
        return None
    history = DeltaTable.forPath(spark, path).history(1).select("version").collect()
    return int(history[0]["version"])


def optimize(spark: SparkSession, path: str) -> DataFrame:
    """Compacts the table's small files (OPTIMIZE); its metrics as a one-row DataFrame. A
    stream's MERGE that removed one of the files meanwhile makes the commit conflict, and the
    compaction is planned again on the new snapshot."""
    table = DeltaTable.forPath(spark, path)
    return retrying(lambda: table.optimize().executeCompaction())
