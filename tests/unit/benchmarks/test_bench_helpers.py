"""Small pure helpers of the batch benchmark: /proc parsing, DuckDB SQL pieces, timings."""

from __future__ import annotations

import datetime as dt

from benchmarks.duckdb_baseline import conninfo, silver_statements
from benchmarks.machine import cpu_model, ram_gib
from benchmarks.model import Timing
from condolake.services.duckdb_extensions import sql_string
from condolake.services.postgres import SourceDatabase


def test_cpu_model_is_the_first_model_name() -> None:
    cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nmodel name\t: other\n"
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13"
    assert cpu_model("processor: 0\n") == "unknown"


def test_ram_is_memtotal_in_gib() -> None:
    assert ram_gib("MemFree: 1 kB\nMemTotal:       24641536 kB\n") == 23.5
    assert ram_gib("") == 0.0


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
