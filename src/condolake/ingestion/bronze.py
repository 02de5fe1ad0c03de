"""Raw records of any source in bronze's shape: source columns as text, plus lineage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.layout import (
    INGESTED_AT_COL,
    POSITION_COL,
    RUN_ID_COL,
    SOURCE_COL,
    bronze_schema,
)
from condolake.source.tables import SourceTable


def as_bronze(
    typed: DataFrame, table: SourceTable, source: str, run_id: str, ingested_at: dt.datetime
) -> DataFrame:
    """A DataFrame of the source's columns (any types) as bronze rows: text + lineage."""
    return typed.select(
        *[F.col(name).cast("string").alias(name) for name in table.column_names],
        F.lit(source).alias(SOURCE_COL),
        F.lit(None).cast("long").alias(POSITION_COL),
        F.lit(run_id).alias(RUN_ID_COL),
        F.lit(ingested_at).cast("timestamp").alias(INGESTED_AT_COL),
    )


def records_to_bronze(
    spark: SparkSession,
    table: SourceTable,
    records: Iterable[tuple[int, Mapping[str, str | None]]],
    source: str,
    run_id: str,
    ingested_at: dt.datetime,
) -> DataFrame:
    """Bronze rows from (position, {column: text}) pairs read by a file or API reader."""
    rows: Sequence[tuple[object, ...]] = [
        (*(values.get(name) for name in table.column_names), source, position, run_id,
         ingested_at)
        for position, values in records
    ]
    return spark.createDataFrame(rows, bronze_schema(table))
