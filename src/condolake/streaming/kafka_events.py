"""Kafka records carrying Debezium PostgreSQL change events -> change rows (pure transforms).

The events are Debezium's JSON with schemas disabled, `decimal.handling.mode=string` and
dates as days since 1970-01-01. Every column is read as text (a JSON number keeps its exact
digits), so money never passes through a float and the silver rules see what bronze holds.
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
    TX_COL,
    UPSERT_OPS,
    change_columns,
)

# Columns of bronze/kafka_events (besides lineage).
EVENT = "_event"
EPOCH = "1970-01-01"
DAYS_PATTERN = "^-?[0-9]{1,7}$"


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
        .when(~op.isin(*UPSERT_OPS, DELETE_OP), F.concat(F.lit("unknown op "), op))
        .when(op.isin(*UPSERT_OPS) & F.col(f"{EVENT}.after").isNull(),
              F.concat(F.lit("op "), op, F.lit(" without after")))
        .when(F.col(f"{EVENT}.source.lsn").isNull(), F.lit("no source.lsn"))
    )


def changes_from_events(events: DataFrame, table: SourceTable, run_id: str) -> DataFrame:
    """Change rows of `table` from bronze/kafka_events rows of its topic."""
    with_event = events.select(
        "*", F.from_json(F.col(VALUE), envelope_schema(table)).alias(EVENT)
    )
    tombstone = F.col(VALUE).isNull()
    reason = F.when(tombstone, F.lit(None)).otherwise(_malformed_reason())
    changes = with_event.select(
        *[F.when(reason.isNull(), _column_text(table, c.name, c.sql_type)).alias(c.name)
          for c in table.columns],
        F.when(tombstone, F.lit(TOMBSTONE_OP)).otherwise(F.col(f"{EVENT}.op")).alias(OP_COL),
        F.col(f"{EVENT}.source.lsn").alias(ORDER_COL),
        F.col(OFFSET).alias(TIEBREAK_COL),
        F.col(f"{EVENT}.source.txId").alias(TX_COL),
        F.when(reason.isNotNull(), F.lit(MALFORMED_EVENT)).alias(MALFORMED_COL),
        reason.alias(DETAIL_COL),
        F.coalesce(F.col(VALUE), F.lit("")).alias(RAW_COL),
        F.col(SOURCE_COL),
        F.col(f"{EVENT}.source.lsn").alias(POSITION_COL),
        F.lit(run_id).alias(RUN_ID_COL),
        F.col(INGESTED_AT_COL),
    )
    return changes.select(*change_columns(table))
