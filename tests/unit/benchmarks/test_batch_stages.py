"""Stages of a batch run from its timestamped progress messages."""

from __future__ import annotations

import pytest

from benchmarks.model import Stage
from benchmarks.stages import Event, batch_stages, extract_window, group_seconds

EVENTS = [
    Event(0.5, "run batch-20261125T000000-abcd (run date 25/11/2026)"),
    Event(1.0, "reading condominios from PostgreSQL: 10 rows"),
    Event(4.0, "reading transacoes with transacao_id > 5 from PostgreSQL: 1,000 rows"),
    Event(10.0, "condominios: 10 read, 10 valid, 0 quarantined, 0 duplicate"),
    Event(10.25, "some message the benchmark does not know"),
    Event(15.0, "transacoes: 1,000 read, 990 valid, 10 quarantined, 0 duplicate"),
    Event(18.0, "gold/transacoes_por_condominio: 10 rows"),
    Event(19.0, "gold/transacoes_por_morador: 9 rows"),
]
LOAD_SECONDS = {"condominios": 2.0, "transacoes": 4.5}


def test_each_message_closes_the_stage_it_ends() -> None:
    stages = batch_stages(EVENTS, 20.0, LOAD_SECONDS)
    assert stages == [
        Stage("start of the run", "overhead", 0.5),
        Stage("lake checkpoint + watermark lookup", "overhead", 0.5),
        Stage("extract condominios (JDBC -> bronze)", "extract", 3.0),
        Stage("extract transacoes (JDBC -> bronze)", "extract", 4.0),
        Stage("validate + silver condominios", "silver", 2.0),
        Stage("between loads (watermark save)", "overhead", 0.5),
        Stage("validate + silver transacoes", "silver", 4.5),
        Stage("gold transacoes_por_condominio (+ watermark save)", "gold", 3.0),
        Stage("gold transacoes_por_morador", "gold", 1.0),
        Stage("run log (ops/runs)", "overhead", 1.0),
    ]


def test_stages_add_up_to_the_run() -> None:
    totals = group_seconds(batch_stages(EVENTS, 20.0, LOAD_SECONDS))
    assert totals == pytest.approx({"extract": 7.0, "silver": 6.5, "gold": 4.0,
                                    "overhead": 2.5})


def test_a_load_longer_than_its_gap_does_not_go_negative() -> None:
    events = [Event(1.0, "reading imoveis from PostgreSQL: 3 rows"),
              Event(2.0, "imoveis: 3 read, 3 valid, 0 quarantined, 0 duplicate")]
    assert batch_stages(events, 2.0, {"imoveis": 5.0}) == [
        Stage("start of the run", "overhead", 1.0),
        Stage("extract imoveis (JDBC -> bronze)", "extract", 0.0),
        Stage("validate + silver imoveis", "silver", 1.0),
    ]


def test_extract_window_ends_where_the_first_load_starts() -> None:
    precise, loose = extract_window(EVENTS, LOAD_SECONDS)
    assert (precise, loose) == (7.0, 9.0)


def test_extract_window_is_zero_without_reads() -> None:
    assert extract_window([Event(1.0, "gold/x: 1 rows")], {}) == (0.0, 0.0)
