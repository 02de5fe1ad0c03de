"""Response models: what the OpenAPI document promises (bodies are rendered in `render`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

MONEY_PATTERN = r"^-?\d+\.\d{2}$"
Money = Field(pattern=MONEY_PATTERN, examples=["1234.50"],
              description="BRL amount as a string with exactly two decimals (never a float)")


class CondominioItem(BaseModel):
    condominio_id: int
    nome: str = Field(description="the condominium's name (not personal data, never masked)")
    quantidade_transacoes: int
    valor_total: str = Money


class MoradorItem(BaseModel):
    morador_id: int
    nome: str = Field(description="the resident's name; `M*** d*** S***` for analysts")
    condominio_id: int
    quantidade_transacoes: int
    valor_total: str = Money


class DiariaItem(BaseModel):
    data_transacao: dt.date
    tipo: str = Field(description="property type, trimmed and lower-cased")
    quantidade_transacoes: int
    valor_total: str = Money


class _Page(BaseModel):
    total: int = Field(description="rows matching the filters, over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")
    table_version: int = Field(description="Delta version of the gold table that answered")


class CondominioPage(_Page):
    items: list[CondominioItem]


class MoradorPage(_Page):
    items: list[MoradorItem]


class DiariaPage(_Page):
    items: list[DiariaItem]


class TableFreshness(BaseModel):
    table: str
    layer: Literal["gold"] = "gold"
    version: int | None = Field(description="Delta version served (the published gold set's); "
                                "null when not built yet")
    committed_at: str | None = Field(examples=["2026-11-26T03:10:00.123Z"],
                                     description="commit time of that version (UTC)")
    age_seconds: float | None = Field(description="seconds since that commit")


class Freshness(BaseModel):
    tables: list[TableFreshness]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    tables: dict[str, bool] = Field(description="whether each gold table exists")


class ErrorDetail(BaseModel):
    detail: str
