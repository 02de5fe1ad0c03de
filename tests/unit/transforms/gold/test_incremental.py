"""Incremental gold: the keys a batch of silver changes touches, and their recomputed rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TRANSACOES
from condolake.spark_types import struct
from condolake.transforms.gold import GOLD_MONEY_TYPE
from condolake.transforms.gold.incremental import (
    CHANGED_KEYS,
    Silver,
    affected_condominios,
    affected_days,
    affected_moradores,
    recomputed_diarias,
    recomputed_por_condominio,
    recomputed_por_morador,
)

from ..frames import silver

MARCH_1 = dt.date(2024, 3, 1)
MARCH_2 = dt.date(2024, 3, 2)
MARCH_3 = dt.date(2024, 3, 3)
MARCH_4 = dt.date(2024, 3, 4)
MARCH_5 = dt.date(2024, 3, 5)
REGISTERED = dt.date(2020, 1, 15)
LARGEST = Decimal("9999999999999.99")  # the largest numeric(15,2)
ChangedKey = tuple[int | None, int | None, int | None, dt.date | None, str | None]


# --- silver after the batch ------------------------------------------------------------------

def current_silver(spark: SparkSession) -> Silver:
    """Property 100 has just become an apartment; 101 and 200 are houses."""
    return Silver(
        condominios=silver(spark, CONDOMINIOS, [
            (1, "Aurora", "Rua 1"), (2, "Bela Vista", "Rua 2"), (3, "Cedro", "Rua 3"),
            (4, "Dália", "Rua 4"),
        ]),
        moradores=silver(spark, MORADORES, [
            (10, "Ana", 1, REGISTERED), (11, "Bruno", 2, REGISTERED),
            (12, "Carla", 3, REGISTERED), (13, "Duda", 3, REGISTERED),
        ]),
        imoveis=silver(spark, IMOVEIS, [
            (100, "apartamento", 1, Decimal("100000.00")),
            (101, "casa", 1, Decimal("200000.00")),
            (200, "casa", 2, Decimal("300000.00")),
            (300, "apartamento", 3, Decimal("400000.00")),
        ]),
        transacoes=silver(spark, TRANSACOES, [
            (1000, 100, 10, MARCH_1, Decimal("0.10")),
            (1001, 100, 11, MARCH_2, Decimal("0.20")),
            (1002, 101, 10, MARCH_1, LARGEST),
            (1003, 200, 11, MARCH_1, LARGEST),
            (1004, 300, 12, MARCH_3, Decimal("5.00")),
        ]),
    )


# --- changed keys, as silver_changes projects each table's change rows -----------------------

def condominio_change(condominio_id: int) -> ChangedKey:
    return (condominio_id, None, None, None, None)


def morador_change(morador_id: int) -> ChangedKey:
    return (None, morador_id, None, None, None)


def imovel_change(imovel_id: int, condominio_id: int, tipo: str) -> ChangedKey:
    return (condominio_id, None, imovel_id, None, tipo)


def transacao_change(imovel_id: int, morador_id: int, day: dt.date) -> ChangedKey:
    return (None, morador_id, imovel_id, day, None)


def changed(spark: SparkSession, rows: list[ChangedKey]) -> DataFrame:
    return spark.createDataFrame(rows, struct(CHANGED_KEYS))


def ids(frame: DataFrame, column: str) -> list[int]:
    return sorted(row[column] for row in frame.collect())


def day_keys(spark: SparkSession, rows: list[tuple[dt.date, str]]) -> DataFrame:
    return spark.createDataFrame(rows, "data_transacao date, tipo string")


# --- affected keys ---------------------------------------------------------------------------

def test_changed_transaction_affects_its_propertys_condominium(spark: SparkSession) -> None:
    # Resident 10 lives in condominium 1; the transaction's property 200 is in condominium 2.
    result = affected_condominios(changed(spark, [transacao_change(200, 10, MARCH_1)]),
                                  current_silver(spark))
    assert result.columns == ["condominio_id"]
    assert ids(result, "condominio_id") == [2]


def test_condominiums_of_changed_condominiums_and_properties(spark: SparkSession) -> None:
    result = affected_condominios(
        changed(spark, [
            condominio_change(3),
            # Property 101 moved from condominium 1 to 2: pre- and post-image.
            imovel_change(101, 1, "casa"), imovel_change(101, 2, "casa"),
            morador_change(11),
            transacao_change(999, 10, MARCH_1),  # no such property in silver
        ]),
        current_silver(spark),
    )
    assert ids(result, "condominio_id") == [1, 2, 3]


def test_affected_residents(spark: SparkSession) -> None:
    result = affected_moradores(changed(spark, [
        morador_change(10),
        # Transaction moved from resident 11 to 12.
        transacao_change(100, 11, MARCH_2), transacao_change(100, 12, MARCH_2),
        transacao_change(300, 12, MARCH_3),
        condominio_change(1), imovel_change(100, 1, "casa"),
    ]))
    assert result.columns == ["morador_id"]
    assert ids(result, "morador_id") == [10, 11, 12]


def test_changed_transactions_affect_their_day_under_their_propertys_tipo(
    spark: SparkSession,
) -> None:
    result = affected_days(
        changed(spark, [transacao_change(101, 10, MARCH_1), transacao_change(300, 12, MARCH_3),
                        transacao_change(101, 10, MARCH_1)]),
        current_silver(spark),
    )
    assert_df_equality(result, day_keys(spark, [(MARCH_1, "casa"), (MARCH_3, "apartamento")]),
                       ignore_nullable=True, ignore_row_order=True)


def test_tipo_change_affects_every_day_of_the_property_under_both_tipos(
    spark: SparkSession,
) -> None:
    result = affected_days(
        changed(spark, [imovel_change(100, 1, "casa"), imovel_change(100, 1, "apartamento")]),
        current_silver(spark),
    )
    assert_df_equality(
        result,
        day_keys(spark, [(MARCH_1, "casa"), (MARCH_1, "apartamento"),
                         (MARCH_2, "casa"), (MARCH_2, "apartamento")]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_deleted_transaction_of_a_property_whose_tipo_changed(spark: SparkSession) -> None:
    # One batch: property 100 goes from casa to apartamento and its transaction of March 4
    # (counted in gold under casa) is deleted. Gold's (March 4, casa) row must be recomputed.
    current = current_silver(spark)
    result = affected_days(
        changed(spark, [imovel_change(100, 1, "casa"), imovel_change(100, 1, "apartamento"),
                        transacao_change(100, 10, MARCH_4)]),
        current,
    )
    assert_df_equality(
        result,
        day_keys(spark, [(MARCH_1, "casa"), (MARCH_1, "apartamento"),
                         (MARCH_2, "casa"), (MARCH_2, "apartamento"),
                         (MARCH_4, "casa"), (MARCH_4, "apartamento")]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_no_changes_affect_nothing(spark: SparkSession) -> None:
    current = current_silver(spark)
    none = changed(spark, [])
    assert affected_condominios(none, current).count() == 0
    assert affected_moradores(none).count() == 0
    assert affected_days(none, current).count() == 0


# --- recomputed rows -------------------------------------------------------------------------

def test_recomputed_condominiums(spark: SparkSession) -> None:
    keys = spark.createDataFrame([(1,), (2,), (4,), (9,)], "condominio_id int")
    result = recomputed_por_condominio(keys, current_silver(spark))
    assert_df_equality(
        result,
        spark.createDataFrame(
            [
                (1, "Aurora", 3, Decimal("10000000000000.29"), True),
                (2, "Bela Vista", 1, LARGEST, True),
                (4, "Dália", 0, Decimal("0.00"), True),
                (9, None, None, None, False),  # deleted: gold drops its row
            ],
            "condominio_id int, nome string, quantidade_transacoes long, "
            f"valor_total {GOLD_MONEY_TYPE}, _present boolean",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_recomputed_residents(spark: SparkSession) -> None:
    keys = spark.createDataFrame([(10,), (12,), (13,), (99,)], "morador_id int")
    result = recomputed_por_morador(keys, current_silver(spark))
    assert_df_equality(
        result,
        spark.createDataFrame(
            [
                (10, "Ana", 1, 2, Decimal("10000000000000.09"), True),
                (12, "Carla", 3, 1, Decimal("5.00"), True),
                (13, "Duda", 3, 0, Decimal("0.00"), True),
                (99, None, None, None, None, False),
            ],
            "morador_id int, nome string, condominio_id int, quantidade_transacoes long, "
            f"valor_total {GOLD_MONEY_TYPE}, _present boolean",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def diarias(spark: SparkSession,
            rows: list[tuple[dt.date, str, int | None, Decimal | None, bool]]) -> DataFrame:
    return spark.createDataFrame(
        rows,
        "data_transacao date, tipo string, quantidade_transacoes long, "
        f"valor_total {GOLD_MONEY_TYPE}, _present boolean",
    )


def test_recomputed_days_only_for_the_affected_pairs(spark: SparkSession) -> None:
    keys = day_keys(spark, [(MARCH_1, "casa"), (MARCH_1, "apartamento"), (MARCH_2, "casa"),
                            (MARCH_5, "casa")])
    result = recomputed_diarias(keys, current_silver(spark))
    # (March 2, apartamento) and (March 3, apartamento) exist but were not asked for.
    assert_df_equality(
        result,
        diarias(spark, [
            (MARCH_1, "casa", 2, Decimal("19999999999999.98"), True),
            (MARCH_1, "apartamento", 1, Decimal("0.10"), True),
            (MARCH_2, "casa", None, None, False),
            (MARCH_5, "casa", None, None, False),
        ]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_tipo_change_moves_the_days_totals_from_casa_to_apartamento(
    spark: SparkSession,
) -> None:
    current = current_silver(spark)
    affected = affected_days(
        changed(spark, [imovel_change(100, 1, "casa"), imovel_change(100, 1, "apartamento")]),
        current,
    )
    assert_df_equality(
        recomputed_diarias(affected, current),
        diarias(spark, [
            (MARCH_1, "casa", 2, Decimal("19999999999999.98"), True),
            (MARCH_1, "apartamento", 1, Decimal("0.10"), True),
            (MARCH_2, "casa", None, None, False),
            (MARCH_2, "apartamento", 1, Decimal("0.20"), True),
        ]),
        ignore_nullable=True, ignore_row_order=True,
    )
