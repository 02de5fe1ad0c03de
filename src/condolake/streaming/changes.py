"""Change rows: what every stream source is turned into before it meets the silver rules.

A change row has the table's columns as text (as bronze keeps them), plus:

* `_op`: `c`/`u`/`r` (upsert), `d` (delete), `t` (the whole table truncated: no key, no
  columns) or `tombstone` (Kafka's compaction marker);
* `_order`: position of the change in the source's commit order (Debezium's `source.lsn`, or
  the landing file's modification time); a higher one is a later version of the key;
* `_tx`: the source transaction the change belongs to (Debezium's `source.txId`; NULL for
  landing files);
* `_malformed`: why the record could not be read as a change (NULL when it could), and
  `_detail`, `_raw` (the record as it arrived);
* the lineage columns of bronze and silver.

Every source (Kafka topics, landing-zone files) produces this shape, so de-duplication,
validation and the writes are one implementation.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from condolake.layout import (
    DETAIL_COL,
    INGESTED_AT_COL,
    OP_COL,
    POSITION_COL,
    RAW_COL,
    REASONS_COL,
    RUN_ID_COL,
    SOURCE_COL,
)
from condolake.source.tables import SourceTable
from condolake.transforms.silver.validate import parsed

ORDER_COL = "_order"
MALFORMED_COL = "_malformed"
TIEBREAK_COL = "_tiebreak"
TX_COL = "_tx"
UPSERT_OPS = ("c", "u", "r")
TOMBSTONE_OP = "tombstone"
TRUNCATE_OP = "t"
MALFORMED_EVENT = "malformed_event"
KEY_COL = "_key"
LATEST_COL = "_latest"


def change_columns(table: SourceTable) -> list[str]:
    """The columns of a change frame of `table`, in order."""
    return [
        *table.column_names, OP_COL, ORDER_COL, TIEBREAK_COL, TX_COL, MALFORMED_COL, DETAIL_COL,
        RAW_COL, SOURCE_COL, POSITION_COL, RUN_ID_COL, INGESTED_AT_COL,
    ]


def typed_key(table: SourceTable) -> Column:
    return parsed(table.primary_key, "int")


def with_latest(changes: DataFrame, table: SourceTable) -> DataFrame:
    """Adds `_key` (the primary key as an integer) and `_latest`: whether the record is the
    latest change of its key in the frame (highest order, then highest tiebreak).

    Malformed records, tombstones and truncates are not versions of a key (their `_key` is
    NULL), and a key that does not parse cannot be a duplicate of anything: each of those is
    its own latest, for the rules to judge. Snapshot reads (`r`) share one order (the
    snapshot's LSN), so the tiebreak (the Kafka offset) decides between two of them.
    """
    readable = F.col(MALFORMED_COL).isNull() & ~F.col(OP_COL).isin(TOMBSTONE_OP, TRUNCATE_OP)
    keyed = changes.select("*", F.when(readable, typed_key(table)).alias(KEY_COL))
    newest_first = F.row_number().over(Window.partitionBy(KEY_COL).orderBy(
        F.col(ORDER_COL).desc(), F.col(TIEBREAK_COL).desc()
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return keyed.select("*", (F.col(KEY_COL).isNull() | (newest_first == 1)).alias(LATEST_COL))


def malformed_records(changes: DataFrame) -> DataFrame:
    """The records that are not readable changes, with `_reasons` for the quarantine."""
    return changes.where(F.col(MALFORMED_COL).isNotNull()).select(
        "*", F.array(F.col(MALFORMED_COL)).alias(REASONS_COL)
    )


def is_stale(known_order: Column, *, unique_orders: bool = True) -> Column:
    """A change no newer than the version already applied for its key (late or replayed).

    With `unique_orders` (an LSN: one per change) an equal order is the same change again. A
    landing file's time is shared by all its records and by files written in the same
    millisecond, so there only an older order is stale.
    """
    if unique_orders:
        return known_order.isNotNull() & (known_order >= F.col(ORDER_COL))
    return known_order.isNotNull() & (known_order > F.col(ORDER_COL))


def is_truncated(truncated_at: Column) -> Column:
    """A change made before the table was truncated at order `truncated_at` (NULL: never):
    the truncate removed its row, so applying it would bring back a row the source no longer
    has."""
    return truncated_at.isNotNull() & (F.col(ORDER_COL) < truncated_at)
