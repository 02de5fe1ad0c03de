"""SQL building: no request value in SQL, sorts from the allowlist, the key as tiebreaker."""

from __future__ import annotations

from typing import get_args

import pytest

from condolake.serving import routes
from condolake.serving.queries import (
    DIARIAS_POR_TIPO,
    POR_CONDOMINIO,
    POR_MORADOR,
    Condition,
    PageQuery,
    QueryError,
    copy_statement,
    group_bounds_statement,
    order_by,
    order_statement,
    rows_statement,
)


@pytest.mark.parametrize(("sort", "expected"), [
    ("valor_total", "valor_total ASC, morador_id ASC"),
    ("-valor_total", "valor_total DESC, morador_id ASC"),
    ("morador_id", "morador_id ASC"),
    ("-morador_id", "morador_id DESC"),
    ("-nome", "nome DESC, morador_id ASC"),
])
def test_order_by_breaks_ties_on_the_key(sort: str, expected: str) -> None:
    assert order_by(POR_MORADOR, sort) == expected


def test_order_by_of_a_compound_key() -> None:
    assert order_by(DIARIAS_POR_TIPO, "-quantidade_transacoes") == \
        "quantidade_transacoes DESC, data_transacao ASC, tipo ASC"
    assert order_by(DIARIAS_POR_TIPO, "tipo") == "tipo ASC, data_transacao ASC"


@pytest.mark.parametrize("sort", ["endereco", "nome; DROP TABLE x", "--nome", "tipo", ""])
def test_a_sort_outside_the_allowlist_is_refused(sort: str) -> None:
    with pytest.raises(QueryError):
        order_by(POR_CONDOMINIO, sort)


def test_the_delta_path_is_a_parameter_and_rows_are_numbered_in_key_order() -> None:
    assert copy_statement(POR_MORADOR, "load_m") == (
        "CREATE OR REPLACE TEMP TABLE load_m AS SELECT row_number() OVER (ORDER BY "
        "morador_id ASC) - 1 AS _pos, morador_id, nome, condominio_id, quantidade_transacoes, "
        "CAST(valor_total AS decimal(25,2)) AS valor_total FROM delta_scan(?)")
    assert rows_statement(POR_MORADOR, "load_m") == (
        "SELECT morador_id, nome, condominio_id, quantidade_transacoes, valor_total "
        "FROM load_m ORDER BY _pos")


def test_compound_keys_number_rows_by_the_whole_key() -> None:
    assert "row_number() OVER (ORDER BY data_transacao ASC, tipo ASC)" in copy_statement(
        DIARIAS_POR_TIPO, "d")


def test_order_statement_uses_the_allowlist() -> None:
    assert order_statement(POR_CONDOMINIO, "c", "-valor_total") == (
        "SELECT _pos FROM c ORDER BY valor_total DESC, condominio_id ASC")
    with pytest.raises(QueryError):
        order_statement(POR_CONDOMINIO, "c", "valor_total DESC; DROP TABLE c")


def test_grouped_orders_put_one_value_s_rows_together() -> None:
    assert order_statement(POR_MORADOR, "m", "-nome", group_by="condominio_id") == (
        "SELECT _pos FROM m ORDER BY condominio_id ASC, nome DESC, morador_id ASC")
    assert group_bounds_statement(POR_MORADOR, "m", "condominio_id") == (
        "SELECT condominio_id, count(*) FROM m GROUP BY condominio_id "
        "ORDER BY condominio_id ASC")
    with pytest.raises(QueryError):
        order_statement(POR_MORADOR, "m", "nome", group_by="nome; --")
    with pytest.raises(QueryError):
        group_bounds_statement(POR_CONDOMINIO, "c", "condominio_id")  # not a grouped column


@pytest.mark.parametrize("relation", ["c; DROP TABLE c", "C", "1c", "c.d"])
def test_relation_must_be_an_identifier(relation: str) -> None:
    with pytest.raises(QueryError):
        rows_statement(POR_CONDOMINIO, relation)


def test_queries_are_hashable_cache_keys() -> None:
    one = PageQuery((Condition("condominio_id", "=", 2),), "nome", 10, 0)
    same = PageQuery((Condition("condominio_id", "=", 2),), "nome", 10, 0)
    assert one == same and hash(one) == hash(same)


@pytest.mark.parametrize(("literal", "spec"), [
    (routes.CondominioSort, POR_CONDOMINIO),
    (routes.MoradorSort, POR_MORADOR),
    (routes.DiariaSort, DIARIAS_POR_TIPO),
])
def test_the_api_offers_exactly_the_allowlisted_sorts(literal: object, spec: object) -> None:
    assert list(get_args(literal)) == spec.sort_options()  # type: ignore[attr-defined]
