"""Every DAG file parses through Airflow's DagBag, does no work when parsed, and is wired
as specified (owners, retries, timeouts, failure alerts, schedules from the settings)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from condolake.config import Settings
from condolake.orchestration import DAGS_FOLDER
from condolake.orchestration.callbacks import on_failure

DAG_IDS = ("condolake_batch", "condolake_maintenance", "condolake_stream_watchdog")
BATCH_ORDER = ("ingest_postgres", "ingest_files", "gold", "data_quality", "compact")


def _clean_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in [k for k in os.environ if k.startswith(("CONDOLAKE_", "AIRFLOW"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    monkeypatch.chdir(home)  # no ./condolake.toml of the developer's


def _parse(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A DagBag of the package's DAG folder, with anything that would do work made to fail."""
    from airflow.models.dagbag import DagBag
    from pyspark.sql import SparkSession

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a DAG file did work at parse time")

    monkeypatch.setattr("condolake.spark.build_spark", forbidden)
    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", forbidden)
    monkeypatch.setattr("psycopg.connect", forbidden)
    monkeypatch.setattr("subprocess.Popen.__init__", forbidden)
    return DagBag(str(DAGS_FOLDER), include_examples=False)


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clean_environment(monkeypatch, tmp_path_factory.mktemp("airflow-home"))
        bag = _parse(monkeypatch)
    yield bag  # the parsed DAGs; the guards above are lifted again


def test_every_dag_file_imports_without_error(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted(DAG_IDS)
    assert sorted(Path(p).name for p in dagbag.file_last_changed) == sorted(
        f"{dag_id}.py" for dag_id in DAG_IDS)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_task_has_owner_retries_timeout_and_failure_alert(dagbag: Any,
                                                                dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.tasks
    for task in dag.tasks:
        assert task.owner == "condolake", task.task_id
        assert task.retries >= 1, task.task_id
        assert task.retry_delay > dt.timedelta(0), task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert dt.timedelta(0) < task.execution_timeout <= dt.timedelta(hours=3), task.task_id
        assert list(task.on_failure_callback) == [on_failure], task.task_id


DEFAULTS = Settings()


@pytest.mark.parametrize(("dag_id", "schedule"), [
    ("condolake_batch", DEFAULTS.batch_schedule),
    ("condolake_maintenance", DEFAULTS.maintenance_schedule),
    ("condolake_stream_watchdog", DEFAULTS.watchdog_schedule),
])
def test_runs_one_at_a_time_without_catchup_on_the_configured_schedule(
    dagbag: Any, dag_id: str, schedule: str
) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert "condolake" in dag.tags
    assert dag.timetable.summary == schedule


def test_schedules_follow_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("CONDOLAKE_BATCH_SCHEDULE", "30 1 * * *")
    monkeypatch.setenv("CONDOLAKE_MAINTENANCE_SCHEDULE", "0 6 * * 6")
    monkeypatch.setenv("CONDOLAKE_WATCHDOG_SCHEDULE", "*/10 * * * *")
    bag = _parse(monkeypatch)
    assert {dag_id: bag.dags[dag_id].timetable.summary for dag_id in DAG_IDS} == {
        "condolake_batch": "30 1 * * *", "condolake_maintenance": "0 6 * * 6",
        "condolake_stream_watchdog": "*/10 * * * *"}


def test_batch_tasks_run_in_order(dagbag: Any) -> None:
    dag = dagbag.dags["condolake_batch"]
    assert sorted(dag.task_ids) == sorted(BATCH_ORDER)
    for upstream, downstream in zip(BATCH_ORDER, BATCH_ORDER[1:], strict=False):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    assert dag.get_task(BATCH_ORDER[0]).upstream_task_ids == set()
    assert dag.get_task(BATCH_ORDER[-1]).downstream_task_ids == set()


def test_tasks_call_the_package_functions(dagbag: Any) -> None:
    from condolake.orchestration import tasks

    called = {
        (dag_id, task.task_id): task.python_callable.__wrapped__
        for dag_id in DAG_IDS for task in dagbag.dags[dag_id].tasks
    }
    assert called == {
        ("condolake_batch", "ingest_postgres"): tasks.ingest_postgres,
        ("condolake_batch", "ingest_files"): tasks.ingest_files,
        ("condolake_batch", "gold"): tasks.build_gold,
        ("condolake_batch", "data_quality"): tasks.check_quality,
        ("condolake_batch", "compact"): tasks.compact,
        ("condolake_maintenance", "maintain"): tasks.maintain,
        ("condolake_stream_watchdog", "watch_streams"): tasks.watch_streams,
    }


PARSE_IN_FRESH_PROCESS = """
import json, sys
from airflow.models.dagbag import DagBag
from condolake.orchestration import DAGS_FOLDER
bag = DagBag(str(DAGS_FOLDER), include_examples=False)
heavy = sorted(m for m in ("pyspark", "py4j", "psycopg", "delta", "duckdb")
               if m in sys.modules)
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dag_ids), "heavy": heavy}))
"""


def test_parsing_imports_no_spark_no_database_client(tmp_path: Path) -> None:
    """In a fresh interpreter (this one has Spark loaded by other tests): parsing the DAG
    folder loads neither pyspark nor a database or HTTP client of ours."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("CONDOLAKE_", "AIRFLOW"))}
    environment.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    done = subprocess.run([sys.executable, "-c", PARSE_IN_FRESH_PROCESS], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["dags"] == sorted(DAG_IDS)
    assert report["heavy"] == [], report["heavy"]
