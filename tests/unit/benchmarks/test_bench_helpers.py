"""Small helpers of the benchmarks: the machine, DuckDB SQL pieces, timings."""

from __future__ import annotations

import datetime as dt

from benchmarks.duckdb_baseline import conninfo, silver_statements
from benchmarks.machine import busy_note, cpu_model, describe_machine, ram_gib
from benchmarks.model import Timing
from condolake.services.duckdb_extensions import sql_string
from condolake.services.postgres import SourceDatabase


def test_cpu_model_is_the_first_model_name() -> None:
    cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nmodel name\t: other\n"
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13"
    assert cpu_model("processor: 0\n") == "unknown"


def test_ram_is_total_bytes_in_gib() -> None:
    assert ram_gib(24641536 * 1024) == 23.5
    assert ram_gib(0) == 0.0


def test_busy_note_above_half_a_runnable_thread_per_cpu() -> None:
    assert busy_note(1.0, 2) is None
    note = busy_note(1.5, 2, figures="times")
    assert note == ("The machine was busy (1-min load up to 1.50 on 2 CPUs): other work shared "
                    "it, so the times are pessimistic.")


def test_the_machine_is_described_by_psutil() -> None:
    machine = describe_machine((0.5, 0.25, 0.125))
    assert machine.cpu_count >= 1
    assert machine.ram_gib > 0
    assert machine.load_before == (0.5, 0.25, 0.125)
    assert all(value >= 0 for value in machine.load_after)


def test_conninfo_quotes_every_value() -> None:
    db = SourceDatabase("postgresql://bench:p%27w%5Cd@127.0.0.1:5433/condolake_bench")
    assert conninfo(db) == (
        "host='127.0.0.1' port='5433' dbname='condolake_bench' user='bench' "
        "password='p\\'w\\\\d'"
    )


def test_sql_string_doubles_quotes() -> None:
    assert sql_string("host='x'") == "'host=''x'''"


def test_silver_statements_use_the_run_date_and_parents_first() -> None:
    statements = silver_statements(dt.date(2026, 11, 25))
    assert [s.split()[2] for s in statements] == [
        "silver_condominios", "silver_moradores", "silver_imoveis", "silver_transacoes"]
    assert "DATE '2026-11-25'" in statements[3]


def test_timing_keeps_the_best_run() -> None:
    assert Timing((2.0, 1.5)).seconds == 1.5
    assert Timing((2.0, 1.5)).describe() == "best of 2 (2.00, 1.50)"
    assert Timing((3.0,)).describe() == "1 run"
