"""Rows that the DDL accepts but CondoLake's validation rules reject, for quarantine tests.

The rules each kind breaks (what `ingestion` must catch):

* blank text: empty or spaces only (`nome`, `endereco`, `tipo`);
* a date in the future (at least 30 days after the day of generation) or before 1900-01-01;
* money (`valor`, `valor_transacao`) equal to zero or negative.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from condolake.source.rows import CondominioRow, ImovelRow, MoradorRow, TransacaoRow

BLANKS = ("", " ", "   ")
FUTURE_MIN_DAYS = 30
FUTURE_MAX_DAYS = 3_650
ANCIENT_YEARS = (1800, 1899)
EARLIEST_VALID_DATE = date(1900, 1, 1)
MAX_NEGATIVE_CENTS = 10_000_00


CONDOMINIO_KINDS = ("blank_nome", "blank_endereco")
MORADOR_KINDS = ("blank_nome", "future_data_registro", "ancient_data_registro")
IMOVEL_KINDS = ("non_positive_valor", "blank_tipo")
TRANSACAO_KINDS = ("non_positive_valor", "future_data_transacao", "ancient_data_transacao")


def invalid_count(rows: int, share: float) -> int:
    """How many of `rows` to spoil for a share such as 0.02."""
    return round(rows * share)


def pick_invalid(
    rng: random.Random, rows: int, share: float, kinds: tuple[str, ...]
) -> dict[int, str]:
    """Row positions (0-based) to spoil and how; the kinds take turns so each one appears."""
    positions = sorted(rng.sample(range(rows), invalid_count(rows, share)))
    return {position: kinds[turn % len(kinds)] for turn, position in enumerate(positions)}


def blank(rng: random.Random) -> str:
    return rng.choice(BLANKS)


def future_day(today: date, rng: random.Random) -> date:
    return today + timedelta(days=rng.randint(FUTURE_MIN_DAYS, FUTURE_MAX_DAYS))


def ancient_day(rng: random.Random) -> date:
    return date(rng.randint(*ANCIENT_YEARS), rng.randint(1, 12), rng.randint(1, 28))


def non_positive_cents(rng: random.Random) -> int:
    return 0 if rng.random() < 0.5 else -rng.randint(1, MAX_NEGATIVE_CENTS)


def spoil_condominio(row: CondominioRow, kind: str, rng: random.Random) -> CondominioRow:
    if kind == "blank_nome":
        return row._replace(nome=blank(rng))
    if kind == "blank_endereco":
        return row._replace(endereco=blank(rng))
    raise ValueError(f"unknown invalid kind for condominios: {kind}")


def spoil_morador(row: MoradorRow, kind: str, rng: random.Random, today: date) -> MoradorRow:
    if kind == "blank_nome":
        return row._replace(nome=blank(rng))
    if kind == "future_data_registro":
        return row._replace(data_registro=future_day(today, rng))
    if kind == "ancient_data_registro":
        return row._replace(data_registro=ancient_day(rng))
    raise ValueError(f"unknown invalid kind for moradores: {kind}")


def spoil_imovel(row: ImovelRow, kind: str, rng: random.Random) -> ImovelRow:
    if kind == "non_positive_valor":
        return row._replace(valor_cents=non_positive_cents(rng))
    if kind == "blank_tipo":
        return row._replace(tipo=blank(rng))
    raise ValueError(f"unknown invalid kind for imoveis: {kind}")


def spoil_transacao(row: TransacaoRow, kind: str, rng: random.Random, today: date) -> TransacaoRow:
    if kind == "non_positive_valor":
        return row._replace(valor_cents=non_positive_cents(rng))
    if kind == "future_data_transacao":
        return row._replace(data_transacao=future_day(today, rng))
    if kind == "ancient_data_transacao":
        return row._replace(data_transacao=ancient_day(rng))
    raise ValueError(f"unknown invalid kind for transacoes: {kind}")
