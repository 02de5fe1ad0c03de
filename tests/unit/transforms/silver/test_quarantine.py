"""Rejected records in the quarantine's shape: raw JSON, reasons and a stable fingerprint."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from condolake.layout import (
    INGESTED_AT_COL,
    POSITION_COL,
    RAW_COL,
    RECORD_ID_COL,
    RUN_ID_COL,
    SOURCE_COL,
    quarantine_schema,
)
from condolake.source.tables import CONDOMINIOS, SourceTable
from condolake.transforms.silver.quarantine import (
    malformed_to_quarantine,
    record_fingerprint,
    to_quarantine,
)
from condolake.transforms.silver.validate import is_valid, validated

from ..frames import INGESTED_AT, RUN_ID, SOURCE, bronze

RUN_DATE = dt.date(2024, 6, 30)
QUARANTINED_AT = dt.datetime(2024, 6, 30, 12, 5, 0)


def fingerprint(source: str, position: int | None, raw: str) -> str:
    """The quarantine's merge key: sha256 of source, position and raw text joined by U+0001.

    Pinned on purpose: changing it would re-key every row already in quarantine.
    """
    text = "\u0001".join([source, "" if position is None else str(position), raw])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def raw_json(table: SourceTable, record: dict[str, str | None]) -> str:
    """The record as compact JSON, in column order, NULLs kept."""
    ordered = {name: record.get(name) for name in table.column_names}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def quarantined(
    spark: SparkSession, table: SourceTable, rows: list[tuple[object, ...]]
) -> DataFrame:
    return spark.createDataFrame(rows, quarantine_schema(table))


def test_to_quarantine_row_is_exact(spark: SparkSession) -> None:
    record: dict[str, str | None] = {"condominio_id": "1", "nome": "   ", "endereco": None}
    raw = bronze(spark, CONDOMINIOS, [record], positions=[4])
    checked = validated(raw, CONDOMINIOS, RUN_DATE, {})

    result = to_quarantine(checked.where(~is_valid()), CONDOMINIOS, QUARANTINED_AT)

    text = '{"condominio_id":"1","nome":"   ","endereco":null}'
    expected = quarantined(spark, CONDOMINIOS, [(
        "1", "   ", None,
        SOURCE, 4, RUN_ID, INGESTED_AT,
        text, ["nome_blank", "endereco_missing"], None, fingerprint(SOURCE, 4, text),
        QUARANTINED_AT, None, None, None,
    )])
    assert_df_equality(result, expected, ignore_nullable=True)


def test_raw_json_keeps_the_text_exactly(spark: SparkSession) -> None:
    record: dict[str, str | None] = {
        "condominio_id": " 07 ", "nome": 'Edifício "Sol" \\ Bloco A', "endereco": "",
    }
    checked = validated(bronze(spark, CONDOMINIOS, [record]), CONDOMINIOS, RUN_DATE, {})

    result = to_quarantine(checked, CONDOMINIOS, QUARANTINED_AT).select(RAW_COL)

    text = '{"condominio_id":" 07 ","nome":"Edifício \\"Sol\\" \\\\ Bloco A","endereco":""}'
    expected = spark.createDataFrame([(text,)], f"{RAW_COL} string")
    assert_df_equality(result, expected, ignore_nullable=True)


def test_same_record_read_again_has_the_same_id(spark: SparkSession) -> None:
    record: dict[str, str | None] = {"condominio_id": "x", "nome": "A", "endereco": "B"}
    # A later run reads the same row again: neither run id nor ingestion time is identity.
    later = dt.datetime(2024, 7, 1, 9, 0, 0)
    runs = [
        bronze(spark, CONDOMINIOS, [record], positions=[2]),
        bronze(spark, CONDOMINIOS, [record], positions=[2], ingested_at=[later], run_id="run-2"),
    ]
    ids = [
        to_quarantine(validated(run, CONDOMINIOS, RUN_DATE, {}), CONDOMINIOS, QUARANTINED_AT)
        .select(RECORD_ID_COL)
        for run in runs
    ]
    text = raw_json(CONDOMINIOS, record)
    expected = spark.createDataFrame([(fingerprint(SOURCE, 2, text),)], f"{RECORD_ID_COL} string")
    for run_ids in ids:
        assert_df_equality(run_ids, expected, ignore_nullable=True)


def test_fingerprint_depends_on_source_position_and_raw_only(spark: SparkSession) -> None:
    rows = [
        ("base", "csv:a.csv", 1, "run-1", '{"x":"1"}'),
        ("other-run", "csv:a.csv", 1, "run-2", '{"x":"1"}'),
        ("other-source", "csv:b.csv", 1, "run-1", '{"x":"1"}'),
        ("other-position", "csv:a.csv", 2, "run-1", '{"x":"1"}'),
        ("no-position", "csv:a.csv", None, "run-1", '{"x":"1"}'),
        ("other-raw", "csv:a.csv", 1, "run-1", '{"x":"2"}'),
    ]
    frame = spark.createDataFrame(
        rows, f"case string, {SOURCE_COL} string, {POSITION_COL} long, {RUN_ID_COL} string, "
              f"{RAW_COL} string",
    )

    result = frame.select("case", record_fingerprint().alias(RECORD_ID_COL))

    expected = spark.createDataFrame(
        [(case, fingerprint(source, position, raw)) for case, source, position, _, raw in rows],
        f"case string, {RECORD_ID_COL} string",
    )
    assert_df_equality(result, expected, ignore_nullable=True, ignore_row_order=True)
    ids = {row["case"]: row[RECORD_ID_COL] for row in result.collect()}
    assert ids["other-run"] == ids["base"]
    others = [ids[case] for case in ids if case not in ("base", "other-run")]
    assert len(set(others + [ids["base"]])) == len(others) + 1


def test_malformed_record_keeps_its_text_and_detail(spark: SparkSession) -> None:
    line = '1;"Aurora;Rua A'
    malformed = spark.createDataFrame(
        [(line, ["malformed_line"], "unclosed quote", "csv:condominios.csv", 7, RUN_ID,
          INGESTED_AT)],
        f"{RAW_COL} string, _reasons array<string>, _detail string, {SOURCE_COL} string, "
        f"{POSITION_COL} long, {RUN_ID_COL} string, {INGESTED_AT_COL} timestamp",
    )

    result = malformed_to_quarantine(malformed, CONDOMINIOS, QUARANTINED_AT)

    expected = quarantined(spark, CONDOMINIOS, [(
        None, None, None,
        "csv:condominios.csv", 7, RUN_ID, INGESTED_AT,
        line, ["malformed_line"], "unclosed quote", fingerprint("csv:condominios.csv", 7, line),
        QUARANTINED_AT, None, None, None,
    )])
    assert_df_equality(result, expected, ignore_nullable=True)
