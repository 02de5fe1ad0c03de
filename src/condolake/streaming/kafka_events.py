"""Kafka records carrying Debezium PostgreSQL change events -> change rows (pure transforms).

The events are Debezium's JSON with schemas disabled, `decimal.handling.mode=string` and
dates as days since 1970-01-01. Every column is read as text (a JSON number keeps its exact
digits), so money never passes through a float and the silver rules see what bronze holds.

Operations: `c`, `u`, `d`, snapshot reads `r` (whatever `source.snapshot` says), truncates `t`
(`skipped.operations=none`: a NULL Kafka key, no row images, only `source`) and tombstones.
An event whose row image holds Debezium's placeholder for a value it could not read (a
TOASTed column left unchanged under REPLICA IDENTITY other than FULL) is not a version of
the row: it is quarantined with the columns named.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from condolake.catalog import KEY, OFFSET, VALUE
from condolake.layout import (
    DELETE_OP,
    DETAIL_COL,
    INGESTED_AT_COL,
    OP_COL,
    POSITION_COL,
    RAW_COL,
    RUN_ID_COL,
    SOURCE_COL,
)
from condolake.source.tables import SourceTable
from condolake.streaming.changes import (
    MALFORMED_COL,
    MALFORMED_EVENT,
    ORDER_COL,
    TIEBREAK_COL,
    TOMBSTONE_OP,
    TRUNCATE_OP,
    TX_COL,
    UPSERT_OPS,
    change_columns,
)

# Columns of bronze/kafka_events (besides lineage).
EVENT = "_event"
EPOCH = "1970-01-01"
DAYS_PATTERN = "^-?[0-9]{1,7}$"
# What Debezium writes for a value the WAL record does not carry (`unavailable.value.placeholder`).
UNAVAILABLE_PLACEHOLDER = "__debezium_unavailable_value"
UNAVAILABLE_VALUE = "unavailable_value"  # the quarantine reason of such an event


def table_of_topic(topic: Column) -> Column:
    """`<prefix>.public.<table>` -> `<table>`."""
    return F.element_at(F.split(topic, r"\."), -1)


def envelope_schema(table: SourceTable) -> StructType:
    row = StructType([StructField(name, StringType(), True) for name in table.column_names])
    source = StructType([
        StructField("lsn", LongType(), True),
        StructField("ts_ms", LongType(), True),
        StructField("txId", LongType(), True),
    ])
    return StructType([
        StructField("before", row, True),
        StructField("after", row, True),
        StructField("op", StringType(), True),
        StructField("ts_ms", LongType(), True),
        StructField("source", source, True),
    ])


def _column_text(table: SourceTable, name: str, sql_type: str) -> Column:
    """The column's text from the event's row image, dates turned back into ISO text."""
    image = F.when(F.col(f"{EVENT}.op") == DELETE_OP, F.col(f"{EVENT}.before")).otherwise(
        F.col(f"{EVENT}.after")
    )
    text = image.getField(name)
    if name == table.primary_key:
        # A delete may carry only the key (REPLICA IDENTITY DEFAULT): fall back on the key.
        text = F.coalesce(text, F.get_json_object(F.col(KEY), f"$.{name}"))
    if sql_type == "date":
        days = F.date_add(F.lit(EPOCH).cast("date"), text.try_cast("int"))
        return F.when(text.rlike(DAYS_PATTERN), days.cast("string")).otherwise(text)
    return text


def _malformed_reason() -> Column:
    op = F.col(f"{EVENT}.op")
    return (
        F.when(op.isNull(), F.lit("not a change event (no op)"))
        .when(~op.isin(*UPSERT_OPS, DELETE_OP, TRUNCATE_OP), F.concat(F.lit("unknown op "), op))
        .when(op.isin(*UPSERT_OPS) & F.col(f"{EVENT}.after").isNull(),
              F.concat(F.lit("op "), op, F.lit(" without after")))
        .when(F.col(f"{EVENT}.source.lsn").isNull(), F.lit("no source.lsn"))
    )


def unavailable_columns(table: SourceTable) -> Column:
    """The columns whose before or after value is Debezium's placeholder, comma-separated
    (empty when none)."""
    def unavailable(name: str) -> Column:
        placeholder = F.lit(UNAVAILABLE_PLACEHOLDER)
        return ((F.col(f"{EVENT}.before").getField(name) == placeholder)
                | (F.col(f"{EVENT}.after").getField(name) == placeholder))

    return F.concat_ws(", ", *[F.when(unavailable(name), F.lit(name))
                               for name in table.column_names])


def _rejection(table: SourceTable) -> tuple[Column, Column]:
    """(reason code, detail) of a record that is not a change to apply; both NULL for one
    that is (a tombstone included)."""
    malformed = _malformed_reason()
    unavailable = unavailable_columns(table)
    is_event = F.col(VALUE).isNotNull()
    has_placeholder = is_event & malformed.isNull() & (unavailable != "")
    code = (F.when(is_event & malformed.isNotNull(), F.lit(MALFORMED_EVENT))
            .when(has_placeholder, F.lit(UNAVAILABLE_VALUE)))
    detail = (F.when(is_event & malformed.isNotNull(), malformed)
              .when(has_placeholder, F.concat(
                  F.lit("unavailable value (REPLICA IDENTITY not FULL) in: "), unavailable)))
    return code, detail


def changes_from_events(events: DataFrame, table: SourceTable, run_id: str) -> DataFrame:
    """Change rows of `table` from bronze/kafka_events rows of its topic."""
    with_event = events.select(
        "*", F.from_json(F.col(VALUE), envelope_schema(table)).alias(EVENT)
    )
    tombstone = F.col(VALUE).isNull()
    code, reason = _rejection(table)
    changes = with_event.select(
        *[F.when(reason.isNull(), _column_text(table, c.name, c.sql_type)).alias(c.name)
          for c in table.columns],
        F.when(tombstone, F.lit(TOMBSTONE_OP)).otherwise(F.col(f"{EVENT}.op")).alias(OP_COL),
        F.col(f"{EVENT}.source.lsn").alias(ORDER_COL),
        F.col(OFFSET).alias(TIEBREAK_COL),
        F.col(f"{EVENT}.source.txId").alias(TX_COL),
        code.alias(MALFORMED_COL),
        reason.alias(DETAIL_COL),
        F.coalesce(F.col(VALUE), F.lit("")).alias(RAW_COL),
        F.col(SOURCE_COL),
        F.col(f"{EVENT}.source.lsn").alias(POSITION_COL),
        F.lit(run_id).alias(RUN_ID_COL),
        F.col(INGESTED_AT_COL),
    )
    return changes.select(*change_columns(table))
