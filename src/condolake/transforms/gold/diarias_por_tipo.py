"""gold/transacoes_diarias_por_tipo: one row per (day, property type) with transactions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from condolake.spark_types import struct
from condolake.transforms.gold import GOLD_MONEY_TYPE

# The output contract of the transform below, as stored in gold (documented in the data
# dictionary; a unit test checks the transform's output against it).
TRANSACOES_DIARIAS_POR_TIPO_SCHEMA: StructType = struct(
    "data_transacao: date, tipo: string, quantidade_transacoes: long, "
    f"valor_total: {GOLD_MONEY_TYPE}"
)


def transacoes_diarias_por_tipo(imoveis: DataFrame, transacoes: DataFrame) -> DataFrame:
    """Count and exact sum of transactions per day and (normalised) property type."""
    com_tipo = transacoes.select("imovel_id", "data_transacao", "valor_transacao").join(
        imoveis.select("imovel_id", "tipo"), on="imovel_id", how="inner"
    )
    return com_tipo.groupBy("data_transacao", "tipo").agg(
        F.count(F.lit(1)).alias("quantidade_transacoes"),
        F.sum("valor_transacao").alias("valor_total"),
    ).select("data_transacao", "tipo", "quantidade_transacoes", "valor_total")
