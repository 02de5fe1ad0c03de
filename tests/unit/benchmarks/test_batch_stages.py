"""Stages of a batch run from the stage records it logs."""

from __future__ import annotations

import logging

import pytest

from benchmarks.measure import recording
from benchmarks.model import Stage
from benchmarks.stages import Event, batch_stages, extract_window, group_seconds
from condolake.logs import Stage as Mark
from condolake.logs import stage_fields

EVENTS = [
    Event(0.5, Mark.RUN),
    Event(1.0, Mark.EXTRACT, "condominios"),
    Event(4.0, Mark.EXTRACT, "transacoes"),
    Event(10.0, Mark.SILVER, "condominios"),
    Event(10.25, None),  # a record that marks no stage
    Event(15.0, Mark.SILVER, "transacoes"),
    Event(18.0, Mark.GOLD, "transacoes_por_condominio"),
    Event(19.0, Mark.GOLD, "transacoes_por_morador"),
]
LOAD_SECONDS = {"condominios": 2.0, "transacoes": 4.5}


def test_each_record_closes_the_stage_it_ends() -> None:
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
    events = [Event(1.0, Mark.EXTRACT, "imoveis"), Event(2.0, Mark.SILVER, "imoveis")]
    assert batch_stages(events, 2.0, {"imoveis": 5.0}) == [
        Stage("start of the run", "overhead", 1.0),
        Stage("extract imoveis (JDBC -> bronze)", "extract", 0.0),
        Stage("validate + silver imoveis", "silver", 1.0),
    ]


def test_extract_window_ends_where_the_first_load_starts() -> None:
    precise, loose = extract_window(EVENTS, LOAD_SECONDS)
    assert (precise, loose) == (7.0, 9.0)


def test_extract_window_is_zero_without_reads() -> None:
    assert extract_window([Event(1.0, Mark.GOLD, "x")], {}) == (0.0, 0.0)


def test_the_recorder_reads_the_stage_records_the_package_logs() -> None:
    batch_log = logging.getLogger("condolake.pipelines.batch")
    with recording() as recorder:
        batch_log.info("run x", extra=stage_fields(Mark.RUN))
        batch_log.info("reading imoveis from PostgreSQL: 3 rows",
                       extra=stage_fields(Mark.EXTRACT, "imoveis"))
        batch_log.info("imoveis: unchanged since the last load, not read")
        logging.getLogger("elsewhere").info("not the package's", extra=stage_fields(Mark.GOLD))
    batch_log.info("after the run", extra=stage_fields(Mark.GOLD, "x"))
    assert [(event.stage, event.table) for event in recorder.events] == [
        (Mark.RUN, ""), (Mark.EXTRACT, "imoveis"), (None, "")]
    assert [event.at for event in recorder.events] == sorted(event.at for event in recorder.events)
