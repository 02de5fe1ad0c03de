"""Debezium change events in bronze/kafka_events -> change rows (every column as exact text)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.catalog import KAFKA_EVENTS_SCHEMA
from condolake.source.debezium import change_event
from condolake.source.tables import CONDOMINIOS, TRANSACOES
from condolake.spark_types import struct
from condolake.streaming.changes import change_columns
from condolake.streaming.kafka_events import changes_from_events, table_of_topic

TOPIC = "condomanage.public.transacoes"
RUN_ID = "stream-kafka-7"
BRONZE_RUN_ID = "stream-kafka-7"
KAFKA_TIME = dt.datetime(2024, 6, 30, 11, 59, 0)
INGESTED_AT = dt.datetime(2024, 6, 30, 12, 0, 0)
DAY_2024_01_31 = 19753  # days since 1970-01-01
ROW: dict[str, Any] = {"transacao_id": 1000, "imovel_id": 100, "morador_id": 10,
       "data_transacao": DAY_2024_01_31, "valor_transacao": "1234.50"}
ROW_TEXT = ("1000", "100", "10", "2024-01-31", "1234.50")
NO_ROW = (None, None, None, None, None)
# What the tests compare besides the row's columns (lineage is checked in its own test).
Event = tuple[str | None, str | None, int]  # Kafka key, value, offset
SUMMARY = ["_op", "_order", "_malformed", "_detail"]


def envelope(op: str | None, before: dict[str, Any] | None, after: dict[str, Any] | None,
             lsn: int | None = 5000) -> str:
    event: dict[str, Any] = {
        "before": before, "after": after, "ts_ms": 1719748740000,
        "source": {"lsn": lsn, "ts_ms": 1719748740000, "txId": 741},
    }
    if op is not None:
        event["op"] = op
    return json.dumps(event)


def key_of(transacao_id: int) -> str:
    return json.dumps({"transacao_id": transacao_id})


def events(spark: SparkSession, records: Sequence[Event],
           topic: str = TOPIC) -> DataFrame:
    """bronze/kafka_events rows from (key, value, offset), all on partition 0 of `topic`."""
    rows = [
        (key, value, topic, 0, offset, KAFKA_TIME, f"kafka:{topic}/0/{offset}", offset,
         BRONZE_RUN_ID, INGESTED_AT)
        for key, value, offset in records
    ]
    return spark.createDataFrame(rows, KAFKA_EVENTS_SCHEMA)


def summary(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    columns = ", ".join(f"{name} string" for name in TRANSACOES.column_names)
    return spark.createDataFrame(
        rows, f"{columns}, _op string, _order long, _malformed string, _detail string"
    )


def changes_of(spark: SparkSession, records: Sequence[Event]
               ) -> DataFrame:
    return changes_from_events(events(spark, records), TRANSACOES, RUN_ID).select(
        *TRANSACOES.column_names, *SUMMARY
    )


# --- table_of_topic --------------------------------------------------------------------------

def test_table_of_topic_is_the_last_dotted_part(spark: SparkSession) -> None:
    topics = spark.createDataFrame(
        [("condomanage.public.transacoes",), ("cdc.public.condominios",), ("moradores",)],
        "topic string",
    )
    result = topics.select(table_of_topic(F.col("topic")).alias("table"))
    assert sorted(row.table for row in result.collect()) == [
        "condominios", "moradores", "transacoes",
    ]


# --- readable events -------------------------------------------------------------------------

def test_create_event_gives_exact_text_and_full_lineage(spark: SparkSession) -> None:
    value = envelope("c", None, ROW, lsn=5000)
    result = changes_from_events(events(spark, [(key_of(1000), value, 42)]), TRANSACOES, RUN_ID)
    assert result.columns == change_columns(TRANSACOES)
    expected = spark.createDataFrame(
        [(*ROW_TEXT, "c", 5000, 42, 741, None, None, value, f"kafka:{TOPIC}/0/42", 5000, RUN_ID,
          INGESTED_AT)],
        struct(", ".join(f"{name}: string" for name in TRANSACOES.column_names)
               + ", _op: string, _order: long, _tiebreak: long, _tx: long, _malformed: string, "
               "_detail: string, _raw: string, _source: string, _source_position: long, "
               "_ingest_run_id: string, _ingested_at: timestamp"),
    )
    assert_df_equality(result, expected, ignore_nullable=True)


def test_money_keeps_its_digits_and_dates_become_iso_text(spark: SparkSession) -> None:
    rows = [
        {**ROW, "transacao_id": 1, "valor_transacao": "0.10", "data_transacao": 0},
        {**ROW, "transacao_id": 2, "valor_transacao": "9999999999999.99",
         "data_transacao": 19782},  # 2024-02-29
        {**ROW, "transacao_id": 3, "valor_transacao": "-5.00", "data_transacao": -1},
    ]
    result = changes_of(spark, [(key_of(row["transacao_id"]), envelope("c", None, row), i)
                                for i, row in enumerate(rows)])
    assert_df_equality(
        result.select("transacao_id", "data_transacao", "valor_transacao"),
        spark.createDataFrame(
            [("1", "1970-01-01", "0.10"), ("2", "2024-02-29", "9999999999999.99"),
             ("3", "1969-12-31", "-5.00")],
            "transacao_id string, data_transacao string, valor_transacao string",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_update_takes_the_after_image(spark: SparkSession) -> None:
    after = {**ROW, "valor_transacao": "99.90"}
    result = changes_of(spark, [(key_of(1000), envelope("u", ROW, after, lsn=6000), 1)])
    assert_df_equality(
        result,
        summary(spark, [("1000", "100", "10", "2024-01-31", "99.90", "u", 6000, None, None)]),
        ignore_nullable=True,
    )


def test_snapshot_read_is_an_upsert_of_the_after_image(spark: SparkSession) -> None:
    result = changes_of(spark, [(key_of(1000), envelope("r", None, ROW, lsn=10), 1)])
    assert_df_equality(result, summary(spark, [(*ROW_TEXT, "r", 10, None, None)]),
                       ignore_nullable=True)


def test_delete_takes_the_before_image(spark: SparkSession) -> None:
    result = changes_of(spark, [(key_of(1000), envelope("d", ROW, None, lsn=7000), 1)])
    assert_df_equality(result, summary(spark, [(*ROW_TEXT, "d", 7000, None, None)]),
                       ignore_nullable=True)


def test_delete_without_before_takes_the_key_from_the_kafka_key(spark: SparkSession) -> None:
    result = changes_of(spark, [(key_of(1000), envelope("d", None, None, lsn=7000), 1)])
    assert_df_equality(
        result, summary(spark, [("1000", None, None, None, None, "d", 7000, None, None)]),
        ignore_nullable=True,
    )


def test_tombstone_is_not_malformed(spark: SparkSession) -> None:
    result = changes_from_events(events(spark, [(key_of(1000), None, 9)]), TRANSACOES, RUN_ID)
    assert_df_equality(
        result.select("_op", "_order", "_malformed", "_detail", "_raw"),
        spark.createDataFrame([("tombstone", None, None, None, "")],
                              "_op string, _order long, _malformed string, _detail string, "
                              "_raw string"),
        ignore_nullable=True,
    )


def test_simulator_events_read_back_as_their_rows(spark: SparkSession) -> None:
    row = {"condominio_id": 7, "nome": "Aurora, Torre \"A\"", "endereco": "Rua São João, 1"}
    key, value = change_event(CONDOMINIOS, "c", None, row, prefix="condomanage",
                              database="condomanage", lsn=24023928, tx_id=741,
                              commit_ms=1767225600000, produced_ms=1767225600123)
    frame = events(spark, [(key.decode(), value.decode(), 3)],
                   topic="condomanage.public.condominios")
    result = changes_from_events(frame, CONDOMINIOS, RUN_ID).select(
        *CONDOMINIOS.column_names, "_op", "_order", "_malformed"
    )
    assert_df_equality(
        result,
        spark.createDataFrame(
            [("7", "Aurora, Torre \"A\"", "Rua São João, 1", "c", 24023928, None)],
            "condominio_id string, nome string, endereco string, _op string, _order long, "
            "_malformed string",
        ),
        ignore_nullable=True,
    )


# --- malformed events ------------------------------------------------------------------------

def test_malformed_events_say_why_and_keep_the_raw_value(spark: SparkSession) -> None:
    records = [
        (key_of(1), "not json", 1),
        (key_of(2), envelope("x", None, ROW), 2),
        (key_of(3), envelope("c", None, None), 3),
        (key_of(4), envelope("u", ROW, None), 4),
        (key_of(5), envelope("c", None, ROW, lsn=None), 5),
        (key_of(6), envelope(None, None, ROW), 6),
    ]
    result = changes_from_events(events(spark, records), TRANSACOES, RUN_ID)
    assert_df_equality(
        result.select("_tiebreak", *TRANSACOES.column_names, "_malformed", "_detail", "_raw"),
        spark.createDataFrame(
            [
                (1, *NO_ROW, "malformed_event", "not a change event (no op)", "not json"),
                (2, *NO_ROW, "malformed_event", "unknown op x", records[1][1]),
                (3, *NO_ROW, "malformed_event", "op c without after", records[2][1]),
                (4, *NO_ROW, "malformed_event", "op u without after", records[3][1]),
                (5, *NO_ROW, "malformed_event", "no source.lsn", records[4][1]),
                (6, *NO_ROW, "malformed_event", "not a change event (no op)", records[5][1]),
            ],
            "_tiebreak long, transacao_id string, imovel_id string, morador_id string, "
            "data_transacao string, valor_transacao string, _malformed string, "
            "_detail string, _raw string",
        ),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_readable_events_have_no_reason(spark: SparkSession) -> None:
    records = [
        (key_of(1000), envelope("c", None, ROW), 1),
        (key_of(1000), envelope("u", ROW, ROW), 2),
        (key_of(1000), envelope("d", ROW, None), 3),
        (key_of(1000), None, 4),
    ]
    result = changes_from_events(events(spark, records), TRANSACOES, RUN_ID)
    assert result.where(F.col("_malformed").isNotNull() | F.col("_detail").isNotNull()).count() \
        == 0


def test_tiebreak_is_the_kafka_offset(spark: SparkSession) -> None:
    records = [(key_of(1000), envelope("u", ROW, {**ROW, "valor_transacao": valor}, lsn=5000),
                offset) for offset, valor in [(11, "1.00"), (12, "2.00")]]
    result = changes_from_events(events(spark, records), TRANSACOES, RUN_ID)
    assert_df_equality(
        result.select("valor_transacao", "_order", "_tiebreak"),
        spark.createDataFrame([("1.00", 5000, 11), ("2.00", 5000, 12)],
                              "valor_transacao string, _order long, _tiebreak long"),
        ignore_nullable=True, ignore_row_order=True,
    )


# --- operations as Debezium 3.x emits them ---------------------------------------------------

CONDOS_TOPIC = "condomanage.public.condominios"
CONDO = {"condominio_id": 7, "nome": "Aurora", "endereco": "Rua 1"}


def debezium_value(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, *,
                   lsn: int, tx_id: int, snapshot: str = "false") -> str:
    """The value of a Debezium 3.x PostgreSQL connector's record (JSON converter, schemas off),
    every field it writes included."""
    return json.dumps({
        "before": before, "after": after,
        "source": {
            "version": "3.6.1.Final", "connector": "postgresql", "name": "condomanage",
            "ts_ms": 1764979200000, "snapshot": snapshot, "db": "condomanage",
            "sequence": json.dumps([None, str(lsn)]), "ts_us": 1764979200000000,
            "ts_ns": 1764979200000000000, "schema": "public", "table": "condominios",
            "txId": tx_id, "lsn": lsn, "xmin": None,
        },
        "transaction": None, "op": op, "ts_ms": 1764979200123, "ts_us": 1764979200123456,
        "ts_ns": 1764979200123456789,
    })


def condo_key(condominio_id: int) -> str:
    return json.dumps({"condominio_id": condominio_id})


def condo_changes(spark: SparkSession, records: Sequence[Event]) -> DataFrame:
    return changes_from_events(events(spark, records, topic=CONDOS_TOPIC), CONDOMINIOS, RUN_ID)


def test_snapshot_reads_are_upserts_whatever_their_snapshot_marker(spark: SparkSession) -> None:
    markers = ["first", "first_in_data_collection", "true", "last_in_data_collection",
               "last", "false", "incremental"]
    records = [(condo_key(i), debezium_value("r", None, {**CONDO, "condominio_id": i},
                                             lsn=26843544, tx_id=760, snapshot=marker), i)
               for i, marker in enumerate(markers, start=1)]
    result = condo_changes(spark, records).select(
        "condominio_id", "_op", "_order", "_tiebreak", "_tx", "_malformed", "_detail")
    assert_df_equality(
        result,
        spark.createDataFrame(
            [(str(i), "r", 26843544, i, 760, None, None) for i in range(1, len(markers) + 1)],
            "condominio_id string, _op string, _order long, _tiebreak long, _tx long, "
            "_malformed string, _detail string"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_truncate_is_a_keyless_change_at_its_lsn(spark: SparkSession) -> None:
    value = debezium_value("t", None, None, lsn=26900000, tx_id=771)
    result = condo_changes(spark, [(None, value, 5)])
    assert_df_equality(
        result.select(*CONDOMINIOS.column_names, "_op", "_order", "_tx", "_malformed",
                      "_detail", "_raw"),
        spark.createDataFrame(
            [(None, None, None, "t", 26900000, 771, None, None, value)],
            "condominio_id string, nome string, endereco string, _op string, _order long, "
            "_tx long, _malformed string, _detail string, _raw string"),
        ignore_nullable=True,
    )


def test_truncate_without_lsn_is_malformed(spark: SparkSession) -> None:
    value = json.dumps({"before": None, "after": None, "op": "t", "source": {"txId": 3}})
    result = condo_changes(spark, [(None, value, 5)]).select("_malformed", "_detail")
    assert [tuple(row) for row in result.collect()] == [("malformed_event", "no source.lsn")]


def test_unavailable_values_are_rejected_naming_their_columns(spark: SparkSession) -> None:
    placeholder = "__debezium_unavailable_value"
    records = [
        # REPLICA IDENTITY DEFAULT: an update that leaves a TOASTed text unchanged.
        (condo_key(7), debezium_value("u", None, {**CONDO, "endereco": placeholder},
                                      lsn=100, tx_id=1), 1),
        (condo_key(8), debezium_value("u", {**CONDO, "nome": placeholder},
                                      {**CONDO, "condominio_id": 8, "endereco": placeholder},
                                      lsn=101, tx_id=2), 2),
        (condo_key(9), debezium_value("u", None, {**CONDO, "condominio_id": 9,
                                                  "nome": "__debezium_unavailable_value!"},
                                      lsn=102, tx_id=3), 3),
    ]
    result = condo_changes(spark, records).select(
        "_tiebreak", "condominio_id", "_malformed", "_detail")
    assert_df_equality(
        result,
        spark.createDataFrame(
            [(1, None, "unavailable_value",
              "unavailable value (REPLICA IDENTITY not FULL) in: endereco"),
             (2, None, "unavailable_value",
              "unavailable value (REPLICA IDENTITY not FULL) in: nome, endereco"),
             (3, "9", None, None)],  # only the exact literal is the placeholder
            "_tiebreak long, condominio_id string, _malformed string, _detail string"),
        ignore_nullable=True, ignore_row_order=True,
    )


def test_primary_key_update_is_a_delete_a_tombstone_and_a_create(spark: SparkSession) -> None:
    # UPDATE condominios SET condominio_id = 70 WHERE condominio_id = 7 (REPLICA IDENTITY
    # FULL): one WAL record, so both events carry its LSN and transaction.
    records = [
        (condo_key(7), debezium_value("d", CONDO, None, lsn=500, tx_id=9), 1),
        (condo_key(7), None, 2),
        (condo_key(70), debezium_value("c", None, {**CONDO, "condominio_id": 70},
                                       lsn=500, tx_id=9), 3),
    ]
    result = condo_changes(spark, records).select(
        "condominio_id", "nome", "_op", "_order", "_tx", "_malformed")
    assert_df_equality(
        result,
        spark.createDataFrame(
            [("7", "Aurora", "d", 500, 9, None), ("7", None, "tombstone", None, None, None),
             ("70", "Aurora", "c", 500, 9, None)],
            "condominio_id string, nome string, _op string, _order long, _tx long, "
            "_malformed string"),
        ignore_nullable=True, ignore_row_order=True,
    )
