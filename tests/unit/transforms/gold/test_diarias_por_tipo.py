"""gold/transacoes_diarias_por_tipo: one row per (day, property type) with transactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DecimalType, LongType

from condolake.source.tables import IMOVEIS, TRANSACOES
from condolake.transforms.gold import GOLD_MONEY_TYPE
from condolake.transforms.gold.diarias_por_tipo import transacoes_diarias_por_tipo

from ..frames import silver

MARCH_1 = dt.date(2024, 3, 1)
MARCH_2 = dt.date(2024, 3, 2)


def imoveis(spark: SparkSession, rows: list[tuple[int, str]]) -> DataFrame:
    """(imovel_id, tipo) — silver tipo, already trimmed and lower-cased."""
    return silver(spark, IMOVEIS, [(key, tipo, 1, Decimal("100000.00")) for key, tipo in rows])


def transacoes(spark: SparkSession, rows: list[tuple[int, int, dt.date, Decimal]]) -> DataFrame:
    """(transacao_id, imovel_id, data_transacao, valor_transacao)"""
    return silver(spark, TRANSACOES, [(key, imovel, 10, day, valor)
                                      for key, imovel, day, valor in rows])


def expected(spark: SparkSession, rows: list[tuple[dt.date, str, int, Decimal]]) -> DataFrame:
    return spark.createDataFrame(
        rows,
        "data_transacao date, tipo string, quantidade_transacoes long, "
        f"valor_total {GOLD_MONEY_TYPE}",
    )


def test_groups_by_day_and_tipo_with_exact_sums(spark: SparkSession) -> None:
    result = transacoes_diarias_por_tipo(
        imoveis(spark, [(100, "apartamento"), (101, "apartamento"), (102, "casa")]),
        transacoes(spark, [
            (1000, 100, MARCH_1, Decimal("0.10")),
            (1001, 101, MARCH_1, Decimal("0.20")),
            (1002, 102, MARCH_1, Decimal("5.00")),
            (1003, 100, MARCH_2, Decimal("1.00")),
        ]),
    )
    assert_df_equality(
        result,
        expected(spark, [
            (MARCH_1, "apartamento", 2, Decimal("0.30")),
            (MARCH_1, "casa", 1, Decimal("5.00")),
            (MARCH_2, "apartamento", 1, Decimal("1.00")),
        ]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_no_transactions_no_rows(spark: SparkSession) -> None:
    result = transacoes_diarias_por_tipo(imoveis(spark, [(100, "casa")]), transacoes(spark, []))
    assert_df_equality(result, expected(spark, []), ignore_nullable=True)


def test_transaction_of_an_unknown_property_is_not_counted(spark: SparkSession) -> None:
    result = transacoes_diarias_por_tipo(
        imoveis(spark, [(100, "casa")]),
        transacoes(spark, [(1000, 100, MARCH_1, Decimal("2.50")),
                           (1001, 999, MARCH_1, Decimal("7.00"))]),
    )
    assert_df_equality(result, expected(spark, [(MARCH_1, "casa", 1, Decimal("2.50"))]),
                       ignore_nullable=True)


def test_output_contract(spark: SparkSession) -> None:
    result = transacoes_diarias_por_tipo(imoveis(spark, []), transacoes(spark, []))
    assert result.columns == ["data_transacao", "tipo", "quantidade_transacoes", "valor_total"]
    assert isinstance(result.schema["quantidade_transacoes"].dataType, LongType)
    valor_total = result.schema["valor_total"].dataType
    assert isinstance(valor_total, DecimalType)
    assert valor_total.scale == 2
