"""condolake_batch: ingest the sources -> silver -> gold -> data-quality checks -> compaction.

Every task calls one function of `condolake.orchestration.tasks` with the run's logical date,
which becomes the run date of the lake's runs: re-running a date gives the same lake. Extra
file or API sources for a run: trigger it with `csv_files` / `api_url` + `api_tables`.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param

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
    dag_id="condolake_batch",
    description="PostgreSQL, CSV and API sources into bronze, silver and gold, then checks",
    schedule=schedule("batch_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    default_args=default_args(retries=2, retry_delay=dt.timedelta(minutes=5),
                              execution_timeout=dt.timedelta(hours=1)),
    params={
        "csv_files": Param([], type="array",
                           description='[{"path": ..., "table": ...}] CSV files to ingest'),
        "api_url": Param(None, type=["null", "string"],
                         description="base URL of a paginated JSON API source"),
        "api_tables": Param([], type="array", description="tables read from <api_url>/<table>"),
    },
    tags=[*TAGS, "batch"],
    doc_md=__doc__,
) as dag:
    ingest_postgres = PythonOperator(
        task_id="ingest_postgres",
        python_callable=records_failure(tasks.ingest_postgres),
        op_kwargs={"logical_date": LOGICAL_DATE},
        execution_timeout=dt.timedelta(hours=2),
    )
    ingest_files = PythonOperator(
        task_id="ingest_files",
        python_callable=records_failure(tasks.ingest_files),
        op_kwargs={"logical_date": LOGICAL_DATE, "csv_files": "{{ params.csv_files }}",
                   "api_url": "{{ params.api_url }}", "api_tables": "{{ params.api_tables }}"},
    )
    gold = PythonOperator(
        task_id="gold",
        python_callable=records_failure(tasks.build_gold),
        op_kwargs={"logical_date": LOGICAL_DATE},
    )
    data_quality = PythonOperator(
        task_id="data_quality",
        python_callable=records_failure(tasks.check_quality),
        op_kwargs={"logical_date": LOGICAL_DATE},
        execution_timeout=dt.timedelta(minutes=30),
    )
    compact = PythonOperator(
        task_id="compact",
        python_callable=records_failure(tasks.compact),
        op_kwargs={"logical_date": LOGICAL_DATE},
        execution_timeout=dt.timedelta(minutes=30),
    )

    ingest_postgres >> ingest_files >> gold >> data_quality >> compact
