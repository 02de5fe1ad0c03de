"""The simulator's statements against the PostgreSQL source (all in the caller's transaction).

Every statement returns the rows as PostgreSQL stored them (RETURNING *), because those, not
what was sent, are what a change event carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from condolake.errors import CondoLakeError, InputError
from condolake.source.debezium import parse_lsn
from condolake.source.simulator_rows import Row, SourcePools, to_cents
from condolake.source.tables import MONEY, SourceTable

Connection = psycopg.Connection[Any]

ARRAY_TYPES = {"int": "int4", "string": "text", "date": "date", MONEY: "numeric"}
# The validation rules of the parents, in SQL (blank = white space only, \s includes tabs).
VALID_CONDOMINIO_IDS = (
    r"SELECT condominio_id FROM condominios WHERE nome !~ '^\s*$' AND endereco !~ '^\s*$'"
)
VALID_MORADOR_IDS = (
    r"SELECT morador_id FROM moradores WHERE nome !~ '^\s*$' "
    r"AND data_registro BETWEEN DATE '1900-01-01' AND %(today)s "
    f"AND condominio_id IN ({VALID_CONDOMINIO_IDS}) ORDER BY morador_id"
)
VALID_IMOVEIS = (
    r"SELECT imovel_id, valor FROM imoveis WHERE tipo !~ '^\s*$' AND valor > 0 "
    f"AND condominio_id IN ({VALID_CONDOMINIO_IDS}) ORDER BY imovel_id"
)
NOT_GENERATED = "run `condolake source generate` first"


class SourceChangedError(CondoLakeError):
    """A row the simulator created was changed or removed by someone else."""


def load_pools(conn: Connection, today: date) -> SourcePools:
    """The valid condominios, moradores and imoveis; a clear error when there are none."""
    try:
        with conn.transaction():
            condominio_ids = _ids(conn, VALID_CONDOMINIO_IDS + " ORDER BY condominio_id", {})
            morador_ids = _ids(conn, VALID_MORADOR_IDS, {"today": today})
            imoveis = conn.execute(VALID_IMOVEIS).fetchall()
    except psycopg.errors.UndefinedTable:
        raise InputError(f"the source has no CondoManage tables: {NOT_GENERATED}") from None
    if not morador_ids or not imoveis:
        raise InputError(f"the source has no valid moradores or imoveis: {NOT_GENERATED}")
    return SourcePools(
        condominio_ids=condominio_ids,
        morador_ids=morador_ids,
        imovel_ids=[int(imovel_id) for imovel_id, _ in imoveis],
        imovel_cents=[to_cents(valor) for _, valor in imoveis],
    )


def require_idle(conn: Connection) -> None:
    """Refuse a connection inside a transaction: the simulator's own blocks would only be
    savepoints, and events would be published for changes not yet committed."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("the simulator needs a connection with no transaction in progress")


def current_database(conn: Connection) -> str:
    with conn.transaction():
        row = conn.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else ""


def insert_rows(conn: Connection, table: SourceTable, rows: Sequence[Row]) -> list[Row]:
    """One multi-row INSERT ... SELECT FROM unnest(...) of `rows` (ids left to the SERIAL);
    the stored rows in insertion order (ascending ids)."""
    if not rows:
        return []
    columns = [column for column in table.columns if column.name != table.primary_key]
    arrays = sql.SQL(", ").join(
        sql.SQL("%s::{}[]").format(sql.SQL(ARRAY_TYPES[column.sql_type])) for column in columns
    )
    query = sql.SQL("INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) RETURNING *")
    statement = query.format(
        table=sql.Identifier(table.name),
        columns=sql.SQL(", ").join(sql.Identifier(column.name) for column in columns),
        arrays=arrays,
    )
    params = [[row[column.name] for row in rows] for column in columns]
    with conn.cursor(row_factory=dict_row) as cursor:
        stored = cursor.execute(statement, params).fetchall()
    return sorted(stored, key=lambda row: int(row[table.primary_key]))


def lock_rows(conn: Connection, table: SourceTable, ids: Sequence[int]) -> dict[int, Row]:
    """The current rows `ids` of `table`, locked until the transaction ends."""
    if not ids:
        return {}
    statement = sql.SQL("SELECT * FROM {table} WHERE {key} = ANY(%s) FOR UPDATE").format(
        table=sql.Identifier(table.name), key=sql.Identifier(table.primary_key))
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(statement, (list(ids),)).fetchall()
    found = {int(row[table.primary_key]): row for row in rows}
    _check_all_found(table, ids, found)
    return found


def update_column(
    conn: Connection, table: SourceTable, column: str, changes: Sequence[tuple[int, Any]]
) -> list[Row]:
    """Set `column` of each (id, value), in order (an id may come twice); the rows after each
    update."""
    if not changes:
        return []
    statement = sql.SQL("UPDATE {table} SET {column} = %s WHERE {key} = %s RETURNING *").format(
        table=sql.Identifier(table.name), column=sql.Identifier(column),
        key=sql.Identifier(table.primary_key))
    params = [(value, row_id) for row_id, value in changes]
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.executemany(statement, params, returning=True)
        rows = [cursor.fetchone() for _ in cursor.results()]
    found = {int(row[table.primary_key]): row for row in rows if row is not None}
    _check_all_found(table, [row_id for row_id, _ in changes], found)
    return [row for row in rows if row is not None]


def delete_rows(conn: Connection, table: SourceTable, ids: Sequence[int]) -> list[Row]:
    """Delete the rows `ids` of `table`; their last versions, in the order of `ids`."""
    if not ids:
        return []
    statement = sql.SQL("DELETE FROM {table} WHERE {key} = ANY(%s) RETURNING *").format(
        table=sql.Identifier(table.name), key=sql.Identifier(table.primary_key))
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(statement, (list(ids),)).fetchall()
    found = {int(row[table.primary_key]): row for row in rows}
    _check_all_found(table, ids, found)
    return [found[row_id] for row_id in ids]


def wal_position(conn: Connection) -> tuple[int, int]:
    """The WAL insert position (as Debezium's int LSN) and the id of the current transaction."""
    row = conn.execute("SELECT pg_current_wal_insert_lsn()::text, txid_current()").fetchone()
    if row is None:
        raise RuntimeError("PostgreSQL returned no WAL position")
    return parse_lsn(str(row[0])), int(row[1])


def _ids(conn: Connection, query: str, params: dict[str, Any]) -> list[int]:
    return [int(value) for (value,) in conn.execute(query, params).fetchall()]


def _check_all_found(table: SourceTable, ids: Sequence[int], found: dict[int, Row]) -> None:
    missing = sorted(set(ids) - set(found))
    if missing:
        raise SourceChangedError(
            f"{table.name} {missing[:10]} created by the simulator are gone from the source"
        )
