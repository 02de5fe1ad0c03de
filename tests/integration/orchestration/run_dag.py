"""Child process: `dag.test()` of a CondoLake DAG, once per step of a plan, then exit.

Run as `python -m tests.integration.orchestration.run_dag PLAN.json RESULT.json` with
AIRFLOW_HOME (a migrated metadata database) and the CONDOLAKE_* settings in the environment.
A child keeps Airflow's configuration and logging away from pytest, and every task of every
step shares one SparkSession (the tasks' `build_spark` is getOrCreate), stopped at the end.

Plan: {"dag_id": ..., "steps": [{"logical_date": ISO, "env": {NAME: value}, "conf": {...}}]}.
Each step's `env` is applied before its run (the tasks read their settings when they run).
Result: per step, the Airflow run id, the run's state and each task's state and try number.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any


def _reuse_execution_api() -> None:
    """`dag.test()` builds a new in-process Execution API (seconds of route generation) for
    every task; one serves them all equally well."""
    from airflow.sdk.execution_time import supervisor

    supervisor.in_process_api_server = functools.cache(supervisor.in_process_api_server)


def _no_retry_wait(dag: Any) -> None:
    """Retries happen as configured, but at once: the test does not wait minutes."""
    for task in dag.tasks:
        task.retry_delay = dt.timedelta(0)
        task.retry_exponential_backoff = False


def run_plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    from airflow.models.dagbag import DagBag

    from condolake.orchestration import DAGS_FOLDER

    _reuse_execution_api()
    bag = DagBag(str(DAGS_FOLDER), include_examples=False)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(plan["dag_id"])
    _no_retry_wait(dag)
    outcomes = []
    for step in plan["steps"]:
        os.environ.update(step.get("env", {}))
        run = dag.test(logical_date=dt.datetime.fromisoformat(step["logical_date"]),
                       run_conf=step.get("conf"))
        outcomes.append({
            "run_id": run.run_id,
            "state": str(run.state),
            "tasks": {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
                      for ti in run.get_task_instances()},
            "seconds": {ti.task_id: round(ti.duration or 0.0, 1)
                        for ti in run.get_task_instances()},
        })
    return outcomes


def main() -> int:
    plan_file, result_file = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        outcomes = run_plan(json.loads(plan_file.read_text()))
    finally:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
    result_file.write_text(json.dumps(outcomes, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
