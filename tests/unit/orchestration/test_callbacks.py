"""The failure callback's alert, the failure recording for dag.test(), and run dates."""

from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace
from typing import Any

import pytest

from condolake.orchestration import callbacks
from condolake.orchestration.tasks import run_date_of
from condolake.pipelines.runs import PipelineError

LOGICAL = dt.datetime(2026, 8, 20, 3, 0, tzinfo=dt.UTC)


def context(error: BaseException | None) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="condolake_batch", task_id="gold", run_id="manual__x",
                         try_number=3)
    return {"ti": ti, "dag": SimpleNamespace(dag_id="condolake_batch"), "run_id": "manual__x",
            "logical_date": LOGICAL, "exception": error}


def test_alert_fields_name_dag_task_run_try_and_first_error_line() -> None:
    error = PipelineError("transform failed: disk full\nNothing was changed in the lake (/l)")
    assert callbacks.alert_fields(context(error)) == {
        "dag_id": "condolake_batch", "task_id": "gold", "run_id": "manual__x",
        "logical_date": "2026-08-20T03:00:00+00:00", "try_number": 3,
        "error": "transform failed: disk full",
    }


def test_error_text() -> None:
    assert callbacks.error_text(ValueError("bad")) == "ValueError: bad"
    assert callbacks.error_text(PipelineError("gold failed: x")) == "gold failed: x"
    assert callbacks.error_text(TimeoutError()) == "TimeoutError"
    assert callbacks.error_text(None) == "unknown error (see the task log)"


def test_on_failure_posts_one_critical_alert(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Any) -> None:
    for name in [k for k in os.environ if k.startswith("CONDOLAKE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONDOLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.chdir(tmp_path)
    posted: list[tuple[Any, ...]] = []

    def post_alert(settings: Any, title: str, text: str, *, severity: str,
                   fields: dict[str, object]) -> bool:
        posted.append((title, text, severity, fields))
        return True

    monkeypatch.setattr("condolake.monitoring.alerting.post_alert", post_alert)
    callbacks.on_failure(context(PipelineError("gold failed: x\nrolled back")))
    assert posted == [(
        "CondoLake task condolake_batch.gold failed", "gold failed: x\nrolled back", "critical",
        {"dag_id": "condolake_batch", "task_id": "gold", "run_id": "manual__x",
         "logical_date": "2026-08-20T03:00:00+00:00", "try_number": 3,
         "error": "gold failed: x", "lake": str((tmp_path / "lake").resolve())},
    )]


def test_on_failure_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDOLAKE_SERVE_PORT", "not-a-port")  # settings cannot load
    callbacks.on_failure(context(RuntimeError("x")))


def test_records_failure_reraises_the_same_error() -> None:
    error = RuntimeError("boom")

    def task() -> None:
        raise error

    with pytest.raises(RuntimeError) as raised:
        callbacks.records_failure(task)()
    assert raised.value is error


@pytest.mark.parametrize(("logical", "expected"), [
    (LOGICAL, dt.date(2026, 8, 20)),  # 03:00 UTC is midnight in São Paulo
    (dt.datetime(2026, 8, 20, 2, 59, tzinfo=dt.UTC), dt.date(2026, 8, 19)),
    ("2026-08-20T03:00:00+00:00", dt.date(2026, 8, 20)),
    (dt.datetime(2026, 8, 20, 12, 0), dt.date(2026, 8, 20)),  # naive: UTC
])
def test_run_date_is_the_logical_date_in_the_lake_time_zone(logical: Any,
                                                            expected: dt.date) -> None:
    assert run_date_of(logical, "America/Sao_Paulo") == expected
