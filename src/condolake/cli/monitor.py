"""`condolake status` and `condolake metrics`: the lake's health, without Spark."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from condolake.app import monitor
from condolake.cli.base import command, resources
from condolake.console import results

BREACH_EXIT = 2


def register(app: typer.Typer) -> None:
    command(app, "status", "health at a glance, without Spark: last run per job, gold "
            "freshness against the SLA, quarantine counts and rates, failed data-quality "
            "checks, streaming queries with Kafka lag; exits 0 (unless --fail-on-breach)")(status)
    command(app, "metrics", "Prometheus exporter: serves /metrics (computed at scrape time "
            "from ops/, the Delta logs, the stream status and the Kafka broker) until "
            "Ctrl-C")(metrics)


def status(
    json_output: Annotated[bool, typer.Option(
        "--json", help="print a JSON document for scripts instead of tables")] = False,
    fail_on_breach: Annotated[bool, typer.Option(
        "--fail-on-breach", help="exit 2 when something is breached (failed last run, SLA, "
                                 "rate or lag above its threshold, failed check, unreadable "
                                 "source)")] = False,
) -> None:
    from condolake.monitoring.health import breaches
    from condolake.monitoring.status_view import status_document, status_view

    health = monitor.health(resources())
    if json_output:
        sys.stdout.write(json.dumps(status_document(health), indent=2) + "\n")
    else:
        results.print(status_view(health))
    if fail_on_breach and breaches(health):
        raise typer.Exit(BREACH_EXIT)


def metrics(
    host: Annotated[str | None, typer.Option(
        help="interface (default: CONDOLAKE_SERVE_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(
        help="port (default: CONDOLAKE_METRICS_PORT, 9108)")] = None,
) -> None:
    monitor.serve_metrics(resources(), host, port)
