"""The source tables' rows as typed tuples, and their COPY text format (money in cents)."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

CENTS_PER_REAL = 100


def money_text(cents: int) -> str:
    """Cents as a NUMERIC literal: 123456 -> '1234.56', -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), CENTS_PER_REAL)
    return f"{sign}{whole}.{fraction:02d}"


def copy_text(value: str) -> str:
    """A string escaped for PostgreSQL's COPY text format (backslash, tab, newlines)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


class CondominioRow(NamedTuple):
    condominio_id: int
    nome: str
    endereco: str

    def copy_line(self) -> str:
        return f"{self.condominio_id}\t{copy_text(self.nome)}\t{copy_text(self.endereco)}\n"


class MoradorRow(NamedTuple):
    morador_id: int
    nome: str
    condominio_id: int
    data_registro: date

    def copy_line(self) -> str:
        return (
            f"{self.morador_id}\t{copy_text(self.nome)}\t{self.condominio_id}\t"
            f"{self.data_registro.isoformat()}\n"
        )


class ImovelRow(NamedTuple):
    imovel_id: int
    tipo: str
    condominio_id: int
    valor_cents: int

    def copy_line(self) -> str:
        return (
            f"{self.imovel_id}\t{copy_text(self.tipo)}\t{self.condominio_id}\t"
            f"{money_text(self.valor_cents)}\n"
        )


class TransacaoRow(NamedTuple):
    transacao_id: int
    imovel_id: int
    morador_id: int
    data_transacao: date
    valor_cents: int

    def copy_line(self) -> str:
        return (
            f"{self.transacao_id}\t{self.imovel_id}\t{self.morador_id}\t"
            f"{self.data_transacao.isoformat()}\t{money_text(self.valor_cents)}\n"
        )
