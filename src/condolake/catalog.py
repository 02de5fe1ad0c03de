"""Every table of the lake, declared once: its layer, name, keys, schema, personal columns,
where it is declared, and for a gold mart how it is built and recomputed.

Batch, stream, serving, the SQL catalog, the data dictionary, maintenance and health iterate
this module instead of restating lists. Adding a mart is one file in `transforms/gold/` (its
schema, build and incremental recompute as a `Mart`) plus one entry in `MARTS` below.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql.types import StructField, StructType

from condolake import layout
from condolake.layout import (
    LINEAGE_FIELDS,
    RAW_COL,
    RECORD_ID_COL,
    Layer,
    bronze_schema,
    quarantine_schema,
    silver_schema,
    table_path,
)
from condolake.source import tables as source
from condolake.source.tables import MORADORES, SOURCE_TABLES, SourceTable
from condolake.spark_types import struct
from condolake.transforms.gold import marts as gold
from condolake.transforms.gold.marts import Mart

# ops/ — what runs did (monitoring/runlog.py writes them).
RUNS = "runs"
RUNS_SCHEMA: StructType = struct(
    "run_id: string, job: string, status: string, started_at: timestamp, "
    "finished_at: timestamp, duration_s: double, run_date: date, rows_read: long, "
    "rows_valid: long, rows_quarantined: long, rows_duplicate: long, "
    "rows_reprocessed: long, conserved: boolean, error: string"
)
RUN_TABLES = "run_tables"
RUN_TABLES_SCHEMA: StructType = struct(
    "run_id: string, table: string, source: string, layer: string, rows_read: long, "
    "rows_valid: long, "
    "rows_quarantined: long, rows_duplicate: long, rows_reprocessed: long, "
    "rows_superseded: long, watermark_from: long, watermark_to: long, seconds: double"
)
WATERMARKS = "watermarks"
WATERMARKS_SCHEMA: StructType = struct(
    "watermark_id: string, source: string, table: string, column: string, value: long, "
    "run_id: string, updated_at: timestamp"
)
# ops/ — the order each streamed key was last changed in (pipelines/stream_silver.py).
POSITIONS = "change_positions"
POSITIONS_SCHEMA: StructType = struct(
    "source: string, table: string, key: int, order: long, op: string, run_id: string, "
    "updated_at: timestamp"
)
# ops/ — the PostgreSQL snapshot each batch load read a table in, and the keys the read
# covered (above `key_after`, or all when NULL); the change stream skips the changes a load
# already holds (pipelines/batch.py, pipelines/stream_silver.py). Transaction ids are xid8.
SOURCE_SNAPSHOTS = "source_snapshots"
SOURCE_SNAPSHOTS_SCHEMA: StructType = struct(
    "table: string, run_id: string, key_after: long, xmin: long, xmax: long, "
    "xip: array<long>, taken_at: timestamp"
)
# ops/ — data-quality results (monitoring/quality.py) and stream progress (monitoring/progress.py).
DQ_RESULTS = "dq_results"
DQ_RESULTS_SCHEMA: StructType = struct(
    "run_id: string, job: string, checked_at: timestamp, kind: string, check: string, "
    "table: string, status: string, observed: double, threshold: double, failures: long, "
    "detail: string"
)
STREAM_PROGRESS = "stream_progress"
STREAM_PROGRESS_SCHEMA: StructType = struct(
    "query: string, query_id: string, stream_run_id: string, batch_id: long, "
    "batch_at: timestamp, input_rows: long, input_rows_per_s: double, "
    "processed_rows_per_s: double, duration_ms: long, source_end_offsets: string, lag: long, "
    "recorded_at: timestamp"
)
# bronze/ — every Kafka record as received (the `kafka` stream).
KEY, VALUE, TOPIC, PARTITION, OFFSET = "key", "value", "topic", "partition", "offset"
KAFKA_TIMESTAMP = "kafka_timestamp"
KAFKA_EVENTS = "kafka_events"
KAFKA_EVENTS_SCHEMA: StructType = struct(
    f"{KEY}: string, {VALUE}: string, {TOPIC}: string, {PARTITION}: int, {OFFSET}: long, "
    f"{KAFKA_TIMESTAMP}: timestamp, {layout.SOURCE_COL}: string, {layout.POSITION_COL}: long, "
    f"{layout.RUN_ID_COL}: string, {layout.INGESTED_AT_COL}: timestamp"
)


@dataclass(frozen=True)
class Table:
    """One Delta table of the lake, at `<lake root>/<layer>/<name>`."""

    layer: Layer
    name: str
    schema: StructType
    keys: tuple[str, ...]  # one row per key (empty: an append-only log)
    declared_in: str  # the module that declares its columns (the dictionary names it)
    personal: tuple[str, ...] = ()  # columns holding personal data (LGPD)
    source: SourceTable | None = None  # the source table a bronze/silver/quarantine row is of
    mart: Mart | None = None  # a gold mart's build and incremental recompute

    @property
    def path(self) -> str:
        return f"{self.layer.value}/{self.name}"

    def location(self, lake_root: str) -> str:
        return table_path(lake_root, self.layer, self.name)


# One table per source table in each of these layers, with the same shape of columns.
FAMILIES = {Layer.BRONZE: bronze_schema, Layer.SILVER: silver_schema,
            Layer.QUARANTINE: quarantine_schema}
# The personal columns of the source tables (a resident's name), in every layer that has them.
PERSONAL_SOURCE_COLUMNS = {MORADORES.name: ("nome",)}
# Declared gold marts, in the order readers list them. A new mart: one entry here.
MARTS: tuple[Mart, ...] = (gold.POR_CONDOMINIO, gold.POR_MORADOR, gold.DIARIAS_POR_TIPO)
MART_NAMES: tuple[str, ...] = tuple(mart.name for mart in MARTS)
PERSONAL_MART_COLUMNS = {gold.POR_MORADOR.name: ("nome",)}

_extra_marts: list[Mart] = []  # registered at run time (tests), after the declared ones


def _family(layer: Layer, table: SourceTable) -> Table:
    keys: tuple[str, ...] = {Layer.BRONZE: (), Layer.SILVER: (table.primary_key,),
                             Layer.QUARANTINE: (RECORD_ID_COL,)}[layer]
    personal: tuple[str, ...] = PERSONAL_SOURCE_COLUMNS.get(table.name, ())
    if personal and layer is Layer.QUARANTINE:
        personal += (RAW_COL,)  # the record as it arrived holds them too
    return Table(layer, table.name, FAMILIES[layer](table), keys, layout.__name__,
                 personal=personal, source=table)


def _gold(mart: Mart) -> Table:
    return Table(Layer.GOLD, mart.name, mart.schema, mart.keys, mart.declared_in,
                 personal=PERSONAL_MART_COLUMNS.get(mart.name, ()), mart=mart)


def _single(layer: Layer, name: str, schema: StructType, keys: tuple[str, ...] = (),
            personal: tuple[str, ...] = ()) -> Table:
    return Table(layer, name, schema, keys, __name__, personal=personal)


def marts() -> tuple[Mart, ...]:
    """The gold marts: the declared ones, then any registered at run time."""
    return MARTS + tuple(_extra_marts)


def mart_names() -> tuple[str, ...]:
    return tuple(mart.name for mart in marts())


def mart(name: str) -> Mart:
    return next(mart for mart in marts() if mart.name == name)


def tables() -> tuple[Table, ...]:
    """Every table of the lake, by layer: bronze, silver, quarantine, gold, ops."""
    families = tuple(_family(layer, table) for layer in FAMILIES for table in SOURCE_TABLES)
    return (
        families[:len(SOURCE_TABLES)]
        + (_single(Layer.BRONZE, KAFKA_EVENTS, KAFKA_EVENTS_SCHEMA, personal=(KEY, VALUE)),)
        + families[len(SOURCE_TABLES):]
        + tuple(_gold(mart) for mart in marts())
        + (
            _single(Layer.OPS, RUNS, RUNS_SCHEMA, ("run_id",)),
            _single(Layer.OPS, RUN_TABLES, RUN_TABLES_SCHEMA, ("run_id", "table", "layer")),
            _single(Layer.OPS, WATERMARKS, WATERMARKS_SCHEMA, ("watermark_id",)),
            _single(Layer.OPS, POSITIONS, POSITIONS_SCHEMA, ("source", "table", "key")),
            _single(Layer.OPS, SOURCE_SNAPSHOTS, SOURCE_SNAPSHOTS_SCHEMA, ("table", "run_id")),
            _single(Layer.OPS, DQ_RESULTS, DQ_RESULTS_SCHEMA),
            _single(Layer.OPS, STREAM_PROGRESS, STREAM_PROGRESS_SCHEMA,
                    ("query_id", "batch_id")),
        )
    )


def tables_in(layer: Layer) -> tuple[Table, ...]:
    return tuple(table for table in tables() if table.layer is layer)


def lineage_fields() -> tuple[StructField, ...]:
    return LINEAGE_FIELDS


def source_tables() -> tuple[SourceTable, ...]:
    return source.SOURCE_TABLES


@contextmanager
def registered(mart: Mart) -> Iterator[Mart]:
    """`mart` is in the catalog while the block runs, as if it had an entry in `MARTS`."""
    if mart.name in mart_names():
        raise ValueError(f"a mart called {mart.name!r} is already in the catalog")
    _extra_marts.append(mart)
    try:
        yield mart
    finally:
        _extra_marts.remove(mart)
