"""Parsing, reference resolution, validation, duplicate ranking and the silver projection."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.layout import POSITION_COL, REASONS_COL, bronze_schema
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TRANSACOES
from condolake.transforms.silver.validate import (
    DUPLICATE_RANK_COL,
    failed_rules,
    is_valid,
    parsed,
    ranked_by_recency,
    to_silver,
    validated,
    with_resolved_references,
    with_typed_columns,
)

from ..frames import INGESTED_AT, bronze, silver

RUN_DATE = dt.date(2024, 6, 30)


def texts(spark: SparkSession, values: list[str | None]) -> DataFrame:
    return spark.createDataFrame([(value,) for value in values], "raw string")


def keys(spark: SparkSession, column: str, values: list[int]) -> DataFrame:
    return spark.createDataFrame([(value,) for value in values], f"{column} int")


# --- parsed ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("sql_type", "cases"), [
    pytest.param("int", [
        ("7", 7), (" 7 ", 7), ("-3", -3), ("+3", 3), ("1.5", None), ("abc", None),
        ("", None), ("2147483648", None), (None, None),
    ], id="int"),
    pytest.param("date", [
        ("2024-02-29", dt.date(2024, 2, 29)), (" 2024-01-15 ", dt.date(2024, 1, 15)),
        ("2024-02-31", None), ("2024", None), ("2024-06", None), ("31/12/2024", None),
        ("2024-1-5", None), ("2024-01-15T10:00:00", None), ("", None), (None, None),
    ], id="date"),
    pytest.param("decimal(15,2)", [
        ("10", Decimal("10.00")), (" 0.01 ", Decimal("0.01")), ("1.5", Decimal("1.50")),
        ("-5", Decimal("-5.00")), ("9999999999999.99", Decimal("9999999999999.99")),
        # Rounded here; the not_decimal_15_2 rule is what rejects it.
        ("1.234", Decimal("1.23")),
        ("99999999999999.99", None), ("1,50", None), ("abc", None), (None, None),
    ], id="decimal"),
    pytest.param("string", [
        ("  Apartamento ", "  Apartamento "), ("", ""), (None, None),
    ], id="string-kept-as-is"),
])
def test_parsed(
    spark: SparkSession, sql_type: str, cases: list[tuple[str | None, object]]
) -> None:
    result = texts(spark, [raw for raw, _ in cases]).select(
        "raw", parsed("raw", sql_type).alias("value")
    )
    expected = spark.createDataFrame(cases, f"raw string, value {sql_type}")
    assert_df_equality(result, expected, ignore_nullable=True, ignore_row_order=True)


# --- with_typed_columns ----------------------------------------------------------------------

def test_with_typed_columns_adds_one_parsed_column_per_source_column(
    spark: SparkSession,
) -> None:
    raw = bronze(spark, IMOVEIS, [
        {"imovel_id": " 100 ", "tipo": " Casa ", "condominio_id": "x", "valor": "350000.5"},
    ])
    typed = with_typed_columns(raw, IMOVEIS)

    typed_names = [f"{name}__typed" for name in IMOVEIS.column_names]
    assert typed.columns == raw.columns + typed_names
    expected = spark.createDataFrame(
        [(100, " Casa ", None, Decimal("350000.50"))],
        "imovel_id__typed int, tipo__typed string, condominio_id__typed int, "
        "valor__typed decimal(15,2)",
    )
    assert_df_equality(typed.select(typed_names), expected, ignore_nullable=True)


# --- with_resolved_references ----------------------------------------------------------------

def test_resolves_against_the_valid_parent_keys(spark: SparkSession) -> None:
    raw = bronze(spark, MORADORES, [
        {"morador_id": "10", "condominio_id": "1"},
        {"morador_id": "11", "condominio_id": " 1 "},
        {"morador_id": "12", "condominio_id": "2"},
        {"morador_id": "13", "condominio_id": "abc"},
        {"morador_id": "14", "condominio_id": None},
    ])
    typed = with_typed_columns(raw, MORADORES)
    # A parent key listed twice must not duplicate children.
    parents = {"condominios": keys(spark, "condominio_id", [1, 1, 3])}

    result = with_resolved_references(typed, MORADORES, parents)

    assert result.columns == typed.columns + ["condominio_id__resolves"]
    expected = spark.createDataFrame(
        [("10", True), ("11", True), ("12", False), ("13", False), ("14", False)],
        "morador_id string, condominio_id__resolves boolean",
    )
    assert_df_equality(result.select("morador_id", "condominio_id__resolves"), expected,
                       ignore_nullable=True, ignore_row_order=True)


def test_resolves_every_foreign_key_of_a_table(spark: SparkSession) -> None:
    raw = bronze(spark, TRANSACOES, [
        {"transacao_id": "1", "imovel_id": "100", "morador_id": "10"},
        {"transacao_id": "2", "imovel_id": "100", "morador_id": "11"},
        {"transacao_id": "3", "imovel_id": "101", "morador_id": "10"},
        {"transacao_id": "4", "imovel_id": "101", "morador_id": "11"},
    ])
    typed = with_typed_columns(raw, TRANSACOES)
    parents = {"imoveis": keys(spark, "imovel_id", [100]),
               "moradores": keys(spark, "morador_id", [10])}

    result = with_resolved_references(typed, TRANSACOES, parents)

    assert result.columns == typed.columns + ["imovel_id__resolves", "morador_id__resolves"]
    expected = spark.createDataFrame(
        [("1", True, True), ("2", True, False), ("3", False, True), ("4", False, False)],
        "transacao_id string, imovel_id__resolves boolean, morador_id__resolves boolean",
    )
    assert_df_equality(
        result.select("transacao_id", "imovel_id__resolves", "morador_id__resolves"),
        expected, ignore_nullable=True, ignore_row_order=True,
    )


def test_table_without_foreign_keys_is_unchanged(spark: SparkSession) -> None:
    typed = with_typed_columns(bronze(spark, CONDOMINIOS, [{"condominio_id": "1"}]), CONDOMINIOS)
    assert_df_equality(with_resolved_references(typed, CONDOMINIOS, {}), typed)


# --- failed_rules / validated / is_valid -----------------------------------------------------

def test_a_rule_whose_condition_is_null_fails(spark: SparkSession) -> None:
    raw = bronze(spark, MORADORES, [{
        "morador_id": "10", "nome": "Ana", "condominio_id": "1", "data_registro": "2020-01-15",
    }])
    unknown = with_typed_columns(raw, MORADORES).select(
        "*", F.lit(None).cast("boolean").alias("condominio_id__resolves")
    )
    result = unknown.select(failed_rules(MORADORES, RUN_DATE).alias(REASONS_COL))
    expected = spark.createDataFrame([(["orphan_condominio"],)], f"{REASONS_COL} array<string>")
    assert_df_equality(result, expected, ignore_nullable=True)


def test_validated_adds_typed_columns_flags_and_reasons(spark: SparkSession) -> None:
    raw = bronze(spark, MORADORES, [{"morador_id": "10"}])
    result = validated(raw, MORADORES, RUN_DATE, {"condominios": keys(spark, "condominio_id", [])})
    assert result.columns == [
        *raw.columns,
        *[f"{name}__typed" for name in MORADORES.column_names],
        "condominio_id__resolves",
        REASONS_COL,
    ]


def test_is_valid_keeps_only_records_without_reasons(spark: SparkSession) -> None:
    raw = bronze(spark, CONDOMINIOS, [
        {"condominio_id": "1", "nome": "Aurora", "endereco": "Rua A, 1"},
        {"condominio_id": "2", "nome": " ", "endereco": "Rua B, 2"},
        {"condominio_id": "3", "nome": "Bela Vista", "endereco": None},
    ])
    checked = validated(raw, CONDOMINIOS, RUN_DATE, {})
    valid_ids = checked.where(is_valid()).select("condominio_id")
    rejected_ids = checked.where(~is_valid()).select("condominio_id")
    assert_df_equality(valid_ids, spark.createDataFrame([("1",)], "condominio_id string"),
                       ignore_nullable=True)
    assert_df_equality(rejected_ids, spark.createDataFrame([("2",), ("3",)],
                                                           "condominio_id string"),
                       ignore_nullable=True, ignore_row_order=True)


# --- ranked_by_recency -----------------------------------------------------------------------

def ranks(ranked: DataFrame) -> DataFrame:
    return ranked.select("condominio_id", POSITION_COL, DUPLICATE_RANK_COL)


RankRow = tuple[str | None, int | None, int]


def expected_ranks(spark: SparkSession, rows: list[RankRow]) -> DataFrame:
    return spark.createDataFrame(
        rows, f"condominio_id string, {POSITION_COL} long, {DUPLICATE_RANK_COL} int"
    )


def test_latest_source_position_wins(spark: SparkSession) -> None:
    raw = bronze(spark, CONDOMINIOS,
                 [{"condominio_id": "1"}, {"condominio_id": "1"}, {"condominio_id": " 1 "},
                  {"condominio_id": "2"}],
                 positions=[1, 3, 2, 5])
    result = ranked_by_recency(raw, CONDOMINIOS)
    assert result.columns == raw.columns + [DUPLICATE_RANK_COL]
    assert_df_equality(
        ranks(result),
        expected_ranks(spark, [("1", 1, 3), ("1", 3, 1), (" 1 ", 2, 2), ("2", 5, 1)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_unparsable_keys_are_all_ranked_first(spark: SparkSession) -> None:
    raw = bronze(spark, CONDOMINIOS,
                 [{"condominio_id": "abc"}, {"condominio_id": "abc"}, {"condominio_id": None},
                  {"condominio_id": None}, {"condominio_id": "1.5"}],
                 positions=[1, 2, 3, 4, 5])
    assert_df_equality(
        ranks(ranked_by_recency(raw, CONDOMINIOS)),
        expected_ranks(spark, [("abc", 1, 1), ("abc", 2, 1), (None, 3, 1), (None, 4, 1),
                               ("1.5", 5, 1)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_unknown_position_loses_to_a_known_one(spark: SparkSession) -> None:
    raw = bronze(spark, CONDOMINIOS, [{"condominio_id": "1"}, {"condominio_id": "1"}],
                 positions=[None, 7])
    assert_df_equality(
        ranks(ranked_by_recency(raw, CONDOMINIOS)),
        expected_ranks(spark, [("1", None, 2), ("1", 7, 1)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_same_position_latest_ingestion_wins(spark: SparkSession) -> None:
    later = INGESTED_AT + dt.timedelta(hours=1)
    raw = bronze(spark, CONDOMINIOS,
                 [{"condominio_id": "1", "nome": "old"}, {"condominio_id": "1", "nome": "new"}],
                 positions=[4, 4], ingested_at=[INGESTED_AT, later])
    result = ranked_by_recency(raw, CONDOMINIOS).select("nome", DUPLICATE_RANK_COL)
    expected = spark.createDataFrame([("old", 2), ("new", 1)],
                                     f"nome string, {DUPLICATE_RANK_COL} int")
    assert_df_equality(result, expected, ignore_nullable=True, ignore_row_order=True)


# --- to_silver -------------------------------------------------------------------------------

def test_to_silver_condominios(spark: SparkSession) -> None:
    raw = bronze(spark, CONDOMINIOS,
                 [{"condominio_id": " 1 ", "nome": "Aurora", "endereco": "Rua das Flores, 10"}])
    result = to_silver(with_typed_columns(raw, CONDOMINIOS), CONDOMINIOS)
    expected = silver(spark, CONDOMINIOS, [(1, "Aurora", "Rua das Flores, 10")])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_to_silver_moradores(spark: SparkSession) -> None:
    raw = bronze(spark, MORADORES, [{
        "morador_id": "10", "nome": "Ana Souza", "condominio_id": "1",
        "data_registro": " 2020-01-15 ",
    }])
    result = to_silver(with_typed_columns(raw, MORADORES), MORADORES)
    expected = silver(spark, MORADORES, [(10, "Ana Souza", 1, dt.date(2020, 1, 15))])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_to_silver_imoveis_normalises_tipo_and_keeps_money_exact(spark: SparkSession) -> None:
    raw = bronze(spark, IMOVEIS, [
        {"imovel_id": "100", "tipo": "  Apartamento ", "condominio_id": "1", "valor": "350000.5"},
        {"imovel_id": "101", "tipo": "CASA", "condominio_id": "1", "valor": " 0.01 "},
    ])
    result = to_silver(with_typed_columns(raw, IMOVEIS), IMOVEIS)
    expected = silver(spark, IMOVEIS, [
        (100, "apartamento", 1, Decimal("350000.50")),
        (101, "casa", 1, Decimal("0.01")),
    ])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_to_silver_trims_any_whitespace_around_tipo(spark: SparkSession) -> None:
    raw = bronze(spark, IMOVEIS, [
        {"imovel_id": "100", "tipo": "\tCasa\r\n", "condominio_id": "1", "valor": "1.00"},
    ])
    result = to_silver(with_typed_columns(raw, IMOVEIS), IMOVEIS).select("tipo")
    assert_df_equality(result, spark.createDataFrame([("casa",)], "tipo string"),
                       ignore_nullable=True)


def test_to_silver_of_the_valid_transacoes(spark: SparkSession) -> None:
    raw = bronze(spark, TRANSACOES, [
        {"transacao_id": "1000", "imovel_id": "100", "morador_id": "10",
         "data_transacao": "2024-03-01", "valor_transacao": "0.10"},
        {"transacao_id": "1001", "imovel_id": "100", "morador_id": "10",
         "data_transacao": "2024-03-01", "valor_transacao": "-0.10"},
    ])
    parents = {"imoveis": keys(spark, "imovel_id", [100]),
               "moradores": keys(spark, "morador_id", [10])}
    checked = validated(raw, TRANSACOES, RUN_DATE, parents)

    result = to_silver(checked.where(is_valid()), TRANSACOES)

    expected = silver(spark, TRANSACOES,
                      [(1000, 100, 10, dt.date(2024, 3, 1), Decimal("0.10"))])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_bronze_builder_matches_the_bronze_contract(spark: SparkSession) -> None:
    # Guards the builder these tests rely on: every source column text, plus lineage.
    assert bronze(spark, TRANSACOES, []).schema == bronze_schema(TRANSACOES)
