"""The lake's jobs at the top level: transform, batch, show, check, demo, maintain."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from condolake.app import jobs
from condolake.cli.base import command, resources
from condolake.console import error, results


def register(app: typer.Typer) -> None:
    command(app, "transform", "rebuild the three gold tables from silver",
            alert_job="transform")(transform)
    command(app, "batch", "ingest PostgreSQL and update gold for what changed, as one "
            "all-or-nothing run", alert_job="batch")(batch)
    command(app, "show", "print the gold tables (pt-BR formatting)")(show)
    command(app, "check", "data-quality checks now (source reconciliation, gold freshness, "
            "quarantine and duplicate rates), appended to ops/dq_results; exit 1 when a check "
            "failed")(check)
    command(app, "demo", "end to end: embedded PostgreSQL, data, batch, gold tables")(demo)
    command(app, "maintain", "Delta OPTIMIZE and VACUUM of every lake table, removal of "
            "checkpoints of queries that no longer exist, pruning of per-key positions no "
            "query needs; recorded in ops/runs (job maintenance)",
            alert_job="maintenance")(maintain)


def transform() -> None:
    lake = resources()
    jobs.transform(lake, lake.today())


def batch(handover: Annotated[bool, typer.Option(
        "--handover", help="the handover to change data capture (`cdc start` runs it): also "
                           "remove from silver the rows whose key PostgreSQL no longer has; "
                           "run it once the replication slot exists")] = False) -> None:
    lake = resources()
    jobs.batch(lake, lake.today(), handover=handover)


def show(rows: Annotated[int, typer.Option()] = 10) -> None:
    for table in jobs.show(resources(), rows):
        results.print(table)


def check(json_output: Annotated[bool, typer.Option(
        "--json", help="the results as JSON")] = False) -> None:
    from condolake.monitoring.quality import as_json, failed_names, render_table

    lake = resources()
    found = jobs.check(lake, lake.today())
    text = json.dumps(as_json(found), indent=2) if json_output else render_table(found)
    results.print(text, markup=False, emoji=False, soft_wrap=True)
    failed = failed_names(found)
    if failed:
        error(f"{len(failed)} data-quality checks failed: {', '.join(failed)}")
        raise typer.Exit(1)


def demo(
    scale: Annotated[float, typer.Option()] = 0.1,
    seed: Annotated[int, typer.Option()] = 42,
    invalid_share: Annotated[float, typer.Option()] = 0.02,
    rows: Annotated[int, typer.Option(help="rows shown per gold table")] = 10,
) -> None:
    from condolake.app.demo import run_demo

    run_demo(resources(), scale=scale, seed=seed, invalid_share=invalid_share, rows=rows)


def maintain(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="print what would be done and change nothing")] = False,
    retention_hours: Annotated[float | None, typer.Option(
        metavar="H", help="VACUUM keeps files younger than H hours, at least 168 "
                          "(default: CONDOLAKE_VACUUM_RETENTION_H, 168)")] = None,
    # Tests only: allows a retention below 168 h on a lake no stream or reader uses.
    unsafe_retention: Annotated[bool, typer.Option("--unsafe-retention", hidden=True)] = False,
) -> None:
    lake = resources()
    report = jobs.maintain(lake, lake.today(), retention_h=retention_hours,
                           unsafe_retention=unsafe_retention, dry_run=dry_run)
    if report.run_id:
        results.print(f"{report.run_id}: {len(report.tables)} tables optimized and vacuumed, "
                      f"{sum(t.files_vacuumed for t in report.tables):,} files vacuumed, "
                      f"{len(report.checkpoints_removed)} checkpoints removed, "
                      f"{report.positions_pruned:,} positions pruned")
