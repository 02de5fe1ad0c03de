"""Lines of files dropped in the landing zone -> change rows (pure transforms).

`<landing>/<table>/*.csv` are UTF-8, comma-separated, with a header line naming the table's
columns; `<landing>/<table>/*.json` / `*.jsonl` hold one JSON object per line. A file is an
upsert of every record in it; a later file wins over an earlier one for the same key.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from condolake.layout import (
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
    ORDER_COL,
    TIEBREAK_COL,
    TX_COL,
    change_columns,
)

LINE = "value"  # the text source's column
FILE_PATH = "file_path"
FILE_MODIFIED = "file_modified"
TABLE = "table"
LANDING_OP = "r"
MALFORMED_LINE = "malformed_row"
EXTRA_FIELD = "_extra"
PARSED = "_parsed"


def with_file_columns(lines: DataFrame) -> DataFrame:
    """Adds the file, its modification time and the table its folder names."""
    return lines.select(
        F.col(LINE),
        F.col("_metadata.file_path").alias(FILE_PATH),
        F.col("_metadata.file_modification_time").alias(FILE_MODIFIED),
        F.regexp_extract(F.col("_metadata.file_path"), r"/([^/]+)/[^/]+$", 1).alias(TABLE),
    )


def _text_schema(table: SourceTable) -> StructType:
    """Every column as text, plus one more field that only a line with too many has."""
    names = [*table.column_names, EXTRA_FIELD]
    return StructType([StructField(name, StringType(), True) for name in names])


def _csv_schema(table: SourceTable) -> str:
    return ", ".join(f"`{field.name}` STRING" for field in _text_schema(table).fields)


def _json_fields(table: SourceTable) -> Column:
    """The line's fields as text. Through a variant, a JSON number keeps its digits (a JSON
    reader with a string schema would pass it through a double: 9999999999999.99 -> 9.99E12)."""
    return F.struct(
        *[F.expr(f"try_variant_get(try_parse_json({LINE}), '$.{name}', 'string')").alias(name)
          for name in table.column_names],
        F.lit(None).cast("string").alias(EXTRA_FIELD),
    )


def _is_csv() -> Column:
    return F.lower(F.col(FILE_PATH)).endswith(".csv")


def _is_header(table: SourceTable) -> Column:
    first_field = F.trim(F.split(F.col(LINE), ",").getItem(0))
    return _is_csv() & (F.lower(first_field) == table.primary_key)


def _malformed_reason(table: SourceTable) -> Column:
    csv_too_long = _is_csv() & F.col(f"{PARSED}.{EXTRA_FIELD}").isNotNull()
    not_json = ~_is_csv() & (
        ~F.trim(F.col(LINE)).startswith("{") | F.expr(f"try_parse_json({LINE})").isNull()
    )
    fields = len(table.column_names)
    return (
        F.when(csv_too_long, F.lit(f"more than the {fields} fields of {table.name}"))
        .when(not_json, F.lit("not a JSON object"))
    )


def changes_from_lines(lines: DataFrame, table: SourceTable, run_id: str) -> DataFrame:
    """Change rows of `table` from landing lines (with file columns) of its folder."""
    records = lines.where(
        (F.col(TABLE) == table.name) & (F.trim(F.col(LINE)) != "") & ~_is_header(table)
    )
    parsed = records.select(
        "*",
        F.when(_is_csv(), F.from_csv(F.col(LINE), _csv_schema(table)))
        .otherwise(_json_fields(table)).alias(PARSED),
    )
    reason = _malformed_reason(table)
    changes = parsed.select(
        *[F.when(reason.isNull(), F.col(f"{PARSED}.{name}")).alias(name)
          for name in table.column_names],
        F.lit(LANDING_OP).alias(OP_COL),
        F.unix_micros(F.col(FILE_MODIFIED)).alias(ORDER_COL),
        F.monotonically_increasing_id().alias(TIEBREAK_COL),
        F.lit(None).cast("long").alias(TX_COL),
        F.when(reason.isNotNull(), F.lit(MALFORMED_LINE)).alias(MALFORMED_COL),
        reason.alias(DETAIL_COL),
        F.col(LINE).alias(RAW_COL),
        F.concat(F.lit("landing:"), F.col(FILE_PATH)).alias(SOURCE_COL),
        # The file's time is the record's position in the landing zone's order: silver
        # keeps it, so a later, older file of the key is found stale.
        F.unix_micros(F.col(FILE_MODIFIED)).alias(POSITION_COL),
        F.lit(run_id).alias(RUN_ID_COL),
        F.current_timestamp().alias(INGESTED_AT_COL),
    )
    return changes.select(*change_columns(table))
