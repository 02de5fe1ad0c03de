"""condolake_stream_watchdog: every few minutes, is each streaming query alive, fresh and
keeping up? A dead stream is restarted in the background (CONDOLAKE_WATCHDOG_RESTART=1) and
an alert is posted; an unhealthy stream that is not being restarted fails the task."""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from condolake.orchestration import tasks
from condolake.orchestration.callbacks import records_failure
from condolake.orchestration.defaults import START_DATE, TAGS, default_args, schedule

with DAG(
    dag_id="condolake_stream_watchdog",
    description="checks the streaming queries; restarts a dead stream, alerts",
    schedule=schedule("watchdog_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1, retry_delay=dt.timedelta(seconds=30),
                              execution_timeout=dt.timedelta(minutes=2)),
    tags=[*TAGS, "streaming"],
    doc_md=__doc__,
) as dag:
    PythonOperator(
        task_id="watch_streams",
        python_callable=records_failure(tasks.watch_streams),
    )
