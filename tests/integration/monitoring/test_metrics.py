"""Metrics scraped over HTTP after a real batch and a real stream, and `condolake status`.

One lake for the module: a generated source with invalid rows, one `batch` into the lake, one
`stream start --once` equivalent (Kafka only) over changes the simulator published, then more
changes published that no stream reads, so the Kafka lag is known exactly. Every expected value
is read back independently (Spark over ops/ and the Delta history, the broker's end offsets).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from tests.integration.conftest import new_database, new_topic_prefix
from tests.integration.pipelines.run_cli import run_condolake
from tests.integration.streaming.streams import end_offsets_total

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.monitoring.exporter import CACHE_S
from condolake.monitoring.quality import INGEST_JOBS
from condolake.pipelines.batch import batch
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.kafka import LocalKafkaBroker, ensure_topics
from condolake.services.ports import LOOPBACK, free_port
from condolake.services.postgres import SourceDatabase
from condolake.serving.server import BackgroundServer, settings_environment
from condolake.source.event_sink import KafkaSink
from condolake.source.generator import generate
from condolake.source.simulator import Simulator
from condolake.source.simulator_plan import DIRECT_MIX
from condolake.source.simulator_publish import Publishing
from condolake.source.tables import SOURCE_TABLES
from condolake.streaming.queries import QUERY_NAMES, topics

pytestmark = pytest.mark.integration

SCALE = 0.01  # 1 condominio, 200 moradores, 300 imoveis, 10 000 transacoes
SEED = 515
INVALID_SHARE = 0.02
PARTITIONS = 2
STREAMED_EVENTS = 300  # published before the stream runs: it reads them all
UNREAD_EVENTS = 120  # published after it stopped: the lag
START_TIMEOUT_S = 60.0
POLL_S = 0.1

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class MonitoredLake:
    settings: Settings
    source: SourceDatabase
    streamed_at: float  # when the stream run ended


def samples(text: str) -> Samples:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scraped: Samples, metric: str, **labels: str) -> float:
    return scraped[(f"condolake_{metric}", tuple(sorted(labels.items())))]


def publish(settings: Settings, source: SourceDatabase, events: int, seed: int) -> int:
    """Changes the source and publishes them directly as `condolake simulate --publish` does;
    records published."""
    assert settings.kafka_bootstrap
    with source.connect() as conn, KafkaSink(settings.kafka_bootstrap) as sink:
        simulator = Simulator(conn, seed=seed, mix=DIRECT_MIX,
                              publish=Publishing(sink, settings.kafka_topic_prefix))
        return simulator.run(20_000, events=events).published


@pytest.fixture(scope="module")
def monitored_lake(spark: SparkSession, base_settings: Settings, postgres: SourceDatabase,
                   kafka_broker: LocalKafkaBroker, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[MonitoredLake]:
    folder = tmp_path_factory.mktemp("monitored")
    settings = base_settings.with_(
        lake_root=str(folder / "lake"), state_dir=str(folder / "state"),
        landing_dir=str(folder / "landing"), kafka_bootstrap=kafka_broker.bootstrap,
        kafka_topic_prefix=new_topic_prefix(), kafka_partitions=PARTITIONS,
        stream_trigger_s=0.5)
    with new_database(postgres) as source:
        with source.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=INVALID_SHARE)
        run = batch(spark, settings, source)
        assert run.status == "succeeded", run.error
        assert settings.kafka_bootstrap
        ensure_topics(settings.kafka_bootstrap, topics(settings.kafka_topic_prefix), PARTITIONS)
        publish(settings, source, STREAMED_EVENTS, seed=1)
        run_streams(spark, settings, settings.kafka_bootstrap,
                    StreamOptions(kafka=True, landing=False, once=True))
        yield MonitoredLake(settings, source, time.time())


class MetricsProcess:
    """`condolake metrics` as a user runs it, stopped with SIGTERM."""

    def __init__(self, settings: Settings, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}/metrics"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CONDOLAKE_")}
        environment.update(settings_environment(settings))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "condolake.cli", "metrics", "--host", LOOPBACK, "--port",
             str(self.port)], cwd=cwd, env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

    def scrape(self) -> tuple[Samples, float, float]:
        """(samples, time before the request, time after the answer)."""
        before = time.time()
        response = httpx.get(self.url, timeout=30.0)
        after = time.time()
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return samples(response.text), before, after

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.process.poll() is None, self.stop()[1]
            try:
                if httpx.get(self.url, timeout=30.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "condolake metrics did not answer in time"
            time.sleep(POLL_S)

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        return self.process.returncode, output


def expected_last_run_tables(spark: SparkSession, lake: str, job: str) -> dict[str, list[int]]:
    """{table: [read, valid, quarantined, duplicate]} of the job's latest run into silver (the
    exporter's job_rows; gold and bronze rows of the run log are not exported), by Spark."""
    runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs"))
    last = runs.where(F.col("job") == job).orderBy(F.col("started_at").desc()).first()
    assert last is not None
    rows = (spark.read.format("delta").load(table_path(lake, Layer.OPS, "run_tables"))
            .where((F.col("run_id") == last["run_id"]) & (F.col("layer") == "silver")).collect())
    return {row["table"]: [row["rows_read"], row["rows_valid"], row["rows_quarantined"],
                           row["rows_duplicate"]] for row in rows}


def expected_rates(spark: SparkSession, lake: str) -> dict[str, tuple[int, int, int]]:
    """{table: (read, quarantined, duplicate)} of each table's latest ingest (a batch load, as
    `condolake check` judges: the stream's micro-batches are not counted), by Spark."""
    runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs")).where(
        F.col("job").isin(*INGEST_JOBS) & (F.col("status") == "succeeded"))
    per_table = spark.read.format("delta").load(table_path(lake, Layer.OPS, "run_tables"))
    latest = Window.partitionBy("table").orderBy(F.col("started_at").desc())
    rows = (per_table.where(F.col("layer") == "silver").join(runs.select("run_id", "started_at"),
                                                             on="run_id", how="inner")
            .select("*", F.row_number().over(latest).alias("n")).where(F.col("n") == 1)
            .collect())
    return {row["table"]: (row["rows_read"], row["rows_quarantined"], row["rows_duplicate"])
            for row in rows}


def gold_commit_times(spark: SparkSession, lake: str) -> dict[str, float]:
    """Seconds since the epoch of each gold table's latest commit: the version from the Delta
    history (Spark), the time from that commit's `commitInfo.timestamp` in the log."""
    times = {}
    for name in MART_NAMES:
        path = table_path(lake, Layer.GOLD, name)
        latest = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()
        assert latest is not None
        commit = Path(path) / "_delta_log" / f"{int(latest[0]):020d}.json"
        infos = [json.loads(line)["commitInfo"] for line in commit.read_text().splitlines()
                 if '"commitInfo"' in line]
        times[name] = infos[0]["timestamp"] / 1000
    return times


def test_metrics_and_status_after_a_batch_and_a_stream(
    spark: SparkSession, monitored_lake: MonitoredLake, tmp_path: Path,
) -> None:
    settings, lake = monitored_lake.settings, monitored_lake.settings.lake_path
    exporter = MetricsProcess(settings, tmp_path)
    try:
        exporter.wait_until_up()
        time.sleep(CACHE_S)  # the answer above may be cached: the next scrape collects anew
        scraped, before, after = exporter.scrape()

        # Jobs: the batch, and the stream's micro-batches, exactly as ops/ has them.
        assert value(scraped, "job_last_status", job="batch") == 1.0
        assert value(scraped, "job_runs", job="batch", status="succeeded") == 1.0
        for job in ("batch", "stream:kafka"):
            tables = expected_last_run_tables(spark, lake, job)
            assert tables, job
            for table, counts in tables.items():
                for outcome, count in zip(("read", "valid", "quarantined", "duplicate"), counts,
                                          strict=True):
                    assert value(scraped, "job_rows", job=job, table=table,
                                 outcome=outcome) == count, (job, table, outcome)
        batch_tables = expected_last_run_tables(spark, lake, "batch")
        assert sum(counts[2] for counts in batch_tables.values()) > 0  # invalid rows were read

        # Rates of each table's latest ingest, exact.
        rates = expected_rates(spark, lake)
        assert set(rates) == {table.name for table in SOURCE_TABLES}
        for table, (read, quarantined, duplicate) in rates.items():
            assert value(scraped, "quarantine_rate", table=table) == (
                quarantined / read if read else 0.0)
            assert value(scraped, "duplicate_rate", table=table) == (
                duplicate / read if read else 0.0)

        # Freshness: now minus the commit time, now being between request and answer.
        for table, committed in gold_commit_times(spark, lake).items():
            age = value(scraped, "gold_freshness_seconds", table=table)
            assert before - committed - 0.001 <= age <= after - committed + 0.001, table

        # The stream ran with --once: nothing is up; everything published was read.
        for query in QUERY_NAMES:
            assert value(scraped, "stream_up", query=query) == 0.0
        assert value(scraped, "stream_kafka_lag_offsets", query="kafka") == 0.0
        assert ("condolake_stream_kafka_lag_offsets",
                (("query", "landing"),)) not in scraped  # reads files, not Kafka
        progress_at = value(scraped, "stream_last_progress_timestamp_seconds",
                            query="kafka")
        assert progress_at <= monitored_lake.streamed_at
        assert value(scraped, "exporter_up") == 1.0
        errors = {labels[0][1]: count for (name, labels), count in scraped.items()
                  if name == "condolake_scrape_errors"}
        assert errors == dict.fromkeys(("runs", "dq_results", "quarantine", "gold", "streams",
                                        "kafka", "replication"), 0.0)
        assert value(scraped, "threshold", name="freshness_sla_s") == settings.freshness_sla_s

        # Changes published after the stream stopped are the lag, at the next scrape.
        offsets_before = end_offsets_total(settings)
        published = publish(settings, monitored_lake.source, UNREAD_EVENTS, seed=2)
        assert end_offsets_total(settings) - offsets_before == published > 0
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            later, _, _ = exporter.scrape()
            lag = value(later, "stream_kafka_lag_offsets", query="kafka")
            if lag != 0.0 or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        assert lag == published

        # The API server mounts the same /metrics, without an API key.
        with BackgroundServer(settings) as url:
            response = httpx.get(f"{url}/metrics", timeout=30.0)
        assert response.status_code == 200
        from_api = samples(response.text)
        rows = {key: count for key, count in later.items() if key[0] == "condolake_job_rows"}
        assert rows and {key: from_api[key] for key in rows} == rows
        assert value(from_api, "stream_kafka_lag_offsets", query="kafka") == published
    finally:
        code, output = exporter.stop()
    assert code == 0, output
    assert f"metrics: http://{LOOPBACK}:{exporter.port}/metrics" in output
    assert "metrics exporter stopped (SIGTERM)" in output

    # `condolake status --json`, a child process as a script would run it.
    done = run_condolake(["status", "--json"], tmp_path, {
        key.removeprefix("CONDOLAKE_").lower(): text
        for key, text in settings_environment(settings).items()})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jobs = {job["job"]: job for job in document["jobs"]}
    batch_run = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs")).where(
        F.col("job") == "batch").first()
    assert batch_run is not None
    assert (jobs["batch"]["run_id"], jobs["batch"]["status"], jobs["batch"]["rows_read"],
            jobs["batch"]["rows_quarantined"]) == (
        batch_run["run_id"], "succeeded", batch_run["rows_read"], batch_run["rows_quarantined"])
    streams = {query["query"]: query for query in document["streams"]["queries"]}
    assert streams["kafka"]["kafka_lag"] == published
    assert streams["landing"]["state"] == "never run"
    assert {gold["table"] for gold in document["gold"]} == set(MART_NAMES)
    assert not any(gold["breached"] for gold in document["gold"])
    open_rows = {
        table.name: spark.read.format("delta").load(
            table_path(lake, Layer.QUARANTINE, table.name)).where(
            F.col("_resolved_run_id").isNull()).count()
        for table in SOURCE_TABLES}
    assert {row["table"]: row["open"] for row in document["quarantine"]} == open_rows
    quarantine_max, duplicate_max = settings.quarantine_rate_max, settings.duplicate_rate_max
    assert document["breaches"] == [
        f"{table}: quarantine rate {quarantined / read:.4f} > {quarantine_max:g}"
        for table, (read, quarantined, _) in sorted(rates.items())
        if read and quarantined / read > quarantine_max] + [
        f"{table}: duplicate rate {duplicate / read:.4f} > {duplicate_max:g}"
        for table, (read, _, duplicate) in sorted(rates.items())
        if read and duplicate / read > duplicate_max]
