"""Debezium PostgreSQL change events (schemas disabled, decimals as strings), byte for byte."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from condolake.source.debezium import (
    SIMULATOR_VERSION,
    change_event,
    encode_row,
    event_key,
    parse_lsn,
    tombstone,
    topic_name,
    truncate_event,
)
from condolake.source.tables import IMOVEIS, MORADORES, TRANSACOES

ENVELOPE = {"prefix": "condomanage", "database": "condomanage", "lsn": 24023928, "tx_id": 741,
            "commit_ms": 1767225600000, "produced_ms": 1767225600123}
ROW = {"transacao_id": 42, "imovel_id": 7, "morador_id": 3,
       "data_transacao": date(2024, 1, 31), "valor_transacao": Decimal("1234.50")}
ROW_JSON = ('{"transacao_id":42,"imovel_id":7,"morador_id":3,"data_transacao":19753,'
            '"valor_transacao":"1234.50"}')
UPDATED_JSON = ROW_JSON.replace('"1234.50"', '"99.90"')


def source_json(lsn: int = 24023928) -> str:
    return (f'{{"version":"{SIMULATOR_VERSION}","connector":"postgresql","name":"condomanage",'
            f'"ts_ms":1767225600000,"snapshot":"false","db":"condomanage",'
            f'"sequence":"[null,\\"{lsn}\\"]","schema":"public","table":"transacoes",'
            f'"txId":741,"lsn":{lsn},"xmin":null}}')


def event_json(before: str, after: str, op: str) -> bytes:
    return (f'{{"before":{before},"after":{after},"source":{source_json()},"op":"{op}",'
            f'"ts_ms":1767225600123,"transaction":null}}').encode()


def test_topic_is_prefix_schema_table() -> None:
    assert topic_name("condomanage", "transacoes") == "condomanage.public.transacoes"


def test_create_event_bytes() -> None:
    key, value = change_event(TRANSACOES, "c", None, ROW, **ENVELOPE)
    assert key == b'{"transacao_id":42}'
    assert value == event_json("null", ROW_JSON, "c")


def test_update_event_carries_the_full_old_row() -> None:
    after = {**ROW, "valor_transacao": Decimal("99.90")}
    key, value = change_event(TRANSACOES, "u", ROW, after, **ENVELOPE)
    assert key == b'{"transacao_id":42}'
    assert value == event_json(ROW_JSON, UPDATED_JSON, "u")


def test_delete_event_then_tombstone() -> None:
    key, value = change_event(TRANSACOES, "d", ROW, None, **ENVELOPE)
    assert key == b'{"transacao_id":42}'
    assert value == event_json(ROW_JSON, "null", "d")
    assert tombstone(TRANSACOES, 42) == (b'{"transacao_id":42}', None)


def test_truncate_event_has_no_key_and_no_row_images() -> None:
    key, value = truncate_event(TRANSACOES, **ENVELOPE)
    assert key is None
    assert value == event_json("null", "null", "t")


def test_snapshot_read_carries_its_snapshot_marker() -> None:
    _, value = change_event(TRANSACOES, "r", None, ROW, **ENVELOPE, snapshot="last")
    assert json.loads(value)["source"]["snapshot"] == "last"
    with pytest.raises(ValueError, match="unknown source.snapshot 'maybe'"):
        change_event(TRANSACOES, "r", None, ROW, **ENVELOPE, snapshot="maybe")


def test_sequence_is_a_json_array_in_a_string() -> None:
    _, value = change_event(TRANSACOES, "c", None, ROW, **ENVELOPE)
    source = json.loads(value)["source"]
    assert json.loads(source["sequence"]) == [None, "24023928"]


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("0.10"), "0.10"), (Decimal("0.1"), "0.10"), (Decimal("1234.5"), "1234.50"),
     (Decimal("-5.00"), "-5.00"), (Decimal("0.00"), "0.00"), (10, "10.00"),
     (Decimal("9999999999999.99"), "9999999999999.99")],
)
def test_money_is_a_string_with_two_decimals(amount: Any, text: str) -> None:
    assert encode_row(TRANSACOES, {**ROW, "valor_transacao": amount})["valor_transacao"] == text


def test_date_is_days_since_the_epoch() -> None:
    encoded = encode_row(TRANSACOES, ROW)
    assert encoded["data_transacao"] == 19753
    before_epoch = encode_row(TRANSACOES, {**ROW, "data_transacao": date(1899, 12, 31)})
    assert before_epoch["data_transacao"] == -25568


def test_text_keeps_accents_as_utf8() -> None:
    row = {"morador_id": 1, "nome": "João Ávila", "condominio_id": 2,
           "data_registro": date(1970, 1, 2)}
    key, value = change_event(MORADORES, "c", None, row, **ENVELOPE)
    assert key == b'{"morador_id":1}'
    assert b'"after":{"morador_id":1,"nome":"Jo\xc3\xa3o \xc3\x81vila","condominio_id":2,' \
           b'"data_registro":1}' in value


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [("valor", 1.5, TypeError), ("valor", Decimal("1.005"), ValueError),
     ("valor", "1.50", TypeError), ("imovel_id", "7", TypeError), ("imovel_id", True, TypeError),
     ("tipo", 3, TypeError)],
)
def test_wrong_python_types_are_refused(column: str, value: Any, error: type[Exception]) -> None:
    row = {"imovel_id": 7, "tipo": "casa", "condominio_id": 1, "valor": Decimal("1.00")}
    with pytest.raises(error):
        encode_row(IMOVEIS, {**row, column: value})


def test_a_datetime_is_not_a_date() -> None:
    with pytest.raises(TypeError):
        encode_row(TRANSACOES, {**ROW, "data_transacao": datetime(2024, 1, 31)})


@pytest.mark.parametrize(("op", "before", "after"),
                         [("c", ROW, ROW), ("u", None, ROW), ("d", None, None), ("x", None, ROW)])
def test_images_must_fit_the_op(op: str, before: Any, after: Any) -> None:
    with pytest.raises(ValueError):
        change_event(TRANSACOES, op, before, after, **ENVELOPE)


def test_key_of_any_table() -> None:
    assert event_key(IMOVEIS, 9) == b'{"imovel_id":9}'


@pytest.mark.parametrize(("text", "lsn"), [("0/0", 0), ("0/16B3748", 0x16B3748),
                                           ("16/B374D848", (0x16 << 32) + 0xB374D848),
                                           ("FFFFFFFF/FFFFFFFF", 2**64 - 1)])
def test_lsn_text_to_int(text: str, lsn: int) -> None:
    assert parse_lsn(text) == lsn


@pytest.mark.parametrize("text", ["", "16B3748", "/1", "1/", "x/1"])
def test_bad_lsn_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_lsn(text)
