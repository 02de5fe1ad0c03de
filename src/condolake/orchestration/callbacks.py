"""Airflow failure callback: a failed task posts an alert to the configured webhook.

The alert names the DAG, the task, the Airflow run, the logical date, the try and the error
(its first line in `fields.error`, the whole message in the text), through the same
`post_alert` as `condolake batch`. A callback must never fail in turn: every problem here
(settings, webhook) ends as a warning line in the task's log.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from condolake.errors import CondoLakeError

F = TypeVar("F", bound=Callable[..., Any])
EXCEPTION_KEY = "exception"


def error_text(error: BaseException | None) -> str:
    """What went wrong, as the user would read it (our errors speak for themselves)."""
    if error is None:
        return "unknown error (see the task log)"
    message = str(error).strip()
    if isinstance(error, CondoLakeError) and message:
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def alert_fields(context: Mapping[str, Any]) -> dict[str, object]:
    """The alert's fields from an Airflow task context."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    logical_date = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    error = error_text(context.get(EXCEPTION_KEY))
    return {
        "dag_id": getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "logical_date": logical_date.isoformat() if logical_date is not None else None,
        "try_number": getattr(ti, "try_number", None),
        "error": error.splitlines()[0],
    }


def on_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` of every CondoLake task (called once retries are exhausted)."""
    try:
        from condolake.config import load_settings
        from condolake.monitoring.alerting import post_alert

        settings = load_settings()
        fields = alert_fields(context)
        fields["lake"] = settings.lake_path
        title = f"CondoLake task {fields['dag_id']}.{fields['task_id']} failed"
        post_alert(settings, title, error_text(context.get(EXCEPTION_KEY)),
                   severity="critical", fields=fields)
    except Exception as problem:  # noqa: BLE001 - the task failed already; do not add to it
        print(f"condolake: warning: the failure alert was not sent: {problem}", flush=True)


def records_failure(function: F) -> F:
    """`function`, leaving the exception it raises in the running task's context.

    Airflow's task runner puts the exception in the context it hands to the failure callback;
    `dag.test()` runs tasks in-process without doing so. Recording it here as well gives the
    callback the error in both cases (the runner's own assignment wins where it happens).
    """

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BaseException as error:
            _remember(error)
            raise

    return run  # type: ignore[return-value]


def _remember(error: BaseException) -> None:
    try:
        from airflow.sdk import get_current_context

        context: Any = get_current_context()
        context[EXCEPTION_KEY] = error
    except Exception:  # noqa: BLE001, S110 - outside a task there is no context to fill
        pass
