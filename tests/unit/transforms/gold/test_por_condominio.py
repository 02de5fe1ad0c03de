"""gold/transacoes_por_condominio: every valid condominium, its properties' transactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DecimalType, LongType

from condolake.source.tables import CONDOMINIOS, IMOVEIS, TRANSACOES
from condolake.transforms.gold import GOLD_MONEY_TYPE
from condolake.transforms.gold.por_condominio import transacoes_por_condominio

from ..frames import silver

DAY = dt.date(2024, 3, 1)


def condominios(spark: SparkSession, rows: list[tuple[int, str]]) -> DataFrame:
    return silver(spark, CONDOMINIOS, [(key, nome, f"Rua {key}") for key, nome in rows])


def imoveis(spark: SparkSession, rows: list[tuple[int, int]]) -> DataFrame:
    """(imovel_id, condominio_id)"""
    return silver(spark, IMOVEIS, [(key, "apartamento", condo, Decimal("100000.00"))
                                   for key, condo in rows])


def transacoes(spark: SparkSession, rows: list[tuple[int, int, int, Decimal]]) -> DataFrame:
    """(transacao_id, imovel_id, morador_id, valor_transacao)"""
    return silver(spark, TRANSACOES, [(key, imovel, morador, DAY, valor)
                                      for key, imovel, morador, valor in rows])


def expected(spark: SparkSession, rows: list[tuple[int, str, int, Decimal]]) -> DataFrame:
    return spark.createDataFrame(
        rows,
        "condominio_id int, nome string, quantidade_transacoes long, "
        f"valor_total {GOLD_MONEY_TYPE}",
    )


def test_condominium_without_transactions_has_zero(spark: SparkSession) -> None:
    result = transacoes_por_condominio(condominios(spark, [(1, "Aurora")]),
                                       imoveis(spark, [(100, 1)]), transacoes(spark, []))
    assert_df_equality(result, expected(spark, [(1, "Aurora", 0, Decimal("0.00"))]),
                       ignore_nullable=True)


def test_transaction_counts_for_the_property_condominium(spark: SparkSession) -> None:
    # Resident 10 lives in condominium 1 but transacts on property 100 of condominium 2.
    result = transacoes_por_condominio(
        condominios(spark, [(1, "Aurora"), (2, "Bela Vista")]),
        imoveis(spark, [(100, 2)]),
        transacoes(spark, [(1000, 100, 10, Decimal("250.00"))]),
    )
    assert_df_equality(
        result,
        expected(spark, [(1, "Aurora", 0, Decimal("0.00")),
                         (2, "Bela Vista", 1, Decimal("250.00"))]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_sums_are_exact_decimals(spark: SparkSession) -> None:
    result = transacoes_por_condominio(
        condominios(spark, [(1, "Aurora"), (2, "Bela Vista")]),
        imoveis(spark, [(100, 1), (101, 1), (200, 2)]),
        transacoes(spark, [
            (1000, 100, 10, Decimal("0.10")),
            (1001, 101, 11, Decimal("0.20")),
            # The largest numeric(15,2) twice: the sum needs more digits than its terms.
            (1002, 200, 10, Decimal("9999999999999.99")),
            (1003, 200, 11, Decimal("9999999999999.99")),
        ]),
    )
    assert_df_equality(
        result,
        expected(spark, [(1, "Aurora", 2, Decimal("0.30")),
                         (2, "Bela Vista", 2, Decimal("19999999999999.98"))]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_transaction_of_an_unknown_property_is_not_counted(spark: SparkSession) -> None:
    result = transacoes_por_condominio(
        condominios(spark, [(1, "Aurora")]),
        imoveis(spark, [(100, 1)]),
        transacoes(spark, [(1000, 100, 10, Decimal("1.00")), (1001, 999, 10, Decimal("5.00"))]),
    )
    assert_df_equality(result, expected(spark, [(1, "Aurora", 1, Decimal("1.00"))]),
                       ignore_nullable=True)


def test_output_contract(spark: SparkSession) -> None:
    result = transacoes_por_condominio(condominios(spark, []), imoveis(spark, []),
                                       transacoes(spark, []))
    assert result.columns == ["condominio_id", "nome", "quantidade_transacoes", "valor_total"]
    assert isinstance(result.schema["quantidade_transacoes"].dataType, LongType)
    valor_total = result.schema["valor_total"].dataType
    assert isinstance(valor_total, DecimalType)
    assert valor_total.scale == 2
