"""Pages from the in-memory index: filters, every sort with ties, offsets, key lookups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from condolake.serving.index import TableIndex
from condolake.serving.queries import (
    DIARIAS_POR_TIPO,
    POR_MORADOR,
    Condition,
    PageQuery,
    QueryError,
    TableSpec,
    copy_statement,
)

MORADORES = [  # morador_id, nome, condominio_id, quantidade_transacoes, valor_total
    (4, "Bia Souza", 2, 3, Decimal("30.00")),
    (1, "Ana Lima", 1, 3, Decimal("10.50")),
    (3, "Caio Reis", 1, 0, Decimal("0.00")),
    (2, "Ana Lima", 2, 5, Decimal("10.50")),
    (5, "Duda Melo", 1, 3, Decimal("99.99")),
]
DIAS = [  # data_transacao, tipo, quantidade_transacoes, valor_total
    (dt.date(2024, 1, 2), "casa", 2, Decimal("5.00")),
    (dt.date(2024, 1, 1), "casa", 1, Decimal("7.00")),
    (dt.date(2024, 1, 1), "apartamento", 2, Decimal("5.00")),
    (dt.date(2024, 1, 3), "apartamento", 1, Decimal("1.00")),
]
SCHEMAS = {
    POR_MORADOR.name: "morador_id INTEGER, nome VARCHAR, condominio_id INTEGER, "
                      "quantidade_transacoes BIGINT, valor_total DECIMAL(25,2)",
    DIARIAS_POR_TIPO.name: "data_transacao DATE, tipo VARCHAR, quantidade_transacoes BIGINT, "
                           "valor_total DECIMAL(25,2)",
}


def index_of(spec: TableSpec, rows: list[tuple[Any, ...]]) -> TableIndex:
    with duckdb.connect() as conn:
        conn.execute(f"CREATE TABLE src ({SCHEMAS[spec.name]})")
        if rows:
            conn.executemany(f"INSERT INTO src VALUES ({', '.join('?' * len(spec.columns))})",
                             rows)
        conn.execute(copy_statement(spec, "loaded", source="src"))
        return TableIndex.read(conn, spec, "loaded")


@pytest.fixture(scope="module")
def moradores() -> TableIndex:
    return index_of(POR_MORADOR, MORADORES)


@pytest.fixture(scope="module")
def dias() -> TableIndex:
    return index_of(DIARIAS_POR_TIPO, DIAS)


def ids(index: TableIndex, query: PageQuery) -> list[int]:
    return [row[0] for row in index.select(query).rows]


def test_rows_are_held_in_key_order_with_exact_decimals(moradores: TableIndex) -> None:
    assert list(moradores.rows) == sorted(MORADORES)
    assert moradores.rows[0][4] == Decimal("10.50")
    assert isinstance(moradores.rows[0][4], Decimal)


@pytest.mark.parametrize(("sort", "expected"), [
    ("morador_id", [1, 2, 3, 4, 5]),
    ("-morador_id", [5, 4, 3, 2, 1]),
    ("valor_total", [3, 1, 2, 4, 5]),  # 1 and 2 tie: the key decides
    ("-valor_total", [5, 4, 1, 2, 3]),  # ties stay ascending by key when descending too
    ("nome", [1, 2, 4, 3, 5]),
    ("-quantidade_transacoes", [2, 1, 4, 5, 3]),
    ("condominio_id", [1, 3, 5, 2, 4]),
])
def test_every_sort_breaks_ties_on_the_key(moradores: TableIndex, sort: str,
                                           expected: list[int]) -> None:
    page = moradores.select(PageQuery(sort=sort, limit=10, offset=0))
    assert [row[0] for row in page.rows] == expected and page.total == 5


def test_pages_cover_the_order_without_overlap(moradores: TableIndex) -> None:
    pages = [ids(moradores, PageQuery(sort="-valor_total", limit=2, offset=o)) for o in (0, 2, 4)]
    assert pages == [[5, 4], [1, 2], [3]]
    beyond = moradores.select(PageQuery(sort="-valor_total", limit=2, offset=9))
    assert (beyond.rows, beyond.total) == ([], 5)


def test_a_group_filter_keeps_the_sort(moradores: TableIndex) -> None:
    in_one = Condition("condominio_id", "=", 1)
    page = moradores.select(PageQuery((in_one,), "-valor_total", limit=2, offset=0))
    assert ([row[0] for row in page.rows], page.total) == ([5, 1], 3)
    assert ids(moradores, PageQuery((in_one,), "nome", 10, 1)) == [3, 5]
    in_two = Condition("condominio_id", "=", 2)
    assert ids(moradores, PageQuery((in_two,), "-morador_id", 1, 1)) == [2]
    past_the_group = moradores.select(PageQuery((in_two,), "", 10, 2))
    assert (past_the_group.rows, past_the_group.total) == ([], 2)
    nowhere = moradores.select(PageQuery((Condition("condominio_id", "=", 9),), "", 10, 0))
    assert (nowhere.rows, nowhere.total) == ([], 0)


def test_a_key_filter_finds_one_row_and_other_filters_still_apply(
    moradores: TableIndex,
) -> None:
    four = Condition("morador_id", "=", 4)
    assert moradores.select(PageQuery((four,), "", 10, 0)).rows == [MORADORES[0]]
    other_condominio = (four, Condition("condominio_id", "=", 1))
    assert moradores.select(PageQuery(other_condominio, "", 10, 0)).total == 0
    same_condominio = (Condition("condominio_id", "=", 2), four)
    assert ids(moradores, PageQuery(same_condominio, "", 10, 0)) == [4]
    assert moradores.select(PageQuery((Condition("morador_id", "=", 77),), "", 1, 0)).total == 0


def test_type_and_inclusive_date_range(dias: TableIndex) -> None:
    casa = Condition("tipo", "=", "casa")
    assert dias.select(PageQuery((casa,), "", 10, 0)).rows == [DIAS[1], DIAS[0]]
    window = (Condition("data_transacao", ">=", dt.date(2024, 1, 1)),
              Condition("data_transacao", "<=", dt.date(2024, 1, 2)))
    page = dias.select(PageQuery(window, "-quantidade_transacoes", 10, 0))
    assert page.rows == [DIAS[2], DIAS[0], DIAS[1]] and page.total == 3
    one_type = dias.select(PageQuery((*window, Condition("tipo", "=", "apartamento")),
                                     "tipo", 10, 0))
    assert one_type.rows == [DIAS[2]]
    assert dias.select(PageQuery((Condition("tipo", "=", "castelo"),), "", 10, 0)).total == 0


BOUNDS = [None, *(dt.date(2023, 12, 31) + dt.timedelta(days=d) for d in range(5))]


@pytest.mark.parametrize("low", BOUNDS)
@pytest.mark.parametrize("high", BOUNDS)
def test_a_date_range_is_the_block_a_full_scan_finds(dias: TableIndex, low: dt.date | None,
                                                     high: dt.date | None) -> None:
    window = tuple(c for c in (
        None if low is None else Condition("data_transacao", ">=", low),
        None if high is None else Condition("data_transacao", "<=", high)) if c is not None)
    expected = sorted((row for row in DIAS
                       if (low is None or row[0] >= low) and (high is None or row[0] <= high)),
                      key=lambda row: (-row[3], row[0], row[1]))
    page = dias.select(PageQuery(window, "-valor_total", 10, 0))
    assert page.rows == expected and page.total == len(expected)


def test_distinct_types_are_sorted(dias: TableIndex) -> None:
    assert dias.distinct("tipo") == ["apartamento", "casa"]


@pytest.mark.parametrize("query", [
    PageQuery(sort="endereco"),
    PageQuery(sort="valor_total; DROP TABLE x"),
    PageQuery((Condition("endereco", "=", 1),)),
    PageQuery((Condition("condominio_id", "!=", 1),)),
])
def test_only_allowlisted_sorts_and_conditions(moradores: TableIndex, query: PageQuery) -> None:
    with pytest.raises(QueryError):
        moradores.select(query)


def test_an_empty_table() -> None:
    empty = index_of(POR_MORADOR, [])
    page = empty.select(PageQuery((Condition("condominio_id", "=", 1),), "-nome", 10, 0))
    assert (page.rows, page.total) == ([], 0)
    assert index_of(DIARIAS_POR_TIPO, []).distinct("tipo") == []
