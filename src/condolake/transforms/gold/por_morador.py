"""gold/transacoes_por_morador: one row per valid resident."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from condolake.spark_types import struct
from condolake.transforms.gold import GOLD_MONEY_TYPE, zero_brl

# The output contract of the transform below, as stored in gold (documented in the data
# dictionary; a unit test checks the transform's output against it).
TRANSACOES_POR_MORADOR_SCHEMA: StructType = struct(
    "morador_id: int, nome: string, condominio_id: int, quantidade_transacoes: long, "
    f"valor_total: {GOLD_MONEY_TYPE}"
)


def transacoes_por_morador(moradores: DataFrame, transacoes: DataFrame) -> DataFrame:
    """Count and exact sum of each resident's transactions; 0 and 0.00 when none.

    The resident keeps their own `condominio_id` (where they live).
    """
    totals = transacoes.groupBy("morador_id").agg(
        F.count(F.lit(1)).alias("quantidade_transacoes"),
        F.sum("valor_transacao").alias("valor_total"),
    )
    return moradores.select("morador_id", "nome", "condominio_id").join(
        totals, on="morador_id", how="left"
    ).select(
        F.col("morador_id"),
        F.col("nome"),
        F.col("condominio_id"),
        F.coalesce(F.col("quantidade_transacoes"), F.lit(0).cast("long"))
        .alias("quantidade_transacoes"),
        F.coalesce(F.col("valor_total"), zero_brl()).alias("valor_total"),
    )
