"""What `condolake stream status` shows: the running process's last report, or the checkpoints.

The streaming process rewrites `<state>/stream/status.json` every second (atomically): each
query's state, rates, last micro-batch and, for Kafka, how far behind the topics' ends it is.
When no process runs, the checkpoints still tell the last committed micro-batch of each query.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from pyspark.sql.streaming import StreamingQuery

from condolake.config import Settings
from condolake.layout import checkpoint_path


@dataclass(frozen=True)
class QueryState:
    name: str
    state: str  # running / stopped / failed / never run
    last_batch: int | None
    last_batch_at: str | None
    input_rows_per_s: float | None
    processed_rows_per_s: float | None
    lag: int | None  # Kafka offsets not read yet (sum over partitions), when known
    checkpoint: str
    batch_duration_ms: int | None = None  # of the last micro-batch, when reported


def reported_lag(source: Mapping[str, Any]) -> int | None:
    """Offsets between what the query has read and the topics' ends, summed."""
    latest, end = source.get("latestOffset"), source.get("endOffset")
    if not latest or not end:
        return None
    try:
        latest_map = json.loads(latest) if isinstance(latest, str) else latest
        end_map = json.loads(end) if isinstance(end, str) else end
    except json.JSONDecodeError:
        return None
    if not isinstance(latest_map, dict) or not isinstance(end_map, dict):
        return None
    lag = 0
    for topic, partitions in latest_map.items():
        for partition, offset in partitions.items():
            lag += max(0, int(offset) - int(end_map.get(topic, {}).get(partition, 0)))
    return lag


def query_report(query: StreamingQuery, running: bool) -> dict[str, Any]:
    progress: dict[str, Any] = query.lastProgress or {}
    failed = query.exception() is not None
    sources = progress.get("sources") or []
    lags = [lag for lag in (reported_lag(source) for source in sources) if lag is not None]
    return {
        "name": query.name,
        "id": str(query.id),
        "run_id": str(query.runId),
        "state": "failed" if failed else ("running" if running and query.isActive
                                          else "stopped"),
        "message": query.status.get("message"),
        "last_batch": progress.get("batchId"),
        "last_batch_at": progress.get("timestamp"),
        "input_rows": progress.get("numInputRows"),
        "input_rows_per_s": progress.get("inputRowsPerSecond"),
        "processed_rows_per_s": progress.get("processedRowsPerSecond"),
        "batch_duration_ms": (progress.get("durationMs") or {}).get("triggerExecution"),
        "lag": sum(lags) if lags else None,
    }


class StatusFile:
    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self._settings = settings
        self._started = dt.datetime.now(dt.UTC).isoformat()

    def write(self, running_queries: Iterable[StreamingQuery], *, running: bool) -> None:
        document = {
            "pid": os.getpid(),
            "running": running,
            "started_at": self._started,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(),
            "lake_root": self._settings.lake_path,
            "trigger_s": self._settings.stream_trigger_s,
            "queries": [query_report(query, running) for query in running_queries],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps(document, indent=2, default=str))
        staging.replace(self.path)


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (it may belong to another user)."""
    return bool(pid) and psutil.pid_exists(pid)


def last_committed_batch(checkpoint: Path) -> int | None:
    """The highest micro-batch id in the checkpoint's commit log."""
    commits = checkpoint / "commits"
    ids = [int(p.name) for p in commits.glob("*") if p.name.isdigit()] if commits.is_dir() else []
    return max(ids) if ids else None


def read_states(settings: Settings, names: Iterable[str]) -> tuple[bool, list[QueryState]]:
    """(is a streaming process running, the state of each query)."""
    status_path = settings.state_path / "stream" / "status.json"
    document: dict[str, Any] = {}
    if status_path.exists():
        document = json.loads(status_path.read_text())
    alive = bool(document.get("running")) and process_alive(int(document.get("pid", 0)))
    reported = {query["name"]: query for query in document.get("queries", [])}
    states = []
    for name in names:
        checkpoint = checkpoint_path(settings.lake_path, name)
        report = reported.get(name, {})
        committed = last_committed_batch(Path(checkpoint))
        state = report.get("state") if report else None
        if state == "running" and not alive:
            state = "stopped (process gone)"
        states.append(QueryState(
            name=name,
            state=state or ("stopped" if committed is not None else "never run"),
            last_batch=committed if committed is not None else report.get("last_batch"),
            last_batch_at=report.get("last_batch_at"),
            input_rows_per_s=report.get("input_rows_per_s"),
            processed_rows_per_s=report.get("processed_rows_per_s"),
            lag=report.get("lag"),
            checkpoint=checkpoint,
            batch_duration_ms=report.get("batch_duration_ms"),
        ))
    return alive, states
