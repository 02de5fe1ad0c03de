"""A job run: id, dates, all-or-nothing writes, and its record in ops/."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from zoneinfo import ZoneInfo

from pyspark.sql import SparkSession

from condolake.config import Settings
from condolake.errors import CondoLakeError
from condolake.lake.gold_set import forget_silver, gold_lock_if_local, publish, read_published
from condolake.lake.rollback import LakeCheckpoint
from condolake.layout import Layer, table_path
from condolake.logs import Stage, stage_fields
from condolake.monitoring.runlog import RunRecord, write_run
from condolake.pipelines.errors import root_cause
from condolake.pipelines.gold import gold_versions
from condolake.pipelines.load import LoadContext

log = logging.getLogger(__name__)
Body = Callable[[LoadContext, RunRecord], None]


class PipelineError(CondoLakeError):
    """A run failed; the lake was rolled back to where it was before the run.

    `job`, `run_id` and `summary` (the one-line cause) are set when the failed run was
    recorded, for alerts; the message stays the text for the user.
    """

    def __init__(self, message: str, *, job: str | None = None, run_id: str | None = None,
                 summary: str | None = None) -> None:
        super().__init__(message)
        self.job, self.run_id, self.summary = job, run_id, summary


def today(settings: Settings) -> dt.date:
    """The calendar day now in the lake's time zone: the run date of an unscheduled run."""
    return dt.datetime.now(dt.UTC).astimezone(ZoneInfo(settings.timezone)).date()


def new_run(spark: SparkSession, settings: Settings, job: str,
            run_date: dt.date | None = None) -> tuple[LoadContext, RunRecord]:
    """A new run of `job`; `run_date` (the day the validation rules compare dates with)
    defaults to today in the lake's time zone."""
    now = dt.datetime.now(dt.UTC)
    run_date = run_date or today(settings)
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
    describe_failure: Callable[[str], str] | None = None,
    on_success: Body | None = None,
    run_date: dt.date | None = None,
) -> RunRecord:
    """Runs `body` as one run: on failure the touched tables are rolled back and it is logged.

    `on_success` runs after the body succeeded with its counts conserved (e.g. writing the
    run's data-quality results); if it fails, the run fails and is rolled back too.
    """
    ctx, run = new_run(spark, settings, job, run_date)
    log.info(f"run {run.run_id} (run date {run.run_date:%d/%m/%Y})",
             extra=stage_fields(Stage.RUN))
    touched = list(touched_paths)
    checkpoint = LakeCheckpoint(spark, touched, run.run_id)
    try:
        body(ctx, run)
        if not run.conserved:
            raise PipelineError(
                "conservation broken (rows read != valid + quarantined + duplicate): "
                + ", ".join(f"{c.table} {c.rows_read} != {c.rows_valid} + "
                            f"{c.rows_quarantined} + {c.rows_duplicate}"
                            for c in run.tables if not c.conserved)
            )
        if on_success:
            on_success(ctx, run)
    except Exception as error:
        # Our own errors already speak to the user; JVM ones are boiled down to their cause.
        summary = str(error) if isinstance(error, CondoLakeError) else root_cause(error)
        if describe_failure:
            summary = describe_failure(summary)
        run.status, run.error, run.tables = "failed", summary, []
        kept: list[str] = []
        try:
            # No gold update may read or publish between the restore and the set fixed below.
            gold_held = _under_gold(settings.lake_path, touched)
            with gold_lock_if_local(settings.lake_path) if gold_held else nullcontext():
                restored, kept = checkpoint.restore()
                _after_rollback(spark, settings.lake_path, run.run_id, restored)
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
            "ops/runs.",
            job=job, run_id=run.run_id, summary=summary,
        ) from error
    run.status = "succeeded"
    _log(spark, settings, run)
    return run


def _under_gold(lake_root: str, paths: Iterable[str]) -> bool:
    """Does any of `paths` hold what gold is computed from, or gold itself?"""
    layers = [table_path(lake_root, layer, "") for layer in (Layer.SILVER, Layer.GOLD)]
    return any(path.startswith(prefix) for path in paths for prefix in layers)


def _after_rollback(spark: SparkSession, lake_root: str, run_id: str,
                    restored: Iterable[str]) -> None:
    """The published gold set after silver or gold went back to older versions: the marts as
    restored if this run had published them (a mart it created and that was removed is left
    out), and in any case what gold reflects marked unknown, so the next gold update rebuilds
    it whole. A table another writer also changed is not restored and changes nothing here."""
    if not _under_gold(lake_root, restored):
        return
    try:
        published = read_published(lake_root)
    except (OSError, ValueError) as error:  # the run's own failure is the one to report
        log.error("the published gold set could not be read after the rollback: %s", error)
        return
    if published is None:
        return
    if published.run_id == run_id:
        publish(lake_root, f"{run_id}:rollback", gold_versions(spark, lake_root), None)
    else:
        forget_silver(lake_root)


def _log(spark: SparkSession, settings: Settings, run: RunRecord) -> None:
    run.finished_at = dt.datetime.now(dt.UTC)
    write_run(spark, settings.lake_path, run)
