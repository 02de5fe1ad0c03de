"""Rows to JSON: money as exact two-decimal strings, dates ISO, names masked for analysts."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from condolake.serving.cache import LruCache
from condolake.serving.index import Page
from condolake.serving.queries import DIARIAS_POR_TIPO, POR_CONDOMINIO, POR_MORADOR, PageQuery
from condolake.serving.render import dumps, item, page_body


def test_money_keeps_every_cent_as_a_string() -> None:
    row = (3, "Residencial Aurora da Silva", 12, Decimal("12345678901234567890123.40"))
    assert item(POR_CONDOMINIO, row, masked=True) == {
        "condominio_id": 3, "nome": "Residencial Aurora da Silva",  # never masked
        "quantidade_transacoes": 12, "valor_total": "12345678901234567890123.40"}
    assert item(POR_CONDOMINIO, (1, "A", 0, Decimal("0.00")), False)["valor_total"] == "0.00"


def test_resident_names_are_masked_only_when_asked() -> None:
    row = (7, "Maria da Silva", 2, 1, Decimal("10.05"))
    assert item(POR_MORADOR, row, masked=True)["nome"] == "M*** d*** S***"
    assert item(POR_MORADOR, row, masked=False)["nome"] == "Maria da Silva"


def test_dates_are_iso() -> None:
    row = (dt.date(2024, 1, 31), "casa", 4, Decimal("1234.50"))
    assert dumps(item(DIARIAS_POR_TIPO, row, False)) == (
        b'{"data_transacao":"2024-01-31","tipo":"casa","quantidade_transacoes":4,'
        b'"valor_total":"1234.50"}')


def test_next_offset_points_after_the_page_until_the_last() -> None:
    rows = [(i, f"C{i}", i, Decimal(i)) for i in (1, 2)]
    middle = page_body(POR_CONDOMINIO, Page(rows, total=5), PageQuery(limit=2, offset=2), 9,
                       False)
    assert (middle["next_offset"], middle["total"], middle["table_version"]) == (4, 5, 9)
    assert middle["items"][1]["valor_total"] == "2.00"
    last = page_body(POR_CONDOMINIO, Page(rows[:1], total=5), PageQuery(limit=2, offset=4), 9,
                     False)
    assert last["next_offset"] is None
    beyond = page_body(POR_CONDOMINIO, Page([], total=5), PageQuery(limit=2, offset=50), 9,
                       False)
    assert beyond == {"items": [], "total": 5, "limit": 2, "offset": 50, "next_offset": None,
                      "table_version": 9}


def test_dumps_keeps_accents() -> None:
    assert json.loads(dumps({"nome": "Condomínio Ipê"})) == {"nome": "Condomínio Ipê"}
    assert "Condomínio".encode() in dumps({"nome": "Condomínio"})


def test_lru_cache_evicts_the_least_recently_used() -> None:
    cache = LruCache(max_entries=2, max_bytes=100)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"
    cache.put("c", b"3")
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (b"1", b"3", 2)


def test_lru_cache_is_bounded_in_bytes() -> None:
    cache = LruCache(max_entries=10, max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"5678")
    cache.put("a", b"12")  # replacing an entry counts its new size only
    assert cache.size_bytes == 6
    cache.put("c", b"abcde")
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, b"12", b"abcde")
    assert cache.size_bytes == 7
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get("huge") is None and len(cache) == 2
