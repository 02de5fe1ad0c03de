"""Batch ingestion of one table from a CSV file or a paginated HTTP API."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from condolake.config import Settings, revealed
from condolake.ingestion.api_client import fetch_records
from condolake.ingestion.bronze import records_to_bronze
from condolake.ingestion.csv_reader import CsvOptions, MalformedLine, read_csv
from condolake.layout import (
    DETAIL_COL,
    INGESTED_AT_COL,
    POSITION_COL,
    RAW_COL,
    REASONS_COL,
    RUN_ID_COL,
    SOURCE_COL,
)
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import ingest_records
from condolake.pipelines.load import LoadContext
from condolake.source.tables import SourceTable, source_table
from condolake.transforms.silver.quarantine import malformed_to_quarantine

log = logging.getLogger(__name__)
MALFORMED_SHOWN = 10
MALFORMED_SCHEMA = (
    f"{RAW_COL} string, {REASONS_COL} array<string>, {DETAIL_COL} string, {SOURCE_COL} string, "
    f"{POSITION_COL} long, {RUN_ID_COL} string, {INGESTED_AT_COL} timestamp"
)


def _malformed_frame(
    spark: SparkSession, table: SourceTable, lines: list[MalformedLine], source: str,
    ctx: LoadContext,
) -> DataFrame | None:
    if not lines:
        return None
    rows = [(line.raw, [line.reason], line.detail, source, line.line, ctx.run_id,
             ctx.started_at) for line in lines]
    frame = spark.createDataFrame(rows, MALFORMED_SCHEMA)
    return malformed_to_quarantine(frame, table, ctx.started_at)


def ingest_csv(
    spark: SparkSession,
    settings: Settings,
    path: Path,
    table_name: str,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    header: bool = True,
    run_date: dt.date | None = None,
) -> RunRecord:
    """Reads the whole file first (bad rows never abort it), then lands and validates it."""
    table = source_table(table_name)
    options = CsvOptions(delimiter=delimiter, encoding=encoding, decimal=decimal, header=header)
    source = f"csv:{path.name}"

    def read(ctx: LoadContext) -> tuple[DataFrame, DataFrame | None]:
        result = read_csv(path, table, options)
        log.info(
            f"read {path}: {len(result.records):,} records, {len(result.malformed):,} "
            f"malformed (encoding {result.encoding}, delimiter {result.delimiter!r}, "
            f"decimal {result.decimal!r})"
        )
        for line in result.malformed[:MALFORMED_SHOWN]:
            log.info(f"  {result.file} line {line.line}: {line.reason}: {line.detail}")
        rows = records_to_bronze(spark, table, ((r.line, r.values) for r in result.records),
                                 source, ctx.run_id, ctx.started_at)
        return rows, _malformed_frame(spark, table, result.malformed, source, ctx)

    return ingest_records(spark, settings, table, "ingest_csv", source, read,
                          run_date=run_date)


def ingest_api(
    spark: SparkSession,
    settings: Settings,
    base_url: str,
    table_name: str,
    *,
    page_size: int = 1000,
    run_date: dt.date | None = None,
) -> RunRecord:
    """Fetches every page first (an API that stays down fails the run before any write)."""
    table = source_table(table_name)
    endpoint = f"{base_url.rstrip('/')}/{table.name}"

    def read(ctx: LoadContext) -> tuple[DataFrame, DataFrame | None]:
        records = fetch_records(
            base_url, table.name, token=revealed(settings.api_token),
            timeout_s=settings.api_timeout_s, retries=settings.api_retries,
            backoff_s=settings.api_backoff_s,
            page_size=page_size,
        )
        log.info(f"fetched {len(records):,} {table.name} records from {endpoint}")
        rows = records_to_bronze(spark, table, ((r.position, r.values) for r in records),
                                 f"api:{endpoint}", ctx.run_id, ctx.started_at)
        return rows, None

    return ingest_records(spark, settings, table, "ingest_api", f"api:{endpoint}", read,
                          run_date=run_date)
