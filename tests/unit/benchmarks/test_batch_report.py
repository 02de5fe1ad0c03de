"""The batch benchmark report: exact Markdown and the JSON figures for a fixed result."""

# The expected Markdown has table rows longer than the line limit; wrapping would change it.
# ruff: noqa: E501

from __future__ import annotations

import json

from benchmarks.batch_report import render_markdown, to_json
from benchmarks.model import (
    BatchBenchmark,
    GoldCheck,
    Machine,
    SparkSetup,
    Stage,
    TableRows,
    Timing,
    Versions,
)
from benchmarks.report import scale_label


def fixed_result(**changes: object) -> BatchBenchmark:
    values: dict[str, object] = {
        "scale": 0.5,
        "seed": 7,
        "started_at": "2026-11-25T10:00:00",
        "machine": Machine(2, "AMD EPYC", 23.5, (0.5, 1.0, 1.5), (1.25, 1.0, 0.75)),
        "versions": Versions("3.11.7", "4.0.1", "4.0.1", "1.5.5", "18.4",
                             'openjdk version "17.0.15" 2025-04-15'),
        "spark": SparkSetup("local[*]", "6g", 8, 4, 10_000),
        "tables": (TableRows("condominios", 50, 1, 49),
                   TableRows("transacoes", 500_000, 10_000, 488_123)),
        "generation_s": 12.345,
        "vacuum_analyze_s": 0.5,
        "copy": Timing((2.5, 2.0)),
        "copy_bytes": 25_500_000,
        "duckdb": Timing((3.0,)),
        "spark_start_s": 5.0,
        "batch_s": 40.0,
        "stages": (Stage("extract transacoes (JDBC -> bronze)", "extract", 7.0),
                   Stage("validate + silver transacoes", "silver", 20.0),
                   Stage("gold transacoes_por_morador", "gold", 10.0),
                   Stage("run log (ops/runs)", "overhead", 3.0)),
        "jdbc_extract_s": 7.0,
        "jdbc_extract_loose_s": 8.0,
        "jdbc_read": Timing((1.5, 1.2)),
        "gold": (GoldCheck("transacoes_por_morador", 9_800, 9_800, 0),
                 GoldCheck("transacoes_diarias_por_tipo", 120, 121, 1)),
        "rerun_s": 3.0,
        "incremental_s": 8.0,
        "incremental_rows": 5_000,
        "notes": ("Source: embedded.",),
    }
    values.update(changes)
    return BatchBenchmark(**values)  # type: ignore[arg-type]


EXPECTED_MARKDOWN = """\
# Batch benchmark: scale 0.5, seed 7, 2026-11-25T10:00:00

## Machine

|  |  |
| --- | --- |
| CPU | 2 × AMD EPYC |
| RAM | 23.5 GiB |
| load average 1/5/15 min, before | 0.50 / 1.00 / 1.50 |
| load average 1/5/15 min, after | 1.25 / 1.00 / 0.75 |
| Spark | local[*], driver memory 6g, 8 shuffle partitions, 4 JDBC partitions, fetchsize 10,000 |

## Versions

| component | version |
| --- | --- |
| Python | 3.11.7 |
| pyspark | 4.0.1 |
| delta-spark | 4.0.1 |
| DuckDB | 1.5.5 |
| PostgreSQL | 18.4 |
| Java | openjdk version "17.0.15" 2025-04-15 |

## Data

| table | rows | invalid (generated) | valid in silver |
| --- | --- | --- | --- |
| condominios | 50 | 1 | 49 |
| transacoes | 500,000 | 10,000 | 488,123 |

Generated in 12.35 s, then VACUUM ANALYZE in 0.50 s.

## Timings

| measurement | seconds | runs | notes |
| --- | --- | --- | --- |
| COPY (FORMAT BINARY), 4 tables, 1 connection | 2.00 | best of 2 (2.50, 2.00) | 25.5 MB read and discarded |
| DuckDB: attach + silver + 3 gold tables | 3.00 | 1 run | postgres extension, local DuckDB file |
| Spark session start | 5.00 | 1 run | not part of the batch time |
| condolake batch, end to end | 40.00 | 1 run | fresh lake; bronze, silver, quarantine, gold, ops |
| of which JDBC extract (4 tables -> bronze) | 7.00 | 1 run | first "reading" message to the start of the first load |
| Spark JDBC read alone, 4 tables -> no-op sink | 1.20 | best of 2 (1.50, 1.20) | same options as the batch; after it (warm JVM) |
| condolake batch re-run, no source change | 3.00 | 1 run | right after the full load |
| condolake batch re-run, new transacoes | 8.00 | 1 run | 5,000 transacoes appended first |

## Spark batch stages

| stage | group | seconds | share |
| --- | --- | --- | --- |
| extract transacoes (JDBC -> bronze) | extract | 7.00 | 18 % |
| validate + silver transacoes | silver | 20.00 | 50 % |
| gold transacoes_por_morador | gold | 10.00 | 25 % |
| run log (ops/runs) | overhead | 3.00 | 8 % |

| group | seconds | share |
| --- | --- | --- |
| extract | 7.00 | 18 % |
| silver | 20.00 | 50 % |
| gold | 10.00 | 25 % |
| overhead | 3.00 | 8 % |

## Targets

| comparison | ratio | target | met |
| --- | --- | --- | --- |
| JDBC extract / COPY | 3.5× | ≤ 3× | no |
| JDBC extract incl. first load (loose) / COPY | 4.0× | ≤ 3× | no |
| Spark JDBC read alone / COPY | 0.6× | (≤ 3×) | yes |
| condolake batch / DuckDB | 13.3× | ≤ 10× | no |
| re-run with no source change / full load | 7.5 % | ≤ 10.0 % | yes |
| re-run after 1 % new transacoes / full load | 20.0 % | ≤ 15.0 % | no |

## Gold: DuckDB against Spark

| table | DuckDB rows | Spark rows | result |
| --- | --- | --- | --- |
| transacoes_por_morador | 9,800 | 9,800 | identical |
| transacoes_diarias_por_tipo | 120 | 121 | 1 rows differ |

## Notes

* Source: embedded.
"""


def test_markdown_of_a_fixed_result_is_exact() -> None:
    assert render_markdown(fixed_result()) == EXPECTED_MARKDOWN


def test_targets_met_when_within_the_ratios() -> None:
    markdown = render_markdown(fixed_result(copy=Timing((3.0,)), duckdb=Timing((4.0,))))
    assert "| JDBC extract / COPY | 2.3× | ≤ 3× | yes |" in markdown
    assert "| condolake batch / DuckDB | 10.0× | ≤ 10× | yes |" in markdown


def test_no_notes_section_without_notes_and_uncompared_gold_is_said() -> None:
    markdown = render_markdown(fixed_result(
        notes=(), gold=(GoldCheck("transacoes_por_condominio", 5, 5, None),)))
    assert "## Notes" not in markdown
    assert "| transacoes_por_condominio | 5 | 5 | not compared |" in markdown


def test_json_carries_best_times_ratios_and_targets() -> None:
    document = json.loads(to_json(fixed_result()))
    assert document["copy"] == {"runs": [2.5, 2.0], "seconds": 2.0}
    assert document["ratios"] == {"jdbc_extract_vs_copy": 3.5,
                                  "jdbc_extract_loose_vs_copy": 4.0,
                                  "jdbc_read_vs_copy": 0.6,
                                  "batch_vs_duckdb": 13.333,
                                  "rerun_vs_full": 0.075,
                                  "incremental_vs_full": 0.2}
    assert document["targets"]["batch_vs_duckdb"] == {"max": 10.0, "met": False}
    assert document["targets"]["rerun_vs_full"] == {"max": 0.1, "met": True}
    assert document["targets"]["incremental_vs_full"] == {"max": 0.15, "met": False}
    assert (document["rerun_s"], document["incremental_s"]) == (3.0, 8.0)
    assert document["stage_groups"] == {"extract": 7.0, "silver": 20.0, "gold": 10.0,
                                        "overhead": 3.0}
    assert document["machine"]["load_before"] == [0.5, 1.0, 1.5]


def test_scale_label_drops_a_trailing_zero() -> None:
    assert (scale_label(1.0), scale_label(0.1), scale_label(2.5)) == ("1", "0.1", "2.5")
