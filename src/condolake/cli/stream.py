"""`condolake stream …`: continuous ingestion with Spark Structured Streaming."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from condolake.app import stream as streams
from condolake.cli.base import command, group, resources
from condolake.console import error, results

app = group("continuous ingestion with Spark Structured Streaming: Kafka change events "
            "(Debezium JSON) and files dropped in the landing zone, into bronze, silver, "
            "quarantine and gold, exactly once",
            short_help="continuous ingestion: Kafka change events and landing-zone files")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="stream")


@command(app, "start", "run the streaming queries until Ctrl-C / SIGTERM (starts the local "
         "Kafka broker when CONDOLAKE_KAFKA_BOOTSTRAP is unset)")
def start(
    once: Annotated[bool, typer.Option(
        "--once", help="process everything available now through every layer, then stop",
    )] = False,
    duration: Annotated[float | None, typer.Option(
        metavar="SECONDS", help="stop after this many seconds")] = None,
    no_kafka: Annotated[bool, typer.Option(
        "--no-kafka", help="only the landing zone (no broker needed)")] = False,
    no_landing: Annotated[bool, typer.Option(
        "--no-landing", help="only Kafka (no landing-zone query)")] = False,
) -> None:
    from condolake.pipelines.stream import StreamOptions

    options = StreamOptions(kafka=not no_kafka, landing=not no_landing, once=once,
                            duration_s=duration)
    report = streams.start(resources(), options)
    for name, batches in report.batches.items():
        results.print(f"{name}: {batches} micro-batches with data, "
                      f"{report.rows.get(name, 0):,} input rows")


@command(app, "status", "each query's state, rates, last micro-batch, Kafka lag and "
         "checkpoint")
def status() -> None:
    from condolake.reporting import stream_status_table

    alive, states = streams.states(resources())
    results.print(stream_status_table(alive, states))


@command(app, "watchdog", "one check of every streaming query (alive, progress within "
         "CONDOLAKE_STREAM_STALE_S, Kafka lag within CONDOLAKE_STREAM_LAG_MAX); a dead stream "
         "is restarted in the background when CONDOLAKE_WATCHDOG_RESTART=1 and an alert is "
         "posted; exit 1 when unhealthy and not restarted")
def watchdog(json_output: Annotated[bool, typer.Option(
        "--json", help="the verdict as JSON")] = False) -> None:
    lake = resources()
    result = streams.watch(lake)
    if json_output:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        for line in result.verdict.describe() + result.notes:
            results.print(line, markup=False, soft_wrap=True)
    if not result.verdict.healthy:
        streams.alert(lake, result)
    if not result.ok:
        error(f"the stream is {result.verdict.health.label} and is not being restarted")
        raise typer.Exit(1)


@command(app, "reset", "delete a query's checkpoint so it reads its source again from the "
         "start (it also forgets its source's recorded deletes and rejected versions; changes "
         "not newer than silver's rows count as duplicates); only while no stream runs")
def reset(query: Annotated[str, typer.Argument(
        help="query name (kafka, landing) or 'all'")]) -> None:
    streams.reset(resources(), query)
