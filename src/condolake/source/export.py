"""A source table read back from PostgreSQL in key order (`condolake source export-csv`)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from psycopg import sql

from condolake.source.tables import SourceTable


def table_rows(conn: psycopg.Connection, table: SourceTable) -> Iterator[dict[str, object]]:
    """Every row of `table` as {column: value}, ordered by its primary key."""
    query = sql.SQL("SELECT {columns} FROM {table} ORDER BY {key}").format(
        columns=sql.SQL(", ").join(sql.Identifier(name) for name in table.column_names),
        table=sql.Identifier(table.name),
        key=sql.Identifier(table.primary_key),
    )
    names = table.column_names
    with conn.cursor() as cursor:
        for row in cursor.execute(query):
            yield dict(zip(names, row, strict=True))
