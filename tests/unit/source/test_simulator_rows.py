"""The simulator's rows, malformed records and stats, without any service."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from condolake.source.simulator import SimulationStats, source_topics
from condolake.source.simulator_rows import (
    RowMaker,
    SourcePools,
    is_valid_transacao,
    malformed_value,
    parse_transacao_line,
)

TODAY = date(2026, 3, 15)


def pools() -> SourcePools:
    return SourcePools(condominio_ids=[1, 2], morador_ids=[10, 11, 12], imovel_ids=[100, 101],
                       imovel_cents=[50_000_00, 3_000_00])


def test_rows_for_a_seed() -> None:
    maker = RowMaker(3, TODAY, pools())
    assert maker.morador() == {"nome": "Sra. Juliana da Rocha", "condominio_id": 2,
                               "data_registro": date(2026, 3, 4)}
    assert maker.imovel() == {"tipo": "apartamento", "condominio_id": 1,
                              "valor": Decimal("1013300.00")}
    assert maker.transacao() == {"imovel_id": 101, "morador_id": 11,
                                 "data_transacao": date(2026, 3, 10),
                                 "valor_transacao": Decimal("1790.52")}


def test_each_kind_of_row_draws_from_its_own_generator() -> None:
    first = RowMaker(3, TODAY, pools())
    second = RowMaker(3, TODAY, pools())
    imovel_first = [first.imovel(), first.morador(), first.transacao()]
    morador_first = [second.morador(), second.transacao(), second.imovel()]
    assert imovel_first == [morador_first[2], morador_first[0], morador_first[1]]


def test_new_transacoes_are_valid_and_reference_the_pools() -> None:
    maker = RowMaker(8, TODAY, pools())
    rows = [maker.transacao() for _ in range(500)]
    assert all(is_valid_transacao(row, TODAY) for row in rows)
    assert {row["imovel_id"] for row in rows} == {100, 101}
    assert {row["morador_id"] for row in rows} == {10, 11, 12}
    assert min(row["data_transacao"] for row in rows) == date(2026, 2, 14)
    assert max(row["data_transacao"] for row in rows) == date(2026, 3, 13)


@pytest.mark.parametrize("rule", ["non_positive_valor", "future_data_transacao",
                                  "ancient_data_transacao"])
def test_spoiled_transacoes_break_their_rule(rule: str) -> None:
    maker = RowMaker(8, TODAY, pools())
    assert not any(is_valid_transacao(maker.transacao(rule), TODAY) for _ in range(50))


def test_new_parents_join_the_pools() -> None:
    source = pools()
    source.add_morador({"morador_id": 13})
    source.add_imovel({"imovel_id": 102, "valor": Decimal("1234.50")})
    assert source.morador_ids == [10, 11, 12, 13]
    assert source.imovel_ids == [100, 101, 102]
    assert source.imovel_cents == [50_000_00, 3_000_00, 1_234_50]
    assert source.cents_by_imovel[102] == 1_234_50


def test_changed_amount_always_differs() -> None:
    maker = RowMaker(5, TODAY, pools())
    for _ in range(200):
        row = maker.transacao()
        amount = maker.changed_amount(row)
        assert amount != row["valor_transacao"]
        assert amount >= Decimal("150.00")
        assert amount.as_tuple().exponent == -2


def test_parse_transacao_line() -> None:
    assert parse_transacao_line("0\t7\t3\t2024-01-31\t-0.05\n") == {
        "imovel_id": 7, "morador_id": 3, "data_transacao": date(2024, 1, 31),
        "valor_transacao": Decimal("-0.05")}


@pytest.mark.parametrize(
    ("day", "amount", "valid"),
    [(TODAY, "0.01", True), (date(1900, 1, 1), "1.00", True), (date(1899, 12, 31), "1.00", False),
     (date(2026, 3, 16), "1.00", False), (TODAY, "0.00", False), (TODAY, "-3.00", False)],
)
def test_validity_of_a_transacao(day: date, amount: str, valid: bool) -> None:
    row = {"data_transacao": day, "valor_transacao": Decimal(amount)}
    assert is_valid_transacao(row, TODAY) is valid


def test_malformed_values() -> None:
    assert malformed_value(0, 42) == b'{"before":null,"after":{"t'
    assert malformed_value(1, 42) == b'{"before":null,"after":{"transacao_id":42}}'
    assert malformed_value(2, 42) == b'{"before":null,"op":"c"}'
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed_value(0, 42))
    with pytest.raises(ValueError):
        malformed_value(3, 42)


def test_stats_as_json() -> None:
    stats = SimulationStats(events=3, published=4, tombstones=1, first_lsn=10, last_lsn=12,
                            valid_transacao_ids={9, 7}, deleted_transacao_ids=[8, 5])
    stats.changes["transacoes"]["c"] = 2
    stats.invalid_rows["transacoes"]["non_positive_valor"] = 1
    data = stats.to_dict()
    assert data["valid_transacao_ids"] == [7, 9]
    assert data["deleted_transacao_ids"] == [5, 8]
    assert data["changes"]["transacoes"] == {"c": 2, "u": 0, "d": 0}
    assert data["chaos"] == {"malformed": 0, "duplicate": 0, "late": 0, "out_of_order": 0,
                             "invalid_row": 0}
    assert data["invalid_rows"]["transacoes"] == {
        "non_positive_valor": 1, "future_data_transacao": 0, "ancient_data_transacao": 0}
    assert data["valid_rows_added"] == {"condominios": 0, "moradores": 0, "imoveis": 0,
                                        "transacoes": 1}
    assert json.loads(json.dumps(data)) == data


def test_valid_rows_added_counts_creates_minus_rule_breaking_minus_deletes() -> None:
    stats = SimulationStats()
    stats.changes["moradores"].update(c=10, u=4, d=2)
    stats.invalid_rows["moradores"].update(blank_nome=1, future_data_registro=2)
    stats.changes["imoveis"].update(c=3, d=3)
    assert stats.valid_rows_added() == {"condominios": 0, "moradores": 5, "imoveis": 0,
                                        "transacoes": 0}


def test_stats_summary_of_a_workload() -> None:
    stats = SimulationStats(events=30, transactions=9, seconds=2.0)
    stats.changes["transacoes"].update(c=26, u=3, d=1)
    stats.changes["moradores"].update(c=2, u=1)
    stats.invalid_rows["moradores"]["blank_nome"] = 1
    stats.invalid_rows["transacoes"]["future_data_transacao"] = 2
    assert stats.summary() == [
        "30 events in 2.0 s (15/s), 9 transactions committed",
        "changes: moradores 2c/1u/0d, transacoes 26c/3u/1d",
        "rule-breaking rows: moradores blank_nome 1; transacoes future_data_transacao 2",
        "valid rows added: moradores +1, transacoes +23",
    ]


def test_stats_summary_of_a_direct_publishing_run() -> None:
    stats = SimulationStats(publish=True, events=30, transactions=3, published=31, tombstones=1,
                            first_lsn=10, last_lsn=39, seconds=2.0, valid_transacao_ids={1, 2})
    stats.changes["transacoes"].update(c=28, d=1)
    stats.changes["moradores"]["c"] = 1
    stats.chaos["late"] = 2
    assert stats.summary() == [
        "30 events in 2.0 s (15/s), 3 transactions committed",
        "changes: moradores 1c/0u/0d, transacoes 28c/0u/1d",
        "rule-breaking rows: none",
        "valid rows added: moradores +1, transacoes +27",
        "published directly: 31 records (1 tombstones); chaos: late 2",
        "lsn 10 .. 39; 2 valid transacoes created and kept",
    ]


def test_rule_breaking_parents_break_their_rule_only() -> None:
    maker = RowMaker(5, TODAY, pools())
    assert maker.morador("blank_nome")["nome"].strip() == ""
    assert maker.morador("future_data_registro")["data_registro"] > TODAY
    assert maker.morador("ancient_data_registro")["data_registro"].year < 1900
    assert maker.imovel("non_positive_valor")["valor"] <= 0
    spoiled = maker.imovel("blank_tipo")
    assert spoiled["tipo"].strip() == "" and spoiled["valor"] > 0
    with pytest.raises(ValueError, match="unknown invalid kind"):
        maker.morador("negative_nome")


def test_rule_breaking_rows_do_not_shift_the_valid_ones() -> None:
    plain = RowMaker(5, TODAY, pools())
    spoiling = RowMaker(5, TODAY, pools())
    expected = [plain.morador() for _ in range(3)]
    got = [spoiling.morador(), spoiling.morador("blank_nome"), spoiling.morador()]
    assert [got[0]["nome"], got[2]["nome"]] == [expected[0]["nome"], expected[2]["nome"]]
    assert got[1]["condominio_id"] == expected[1]["condominio_id"]


def test_changed_parents_stay_valid_and_differ() -> None:
    maker = RowMaker(2, TODAY, pools())
    for _ in range(200):
        row = {"nome": "Ana Souza", "valor": Decimal("250000.00")}
        nome, valor = maker.changed_nome(row), maker.changed_valor(row)
        assert nome.strip() and nome != row["nome"]
        assert Decimal("200000.00") <= valor <= Decimal("300000.00") and valor != row["valor"]
        assert valor == valor.quantize(Decimal("0.01"))
    assert maker.changed_valor({"valor": Decimal("0.01")}) == Decimal("0.02")


def test_topics_of_the_four_tables() -> None:
    assert source_topics("cm") == ["cm.public.condominios", "cm.public.moradores",
                                   "cm.public.imoveis", "cm.public.transacoes"]
