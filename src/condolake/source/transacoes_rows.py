"""The hot loop of the generator: a million transacoes as COPY text lines, in a few seconds.

Plain `random` draws and preformatted day strings, no Faker, no Decimal, no per-row objects
except for the few rows that are spoiled on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from condolake.source.fake_data import transaction_cents
from condolake.source.invalid_rows import spoil_transacao
from condolake.source.rows import TransacaoRow, money_text


@dataclass(frozen=True)
class TransacaoPools:
    """What a transaction draws from: imoveis (id and value in cents, aligned), moradores, days."""

    imovel_ids: Sequence[int]
    imovel_cents: Sequence[int]
    morador_ids: Sequence[int]
    days: Sequence[str]  # ISO dates


def transacao_lines(
    rng: random.Random,
    first_id: int,
    count: int,
    pools: TransacaoPools,
    spoiled: Mapping[int, str],
    today: date,
) -> Iterator[str]:
    """`count` COPY lines with ids first_id.. ; positions in `spoiled` (0-based) get broken."""
    draw = rng.random
    imovel_ids, imovel_cents = pools.imovel_ids, pools.imovel_cents
    morador_ids, days = pools.morador_ids, pools.days
    imoveis, moradores, day_count = len(imovel_ids), len(morador_ids), len(days)
    for position in range(count):
        imovel = int(draw() * imoveis)
        cents = transaction_cents(draw(), draw(), imovel_cents[imovel])
        morador_id = morador_ids[int(draw() * moradores)]
        day = days[int(draw() * day_count)]
        kind = spoiled.get(position)
        if kind is None:
            yield (
                f"{first_id + position}\t{imovel_ids[imovel]}\t{morador_id}\t{day}\t"
                f"{money_text(cents)}\n"
            )
        else:
            row = TransacaoRow(
                first_id + position, imovel_ids[imovel], morador_id, date.fromisoformat(day), cents
            )
            yield spoil_transacao(row, kind, rng, today).copy_line()
