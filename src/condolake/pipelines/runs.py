"""A job run: id, dates, all-or-nothing writes, and its record in ops/."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from pyspark.sql import SparkSession

from condolake.config import Settings
from condolake.errors import CondoLakeError
from condolake.lake.rollback import LakeCheckpoint
from condolake.monitoring.runlog import RunRecord, write_run
from condolake.pipelines.errors import root_cause
from condolake.pipelines.load import LoadContext

Progress = Callable[[str], None]
Body = Callable[[LoadContext, RunRecord], None]


class PipelineError(CondoLakeError):
    """A run failed; the lake was rolled back to where it was before the run."""


def new_run(spark: SparkSession, settings: Settings, job: str) -> tuple[LoadContext, RunRecord]:
    now = dt.datetime.now(dt.UTC)
    run_date = now.astimezone(ZoneInfo(settings.timezone)).date()
    started_at = now  # time-zone aware: Spark stores the right instant whatever the TZ
    run_id = f"{job}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    ctx = LoadContext(spark, settings.lake_path, run_id, run_date, started_at)
    return ctx, RunRecord(run_id=run_id, job=job, started_at=started_at, run_date=run_date)


def execute(
    spark: SparkSession,
    settings: Settings,
    job: str,
    body: Body,
    touched_paths: Iterable[str],
    progress: Progress | None = None,
    describe_failure: Callable[[str], str] | None = None,
) -> RunRecord:
    """Runs `body` as one run: on failure the touched tables are rolled back and it is logged."""
    ctx, run = new_run(spark, settings, job)
    if progress:
        progress(f"run {run.run_id} (run date {run.run_date:%d/%m/%Y})")
    checkpoint = LakeCheckpoint(spark, touched_paths, run.run_id)
    try:
        body(ctx, run)
        if not run.conserved:
            raise PipelineError(
                "conservation broken (rows read != valid + quarantined + duplicate): "
                + ", ".join(f"{c.table} {c.rows_read} != {c.rows_valid} + "
                            f"{c.rows_quarantined} + {c.rows_duplicate}"
                            for c in run.tables if not c.conserved)
            )
    except Exception as error:
        # Our own errors already speak to the user; JVM ones are boiled down to their cause.
        summary = str(error) if isinstance(error, CondoLakeError) else root_cause(error)
        if describe_failure:
            summary = describe_failure(summary)
        run.status, run.error, run.tables = "failed", summary, []
        kept: list[str] = []
        try:
            _, kept = checkpoint.restore(progress)
        finally:
            _log(spark, settings, run)
        outcome = (
            f"Nothing was changed in the lake ({settings.lake_path})" if not kept else
            f"The lake ({settings.lake_path}) was rolled back except {', '.join(kept)}, which "
            "a stream also wrote to meanwhile: this run's upserts there stay (re-running the "
            "job gives the same result)"
        )
        raise PipelineError(
            f"{job} failed: {summary}\n{outcome}; run {run.run_id} is recorded as failed in "
            "ops/runs."
        ) from error
    run.status = "succeeded"
    _log(spark, settings, run)
    return run


def _log(spark: SparkSession, settings: Settings, run: RunRecord) -> None:
    run.finished_at = dt.datetime.now(dt.UTC)
    write_run(spark, settings.lake_path, run)
