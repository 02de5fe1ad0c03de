"""What the Airflow tasks do: plain typed functions over the package's pipelines.

Each function loads the settings from the environment (CONDOLAKE_*, as the CLI does), builds
its SparkSession through `condolake.spark.build_spark` (`getOrCreate`: tasks run in one
process share it) and calls the library. Nothing runs at import time; heavy imports happen
inside the functions, so parsing a DAG file stays cheap.

Idempotent per logical date. The batch is incremental (a key watermark for `transacoes`,
MERGEs by key into silver) and gold is rebuilt from silver, so running a logical date again
reads nothing it already has, merges the same rows onto themselves and rebuilds the same
gold. What could still differ between two runs of one date is the run date the validation
rules compare dates with ("not in the future"): every run takes it from the logical date
(`run_date_of`), never from the clock. A failed task leaves the lake as it was (each run is
rolled back whole), so a retry starts from the same state. The source itself has no history:
a date re-run after the source changed sees the source as it is now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from condolake.config import Settings, load_settings
from condolake.errors import CondoLakeError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from condolake.monitoring.runlog import RunRecord

# Delta tables that grow by one small append per run: what the light maintenance compacts.
APPEND_ONLY_OPS = ("runs", "run_tables", "watermarks", "dq_results")


class TaskError(CondoLakeError):
    """An orchestrated step found a problem (e.g. failed data-quality checks)."""


def run_date_of(logical_date: dt.datetime | str, timezone: str) -> dt.date:
    """The run date of a DAG run: its logical date, as a day in the lake's time zone."""
    moment = (dt.datetime.fromisoformat(logical_date) if isinstance(logical_date, str)
              else logical_date)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).date()


def _spark(settings: Settings, app: str) -> SparkSession:
    from condolake.spark import build_spark

    return build_spark(settings, f"condolake-airflow-{app}")


def _summary(run: RunRecord) -> dict[str, Any]:
    """What a task hands to XCom: small, JSON-friendly."""
    return {"run_id": run.run_id, "job": run.job, "status": run.status,
            "run_date": run.run_date.isoformat(), "rows_read": run.total("rows_read"),
            "rows_valid": run.total("rows_valid"),
            "rows_quarantined": run.total("rows_quarantined"),
            "rows_duplicate": run.total("rows_duplicate")}


def _say(message: str) -> None:
    print(message, flush=True)  # the task's log


def ingest_postgres(logical_date: dt.datetime | str) -> dict[str, Any]:
    """All four source tables from PostgreSQL into bronze, silver and quarantine."""
    from condolake.pipelines.batch import ingest_postgres as ingest
    from condolake.services.postgres import source_database

    settings = load_settings()
    run_date = run_date_of(logical_date, settings.timezone)
    with source_database(settings, progress=_say) as db:
        return _summary(ingest(_spark(settings, "ingest"), settings, db, _say,
                               run_date=run_date))


def ingest_files(logical_date: dt.datetime | str,
                 csv_files: Sequence[Mapping[str, Any]] = (),
                 api_url: str | None = None,
                 api_tables: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The configured file and API sources, one run each (none configured: nothing to do).

    `csv_files`: [{"path": ..., "table": ..., optional "delimiter", "encoding", "decimal",
    "header"}]; `api_url` with `api_tables`: the tables read from `<api_url>/<table>`.
    """
    from condolake.pipelines.files import ingest_api, ingest_csv

    if not csv_files and not (api_url and api_tables):
        _say("no CSV file or API source configured")
        return []
    settings = load_settings()
    spark = _spark(settings, "ingest-files")
    run_date = run_date_of(logical_date, settings.timezone)
    runs: list[dict[str, Any]] = []
    for entry in csv_files:
        runs.append(_summary(ingest_csv(
            spark, settings, Path(str(entry["path"])), str(entry["table"]),
            delimiter=entry.get("delimiter"), encoding=entry.get("encoding"),
            decimal=entry.get("decimal"), header=bool(entry.get("header", True)),
            progress=_say, run_date=run_date)))
    for table in api_tables if api_url else ():
        runs.append(_summary(ingest_api(spark, settings, str(api_url), table,
                                        progress=_say, run_date=run_date)))
    return runs


def build_gold(logical_date: dt.datetime | str) -> dict[str, Any]:
    """The three gold tables rebuilt from silver."""
    from condolake.pipelines.batch import transform

    settings = load_settings()
    run_date = run_date_of(logical_date, settings.timezone)
    return _summary(transform(_spark(settings, "gold"), settings, _say, run_date=run_date))


def check_quality(logical_date: dt.datetime | str) -> dict[str, Any]:
    """The table-level data-quality checks (`condolake check`); fails when any check failed."""
    from condolake.pipelines.quality import run_checks

    settings = load_settings()
    run_date = run_date_of(logical_date, settings.timezone)
    results = run_checks(_spark(settings, "check"), settings, progress=_say, run_date=run_date)
    failed = [f"{r.check}({r.table}): {r.detail}" for r in results if r.failed]
    if failed:
        raise TaskError(f"{len(failed)} data-quality checks failed: " + "; ".join(failed))
    return {"checks": len(results), "failed": 0}


def compact(logical_date: dt.datetime | str) -> dict[str, Any]:
    """Light maintenance after a batch: OPTIMIZE (compaction only, no VACUUM) of the tables
    that gain one small file per run, bronze and the ops logs. VACUUM, orphan checkpoints and
    the other tables are the weekly maintenance's (`maintain`)."""
    from condolake.lake import delta
    from condolake.lake.layout import Layer, table_path
    from condolake.source.tables import SOURCE_TABLES

    settings = load_settings()
    spark = _spark(settings, "compact")
    paths = [table_path(settings.lake_path, Layer.BRONZE, t.name) for t in SOURCE_TABLES]
    paths += [table_path(settings.lake_path, Layer.OPS, name) for name in APPEND_ONLY_OPS]
    compacted: dict[str, int] = {}
    for path in paths:
        if not delta.exists(spark, path):
            continue
        metrics = delta.optimize(spark, path)
        removed = metrics.select("metrics.numFilesRemoved").first()
        compacted[path] = int(removed[0]) if removed and removed[0] is not None else 0
        _say(f"{path}: {compacted[path]} files compacted")
    return {"tables": len(compacted), "files_compacted": sum(compacted.values())}


def maintain(logical_date: dt.datetime | str) -> dict[str, Any]:
    """`condolake maintain`: OPTIMIZE + VACUUM (configured retention, at least 7 days) of
    every Delta table, orphan checkpoints removed, unneeded positions pruned."""
    from condolake.pipelines.maintenance import maintain as maintain_lake
    from condolake.pipelines.maintenance_plan import retention_hours

    settings = load_settings()
    hours = retention_hours(None, settings.vacuum_retention_h)
    report = maintain_lake(_spark(settings, "maintenance"), settings, retention_h=hours,
                           progress=_say, run_date=run_date_of(logical_date, settings.timezone))
    return {"run_id": report.run_id, "tables": len(report.tables),
            "checkpoints_removed": list(report.checkpoints_removed),
            "positions_pruned": report.positions_pruned}


def watch_streams() -> dict[str, Any]:
    """One look of the stream watchdog: restarts a dead stream (when configured) and alerts;
    fails when the stream is unhealthy and not being brought back (the failure callback
    posts that alert)."""
    from condolake.streaming.watchdog import alert, watch

    settings = load_settings()
    result = watch(settings)
    for line in result.verdict.describe() + result.notes:
        _say(line)
    if not result.ok:
        raise TaskError("; ".join(result.verdict.describe() + result.notes))
    if not result.verdict.healthy:
        alert(settings, result)  # restarted: say so, the task itself succeeded
    return result.to_dict()
