"""The run log in ops/: one row per job run, one per (run, table), and the high-water marks."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from condolake.catalog import (
    RUN_TABLES,
    RUN_TABLES_SCHEMA,
    RUNS,
    RUNS_SCHEMA,
    WATERMARKS,
    WATERMARKS_SCHEMA,
)
from condolake.lake import delta
from condolake.layout import Layer, table_path

# The mark of a snapshotted table: the fingerprint of the source contents last loaded.
SNAPSHOT_FINGERPRINT = "_snapshot_fingerprint"


@dataclass
class TableCounts:
    """What one run did to one table. Conservation: read = valid + quarantined + duplicate."""

    table: str
    source: str
    layer: str = "silver"  # where the rows went: silver (an ingest) or gold (a mart)
    rows_read: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_reprocessed: int = 0
    rows_superseded: int = 0
    watermark_from: int | None = None
    watermark_to: int | None = None
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        return self.rows_read == self.rows_valid + self.rows_quarantined + self.rows_duplicate


@dataclass
class RunRecord:
    run_id: str
    job: str
    started_at: dt.datetime
    run_date: dt.date
    tables: list[TableCounts] = field(default_factory=list)
    status: str = "running"
    finished_at: dt.datetime | None = None
    error: str | None = None

    def total(self, name: str) -> int:
        """Sum over the ingested tables (marts the run wrote are not reads)."""
        return sum(int(getattr(counts, name)) for counts in self.tables if counts.layer == "silver")

    @property
    def conserved(self) -> bool:
        return all(counts.conserved for counts in self.tables)


def write_run(spark: SparkSession, lake_root: str, run: RunRecord) -> None:
    """Appends the run and its per-table counts to ops/ (called once, at the end of a run)."""
    finished = run.finished_at or dt.datetime.now(dt.UTC)
    row = (
        run.run_id, run.job, run.status, run.started_at, finished,
        (finished - run.started_at).total_seconds(), run.run_date,
        run.total("rows_read"), run.total("rows_valid"), run.total("rows_quarantined"),
        run.total("rows_duplicate"), run.total("rows_reprocessed"), run.conserved, run.error,
    )
    delta.append(spark.createDataFrame([row], RUNS_SCHEMA),
                 table_path(lake_root, Layer.OPS, RUNS), commit_tag=f"{run.run_id}:ops.{RUNS}")
    if run.tables:
        per_table = [
            (run.run_id, *(value for key, value in asdict(counts).items()))
            for counts in run.tables
        ]
        delta.append(spark.createDataFrame(per_table, RUN_TABLES_SCHEMA),
                     table_path(lake_root, Layer.OPS, RUN_TABLES),
                     commit_tag=f"{run.run_id}:ops.{RUN_TABLES}")


def read_watermark(spark: SparkSession, lake_root: str, source: str, table: str,
                   column: str) -> int | None:
    """The latest mark saved for (source, table, column), or None before the first load."""
    path = table_path(lake_root, Layer.OPS, WATERMARKS)
    rows = (
        delta.read(spark, path, WATERMARKS_SCHEMA)
        .where((F.col("source") == source) & (F.col("table") == table)
               & (F.col("column") == column))
        .orderBy(F.col("updated_at").desc(), F.col("value").desc())
        .select("value")
        .limit(1)
        .collect()
    )
    return int(rows[0]["value"]) if rows else None


def save_watermark(
    spark: SparkSession, lake_root: str, source: str, table: str, column: str, value: int,
    run_id: str, commit_tag: str | None = None,
) -> None:
    """Appends the new mark: the table is the marks' history, the latest row is in force.

    `column` names what the mark measures: a key column (a high-water mark) or
    `SNAPSHOT_FINGERPRINT` (the fingerprint of a table's last loaded snapshot)."""
    now = dt.datetime.now(dt.UTC)
    update = spark.createDataFrame(
        [(f"{source}.{table}.{column}", source, table, column, value, run_id, now)],
        WATERMARKS_SCHEMA
    )
    delta.append(update, table_path(lake_root, Layer.OPS, WATERMARKS), commit_tag)
