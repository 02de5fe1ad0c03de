"""Data-quality checks against the lake and the source, written to ops/dq_results (I/O).

`run_checks` is `condolake check`: the table-level checks, as a run of job `check` (a row in
ops/runs, one Delta append to ops/dq_results). `write_rule_results` is called by every
succeeded ingest run (batch, ingest postgres/csv/api) with one row per (rule, table).

Why row-rule results are written after the run's body succeeded (inside `execute`'s success
path, before its ops/runs row) and not as one of the rolled-back writes: a failed run is
rolled back, so rule counts of a failed run would describe records that are not in the lake;
and adding ops/dq_results to a run's rollback set would let a rollback erase the rows a
concurrent `condolake check` appended meanwhile. The write is one Delta append, so it either
commits whole or not at all; if it fails, the run fails and its data writes are rolled back.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from decimal import Decimal

from delta.tables import DeltaTable
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from condolake.catalog import DQ_RESULTS, DQ_RESULTS_SCHEMA, RUN_TABLES, RUNS, mart_names
from condolake.config import Settings
from condolake.ingestion.postgres import key_range
from condolake.lake import delta
from condolake.layout import (
    RESOLVED_RUN_ID_COL,
    SOURCE_COL,
    Layer,
    quarantine_schema,
    silver_schema,
    table_path,
)
from condolake.monitoring import quality
from condolake.monitoring.quality import CheckResult, IngestCounts
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.errors import root_cause
from condolake.pipelines.load import LoadContext
from condolake.pipelines.runs import execute
from condolake.pipelines.stream_silver import CDC_SOURCE, POSTGRES_SOURCE, SOURCE_PREFIXES
from condolake.services.database_url import SourceDatabase
from condolake.source.tables import SOURCE_TABLES, SourceTable
from condolake.transforms.silver.rules import RULES
from condolake.transforms.silver.validate import parsed

CHECK_JOB = "check"


def from_postgres() -> Column:
    """Records of the PostgreSQL source: its batch reads (`_source` "postgres") and its change
    stream ("kafka:<topic>/<partition>/<offset>")."""
    return (F.col(SOURCE_COL) == POSTGRES_SOURCE) | F.col(SOURCE_COL).startswith(
        SOURCE_PREFIXES[CDC_SOURCE])


def dq_results_path(lake_root: str) -> str:
    return table_path(lake_root, Layer.OPS, DQ_RESULTS)


def write_results(spark: SparkSession, lake_root: str, run_id: str, job: str,
                  results: Sequence[CheckResult], checked_at: dt.datetime) -> None:
    """Appends the results of one run to ops/dq_results in one commit."""
    if not results:
        return
    rows = [result.as_row(run_id, job, checked_at) for result in results]
    delta.append(spark.createDataFrame(rows, DQ_RESULTS_SCHEMA), dq_results_path(lake_root),
                 commit_tag=f"{run_id}:{DQ_RESULTS}")


def drifted_tables(spark: SparkSession, lake_root: str) -> set[str]:
    """Tables whose latest `schema_drift` result failed (their change events carried columns
    the lake does not declare)."""
    path = dq_results_path(lake_root)
    if not delta.exists(spark, path):
        return set()
    latest = delta.read(spark, path).where(F.col("check") == quality.SCHEMA_DRIFT).groupBy(
        "table").agg(F.max_by("status", "checked_at").alias("status"))
    return {row["table"] for row in latest.collect() if row["status"] == quality.FAILED}


def write_rule_results(ctx: LoadContext, run: RunRecord) -> None:
    """One row per (rule, table) of the tables the ingest run loaded, zero failures included
    (a table it left alone, such as an unchanged snapshot, has none).

    Called by `execute` once the run's body succeeded (see the module docstring).
    """
    results = [
        result
        for counts in run.tables
        if counts.layer == "silver" and counts.table in ctx.rule_failures
        for result in quality.row_rule_results(
            counts.table, RULES[counts.table], ctx.rule_failures.get(counts.table, {}))
    ]
    write_results(ctx.spark, ctx.lake_root, run.run_id, run.job, results,
                  dt.datetime.now(dt.UTC))


# --- the table checks -------------------------------------------------------------------------


def open_quarantined_keys(spark: SparkSession, lake_root: str, table: SourceTable) -> int:
    """Distinct keys of open PostgreSQL quarantine records without a silver row (the
    definition is in condolake.monitoring.quality's docstring)."""
    key = table.primary_key
    quarantine = delta.read(spark, table_path(lake_root, Layer.QUARANTINE, table.name),
                            quarantine_schema(table))
    silver = delta.read(spark, table_path(lake_root, Layer.SILVER, table.name),
                        silver_schema(table))
    open_keys = quarantine.where(
        F.col(RESOLVED_RUN_ID_COL).isNull() & from_postgres()
    ).select(parsed(key, "int").alias(key)).where(F.col(key).isNotNull()).distinct()
    return open_keys.join(silver.select(key), on=key, how="left_anti").count()


def silver_rows(spark: SparkSession, lake_root: str, table: SourceTable) -> int:
    return delta.read(spark, table_path(lake_root, Layer.SILVER, table.name),
                      silver_schema(table)).count()


def source_rows(db: SourceDatabase, table: SourceTable) -> int:
    return key_range(db, table, None).rows


def reconciliation_results(spark: SparkSession, lake_root: str,
                           db: SourceDatabase | None, unavailable: str | None
                           ) -> list[CheckResult]:
    if db is None:
        reason = unavailable or "no source database"
        return [quality.reconciliation_unavailable(t.name, reason) for t in SOURCE_TABLES]
    try:
        counted = {t.name: source_rows(db, t) for t in SOURCE_TABLES}
    except Exception as error:  # any driver error: the check fails, it does not crash
        reason = f"{db.redacted_url}: {root_cause(error)}"
        return [quality.reconciliation_unavailable(t.name, reason) for t in SOURCE_TABLES]
    return [
        quality.reconciliation(t.name, counted[t.name], silver_rows(spark, lake_root, t),
                               open_quarantined_keys(spark, lake_root, t))
        for t in SOURCE_TABLES
    ]


def commit_age_s(spark: SparkSession, path: str, now: float) -> float | None:
    """Seconds since the latest commit of the Delta table at `path` (None: no table)."""
    if not delta.exists(spark, path):
        return None
    latest = DeltaTable.forPath(spark, path).history(1).select(
        F.col("timestamp").cast("double").alias("at")).first()
    return None if latest is None else max(0.0, now - float(latest["at"]))


def freshness_results(spark: SparkSession, settings: Settings) -> list[CheckResult]:
    now = time.time()
    return [
        quality.freshness(name, commit_age_s(
            spark, table_path(settings.lake_path, Layer.GOLD, name), now),
            settings.freshness_sla_s)
        for name in mart_names()
    ]


def gold_totals_result(spark: SparkSession, lake_root: str) -> CheckResult:
    """Sums of `quantidade_transacoes` and `valor_total` of each mart, in one job each."""
    totals: dict[str, tuple[int, Decimal] | None] = {}
    for name in mart_names():
        path = table_path(lake_root, Layer.GOLD, name)
        if not delta.exists(spark, path):
            totals[name] = None
            continue
        row = delta.read(spark, path).agg(
            F.coalesce(F.sum("quantidade_transacoes"), F.lit(0)).alias("n"),
            F.coalesce(F.sum("valor_total"), F.lit(0)).alias("v")).first()
        assert row is not None  # an aggregate without grouping has one row
        totals[name] = (int(row["n"]), Decimal(row["v"]))
    return quality.gold_totals(totals)


def ingest_counts(spark: SparkSession, lake_root: str) -> list[IngestCounts]:
    """Per-table counts of every succeeded ingest run (from ops/runs and ops/run_tables)."""
    runs_path = table_path(lake_root, Layer.OPS, RUNS)
    tables_path = table_path(lake_root, Layer.OPS, RUN_TABLES)
    if not (delta.exists(spark, runs_path) and delta.exists(spark, tables_path)):
        return []
    runs = delta.read(spark, runs_path).where(
        (F.col("status") == "succeeded") & F.col("job").isin(*sorted(quality.INGEST_JOBS))
    ).select("run_id", "started_at")
    per_table = delta.read(spark, tables_path).where(F.col("layer") == "silver").join(
        runs, on="run_id", how="inner")
    return [
        IngestCounts(table=row["table"], run_id=row["run_id"], started_at=row["started_at"],
                     rows_read=int(row["rows_read"]),
                     rows_quarantined=int(row["rows_quarantined"]),
                     rows_duplicate=int(row["rows_duplicate"]))
        for row in per_table.select("table", "run_id", "started_at", "rows_read",
                                    "rows_quarantined", "rows_duplicate").collect()
    ]


def table_checks(spark: SparkSession, settings: Settings, db: SourceDatabase | None,
                 unavailable: str | None = None) -> list[CheckResult]:
    """Every table-level check, in a stable order."""
    tables = [t.name for t in SOURCE_TABLES]
    return [
        *reconciliation_results(spark, settings.lake_path, db, unavailable),
        *freshness_results(spark, settings),
        gold_totals_result(spark, settings.lake_path),
        *quality.rate_results(tables, quality.last_ingest(ingest_counts(spark, settings.lake_path)),
                              settings.quarantine_rate_max, settings.duplicate_rate_max),
    ]


def run_checks(spark: SparkSession, settings: Settings, db: SourceDatabase | None = None,
               *, unavailable: str | None = None,
               run_date: dt.date | None = None) -> list[CheckResult]:
    """`condolake check`: the table-level checks as a run of job `check`, appended to
    ops/dq_results in one commit. The run succeeds when the checks ran, whatever they found;
    the failed checks are in the results. Without `db`, reconciliation fails with
    `unavailable` as the reason."""
    found: list[CheckResult] = []

    def body(ctx: LoadContext, run: RunRecord) -> None:
        found.extend(table_checks(ctx.spark, settings, db, unavailable))
        write_results(ctx.spark, ctx.lake_root, run.run_id, run.job, found,
                      dt.datetime.now(dt.UTC))

    execute(spark, settings, CHECK_JOB, body, [], run_date=run_date)
    return found
