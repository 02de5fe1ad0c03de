"""Create the source schema (source/schema.sql, executed verbatim) in a PostgreSQL database."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import psycopg

from condolake.errors import SourceUnavailableError
from condolake.source.tables import SOURCE_TABLES

SCHEMA_PACKAGE = "condolake.source"
SCHEMA_FILE = "schema.sql"
TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in SOURCE_TABLES)

EXISTING_TABLES_QUERY = """
    SELECT table_name
    FROM information_schema.tables
    WHERE table_schema = current_schema()
      AND table_type = 'BASE TABLE'
      AND table_name = ANY(%s)
"""


def schema_sql() -> bytes:
    """The DDL of the four source tables, exactly as the case brief gives it."""
    return files(SCHEMA_PACKAGE).joinpath(SCHEMA_FILE).read_bytes()


def existing_tables(conn: psycopg.Connection[Any]) -> set[str]:
    """Which of the four source tables exist in the connection's current schema."""
    rows = conn.execute(EXISTING_TABLES_QUERY, (list(TABLE_NAMES),)).fetchall()
    return {str(row[0]) for row in rows}


def init_schema(conn: psycopg.Connection[Any], *, drop_existing: bool = False) -> None:
    """Create the four tables. Does nothing when all of them exist, unless `drop_existing`,
    which drops them (CASCADE) first. A partial schema is an error: it is never patched up."""
    with conn.transaction():
        present = existing_tables(conn)
        if drop_existing and present:
            # Children first, though CASCADE would cope with any order.
            drop = "DROP TABLE IF EXISTS " + ", ".join(reversed(TABLE_NAMES)) + " CASCADE"
            conn.execute(drop.encode())
            present = set()
        if present == set(TABLE_NAMES):
            return
        if present:
            missing = ", ".join(name for name in TABLE_NAMES if name not in present)
            raise SourceUnavailableError(
                f"the source database has only part of the schema (missing: {missing}); "
                "recreate it with drop_existing=True (this deletes the existing tables' data)"
            )
        conn.execute(schema_sql())
