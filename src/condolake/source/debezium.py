"""Change events in the JSON shape of Debezium's PostgreSQL connector (pure, no I/O).

The shape is the connector's with `key.converter.schemas.enable=false`,
`value.converter.schemas.enable=false`, `decimal.handling.mode=string`, the default
`time.precision.mode` (a DATE is an int: days since 1970-01-01), tombstones on delete and
`skipped.operations=none` (a TRUNCATE is an `op: "t"` record with a NULL key and no row
images), so a real connector can replace the simulator without any change to the consumers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from condolake import __version__
from condolake.source.tables import Column, SourceTable

SOURCE_SCHEMA = "public"
CONNECTOR = "postgresql"
# Debezium puts its own release here ("2.7.0.Final"); this says who really produced the event.
SIMULATOR_VERSION = f"condolake-simulator-{__version__}"
EPOCH = date(1970, 1, 1)
NOT_SNAPSHOT = "false"
# `source.snapshot` of Debezium 3.x: where a record stands in a snapshot ("false" outside one).
SNAPSHOT_MARKERS = ("true", "first", "first_in_data_collection", "last_in_data_collection",
                    "last", "incremental", NOT_SNAPSHOT)
TRUNCATE_OP = "t"
LSN_HIGH_BITS = 32
DECIMAL_TYPE = re.compile(r"decimal\(\d+,(\d+)\)")

# Which of before/after each operation carries (c: create, u: update, d: delete, r: read).
ROW_IMAGES: dict[str, tuple[bool, bool]] = {
    "c": (False, True),
    "u": (True, True),
    "d": (True, False),
    "r": (False, True),
}

Row = Mapping[str, Any]


def topic_name(prefix: str, table_name: str) -> str:
    """`<prefix>.public.<table>`, Debezium's topic for a table of the `public` schema."""
    return f"{prefix}.{SOURCE_SCHEMA}.{table_name}"


def parse_lsn(text: str) -> int:
    """PostgreSQL's `X/Y` LSN text (two hex numbers) as the int Debezium reports: (X<<32)+Y."""
    high, separator, low = text.strip().partition("/")
    if not separator or not high or not low:
        raise ValueError(f"not a PostgreSQL LSN: {text!r}")
    return (int(high, 16) << LSN_HIGH_BITS) + int(low, 16)


def encode_row(table: SourceTable, row: Row) -> dict[str, Any]:
    """A row as Debezium writes it: ints as numbers, NUMERIC as an exact string, DATE as days."""
    return {column.name: encode_value(column, row[column.name]) for column in table.columns}


def encode_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError(f"{column.name}: floats are never used for source values, got {value!r}")
    if column.sql_type == "int":
        return _integer(column, value)
    if column.sql_type == "string":
        return _text(column, value)
    if column.sql_type == "date":
        return _epoch_days(column, value)
    scale = DECIMAL_TYPE.fullmatch(column.sql_type)
    if scale is not None:
        return _decimal_text(column, value, int(scale.group(1)))
    raise ValueError(f"{column.name}: no Debezium encoding for type {column.sql_type}")


def change_event(
    table: SourceTable,
    op: str,
    before: Row | None,
    after: Row | None,
    *,
    prefix: str,
    database: str,
    lsn: int,
    tx_id: int,
    commit_ms: int,
    produced_ms: int,
    snapshot: str = NOT_SNAPSHOT,
) -> tuple[bytes, bytes]:
    """The Kafka key and value (compact UTF-8 JSON) of one change of one row. `snapshot`:
    the `source.snapshot` marker (a snapshot read, op `r`, has one other than "false")."""
    _check_images(op, before, after)
    row = after if after is not None else before
    assert row is not None  # _check_images guarantees one image
    value = {
        "before": None if before is None else encode_row(table, before),
        "after": None if after is None else encode_row(table, after),
        "source": _source(table, prefix, database, lsn, tx_id, commit_ms, snapshot),
        "op": op,
        "ts_ms": produced_ms,
        "transaction": None,
    }
    return event_key(table, row[table.primary_key]), _json(value)


def truncate_event(table: SourceTable, *, prefix: str, database: str, lsn: int, tx_id: int,
                   commit_ms: int, produced_ms: int) -> tuple[None, bytes]:
    """The Kafka key (NULL: a truncate names no row) and value of a TRUNCATE of `table`."""
    value = {
        "before": None,
        "after": None,
        "source": _source(table, prefix, database, lsn, tx_id, commit_ms, NOT_SNAPSHOT),
        "op": TRUNCATE_OP,
        "ts_ms": produced_ms,
        "transaction": None,
    }
    return None, _json(value)


def _source(table: SourceTable, prefix: str, database: str, lsn: int, tx_id: int,
            commit_ms: int, snapshot: str) -> dict[str, Any]:
    """The `source` block of a PostgreSQL connector's event."""
    if snapshot not in SNAPSHOT_MARKERS:
        raise ValueError(f"unknown source.snapshot {snapshot!r}; expected one of "
                         f"{', '.join(SNAPSHOT_MARKERS)}")
    return {
        "version": SIMULATOR_VERSION,
        "connector": CONNECTOR,
        "name": prefix,
        "ts_ms": commit_ms,
        "snapshot": snapshot,
        "db": database,
        "sequence": _json([None, str(lsn)]).decode("utf-8"),
        "schema": SOURCE_SCHEMA,
        "table": table.name,
        "txId": tx_id,
        "lsn": lsn,
        "xmin": None,
    }


def tombstone(table: SourceTable, key_value: int) -> tuple[bytes, None]:
    """What follows a delete: the same key with a null value, so compaction drops the key."""
    return event_key(table, key_value), None


def event_key(table: SourceTable, key_value: int) -> bytes:
    """`{"<primary key>": n}` as compact UTF-8 JSON."""
    key_column = next(c for c in table.columns if c.name == table.primary_key)
    return _json({table.primary_key: encode_value(key_column, key_value)})


def _check_images(op: str, before: Row | None, after: Row | None) -> None:
    if op not in ROW_IMAGES:
        raise ValueError(f"unknown Debezium op {op!r}; expected one of {', '.join(ROW_IMAGES)}")
    wants_before, wants_after = ROW_IMAGES[op]
    if (before is not None) != wants_before or (after is not None) != wants_after:
        raise ValueError(
            f"op {op!r} takes {'a' if wants_before else 'no'} before row and "
            f"{'an' if wants_after else 'no'} after row"
        )


def _integer(column: Column, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{column.name}: expected an int, got {value!r}")
    return value


def _text(column: Column, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{column.name}: expected a str, got {value!r}")
    return value


def _epoch_days(column: Column, value: Any) -> int:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{column.name}: expected a date, got {value!r}")
    return (value - EPOCH).days


def _decimal_text(column: Column, value: Any, scale: int) -> str:
    """The plain string of the column's scale ('1234.50'), as BigDecimal.toPlainString()."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{column.name}: expected a Decimal, got {value!r}")
    exact = Decimal(value)
    quantized = exact.quantize(Decimal(1).scaleb(-scale))
    if quantized != exact:
        raise ValueError(f"{column.name}: {value} has more than {scale} decimals")
    return format(quantized, "f")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
