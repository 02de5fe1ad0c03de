"""Lines of landing-zone files -> change rows: CSV with a header, JSON lines, malformed rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.source.tables import CONDOMINIOS, IMOVEIS
from condolake.streaming.changes import change_columns
from condolake.streaming.landing import changes_from_lines

RUN_ID = "stream-landing-3"
CSV_FILE = "file:/lake/landing/condominios/batch-1.csv"
JSON_FILE = "file:/lake/landing/condominios/batch-2.jsonl"
# Modification times as UTC instants, so `_order` does not depend on the session's time zone.
CSV_MODIFIED = dt.datetime(2024, 6, 30, 12, 0, 0, tzinfo=dt.UTC)
JSON_MODIFIED = dt.datetime(2024, 6, 30, 12, 0, 1, 500, tzinfo=dt.UTC)
CSV_ORDER = 1_719_748_800_000_000
JSON_ORDER = 1_719_748_801_000_500
COMPARED = [*CONDOMINIOS.column_names, "_op", "_order", "_malformed", "_detail", "_raw",
            "_source", "_source_position", "_ingest_run_id"]


def lines(spark: SparkSession, file_path: str, modified: dt.datetime, table: str,
          values: list[str]) -> DataFrame:
    """Lines of one file, shaped like `with_file_columns` output."""
    return spark.createDataFrame(
        [(value, file_path, modified, table) for value in values],
        "value string, file_path string, file_modified timestamp, table string",
    )


def expected(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    """(condominio_id, nome, endereco, _order, _malformed, _detail, _raw, file path); the
    position is the order: the file's modification time."""
    return spark.createDataFrame(
        [(key, nome, endereco, "r", order, malformed, detail, raw, f"landing:{path}", order,
          RUN_ID) for key, nome, endereco, order, malformed, detail, raw, path in rows],
        "condominio_id string, nome string, endereco string, _op string, _order long, "
        "_malformed string, _detail string, _raw string, _source string, "
        "_source_position long, _ingest_run_id string",
    )


def csv_lines(spark: SparkSession, values: list[str]) -> DataFrame:
    return lines(spark, CSV_FILE, CSV_MODIFIED, "condominios", values)


def json_lines(spark: SparkSession, values: list[str]) -> DataFrame:
    return lines(spark, JSON_FILE, JSON_MODIFIED, "condominios", values)


def test_output_contract(spark: SparkSession) -> None:
    result = changes_from_lines(csv_lines(spark, ["1,Aurora,Rua 1"]), CONDOMINIOS, RUN_ID)
    assert result.columns == change_columns(CONDOMINIOS)
    assert [row["_tx"] for row in result.collect()] == [None]  # no source transaction


# --- CSV -------------------------------------------------------------------------------------

def test_csv_rows_are_text_columns_and_the_header_is_skipped(spark: SparkSession) -> None:
    quoted = '2,"Bela Vista, Torre A",Rua 2'
    result = changes_from_lines(
        csv_lines(spark, ["condominio_id,nome,endereco", "1,Aurora,Rua 1", quoted,
                          "3,Cedro"]),
        CONDOMINIOS, RUN_ID,
    )
    assert_df_equality(
        result.select(*COMPARED),
        expected(spark, [
            ("1", "Aurora", "Rua 1", CSV_ORDER, None, None, "1,Aurora,Rua 1", CSV_FILE),
            ("2", "Bela Vista, Torre A", "Rua 2", CSV_ORDER, None, None, quoted, CSV_FILE),
            # Too few fields is the rules' business (a NULL address), not a malformed row.
            ("3", "Cedro", None, CSV_ORDER, None, None, "3,Cedro", CSV_FILE),
        ]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_header_is_recognised_whatever_its_case_and_spacing(spark: SparkSession) -> None:
    result = changes_from_lines(
        csv_lines(spark, [" CONDOMINIO_ID , Nome, Endereco", "1,Aurora,Rua 1"]),
        CONDOMINIOS, RUN_ID,
    )
    assert [row.condominio_id for row in result.collect()] == ["1"]


def test_csv_row_with_an_extra_field_is_malformed(spark: SparkSession) -> None:
    result = changes_from_lines(csv_lines(spark, ["3,Cedro,Rua 3,extra"]), CONDOMINIOS, RUN_ID)
    assert_df_equality(
        result.select(*COMPARED),
        expected(spark, [(None, None, None, CSV_ORDER, "malformed_row",
                          "more than the 3 fields of condominios", "3,Cedro,Rua 3,extra",
                          CSV_FILE)]),
        ignore_nullable=True,
    )


def test_blank_lines_are_dropped(spark: SparkSession) -> None:
    result = changes_from_lines(csv_lines(spark, ["", "   ", "1,Aurora,Rua 1"]),
                                CONDOMINIOS, RUN_ID)
    assert [row.condominio_id for row in result.collect()] == ["1"]


# --- JSON lines ------------------------------------------------------------------------------

def test_json_lines_are_text_columns(spark: SparkSession) -> None:
    line = '{"condominio_id": 4, "nome": "Dália", "endereco": "Rua 4"}'
    result = changes_from_lines(json_lines(spark, [line]), CONDOMINIOS, RUN_ID)
    assert_df_equality(
        result.select(*COMPARED),
        expected(spark, [("4", "Dália", "Rua 4", JSON_ORDER, None, None, line, JSON_FILE)]),
        ignore_nullable=True,
    )


def imoveis_json(spark: SparkSession, valores: list[str]) -> DataFrame:
    """One JSON line per `valor` (given as JSON text: a number or a quoted string)."""
    values = [
        f'{{"imovel_id": {key}, "tipo": "casa", "condominio_id": 1, "valor": {valor}}}'
        for key, valor in enumerate(valores, start=100)
    ]
    return lines(spark, "file:/lake/landing/imoveis/i.json", JSON_MODIFIED, "imoveis", values)


def test_json_strings_are_kept_as_they_are(spark: SparkSession) -> None:
    result = changes_from_lines(imoveis_json(spark, ['"1234.50"', '" 0.10 "']), IMOVEIS, RUN_ID)
    assert_df_equality(
        result.select("imovel_id", "valor", "_malformed"),
        spark.createDataFrame([("100", "1234.50", None), ("101", " 0.10 ", None)],
                              "imovel_id string, valor string, _malformed string"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_json_numbers_keep_their_exact_text(spark: SparkSession) -> None:
    # The money rule judges the digits that arrived: a number must not pass through a double
    # (9.99999999999999E12, 1.0). Only trailing zeros go (the decimal's value is kept).
    numbers = ["1234.50", "9999999999999.99", "1.0000000000000001", "7"]
    result = changes_from_lines(imoveis_json(spark, numbers), IMOVEIS, RUN_ID)
    assert_df_equality(
        result.select("imovel_id", "valor", "_malformed"),
        spark.createDataFrame(
            [("100", "1234.5", None), ("101", "9999999999999.99", None),
             ("102", "1.0000000000000001", None), ("103", "7", None)],
            "imovel_id string, valor string, _malformed string",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_lines_that_are_not_json_objects_are_malformed(spark: SparkSession) -> None:
    values = ["not json", '{"condominio_id": 5', "[1, 2]"]
    result = changes_from_lines(json_lines(spark, values), CONDOMINIOS, RUN_ID)
    assert_df_equality(
        result.select(*COMPARED),
        expected(spark, [(None, None, None, JSON_ORDER, "malformed_row", "not a JSON object",
                          value, JSON_FILE) for value in values]),
        ignore_nullable=True, ignore_row_order=True,
    )


# --- files of several tables -----------------------------------------------------------------

def test_lines_of_another_tables_folder_are_ignored(spark: SparkSession) -> None:
    mixed = csv_lines(spark, ["1,Aurora,Rua 1"]).unionByName(
        lines(spark, "file:/lake/landing/moradores/m.csv", CSV_MODIFIED, "moradores",
              ["morador_id,nome,condominio_id,data_registro", "10,Ana,1,2020-01-15"])
    )
    result = changes_from_lines(mixed, CONDOMINIOS, RUN_ID)
    assert [tuple(row) for row in result.select(*CONDOMINIOS.column_names).collect()] == [
        ("1", "Aurora", "Rua 1"),
    ]


def test_later_file_has_the_higher_order(spark: SparkSession) -> None:
    both = csv_lines(spark, ["1,Aurora,Rua 1"]).unionByName(
        json_lines(spark, ['{"condominio_id": 1, "nome": "Aurora", "endereco": "Rua 9"}'])
    )
    result = changes_from_lines(both, CONDOMINIOS, RUN_ID)
    assert sorted((row.endereco, row._order) for row in result.collect()) == [
        ("Rua 1", CSV_ORDER), ("Rua 9", JSON_ORDER),
    ]


def test_every_change_has_a_distinct_tiebreak_and_an_ingestion_time(spark: SparkSession) -> None:
    result = changes_from_lines(
        csv_lines(spark, ["1,Aurora,Rua 1", "1,Aurora,Rua 2", "2,Bela,Rua 3"]),
        CONDOMINIOS, RUN_ID,
    )
    counts = result.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct("_tiebreak").alias("tiebreaks"),
        F.count("_ingested_at").alias("ingested"),
    ).first()
    assert counts is not None
    assert (counts.rows, counts.tiebreaks, counts.ingested) == (3, 3, 3)
