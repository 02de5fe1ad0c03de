"""The rows the live simulator writes, made by the batch generator's own row functions.

New moradores, imoveis and transacoes are drawn like `generator` draws them (Faker pt_BR, the
same value pools, `transacao_lines` for transacoes, `invalid_rows`' spoiling for rule-breaking
ones), each kind of row and of change from its own seeded generator, so a seed gives the same
rows in the same order however the steps are grouped into transactions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from faker import Faker

from condolake.source.fake_data import (
    pick_property_type,
    property_value_cents,
    recent_transaction_days,
    transaction_cents,
)
from condolake.source.generator import FAKER_LOCALE
from condolake.source.invalid_rows import EARLIEST_VALID_DATE, spoil_imovel, spoil_morador
from condolake.source.rows import CENTS_PER_REAL, ImovelRow, MoradorRow, money_text
from condolake.source.simulator_plan import Step
from condolake.source.tables import SourceTable
from condolake.source.transacoes_rows import TransacaoPools, transacao_lines

Row = dict[str, Any]
NO_ID = 0  # a placeholder: PostgreSQL assigns the ids of new rows (SERIAL)
REVALUATION = (0.8, 1.2)  # a property's new value, as a factor of the old one


@dataclass
class SourcePools:
    """The valid parents new rows may reference; new moradores and imoveis join them."""

    condominio_ids: list[int]
    morador_ids: list[int]
    imovel_ids: list[int]
    imovel_cents: list[int]  # aligned with imovel_ids
    cents_by_imovel: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.cents_by_imovel = dict(zip(self.imovel_ids, self.imovel_cents, strict=True))

    def add_morador(self, row: Mapping[str, Any]) -> None:
        self.morador_ids.append(int(row["morador_id"]))

    def add_imovel(self, row: Mapping[str, Any]) -> None:
        cents = to_cents(row["valor"])
        self.imovel_ids.append(int(row["imovel_id"]))
        self.imovel_cents.append(cents)
        self.cents_by_imovel[int(row["imovel_id"])] = cents


@dataclass(frozen=True)
class Change:
    """One row change written by the simulator, and the step it carries out."""

    table: SourceTable
    op: str  # "c", "u" or "d", as in a change event
    before: Row | None
    after: Row | None
    step: Step | None = None


class RowMaker:
    """New rows (without their ids) and changed amounts, deterministic for a seed: each kind
    draws from its own generator, so how a plan is cut into ticks does not matter."""

    def __init__(self, seed: int, today: date, pools: SourcePools) -> None:
        self._pools = pools
        self._today = today
        self._days = recent_transaction_days(today)
        self._fake = Faker(FAKER_LOCALE)
        self._fake.seed_instance(f"{seed}/simulator/moradores")
        self._moradores = random.Random(f"{seed}/simulator/moradores")
        self._imoveis = random.Random(f"{seed}/simulator/imoveis")
        self._transacoes = random.Random(f"{seed}/simulator/transacoes")
        self._amounts = random.Random(f"{seed}/simulator/updates")
        self._renames = Faker(FAKER_LOCALE)
        self._renames.seed_instance(f"{seed}/simulator/renames")
        self._revalued = random.Random(f"{seed}/simulator/revalued")
        self._spoiled_moradores = random.Random(f"{seed}/simulator/invalid-moradores")
        self._spoiled_imoveis = random.Random(f"{seed}/simulator/invalid-imoveis")

    def morador(self, rule: str | None = None) -> Row:
        """A resident who registered in the last month, in a valid condominium; breaking
        `rule` (an `invalid_rows.MORADOR_KINDS`) if given."""
        condominio_id = self._moradores.choice(self._pools.condominio_ids)
        registered = date.fromisoformat(self._moradores.choice(self._days))
        row = MoradorRow(NO_ID, self._fake.name(), condominio_id, registered)
        if rule is not None:
            row = spoil_morador(row, rule, self._spoiled_moradores, self._today)
        return {"nome": row.nome, "condominio_id": row.condominio_id,
                "data_registro": row.data_registro}

    def imovel(self, rule: str | None = None) -> Row:
        """A property in a valid condominium; breaking `rule` (an `IMOVEL_KINDS`) if given."""
        kind = pick_property_type(self._imoveis)
        condominio_id = self._imoveis.choice(self._pools.condominio_ids)
        row = ImovelRow(NO_ID, kind.tipo, condominio_id, property_value_cents(kind, self._imoveis))
        if rule is not None:
            row = spoil_imovel(row, rule, self._spoiled_imoveis)
        return {"tipo": row.tipo, "condominio_id": row.condominio_id,
                "valor": to_decimal(row.valor_cents)}

    def changed_nome(self, row: Mapping[str, Any]) -> str:
        """A resident's corrected name, never the old one."""
        nome: str = self._renames.name()
        return nome if nome != row["nome"] else f"{nome} Filho"

    def changed_valor(self, row: Mapping[str, Any]) -> Decimal:
        """A property's new appraisal: within 20 % of the old one, positive, never equal."""
        old = to_cents(row["valor"])
        cents = max(1, round(old * self._revalued.uniform(*REVALUATION)))
        return to_decimal(cents if cents != old else old + 1)

    def transacao(self, rule: str | None = None) -> Row:
        """A transaction of the last month between valid parents; breaking `rule` if given."""
        pools = TransacaoPools(
            imovel_ids=self._pools.imovel_ids,
            imovel_cents=self._pools.imovel_cents,
            morador_ids=self._pools.morador_ids,
            days=self._days,
        )
        spoiled = {} if rule is None else {0: rule}
        line = next(transacao_lines(self._transacoes, NO_ID, 1, pools, spoiled, self._today))
        return parse_transacao_line(line)

    def changed_amount(self, row: Mapping[str, Any]) -> Decimal:
        """A new valor_transacao for the transaction `row`, drawn as new ones are, never equal
        to the old one."""
        property_cents = self._pools.cents_by_imovel[int(row["imovel_id"])]
        cents = transaction_cents(self._amounts.random(), self._amounts.random(), property_cents)
        if cents == to_cents(row["valor_transacao"]):
            cents += 1
        return to_decimal(cents)


def parse_transacao_line(line: str) -> Row:
    """A transacao COPY line of `transacao_lines` as column values (without the id)."""
    _, imovel_id, morador_id, day, money = line.rstrip("\n").split("\t")
    return {
        "imovel_id": int(imovel_id),
        "morador_id": int(morador_id),
        "data_transacao": date.fromisoformat(day),
        "valor_transacao": Decimal(money),
    }


def is_valid_transacao(row: Mapping[str, Any], today: date) -> bool:
    """The transacao's own validation rules: positive amount, date from 1900 up to today.
    (Its parents are valid by construction: the simulator only references valid ones.)"""
    day: date = row["data_transacao"]
    return bool(row["valor_transacao"] > 0) and EARLIEST_VALID_DATE <= day <= today


def malformed_value(variant: int, transacao_id: int) -> bytes:
    """A record on the transacoes topic that is not a change event: 0 is not JSON (cut off),
    1 is JSON without "op", 2 is JSON without "after"."""
    after = {"transacao_id": transacao_id}
    if variant == 0:
        whole = json.dumps({"before": None, "after": after, "op": "c"}, separators=(",", ":"))
        return whole[: len(whole) // 2].encode("utf-8")
    if variant == 1:
        return json.dumps({"before": None, "after": after}, separators=(",", ":")).encode()
    if variant == 2:
        return json.dumps({"before": None, "op": "c"}, separators=(",", ":")).encode()
    raise ValueError(f"unknown malformed variant {variant}")


def to_cents(value: Decimal) -> int:
    return int(value * CENTS_PER_REAL)


def to_decimal(cents: int) -> Decimal:
    return Decimal(money_text(cents))
