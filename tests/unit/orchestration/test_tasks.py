"""The Airflow tasks are thin: the logical date becomes the run date, one app job is called,
its result goes to XCom. The app jobs are replaced by recorders here (no Spark)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from condolake.app import jobs
from condolake.app import stream as streams
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.monitoring.quality import CheckResult
from condolake.monitoring.runlog import RunRecord
from condolake.orchestration import tasks

# 02:30 UTC on 2 March is still 1 March in São Paulo (UTC-3).
LOGICAL = "2025-03-02T02:30:00+00:00"
RUN_DATE = dt.date(2025, 3, 1)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, Any]]:
    settings = Settings(state_dir=str(tmp_path), lake_root=str(tmp_path / "lake"),
                        timezone="America/Sao_Paulo", source_url="postgresql://x@h/db")
    monkeypatch.setattr(tasks, "load_settings", lambda: settings)
    recorded: list[tuple[str, Any]] = []

    def run(job: str) -> Any:
        def call(resources: Resources, run_date: dt.date, *args: Any, **kwargs: Any) -> Any:
            assert resources.settings is settings and resources.source_url == settings.source_url
            recorded.append((job, run_date, *args))
            return RunRecord(run_id=f"{job}-1", job=job, started_at=dt.datetime.now(dt.UTC),
                             run_date=run_date)
        return call

    for job in ("ingest_postgres", "ingest_csv", "ingest_api", "transform"):
        monkeypatch.setattr(jobs, job, run(job))
    return recorded


def test_ingest_postgres_runs_the_app_job_on_the_logical_date(
        calls: list[tuple[str, Any]]) -> None:
    result = tasks.ingest_postgres(LOGICAL)
    assert calls == [("ingest_postgres", RUN_DATE)]
    assert result["run_id"] == "ingest_postgres-1"
    assert result["run_date"] == RUN_DATE.isoformat()


def test_build_gold_runs_transform_on_the_logical_date(calls: list[tuple[str, Any]]) -> None:
    assert tasks.build_gold(dt.datetime(2025, 3, 2, 2, 30, tzinfo=dt.UTC))["job"] == "transform"
    assert calls == [("transform", RUN_DATE)]


def test_ingest_files_runs_one_job_per_source(calls: list[tuple[str, Any]]) -> None:
    runs = tasks.ingest_files(LOGICAL, csv_files=[{"path": "/in/c.csv", "table": "condominios"}],
                              api_url="http://api", api_tables=["imoveis", "moradores"])
    assert calls == [("ingest_csv", RUN_DATE, Path("/in/c.csv"), "condominios"),
                     ("ingest_api", RUN_DATE, "http://api", "imoveis"),
                     ("ingest_api", RUN_DATE, "http://api", "moradores")]
    assert [run["job"] for run in runs] == ["ingest_csv", "ingest_api", "ingest_api"]


def test_ingest_files_without_sources_does_nothing(calls: list[tuple[str, Any]]) -> None:
    assert tasks.ingest_files(LOGICAL) == []
    assert calls == []


def test_check_quality_fails_the_task_when_a_check_failed(
        calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    found = [CheckResult("table", "freshness", "gold", "passed", 1.0, 2.0, 0, "fresh"),
             CheckResult("table", "reconciliation", "imoveis", "failed", None, 0.0, 1,
                         "source down")]
    dates: list[dt.date] = []

    def check(resources: Resources, run_date: dt.date) -> list[CheckResult]:
        dates.append(run_date)
        return found

    monkeypatch.setattr(jobs, "check", check)
    with pytest.raises(tasks.TaskError, match=r"1 data-quality checks failed: "
                                              r"reconciliation\(imoveis\): source down"):
        tasks.check_quality(LOGICAL)
    assert dates == [RUN_DATE]
    monkeypatch.setattr(jobs, "check", lambda resources, run_date: found[:1])
    assert tasks.check_quality(LOGICAL) == {"checks": 1, "failed": 0}


def test_compact_reports_what_the_app_job_compacted(
        calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "compact", lambda resources: {"a": 3, "b": 0})
    assert tasks.compact(LOGICAL) == {"tables": 2, "files_compacted": 3}


def test_maintain_runs_the_app_job_on_the_logical_date(
        calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    dates: list[dt.date] = []

    def maintain(resources: Resources, run_date: dt.date, **kwargs: Any) -> Any:
        dates.append(run_date)
        assert kwargs.get("retention_h") is None  # the configured retention
        return SimpleNamespace(run_id="m-1", tables=[], checkpoints_removed=["old"],
                               positions_pruned=4)

    monkeypatch.setattr(jobs, "maintain", maintain)
    assert tasks.maintain(LOGICAL) == {"run_id": "m-1", "tables": 0,
                                       "checkpoints_removed": ["old"], "positions_pruned": 4}
    assert dates == [RUN_DATE]


def test_watch_streams_fails_when_the_stream_is_down_and_not_restarted(
        calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    class Verdict:
        healthy = False

        def describe(self) -> list[str]:
            return ["kafka: dead"]

    class Result:
        verdict, notes, ok = Verdict(), ["not restarted"], False

    alerts: list[Any] = []
    monkeypatch.setattr(streams, "watch", lambda resources: Result())
    monkeypatch.setattr(streams, "alert", lambda resources, result: alerts.append(result))
    with pytest.raises(tasks.TaskError, match="kafka: dead; not restarted"):
        tasks.watch_streams()
    assert alerts == []  # the failure callback alerts a failed task
