"""`condolake demo`: the whole batch path on freshly generated data, shown in the terminal."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from pyspark.sql import SparkSession

from condolake.app import cdc
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.console import results
from condolake.errors import CondoLakeError
from condolake.formatting import format_brl, format_count
from condolake.lake import delta
from condolake.layout import RESOLVED_RUN_ID_COL, Layer, table_path
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import batch
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.reporting import gold_tables, gold_totals
from condolake.services.jars import SPARK_CORE, SPARK_KAFKA
from condolake.services.kafka import describe_topics
from condolake.services.kafka_connect import LocalKafkaConnect
from condolake.services.postgres import SourceDatabase
from condolake.source.connector import captured_topics, published_records
from condolake.source.ddl import init_schema
from condolake.source.generator import append_transactions, generate
from condolake.source.simulator import Simulator
from condolake.source.tables import SOURCE_TABLES

log = logging.getLogger(__name__)
NEW_TRANSACTIONS_SHARE = 0.01
STREAM_RATE = 200  # events per second from the workload generator
STREAM_PRODUCE_S = 15
STREAM_RUN_S = 20
STREAM_TRIGGER_S = 2.0
STREAM_INVALID_SHARE = 0.02
CDC_PUBLISH_TIMEOUT_S = 60.0


def demo_lake(settings: Settings) -> Path:
    """The demo's own lake, so that resetting it never touches CONDOLAKE_LAKE_ROOT."""
    return settings.state_path / "demo" / "lakehouse"


def run_demo(resources: Resources, *, scale: float, seed: int, invalid_share: float,
             rows: int) -> None:
    """The whole path on a fresh demo lake: source, two batches, streaming, API, checks."""
    settings = resources.settings
    lake = demo_lake(settings)
    if lake.exists():
        log.info(f"resetting the demo lake {lake}")
        shutil.rmtree(lake)
    demo = Resources.from_settings(settings.with_(lake_root=str(lake)))
    demo_settings = demo.settings
    with demo.source_database() as db:
        with db.connect() as conn:
            init_schema(conn, drop_existing=True)
            report = generate(conn, scale=scale, seed=seed, invalid_share=invalid_share)
        log.info(
            "source ready: " + ", ".join(f"{t} {format_count(n)}" for t, n in report.rows.items())
        )
        spark = demo.spark("condolake-demo", bundles=(SPARK_CORE, SPARK_KAFKA))
        run_date = demo.today()
        first = batch(spark, demo_settings, db, run_date=run_date)
        with db.connect() as conn:
            new = max(1, int(report.rows["transacoes"] * NEW_TRANSACTIONS_SHARE))
            append_transactions(conn, count=new, seed=seed + 1)
        log.info(f"{format_count(new)} new transactions inserted in PostgreSQL; running again")
        second = batch(spark, demo_settings, db, run_date=run_date)
        for table in gold_tables(spark, demo_settings.lake_path, rows):
            results.print(table)
        _summary(first, second, demo_settings)
        _stream(spark, demo, db, seed)
        _serve(demo_settings)
        _operate(spark, demo, db, run_date)


def _stream(spark: SparkSession, demo: Resources, db: SourceDatabase, seed: int) -> None:
    """Change data capture for a short while: `cdc start` (Debezium on the embedded Kafka
    Connect worker, then the handover load), the workload generator writing PostgreSQL, and
    the stream carrying what Debezium publishes through Kafka into silver, quarantine and gold.
    The demo's connector and slot are removed afterwards (the worker stopped if started here)."""

    # The source was just re-created: a connector, slot and topics of this run only, so no
    # earlier demo's offsets or events are replayed.
    run = uuid4().hex[:8]
    settings = demo.settings.with_(kafka_topic_prefix=f"condolake-demo-{run}",
                                   cdc_connector=f"condolake-demo-{run}",
                                   cdc_slot=f"condolake_demo_{run}",
                                   stream_trigger_s=STREAM_TRIGGER_S)
    capture = Resources.from_settings(settings)
    before = gold_totals(spark, settings.lake_path)
    quarantined_before = _open_quarantined(spark, settings.lake_path)
    results.print(f"\nCaptura de mudanças (Debezium): simulador escrevendo no PostgreSQL, "
                  f"{STREAM_RATE} eventos/s por {STREAM_PRODUCE_S} s (WAL → Kafka Connect → "
                  f"Kafka → bronze → silver → gold, gatilho de {STREAM_TRIGGER_S} s)")
    with demo.kafka() as bootstrap:
        worker = LocalKafkaConnect.from_settings(settings)
        worker_started_here = not worker.is_running()
        try:
            results.print(cdc.start(capture), markup=False, soft_wrap=True)
            with db.connect() as conn:
                simulator = Simulator(conn, seed=seed + 2, invalid_share=STREAM_INVALID_SHARE)
                producer = threading.Thread(
                    target=simulator.run, args=(STREAM_RATE,),
                    kwargs={"duration_s": STREAM_PRODUCE_S}, daemon=True)
                producer.start()
                run_streams(spark, settings, bootstrap,
                            StreamOptions(landing=False, duration_s=STREAM_RUN_S))
                producer.join()
            stats = simulator.stats
            published = published_records(stats.changes)
            _wait_until_published(bootstrap, settings.kafka_topic_prefix, published)
            # Whatever the last trigger had not reached yet.
            run_streams(spark, settings, bootstrap, StreamOptions(landing=False, once=True))
        finally:
            _remove_capture(capture, db, worker if worker_started_here else None)
    after = gold_totals(spark, settings.lake_path)
    quarantined = _open_quarantined(spark, settings.lake_path)
    invalid = {table: sum(rules.values()) for table, rules in stats.invalid_rows.items()}
    changes = {op: sum(ops.get(op, 0) for ops in stats.changes.values()) for op in "cud"}
    results.print(
        f"Simulador: {format_count(stats.events)} eventos em "
        f"{format_count(stats.transactions)} transações no PostgreSQL "
        f"({format_count(changes['c'])} inserções, {format_count(changes['u'])} alterações, "
        f"{format_count(changes['d'])} exclusões); o Debezium publicou "
        f"{format_count(published)} registros."
    )
    new = {table: quarantined.get(table, 0) - quarantined_before.get(table, 0)
           for table in invalid}
    results.print(
        "Quarentena (linhas novas / linhas que violam as regras escritas pelo simulador): "
        + ", ".join(f"{table} {format_count(new[table])}/{format_count(count)}"
                    for table, count in invalid.items()) + "."
    )
    results.print(
        f"gold/transacoes_por_condominio: {format_count(before[0])} → "
        f"{format_count(after[0])} transações, {format_brl(before[1])} → {format_brl(after[1])}."
    )


def _wait_until_published(bootstrap: str, prefix: str, records: int) -> None:
    """Polls the captured topics' end offsets until they hold `records` (the connector
    publishes shortly after each commit); CondoLakeError after CDC_PUBLISH_TIMEOUT_S."""

    wanted = set(captured_topics(prefix))
    deadline = time.monotonic() + CDC_PUBLISH_TIMEOUT_S
    found = 0
    while time.monotonic() < deadline:
        found = sum(sum(topic.end_offsets) for topic in describe_topics(bootstrap)
                    if topic.name in wanted)
        if found >= records:
            return
        time.sleep(0.5)
    raise CondoLakeError(f"Debezium published {found:,} of the {records:,} records the "
                         f"workload caused within {CDC_PUBLISH_TIMEOUT_S:g} s (see "
                         "`condolake cdc status` and <state_dir>/kafka-connect/connect.log)")


def _remove_capture(capture: Resources, db: SourceDatabase,
                    worker: LocalKafkaConnect | None) -> None:
    """Deletes the demo's connector and, once its task has let go of it, its slot (so the
    embedded PostgreSQL keeps no WAL for it); stops `worker` (the one the demo started)."""

    settings = capture.settings
    running = LocalKafkaConnect.from_settings(settings)
    if running.is_running():
        running.client().delete(settings.cdc_connector)
    if worker is not None:
        worker.stop()
    deadline = time.monotonic() + CDC_PUBLISH_TIMEOUT_S
    with db.connect(autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (settings.cdc_slot,)).fetchone()
            if row is None:
                return
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (settings.cdc_slot,))
                return
            time.sleep(0.25)
    log.warning(f"replication slot {settings.cdc_slot} is still in use; drop it with "
                f"SELECT pg_drop_replication_slot('{settings.cdc_slot}')")


def _open_quarantined(spark: SparkSession, lake_root: str) -> dict[str, int]:
    """Open quarantine records per source table."""
    from pyspark.sql import functions as F


    counts = {}
    for table in SOURCE_TABLES:
        path = table_path(lake_root, Layer.QUARANTINE, table.name)
        if delta.exists(spark, path):
            counts[table.name] = delta.read(spark, path).where(
                F.col(RESOLVED_RUN_ID_COL).isNull()).count()
    return counts


def _serve(settings: Settings) -> None:
    """The serving layer: the REST API over the demo's gold, asked once with a throw-away key."""
    import httpx

    from condolake.serving.auth import new_key
    from condolake.serving.server import BackgroundServer

    key, entry = new_key("demo", "admin", None)
    log.info("starting the REST API over the demo lake")
    with BackgroundServer(settings.with_(serve_keys=entry)) as url:
        answer = httpx.get(f"{url}/v1/transacoes-por-condominio",
                           params={"sort": "-valor_total", "limit": 3},
                           headers={"X-API-Key": key}, timeout=30)
        answer.raise_for_status()
        page = answer.json()
    results.print(f"\nAPI REST (GET /v1/transacoes-por-condominio?sort=-valor_total&limit=3, "
                  f"versão {page['table_version']} da tabela):")
    for item in page["items"]:
        results.print(f"  {item['nome']}: {format_count(item['quantidade_transacoes'])} "
                      f"transações, {format_brl(Decimal(item['valor_total']))}")
    results.print(f"Para servir este lake: CONDOLAKE_LAKE_ROOT={settings.lake_path} "
                  "condolake serve (chaves: condolake serve key; SQL: condolake serve sql)")


def _operate(spark: SparkSession, demo: Resources, db: SourceDatabase,
             run_date: dt.date) -> None:
    """Operations: the data-quality checks (`condolake check`), then `condolake status`."""
    from condolake.app.monitor import health
    from condolake.monitoring.status_view import status_view
    from condolake.pipelines.quality import run_checks

    settings = demo.settings
    log.info("data-quality checks: reconciliation with the source, freshness, rates")
    checks = run_checks(spark, settings, db=db, run_date=run_date)
    failed = [f"{check.check}({check.table})" for check in checks if check.failed]
    results.print(f"\nChecagens de qualidade: {len(checks)} executadas, "
                  + (f"{len(failed)} falharam: {', '.join(failed)}" if failed else "todas ok"))
    results.print(status_view(health(demo)))
    results.print(f"Saúde do lake a qualquer momento: CONDOLAKE_LAKE_ROOT={settings.lake_path} "
                  "condolake status (métricas Prometheus: condolake metrics)")


def _summary(first: RunRecord, second: RunRecord, settings: Settings) -> None:
    incremental = next(t for t in second.tables if t.table == "transacoes")
    results.print(
        f"\n1ª execução: {format_count(first.total('rows_read'))} registros lidos, "
        f"{format_count(first.total('rows_valid'))} válidos, "
        f"{format_count(first.total('rows_quarantined'))} em quarentena."
    )
    results.print(
        f"2ª execução (incremental): {format_count(incremental.rows_read)} transações novas lidas "
        f"(transacao_id > {incremental.watermark_from})."
    )
    results.print(
        f"Lake: {settings.lake_path}  —  veja com "
        f"CONDOLAKE_LAKE_ROOT={settings.lake_path} condolake show"
    )
