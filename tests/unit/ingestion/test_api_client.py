"""Pure helpers of the API connector: Retry-After, backoff schedule, values as exact text."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from condolake.errors import ConfigError
from condolake.ingestion.api_client import (
    MAX_BACKOFF_S,
    MAX_RETRY_AFTER_S,
    _backoff_delay,
    _Page,
    _parse_page,
    _retry_after_seconds,
    _retry_delay,
    _stringify,
    _TransientFailure,
    fetch_records,
)

NOW = datetime(2024, 1, 31, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("3", 3.0),
        (" 120 ", 120.0),
        ("Wed, 31 Jan 2024 12:00:10 GMT", 10.0),
        ("Wed, 31 Jan 2024 11:59:00 GMT", 0.0),  # a date in the past: retry now
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert _retry_after_seconds(header, NOW) == seconds


def test_retry_after_is_capped_and_takes_precedence_over_backoff() -> None:
    rng = random.Random(1)
    assert _retry_delay(1, 0.5, 0.0, rng) == 0.0
    assert _retry_delay(3, 0.5, 10_000.0, rng) == MAX_RETRY_AFTER_S


def test_backoff_doubles_with_at_most_ten_percent_jitter() -> None:
    delays = [_backoff_delay(attempt, 0.5, random.Random(7)) for attempt in (1, 2, 3, 4)]
    for delay, base in zip(delays, [0.5, 1.0, 2.0, 4.0], strict=True):
        assert base <= delay <= base * 1.1


def test_backoff_is_deterministic_with_a_seeded_rng() -> None:
    first = random.Random(42)
    second = random.Random(42)
    schedule = [_backoff_delay(attempt, 0.25, first) for attempt in range(1, 6)]
    assert schedule == [_backoff_delay(attempt, 0.25, second) for attempt in range(1, 6)]
    assert len(set(schedule)) == 5


def test_backoff_is_capped() -> None:
    assert _backoff_delay(30, 1.0, random.Random(0)) == MAX_BACKOFF_S


def test_zero_backoff_retries_at_once() -> None:
    assert _backoff_delay(3, 0.0, random.Random(0)) == 0.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1234.56", "1234.56"),
        ("0012", "0012"),
        (Decimal("1234.50"), "1234.50"),
        (Decimal("12345678901234567.89"), "12345678901234567.89"),
        (42, "42"),
        (True, "true"),
        (False, "false"),
        (None, None),
        ({"a": [Decimal("0.10"), "x", None]}, '{"a":[0.10,"x",null]}'),
    ],
)
def test_stringify(value: object, text: str | None) -> None:
    assert _stringify(value) == text


def test_json_numbers_become_exact_text_never_floats() -> None:
    body = (
        b'{"data": [{"valor": 12345678901234567.89, "cents": 0.10, "id": 7, '
        b'"nome": "S\\u00e3o"}], "page": 1, "next_page": 2}'
    )
    assert _parse_page(body) == _Page(
        rows=[{"valor": "12345678901234567.89", "cents": "0.10", "id": "7", "nome": "São"}],
        next_query=("page", "2"),
    )


@pytest.mark.parametrize(
    ("body", "next_query"),
    [
        (b'{"data": [], "next_cursor": "abc="}', ("cursor", "abc=")),
        (b'{"data": [], "next_cursor": null}', None),
        (b'{"data": [], "page": 3, "next_page": null}', None),
    ],
)
def test_pagination_style_is_detected(body: bytes, next_query: tuple[str, str] | None) -> None:
    assert _parse_page(body).next_query == next_query


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"data": [', "invalid JSON"),
        (b'{"rows": [], "next_page": null}', "the answer has no 'data' list"),
        (b'{"data": {}, "next_page": null}', "the answer has no 'data' list"),
        (b"[1, 2]", "the answer has no 'data' list"),
        (b'{"data": [1], "next_page": null}', "data[0] is not a JSON object"),
        (b'{"data": []}', "the answer has neither 'next_page' nor 'next_cursor'"),
        (b'{"data": [], "page": 2, "next_page": 2}', "next_page 2 does not come after page 2"),
        (b'{"data": [], "next_page": "2"}', "next_page '2' is not a page number"),
        (b'{"data": [], "next_cursor": ""}', "next_cursor '' is not a non-empty string"),
        (b'{"data": [{"v": NaN}], "next_page": null}', "invalid JSON"),
    ],
)
def test_malformed_pages_are_retryable_failures(body: bytes, reason: str) -> None:
    with pytest.raises(_TransientFailure) as failure:
        _parse_page(body)
    assert failure.value.malformed
    assert failure.value.reason.startswith(reason)


def test_invalid_options_are_refused_before_any_request() -> None:
    with pytest.raises(ConfigError) as invalid:
        fetch_records(
            "http://127.0.0.1:9",
            "imoveis",
            token=None,
            timeout_s=0,
            retries=0,
            backoff_s=-1,
            page_size=0,
        )
    assert str(invalid.value) == (
        "API connector: timeout must be positive (got 0); retries is the number of attempts "
        "and must be at least 1 (got 0); backoff must not be negative (got -1); "
        "page size must be at least 1 (got 0)"
    )
