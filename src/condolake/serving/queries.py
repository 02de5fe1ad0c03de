"""The gold tables the API serves, the requests it accepts, and the SQL that loads them.

Requests never become SQL: DuckDB only copies a table version (its path a `?` parameter) and
orders it by each allowlisted sort; filters then run in memory on typed values (`index.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyspark.sql.types import DateType, DecimalType

from condolake import catalog
from condolake.transforms.gold import GOLD_MONEY_TYPE, marts

DESCENDING = "-"
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
POSITION_COL = "_pos"


@dataclass(frozen=True)
class TableSpec:
    """A gold table as the API serves it."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # unique per row; the tiebreaker of every sort
    sortable: tuple[str, ...]
    default_sort: str
    grouped_by: tuple[str, ...] = ()  # equality filters answered from a prebuilt group
    money: tuple[str, ...] = ()  # exact decimals, served as "1234.50"
    dates: tuple[str, ...] = ()  # served as ISO dates
    personal: tuple[str, ...] = ()  # masked for roles that mask names
    scoped_by: str | None = None  # the column a condominium-scoped key is limited to

    def sort_options(self) -> list[str]:
        return [option for column in self.sortable for option in (column, DESCENDING + column)]


# Equality filters answered from a prebuilt group of rows (the API's own choice, per mart).
GROUPED_BY = {marts.POR_MORADOR.name: ("condominio_id",), marts.DIARIAS_POR_TIPO.name: ("tipo",)}


SCOPE_COLUMN = "condominio_id"


def served_spec(mart: marts.Mart) -> TableSpec:
    """A mart as the API serves it: every column, sortable; its key first by default; money,
    dates and personal columns as the catalog declares them."""
    def typed(kind: type) -> tuple[str, ...]:
        return tuple(f.name for f in mart.schema.fields if isinstance(f.dataType, kind))

    personal = next(t.personal for t in catalog.tables_in(catalog.Layer.GOLD)
                    if t.name == mart.name)
    return TableSpec(name=mart.name, columns=mart.columns, key=mart.keys, sortable=mart.columns,
                     default_sort=mart.keys[0], grouped_by=GROUPED_BY.get(mart.name, ()),
                     money=typed(DecimalType), dates=typed(DateType), personal=personal,
                     scoped_by=SCOPE_COLUMN if SCOPE_COLUMN in mart.columns else None)


def gold_specs() -> dict[str, TableSpec]:
    """Every mart of the catalog as the API serves it, in the catalog's order."""
    return {mart.name: served_spec(mart) for mart in catalog.marts()}


POR_CONDOMINIO = served_spec(marts.POR_CONDOMINIO)
POR_MORADOR = served_spec(marts.POR_MORADOR)
DIARIAS_POR_TIPO = served_spec(marts.DIARIAS_POR_TIPO)


class QueryError(ValueError):
    """A query the API itself built wrongly (never caused by a request's values)."""


@dataclass(frozen=True)
class Condition:
    column: str
    operator: str  # "=", ">=" or "<="
    value: Any  # hashable and typed: int, str, date


@dataclass(frozen=True)
class PageQuery:
    """A normalised request for one page: hashable, so it can key a result cache."""

    conditions: tuple[Condition, ...] = ()
    sort: str = ""
    limit: int = 100
    offset: int = 0


def _identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise QueryError(f"not an identifier: {name!r}")
    return name


def order_by(spec: TableSpec, sort: str) -> str:
    """ORDER BY for an allowlisted sort, with the table's key as tiebreaker (stable pages)."""
    column = sort.removeprefix(DESCENDING)
    if column not in spec.sortable:
        raise QueryError(f"{spec.name} cannot be sorted by {sort!r}")
    direction = "DESC" if sort.startswith(DESCENDING) else "ASC"
    terms = [f"{column} {direction}"] + [f"{key} ASC" for key in spec.key if key != column]
    return ", ".join(terms)


def copy_statement(spec: TableSpec, relation: str, source: str = "delta_scan(?)") -> str:
    """Copies `source` (by default the Delta table at the `?` path) into the temp table
    `relation`, numbering the rows 0.. in key order."""
    columns = ", ".join(
        f"CAST({c} AS {GOLD_MONEY_TYPE}) AS {c}" if c in spec.money else c
        for c in spec.columns
    )
    return (f"CREATE OR REPLACE TEMP TABLE {_identifier(relation)} AS "
            f"SELECT row_number() OVER (ORDER BY {order_by(spec, spec.key[0])}) - 1 "
            f"AS {POSITION_COL}, {columns} FROM {source}")


def rows_statement(spec: TableSpec, relation: str) -> str:
    return (f"SELECT {', '.join(spec.columns)} FROM {_identifier(relation)} "
            f"ORDER BY {POSITION_COL}")


def order_statement(spec: TableSpec, relation: str, sort: str,
                    group_by: str | None = None) -> str:
    """Row positions in the order of one allowlisted sort, after `group_by` if given."""
    ordering = order_by(spec, sort)
    if group_by is not None:
        ordering = f"{_grouped(spec, group_by)} ASC, {ordering}"
    return f"SELECT {POSITION_COL} FROM {_identifier(relation)} ORDER BY {ordering}"


def group_bounds_statement(spec: TableSpec, relation: str, column: str) -> str:
    """Each value of a grouped column and its row count, in the grouped orders' order."""
    grouped = _grouped(spec, column)
    return (f"SELECT {grouped}, count(*) FROM {_identifier(relation)} "
            f"GROUP BY {grouped} ORDER BY {grouped} ASC")


def _grouped(spec: TableSpec, column: str) -> str:
    if column not in spec.grouped_by:
        raise QueryError(f"{spec.name} is not grouped by {column!r}")
    return column
