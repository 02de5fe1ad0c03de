"""Baseline 1: the plain extraction cost, a binary COPY of every source table on one connection."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from condolake.services.postgres import SourceDatabase
from condolake.source.tables import SOURCE_TABLES, SourceTable


@dataclass(frozen=True)
class CopyRun:
    seconds: float
    bytes_read: int


def copy_statement(table: SourceTable) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in table.column_names)
    return sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT BINARY)").format(
        columns, sql.Identifier(table.name)
    )


def copy_all(db: SourceDatabase, tables: Sequence[SourceTable] = SOURCE_TABLES) -> CopyRun:
    """Reads every byte of every table with COPY … (FORMAT BINARY) and discards it.

    Timed from connecting to the last byte of the last table.
    """
    started = time.perf_counter()
    bytes_read = 0
    with db.connect() as conn, conn.cursor() as cursor:
        for table in tables:
            with cursor.copy(copy_statement(table)) as copy:
                for block in copy:
                    bytes_read += len(block)
    return CopyRun(time.perf_counter() - started, bytes_read)
