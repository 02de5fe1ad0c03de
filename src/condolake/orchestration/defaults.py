"""What every CondoLake DAG shares: owner, retries, timeouts, the failure alert, schedules.

Read when a DAG file is parsed, so it must stay cheap and side-effect free: the schedules
come from the settings (CONDOLAKE_*_SCHEDULE, or the config file), nothing else is touched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from condolake.config import load_settings
from condolake.orchestration.callbacks import on_failure

OWNER = "condolake"
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TAGS = ("condolake",)
# The logical date of the run, or when it was triggered for a run without one (Airflow 3
# manual runs); rendered as a datetime (the DAGs render templates as native objects).
LOGICAL_DATE = "{{ dag_run.logical_date or dag_run.run_after }}"


def schedule(name: str) -> str:
    """A cron schedule from the settings: `batch_schedule`, `maintenance_schedule`, ..."""
    return str(getattr(load_settings(), name))


def default_args(*, retries: int, retry_delay: dt.timedelta,
                 execution_timeout: dt.timedelta) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": retry_delay * 4,
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_failure,
        "depends_on_past": False,
    }
