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
        jars = resolved_jars(bundle, settings.jar_cache_path, progress=progress)
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.pipelines.demo import run_demo

    run_demo(settings, scale=args.scale, seed=args.seed, invalid_share=args.invalid_share,
             rows=args.rows, progress=progress)
    return 0


def cmd_bench_batch(args: argparse.Namespace, settings: Settings) -> int:
    from condolake.bench.batch import run_batch_benchmark

    run_batch_benchmark(settings, scale=args.scale, seed=args.seed,
                        output_dir=Path(args.output), progress=progress)
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
    add("batch", cmd_batch, "ingest PostgreSQL and rebuild gold, as one all-or-nothing run")
    show = add("show", cmd_show, "print the gold tables (pt-BR formatting)")
    show.add_argument("--rows", type=int, default=10)
    demo = add("demo", cmd_demo, "end to end: embedded PostgreSQL, data, batch, gold tables")
    demo.add_argument("--scale", type=float, default=0.1)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--invalid-share", type=float, default=0.02)
    demo.add_argument("--rows", type=int, default=10, help="rows shown per gold table")

    bench = commands.add_parser("bench", help="benchmarks (results in bench/results/)",
                                description="benchmarks (results in bench/results/)")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, metavar="NAME")
    bench_batch = add("batch", cmd_bench_batch,
                      "COPY and DuckDB baselines against `condolake batch`", bench_commands)
    bench_batch.add_argument("--scale", type=float, default=1.0)
    bench_batch.add_argument("--seed", type=int, default=42)
    bench_batch.add_argument("--output", default="bench/results")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return int(args.handler(args, settings))
    except CondoLakeError as failure:
        error(str(failure))
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
