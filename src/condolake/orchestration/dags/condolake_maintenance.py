"""condolake_maintenance: OPTIMIZE and VACUUM (retention of at least 7 days) of every Delta
table, orphan checkpoints removed, unneeded stream positions pruned (`condolake maintain`)."""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from condolake.orchestration import tasks
from condolake.orchestration.callbacks import records_failure
from condolake.orchestration.defaults import (
    LOGICAL_DATE,
    START_DATE,
    TAGS,
    default_args,
    schedule,
)

with DAG(
    dag_id="condolake_maintenance",
    description="OPTIMIZE, VACUUM, orphan checkpoints and positions of the lake",
    schedule=schedule("maintenance_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    default_args=default_args(retries=1, retry_delay=dt.timedelta(minutes=15),
                              execution_timeout=dt.timedelta(hours=3)),
    tags=[*TAGS, "maintenance"],
    doc_md=__doc__,
) as dag:
    PythonOperator(
        task_id="maintain",
        python_callable=records_failure(tasks.maintain),
        op_kwargs={"logical_date": LOGICAL_DATE},
    )
