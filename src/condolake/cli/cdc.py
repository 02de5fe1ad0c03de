"""`condolake cdc …`: change data capture from PostgreSQL's write-ahead log with Debezium on
Kafka Connect."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from condolake.app import cdc
from condolake.cli.base import command, group, resources
from condolake.console import results
from condolake.source.replication import format_report

app = group("change data capture: Debezium's PostgreSQL connector on Kafka Connect publishes "
            "every change of the four source tables to <prefix>.public.<table>; an embedded "
            "standalone worker under <state_dir>/kafka-connect, or the Kafka Connect cluster "
            "at CONDOLAKE_CONNECT_URL",
            short_help="change data capture with Debezium on Kafka Connect")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="cdc")


@command(app, "start", "set up the source (embedded PostgreSQL: replica identity and "
         "publication; external: every prerequisite checked), start the Kafka Connect "
         "worker unless CONDOLAKE_CONNECT_URL is set, register the connector and wait until "
         "it streams; then the handover load (a `batch --handover`: the lake takes in what "
         "changed before the replication slot, deletions included)")
def start(print_only: Annotated[bool, typer.Option(
        "--print", help="only print the connector as JSON for `POST /connectors` (the "
                        "password as ${env:CONDOLAKE_CDC_DATABASE_PASSWORD}); nothing is "
                        "started")] = False,
          no_handover: Annotated[bool, typer.Option(
        "--no-handover", help="skip the handover load; run `condolake batch --handover` "
                              "yourself once the connector streams, or the lake misses "
                              "what changed before the replication slot")] = False) -> None:
    if print_only:
        sys.stdout.write(json.dumps(cdc.printable_config(resources()), indent=2) + "\n")
        return
    results.print(cdc.start(resources(), handover=not no_handover), markup=False,
                  soft_wrap=True)


@command(app, "stop", "stop the embedded Kafka Connect worker (with CONDOLAKE_CONNECT_URL: "
         "pause the connector); its offsets and the replication slot stay, so `cdc start` "
         "resumes without loss")
def stop() -> None:
    results.print(cdc.stop(resources()), markup=False, soft_wrap=True)


@command(app, "status", "the connector's and its task's state in Kafka Connect (with the "
         "failed task's error); exit 1 unless it is running")
def status(json_output: Annotated[bool, typer.Option(
        "--json", help="the state as JSON")] = False) -> None:
    state = cdc.state(resources())
    if json_output:
        sys.stdout.write(json.dumps(state.to_dict(), indent=2) + "\n")
    else:
        results.print(state.describe(), markup=False, soft_wrap=True)
    if state.status is None or not state.status.running:
        raise typer.Exit(1)


@command(app, "check", "each prerequisite of logical replication on the source (wal_level, "
         "replica identity, publication, replication privilege, slot), ok or with the SQL "
         "that fixes it; exit 1 when one is missing")
def check(json_output: Annotated[bool, typer.Option(
        "--json", help="the prerequisites as JSON")] = False) -> None:
    prerequisites = cdc.check(resources())
    if json_output:
        sys.stdout.write(json.dumps([{"name": item.name, "ok": item.ok, "found": item.found,
                                      "fix": item.fix} for item in prerequisites],
                                    indent=2) + "\n")
    else:
        results.print(format_report(prerequisites), markup=False, soft_wrap=True)
    if not all(item.ok for item in prerequisites):
        raise typer.Exit(1)
