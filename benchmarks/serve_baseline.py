"""The in-process baseline: the benchmark's requests answered by DuckDB on the gold Delta tables.

Same questions as the API (filters, sort with the table's key as tiebreaker, page, total
count; the newest `_delta_log` commit for freshness), without HTTP, authentication, masking
or JSON. Two sources:

* `delta_scan`: every query reads the Delta table (log and Parquet files) again;
* `memory`: the tables copied once into DuckDB, as the API's reader keeps them.

Also reads the catalog the request mix draws its ids, dates and tipos from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.serve_mix import (
    CONDOMINIO_ITEM,
    CONDOMINIO_SORTS,
    CONDOMINIOS_PAGE,
    DIARIA_SORTS,
    DIARIAS_RANGE,
    FRESHNESS,
    MORADOR_ITEM,
    MORADOR_SORTS,
    MORADORES_PAGE,
    TIPOS,
    TOP_MORADORES,
    Catalog,
    Request,
)
from condolake.catalog import MART_NAMES
from condolake.lake.versions import latest_version
from condolake.services.duckdb_extensions import load_extensions, sql_string

POR_CONDOMINIO, POR_MORADOR, DIARIAS = MART_NAMES
DEFAULT_LIMIT = "100"
KEYS = {POR_CONDOMINIO: ("condominio_id",), POR_MORADOR: ("morador_id",),
        DIARIAS: ("data_transacao", "tipo")}
SORTS = {POR_CONDOMINIO: CONDOMINIO_SORTS, POR_MORADOR: MORADOR_SORTS, DIARIAS: DIARIA_SORTS}
DELTA_SCAN = "delta_scan"
MEMORY = "memory"

Query = tuple[str, list[Any]]


@dataclass(frozen=True)
class Statements:
    """What answers one request: SQL with `{table}` placeholders, or the freshness files."""

    table: str | None
    queries: tuple[Query, ...]


def order_by(table: str, sort: str) -> str:
    column = sort.removeprefix("-")
    if column not in SORTS[table]:
        raise ValueError(f"{table} cannot be sorted by {sort!r}")
    direction = "DESC" if sort.startswith("-") else "ASC"
    return ", ".join([f"{column} {direction}",
                      *[f"{key} ASC" for key in KEYS[table] if key != column]])


def _page(table: str, filters: list[tuple[str, Any]], params: Mapping[str, str]) -> Statements:
    where = " AND ".join(condition for condition, _ in filters)
    clause = f" WHERE {where}" if filters else ""
    values = [value for _, value in filters]
    sort = params.get("sort", KEYS[table][0])
    limit, offset = int(params.get("limit", DEFAULT_LIMIT)), int(params.get("offset", "0"))
    return Statements(table, (
        (f"SELECT count(*) FROM {{table}}{clause}", values),
        (f"SELECT * FROM {{table}}{clause} ORDER BY {order_by(table, sort)} LIMIT ? OFFSET ?",
         [*values, limit, offset]),
    ))


def _equal(params: Mapping[str, str], name: str) -> list[tuple[str, Any]]:
    return [(f"{name} = ?", int(params[name]))] if name in params else []


def statements(request: Request) -> Statements:
    """The queries that answer `request` (pure)."""
    params = request.param_map
    kind = request.kind
    if kind == CONDOMINIOS_PAGE:
        return _page(POR_CONDOMINIO, _equal(params, "condominio_id"), params)
    if kind in (MORADORES_PAGE, TOP_MORADORES):
        return _page(POR_MORADOR, _equal(params, "condominio_id") + _equal(params, "morador_id"),
                     params)
    if kind == CONDOMINIO_ITEM:
        return Statements(POR_CONDOMINIO, (("SELECT * FROM {table} WHERE condominio_id = ?",
                                            [int(params["condominio_id"])]),))
    if kind == MORADOR_ITEM:
        return Statements(POR_MORADOR, (("SELECT * FROM {table} WHERE morador_id = ?",
                                         [int(params["morador_id"])]),))
    if kind == DIARIAS_RANGE:
        filters: list[tuple[str, Any]] = [
            ("data_transacao >= ?", dt.date.fromisoformat(params["data_inicio"])),
            ("data_transacao <= ?", dt.date.fromisoformat(params["data_fim"]))]
        if "tipo" in params:
            filters.append(("tipo = ?", params["tipo"].strip().lower()))
        return _page(DIARIAS, filters, params)
    if kind == TIPOS:
        return Statements(DIARIAS, (("SELECT DISTINCT tipo FROM {table} ORDER BY tipo", []),))
    if kind == FRESHNESS:
        return Statements(None, ())
    raise ValueError(f"unknown request kind {kind!r}")


class Baseline:
    """One DuckDB database over the lake's gold tables; `answerer()` makes per-thread callers."""

    def __init__(self, gold_paths: Mapping[str, str], source: str, extension_dir: Path) -> None:
        self._paths = dict(gold_paths)
        self._conn = duckdb.connect(":memory:")
        extension_dir.mkdir(parents=True, exist_ok=True)
        load_extensions(self._conn, extension_dir, ["delta"])
        if source == MEMORY:
            for name, path in self._paths.items():
                self._conn.execute(f"CREATE TABLE mem_{name} AS SELECT * FROM "
                                   f"delta_scan({sql_string(path)}) "
                                   f"ORDER BY {', '.join(KEYS[name])}")
            self._relations = {name: f"mem_{name}" for name in self._paths}
        elif source == DELTA_SCAN:
            self._relations = {name: f"delta_scan({sql_string(path)})"
                               for name, path in self._paths.items()}
        else:
            raise ValueError(f"unknown baseline source {source!r}")

    def answerer(self) -> Callable[[Request], object]:
        cursor = self._conn.cursor()

        def answer(request: Request) -> object:
            planned = statements(request)
            if planned.table is None:
                return [latest_version(Path(path)) for path in self._paths.values()]
            relation = self._relations[planned.table]
            return [cursor.execute(sql.format(table=relation), params).fetchall()
                    for sql, params in planned.queries]

        return answer

    def catalog(self) -> tuple[Catalog, dict[str, int]]:
        """The request mix's catalog, and the rows of each gold table."""
        conn = self._conn.cursor()
        try:
            relation = self._relations
            condominios = [row[0] for row in conn.execute(
                f"SELECT condominio_id FROM {relation[POR_CONDOMINIO]} ORDER BY 1").fetchall()]
            moradores = [row[0] for row in conn.execute(
                f"SELECT morador_id FROM {relation[POR_MORADOR]} ORDER BY 1").fetchall()]
            per_condominio = dict(conn.execute(
                f"SELECT condominio_id, count(*) FROM {relation[POR_MORADOR]} "
                "GROUP BY 1").fetchall())
            tipos = [row[0] for row in conn.execute(
                f"SELECT DISTINCT tipo FROM {relation[DIARIAS]} ORDER BY 1").fetchall()]
            days = conn.execute(f"SELECT min(data_transacao), max(data_transacao), count(*) "
                                f"FROM {relation[DIARIAS]}").fetchone()
        finally:
            conn.close()
        if not condominios or not moradores or days is None or days[0] is None:
            raise ValueError("the gold tables are empty: nothing to ask the API for")
        catalog = Catalog(tuple(condominios), tuple(moradores),
                          {int(k): int(v) for k, v in per_condominio.items()},
                          tuple(tipos), days[0], days[1])
        rows = {POR_CONDOMINIO: len(condominios), POR_MORADOR: len(moradores),
                DIARIAS: int(days[2])}
        return catalog, rows

    def close(self) -> None:
        self._conn.close()
