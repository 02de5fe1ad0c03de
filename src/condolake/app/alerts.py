"""Failure alerts of the jobs started from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from condolake.app.resources import Resources
from condolake.errors import CondoLakeError


@contextmanager
def alert_on_failure(resources: Resources, job: str) -> Iterator[None]:
    """Posts the alert of a failed `job` to CONDOLAKE_ALERT_WEBHOOK_URL (nothing without a
    webhook), then lets the failure go on to the caller."""
    try:
        yield
    except CondoLakeError as failure:
        from condolake.monitoring.alerting import post_job_failure
        from condolake.pipelines.runs import PipelineError

        run_id = summary = None
        if isinstance(failure, PipelineError):
            job, run_id, summary = failure.job or job, failure.run_id, failure.summary
        lines = (summary or str(failure)).strip().splitlines()
        post_job_failure(resources.settings, job, lines[0] if lines else type(failure).__name__,
                         run_id)
        raise
