"""The `condolake` command line: parses arguments and calls the library, one function each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from condolake import __version__
from condolake.config import Settings, load_settings
from condolake.console import error, progress, results
from condolake.errors import CondoLakeError

Handler = Callable[[argparse.Namespace, Settings], int]


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.jars import BUNDLES, resolved_jars

    for bundle in BUNDLES.values():
        jars = resolved_jars(bundle, settings.jar_cache_path, progress=progress,
                             exclude_spark_provided=bundle.on_spark_classpath)
        progress(f"{bundle.name}: {len(jars)} jars ready in {settings.jar_cache_path}")
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    for key, value in settings.redacted().items():
        results.print(f"{key} = {value}")
    return 0


def cmd_source_start(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.postgres import EmbeddedPostgres

    if settings.source_url:
        progress("CONDOLAKE_SOURCE_URL is set: the external server is used, nothing to start")
        return 0
    url = EmbeddedPostgres(settings.state_path, progress=progress).start()
    results.print(url)
    return 0


def cmd_source_stop(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(settings.state_path, progress=progress)
    if server.is_running():
        server.stop()
        progress("embedded PostgreSQL stopped")
    else:
        progress("embedded PostgreSQL is not running")
    return 0


def cmd_source_init(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.postgres import source_database
    from condolake.source.ddl import init_schema

    with source_database(settings, progress=progress) as db, db.connect() as conn:
        init_schema(conn, drop_existing=args.drop)
    progress("source schema ready: condominios, moradores, imoveis, transacoes")
    return 0


def cmd_source_generate(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.postgres import source_database
    from condolake.source.generator import generate

    with source_database(settings, progress=progress) as db, db.connect() as conn:
        report = generate(conn, scale=args.scale, seed=args.seed,
                          invalid_share=args.invalid_share, progress=progress,
                          replace=args.replace)
    for table, rows in report.rows.items():
        results.print(f"{table}: {rows:,} rows ({report.invalid.get(table, 0):,} invalid)")
    return 0


def cmd_source_append(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.postgres import source_database
    from condolake.source.generator import append_transactions

    with source_database(settings, progress=progress) as db, db.connect() as conn:
        first, last = append_transactions(conn, count=args.transactions, seed=args.seed,
                                          progress=progress)
    results.print(f"transacoes {first}..{last} added")
    return 0


def cmd_source_export_csv(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.ingestion.csv_reader import write_csv
    from condolake.services.postgres import source_database
    from condolake.source.tables import source_table

    table = source_table(args.table)
    with source_database(settings, progress=progress) as db, db.connect() as conn:
        cursor = conn.execute(
            f"SELECT {', '.join(table.column_names)} FROM {table.name} "  # noqa: S608
            f"ORDER BY {table.primary_key}"
        )
        names = table.column_names
        write_csv(Path(args.path), table, (dict(zip(names, row, strict=True)) for row in cursor),
                  delimiter=args.delimiter, encoding=args.encoding, decimal=args.decimal)
    progress(f"{table.name} written to {args.path}")
    return 0


def cmd_source_api_serve(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.postgres import source_database
    from condolake.source.api_server import serve_forever

    with source_database(settings, progress=progress) as db:
        progress(f"serving the source tables on http://{args.host}:{args.port}/<table>")
        serve_forever(db.url, args.host, args.port, settings.api_token)
    return 0


def cmd_cluster_start(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.spark_cluster import LocalSparkCluster

    cluster = LocalSparkCluster(settings.state_path, workers=args.workers,
                                cores_per_worker=args.cores, memory_per_worker=args.memory)
    progress(f"starting a local Spark cluster in {cluster.folder}")
    results.print(cluster.start())
    progress(f"master UI {cluster.webui_url}; use CONDOLAKE_SPARK_MASTER={cluster.master_url}")
    return 0


def cmd_cluster_stop(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.spark_cluster import LocalSparkCluster

    cluster = LocalSparkCluster(settings.state_path)
    if cluster.is_running():
        cluster.stop()
        progress("local Spark cluster stopped")
    else:
        progress("the local Spark cluster is not running")
    return 0


def cmd_cluster_status(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.spark_cluster import LocalSparkCluster

    cluster = LocalSparkCluster(settings.state_path)
    if not cluster.is_running():
        progress("the local Spark cluster is not running")
        return 1
    status = cluster.status()
    results.print(f"{cluster.master_url} ({status.get('status')}): "
                  f"{status.get('aliveworkers', 0)} workers, {status.get('cores', 0)} cores, "
                  f"{len(status.get('activeapps', []))} running applications")
    return 0


def cmd_broker_start(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap:
        progress(f"CONDOLAKE_KAFKA_BOOTSTRAP is set: the external cluster "
                 f"{settings.kafka_bootstrap} is used, nothing to start")
        return 0
    from condolake.services.kafka import LocalKafkaBroker

    broker = LocalKafkaBroker.from_settings(settings, progress=progress)
    results.print(broker.start())
    progress(f"Kafka broker running; data and broker.log in {broker.folder}")
    return 0


def cmd_broker_stop(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap:
        progress(f"CONDOLAKE_KAFKA_BOOTSTRAP is set: the external cluster "
                 f"{settings.kafka_bootstrap} is used, nothing to stop")
        return 0
    from condolake.services.kafka import LocalKafkaBroker

    broker = LocalKafkaBroker.from_settings(settings, progress=progress)
    if broker.is_running():
        broker.stop()
        progress("Kafka broker stopped")
    else:
        progress("the Kafka broker is not running")
    return 0


def cmd_broker_status(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.services.kafka import LocalKafkaBroker, describe_topics

    if settings.kafka_bootstrap:
        bootstrap = settings.kafka_bootstrap
        results.print(f"external Kafka cluster {bootstrap} (CONDOLAKE_KAFKA_BOOTSTRAP)")
    else:
        broker = LocalKafkaBroker.from_settings(settings, progress=progress)
        if not broker.is_running():
            results.print(f"the Kafka broker is not running (data folder {broker.folder})")
            return 1
        bootstrap = broker.bootstrap
        results.print(f"Kafka broker running on {bootstrap} (data folder {broker.folder})")
    topics = describe_topics(bootstrap)
    if not topics:
        results.print("no topics")
    for topic in topics:
        offsets = ", ".join(str(offset) for offset in topic.end_offsets)
        results.print(f"{topic.name}: {topic.partitions} partitions, end offsets [{offsets}]")
    return 0


def cmd_ingest_postgres(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.batch import ingest_postgres
    from condolake.services.postgres import source_database
    from condolake.spark import build_spark

    with source_database(settings, progress=progress) as db:
        spark = build_spark(settings, "condolake-ingest-postgres", progress=progress)
        ingest_postgres(spark, settings, db, progress)
    return 0


def cmd_ingest_csv(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.files import ingest_csv
    from condolake.source.tables import source_table
    from condolake.spark import build_spark

    source_table(args.table)  # a wrong name fails before Spark starts
    spark = build_spark(settings, "condolake-ingest-csv", progress=progress)
    ingest_csv(spark, settings, Path(args.path), args.table, delimiter=args.delimiter,
               encoding=args.encoding, decimal=args.decimal, header=not args.no_header,
               progress=progress)
    return 0


def cmd_ingest_api(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.files import ingest_api
    from condolake.source.tables import source_table
    from condolake.spark import build_spark

    source_table(args.table)
    spark = build_spark(settings, "condolake-ingest-api", progress=progress)
    ingest_api(spark, settings, args.url, args.table, page_size=args.page_size,
               progress=progress)
    return 0


def cmd_transform(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.batch import transform
    from condolake.spark import build_spark

    spark = build_spark(settings, "condolake-transform", progress=progress)
    transform(spark, settings, progress)
    return 0


def cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.batch import batch
    from condolake.services.postgres import source_database
    from condolake.spark import build_spark

    with source_database(settings, progress=progress) as db:
        spark = build_spark(settings, "condolake-batch", progress=progress)
        batch(spark, settings, db, progress)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.reporting import gold_tables
    from condolake.spark import build_spark

    spark = build_spark(settings, "condolake-show")
    for table in gold_tables(spark, settings.lake_path, args.rows):
        results.print(table)
    return 0


# --- check (data quality, issue 5 task C) ---
def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from condolake.app import jobs
    from condolake.app.resources import Resources
    from condolake.monitoring.quality import as_json, failed_names, render_table

    resources = Resources.from_settings(settings)
    found = jobs.check(resources, resources.today(), progress)
    text = json.dumps(as_json(found), indent=2) if args.json else render_table(found)
    results.print(text, markup=False, emoji=False, soft_wrap=True)
    failed = failed_names(found)
    if failed:
        error(f"{len(failed)} data-quality checks failed: {', '.join(failed)}")
        return 1
    return 0
# --- end check ---


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.app.demo import run_demo
    from condolake.app.resources import Resources

    run_demo(Resources.from_settings(settings), scale=args.scale, seed=args.seed,
             invalid_share=args.invalid_share, rows=args.rows, progress=progress)
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from condolake.services.kafka import ensure_topics, kafka_bootstrap
    from condolake.services.postgres import source_database
    from condolake.source.event_sink import KafkaSink
    from condolake.source.simulator import (
        Simulator,
        require_source,
        source_topics,
        stop_on_interrupt,
    )

    prefix = settings.kafka_topic_prefix
    with source_database(settings, progress=progress) as db, db.connect() as conn:
        require_source(conn)  # a clear error before any broker is started
        with kafka_bootstrap(settings, progress=progress) as bootstrap:
            ensure_topics(bootstrap, source_topics(prefix), settings.kafka_partitions)
            with KafkaSink(bootstrap) as sink, stop_on_interrupt() as stop:
                simulator = Simulator(conn, sink, prefix=prefix, seed=args.seed,
                                      chaos_share=args.chaos)
                progress(f"simulating {args.rate:g} events/s into {prefix}.public.* on "
                         f"{bootstrap} (Ctrl-C stops after the current tick)")
                stats = simulator.run(args.rate, duration_s=args.duration, events=args.events,
                                      progress=progress, stop=stop)
    for line in stats.summary():
        results.print(line)
    if args.stats_file:
        Path(args.stats_file).write_text(json.dumps(stats.to_dict(), indent=2) + "\n",
                                         encoding="utf-8")
        progress(f"stats written to {args.stats_file}")
    return 0


def cmd_stream_start(args: argparse.Namespace, settings: Settings) -> int:
    from contextlib import ExitStack

    from condolake.pipelines.stream import StreamOptions, run_streams
    from condolake.services.jars import SPARK_CORE, SPARK_KAFKA
    from condolake.services.kafka import ensure_topics, kafka_bootstrap
    from condolake.spark import build_spark
    from condolake.streaming.queries import topics

    options = StreamOptions(kafka=not args.no_kafka, landing=not args.no_landing,
                            once=args.once, duration_s=args.duration)
    with ExitStack() as stack:
        bootstrap = None
        if options.kafka:
            bootstrap = stack.enter_context(kafka_bootstrap(settings, progress=progress))
            ensure_topics(bootstrap, topics(settings.kafka_topic_prefix),
                          settings.kafka_partitions)
        spark = build_spark(settings, "condolake-stream", bundles=(SPARK_CORE, SPARK_KAFKA),
                            progress=progress)
        progress(f"streaming into {settings.lake_path} (trigger {settings.stream_trigger_s} s"
                 + (f", Kafka {bootstrap}" if bootstrap else "")
                 + (f", landing zone {settings.landing_path}" if options.landing else "")
                 + ("; until everything available is processed" if options.once else
                    "; Ctrl-C stops after the current micro-batch") + ")")
        report = run_streams(spark, settings, bootstrap, options, progress)
    for name, batches in report.batches.items():
        results.print(f"{name}: {batches} micro-batches with data, "
                      f"{report.rows.get(name, 0):,} input rows")
    return 0


def cmd_stream_status(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.reporting import stream_status_table
    from condolake.streaming.queries import QUERY_NAMES
    from condolake.streaming.status import read_states

    alive, states = read_states(settings, QUERY_NAMES)
    results.print(stream_status_table(alive, states))
    return 0


# --- stream watchdog (issue 5 task A) ---
def cmd_stream_watchdog(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from condolake.streaming.watchdog import alert, watch

    result = watch(settings)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        for line in result.verdict.describe() + result.notes:
            results.print(line, markup=False, soft_wrap=True)
    if not result.verdict.healthy:
        alert(settings, result)
    if not result.ok:
        error(f"the stream is {result.verdict.health.label} and is not being restarted")
        return 1
    return 0
# --- end stream watchdog ---


def cmd_stream_reset(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.maintenance_plan import POSITION_QUERIES
    from condolake.pipelines.stream_silver import forget_positions
    from condolake.spark import build_spark
    from condolake.streaming.reset import queries_to_reset, reset_checkpoints

    names = queries_to_reset(args.query)
    for path in reset_checkpoints(settings, names):
        progress(f"removed checkpoint {path}")
    forgotten = [source for source, query in POSITION_QUERIES.items() if query in names]
    if forgotten:
        spark = build_spark(settings, "condolake-stream-reset", progress=progress)
        for source in forgotten:
            forget_positions(spark, settings.lake_path, source)
            progress(f"forgot the per-key positions of {source}: its changes apply again")
    return 0


# --- maintain (task F) ---------------------------------------------------------------------
def cmd_maintain(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.maintenance import maintain
    from condolake.pipelines.maintenance_plan import retention_hours
    from condolake.spark import build_spark

    # A retention below the safe minimum fails here, before Spark starts.
    hours = retention_hours(args.retention_hours, settings.vacuum_retention_h,
                            unsafe=args.unsafe_retention)
    spark = build_spark(settings, "condolake-maintain", progress=progress)
    report = maintain(spark, settings, retention_h=hours, unsafe_retention=args.unsafe_retention,
                      dry_run=args.dry_run, progress=progress)
    if report.run_id:
        results.print(f"{report.run_id}: {len(report.tables)} tables optimized and vacuumed, "
                      f"{sum(t.files_vacuumed for t in report.tables):,} files vacuumed, "
                      f"{len(report.checkpoints_removed)} checkpoints removed, "
                      f"{report.positions_pruned:,} positions pruned")
    return 0
# --- end of maintain (task F) ---------------------------------------------------------------


# --- docs (issue 5, task G) ---
def cmd_docs_dictionary(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.docs_gen.dictionary import check_dictionary, write_dictionary

    output = Path(args.output)
    if args.check:
        check_dictionary(output)
        results.print(f"{output} is up to date")
    else:
        write_dictionary(output)
        results.print(f"wrote {output}")
    return 0
# --- end docs (task G) ---


# --- status and metrics (issue 5, task D) ---
def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from condolake.monitoring.health import HealthCollector, breaches
    from condolake.monitoring.status_view import status_document, status_view

    collector = HealthCollector(settings)
    try:
        health = collector.collect()
    finally:
        collector.close()
    if args.json:
        sys.stdout.write(json.dumps(status_document(health), indent=2) + "\n")
    else:
        results.print(status_view(health))
    return 2 if args.fail_on_breach and breaches(health) else 0


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.monitoring.exporter import run_exporter

    run_exporter(settings, host=args.host or settings.serve_host,
                 port=args.port or settings.metrics_port, progress=progress)
    return 0
# --- end status and metrics (task D) ---


def cmd_bench_batch(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.bench.batch import run_batch_benchmark

    run_batch_benchmark(settings, scale=args.scale, seed=args.seed,
                        output_dir=Path(args.output), progress=progress)
    return 0


def cmd_bench_stream(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.bench.stream import run_stream_benchmark

    run_stream_benchmark(settings, scale=args.scale, events=args.events, rate=args.rate,
                         duration_s=args.duration, trigger_s=args.trigger, seed=args.seed,
                         output_dir=Path(args.output), progress=progress)
    return 0


def cmd_serve_api(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.serving.server import run_api

    run_api(settings, host=args.host or settings.serve_host,
            port=args.port or settings.serve_port, progress=progress)
    return 0


def cmd_serve_sql(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.serving.sql_endpoint import run_sql_endpoint

    run_sql_endpoint(settings, host=args.host or settings.serve_host,
                     port=args.port or settings.sql_port, progress=progress)
    return 0


def cmd_serve_key(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.serving.auth import new_key

    key, entry = new_key(args.name, args.role, args.condominio)
    results.print(f"API key (shown once, give it to its holder): {key}")
    results.print(f"add to CONDOLAKE_SERVE_KEYS (comma-separated): {entry}")
    return 0


def cmd_bench_serve(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.bench.serve import run_serve_benchmark

    run_serve_benchmark(settings, scale=args.scale, seed=args.seed, clients=args.clients,
                        duration_s=args.duration, output_dir=Path(args.output),
                        progress=progress)
    return 0


def _csv_format_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--delimiter", help="field separator (default: detected)")
    parser.add_argument("--encoding", help="utf-8 or latin-1 (default: detected)")
    parser.add_argument("--decimal", choices=[".", ","],
                        help="decimal separator of money: '.' (1234.56) or ',' (1.234,56); "
                             "default: detected")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="condolake",
        description="CondoLake: CondoManage's Lake House (PostgreSQL, CSV and API sources -> "
                    "Delta Lake bronze/silver/gold with Spark). Configuration comes from "
                    "CONDOLAKE_* environment variables; see `condolake config`.",
    )
    parser.add_argument("--version", action="version", version=f"condolake {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str,
            parent: argparse._SubParsersAction = commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add("setup", cmd_setup, "resolve the JVM jars from Maven Central into the local cache (once)")
    add("config", cmd_config, "print the effective settings (secrets hidden)")

    source = commands.add_parser("source", help="the PostgreSQL source: server, schema, data",
                                 description="the PostgreSQL source: server, schema, data")
    source_commands = source.add_subparsers(dest="source_command", required=True,
                                            metavar="COMMAND")
    add("start", cmd_source_start, "start the embedded PostgreSQL and leave it running",
        source_commands)
    add("stop", cmd_source_stop, "stop the embedded PostgreSQL", source_commands)
    init = add("init", cmd_source_init, "create the four source tables (schema.sql, verbatim)",
               source_commands)
    init.add_argument("--drop", action="store_true", help="drop the tables first")
    gen = add("generate", cmd_source_generate,
              "fill the source with synthetic Brazilian data (COPY)", source_commands)
    gen.add_argument("--scale", type=float, default=1.0,
                     help="1 = 100 condominios, 20k moradores, 30k imoveis, 1M transacoes")
    gen.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    gen.add_argument("--invalid-share", type=float, default=0.0,
                     help="share of rows per table that break a validation rule (e.g. 0.02)")
    gen.add_argument("--replace", action="store_true", help="empty the tables first")
    app = add("append", cmd_source_append, "append new valid transactions", source_commands)
    app.add_argument("--transactions", type=int, required=True, help="how many")
    app.add_argument("--seed", type=int, default=7)
    export = add("export-csv", cmd_source_export_csv, "write a source table to a CSV file",
                 source_commands)
    export.add_argument("path")
    export.add_argument("--table", required=True)
    export.add_argument("--delimiter", default=",")
    export.add_argument("--encoding", default="utf-8")
    export.add_argument("--decimal", choices=[".", ","], default=".")
    serve = add("api-serve", cmd_source_api_serve,
                "serve the source tables as a paginated JSON API (for demos and tests)",
                source_commands)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)

    cluster = commands.add_parser("cluster", help="a local Spark standalone cluster",
                                  description="a local Spark standalone cluster (Master and "
                                              "Workers from the pyspark distribution)")
    cluster_commands = cluster.add_subparsers(dest="cluster_command", required=True,
                                              metavar="COMMAND")
    cluster_start = add("start", cmd_cluster_start,
                        "start a Master and Workers on loopback and leave them running",
                        cluster_commands)
    cluster_start.add_argument("--workers", type=int, default=1)
    cluster_start.add_argument("--cores", type=int, default=1, help="cores per worker")
    cluster_start.add_argument("--memory", default="2g", help="memory per worker (e.g. 2g)")
    add("stop", cmd_cluster_stop, "stop the local Spark cluster", cluster_commands)
    add("status", cmd_cluster_status, "workers and applications of the local Spark cluster",
        cluster_commands)

    broker_help = ("a local single-node Apache Kafka broker (KRaft), data under "
                   "<state_dir>/kafka; with CONDOLAKE_KAFKA_BOOTSTRAP set, the external "
                   "cluster is used instead and nothing is started")
    broker = commands.add_parser("broker", help="a local Kafka broker for the streaming path",
                                 description=broker_help)
    broker_commands = broker.add_subparsers(dest="broker_command", required=True,
                                            metavar="COMMAND")
    add("start", cmd_broker_start, "start the Kafka broker on 127.0.0.1 and leave it running; "
        "prints its bootstrap servers (ports and data are kept across restarts)",
        broker_commands)
    add("stop", cmd_broker_stop, "stop the Kafka broker (controlled shutdown)", broker_commands)
    add("status", cmd_broker_status, "whether the broker runs, its bootstrap servers, and its "
        "topics with partitions and end offsets", broker_commands)

    ingest = commands.add_parser("ingest", help="land a source in bronze and validate into silver",
                                 description="land a source in bronze, validate into silver "
                                             "and quarantine")
    ingest_commands = ingest.add_subparsers(dest="ingest_command", required=True,
                                            metavar="SOURCE")
    add("postgres", cmd_ingest_postgres,
        "all four tables from PostgreSQL (transacoes incrementally)", ingest_commands)
    csv_parser = add("csv", cmd_ingest_csv, "one table from a CSV file", ingest_commands)
    csv_parser.add_argument("path")
    csv_parser.add_argument("--table", required=True)
    csv_parser.add_argument("--no-header", action="store_true",
                            help="the file has no header row (columns in table order)")
    _csv_format_options(csv_parser)
    api = add("api", cmd_ingest_api, "one table from a paginated JSON API", ingest_commands)
    api.add_argument("url", help="base URL; the table is read from URL/<table>")
    api.add_argument("--table", required=True)
    api.add_argument("--page-size", type=int, default=1000)

    add("transform", cmd_transform, "rebuild the three gold tables from silver")
    add("batch", cmd_batch,
        "ingest PostgreSQL and update gold for what changed, as one all-or-nothing run")
    show = add("show", cmd_show, "print the gold tables (pt-BR formatting)")
    show.add_argument("--rows", type=int, default=10)
    # --- check (issue 5 task C) ---
    check = add("check", cmd_check, "data-quality checks now (source reconciliation, gold "
                "freshness, quarantine and duplicate rates), appended to ops/dq_results; "
                "exit 1 when a check failed")
    check.add_argument("--json", action="store_true", help="the results as JSON")
    # --- end check ---
    demo = add("demo", cmd_demo, "end to end: embedded PostgreSQL, data, batch, gold tables")
    demo.add_argument("--scale", type=float, default=0.1)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--invalid-share", type=float, default=0.02)
    demo.add_argument("--rows", type=int, default=10, help="rows shown per gold table")
    simulate = add("simulate", cmd_simulate,
                   "live changes in the PostgreSQL source, published to Kafka as Debezium "
                   "change events (needs `condolake source generate` first)")
    simulate.add_argument("--rate", type=float, required=True, help="events per second")
    simulate_limit = simulate.add_mutually_exclusive_group()
    simulate_limit.add_argument("--duration", type=float, metavar="SECONDS",
                                help="stop after this many seconds (default: until Ctrl-C)")
    simulate_limit.add_argument("--events", type=int, metavar="N",
                                help="stop after this many events")
    simulate.add_argument("--chaos", type=float, default=0.0, metavar="SHARE",
                          help="share of events that are malformed, duplicated, late, out of "
                               "order or rule-breaking rows (0..1)")
    simulate.add_argument("--seed", type=int, default=7, help="same seed, same changes")
    simulate.add_argument("--stats-file", metavar="PATH", help="write the run's stats as JSON")

    stream = commands.add_parser(
        "stream", help="continuous ingestion: Kafka change events and landing-zone files",
        description="continuous ingestion with Spark Structured Streaming: Kafka change "
                    "events (Debezium JSON) and files dropped in the landing zone, into "
                    "bronze, silver, quarantine and gold, exactly once")
    stream_commands = stream.add_subparsers(dest="stream_command", required=True,
                                            metavar="COMMAND")
    stream_start = add("start", cmd_stream_start,
                       "run the streaming queries until Ctrl-C / SIGTERM (starts the local "
                       "Kafka broker when CONDOLAKE_KAFKA_BOOTSTRAP is unset)", stream_commands)
    stream_start.add_argument("--once", action="store_true",
                              help="process everything available now through every layer, "
                                   "then stop")
    stream_start.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                              help="stop after this many seconds")
    stream_start.add_argument("--no-kafka", action="store_true",
                              help="only the landing zone (no broker needed)")
    stream_start.add_argument("--no-landing", action="store_true",
                              help="only Kafka (no landing-zone query)")
    add("status", cmd_stream_status, "each query's state, rates, last micro-batch, Kafka lag "
        "and checkpoint", stream_commands)
    # --- stream watchdog (task A) ---
    watchdog = add("watchdog", cmd_stream_watchdog,
                   "one check of every streaming query (alive, progress within "
                   "CONDOLAKE_STREAM_STALE_S, Kafka lag within CONDOLAKE_STREAM_LAG_MAX); a "
                   "dead stream is restarted in the background when CONDOLAKE_WATCHDOG_RESTART"
                   "=1 and an alert is posted; exit 1 when unhealthy and not restarted",
                   stream_commands)
    watchdog.add_argument("--json", action="store_true", help="the verdict as JSON")
    # --- end stream watchdog ---
    reset = add("reset", cmd_stream_reset,
                "delete a query's checkpoint so it reads its source again from the start (it "
                "also forgets its source's recorded deletes and rejected versions; changes "
                "not newer than silver's rows count as duplicates); only while no stream runs",
                stream_commands)
    reset.add_argument("query", help="query name (kafka, landing) or 'all'")

    # --- maintain (task F) ---
    maintain = add("maintain", cmd_maintain,
                   "Delta OPTIMIZE and VACUUM of every lake table, removal of checkpoints of "
                   "queries that no longer exist, pruning of per-key positions no query needs; "
                   "recorded in ops/runs (job maintenance)")
    maintain.add_argument("--dry-run", action="store_true",
                          help="print what would be done and change nothing")
    maintain.add_argument("--retention-hours", type=float, default=None, metavar="H",
                          help="VACUUM keeps files younger than H hours, at least 168 "
                               "(default: CONDOLAKE_VACUUM_RETENTION_H, 168)")
    # Tests only: allows a retention below 168 h on a lake no stream or reader uses.
    maintain.add_argument("--unsafe-retention", action="store_true", help=argparse.SUPPRESS)
    # --- end of maintain (task F) ---
    # --- docs (issue 5, task G) ---
    docs = commands.add_parser("docs", help="documentation generated from the code",
                               description="documentation generated from the code")
    docs_commands = docs.add_subparsers(dest="docs_command", required=True, metavar="COMMAND")
    dictionary = add("dictionary", cmd_docs_dictionary,
                     "write the data dictionary from the table schemas declared in code and "
                     "the column meanings in src/condolake/docs_gen/descriptions.toml",
                     docs_commands)
    dictionary.add_argument("--check", action="store_true",
                            help="write nothing; exit 1, naming the first difference, when "
                                 "the file is not what the code generates")
    dictionary.add_argument("--output", default="docs/data-dictionary.md", metavar="PATH",
                            help="the page (default: docs/data-dictionary.md)")
    # --- end docs (task G) ---
    # --- status and metrics (issue 5, task D) ---
    status = add("status", cmd_status,
                 "health at a glance, without Spark: last run per job, gold freshness against "
                 "the SLA, quarantine counts and rates, failed data-quality checks, streaming "
                 "queries with Kafka lag; exits 0 (unless --fail-on-breach)")
    status.add_argument("--json", action="store_true",
                        help="print a JSON document for scripts instead of tables")
    status.add_argument("--fail-on-breach", action="store_true",
                        help="exit 2 when something is breached (failed last run, SLA, rate "
                             "or lag above its threshold, failed check, unreadable source)")
    metrics = add("metrics", cmd_metrics,
                  "Prometheus exporter: serves /metrics (computed at scrape time from ops/, "
                  "the Delta logs, the stream status and the Kafka broker) until Ctrl-C")
    metrics.add_argument("--host", help="interface (default: CONDOLAKE_SERVE_HOST, 127.0.0.1)")
    metrics.add_argument("--port", type=int,
                         help="port (default: CONDOLAKE_METRICS_PORT, 9108)")
    # --- end status and metrics (task D) ---
    serve = add("serve", cmd_serve_api,
                "serve the lake: REST API and pt-BR dashboard (default), or the SQL endpoint "
                "for BI tools (`serve sql`); API keys come from CONDOLAKE_SERVE_KEYS")
    serve.add_argument("--host", help="interface (default: CONDOLAKE_SERVE_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int,
                       help="port of the API and dashboard (default: CONDOLAKE_SERVE_PORT, 8000)")
    serve_commands = serve.add_subparsers(dest="serve_command", required=False,
                                          metavar="COMMAND")
    serve_sql = add("sql", cmd_serve_sql,
                    "SQL endpoint for BI tools: Spark Thrift Server (HiveServer2 protocol, "
                    "JDBC/ODBC) with databases bronze, silver, gold, quarantine and ops",
                    serve_commands)
    # SUPPRESS: `serve --port P sql` keeps P instead of this parser's default overwriting it.
    serve_sql.add_argument("--host", default=argparse.SUPPRESS,
                           help="interface (default: CONDOLAKE_SERVE_HOST, 127.0.0.1)")
    serve_sql.add_argument("--port", type=int, default=argparse.SUPPRESS,
                           help="port (default: CONDOLAKE_SQL_PORT, 10000)")
    serve_key = add("key", cmd_serve_key,
                    "make a new API key: prints the key once and the hashed entry for "
                    "CONDOLAKE_SERVE_KEYS", serve_commands)
    serve_key.add_argument("--name", required=True, help="who holds the key (shown in logs)")
    serve_key.add_argument("--role", required=True, choices=["admin", "analista", "sindico"],
                           help="admin: everything; analista: all condominiums, resident names "
                                "masked; sindico: one condominium, names visible")
    serve_key.add_argument("--condominio", type=int, default=None, metavar="ID",
                           help="limit the key to one condominium (required for sindico)")

    bench = commands.add_parser("bench", help="benchmarks (results in bench/results/)",
                                description="benchmarks (results in bench/results/)")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, metavar="NAME")
    bench_batch = add("batch", cmd_bench_batch,
                      "COPY and DuckDB baselines against `condolake batch`", bench_commands)
    bench_batch.add_argument("--scale", type=float, default=1.0)
    bench_batch.add_argument("--seed", type=int, default=42)
    bench_batch.add_argument("--output", default="bench/results")
    bench_stream = add("stream", cmd_bench_stream,
                       "Kafka -> gold throughput and end-to-end latency, next to a plain "
                       "Kafka consumer", bench_commands)
    bench_stream.add_argument("--scale", type=float, default=0.01,
                              help="size of the generated source (default 0.01)")
    bench_stream.add_argument("--events", type=int, default=200_000,
                              help="backlog for the throughput phase (default 200000)")
    bench_stream.add_argument("--rate", type=float, default=1000.0,
                              help="events per second in the latency phase (default 1000)")
    bench_stream.add_argument("--duration", type=float, default=60.0, metavar="SECONDS",
                              help="production time of the latency phase (default 60)")
    bench_stream.add_argument("--trigger", type=float, default=2.0, metavar="SECONDS",
                              help="trigger interval of the latency phase (default 2)")
    bench_stream.add_argument("--seed", type=int, default=42)
    bench_stream.add_argument("--output", default="bench/results")
    bench_serve = add("serve", cmd_bench_serve,
                      "REST API latency (p50/p95/p99) and throughput under concurrent "
                      "clients, next to reading the same Delta tables in-process",
                      bench_commands)
    bench_serve.add_argument("--scale", type=float, default=10.0,
                             help="size of the generated source behind gold (default 10)")
    bench_serve.add_argument("--clients", type=int, default=50,
                             help="concurrent HTTP clients (default 50)")
    bench_serve.add_argument("--duration", type=float, default=30.0, metavar="SECONDS",
                             help="measured time per phase (default 30)")
    bench_serve.add_argument("--seed", type=int, default=42)
    bench_serve.add_argument("--output", default="bench/results")
    return parser


# --- failure alerts (issue 5, task B) ---------------------------------------------------
# Commands whose failure posts an alert to CONDOLAKE_ALERT_WEBHOOK_URL, with their job name.
ALERTING_COMMANDS: dict[Handler, str] = {
    cmd_batch: "batch",
    cmd_ingest_postgres: "ingest_postgres",
    cmd_ingest_csv: "ingest_csv",
    cmd_ingest_api: "ingest_api",
    cmd_transform: "transform",
    cmd_maintain: "maintenance",
}


def alert_failure(args: argparse.Namespace, settings: Settings, failure: CondoLakeError) -> None:
    """Post the alert of a failed job command (nothing for other commands, or no webhook)."""
    job = ALERTING_COMMANDS.get(args.handler)
    if job is None:
        return
    from condolake.monitoring.alerting import post_job_failure
    from condolake.pipelines.runs import PipelineError

    run_id = summary = None
    if isinstance(failure, PipelineError):
        job, run_id, summary = failure.job or job, failure.run_id, failure.summary
    lines = (summary or str(failure)).strip().splitlines()
    post_job_failure(settings, job, lines[0] if lines else type(failure).__name__, run_id)
# --- end of failure alerts ---------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = load_settings()
        return int(args.handler(args, settings))
    except CondoLakeError as failure:
        error(str(failure))
        if settings is not None:
            alert_failure(args, settings, failure)
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
