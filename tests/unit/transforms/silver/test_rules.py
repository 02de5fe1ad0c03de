"""RULES as data, and every rule of every table firing and not firing (through `validated`)."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.layout import REASONS_COL, SOURCE_COL
from condolake.source.tables import (
    CONDOMINIOS,
    IMOVEIS,
    MORADORES,
    TABLES_BY_NAME,
    TRANSACOES,
    SourceTable,
)
from condolake.transforms.silver.rules import RULES
from condolake.transforms.silver.validate import only_retryable, validated

from ..frames import bronze

RUN_DATE = dt.date(2024, 6, 30)
DAY_AFTER_RUN = "2024-07-01"
CHARS_50 = "x" * 50
CHARS_51 = "x" * 51
CHARS_255 = "n" * 255
CHARS_256 = "n" * 256

# One valid record per table; each case changes a few of its columns.
VALID_RECORDS: dict[str, dict[str, str | None]] = {
    "condominios": {"condominio_id": "1", "nome": "Aurora", "endereco": "Rua das Flores, 10"},
    "moradores": {
        "morador_id": "10", "nome": "Ana Souza", "condominio_id": "1",
        "data_registro": "2020-01-15",
    },
    "imoveis": {
        "imovel_id": "100", "tipo": "apartamento", "condominio_id": "1", "valor": "350000.00",
    },
    "transacoes": {
        "transacao_id": "1000", "imovel_id": "100", "morador_id": "10",
        "data_transacao": "2024-03-01", "valor_transacao": "1500.00",
    },
}


def valid_parent_keys(spark: SparkSession) -> dict[str, DataFrame]:
    """Valid silver keys: condominium 1, property 100, resident 10."""
    return {
        "condominios": spark.createDataFrame([(1,)], "condominio_id int"),
        "imoveis": spark.createDataFrame([(100,)], "imovel_id int"),
        "moradores": spark.createDataFrame([(10,)], "morador_id int"),
    }


Case = tuple[str, dict[str, str | None], list[str]]


def assert_reasons(
    spark: SparkSession, table: SourceTable, cases: list[Case], run_date: dt.date = RUN_DATE
) -> None:
    """Validates one record per case (the valid record with the case's changes) in one job.

    Each record carries its case name in `_source`, so a failure shows which case differs.
    """
    names = [name for name, _, _ in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    records = [{**VALID_RECORDS[table.name], **changes} for _, changes, _ in cases]
    checked = validated(bronze(spark, table, records, sources=names), table, run_date,
                        valid_parent_keys(spark))
    actual = checked.select(F.col(SOURCE_COL).alias("case"), F.col(REASONS_COL))
    expected = spark.createDataFrame(
        [(name, reasons) for name, _, reasons in cases], f"case string, {REASONS_COL} array<string>"
    )
    assert_df_equality(actual, expected, ignore_nullable=True, ignore_row_order=True)


# --- RULES as data ---------------------------------------------------------------------------

def test_rules_cover_exactly_the_source_tables() -> None:
    assert set(RULES) == set(TABLES_BY_NAME)


@pytest.mark.parametrize(("table", "names"), [
    pytest.param("condominios", [
        "condominio_id_missing", "condominio_id_not_integer",
        "nome_missing", "nome_blank", "nome_too_long",
        "endereco_missing", "endereco_blank",
    ], id="condominios"),
    pytest.param("moradores", [
        "morador_id_missing", "morador_id_not_integer",
        "nome_missing", "nome_blank", "nome_too_long",
        "condominio_id_missing", "condominio_id_not_integer",
        "data_registro_missing", "data_registro_not_date", "data_registro_out_of_range",
        "orphan_condominio",
    ], id="moradores"),
    pytest.param("imoveis", [
        "imovel_id_missing", "imovel_id_not_integer",
        "tipo_missing", "tipo_blank", "tipo_too_long",
        "condominio_id_missing", "condominio_id_not_integer",
        "valor_missing", "valor_not_decimal_15_2", "valor_not_positive",
        "orphan_condominio",
    ], id="imoveis"),
    pytest.param("transacoes", [
        "transacao_id_missing", "transacao_id_not_integer",
        "imovel_id_missing", "imovel_id_not_integer",
        "morador_id_missing", "morador_id_not_integer",
        "data_transacao_missing", "data_transacao_not_date", "data_transacao_out_of_range",
        "valor_transacao_missing", "valor_transacao_not_decimal_15_2",
        "valor_transacao_not_positive",
        "orphan_imovel", "orphan_morador",
    ], id="transacoes"),
])
def test_rule_names_in_declaration_order(table: str, names: list[str]) -> None:
    assert list(RULES[table]) == names


def test_every_source_column_is_required() -> None:
    for table in TABLES_BY_NAME.values():
        for name in table.column_names:
            assert f"{name}_missing" in RULES[table.name], (table.name, name)


def test_rules_are_read_only() -> None:
    with pytest.raises(TypeError):
        RULES["condominios"]["always_true"] = "true"  # type: ignore[index]
    with pytest.raises(TypeError):
        RULES["novatabela"] = RULES["condominios"]  # type: ignore[index]


@pytest.mark.parametrize(("reasons_", "expected"), [
    pytest.param([], False, id="no-reasons"),
    pytest.param(["orphan_imovel"], True, id="one-orphan"),
    pytest.param(["orphan_imovel", "orphan_morador"], True, id="two-orphans"),
    pytest.param(["orphan_imovel", "valor_transacao_not_positive"], False, id="orphan-and-bad"),
    pytest.param(["nome_blank"], False, id="bad-only"),
])
def test_only_retryable(spark: SparkSession, reasons_: list[str], expected: bool) -> None:
    frame = spark.createDataFrame([(reasons_,)], f"{REASONS_COL}: array<string>")
    assert frame.select(only_retryable(F.col(REASONS_COL))).first()[0] is expected


# --- condominios -----------------------------------------------------------------------------

CONDOMINIOS_CASES: list[Case] = [
    ("valid", {}, []),
    ("id-padded", {"condominio_id": " 7 "}, []),
    ("id-null", {"condominio_id": None}, ["condominio_id_missing"]),
    ("id-abc", {"condominio_id": "abc"}, ["condominio_id_not_integer"]),
    ("id-fraction", {"condominio_id": "1.5"}, ["condominio_id_not_integer"]),
    ("id-empty", {"condominio_id": ""}, ["condominio_id_not_integer"]),
    ("id-overflows-int", {"condominio_id": "2147483648"}, ["condominio_id_not_integer"]),
    ("nome-null", {"nome": None}, ["nome_missing"]),
    ("nome-empty", {"nome": ""}, ["nome_blank"]),
    ("nome-spaces", {"nome": "   "}, ["nome_blank"]),
    ("nome-255", {"nome": CHARS_255}, []),
    ("nome-255-padded", {"nome": f"  {CHARS_255}  "}, []),
    ("nome-256", {"nome": CHARS_256}, ["nome_too_long"]),
    ("endereco-null", {"endereco": None}, ["endereco_missing"]),
    ("endereco-spaces", {"endereco": "  "}, ["endereco_blank"]),
    ("endereco-has-no-max-length", {"endereco": "R" * 1000}, []),
    ("several-rules", {"condominio_id": "x", "nome": "  ", "endereco": None},
     ["condominio_id_not_integer", "nome_blank", "endereco_missing"]),
]


def test_condominios_rules(spark: SparkSession) -> None:
    assert_reasons(spark, CONDOMINIOS, CONDOMINIOS_CASES)


def test_whitespace_only_nome_is_blank(spark: SparkSession) -> None:
    # Spark's trim() strips only ' ': a name of tabs or line breaks must still be blank.
    assert_reasons(spark, CONDOMINIOS, [
        ("tab", {"nome": "\t"}, ["nome_blank"]),
        ("newline", {"nome": " \n "}, ["nome_blank"]),
        ("crlf", {"nome": "\r\n"}, ["nome_blank"]),
    ])


# --- moradores -------------------------------------------------------------------------------

MORADORES_CASES: list[Case] = [
    ("valid", {}, []),
    ("id-null", {"morador_id": None}, ["morador_id_missing"]),
    ("id-abc", {"morador_id": "abc"}, ["morador_id_not_integer"]),
    ("nome-null", {"nome": None}, ["nome_missing"]),
    ("nome-blank", {"nome": "  "}, ["nome_blank"]),
    ("nome-256", {"nome": CHARS_256}, ["nome_too_long"]),
    # A missing or unparsable key is its own problem, not also an orphan.
    ("fk-null", {"condominio_id": None}, ["condominio_id_missing"]),
    ("fk-abc", {"condominio_id": "abc"}, ["condominio_id_not_integer"]),
    ("fk-orphan", {"condominio_id": "2"}, ["orphan_condominio"]),
    ("fk-padded", {"condominio_id": " 1 "}, []),
    ("date-null", {"data_registro": None}, ["data_registro_missing"]),
    ("date-feb-31", {"data_registro": "2024-02-31"}, ["data_registro_not_date"]),
    ("date-feb-29-not-leap", {"data_registro": "2023-02-29"}, ["data_registro_not_date"]),
    ("date-feb-29-leap", {"data_registro": "2024-02-29"}, []),
    ("date-year-only", {"data_registro": "2024"}, ["data_registro_not_date"]),
    ("date-month-only", {"data_registro": "2024-06"}, ["data_registro_not_date"]),
    ("date-dmy", {"data_registro": "31/12/2024"}, ["data_registro_not_date"]),
    ("date-short", {"data_registro": "2024-1-5"}, ["data_registro_not_date"]),
    ("date-with-time", {"data_registro": "2024-01-15 10:00:00"}, ["data_registro_not_date"]),
    ("date-text", {"data_registro": "ontem"}, ["data_registro_not_date"]),
    ("date-padded", {"data_registro": " 2020-01-15 "}, []),
    ("date-before-1900", {"data_registro": "1899-12-31"}, ["data_registro_out_of_range"]),
    ("date-1900-01-01", {"data_registro": "1900-01-01"}, []),
    ("date-run-date", {"data_registro": RUN_DATE.isoformat()}, []),
    ("date-after-run-date", {"data_registro": DAY_AFTER_RUN}, ["data_registro_out_of_range"]),
    ("several-rules",
     {"morador_id": "x", "nome": None, "condominio_id": "9", "data_registro": "1800-01-01"},
     ["morador_id_not_integer", "nome_missing", "data_registro_out_of_range",
      "orphan_condominio"]),
]


def test_moradores_rules(spark: SparkSession) -> None:
    assert_reasons(spark, MORADORES, MORADORES_CASES)


def test_out_of_range_follows_the_run_date(spark: SparkSession) -> None:
    changes: dict[str, str | None] = {"data_registro": "2024-07-01"}
    assert_reasons(spark, MORADORES, [("on-run-date", changes, [])],
                   run_date=dt.date(2024, 7, 1))
    assert_reasons(spark, MORADORES, [("day-after-run", changes, ["data_registro_out_of_range"])],
                   run_date=dt.date(2024, 6, 30))


# --- imoveis ---------------------------------------------------------------------------------

IMOVEIS_CASES: list[Case] = [
    ("valid", {}, []),
    ("id-null", {"imovel_id": None}, ["imovel_id_missing"]),
    ("id-text", {"imovel_id": "cem"}, ["imovel_id_not_integer"]),
    ("tipo-null", {"tipo": None}, ["tipo_missing"]),
    ("tipo-blank", {"tipo": "   "}, ["tipo_blank"]),
    ("tipo-50", {"tipo": CHARS_50}, []),
    ("tipo-50-after-trim", {"tipo": f"   {CHARS_50}   "}, []),
    ("tipo-51", {"tipo": CHARS_51}, ["tipo_too_long"]),
    ("tipo-51-after-trim", {"tipo": f" {CHARS_51} "}, ["tipo_too_long"]),
    ("fk-null", {"condominio_id": None}, ["condominio_id_missing"]),
    ("fk-abc", {"condominio_id": "abc"}, ["condominio_id_not_integer"]),
    ("fk-orphan", {"condominio_id": "2"}, ["orphan_condominio"]),
    ("valor-null", {"valor": None}, ["valor_missing"]),
    ("valor-text", {"valor": "abc"}, ["valor_not_decimal_15_2"]),
    ("valor-comma", {"valor": "1,50"}, ["valor_not_decimal_15_2"]),
    ("valor-zero", {"valor": "0.00"}, ["valor_not_positive"]),
    ("valor-negative", {"valor": "-5"}, ["valor_not_positive"]),
    ("valor-one-cent", {"valor": "0.01"}, []),
    ("valor-one-decimal", {"valor": "1.5"}, []),
    ("valor-padded", {"valor": " 10.00 "}, []),
    ("valor-3-decimals", {"valor": "1.234"}, ["valor_not_decimal_15_2"]),
    ("valor-3-decimals-trailing-zero", {"valor": "1.230"}, []),
    ("valor-max-numeric-15-2", {"valor": "9999999999999.99"}, []),
    ("valor-too-big", {"valor": "99999999999999.99"}, ["valor_not_decimal_15_2"]),
    ("valor-negative-3-decimals", {"valor": "-1.234"},
     ["valor_not_decimal_15_2", "valor_not_positive"]),
    ("several-rules", {"imovel_id": None, "tipo": CHARS_51, "condominio_id": "3", "valor": "0"},
     ["imovel_id_missing", "tipo_too_long", "valor_not_positive", "orphan_condominio"]),
]


def test_imoveis_rules(spark: SparkSession) -> None:
    assert_reasons(spark, IMOVEIS, IMOVEIS_CASES)


# --- transacoes ------------------------------------------------------------------------------

TRANSACOES_CASES: list[Case] = [
    ("valid", {}, []),
    ("id-null", {"transacao_id": None}, ["transacao_id_missing"]),
    ("id-exponent", {"transacao_id": "1e3"}, ["transacao_id_not_integer"]),
    ("imovel-null", {"imovel_id": None}, ["imovel_id_missing"]),
    ("imovel-abc", {"imovel_id": "abc"}, ["imovel_id_not_integer"]),
    ("imovel-orphan", {"imovel_id": "101"}, ["orphan_imovel"]),
    ("morador-null", {"morador_id": None}, ["morador_id_missing"]),
    ("morador-abc", {"morador_id": "abc"}, ["morador_id_not_integer"]),
    ("morador-orphan", {"morador_id": "11"}, ["orphan_morador"]),
    ("both-orphans", {"imovel_id": "101", "morador_id": "11"},
     ["orphan_imovel", "orphan_morador"]),
    ("date-null", {"data_transacao": None}, ["data_transacao_missing"]),
    ("date-feb-31", {"data_transacao": "2024-02-31"}, ["data_transacao_not_date"]),
    ("date-year-only", {"data_transacao": "2024"}, ["data_transacao_not_date"]),
    ("date-dmy", {"data_transacao": "31/12/2024"}, ["data_transacao_not_date"]),
    ("date-before-1900", {"data_transacao": "1899-12-31"}, ["data_transacao_out_of_range"]),
    ("date-run-date", {"data_transacao": RUN_DATE.isoformat()}, []),
    ("date-after-run-date", {"data_transacao": DAY_AFTER_RUN}, ["data_transacao_out_of_range"]),
    ("valor-null", {"valor_transacao": None}, ["valor_transacao_missing"]),
    ("valor-zero", {"valor_transacao": "0.00"}, ["valor_transacao_not_positive"]),
    ("valor-negative", {"valor_transacao": "-5"}, ["valor_transacao_not_positive"]),
    ("valor-3-decimals", {"valor_transacao": "1.234"}, ["valor_transacao_not_decimal_15_2"]),
    ("valor-too-big", {"valor_transacao": "99999999999999.99"},
     ["valor_transacao_not_decimal_15_2"]),
    ("several-rules",
     {"transacao_id": "x", "imovel_id": "999", "morador_id": "y",
      "data_transacao": "2024-02-31", "valor_transacao": "0"},
     ["transacao_id_not_integer", "morador_id_not_integer", "data_transacao_not_date",
      "valor_transacao_not_positive", "orphan_imovel"]),
]


def test_transacoes_rules(spark: SparkSession) -> None:
    assert_reasons(spark, TRANSACOES, TRANSACOES_CASES)
