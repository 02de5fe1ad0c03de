"""Tiny bronze/silver DataFrames for transform tests: source values in, lineage filled in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from condolake.layout import bronze_schema, silver_schema
from condolake.source.tables import SourceTable

SOURCE = "csv:test.csv"
RUN_ID = "run-1"
INGESTED_AT = dt.datetime(2024, 6, 30, 12, 0, 0)


def bronze(
    spark: SparkSession,
    table: SourceTable,
    records: Sequence[Mapping[str, str | None]],
    positions: Sequence[int | None] | None = None,
    ingested_at: Sequence[dt.datetime] | None = None,
    sources: Sequence[str] | None = None,
    run_id: str = RUN_ID,
) -> DataFrame:
    """Bronze rows of `table`: each record maps column name -> raw text (missing keys NULL).

    Record i gets source position i + 1 unless `positions` says otherwise. Tests that check
    many cases in one DataFrame label each record through `sources`.
    """
    count = len(records)
    positions = positions if positions is not None else range(1, count + 1)
    ingested_at = ingested_at if ingested_at is not None else [INGESTED_AT] * count
    sources = sources if sources is not None else [SOURCE] * count
    rows = [
        (*[record.get(name) for name in table.column_names], source, position, run_id, at)
        for record, source, position, at in zip(
            records, sources, positions, ingested_at, strict=True
        )
    ]
    return spark.createDataFrame(rows, bronze_schema(table))


def silver(spark: SparkSession, table: SourceTable, rows: Sequence[tuple[Any, ...]]) -> DataFrame:
    """Silver rows of `table` from tuples of typed source values (lineage appended)."""
    with_lineage = [
        (*row, SOURCE, position, RUN_ID, INGESTED_AT)
        for position, row in enumerate(rows, start=1)
    ]
    return spark.createDataFrame(with_lineage, silver_schema(table))
