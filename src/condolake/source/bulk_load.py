"""Loading many rows into the source tables fast: COPY, FK triggers, sequences."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from condolake.errors import InputError
from condolake.source.ddl import TABLE_NAMES
from condolake.source.tables import TABLES_BY_NAME

Connection = psycopg.Connection[Any]

COPY_CHUNK_ROWS = 50_000


def copy_lines(conn: Connection, table: str, lines: Iterable[str]) -> float:
    """COPY text-format lines into `table` (columns in schema order), in chunks; return seconds.

    The seconds include producing the lines, which the generator does lazily.
    """
    started = time.perf_counter()
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in TABLES_BY_NAME[table].column_names)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), columns)
    chunk: list[str] = []
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for line in lines:
            chunk.append(line)
            if len(chunk) >= COPY_CHUNK_ROWS:
                copy.write("".join(chunk))
                chunk.clear()
        if chunk:
            copy.write("".join(chunk))
    return time.perf_counter() - started


@contextmanager
def foreign_key_triggers_skipped(conn: Connection) -> Iterator[bool]:
    """Within the caller's transaction, skip the per-row FK triggers (COPY is ~8x faster) and
    yield True; yield False and change nothing without the privilege to do so.

    Needs superuser (or GRANT SET ON PARAMETER session_replication_role). Whoever skips them
    must call `check_references` before committing. The setting is restored on normal exit,
    so it does not leak into the rest of an enclosing transaction.
    """
    row = conn.execute("SELECT current_setting('session_replication_role')").fetchone()
    previous = str(row[0]) if row else "origin"
    try:
        with conn.transaction():  # a savepoint: a refusal must not abort the caller's work
            conn.execute("SET LOCAL session_replication_role = replica")
        skipped = True
    except psycopg.errors.InsufficientPrivilege:
        skipped = False
    yield skipped
    if skipped:
        conn.execute("SELECT set_config('session_replication_role', %s, true)", (previous,))


def check_references(conn: Connection) -> None:
    """Fail if any foreign key of the source tables points nowhere (one anti-join per FK)."""
    for table in TABLE_NAMES:
        for key in TABLES_BY_NAME[table].foreign_keys:
            query = sql.SQL(
                "SELECT count(*) FROM {child} c WHERE NOT EXISTS "
                "(SELECT 1 FROM {parent} p WHERE p.{parent_key} = c.{column})"
            ).format(
                child=sql.Identifier(table),
                parent=sql.Identifier(key.parent),
                parent_key=sql.Identifier(key.parent_key),
                column=sql.Identifier(key.column),
            )
            row = conn.execute(query).fetchone()
            if row is None or row[0]:
                raise RuntimeError(f"generator bug: {table}.{key.column} has dangling references")


def make_room(conn: Connection, replace: bool) -> None:
    """Refuse to load into tables that hold rows, unless `replace`: then truncate them."""
    probe = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})")
    filled = [
        table
        for table in TABLE_NAMES
        if conn.execute(probe.format(sql.Identifier(table))).fetchone() == (True,)
    ]
    if not filled:
        return
    if not replace:
        raise InputError(
            f"source tables already hold rows ({', '.join(filled)}); pass replace=True "
            "(--replace) to truncate them first"
        )
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in TABLE_NAMES)
    conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(tables))


def reset_sequences(conn: Connection, tables: Iterable[str] = TABLE_NAMES) -> None:
    """Move each serial sequence to its table's max id, so INSERTs without an id go on."""
    for table in tables:
        key = TABLES_BY_NAME[table].primary_key
        query = sql.SQL(
            "SELECT setval(pg_get_serial_sequence({table_name}, {key_name}), "
            "coalesce(max({key}), 1), max({key}) IS NOT NULL) FROM {table}"
        ).format(
            table_name=sql.Literal(table),
            key_name=sql.Literal(key),
            key=sql.Identifier(key),
            table=sql.Identifier(table),
        )
        conn.execute(query)
