"""The gold marts, each declared once: its table, key, contract, full build and the
incremental recompute of the keys a set of silver changes touched (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from condolake.transforms.gold.diarias_por_tipo import (
    TRANSACOES_DIARIAS_POR_TIPO_SCHEMA,
    transacoes_diarias_por_tipo,
)
from condolake.transforms.gold.incremental import (
    Silver,
    affected_condominios,
    affected_days,
    affected_moradores,
    recomputed_diarias,
    recomputed_por_condominio,
    recomputed_por_morador,
)
from condolake.transforms.gold.por_condominio import (
    TRANSACOES_POR_CONDOMINIO_SCHEMA,
    transacoes_por_condominio,
)
from condolake.transforms.gold.por_morador import (
    TRANSACOES_POR_MORADOR_SCHEMA,
    transacoes_por_morador,
)

MEASURES = ("quantidade_transacoes", "valor_total")  # the columns every mart sums


@dataclass(frozen=True)
class Mart:
    name: str  # gold/<name>
    title: str  # what it holds, for people (pt-BR, as CondoManage reads it)
    keys: tuple[str, ...]  # one row per key
    schema: StructType
    build: Callable[[Silver], DataFrame]  # the whole table from silver
    affected: Callable[[DataFrame, Silver], DataFrame]  # changed keys frame -> its keys
    recompute: Callable[[DataFrame, Silver], DataFrame]  # keys -> rows + `_present`
    declared_in: str  # the module declaring its transform and contract (`__name__`)
    highlights: tuple[str, ...] = ("valor_total",)  # a short listing's order, largest first

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.fieldNames())

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The columns that say what a row is about (the others are the measures)."""
        return tuple(column for column in self.columns if column not in MEASURES)


POR_CONDOMINIO = Mart(
    "transacoes_por_condominio", "Transações por condomínio", ("condominio_id",),
    TRANSACOES_POR_CONDOMINIO_SCHEMA,
    lambda s: transacoes_por_condominio(s.condominios, s.imoveis, s.transacoes),
    affected_condominios, recomputed_por_condominio, transacoes_por_condominio.__module__,
)
POR_MORADOR = Mart(
    "transacoes_por_morador", "Valor total de transações por morador", ("morador_id",),
    TRANSACOES_POR_MORADOR_SCHEMA,
    lambda s: transacoes_por_morador(s.moradores, s.transacoes),
    lambda changed, _: affected_moradores(changed), recomputed_por_morador,
    transacoes_por_morador.__module__,
)
DIARIAS_POR_TIPO = Mart(
    "transacoes_diarias_por_tipo",
    "Transações diárias por tipo de imóvel (dias mais recentes)", ("data_transacao", "tipo"),
    TRANSACOES_DIARIAS_POR_TIPO_SCHEMA,
    lambda s: transacoes_diarias_por_tipo(s.imoveis, s.transacoes),
    affected_days, recomputed_diarias, transacoes_diarias_por_tipo.__module__,
    highlights=("data_transacao", "valor_total"),
)
