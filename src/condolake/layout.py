"""Where each lake table lives and what its columns are (the lake's data contracts)."""

from __future__ import annotations

from enum import StrEnum

from pyspark.sql.types import StructField, StructType

from condolake.source.tables import SourceTable
from condolake.spark_types import spark_type, struct


class Layer(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    QUARANTINE = "quarantine"
    OPS = "ops"


def table_path(lake_root: str, layer: Layer, table: str) -> str:
    """`<lake_root>/<layer>/<table>`: every table of the lake is a Delta table there."""
    return f"{lake_root.rstrip('/')}/{layer.value}/{table}"


def checkpoint_path(lake_root: str, query_name: str) -> str:
    return f"{lake_root.rstrip('/')}/_checkpoints/{query_name}"


# Lineage carried by every bronze and silver row.
SOURCE_COL = "_source"
POSITION_COL = "_source_position"  # line of a CSV file, position in an API response
RUN_ID_COL = "_ingest_run_id"
INGESTED_AT_COL = "_ingested_at"
# Change rows (streams): the operation of each change, and the one that deletes its key.
OP_COL = "_op"
DELETE_OP = "d"
# Quarantine bookkeeping.
RAW_COL = "_raw"
REASONS_COL = "_reasons"
DETAIL_COL = "_detail"
RECORD_ID_COL = "_record_id"
QUARANTINED_AT_COL = "_quarantined_at"
RESOLVED_RUN_ID_COL = "_resolved_run_id"
RESOLUTION_COL = "_resolution"
RESOLVED_AT_COL = "_resolved_at"

LINEAGE_FIELDS = (
    StructField(SOURCE_COL, spark_type("string"), False),
    StructField(POSITION_COL, spark_type("long"), True),
    StructField(RUN_ID_COL, spark_type("string"), False),
    StructField(INGESTED_AT_COL, spark_type("timestamp"), False),
)


def _fields(spec: str) -> list[StructField]:
    return list(struct(spec).fields)


def bronze_schema(table: SourceTable) -> StructType:
    """Bronze keeps every source column as the text that arrived, plus lineage."""
    raw = [StructField(column.name, spark_type("string"), True)
           for column in table.columns]
    return StructType(raw + list(LINEAGE_FIELDS))


def silver_schema(table: SourceTable) -> StructType:
    """Silver has the source types (money stays decimal(15,2)) plus lineage."""
    typed = [StructField(column.name, spark_type(column.sql_type), column.nullable)
             for column in table.columns]
    return StructType(typed + list(LINEAGE_FIELDS))


def quarantine_schema(table: SourceTable) -> StructType:
    raw = [StructField(column.name, spark_type("string"), True)
           for column in table.columns]
    bookkeeping = _fields(
        f"{RAW_COL}: string, {REASONS_COL}: array<string>, {DETAIL_COL}: string, "
        f"{RECORD_ID_COL}: string, {QUARANTINED_AT_COL}: timestamp, "
        f"{RESOLVED_RUN_ID_COL}: string, {RESOLUTION_COL}: string, {RESOLVED_AT_COL}: timestamp"
    )
    return StructType(raw + list(LINEAGE_FIELDS) + bookkeeping)
