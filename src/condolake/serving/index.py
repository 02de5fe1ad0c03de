"""One version of a gold table in memory, with every allowlisted order prebuilt.

A page is then a slice: of an order (the whole table), of a grouped order (one condominium or
one property type: its rows are contiguous there, in the requested order) or of one row found
by its key. A range filter on the key's first column (the daily table's dates) is one
contiguous block of positions, found by bisection; only the remaining filters scan.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import duckdb

from condolake.serving.queries import (
    Condition,
    PageQuery,
    QueryError,
    TableSpec,
    group_bounds_statement,
    order_statement,
    rows_statement,
)

Row = tuple[Any, ...]
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, ">=": operator.ge, "<=": operator.le,
}


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int


def positions(values: Sequence[int]) -> array[int]:
    return array("l", values)


@dataclass(frozen=True)
class Grouping:
    """Rows ordered by a column first, then by each sort: one value's rows are contiguous."""

    bounds: Mapping[Any, tuple[int, int]]  # value -> [start, end) in every order below
    orders: Mapping[str, Sequence[int]]  # sort option -> row positions

    @classmethod
    def of(cls, values_in_order: Sequence[Any],
           orders: Mapping[str, Sequence[int]]) -> Grouping:
        """From each distinct value and its row count, in the grouping order."""
        bounds, start = {}, 0
        for value, count in values_in_order:
            bounds[value] = (start, start + count)
            start += count
        return cls(bounds, {sort: p if isinstance(p, array) else positions(p)
                            for sort, p in orders.items()})


@dataclass(frozen=True)
class TableIndex:
    """Immutable once built, so requests share it without locks."""

    spec: TableSpec
    rows: Sequence[Row]  # in key order
    orders: Mapping[str, Sequence[int]]  # sort option -> row positions
    groupings: Mapping[str, Grouping]  # column -> its grouped orders
    by_key: Mapping[Any, int]  # single-column key -> position (empty for compound keys)
    first_key: Sequence[Any]  # the key's first column, by position: non-decreasing

    @classmethod
    def read(cls, cursor: duckdb.DuckDBPyConnection, spec: TableSpec,
             relation: str) -> TableIndex:
        """The index of a table `copy_statement` made; DuckDB does the sorting."""
        def order(sort: str, group_by: str | None = None) -> array[int]:
            statement = order_statement(spec, relation, sort, group_by)
            return array("l", chain.from_iterable(cursor.execute(statement).fetchall()))

        rows = cursor.execute(rows_statement(spec, relation)).fetchall()
        sorts = spec.sort_options()
        groupings = {
            column: Grouping.of(
                cursor.execute(group_bounds_statement(spec, relation, column)).fetchall(),
                {sort: order(sort, column) for sort in sorts})
            for column in spec.grouped_by
        }
        return cls.build(spec, rows, {sort: order(sort) for sort in sorts}, groupings)

    @classmethod
    def build(cls, spec: TableSpec, rows: Sequence[Row], orders: Mapping[str, Sequence[int]],
              groupings: Mapping[str, Grouping]) -> TableIndex:
        if set(orders) != set(spec.sort_options()) or set(groupings) != set(spec.grouped_by):
            raise QueryError(f"{spec.name}: the index needs every allowlisted order")
        by_key: dict[Any, int] = {}
        if len(spec.key) == 1:
            at = spec.columns.index(spec.key[0])
            by_key = {row[at]: position for position, row in enumerate(rows)}
        arrays = {s: p if isinstance(p, array) else positions(p) for s, p in orders.items()}
        first_at = spec.columns.index(spec.key[0])
        return cls(spec, rows, arrays, groupings, by_key, [row[first_at] for row in rows])

    def distinct(self, column: str) -> list[Any]:
        """Sorted distinct values of a grouped column."""
        return sorted(v for v in self.groupings[column].bounds if v is not None)

    def select(self, query: PageQuery) -> Page:
        """The rows of one page and how many rows match in all."""
        sort = query.sort or self.spec.default_sort
        if sort not in self.orders:
            raise QueryError(f"{self.spec.name} cannot be sorted by {sort!r}")
        for condition in query.conditions:
            if (condition.column not in self.spec.columns
                    or condition.operator not in OPERATORS):
                raise QueryError(f"bad condition on {self.spec.name}: {condition}")
        remaining = list(query.conditions)
        block = self._key_block(remaining)
        order, start, end = self._narrowest(sort, remaining)
        end_of_page = query.offset + query.limit
        if not remaining and block is None:  # a slice of a slice: no copy of the group
            page = order[start + query.offset:min(start + end_of_page, end)]
            return Page([self.rows[p] for p in page], max(end - start, 0))
        candidates: Sequence[int] = order[start:end]
        if block is not None:
            low, high = block
            candidates = [p for p in candidates if low <= p < high]
        tests = [(self.spec.columns.index(c.column), OPERATORS[c.operator], c.value)
                 for c in remaining]
        rows = self.rows
        matching = [p for p in candidates
                    if all(rows[p][at] is not None and test(rows[p][at], value)
                           for at, test, value in tests)]
        return Page([rows[p] for p in matching[query.offset:end_of_page]], len(matching))

    def _key_block(self, remaining: list[Condition]) -> tuple[int, int] | None:
        """[low, high): the positions range conditions on the key's first column allow (rows
        are in key order, so they are contiguous); takes those conditions out of `remaining`."""
        ranged = [c for c in remaining
                  if c.column == self.spec.key[0] and c.operator in (">=", "<=")]
        if not ranged:
            return None
        low, high = 0, len(self.first_key)
        for condition in ranged:
            remaining.remove(condition)
            if condition.operator == ">=":
                low = max(low, bisect_left(self.first_key, condition.value))
            else:
                high = min(high, bisect_right(self.first_key, condition.value))
        return low, high

    def _narrowest(self, sort: str,
                   remaining: list[Condition]) -> tuple[Sequence[int], int, int]:
        """(order, start, end): the positions, in `sort` order, a key or group lookup leaves;
        takes the condition it answered out of `remaining`."""
        for condition in remaining:
            if condition.operator == "=" and self.by_key and condition.column == self.spec.key[0]:
                remaining.remove(condition)
                found = self.by_key.get(condition.value)
                return ([] if found is None else [found]), 0, int(found is not None)
        for condition in remaining:
            grouping = self.groupings.get(condition.column)
            if grouping is not None and condition.operator == "=":
                remaining.remove(condition)
                start, end = grouping.bounds.get(condition.value, (0, 0))
                return grouping.orders[sort], start, end
        order = self.orders[sort]
        return order, 0, len(order)
