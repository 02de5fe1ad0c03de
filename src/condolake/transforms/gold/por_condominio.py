"""gold/transacoes_por_condominio: one row per valid condominium."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from condolake.spark_types import struct
from condolake.transforms.gold import GOLD_MONEY_TYPE, zero_brl

# The output contract of the transform below, as stored in gold (documented in the data
# dictionary; a unit test checks the transform's output against it).
TRANSACOES_POR_CONDOMINIO_SCHEMA: StructType = struct(
    "condominio_id: int, nome: string, quantidade_transacoes: long, "
    f"valor_total: {GOLD_MONEY_TYPE}"
)


def transacoes_por_condominio(
    condominios: DataFrame, imoveis: DataFrame, transacoes: DataFrame
) -> DataFrame:
    """Count and exact sum of the transactions of each condominium's properties.

    A transaction belongs to the condominium of its property, not of its resident.
    Condominiums without transactions appear with 0 and 0.00.
    """
    por_imovel = transacoes.select("imovel_id", "valor_transacao").join(
        imoveis.select("imovel_id", "condominio_id"), on="imovel_id", how="inner"
    )
    totals = por_imovel.groupBy("condominio_id").agg(
        F.count(F.lit(1)).alias("quantidade_transacoes"),
        F.sum("valor_transacao").alias("valor_total"),
    )
    return condominios.select("condominio_id", "nome").join(
        totals, on="condominio_id", how="left"
    ).select(
        F.col("condominio_id"),
        F.col("nome"),
        F.coalesce(F.col("quantidade_transacoes"), F.lit(0).cast("long"))
        .alias("quantidade_transacoes"),
        F.coalesce(F.col("valor_total"), zero_brl()).alias("valor_total"),
    )
