"""The stream watchdog: is every streaming query alive, fresh and keeping up? (`condolake stream
watchdog`, and the `condolake_stream_watchdog` DAG every few minutes.)

`judge` decides from the status file that `condolake stream start` rewrites every second
(`<state>/stream/status.json`) and from whether its process still exists; it does no I/O.
Each query gets the worst verdict that applies:

* dead: the streaming process is gone (stopped, crashed, killed) or the query failed/stopped;
* stale: the process lives but nothing moved for `stream_stale_s` (no progress report of the
  query, or the status file itself no longer rewritten: a stuck supervisor);
* lagging: more than `stream_lag_max` Kafka offsets behind the topics' ends;
* healthy otherwise.

Only a dead stream whose process is gone is restarted (a detached `condolake stream start`
with the same sources, when `watchdog_restart` is 1); a stale or lagging one is reported, as
killing a live process could lose a micro-batch in progress for nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from condolake.config import Settings
from condolake.monitoring.alerting import post_alert
from condolake.streaming.queries import KAFKA, LANDING
from condolake.streaming.status import process_alive

STATUS_FILE = "status.json"
RESTART_FILE = "watchdog-restart.json"  # the last restart: pid, when, command
RESTART_LOG = "watchdog-restart.log"  # stdout and stderr of the restarted stream
FAILED_STATES = frozenset({"failed"})
RUNNING_STATE = "running"


class HealthLevel(IntEnum):
    """Verdicts, from good to bad: the worst one of the queries is the stream's."""

    HEALTHY = 0
    LAGGING = 1
    STALE = 2
    DEAD = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class QueryVerdict:
    name: str
    health: HealthLevel
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    health: HealthLevel
    process_alive: bool
    pid: int | None
    reasons: tuple[str, ...]  # about the process as a whole
    queries: tuple[QueryVerdict, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.health == HealthLevel.HEALTHY

    @property
    def restartable(self) -> bool:
        """Dead with its process gone: starting a new one cannot collide with the old."""
        return self.health == HealthLevel.DEAD and not self.process_alive

    def describe(self) -> list[str]:
        lines = [f"stream: {self.health.label}" + (f" (pid {self.pid})" if self.pid else "")]
        lines += [f"  {reason}" for reason in self.reasons]
        for query in self.queries:
            lines.append(f"  {query.name}: {query.health.label}"
                         + (f": {'; '.join(query.reasons)}" if query.reasons else ""))
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "health": self.health.label, "process_alive": self.process_alive, "pid": self.pid,
            "reasons": list(self.reasons),
            "queries": [{"name": q.name, "health": q.health.label, "reasons": list(q.reasons)}
                        for q in self.queries],
        }


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _age_s(now: dt.datetime, then: dt.datetime) -> float:
    return max(0.0, (now - then).total_seconds())


def _judge_query(report: Mapping[str, Any], *, now: dt.datetime, started: dt.datetime | None,
                 stale_s: float, lag_max: int) -> QueryVerdict:
    """One query of a live process."""
    name = str(report.get("name"))
    state = report.get("state")
    if state in FAILED_STATES:
        message = report.get("message") or "no message"
        return QueryVerdict(name, HealthLevel.DEAD, (f"query failed: {message}",))
    if state != RUNNING_STATE:
        return QueryVerdict(name, HealthLevel.DEAD, (f"query is {state or 'in no known state'}",))
    last = _timestamp(report.get("last_batch_at"))
    since = last or started
    if since is not None and _age_s(now, since) > stale_s:
        what = (f"no progress for {_age_s(now, since):.0f} s" if last else
                f"no progress since the stream started {_age_s(now, since):.0f} s ago")
        return QueryVerdict(name, HealthLevel.STALE, (f"{what} (max {stale_s:g} s)",))
    lag = report.get("lag")
    if isinstance(lag, int) and lag > lag_max:
        return QueryVerdict(name, HealthLevel.LAGGING,
                            (f"{lag:,} Kafka offsets behind (max {lag_max:,})",))
    return QueryVerdict(name, HealthLevel.HEALTHY)


def judge(document: Mapping[str, Any] | None, *, process_alive: bool, now: dt.datetime,
          stale_s: float, lag_max: int) -> Verdict:
    """The verdict on the stream described by `document` (the status file, None when absent)."""
    if document is None:
        return Verdict(HealthLevel.DEAD, False, None,
                       ("no streaming process has run yet (no status file)",))
    pid = int(document["pid"]) if document.get("pid") else None
    reports = [q for q in document.get("queries", []) if isinstance(q, Mapping)]
    updated = _timestamp(document.get("updated_at"))
    if not process_alive or not document.get("running"):
        if document.get("running"):
            reason = f"process {pid} is gone without stopping its queries (killed?)"
        else:
            reason = f"the stream stopped (last report at {document.get('updated_at')})"
        queries = tuple(
            QueryVerdict(str(q.get("name")), HealthLevel.DEAD,
                         (f"query failed: {q.get('message') or 'no message'}",)
                         if q.get("state") in FAILED_STATES else ())
            for q in reports
        )
        return Verdict(HealthLevel.DEAD, False, pid, (reason,), queries)
    if updated is not None and _age_s(now, updated) > stale_s:
        age = _age_s(now, updated)
        reason = f"status not rewritten for {age:.0f} s (max {stale_s:g} s): supervisor stuck"
        queries = tuple(QueryVerdict(str(q.get("name")), HealthLevel.STALE) for q in reports)
        return Verdict(HealthLevel.STALE, True, pid, (reason,), queries)
    started = _timestamp(document.get("started_at"))
    queries = tuple(_judge_query(q, now=now, started=started, stale_s=stale_s, lag_max=lag_max)
                    for q in reports)
    if not queries:
        return Verdict(HealthLevel.STALE, True, pid, ("the process runs no query yet",))
    return Verdict(max(q.health for q in queries), True, pid, (), queries)


def restart_arguments(document: Mapping[str, Any] | None) -> list[str]:
    """`condolake stream start` with the sources the dead stream had (both when unknown)."""
    names = {q.get("name") for q in (document or {}).get("queries", [])
             if isinstance(q, Mapping)}
    if not names:
        return ["stream", "start"]
    arguments = ["stream", "start"]
    if KAFKA not in names:
        arguments.append("--no-kafka")
    if LANDING not in names:
        arguments.append("--no-landing")
    return arguments


# --- I/O: the status file, the process table, the restart -----------------------------------


def stream_folder(settings: Settings) -> Path:
    return settings.state_path / "stream"


def read_status(settings: Settings) -> dict[str, Any] | None:
    path = stream_folder(settings) / STATUS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        # Rewritten atomically, so unreadable means damaged: treat it as a dead stream's.
        return {"running": False, "updated_at": None, "queries": []}
    return document if isinstance(document, dict) else None


def restart_in_progress(settings: Settings) -> int | None:
    """The pid of an earlier restart that still runs (it may not have reported yet)."""
    try:
        record = json.loads((stream_folder(settings) / RESTART_FILE).read_text("utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    pid = record.get("pid") if isinstance(record, dict) else None
    return int(pid) if isinstance(pid, int) and process_alive(pid) else None


def start_detached(settings: Settings, arguments: Sequence[str]) -> int:
    """`python -m condolake.cli ARGUMENTS` in a session of its own, outliving the caller;
    its output goes to <state>/stream/watchdog-restart.log. Returns its pid."""
    folder = stream_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "condolake.cli", *arguments]
    with (folder / RESTART_LOG).open("ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    record = {"pid": process.pid, "started_at": dt.datetime.now(dt.UTC).isoformat(),
              "command": command}
    (folder / RESTART_FILE).write_text(json.dumps(record), encoding="utf-8")
    return process.pid


@dataclass
class WatchResult:
    verdict: Verdict
    restarted_pid: int | None = None  # started by this look
    pending_pid: int | None = None  # started by an earlier look, not reporting yet
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Healthy, or dead and being brought back."""
        return (self.verdict.healthy or self.restarted_pid is not None
                or self.pending_pid is not None)

    def to_dict(self) -> dict[str, Any]:
        return {**self.verdict.to_dict(), "restarted_pid": self.restarted_pid,
                "pending_pid": self.pending_pid, "notes": self.notes, "ok": self.ok}


Launch = Callable[[Settings, Sequence[str]], int]


def watch(settings: Settings, *, now: dt.datetime | None = None,
          launch: Launch = start_detached) -> WatchResult:
    """One look at the stream; restarts it when dead and `watchdog_restart` is 1."""
    document = read_status(settings)
    pid = document.get("pid") if document else None
    verdict = judge(document, process_alive=process_alive(pid if isinstance(pid, int) else None),
                    now=now or dt.datetime.now(dt.UTC), stale_s=settings.stream_stale_s,
                    lag_max=settings.stream_lag_max)
    result = WatchResult(verdict)
    if not verdict.restartable:
        return result
    if not settings.watchdog_restart:
        result.notes.append("not restarted: CONDOLAKE_WATCHDOG_RESTART=0")
        return result
    result.pending_pid = restart_in_progress(settings)
    if result.pending_pid is not None:
        result.notes.append(f"not restarted again: the restart with pid {result.pending_pid} "
                            "is still starting")
        return result
    arguments = restart_arguments(document)
    result.restarted_pid = launch(settings, arguments)
    result.notes.append(f"restarted: condolake {' '.join(arguments)} (pid "
                        f"{result.restarted_pid}, log {stream_folder(settings) / RESTART_LOG})")
    return result


def alert(settings: Settings, result: WatchResult) -> bool:
    """Posts the watchdog's finding (never raises)."""
    verdict = result.verdict
    title = (f"CondoLake stream {verdict.health.label}"
             + (": restarted" if result.restarted_pid is not None else ""))
    fields: dict[str, object] = {
        "health": verdict.health.label, "pid": verdict.pid,
        "restarted_pid": result.restarted_pid, "lake": settings.lake_path,
    }
    severity = "warning" if result.ok else "critical"
    return post_alert(settings, title, "\n".join(verdict.describe() + result.notes),
                      severity=severity, fields=fields)
