"""The lake's jobs: ingest, transform, batch, check, maintain, compact, show.

Each is a plain function of the resources, the run date (the day the validation rules compare
dates with: today for a command, the logical date for an Airflow run); progress is logged.
Heavy imports (pyspark, psycopg) happen inside the functions so that `condolake --help` and a
DAG file's parse stay cheap.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from condolake.app.resources import Resources

if TYPE_CHECKING:
    from rich.table import Table

    from condolake.monitoring.quality import CheckResult
    from condolake.monitoring.runlog import RunRecord
    from condolake.pipelines.maintenance import MaintenanceReport


def ingest_postgres(resources: Resources, run_date: dt.date) -> RunRecord:
    """All four source tables from PostgreSQL into bronze, silver and quarantine."""
    from condolake.pipelines.batch import ingest_postgres as ingest

    with resources.source_database() as db:
        spark = resources.spark("condolake-ingest-postgres")
        return ingest(spark, resources.settings, db, run_date=run_date)


def ingest_csv(resources: Resources, run_date: dt.date, path: Path, table: str, *,
               delimiter: str | None = None, encoding: str | None = None,
               decimal: str | None = None, header: bool = True) -> RunRecord:
    """One table from a CSV file."""
    from condolake.pipelines.files import ingest_csv as ingest
    from condolake.source.tables import source_table

    source_table(table)  # a wrong name fails before Spark starts
    spark = resources.spark("condolake-ingest-csv")
    return ingest(spark, resources.settings, path, table, delimiter=delimiter,
                  encoding=encoding, decimal=decimal, header=header,
                  run_date=run_date)


def ingest_api(resources: Resources, run_date: dt.date, url: str, table: str, *,
               page_size: int = 1000) -> RunRecord:
    """One table from a paginated JSON API (`<url>/<table>`)."""
    from condolake.pipelines.files import ingest_api as ingest
    from condolake.source.tables import source_table

    source_table(table)
    spark = resources.spark("condolake-ingest-api")
    return ingest(spark, resources.settings, url, table, page_size=page_size,
                  run_date=run_date)


def transform(resources: Resources, run_date: dt.date) -> RunRecord:
    """The gold tables rebuilt from silver."""
    from condolake.pipelines.batch import transform as rebuild

    spark = resources.spark("condolake-transform")
    return rebuild(spark, resources.settings, run_date=run_date)


def batch(resources: Resources, run_date: dt.date, *, handover: bool = False) -> RunRecord:
    """PostgreSQL ingested and gold updated for what changed, as one all-or-nothing run;
    `handover`: also removes the silver rows whose key PostgreSQL no longer has (the load
    that hands the lake over to change data capture, ADR 0018)."""
    from condolake.pipelines.batch import batch as run_batch

    with resources.source_database() as db:
        spark = resources.spark("condolake-batch")
        return run_batch(spark, resources.settings, db, run_date=run_date, handover=handover)


def check(resources: Resources, run_date: dt.date) -> list[CheckResult]:
    """The table-level data-quality checks, appended to ops/dq_results. Reconciliation uses
    the source when it is reachable without starting anything."""
    from condolake.pipelines.quality import run_checks

    spark = resources.spark("condolake-check")
    db, unavailable = resources.running_source()
    return run_checks(spark, resources.settings, db, unavailable=unavailable,
                      run_date=run_date)


def maintain(resources: Resources, run_date: dt.date, *, retention_h: float | None = None,
             unsafe_retention: bool = False, dry_run: bool = False) -> MaintenanceReport:
    """OPTIMIZE and VACUUM of every Delta table, orphan checkpoints removed, unneeded
    positions pruned; `retention_h` defaults to CONDOLAKE_VACUUM_RETENTION_H."""
    from condolake.pipelines.maintenance import maintain as maintain_lake
    from condolake.pipelines.maintenance_plan import retention_hours

    # A retention below the safe minimum fails here, before Spark starts.
    hours = retention_hours(retention_h, resources.settings.vacuum_retention_h,
                            unsafe=unsafe_retention)
    spark = resources.spark("condolake-maintain")
    return maintain_lake(spark, resources.settings, retention_h=hours,
                         unsafe_retention=unsafe_retention, dry_run=dry_run,
                         run_date=run_date)


def compact(resources: Resources) -> dict[str, int]:
    """Light maintenance after a batch: compaction of bronze and the append-only ops tables;
    the files compacted per table path."""
    from condolake.pipelines.maintenance import compact_append_only

    spark = resources.spark("condolake-compact")
    return compact_append_only(spark, resources.settings.lake_path)


def show(resources: Resources, rows: int) -> list[Table]:
    """The gold tables, `rows` rows each, formatted pt-BR."""
    from condolake.reporting import gold_tables

    return gold_tables(resources.spark("condolake-show"), resources.settings.lake_path, rows)
