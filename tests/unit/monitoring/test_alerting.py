"""Alerts to a webhook: the payload, delivery to a real local HTTP receiver, retries, giving up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.webhook import HOOK_PATH, free_port, webhook_receiver

from condolake import cli
from condolake.app import jobs as app_jobs
from condolake.app import source as app_source
from condolake.app.alerts import alert_failure
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.errors import CondoLakeError, InputError
from condolake.monitoring import alerting
from condolake.monitoring.alerting import (
    alert_payload,
    job_failure_alert,
    post_alert,
    post_job_failure,
    webhook_host,
)

TITLE = "CondoLake job batch failed"
TEXT = "the PostgreSQL source failed during the read (PSQLException: Connection refused)"
FIELDS = {"job": "batch", "run_id": "batch-20261126T030000-1a2b3c4d", "lake": "/srv/lake"}
PAYLOAD = {
    "text": "[CRITICAL] CondoLake job batch failed\n"
            "the PostgreSQL source failed during the read (PSQLException: Connection refused)\n"
            "job: batch\n"
            "run_id: batch-20261126T030000-1a2b3c4d\n"
            "lake: /srv/lake",
    "title": "CondoLake job batch failed",
    "severity": "critical",
    "fields": {"job": "batch", "run_id": "batch-20261126T030000-1a2b3c4d", "lake": "/srv/lake"},
}


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerting, "BACKOFF_S", 0.01)


def webhook(url: str | None) -> Settings:
    return Settings(alert_webhook_url=url, lake_root="/srv/lake")


# --- the payload (pure) -----------------------------------------------------------------


def test_payload_carries_everything_in_text_and_as_keys() -> None:
    assert alert_payload(TITLE, TEXT, severity="critical", fields=FIELDS) == PAYLOAD


def test_payload_leaves_out_empty_fields_and_stringifies_values() -> None:
    assert alert_payload("Stream down", "  silver_transacoes stopped\n", severity="warning",
                         fields={"query": "silver_transacoes", "run_id": None, "lag": 120}) == {
        "text": "[WARNING] Stream down\nsilver_transacoes stopped\n"
                "query: silver_transacoes\nlag: 120",
        "title": "Stream down",
        "severity": "warning",
        "fields": {"query": "silver_transacoes", "lag": "120"},
    }


def test_payload_without_fields() -> None:
    assert alert_payload("Title", "Text") == {
        "text": "[CRITICAL] Title\nText", "title": "Title", "severity": "critical", "fields": {},
    }


def test_job_failure_alert_names_job_run_error_and_lake() -> None:
    assert job_failure_alert("batch", TEXT, "/srv/lake", "batch-20261126T030000-1a2b3c4d") == (
        TITLE, TEXT, FIELDS,
    )
    assert job_failure_alert("transform", "boom", "/srv/lake") == (
        "CondoLake job transform failed", "boom",
        {"job": "transform", "run_id": None, "lake": "/srv/lake"},
    )


def test_webhook_host_hides_the_secret_path() -> None:
    assert webhook_host("https://hooks.slack.com/services/T0/B0/secret") == \
        "https://hooks.slack.com"
    assert webhook_host("not a url") == "webhook"


# --- delivery to a real HTTP receiver -------------------------------------------------


def test_post_alert_delivers_the_exact_json(capsys: pytest.CaptureFixture[str]) -> None:
    with webhook_receiver() as hook:
        assert post_alert(webhook(hook.url), TITLE, TEXT, fields=FIELDS) is True
        (received,) = hook.wait_for(1)
    assert hook.requests == [received]
    assert (received.method, received.path) == ("POST", HOOK_PATH)
    assert received.content_type == "application/json"
    assert received.json == PAYLOAD
    assert capsys.readouterr().err == ""


def test_post_job_failure_posts_the_job_alert_for_the_settings_lake() -> None:
    with webhook_receiver() as hook:
        assert post_job_failure(webhook(hook.url), "batch", TEXT,
                                "batch-20261126T030000-1a2b3c4d") is True
        (received,) = hook.wait_for(1)
    assert received.json == PAYLOAD


@pytest.mark.usefixtures("quick_retries")
def test_post_alert_retries_until_the_receiver_takes_it() -> None:
    with webhook_receiver(statuses=[503, 502]) as hook:
        assert post_alert(webhook(hook.url), TITLE, TEXT, fields=FIELDS) is True
        received = hook.wait_for(3)
    assert [request.json for request in received] == [PAYLOAD] * 3
    assert len(hook.requests) == 3


@pytest.mark.usefixtures("quick_retries")
def test_post_alert_gives_up_after_three_attempts_with_one_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with webhook_receiver(statuses=[500, 500, 500, 500]) as hook:
        assert post_alert(webhook(hook.url), TITLE, TEXT) is False
        assert len(hook.wait_for(3)) == 3
    assert len(hook.requests) == 3
    assert capsys.readouterr().err == (
        "condolake: warning: alert 'CondoLake job batch failed' was not delivered to "
        "http://127.0.0.1: HTTP 500 no (after 3 attempts)\n"
    )


def test_post_alert_does_not_retry_a_rejected_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with webhook_receiver(statuses=[404]) as hook:
        assert post_alert(webhook(hook.url), TITLE, TEXT) is False
    assert len(hook.requests) == 1
    assert capsys.readouterr().err == (
        "condolake: warning: alert 'CondoLake job batch failed' was not delivered to "
        "http://127.0.0.1: HTTP 404 no (after 1 attempt)\n"
    )


def test_post_alert_to_a_closed_port_gives_up_in_bounded_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"
    started = time.monotonic()
    assert post_alert(webhook(url), TITLE, TEXT) is False
    elapsed = time.monotonic() - started
    backoff = alerting.BACKOFF_S + 2 * alerting.BACKOFF_S  # before attempts 2 and 3
    assert backoff <= elapsed < backoff + 3.0
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1
    assert warning.startswith("condolake: warning: alert 'CondoLake job batch failed' was not "
                              "delivered to http://127.0.0.1: ConnectError: ")
    assert warning.endswith(" (after 3 attempts)\n")
    assert HOOK_PATH not in warning and "not-a-real-secret" not in warning


def test_post_alert_times_out_on_a_receiver_that_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(alerting, "TIMEOUT_S", 0.2)
    monkeypatch.setattr(alerting, "BACKOFF_S", 0.01)  # timeouts are retried too
    with webhook_receiver(delay_s=30) as hook:
        started = time.monotonic()
        assert post_alert(webhook(hook.url), TITLE, TEXT) is False
        elapsed = time.monotonic() - started
        assert len(hook.wait_for(3)) == 3
    assert elapsed < 5.0
    assert "ReadTimeout" in capsys.readouterr().err


def test_post_alert_with_a_malformed_url_warns_and_does_not_raise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert post_alert(webhook("hooks.example.com/no-scheme"), TITLE, TEXT) is False
    warning = capsys.readouterr().err
    assert warning.startswith("condolake: warning: alert 'CondoLake job batch failed' was not "
                              "delivered to webhook: UnsupportedProtocol: ")
    assert warning.endswith(" (after 1 attempt)\n")  # retrying would not help
    assert "no-scheme" not in warning  # the URL is a secret: only its host may be shown
    assert warning.count("\n") == 1


@pytest.mark.parametrize("unset", [None, ""])
def test_unset_webhook_returns_false_silently_without_a_request(
    unset: str | None, capsys: pytest.CaptureFixture[str],
) -> None:
    with webhook_receiver() as hook:
        assert post_alert(webhook(unset), TITLE, TEXT) is False
    assert hook.requests == []
    assert capsys.readouterr() == ("", "")


# --- the command line's failure path ---------------------------------------------------


def test_cli_alert_names_the_failed_run_of_a_pipeline_error() -> None:
    from condolake.pipelines.runs import PipelineError

    failure = PipelineError(
        "batch failed: the source failed\nNothing was changed; run r1 is recorded as failed.",
        job="batch", run_id="batch-20261126T030000-1a2b3c4d", summary=TEXT)
    with webhook_receiver() as hook:
        alert_failure(lake(hook.url), "batch", failure)
        (received,) = hook.wait_for(1)
    assert received.json == PAYLOAD


def test_cli_alert_of_an_error_before_any_run_has_its_first_line() -> None:
    with webhook_receiver() as hook:
        alert_failure(lake(hook.url), "transform",
                      CondoLakeError("gold needs silver\nrun `condolake ingest` first"))
        (received,) = hook.wait_for(1)
    assert received.json["fields"] == {"job": "transform", "lake": "/srv/lake"}
    assert received.json["text"] == ("[CRITICAL] CondoLake job transform failed\n"
                                      "gold needs silver\njob: transform\nlake: /srv/lake")


def lake(url: str | None) -> Resources:
    return Resources.from_settings(webhook(url))


def fail_with(error: CondoLakeError) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error
    return fail


# Where each command's work is replaced by a failure: (module, attribute) of what it calls.
NOT_JOBS = {
    ("show",): (app_jobs, "show"),
    ("config",): (Settings, "redacted"),
    ("source", "start"): (app_source, "start_server"),
}
JOB_COMMANDS = {
    ("batch",): ("batch", (app_jobs, "batch")),
    ("ingest", "postgres"): ("ingest_postgres", (app_jobs, "ingest_postgres")),
    ("ingest", "csv", "x.csv", "--table", "condominios"): ("ingest_csv",
                                                            (app_jobs, "ingest_csv")),
    ("ingest", "api", "http://api", "--table", "condominios"): ("ingest_api",
                                                                 (app_jobs, "ingest_api")),
    ("transform",): ("transform", (app_jobs, "transform")),
    ("maintain",): ("maintenance", (app_jobs, "maintain")),
}


@pytest.mark.parametrize("command", NOT_JOBS, ids=" ".join)
def test_cli_posts_no_alert_for_commands_that_are_not_jobs(
    command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, name = NOT_JOBS[command]
    monkeypatch.setattr(owner, name, fail_with(InputError("wrong input")))
    with webhook_receiver() as hook:
        monkeypatch.setattr(cli, "load_settings", lambda: webhook(hook.url))
        assert cli.main(list(command)) == 1
    assert hook.requests == []


@pytest.mark.parametrize("command", JOB_COMMANDS, ids=" ".join)
def test_cli_alerts_the_failure_of_a_job_command(
    command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
) -> None:
    job, (owner, name) = JOB_COMMANDS[command]
    monkeypatch.setattr(owner, name, fail_with(InputError("wrong input")))
    with webhook_receiver() as hook:
        monkeypatch.setattr(cli, "load_settings", lambda: webhook(hook.url))
        assert cli.main(list(command)) == 1
        (received,) = hook.wait_for(1)
    assert received.json["fields"] == {"job": job, "lake": "/srv/lake"}


def test_cli_alerts_for_every_job_command() -> None:
    assert {job for job, _ in JOB_COMMANDS.values()} == {
        "batch", "ingest_postgres", "ingest_csv", "ingest_api", "transform", "maintenance"}
