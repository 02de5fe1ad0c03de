"""pt-BR presentation: money as R$ 1.234,56, dates as 31/12/2024, counts as 1.234."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def format_brl(value: Decimal | None) -> str:
    """R$ with a dot every three digits and a comma before the cents; exact, never a float."""
    if value is None:
        return "—"
    cents = Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    integer, _, fraction = f"{abs(cents):.2f}".partition(".")
    grouped = f"{int(integer):,}".replace(",", ".")
    return f"{sign}R$ {grouped},{fraction}"


def format_count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}".replace(",", ".")


def format_date(value: dt.date | None) -> str:
    return "—" if value is None else value.strftime("%d/%m/%Y")
