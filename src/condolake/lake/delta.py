"""Delta Lake reads and writes of the lake's tables: every write is one atomic Delta commit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from condolake.lake.layout import INGESTED_AT_COL


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


def append(df: DataFrame, path: str, commit_tag: str | None = None) -> None:
    writer = df.write.format("delta").mode("append")
    if commit_tag:
        writer = writer.option("userMetadata", commit_tag)
    writer.save(path)


def overwrite(df: DataFrame, path: str, commit_tag: str | None = None) -> None:
    """Replaces the table's content in one commit (the old version stays in its history)."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if commit_tag:
        writer = writer.option("userMetadata", commit_tag)
    writer.save(path)


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
        (
            target.alias("t")
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
        (
            target.alias("t")
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
        (
            target.alias("t")
            .merge(keys.alias("s"), f"t.`{key}` = s.`{key}`")
            .whenMatchedUpdate(set=dict(assignments))  # type: ignore[arg-type]
            .execute()
        )


def version(spark: SparkSession, path: str) -> int | None:
    """Latest committed version of the table, or None when there is no table."""
    if not exists(spark, path):
        return None
    history = DeltaTable.forPath(spark, path).history(1).select("version").collect()
    return int(history[0]["version"])
