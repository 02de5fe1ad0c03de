"""Change rows: the latest version per key, stale changes, malformed records."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.source.tables import CONDOMINIOS
from condolake.spark_types import struct
from condolake.streaming.changes import (
    is_stale,
    is_truncated,
    malformed_records,
    with_latest,
)

INGESTED_AT = dt.datetime(2024, 6, 30, 12, 0, 0)
CHANGE_SCHEMA = struct(
    "condominio_id: string, nome: string, endereco: string, _op: string, _order: long, "
    "_tiebreak: long, _malformed: string, _detail: string, _raw: string, _source: string, "
    "_source_position: long, _ingest_run_id: string, _ingested_at: timestamp"
)
Change = tuple[str | None, str, str, int | None, int, str | None]


def changes(spark: SparkSession, rows: list[Change]) -> DataFrame:
    """Change rows of condominios from (key text, label, op, order, tiebreak, malformed).

    The label goes in `nome`, so a test can tell the versions of one key apart.
    """
    return spark.createDataFrame(
        [
            (key, label, "Rua 1", op, order, tiebreak, malformed,
             None if malformed is None else "detail", "raw", "kafka:t/0/1", order, "run-1",
             INGESTED_AT)
            for key, label, op, order, tiebreak, malformed in rows
        ],
        CHANGE_SCHEMA,
    )


def latest(spark: SparkSession, rows: list[tuple[str, bool]]) -> DataFrame:
    return spark.createDataFrame(rows, "nome string, _latest boolean")


# --- with_latest -----------------------------------------------------------------------------

def test_only_the_highest_order_of_a_key_is_latest(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("1", "v10", "u", 10, 1, None),
        ("1", "v30", "u", 30, 2, None),
        ("1", "v20", "u", 20, 3, None),
        ("2", "only", "c", 5, 4, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_latest"),
        latest(spark, [("v30", True), ("v20", False), ("v10", False), ("only", True)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_key_text_is_compared_as_its_integer(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("7", "older", "u", 1, 1, None),
        (" 7 ", "newer", "u", 2, 2, None),
        ("+7", "newest", "u", 3, 3, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_key", "_latest"),
        spark.createDataFrame([("newest", 7, True), ("newer", 7, False), ("older", 7, False)],
                              "nome string, _key int, _latest boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_same_order_is_broken_by_the_higher_tiebreak(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("1", "offset 8", "u", 100, 8, None),
        ("1", "offset 9", "u", 100, 9, None),
        ("1", "offset 7", "u", 100, 7, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_latest"),
        latest(spark, [("offset 9", True), ("offset 8", False), ("offset 7", False)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_a_delete_is_a_version_of_its_key(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("1", "created", "c", 1, 1, None),
        ("1", "deleted", "d", 2, 2, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_op", "_latest"),
        spark.createDataFrame([("deleted", "d", True), ("created", "c", False)],
                              "nome string, _op string, _latest boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_malformed_records_and_tombstones_are_no_version_of_a_key(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("1", "kept", "u", 10, 1, None),
        (None, "broken", "x", 99, 2, "malformed_event"),
        ("1", "broken with key", "u", 98, 3, "malformed_event"),
        ("1", "tombstone", "tombstone", None, 4, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_key", "_latest"),
        spark.createDataFrame(
            [("kept", 1, True), ("broken", None, True), ("broken with key", None, True),
             ("tombstone", None, True)],
            "nome string, _key int, _latest boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_a_truncate_is_no_version_of_a_key(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("1", "before", "u", 10, 1, None),
        (None, "truncate", "t", 20, 2, None),
        ("1", "after", "c", 30, 3, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_key", "_latest"),
        spark.createDataFrame(
            [("before", 1, False), ("truncate", None, True), ("after", 1, True)],
            "nome string, _key int, _latest boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_snapshot_reads_of_one_lsn_are_ordered_by_offset(spark: SparkSession) -> None:
    # A connector restarted mid-snapshot reads a key again at the same snapshot LSN.
    result = with_latest(changes(spark, [
        ("1", "first read", "r", 500, 3, None),
        ("2", "other key", "r", 500, 4, None),
        ("1", "read again", "r", 500, 9, None),
        ("1", "streamed", "u", 501, 10, None),
        ("2", "read again", "r", 500, 11, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("_key", "nome", "_latest"),
        spark.createDataFrame(
            [(1, "first read", False), (1, "read again", False), (1, "streamed", True),
             (2, "other key", False), (2, "read again", True)],
            "_key int, nome string, _latest boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_keys_that_do_not_parse_are_each_latest(spark: SparkSession) -> None:
    result = with_latest(changes(spark, [
        ("abc", "abc 1", "u", 1, 1, None),
        ("abc", "abc 2", "u", 2, 2, None),
        ("", "empty", "u", 3, 3, None),
        (None, "null 1", "u", 4, 4, None),
        (None, "null 2", "u", 5, 5, None),
        ("1.5", "decimal", "u", 6, 6, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_key", "_latest"),
        spark.createDataFrame(
            [("abc 1", None, True), ("abc 2", None, True), ("empty", None, True),
             ("null 1", None, True), ("null 2", None, True), ("decimal", None, True)],
            "nome string, _key int, _latest boolean",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_with_latest_keeps_every_column(spark: SparkSession) -> None:
    frame = changes(spark, [("1", "Aurora", "c", 1, 1, None)])
    result = with_latest(frame, CONDOMINIOS)
    assert result.columns == [*frame.columns, "_key", "_latest"]


# --- malformed_records -----------------------------------------------------------------------

def test_malformed_records_carry_their_reason_as_reasons(spark: SparkSession) -> None:
    result = malformed_records(changes(spark, [
        ("1", "fine", "u", 1, 1, None),
        (None, "broken", "x", None, 2, "malformed_event"),
    ]))
    assert_df_equality(
        result.select("nome", "_malformed", "_reasons"),
        spark.createDataFrame([("broken", "malformed_event", ["malformed_event"])],
                              "nome string, _malformed string, _reasons array<string>"),
        ignore_nullable=True,
    )


# --- is_stale --------------------------------------------------------------------------------

@pytest.mark.parametrize(("unique_orders", "stale"), [
    (True, [False, False, True, True]),  # an LSN: an equal order is the same change again
    (False, [False, False, False, True]),  # a file's time, shared: only an older order
])
def test_stale_when_the_known_order_is_not_older(spark: SparkSession, unique_orders: bool,
                                                 stale: list[bool]) -> None:
    known = [None, 4, 5, 6]
    frame = spark.createDataFrame([(k, 5) for k in known], "known long, _order long")
    result = frame.select("known", "_order",
                          is_stale(F.col("known"), unique_orders=unique_orders).alias("stale"))
    assert_df_equality(
        result,
        spark.createDataFrame([(k, 5, s) for k, s in zip(known, stale, strict=True)],
                              "known long, _order long, stale boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_truncated_when_older_than_the_truncate(spark: SparkSession) -> None:
    rows = [(None, 5, False), (6, 5, True), (5, 5, False), (4, 5, False)]
    frame = spark.createDataFrame([(t, o) for t, o, _ in rows], "truncated_at long, _order long")
    result = frame.select("truncated_at", "_order",
                          is_truncated(F.col("truncated_at")).alias("truncated"))
    assert_df_equality(
        result, spark.createDataFrame(rows, "truncated_at long, _order long, truncated boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )
