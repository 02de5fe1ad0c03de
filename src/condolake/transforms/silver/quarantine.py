"""Rejected records in the quarantine's shape (pure transforms)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from condolake.layout import (
    DETAIL_COL,
    POSITION_COL,
    QUARANTINED_AT_COL,
    RAW_COL,
    REASONS_COL,
    RECORD_ID_COL,
    RESOLUTION_COL,
    RESOLVED_AT_COL,
    RESOLVED_RUN_ID_COL,
    SOURCE_COL,
)
from condolake.source.tables import SourceTable
from condolake.transforms.silver.validate import LINEAGE_COLS

FINGERPRINT_SEPARATOR = "\u0001"
SHA_BITS = 256


def raw_json(table: SourceTable) -> Column:
    """The record as it arrived, as JSON text (NULL fields kept as null)."""
    return F.to_json(
        F.struct(*[F.col(name) for name in table.column_names]), {"ignoreNullFields": "false"}
    )


def record_fingerprint() -> Column:
    """Identifies a rejected record by where it came from and what it said, not by run.

    Re-reading the same bad row (a dimension snapshot, a re-run) yields the same id, so
    quarantine is merged on it and does not grow with every run.
    """
    return F.sha2(
        F.concat_ws(
            FINGERPRINT_SEPARATOR,
            F.col(SOURCE_COL),
            F.coalesce(F.col(POSITION_COL).cast("string"), F.lit("")),
            F.col(RAW_COL),
        ),
        SHA_BITS,
    )


def to_quarantine(checked: DataFrame, table: SourceTable, quarantined_at: dt.datetime) -> DataFrame:
    """Quarantine rows for the records of `checked` that failed a rule."""
    with_raw = checked.select(
        *table.column_names, *LINEAGE_COLS, F.col(REASONS_COL), raw_json(table).alias(RAW_COL)
    )
    return with_raw.select(
        *table.column_names,
        *LINEAGE_COLS,
        RAW_COL,
        REASONS_COL,
        F.lit(None).cast("string").alias(DETAIL_COL),
        record_fingerprint().alias(RECORD_ID_COL),
        F.lit(quarantined_at).cast("timestamp").alias(QUARANTINED_AT_COL),
        F.lit(None).cast("string").alias(RESOLVED_RUN_ID_COL),
        F.lit(None).cast("string").alias(RESOLUTION_COL),
        F.lit(None).cast("timestamp").alias(RESOLVED_AT_COL),
    )


def malformed_to_quarantine(
    malformed: DataFrame, table: SourceTable, quarantined_at: dt.datetime
) -> DataFrame:
    """Quarantine rows for records that could not even be split into columns.

    `malformed` has `_raw` (the text as read), `_reasons`, `_detail` and lineage columns.
    """
    return malformed.select(
        *[F.lit(None).cast("string").alias(name) for name in table.column_names],
        *LINEAGE_COLS,
        RAW_COL,
        REASONS_COL,
        DETAIL_COL,
        record_fingerprint().alias(RECORD_ID_COL),
        F.lit(quarantined_at).cast("timestamp").alias(QUARANTINED_AT_COL),
        F.lit(None).cast("string").alias(RESOLVED_RUN_ID_COL),
        F.lit(None).cast("string").alias(RESOLUTION_COL),
        F.lit(None).cast("timestamp").alias(RESOLVED_AT_COL),
    )
