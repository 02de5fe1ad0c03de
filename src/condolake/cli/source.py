"""`condolake source …` (the PostgreSQL source) and `condolake simulate`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from condolake.app import source as jobs
from condolake.cli.base import DecimalSeparator, command, group, resources
from condolake.console import results

log = logging.getLogger(__name__)

app = group("the PostgreSQL source: server, schema, data")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="source")
    command(root, "simulate", "a workload in the PostgreSQL source: new, corrected and "
            "cancelled transactions, new residents and properties, rule-breaking rows, at a "
            "given rate in small transactions; change data capture publishes them (needs "
            "`condolake source generate` first)")(simulate)


@command(app, "start", "start the embedded PostgreSQL and leave it running")
def start() -> None:
    url = jobs.start_server(resources())
    if url is None:
        log.info("CONDOLAKE_SOURCE_URL is set: the external server is used, nothing to start")
    else:
        results.print(url)


@command(app, "stop", "stop the embedded PostgreSQL")
def stop() -> None:
    if jobs.stop_server(resources()):
        log.info("embedded PostgreSQL stopped")
    else:
        log.info("embedded PostgreSQL is not running")


@command(app, "init", "create the four source tables (schema.sql, verbatim)")
def init(
    drop: Annotated[bool, typer.Option("--drop", help="drop the tables first")] = False,
) -> None:
    jobs.init_schema(resources(), drop=drop)
    log.info("source schema ready: condominios, moradores, imoveis, transacoes")


@command(app, "generate", "fill the source with synthetic Brazilian data (COPY)")
def generate(
    scale: Annotated[float, typer.Option(
        help="1 = 100 condominios, 20k moradores, 30k imoveis, 1M transacoes")] = 1.0,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same data)")] = 42,
    invalid_share: Annotated[float, typer.Option(
        help="share of rows per table that break a validation rule (e.g. 0.02)")] = 0.0,
    replace: Annotated[bool, typer.Option("--replace", help="empty the tables first")] = False,
) -> None:
    report = jobs.generate(resources(), scale=scale, seed=seed, invalid_share=invalid_share,
                           replace=replace)
    for table, rows in report.rows.items():
        results.print(f"{table}: {rows:,} rows ({report.invalid.get(table, 0):,} invalid)")


@command(app, "append", "append new valid transactions")
def append(
    transactions: Annotated[int, typer.Option(help="how many")],
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    first, last = jobs.append(resources(), transactions=transactions, seed=seed)
    results.print(f"transacoes {first}..{last} added")


@command(app, "export-csv", "write a source table to a CSV file")
def export_csv(
    path: Annotated[str, typer.Argument()],
    table: Annotated[str, typer.Option()],
    delimiter: Annotated[str, typer.Option()] = ",",
    encoding: Annotated[str, typer.Option()] = "utf-8",
    decimal: Annotated[DecimalSeparator, typer.Option()] = DecimalSeparator.DOT,
) -> None:
    name = jobs.export_csv(resources(), table, Path(path), delimiter=delimiter,
                           encoding=encoding, decimal=decimal.value)
    log.info(f"{name} written to {path}")


@command(app, "api-serve", "serve the source tables as a paginated JSON API (for demos and "
         "tests)")
def api_serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8765,
) -> None:
    jobs.serve_api(resources(), host, port)


def simulate(
    rate: Annotated[float, typer.Option(help="events per second")],
    duration: Annotated[float | None, typer.Option(
        metavar="SECONDS", help="stop after this many seconds (default: until Ctrl-C)")] = None,
    events: Annotated[int | None, typer.Option(
        metavar="N", help="stop after this many events")] = None,
    invalid_share: Annotated[float, typer.Option(
        metavar="SHARE", help="share of events that write rows PostgreSQL accepts but silver's "
                              "rules reject (blank names and tipos, dates out of range, "
                              "non-positive amounts) (0..1)")] = 0.0,
    seed: Annotated[int, typer.Option(help="same seed, same changes")] = 7,
    stats_file: Annotated[str | None, typer.Option(
        metavar="PATH", help="write the run's stats as JSON")] = None,
    publish: Annotated[bool, typer.Option(
        "--publish", help="test tool: also publish Debezium-shaped change events to Kafka "
                          "directly, without a connector (the direct publisher's mix, one "
                          "transaction per tick)")] = False,
    chaos: Annotated[float, typer.Option(
        metavar="SHARE", help="with --publish: share of events that are malformed, duplicated, "
                              "late or out-of-order records, or rule-breaking rows (0..1)")] = 0.0,
) -> None:
    if duration is not None and events is not None:
        raise typer.BadParameter("not allowed with --duration", param_hint="--events")
    if chaos and not publish:
        raise typer.BadParameter("Kafka-level chaos needs --publish (for rule-breaking rows in "
                                 "PostgreSQL use --invalid-share)", param_hint="--chaos")
    stats = jobs.simulate(resources(), rate=rate, duration_s=duration, events=events,
                          seed=seed, invalid_share=invalid_share, publish=publish, chaos=chaos)
    for line in stats.summary():
        results.print(line)
    if stats_file:
        Path(stats_file).write_text(json.dumps(stats.to_dict(), indent=2) + "\n",
                                    encoding="utf-8")
        log.info(f"stats written to {stats_file}")
