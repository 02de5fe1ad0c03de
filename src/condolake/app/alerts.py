"""Failure alerts of the jobs started from the command line."""

from __future__ import annotations

from condolake.app.resources import Resources
from condolake.errors import CondoLakeError


def alert_failure(resources: Resources, job: str, failure: CondoLakeError) -> None:
    """Posts the alert of a failed `job` to CONDOLAKE_ALERT_WEBHOOK_URL (nothing without a
    webhook): the failed run's id and one-line cause when the run was recorded, else the
    first line of the error."""
    from condolake.monitoring.alerting import post_job_failure
    from condolake.pipelines.runs import PipelineError

    run_id = summary = None
    if isinstance(failure, PipelineError):
        job, run_id, summary = failure.job or job, failure.run_id, failure.summary
    lines = (summary or str(failure)).strip().splitlines()
    post_job_failure(resources.settings, job, lines[0] if lines else type(failure).__name__,
                     run_id)
