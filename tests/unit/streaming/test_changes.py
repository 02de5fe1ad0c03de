"""Change rows: the latest version per key, stale changes, malformed records."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.lake.types import struct
from condolake.source.tables import CONDOMINIOS
from condolake.streaming.changes import is_stale, malformed_records, ranked_changes

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


def ranks(spark: SparkSession, rows: list[tuple[str, int]]) -> DataFrame:
    return spark.createDataFrame(rows, "nome string, _rank int")


# --- ranked_changes --------------------------------------------------------------------------

def test_latest_order_of_a_key_ranks_first(spark: SparkSession) -> None:
    result = ranked_changes(changes(spark, [
        ("1", "v10", "u", 10, 1, None),
        ("1", "v30", "u", 30, 2, None),
        ("1", "v20", "u", 20, 3, None),
        ("2", "only", "c", 5, 4, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_rank"),
        ranks(spark, [("v30", 1), ("v20", 2), ("v10", 3), ("only", 1)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_key_text_is_compared_as_its_integer(spark: SparkSession) -> None:
    result = ranked_changes(changes(spark, [
        ("7", "older", "u", 1, 1, None),
        (" 7 ", "newer", "u", 2, 2, None),
        ("+7", "newest", "u", 3, 3, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_key", "_rank"),
        spark.createDataFrame([("newest", 7, 1), ("newer", 7, 2), ("older", 7, 3)],
                              "nome string, _key int, _rank int"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_same_order_is_broken_by_the_higher_tiebreak(spark: SparkSession) -> None:
    result = ranked_changes(changes(spark, [
        ("1", "offset 8", "u", 100, 8, None),
        ("1", "offset 9", "u", 100, 9, None),
        ("1", "offset 7", "u", 100, 7, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_rank"),
        ranks(spark, [("offset 9", 1), ("offset 8", 2), ("offset 7", 3)]),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_a_delete_is_a_version_of_its_key(spark: SparkSession) -> None:
    result = ranked_changes(changes(spark, [
        ("1", "created", "c", 1, 1, None),
        ("1", "deleted", "d", 2, 2, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_op", "_rank"),
        spark.createDataFrame([("deleted", "d", 1), ("created", "c", 2)],
                              "nome string, _op string, _rank int"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_malformed_records_and_tombstones_are_left_out(spark: SparkSession) -> None:
    result = ranked_changes(changes(spark, [
        ("1", "kept", "u", 10, 1, None),
        (None, "broken", "x", 99, 2, "malformed_event"),
        ("1", "broken with key", "u", 98, 3, "malformed_event"),
        ("1", "tombstone", "tombstone", None, 4, None),
    ]), CONDOMINIOS)
    assert_df_equality(result.select("nome", "_rank"), ranks(spark, [("kept", 1)]),
                       ignore_nullable=True)


def test_keys_that_do_not_parse_rank_first_each(spark: SparkSession) -> None:
    result = ranked_changes(changes(spark, [
        ("abc", "abc 1", "u", 1, 1, None),
        ("abc", "abc 2", "u", 2, 2, None),
        ("", "empty", "u", 3, 3, None),
        (None, "null 1", "u", 4, 4, None),
        (None, "null 2", "u", 5, 5, None),
        ("1.5", "decimal", "u", 6, 6, None),
    ]), CONDOMINIOS)
    assert_df_equality(
        result.select("nome", "_key", "_rank"),
        spark.createDataFrame(
            [("abc 1", None, 1), ("abc 2", None, 1), ("empty", None, 1), ("null 1", None, 1),
             ("null 2", None, 1), ("decimal", None, 1)],
            "nome string, _key int, _rank int",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_ranked_changes_keep_every_column(spark: SparkSession) -> None:
    frame = changes(spark, [("1", "Aurora", "c", 1, 1, None)])
    result = ranked_changes(frame, CONDOMINIOS)
    assert result.columns == [*frame.columns, "_key", "_rank"]


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

def test_stale_when_the_known_order_is_not_older(spark: SparkSession) -> None:
    frame = spark.createDataFrame(
        [(None, 5), (4, 5), (5, 5), (6, 5)], "known long, _order long"
    )
    result = frame.select("known", "_order", is_stale(F.col("known")).alias("stale"))
    assert_df_equality(
        result,
        spark.createDataFrame(
            [(None, 5, False), (4, 5, False), (5, 5, True), (6, 5, True)],
            "known long, _order long, stale boolean",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )
