"""`dag.test()` of condolake_batch against the embedded PostgreSQL, into a temporary lake.

One child process runs the DAG three times with the same logical date: twice as it is, then
with the source pointed at a closed port. The lake is read afterwards (Delta time travel to
each run's gold commits); the failure alert is caught by a small HTTP receiver.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_database
from tests.integration.pipelines.reconcile import expected_gold
from tests.integration.pipelines.run_cli import for_short_lived_driver

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.orchestration import DAGS_FOLDER
from condolake.services.ports import free_port
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate

SCALE = 0.01  # 1 condominio, 200 moradores, 300 imoveis, 10 000 transacoes
SEED = 20261126
INVALID_SHARE = 0.01
SOURCE_TODAY = dt.date(2026, 11, 20)  # the generator's "today": transactions end ~a month before
# 03:00 UTC is midnight in São Paulo: the run date is 20/08/2026, three months before the
# source's "today", so every row dated after it is quarantined as future-dated.
LOGICAL_DATE = dt.datetime(2026, 8, 20, 3, 0, tzinfo=dt.UTC)
RUN_DATE = dt.date(2026, 8, 20)
CHILD_TIMEOUT_S = 1800  # generous: two cores shared with other work; normally about 2 min
BATCH_TASKS = ("ingest_postgres", "ingest_files", "gold", "data_quality", "compact")
DAG_RETRIES = 2


class AlertReceiver:
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/condolake"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AlertReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh Airflow metadata database (SQLite) for this module: its environment."""
    home = tmp_path_factory.mktemp("airflow-home")
    environment = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], cwd=home,
                   env={**_without_condolake(os.environ), **environment}, check=True,
                   capture_output=True, timeout=300)
    print(f"airflow db migrate: {time.monotonic() - started:.1f} s")
    return environment


def _without_condolake(environment: Any) -> dict[str, str]:
    return {k: v for k, v in environment.items() if not k.startswith("CONDOLAKE_")}


@pytest.fixture(scope="module")
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=INVALID_SHARE,
                     today=SOURCE_TODAY)
        yield database


@pytest.fixture(scope="module")
def scenario(airflow_home: dict[str, str], source: SourceDatabase, base_settings: Settings,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The three DAG runs, their outcomes, the lake and the alerts received."""
    work = tmp_path_factory.mktemp("batch-dag")
    lake = work / "lake"
    closed_port = free_port()  # nothing listens there: the source is unreachable
    with AlertReceiver() as receiver:
        settings = {
            "CONDOLAKE_SOURCE_URL": source.url,
            "CONDOLAKE_LAKE_ROOT": str(lake),
            "CONDOLAKE_STATE_DIR": str(work / "state"),
            "CONDOLAKE_JAR_CACHE": str(base_settings.jar_cache_path),
            "CONDOLAKE_SPARK_MASTER": "local[2]",
            "CONDOLAKE_SHUFFLE_PARTITIONS": "4",
            "CONDOLAKE_SPARK_DRIVER_MEMORY": "1g",
            "CONDOLAKE_LOG_LEVEL": "ERROR",
            "CONDOLAKE_ALERT_WEBHOOK_URL": receiver.url,
            # Three months of rows dated after the run date are quarantined on purpose here.
            "CONDOLAKE_QUARANTINE_RATE_MAX": "0.25",
        }
        unreachable = source.url.rsplit("@", 1)[0] + f"@127.0.0.1:{closed_port}/condomanage"
        plan = {"dag_id": "condolake_batch", "steps": [
            {"logical_date": LOGICAL_DATE.isoformat()},
            {"logical_date": LOGICAL_DATE.isoformat()},
            {"logical_date": LOGICAL_DATE.isoformat(),
             "env": {"CONDOLAKE_SOURCE_URL": unreachable}},
        ]}
        (work / "plan.json").write_text(json.dumps(plan))
        environment = for_short_lived_driver(
            {**_without_condolake(os.environ), **airflow_home, **settings})
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("run_dag.py")),
             str(work / "plan.json"), str(work / "result.json")],
            cwd=work, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        try:
            output, _ = child.communicate(timeout=CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(f"the DAG runs took over {CHILD_TIMEOUT_S} s:\n"
                        f"{str(timeout.output)[-6000:]}")
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        assert child.returncode == 0, output[-6000:]
        runs = json.loads((work / "result.json").read_text())
        print(f"three dag.test() runs in a child: {time.monotonic() - started:.1f} s; "
              f"task seconds: {[run['seconds'] for run in runs]}")
        yield {"runs": runs,
               "lake": str(lake), "alerts": list(receiver.received), "output": output}


def _runs(spark: SparkSession, lake: str, job: str) -> list[Any]:
    return (spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs"))
            .where(F.col("job") == job).orderBy("started_at").collect())


def _gold_of_run(spark: SparkSession, lake: str, run_id: str) -> dict[str, set[tuple[Any, ...]]]:
    """Each gold table as the transform run `run_id` committed it (Delta time travel)."""
    tables = {}
    for name in MART_NAMES:
        path = table_path(lake, Layer.GOLD, name)
        version = (spark.sql(f"DESCRIBE HISTORY delta.`{path}`")
                   .where(F.col("userMetadata") == f"{run_id}:gold.{name}")
                   .select("version").collect())
        assert len(version) == 1, (name, run_id)
        rows = (spark.read.format("delta").option("versionAsOf", version[0][0]).load(path)
                .collect())
        tables[name] = {tuple(row) for row in rows}
    return tables


@pytest.mark.integration
class TestBatchDag:
    def test_every_task_succeeds_in_order_twice(self, scenario: dict[str, Any]) -> None:
        for run in scenario["runs"][:2]:
            assert run["state"] == "success", scenario["output"][-4000:]
            assert {task: s["state"] for task, s in run["tasks"].items()} == dict.fromkeys(
                BATCH_TASKS, "success")

    def test_gold_equals_the_source_to_the_cent_as_of_the_logical_date(
        self, spark: SparkSession, scenario: dict[str, Any], source: SourceDatabase
    ) -> None:
        transforms = _runs(spark, scenario["lake"], "transform")
        assert [(r["status"], r["run_date"]) for r in transforms] == [
            ("succeeded", RUN_DATE), ("succeeded", RUN_DATE)]
        expected = expected_gold(source, RUN_DATE)
        # The logical date decides: validated as of today, the same source gives other gold.
        assert expected != expected_gold(source, dt.date.today())
        first = _gold_of_run(spark, scenario["lake"], transforms[0]["run_id"])
        for name in MART_NAMES:
            assert first[name] == expected[name], name
        total = sum(row[3] for row in first["transacoes_por_condominio"])
        assert total == sum(row[4] for row in expected["transacoes_por_morador"])

    def test_rerunning_the_logical_date_leaves_the_same_lake(
        self, spark: SparkSession, scenario: dict[str, Any]
    ) -> None:
        lake = scenario["lake"]
        transforms = _runs(spark, lake, "transform")
        assert (_gold_of_run(spark, lake, transforms[0]["run_id"])
                == _gold_of_run(spark, lake, transforms[1]["run_id"]))
        ingests = _runs(spark, lake, "ingest_postgres")
        assert [(r["status"], r["run_date"]) for r in ingests[:2]] == [
            ("succeeded", RUN_DATE), ("succeeded", RUN_DATE)]
        # The second run reads no transaction again (watermark) and adds nothing to silver.
        per_table = (spark.read.format("delta").load(table_path(lake, Layer.OPS, "run_tables"))
                     .where((F.col("run_id") == ingests[1]["run_id"])
                            & (F.col("table") == "transacoes"))
                     .select("rows_read").collect())
        assert [row[0] for row in per_table] == [0]
        checks = _runs(spark, lake, "check")
        assert [r["status"] for r in checks] == ["succeeded", "succeeded"]

    def test_a_failing_task_alerts_the_webhook_once_after_its_retries(
        self, spark: SparkSession, scenario: dict[str, Any]
    ) -> None:
        failed = scenario["runs"][2]
        assert failed["state"] == "failed"
        tasks = failed["tasks"]
        assert tasks["ingest_postgres"] == {"state": "failed", "try_number": DAG_RETRIES + 1}
        assert {t: tasks[t]["state"] for t in BATCH_TASKS[1:]} == dict.fromkeys(
            BATCH_TASKS[1:], "upstream_failed")
        assert len(scenario["alerts"]) == 1  # none for the good runs, one after the retries
        alert = scenario["alerts"][0]
        fields = alert["fields"]
        assert alert["title"] == "CondoLake task condolake_batch.ingest_postgres failed"
        assert alert["severity"] == "critical"
        assert {k: fields[k] for k in ("dag_id", "task_id", "run_id", "logical_date",
                                       "try_number", "lake")} == {
            "dag_id": "condolake_batch", "task_id": "ingest_postgres",
            "run_id": failed["run_id"], "logical_date": LOGICAL_DATE.isoformat(),
            "try_number": str(DAG_RETRIES + 1), "lake": scenario["lake"]}
        assert fields["error"].startswith(
            "ingest_postgres failed: the PostgreSQL source failed during the read")
        assert fields["error"] in alert["text"]
        # Each try was rolled back and recorded as failed; gold is still the last good one.
        ingests = _runs(spark, scenario["lake"], "ingest_postgres")
        assert [r["status"] for r in ingests] == ["succeeded", "succeeded"] + [
            "failed"] * (DAG_RETRIES + 1)
