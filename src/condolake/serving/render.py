"""Gold rows to JSON bytes: ids and counts as integers, money as "1234.50", dates ISO."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from condolake.serving.index import Page
from condolake.serving.masking import mask_name
from condolake.serving.queries import PageQuery, TableSpec

Convert = Callable[[Any], Any] | None


def money(value: Decimal | None) -> str | None:
    """Exactly two decimals, as a string: money never becomes a JSON number."""
    return None if value is None else f"{value:.2f}"


def iso_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


@cache
def _plan(spec: TableSpec, masked: bool) -> tuple[tuple[str, Convert], ...]:
    """How each column of `spec` becomes JSON (None: as it is)."""
    def convert(column: str) -> Convert:
        if column in spec.money:
            return money
        if column in spec.dates:
            return iso_date
        if masked and column in spec.personal:
            return mask_name
        return None

    return tuple((column, convert(column)) for column in spec.columns)


def item(spec: TableSpec, row: tuple[Any, ...], masked: bool) -> dict[str, Any]:
    return {name: value if convert is None else convert(value)
            for (name, convert), value in zip(_plan(spec, masked), row, strict=True)}


def page_body(spec: TableSpec, page: Page, query: PageQuery, version: int,
              masked: bool) -> dict[str, Any]:
    following = query.offset + len(page.rows)
    return {
        "items": [item(spec, row, masked) for row in page.rows],
        "total": page.total,
        "limit": query.limit,
        "offset": query.offset,
        "next_offset": following if page.rows and following < page.total else None,
        "table_version": version,
    }


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
