"""The change data capture benchmark report: figures, ratios to the baseline, JSON."""

# Expected Markdown table rows are longer than the line limit; wrapping would change them.
# ruff: noqa: E501

from __future__ import annotations

import json
import math

from benchmarks.cdc_model import CdcBenchmark, CdcLatency, CdcSetup, Workload
from benchmarks.cdc_report import render_markdown, to_json
from benchmarks.model import Machine, Versions
from benchmarks.stream_model import Percentiles


def latency(**changes: object) -> CdcLatency:
    values: dict[str, object] = {
        "trigger_s": 2.0, "stream_s": 80.0, "drained": True, "records": 61_000,
        "transactions": 20_000, "not_visible": 0, "gold_sets": 30, "missed_sets": 0,
        "to_kafka": Percentiles(20_000, 0.08, 0.2, 0.5, 0.9),
        "to_gold": Percentiles(20_000, 3.2, 5.0, 6.0, 7.5),
    }
    values.update(changes)
    return CdcLatency(**values)  # type: ignore[arg-type]


def result(**changes: object) -> CdcBenchmark:
    values: dict[str, object] = {
        "scale": 0.01, "seed": 42, "started_at": "2026-12-06T19:00:00", "wall_s": 150.5,
        "machine": Machine(2, "AMD EPYC", 7.7, (0.5, 1.0, 1.5), (1.25, 1.0, 0.75)),
        "versions": Versions("3.11.7", "4.0.1", "4.0.1", "1.5.5", "18.4", "openjdk 17"),
        "setup": CdcSetup("local[*]", 8, 2, "embedded Kafka 4.1.1 (single broker)",
                          "Kafka Connect 4.3.0 standalone", "confluent-kafka 2.16.1"),
        "source_rows": {"condominios": 1, "transacoes": 10_000},
        "workload": Workload(rate_asked=1000.0, seconds_asked=60.0, seconds=60.5, events=60_000,
                             rows=60_500, transactions=20_167, invalid_rows=1_200),
        "latency": latency(),
    }
    values.update(changes)
    return CdcBenchmark(**values)  # type: ignore[arg-type]


def test_the_latency_table_puts_gold_next_to_its_baseline() -> None:
    text = render_markdown(result())
    assert text.startswith("# Change data capture benchmark: scale 0.01, seed 42, "
                           "2026-12-06T19:00:00\n")
    assert "| commit -> visible in gold | 20,000 | 3.200 | 5.000 | 6.000 | 7.500 |" in text
    assert "| commit -> in Kafka (baseline) | 20,000 | 0.080 | 0.200 | 0.500 | 0.900 |" in text
    assert "| gold / baseline |  | 40.0× | 25.0× | 12.0× |  |" in text


def test_the_workload_says_what_was_asked_and_achieved() -> None:
    text = render_markdown(result())
    assert "| row changes per second | 1,000 | 1,000 |" in text
    assert "| transactions per second |  | 333 |" in text
    assert "| seconds | 60 | 60.50 |" in text
    assert "| wall time of the run | 150.50 s |" in text


def test_transactions_not_in_gold_read_as_after_the_end_and_have_no_ratio() -> None:
    late = latency(drained=False, not_visible=3,
                   to_gold=Percentiles(20_000, 3.2, 5.0, math.inf, math.inf))
    text = render_markdown(result(latency=late))
    assert "| gold / baseline |  | 40.0× | 25.0× | — |  |" in text
    assert "3 transactions were not in gold" in text
    assert "**The stream was stopped at the time limit with work left.**" in text


def test_json_has_the_rates_and_ratios_and_no_infinity() -> None:
    late = latency(to_gold=Percentiles(20_000, 3.2, 5.0, math.inf, math.inf))
    document = json.loads(to_json(result(latency=late)))
    assert document["workload"]["rows_per_s"] == 1000.0
    assert document["workload"]["transactions_per_s"] == 333.3
    assert document["latency"]["gold_vs_kafka"] == {"p50": 40.0, "p95": 25.0, "p99": None}
    assert document["latency"]["to_gold"]["p99"] is None
    assert document["machine"]["load_before"] == [0.5, 1.0, 1.5]
