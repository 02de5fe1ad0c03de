"""Schema drift in change events (pure): columns a source table has and the lake does not.

Debezium publishes every column of a row, so a column added to a source table (`ALTER TABLE
… ADD COLUMN`) appears in the events' row images at once. The stream keeps its contract:
the raw event stays in bronze/kafka_events, silver takes the declared columns only, and the
names found here become a `schema_drift` data-quality result and an alert.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from condolake.source.tables import SOURCE_TABLES, SourceTable


def unknown_columns(value: Column, table: SourceTable) -> Column:
    """The field names of the event's row image (`after`, else `before`) that `table` does not
    declare, sorted; an empty array for a tombstone, a truncate or text that is not JSON."""
    image = F.coalesce(F.get_json_object(value, "$.after"), F.get_json_object(value, "$.before"))
    declared = F.array(*[F.lit(name) for name in table.column_names])
    found = F.coalesce(F.json_object_keys(image), F.array().cast("array<string>"))
    return F.array_sort(F.array_except(found, declared))


def unknown_columns_by_table(table_name: Column, value: Column) -> Column:
    """`unknown_columns` for whichever source table `table_name` names (empty for others)."""
    result = F.array().cast("array<string>")
    for table in SOURCE_TABLES:
        result = F.when(table_name == table.name, unknown_columns(value, table)).otherwise(result)
    return result
