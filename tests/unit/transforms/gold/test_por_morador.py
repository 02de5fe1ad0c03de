"""gold/transacoes_por_morador: every valid resident, with their own condominium."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DecimalType, LongType

from condolake.source.tables import MORADORES, TRANSACOES
from condolake.transforms.gold import GOLD_MONEY_TYPE
from condolake.transforms.gold.por_morador import transacoes_por_morador

from ..frames import silver

DAY = dt.date(2024, 3, 1)
REGISTERED = dt.date(2020, 1, 15)


def moradores(spark: SparkSession, rows: list[tuple[int, str, int]]) -> DataFrame:
    """(morador_id, nome, condominio_id)"""
    return silver(spark, MORADORES, [(*row, REGISTERED) for row in rows])


def transacoes(spark: SparkSession, rows: list[tuple[int, int, int, Decimal]]) -> DataFrame:
    """(transacao_id, imovel_id, morador_id, valor_transacao)"""
    return silver(spark, TRANSACOES, [(key, imovel, morador, DAY, valor)
                                      for key, imovel, morador, valor in rows])


def expected(spark: SparkSession, rows: list[tuple[int, str, int, int, Decimal]]) -> DataFrame:
    return spark.createDataFrame(
        rows,
        "morador_id int, nome string, condominio_id int, quantidade_transacoes long, "
        f"valor_total {GOLD_MONEY_TYPE}",
    )


def test_resident_without_transactions_has_zero(spark: SparkSession) -> None:
    result = transacoes_por_morador(moradores(spark, [(10, "Ana", 1)]), transacoes(spark, []))
    assert_df_equality(result, expected(spark, [(10, "Ana", 1, 0, Decimal("0.00"))]),
                       ignore_nullable=True)


def test_resident_keeps_their_own_condominium(spark: SparkSession) -> None:
    # Property 200 may belong to another condominium; the resident still lives in 1.
    result = transacoes_por_morador(
        moradores(spark, [(10, "Ana", 1), (11, "Bruno", 2)]),
        transacoes(spark, [(1000, 200, 10, Decimal("250.00"))]),
    )
    assert_df_equality(
        result,
        expected(spark, [(10, "Ana", 1, 1, Decimal("250.00")),
                         (11, "Bruno", 2, 0, Decimal("0.00"))]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_sums_are_exact_decimals(spark: SparkSession) -> None:
    result = transacoes_por_morador(
        moradores(spark, [(10, "Ana", 1)]),
        transacoes(spark, [(1000, 100, 10, Decimal("0.10")), (1001, 101, 10, Decimal("0.20"))]),
    )
    assert_df_equality(result, expected(spark, [(10, "Ana", 1, 2, Decimal("0.30"))]),
                       ignore_nullable=True)


def test_transaction_of_an_unknown_resident_adds_no_row(spark: SparkSession) -> None:
    result = transacoes_por_morador(
        moradores(spark, [(10, "Ana", 1)]),
        transacoes(spark, [(1000, 100, 99, Decimal("5.00"))]),
    )
    assert_df_equality(result, expected(spark, [(10, "Ana", 1, 0, Decimal("0.00"))]),
                       ignore_nullable=True)


def test_output_contract(spark: SparkSession) -> None:
    result = transacoes_por_morador(moradores(spark, []), transacoes(spark, []))
    assert result.columns == [
        "morador_id", "nome", "condominio_id", "quantidade_transacoes", "valor_total",
    ]
    assert isinstance(result.schema["quantidade_transacoes"].dataType, LongType)
    valor_total = result.schema["valor_total"].dataType
    assert isinstance(valor_total, DecimalType)
    assert valor_total.scale == 2
