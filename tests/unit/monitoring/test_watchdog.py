"""The stream watchdog's decisions from the status file, its restart, and its command."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from condolake import cli
from condolake.config import Settings, load_settings
from condolake.monitoring.watchdog import (
    RESTART_FILE,
    HealthLevel,
    QueryVerdict,
    Verdict,
    judge,
    restart_arguments,
    watch,
)

NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.UTC)
STALE_S = 300.0
LAG_MAX = 1000
ALL_QUERIES = ("kafka", "landing")


def ago(seconds: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).isoformat()


def query(name: str, *, state: str = "running", last_s: float | None = 5, lag: int | None = 0,
          message: str | None = None) -> dict[str, Any]:
    return {"name": name, "state": state, "message": message,
            "last_batch_at": ago(last_s) if last_s is not None else None, "lag": lag}


def status(*queries: dict[str, Any], running: bool = True, updated_s: float = 1,
           started_s: float = 3600, pid: int = 4242) -> dict[str, Any]:
    return {"pid": pid, "running": running, "started_at": ago(started_s),
            "updated_at": ago(updated_s), "queries": list(queries)}


def decide(document: dict[str, Any] | None, alive: bool = True) -> Verdict:
    return judge(document, process_alive=alive, now=NOW, stale_s=STALE_S, lag_max=LAG_MAX)


def healthy_stream() -> dict[str, Any]:
    return status(*(query(name) for name in ALL_QUERIES))


class TestJudge:
    def test_every_query_progressing_and_caught_up_is_healthy(self) -> None:
        verdict = decide(healthy_stream())
        assert verdict == Verdict(HealthLevel.HEALTHY, True, 4242, (), tuple(
            QueryVerdict(name, HealthLevel.HEALTHY) for name in ALL_QUERIES))
        assert verdict.healthy and not verdict.restartable

    def test_no_status_file_is_a_dead_stream_that_never_ran(self) -> None:
        verdict = decide(None, alive=False)
        assert verdict == Verdict(HealthLevel.DEAD, False, None,
                                  ("no streaming process has run yet (no status file)",))
        assert verdict.restartable

    def test_killed_process_is_dead(self) -> None:
        verdict = decide(healthy_stream(), alive=False)
        assert verdict.health == HealthLevel.DEAD and verdict.restartable
        assert verdict.reasons == ("process 4242 is gone without stopping its queries (killed?)",)
        assert {q.health for q in verdict.queries} == {HealthLevel.DEAD}

    def test_stopped_stream_is_dead_and_names_the_failed_query(self) -> None:
        document = status(query("kafka", state="stopped"),
                          query("landing", state="failed", message="Delta conflict"),
                          running=False, updated_s=900)
        verdict = decide(document, alive=False)
        assert verdict.reasons == (f"the stream stopped (last report at {ago(900)})",)
        assert verdict.queries == (
            QueryVerdict("kafka", HealthLevel.DEAD),
            QueryVerdict("landing", HealthLevel.DEAD, ("query failed: Delta conflict",)),
        )

    def test_failed_query_in_a_live_process_is_dead_but_not_restarted_yet(self) -> None:
        document = status(query("kafka"),
                          query("landing", state="failed", message="boom"))
        verdict = decide(document)
        assert verdict.health == HealthLevel.DEAD
        assert verdict.queries[1] == QueryVerdict("landing", HealthLevel.DEAD,
                                                  ("query failed: boom",))
        assert not verdict.restartable  # the process is still exiting: no second one yet

    def test_no_progress_for_longer_than_the_limit_is_stale(self) -> None:
        verdict = decide(status(query("kafka", last_s=301), query("landing",
                                                                         last_s=300)))
        assert verdict.health == HealthLevel.STALE
        assert verdict.queries == (
            QueryVerdict("kafka", HealthLevel.STALE, ("no progress for 301 s (max 300 s)",)),
            QueryVerdict("landing", HealthLevel.HEALTHY),
        )

    def test_a_query_without_any_progress_is_judged_from_the_start(self) -> None:
        young = decide(status(query("landing", last_s=None), started_s=60))
        old = decide(status(query("landing", last_s=None), started_s=400))
        assert young.health == HealthLevel.HEALTHY
        assert old.queries == (QueryVerdict("landing", HealthLevel.STALE, (
            "no progress since the stream started 400 s ago (max 300 s)",)),)

    def test_status_file_not_rewritten_means_a_stuck_supervisor(self) -> None:
        verdict = decide(status(query("kafka"), updated_s=600))
        assert verdict.health == HealthLevel.STALE and not verdict.restartable
        assert verdict.reasons == (
            "status not rewritten for 600 s (max 300 s): supervisor stuck",)

    def test_lag_above_the_limit_is_lagging(self) -> None:
        verdict = decide(status(query("kafka", lag=1001), query("landing", lag=1000)))
        assert verdict.health == HealthLevel.LAGGING
        assert verdict.queries == (
            QueryVerdict("kafka", HealthLevel.LAGGING,
                         ("1,001 Kafka offsets behind (max 1,000)",)),
            QueryVerdict("landing", HealthLevel.HEALTHY),
        )

    def test_the_worst_query_decides(self) -> None:
        verdict = decide(status(query("kafka", lag=5000), query("landing", last_s=999)))
        assert verdict.health == HealthLevel.STALE

    def test_describe_and_json(self) -> None:
        verdict = decide(status(query("kafka", lag=5000)))
        assert verdict.describe() == [
            "stream: lagging (pid 4242)",
            "  kafka: lagging: 5,000 Kafka offsets behind (max 1,000)",
        ]
        assert verdict.to_dict() == {
            "health": "lagging", "process_alive": True, "pid": 4242, "reasons": [],
            "queries": [{"name": "kafka", "health": "lagging",
                         "reasons": ["5,000 Kafka offsets behind (max 1,000)"]}],
        }


class TestRestartArguments:
    def test_same_sources_as_the_dead_stream(self) -> None:
        assert restart_arguments(healthy_stream()) == ["stream", "start"]
        assert restart_arguments(status(query("landing"))) == [
            "stream", "start", "--no-kafka"]
        assert restart_arguments(status(query("kafka"))) == [
            "stream", "start", "--no-landing"]
        assert restart_arguments(None) == ["stream", "start"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, state_dir=str(tmp_path / "state"),
                         lake_root=str(tmp_path / "lake"), stream_stale_s=STALE_S,
                         stream_lag_max=LAG_MAX)


def write_status(settings: Settings, document: dict[str, Any]) -> None:
    folder = settings.state_path / "stream"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "status.json").write_text(json.dumps(document))


DEAD_PID = 2**22 + 12345  # above pid_max's default ceiling: never a live process


class TestWatch:
    def test_dead_stream_is_restarted_once_with_its_sources(self, settings: Settings) -> None:
        write_status(settings, status(query("landing"), pid=DEAD_PID))
        launched: list[Sequence[str]] = []

        def launch(_: Settings, arguments: Sequence[str]) -> int:
            launched.append(list(arguments))
            # What start_detached records: the new process (this one stands in for it).
            (settings.state_path / "stream" / RESTART_FILE).write_text(
                json.dumps({"pid": os.getpid()}))
            return os.getpid()

        first = watch(settings, now=NOW, launch=launch)
        assert first.restarted_pid == os.getpid() and first.ok
        second = watch(settings, now=NOW, launch=launch)
        assert second.restarted_pid is None and second.pending_pid == os.getpid()
        assert second.ok
        assert launched == [["stream", "start", "--no-kafka"]]

    def test_no_restart_when_switched_off(self, settings: Settings) -> None:
        write_status(settings, status(query("landing"), pid=DEAD_PID))
        result = watch(settings.with_(watchdog_restart=0), now=NOW,
                       launch=lambda *_: pytest.fail("must not restart"))
        assert not result.ok
        assert result.notes == ["not restarted: CONDOLAKE_WATCHDOG_RESTART=0"]

    def test_a_live_but_stale_stream_is_not_restarted(self, settings: Settings) -> None:
        write_status(settings, status(query("landing", last_s=1000), pid=os.getpid()))
        result = watch(settings, now=NOW, launch=lambda *_: pytest.fail("must not restart"))
        assert result.verdict.health == HealthLevel.STALE and not result.ok


class TestCommand:
    def test_json_verdict_and_exit_1_when_dead_and_not_restarted(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]
    ) -> None:
        write_status(settings, status(query("landing"), running=False, pid=DEAD_PID,
                                      updated_s=0))
        for name in [k for k in os.environ if k.startswith("CONDOLAKE_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("CONDOLAKE_STATE_DIR", settings.state_dir)
        monkeypatch.setenv("CONDOLAKE_LAKE_ROOT", settings.lake_root)
        monkeypatch.setenv("CONDOLAKE_WATCHDOG_RESTART", "0")
        monkeypatch.chdir(settings.state_path)
        assert cli.main(["stream", "watchdog", "--json"]) == 1
        captured = capsys.readouterr()
        document = json.loads(captured.out)
        assert document["health"] == "dead" and document["ok"] is False
        assert document["queries"] == [{"name": "landing", "health": "dead", "reasons": []}]
        assert document["restarted_pid"] is None
        assert "the stream is dead and is not being restarted" in captured.err
