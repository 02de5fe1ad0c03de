"""Alerts posted straight to a Slack/Teams-style webhook (CONDOLAKE_ALERT_WEBHOOK_URL).

Used where waiting for a Prometheus scrape would be too late or impossible: a failed
`condolake batch`, an Airflow task failure, the stream watchdog. Posting an alert must never
turn one failure into two, so `post_alert` never raises: it returns whether the webhook took
the alert, and says in one warning line when it did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.markup import escape
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from condolake.config import Settings, revealed
from condolake.console import errors

ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = 0.5  # wait before the 2nd attempt; doubled before each further one
# Worth another try: the receiver is overloaded or briefly down. Any other 4xx will not change.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Worth another try too: no connection, a timeout, a connection dropped mid-answer.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
MAX_WARNING_DETAIL = 200


def alert_payload(
    title: str,
    text: str,
    *,
    severity: str = "critical",
    fields: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The JSON body of an alert.

    `text` carries everything on its own (Slack's incoming webhooks and Teams show only it);
    title, severity and fields are repeated as keys of their own for receivers that parse
    them. Fields whose value is None are left out; the others become strings.
    """
    shown = {name: str(value) for name, value in (fields or {}).items() if value is not None}
    lines = [f"[{severity.upper()}] {title}", text.strip()]
    lines += [f"{name}: {value}" for name, value in shown.items()]
    return {"text": "\n".join(line for line in lines if line), "title": title,
            "severity": severity, "fields": shown}


def webhook_host(url: str) -> str:
    """The webhook's scheme and host only: the rest of its URL is a secret (Slack's token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" if parts.scheme and parts.hostname else "webhook"


def post_alert(
    settings: Settings,
    title: str,
    text: str,
    *,
    severity: str = "critical",
    fields: Mapping[str, object] | None = None,
) -> bool:
    """Post an alert to settings.alert_webhook_url; True when the webhook answered 2xx.

    No webhook configured: False, silently. Otherwise up to ATTEMPTS tries with backoff,
    TIMEOUT_S each; if none succeeds, one warning line on stderr and False. Never raises.
    """
    url = revealed(settings.alert_webhook_url)
    if not url:
        return False
    try:
        payload = alert_payload(title, text, severity=severity, fields=fields)
        failure = _deliver(url, payload)
    except Exception as error:  # noqa: BLE001 - an alert must never break its caller
        failure = _one_line(f"{type(error).__name__}: {error}", url)
    if failure is None:
        return True
    _warn(f"alert {title!r} was not delivered to {webhook_host(url)}: {failure}")
    return False


def job_failure_alert(
    job: str, error_line: str, lake: str, run_id: str | None = None
) -> tuple[str, str, dict[str, object]]:
    """Title, text and fields of the alert for a failed job run (CLI, Airflow callbacks)."""
    return f"CondoLake job {job} failed", error_line, {"job": job, "run_id": run_id,
                                                       "lake": lake}


def post_job_failure(
    settings: Settings, job: str, error_line: str, run_id: str | None = None
) -> bool:
    """post_alert of job_failure_alert for a run of `job` on settings' lake."""
    title, text, fields = job_failure_alert(job, error_line, settings.lake_path, run_id)
    return post_alert(settings, title, text, severity="critical", fields=fields)


class _Undelivered(Exception):
    """One attempt the webhook did not take; `transient` when another attempt may succeed."""

    def __init__(self, failure: str, *, transient: bool) -> None:
        super().__init__(failure)
        self.failure = failure
        self.transient = transient


def _deliver(url: str, payload: dict[str, Any]) -> str | None:
    """None once the webhook took the payload, else why the last attempt failed."""
    retryer = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=BACKOFF_S, exp_base=2),
        retry=retry_if_exception(lambda error: isinstance(error, _Undelivered)
                                 and error.transient),
        reraise=True,
    )
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True) as client:
        try:
            for attempt in retryer:
                with attempt:
                    _post_once(client, url, payload)
        except _Undelivered as undelivered:
            attempts = attempt.retry_state.attempt_number
            suffix = f"(after {attempts} attempt{'s' if attempts > 1 else ''})"
            return f"{_one_line(undelivered.failure, url)} {suffix}"
    return None


def _post_once(client: httpx.Client, url: str, payload: dict[str, Any]) -> None:
    """One POST; raises _Undelivered unless the webhook answered 2xx."""
    try:
        response = client.post(url, json=payload)
    except httpx.HTTPError as error:
        failure = f"{type(error).__name__}: {error}".rstrip(": ")
        raise _Undelivered(failure, transient=isinstance(error, TRANSIENT_ERRORS)) from error
    if not response.is_success:
        raise _Undelivered(
            f"HTTP {response.status_code} {response.text[:MAX_WARNING_DETAIL]}",
            transient=response.status_code in RETRY_STATUSES,
        )


def _one_line(message: str, url: str) -> str:
    """`message` on one line, short, without the webhook's secret path."""
    message = message.replace(url, webhook_host(url))
    return " ".join(message.split())[:MAX_WARNING_DETAIL]


def _warn(message: str) -> None:
    errors.print(f"[bold yellow]condolake: warning:[/bold yellow] {escape(message)}",
                 markup=True, soft_wrap=True, highlight=False)
