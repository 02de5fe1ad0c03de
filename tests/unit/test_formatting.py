from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from condolake.formatting import format_brl, format_count, format_date


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234.56"), "R$ 1.234,56"),
        (Decimal("0"), "R$ 0,00"),
        (Decimal("0.1"), "R$ 0,10"),
        (Decimal("-1234567.89"), "-R$ 1.234.567,89"),
        (Decimal("9999999999999.99"), "R$ 9.999.999.999.999,99"),
        (None, "—"),
    ],
)
def test_brl(value: Decimal | None, text: str) -> None:
    assert format_brl(value) == text


def test_count_and_date() -> None:
    assert format_count(1234567) == "1.234.567"
    assert format_date(dt.date(2024, 1, 31)) == "31/01/2024"
