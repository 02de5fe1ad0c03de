"""`condolake demo`: the whole batch path on freshly generated data, shown in the terminal."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from pyspark.sql import SparkSession

from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.console import results
from condolake.formatting import format_brl, format_count
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import batch
from condolake.reporting import gold_tables, gold_totals
from condolake.services.jars import SPARK_CORE, SPARK_KAFKA
from condolake.services.postgres import SourceDatabase
from condolake.source.ddl import init_schema
from condolake.source.generator import append_transactions, generate

log = logging.getLogger(__name__)
NEW_TRANSACTIONS_SHARE = 0.01
STREAM_RATE = 200  # events per second from the simulator
STREAM_PRODUCE_S = 20
STREAM_RUN_S = 30
STREAM_TRIGGER_S = 2.0
STREAM_CHAOS = 0.02


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
    """The streaming path for a short while: simulated changes flow through Kafka into gold."""
    from condolake.pipelines.stream import StreamOptions, run_streams
    from condolake.services.kafka import ensure_topics
    from condolake.source.event_sink import KafkaSink
    from condolake.source.simulator import Simulator
    from condolake.source.simulator_plan import DIRECT_MIX
    from condolake.source.simulator_publish import Publishing
    from condolake.streaming.queries import topics

    # The source was just re-created: fresh topics, so no earlier demo's events are replayed.
    settings = demo.settings.with_(kafka_topic_prefix=f"condolake-demo-{uuid4().hex[:8]}",
                                   stream_trigger_s=STREAM_TRIGGER_S)
    before = gold_totals(spark, settings.lake_path)
    results.print(f"\nStreaming: {STREAM_RATE} eventos/s por {STREAM_PRODUCE_S} s "
                  f"(Kafka → bronze → silver → gold, gatilho de {STREAM_TRIGGER_S} s)")
    with demo.kafka() as bootstrap:
        ensure_topics(bootstrap, topics(settings.kafka_topic_prefix), settings.kafka_partitions)
        with db.connect() as conn, KafkaSink(bootstrap) as sink:
            # Published directly (no connector yet), with the direct publisher's mix.
            simulator = Simulator(conn, seed=seed + 2, mix=DIRECT_MIX, publish=Publishing(
                sink, settings.kafka_topic_prefix, chaos_share=STREAM_CHAOS))
            producer = threading.Thread(
                target=simulator.run, args=(STREAM_RATE,),
                kwargs={"duration_s": STREAM_PRODUCE_S}, daemon=True)
            producer.start()
            run_streams(spark, settings, bootstrap,
                        StreamOptions(landing=False, duration_s=STREAM_RUN_S))
            producer.join()
            # Whatever the last trigger had not reached yet.
            run_streams(spark, settings, bootstrap, StreamOptions(landing=False, once=True))
    after = gold_totals(spark, settings.lake_path)
    stats = simulator.stats
    results.print(
        f"Simulador: {format_count(stats.events)} mudanças publicadas "
        f"({format_count(stats.chaos['malformed'])} malformadas, "
        f"{format_count(stats.chaos['duplicate'])} duplicadas, "
        f"{format_count(stats.chaos['late'])} atrasadas, "
        f"{format_count(stats.chaos['out_of_order'])} fora de ordem)."
    )
    results.print(
        f"gold/transacoes_por_condominio: {format_count(before[0])} → "
        f"{format_count(after[0])} transações, {format_brl(before[1])} → {format_brl(after[1])}."
    )


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
    if any(check.check == "reconciliation" and check.failed for check in checks):
        results.print("Na demo, o caos do simulador publica mudanças malformadas: ficam em "
                      "quarentena (malformed_event) sem chave legível, e a reconciliação aponta "
                      "as linhas da fonte que por isso não chegaram ao lake.")
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
