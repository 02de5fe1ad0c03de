"""Paginated JSON API connector: every record of one endpoint, fetched completely or not at all.

Two pagination styles are understood, detected from each response:

* page number: ``{"data": [...], "page": n, "next_page": n + 1 | null}`` -> ``?page=n``
* cursor:      ``{"data": [...], "next_cursor": "..." | null}``       -> ``?cursor=...``

Values are kept as the text they arrived as: JSON strings stay as they are, JSON numbers become
their decimal text (parsed as ``Decimal``, never through float), so bronze holds what the API
sent. Transient failures (429, 5xx, timeouts, connection errors, malformed pages) are retried with
exponential backoff; everything else fails at once with a message meant for the user.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from condolake.errors import ApiUnavailableError, CondoLakeError, ConfigError

log = logging.getLogger(__name__)
RETRYABLE_STATUS_TOO_MANY_REQUESTS = 429
FIRST_SERVER_ERROR_STATUS = 500
AUTHENTICATION_STATUSES = frozenset({401, 403})
JITTER_FRACTION = 0.1  # up to +10% of the backoff, so parallel clients do not retry in lockstep
MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 120.0  # a longer wait asked by the server is cut to this
ERROR_DETAIL_CHARS = 200


class ApiRequestRefusedError(CondoLakeError):
    """The API answered with a client error (4xx other than 429): retrying would not help."""


class ApiAuthenticationError(ApiRequestRefusedError):
    """The API refused the credentials (HTTP 401 or 403)."""


class ApiMalformedPageError(CondoLakeError):
    """The API kept answering a page with something that is not a valid page of records."""


@dataclass(frozen=True)
class ApiRecord:
    """One record as received: its 1-based position across all pages, its page, its values."""

    position: int
    page: int
    values: dict[str, str | None]


@dataclass(frozen=True)
class _Page:
    rows: list[dict[str, str | None]]
    next_query: tuple[str, str] | None  # ("page", "4") or ("cursor", "…"); None on the last page


class _TransientFailure(Exception):
    """One attempt failed in a way that may go away: retried, then reported."""

    def __init__(
        self, reason: str, *, retry_after_s: float | None = None, malformed: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.malformed = malformed


def fetch_records(
    base_url: str,
    table: str,
    *,
    token: str | None,
    timeout_s: float,
    retries: int,
    backoff_s: float,
    page_size: int = 1000,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> list[ApiRecord]:
    """Every record of ``GET {base_url}/{table}``, all pages, in order of arrival.

    ``retries`` is the number of attempts per page (at least 1). Nothing is returned until the
    last page has arrived, so a caller never writes a partial load.
    """
    _check_options(timeout_s=timeout_s, retries=retries, backoff_s=backoff_s, page_size=page_size)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Redirects are not followed: the Authorization header must not travel to another host.
    with httpx.Client(headers=headers, timeout=timeout_s, follow_redirects=False) as client:
        session = _Session(
            client=client,
            token_sent="Authorization" in headers,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            sleep=sleep,
            rng=rng or random.Random(),
        )
        return _fetch_all_pages(session, base_url, table, page_size)


def _fetch_all_pages(
    session: _Session, base_url: str, table: str, page_size: int
) -> list[ApiRecord]:
    records: list[ApiRecord] = []
    next_query: tuple[str, str] | None = None
    seen_queries: set[tuple[str, str]] = set()
    page_number = 1
    while True:
        url = _page_url(base_url, table, page_size, next_query)
        where = f"page {page_number} of {table!r}"
        page = session.get_page(url, where)
        for values in page.rows:
            records.append(ApiRecord(position=len(records) + 1, page=page_number, values=values))
        log.info(f"{where}: {len(page.rows)} records ({len(records)} so far)")
        if page.next_query is None:
            return records
        if page.next_query in seen_queries:
            raise ApiMalformedPageError(
                f"API {url} answered {where} with {page.next_query[0]}={page.next_query[1]!r}, "
                "which was already fetched; the pagination does not advance"
            )
        seen_queries.add(page.next_query)
        next_query = page.next_query
        page_number += 1


@dataclass(frozen=True)
class _Session:
    """How pages are requested and retried during one fetch."""

    client: httpx.Client
    token_sent: bool
    timeout_s: float
    retries: int
    backoff_s: float
    sleep: Callable[[float], None]
    rng: random.Random

    def get_page(self, url: str, where: str) -> _Page:
        """One page, retried on transient failures; raises the final error when they persist."""
        retryer = Retrying(
            stop=stop_after_attempt(self.retries),
            wait=self._delay,
            retry=retry_if_exception_type(_TransientFailure),
            before_sleep=lambda state: self._report_retry(where, state),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retryer(
                lambda: _parse_page(_get(self.client, url, self.timeout_s, where, self.token_sent))
            )
        except _TransientFailure as failure:
            raise _final_error(url, where, self.retries, failure) from None

    def _delay(self, state: RetryCallState) -> float:
        failure = _failure_of(state)
        return _retry_delay(state.attempt_number, self.backoff_s, failure.retry_after_s, self.rng)

    def _report_retry(self, where: str, state: RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            f"{where}: {_failure_of(state).reason}; retrying in {delay:.2f}s "
            f"(attempt {state.attempt_number + 1} of {self.retries})"
        )


def _failure_of(state: RetryCallState) -> _TransientFailure:
    """The transient failure of the attempt that just failed (only those are retried)."""
    assert state.outcome is not None
    failure = state.outcome.exception()
    assert isinstance(failure, _TransientFailure)
    return failure


def _check_options(*, timeout_s: float, retries: int, backoff_s: float, page_size: int) -> None:
    problems = []
    if timeout_s <= 0:
        problems.append(f"timeout must be positive (got {timeout_s})")
    if retries < 1:
        problems.append(f"retries is the number of attempts and must be at least 1 (got {retries})")
    if backoff_s < 0:
        problems.append(f"backoff must not be negative (got {backoff_s})")
    if page_size < 1:
        problems.append(f"page size must be at least 1 (got {page_size})")
    if problems:
        raise ConfigError("API connector: " + "; ".join(problems))


def _page_url(base_url: str, table: str, page_size: int, next_query: tuple[str, str] | None) -> str:
    query = [("page_size", str(page_size))]
    if next_query is not None:
        query.append(next_query)
    table_path = urllib.parse.quote(table, safe="")
    return f"{base_url.rstrip('/')}/{table_path}?{urllib.parse.urlencode(query)}"


def _get(
    client: httpx.Client, url: str, timeout_s: float, where: str, token_sent: bool
) -> bytes:
    """The body of a 2xx answer; raises _TransientFailure or a refusal error otherwise."""
    try:
        response = client.get(url)
    except httpx.TimeoutException:
        raise _TransientFailure(f"no answer within {timeout_s:g}s") from None
    except httpx.TransportError as error:
        raise _TransientFailure(f"connection failed: {error or repr(error)}") from None
    if not response.is_success:
        raise _http_failure(response, url, where, token_sent)
    return response.content


def _http_failure(response: httpx.Response, url: str, where: str, token_sent: bool) -> Exception:
    status, headers = response.status_code, response.headers
    status_text = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status == RETRYABLE_STATUS_TOO_MANY_REQUESTS or status >= FIRST_SERVER_ERROR_STATUS:
        return _TransientFailure(
            status_text,
            retry_after_s=_retry_after_seconds(headers.get("Retry-After"), datetime.now(UTC)),
        )
    detail = _detail(response)
    suffix = f": {detail}" if detail else ""
    if status in AUTHENTICATION_STATUSES:
        hint = (
            "the token was not accepted"
            if token_sent
            else "no token was sent; set CONDOLAKE_API_TOKEN"
        )
        return ApiAuthenticationError(
            f"authentication refused by API {url} for {where} ({status_text}); {hint}{suffix}"
        )
    if 300 <= status < 400:
        location = headers.get("Location", "?")
        return ApiRequestRefusedError(
            f"API {url} redirected {where} to {location} ({status_text}); redirects are not "
            "followed, point the connector at the final URL"
        )
    return ApiRequestRefusedError(f"API {url} refused {where}: {status_text}{suffix}")


def _detail(response: httpx.Response) -> str:
    """The server's own explanation (`{"error": "..."}` or text), shortened, if it sent one."""
    text = response.content[: ERROR_DETAIL_CHARS * 4].decode("utf-8", errors="replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip()[:ERROR_DETAIL_CHARS]
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])[:ERROR_DETAIL_CHARS]
    return text.strip()[:ERROR_DETAIL_CHARS]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_page(body: bytes) -> _Page:
    """A page from a response body; a body that is not one raises a (retryable) failure."""
    try:
        payload = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise _TransientFailure(f"invalid JSON ({error})", malformed=True) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise _TransientFailure("the answer has no 'data' list", malformed=True)
    rows = []
    for index, item in enumerate(payload["data"]):
        if not isinstance(item, dict):
            raise _TransientFailure(f"data[{index}] is not a JSON object", malformed=True)
        rows.append({name: _stringify(value) for name, value in item.items()})
    return _Page(rows=rows, next_query=_next_query(payload))


def _next_query(payload: dict[str, Any]) -> tuple[str, str] | None:
    if "next_cursor" in payload:
        cursor = payload["next_cursor"]
        if cursor is None:
            return None
        if not isinstance(cursor, str) or not cursor:
            raise _TransientFailure(
                f"next_cursor {cursor!r} is not a non-empty string", malformed=True
            )
        return ("cursor", cursor)
    if "next_page" in payload:
        next_page = payload["next_page"]
        if next_page is None:
            return None
        if isinstance(next_page, bool) or not isinstance(next_page, int) or next_page < 1:
            raise _TransientFailure(f"next_page {next_page!r} is not a page number", malformed=True)
        current = payload.get("page")
        if isinstance(current, int) and not isinstance(current, bool) and next_page <= current:
            raise _TransientFailure(
                f"next_page {next_page} does not come after page {current}", malformed=True
            )
        return ("page", str(next_page))
    raise _TransientFailure("the answer has neither 'next_page' nor 'next_cursor'", malformed=True)


def _stringify(value: Any) -> str | None:
    """A JSON value as text: strings unchanged, numbers in their exact decimal form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return _json_text(value)


def _json_text(value: Any) -> str:
    """Compact JSON for a nested object or array, keeping Decimal numbers exact."""
    if isinstance(value, dict):
        members = (f"{json.dumps(name)}:{_json_text(item)}" for name, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delay-seconds or HTTP-date), None if unusable."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _backoff_delay(attempt: int, backoff_s: float, rng: random.Random) -> float:
    """Delay after failed attempt ``attempt`` (1-based): backoff * 2^(attempt-1) plus jitter."""
    base = backoff_s * 2 ** (attempt - 1)
    return min(base + rng.uniform(0.0, base * JITTER_FRACTION), MAX_BACKOFF_S)


def _retry_delay(
    attempt: int, backoff_s: float, retry_after_s: float | None, rng: random.Random
) -> float:
    """The server's Retry-After when it gave one (capped), else exponential backoff."""
    if retry_after_s is not None:
        return min(retry_after_s, MAX_RETRY_AFTER_S)
    return _backoff_delay(attempt, backoff_s, rng)


def _final_error(url: str, where: str, attempts: int, failure: _TransientFailure) -> Exception:
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if failure.malformed:
        return ApiMalformedPageError(
            f"API {url} answered {where} with a malformed page after {tries}: {failure.reason}"
        )
    return ApiUnavailableError(f"API {url} did not answer {where} after {tries}: {failure.reason}")
