"""A throw-away gold mart, written as the catalog's recipe says a new one is: this one file
(transform, contract, incremental recompute) plus one entry in the catalog. The tests register
it with `catalog.registered(POR_TIPO)` and check that every reader of the catalog sees it."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from condolake.spark_types import struct
from condolake.transforms.gold import GOLD_MONEY_TYPE, zero_brl
from condolake.transforms.gold.incremental import PRESENT_COL, Silver
from condolake.transforms.gold.marts import Mart

TRANSACOES_POR_TIPO_SCHEMA: StructType = struct(
    f"tipo: string, quantidade_transacoes: long, valor_total: {GOLD_MONEY_TYPE}"
)


def transacoes_por_tipo(imoveis: DataFrame, transacoes: DataFrame) -> DataFrame:
    """Count and exact sum of the transactions of each property type (every type listed)."""
    por_tipo = transacoes.join(imoveis.select("imovel_id", "tipo"), on="imovel_id",
                               how="inner").groupBy("tipo").agg(
        F.count(F.lit(1)).alias("quantidade_transacoes"),
        F.sum("valor_transacao").cast(GOLD_MONEY_TYPE).alias("valor_total"),
    )
    return imoveis.select("tipo").distinct().join(por_tipo, on="tipo", how="left").select(
        "tipo",
        F.coalesce("quantidade_transacoes", F.lit(0)).cast("long").alias(
            "quantidade_transacoes"),
        F.coalesce("valor_total", zero_brl()).alias("valor_total"),
    )


def affected_tipos(changed: DataFrame, silver: Silver) -> DataFrame:
    """Types whose totals may have moved: a changed property's old and new type, and the type
    of each changed transaction's property."""
    of_transactions = changed.where(F.col("data_transacao").isNotNull()).select(
        "imovel_id").join(silver.imoveis.select("imovel_id", "tipo"), on="imovel_id",
                          how="inner").select("tipo")
    return changed.select("tipo").unionByName(of_transactions).where(
        F.col("tipo").isNotNull()).distinct()


def recomputed_por_tipo(keys: DataFrame, silver: Silver) -> DataFrame:
    imoveis = silver.imoveis.join(keys, on="tipo", how="left_semi")
    rows = transacoes_por_tipo(imoveis, silver.transacoes)
    return keys.join(rows.select("*", F.lit(True).alias(PRESENT_COL)), on="tipo",
                     how="left").select(*rows.columns,
                                        F.coalesce(PRESENT_COL, F.lit(False)).alias(PRESENT_COL))


POR_TIPO = Mart(
    "transacoes_por_tipo", "Transações por tipo de imóvel", ("tipo",),
    TRANSACOES_POR_TIPO_SCHEMA,
    lambda s: transacoes_por_tipo(s.imoveis, s.transacoes),
    affected_tipos, recomputed_por_tipo, __name__,
)
# Its column meanings, as they would go into descriptions.toml for the data dictionary.
DESCRIPTIONS = """
[table."gold/transacoes_por_tipo"]
summary = "one row per property type"

[table."gold/transacoes_por_tipo".columns]
tipo = "property type"
quantidade_transacoes = "transactions of properties of that type"
valor_total = "sum of their `valor_transacao`"
"""
