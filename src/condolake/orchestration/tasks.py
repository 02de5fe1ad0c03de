"""What the Airflow tasks do: thin callers of the application layer (`condolake.app`).

Each function turns its logical date into the run date, takes the resources from the
environment (CONDOLAKE_*, as the command line does) and calls one app job, which builds its
SparkSession (`getOrCreate`: tasks run in one process share it). Nothing runs at import time;
the app's heavy imports happen inside its functions, so parsing a DAG file stays cheap.

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
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from condolake.app import jobs
from condolake.app import stream as streams
from condolake.app.resources import Resources
from condolake.config import load_settings
from condolake.errors import CondoLakeError

if TYPE_CHECKING:
    from condolake.monitoring.runlog import RunRecord

# Airflow captures what its tasks log.
log = logging.getLogger(__name__)


class TaskError(CondoLakeError):
    """An orchestrated step found a problem (e.g. failed data-quality checks)."""


def run_date_of(logical_date: dt.datetime | str, timezone: str) -> dt.date:
    """The run date of a DAG run: its logical date, as a day in the lake's time zone."""
    moment = (dt.datetime.fromisoformat(logical_date) if isinstance(logical_date, str)
              else logical_date)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).date()


def resources() -> Resources:
    """The resources of a task: the settings from the worker's environment."""
    return Resources.from_settings(load_settings())


def summary(run: RunRecord) -> dict[str, Any]:
    """What a task hands to XCom: small, JSON-friendly."""
    return {"run_id": run.run_id, "job": run.job, "status": run.status,
            "run_date": run.run_date.isoformat(), "rows_read": run.total("rows_read"),
            "rows_valid": run.total("rows_valid"),
            "rows_quarantined": run.total("rows_quarantined"),
            "rows_duplicate": run.total("rows_duplicate")}


def ingest_postgres(logical_date: dt.datetime | str) -> dict[str, Any]:
    """All four source tables from PostgreSQL into bronze, silver and quarantine."""
    lake = resources()
    run_date = run_date_of(logical_date, lake.settings.timezone)
    return summary(jobs.ingest_postgres(lake, run_date))


def ingest_files(logical_date: dt.datetime | str,
                 csv_files: Sequence[Mapping[str, Any]] = (),
                 api_url: str | None = None,
                 api_tables: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The configured file and API sources, one run each (none configured: nothing to do).

    `csv_files`: [{"path": ..., "table": ..., optional "delimiter", "encoding", "decimal",
    "header"}]; `api_url` with `api_tables`: the tables read from `<api_url>/<table>`.
    """
    if not csv_files and not (api_url and api_tables):
        log.info("no CSV file or API source configured")
        return []
    lake = resources()
    run_date = run_date_of(logical_date, lake.settings.timezone)
    runs = [summary(jobs.ingest_csv(
        lake, run_date, Path(str(entry["path"])), str(entry["table"]),
        delimiter=entry.get("delimiter"), encoding=entry.get("encoding"),
        decimal=entry.get("decimal"), header=bool(entry.get("header", True))))
        for entry in csv_files]
    runs += [summary(jobs.ingest_api(lake, run_date, str(api_url), table))
             for table in (api_tables if api_url else ())]
    return runs


def build_gold(logical_date: dt.datetime | str) -> dict[str, Any]:
    """The gold tables rebuilt from silver."""
    lake = resources()
    return summary(jobs.transform(lake, run_date_of(logical_date, lake.settings.timezone)))


def check_quality(logical_date: dt.datetime | str) -> dict[str, Any]:
    """The table-level data-quality checks (`condolake check`); fails when any check failed."""
    lake = resources()
    results = jobs.check(lake, run_date_of(logical_date, lake.settings.timezone))
    failed = [f"{r.check}({r.table}): {r.detail}" for r in results if r.failed]
    if failed:
        raise TaskError(f"{len(failed)} data-quality checks failed: " + "; ".join(failed))
    return {"checks": len(results), "failed": 0}


def compact(logical_date: dt.datetime | str) -> dict[str, Any]:
    """Light maintenance after a batch: compaction (no VACUUM) of bronze and the ops logs.
    VACUUM, orphan checkpoints and the other tables are the weekly maintenance's."""
    compacted = jobs.compact(resources())
    return {"tables": len(compacted), "files_compacted": sum(compacted.values())}


def maintain(logical_date: dt.datetime | str) -> dict[str, Any]:
    """`condolake maintain`: OPTIMIZE + VACUUM (configured retention, at least 7 days) of
    every Delta table, orphan checkpoints removed, unneeded positions pruned."""
    lake = resources()
    report = jobs.maintain(lake, run_date_of(logical_date, lake.settings.timezone))
    return {"run_id": report.run_id, "tables": len(report.tables),
            "checkpoints_removed": list(report.checkpoints_removed),
            "positions_pruned": report.positions_pruned}


def watch_streams() -> dict[str, Any]:
    """One look of the stream watchdog: restarts a dead stream (when configured) and alerts;
    fails when the stream is unhealthy and not being brought back (the failure callback
    posts that alert)."""
    lake = resources()
    result = streams.watch(lake)
    for line in result.verdict.describe() + result.notes:
        log.info(line)
    if not result.ok:
        raise TaskError("; ".join(result.verdict.describe() + result.notes))
    if not result.verdict.healthy:
        streams.alert(lake, result)  # restarted: say so, the task itself succeeded
    return result.to_dict()
