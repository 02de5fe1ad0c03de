"""`condolake status`: a `LakeHealth` snapshot as terminal tables, or as a JSON document for
scripts.

Pure: the snapshot carries its own collection time, so the ages shown are exact for it.
The JSON document's keys are a contract (`STATUS_VERSION` changes when one is removed or
renamed; new keys may be added).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from condolake.formatting import format_count
from condolake.monitoring.health import LakeHealth, breaches

STATUS_VERSION = 1
MISSING = "-"
BREACHED = "BREACHED"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds")


def _when(epoch: float | None, short: bool = False) -> str:
    """UTC time for a table cell: `2026-11-26 05:44:40` (short: `11-26 05:44:40`)."""
    if epoch is None:
        return MISSING
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.strftime("%m-%d %H:%M:%S" if short else "%Y-%m-%d %H:%M:%S")


def _age(seconds: float | None) -> str:
    """`3 h 12 min`, `4 min 05 s`, `12 s`."""
    if seconds is None:
        return MISSING
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _number(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None else f"{value:,.{digits}f}"


def status_document(health: LakeHealth) -> dict[str, Any]:
    """The stable JSON document of `condolake status --json`."""
    now, limits = health.collected_at, health.thresholds
    return {
        "version": STATUS_VERSION,
        "collected_at": _iso(now),
        "lake": health.lake,
        "healthy": not breaches(health),
        "breaches": breaches(health),
        "jobs": [{
            "job": job.job, "run_id": job.last.run_id, "status": job.last.status,
            "started_at": _iso(job.last.started_at), "finished_at": _iso(job.last.finished_at),
            "duration_s": job.last.duration_s, "rows_read": job.last.rows_read,
            "rows_valid": job.last.rows_valid, "rows_quarantined": job.last.rows_quarantined,
            "rows_duplicate": job.last.rows_duplicate, "error": job.last.error,
            "last_success_at": _iso(job.last_success_at), "runs": dict(job.runs),
            "tables": [{"table": t.table, "layer": t.layer, "read": t.read, "valid": t.valid,
                        "quarantined": t.quarantined, "duplicate": t.duplicate}
                       for t in job.last.tables],
        } for job in health.jobs],
        "gold": [{
            "table": gold.table, "version": gold.version,
            "committed_at": _iso(gold.committed_at), "age_s": round(gold.age_s(now), 3),
            "sla_s": limits.freshness_sla_s,
            "breached": gold.age_s(now) > limits.freshness_sla_s,
        } for gold in health.gold],
        "quarantine": [{
            "table": count.table, "open": count.open, "total": count.total,
        } for count in health.quarantine],
        "rates": [{
            "table": rate.table, "run_id": rate.run_id, "job": rate.job,
            "rows_read": rate.rows_read, "quarantine_rate": rate.quarantine_rate,
            "duplicate_rate": rate.duplicate_rate,
        } for rate in health.rates],
        "checks": [{
            "check": check.check, "table": check.table, "status": check.status,
            "observed": check.observed, "threshold": check.threshold,
            "failures": check.failures, "checked_at": _iso(check.checked_at),
            "run_id": check.run_id, "detail": check.detail,
        } for check in health.checks],
        "streams": {
            "process_running": health.stream_process_alive,
            "queries": [{
                "query": stream.query, "state": stream.state, "up": stream.up,
                "last_batch": stream.last_batch,
                "last_progress_at": _iso(stream.last_progress_at),
                "input_rows_per_s": stream.input_rows_per_s,
                "processed_rows_per_s": stream.processed_rows_per_s,
                "batch_duration_s": stream.batch_duration_s, "kafka_lag": stream.kafka_lag,
            } for stream in health.streams],
        },
        "cdc": None if health.cdc is None else health.cdc.to_dict(),
        "thresholds": dict(health.thresholds.items()),
        "absent": list(health.absent),
        "errors": {source: list(messages) for source, messages in health.errors.items()},
    }


WRAPPED = frozenset({"error", "detail"})  # free text: the only columns that wrap


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify,  # type: ignore[arg-type]
                         no_wrap=name not in WRAPPED)
    return table


def jobs_table(health: LakeHealth) -> Table:
    """One row per job; the error column only when a latest run failed."""
    with_error = any(job.last.error for job in health.jobs)
    columns = [("job", "left"), ("status", "left"), ("finished (UTC)", "left"),
               ("took", "right"), ("read", "right"), ("valid", "right"),
               ("quarant.", "right"), ("dup.", "right")]
    table = _table("Last run per job", columns + ([("error", "left")] if with_error else []))
    for job in health.jobs:
        last = job.last
        cells: list[str | Text] = [
            job.job, Text(last.status, style="green" if last.status == "succeeded" else "red"),
            _when(last.finished_at), _age(last.duration_s),
            format_count(last.rows_read), format_count(last.rows_valid),
            format_count(last.rows_quarantined), format_count(last.rows_duplicate)]
        if with_error:
            cells.append((last.error or "").splitlines()[0] if last.error else "")
        table.add_row(*cells)
    return table


def gold_table(health: LakeHealth) -> Table:
    sla = health.thresholds.freshness_sla_s
    table = _table(f"Gold freshness (SLA {_age(sla)})", [
        ("table", "left"), ("version", "right"), ("committed (UTC)", "left"),
        ("age", "right"), ("SLA", "left")])
    for gold in health.gold:
        age = gold.age_s(health.collected_at)
        table.add_row(gold.table, str(gold.version), _when(gold.committed_at),
                      _age(age), Text(BREACHED, style="bold red") if age > sla
                      else Text("ok", style="green"))
    return table


def quarantine_table(health: LakeHealth) -> Table:
    rates = {rate.table: rate for rate in health.rates}
    table = _table("Quarantine", [
        ("table", "left"), ("open", "right"), ("total", "right"),
        ("quarantine rate (last ingest)", "right"), ("duplicate rate (last ingest)", "right")])
    for count in health.quarantine:
        rate = rates.get(count.table)
        table.add_row(count.table, format_count(count.open), format_count(count.total),
                      MISSING if rate is None else f"{rate.quarantine_rate:.2%}",
                      MISSING if rate is None else f"{rate.duplicate_rate:.2%}")
    return table


def checks_table(health: LakeHealth) -> Table | Text:
    failed = [check for check in health.checks if check.failed]
    if not health.checks:
        return Text("Data-quality checks: none recorded yet (run condolake check)")
    if not failed:
        return Text(f"Data-quality checks: all {len(health.checks)} passed at their latest run",
                    style="green")
    table = _table("Failed data-quality checks", [
        ("check", "left"), ("table", "left"), ("observed", "right"), ("threshold", "right"),
        ("checked (UTC)", "left"), ("detail", "left")])
    for check in failed:
        table.add_row(check.check, check.table or MISSING, _number(check.observed, 4),
                      _number(check.threshold, 4), _when(check.checked_at),
                      check.detail or "")
    return table


def streams_table(health: LakeHealth) -> Table:
    process = "a stream process is running" if health.stream_process_alive else \
        "no stream process is running"
    table = _table(f"Streaming queries ({process})", [
        ("query", "left"), ("state", "left"), ("batch", "right"),
        ("progress (UTC)", "left"), ("in rows/s", "right"), ("out rows/s", "right"),
        ("took", "right"), ("Kafka lag", "right")])
    for stream in health.streams:
        table.add_row(
            stream.query, stream.state,
            MISSING if stream.last_batch is None else str(stream.last_batch),
            _when(stream.last_progress_at, short=True), _number(stream.input_rows_per_s),
            _number(stream.processed_rows_per_s),
            MISSING if stream.batch_duration_s is None else f"{stream.batch_duration_s:.1f} s",
            MISSING if stream.kafka_lag is None else format_count(stream.kafka_lag))
    return table


def cdc_line(health: LakeHealth) -> Text:
    """`Change data capture: <connector>: RUNNING, task 0 RUNNING (<url>)`, in one line."""
    cdc = health.cdc
    if cdc is None:
        return Text("Change data capture: not set up (condolake cdc start)")
    running = cdc.status is not None and cdc.status.running
    return Text(f"Change data capture: {cdc.describe()}", style="green" if running else "red")


def status_view(health: LakeHealth) -> RenderableType:
    """Everything `condolake status` prints, breaches last."""
    found = breaches(health)
    verdict = (Text("healthy: nothing breached", style="bold green") if not found else
               Text("\n".join(["needs attention:", *(f"  - {line}" for line in found)]),
                    style="bold red"))
    return Group(
        Text(f"CondoLake status of {health.lake} at {_iso(health.collected_at)}", style="bold"),
        jobs_table(health), gold_table(health), quarantine_table(health), checks_table(health),
        streams_table(health), cdc_line(health), verdict,
    )
