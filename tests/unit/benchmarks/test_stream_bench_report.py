"""The streaming benchmark report: targets met or not, rendered figures, JSON."""

# Expected Markdown table rows are longer than the line limit; wrapping would change them.
# ruff: noqa: E501

from __future__ import annotations

import json
import math

import pytest

from benchmarks.model import Machine, Timing, Versions
from benchmarks.stream_model import (
    Latency,
    Percentiles,
    QueryTime,
    StreamBenchmark,
    StreamSetup,
    Throughput,
    latency_met,
    throughput_met,
)
from benchmarks.stream_report import render_markdown, to_json


def throughput(**changes: object) -> Throughput:
    values: dict[str, object] = {
        "events": 200_000, "records": 201_000, "produce_s": 30.0, "pipeline_s": 8.0,
        "stages": (QueryTime("bronze kafka_events", 2.0, 1, 201_000),
                   QueryTime("silver transacoes", 5.0, 1, 201_000),
                   QueryTime("gold transacoes_por_morador", 1.0, 1, 199_000)),
        "consumer": Timing((0.5, 0.4)), "consumer_records": 201_000,
        "consumer_bytes": 120_000_000,
    }
    values.update(changes)
    return Throughput(**values)  # type: ignore[arg-type]


def latency(**changes: object) -> Latency:
    values: dict[str, object] = {
        "trigger_s": 5.0, "rate_asked": 500.0, "duration_s": 60.0, "events": 30_000,
        "produce_s": 60.0, "stream_s": 150.0, "created": 29_000, "deleted_first": 10,
        "not_visible": 0, "drained": True, "gold_batches": 14,
        "end_to_end": Percentiles(28_990, 4.5, 6.75, 7.9, 9.0),
        "to_silver": Percentiles(28_990, 2.0, 3.5, 4.0, 4.2),
        "kafka_lag_at_end": 1_500,
    }
    values.update(changes)
    return Latency(**values)  # type: ignore[arg-type]


def result(**changes: object) -> StreamBenchmark:
    values: dict[str, object] = {
        "scale": 0.01, "seed": 42, "started_at": "2026-11-25T10:00:00",
        "machine": Machine(2, "AMD EPYC", 23.5, (0.5, 1.0, 1.5), (1.25, 1.0, 0.75)),
        "versions": Versions("3.11.7", "4.0.1", "4.0.1", "1.5.5", "18.4", "openjdk 17"),
        "setup": StreamSetup("local[*]", "4g", 8, 2, 200_000, "embedded Kafka 4.1.1",
                             "confluent-kafka 2.16.1, librdkafka 2.12.0"),
        "source_rows": {"condominios": 1, "transacoes": 10_000},
        "spark_start_s": 10.0, "initial_batch_s": 40.0,
        "throughput": throughput(), "latency": latency(), "notes": ("A note.",),
    }
    values.update(changes)
    return StreamBenchmark(**values)  # type: ignore[arg-type]


def test_throughput_rates_and_ratio() -> None:
    t = throughput()
    assert t.events_per_s == 25_000
    assert t.records_per_s == 25_125
    assert t.consumer_records_per_s == pytest.approx(502_500)  # the best run, 0.4 s
    assert t.consumer_vs_pipeline == pytest.approx(20.0)


def test_throughput_target_is_twenty_thousand_events_per_second() -> None:
    assert throughput_met(throughput(pipeline_s=10.0))  # exactly 20 000/s
    assert not throughput_met(throughput(pipeline_s=10.01))


def test_latency_target_is_ten_seconds() -> None:
    assert latency().target_s == 10.0
    assert latency_met(latency())
    assert latency_met(latency(end_to_end=Percentiles(10, 1.0, 10.0, 11.0, 12.0)))
    assert not latency_met(latency(end_to_end=Percentiles(10, 1.0, 10.01, 11.0, 12.0)))


def test_latency_target_is_not_met_without_measurements_or_with_unseen_rows() -> None:
    assert not latency_met(latency(end_to_end=Percentiles(0, None, None, None, None)))
    assert not latency_met(latency(end_to_end=Percentiles(10, 1.0, math.inf, math.inf,
                                                          math.inf)))


def test_achieved_rate() -> None:
    assert latency(events=29_400, produce_s=60.0).achieved_rate == 490.0
    assert latency(produce_s=0.0).achieved_rate == 0.0


def test_markdown_states_both_targets_met() -> None:
    markdown = render_markdown(result())
    assert markdown.startswith("# Streaming benchmark: scale 0.01, seed 42, 2026-11-25T10:00:00\n")
    assert "| sustained throughput into gold | 25,000 events/s | ≥ 20,000 events/s | yes |" in markdown
    assert "| p95 end-to-end latency | 6.75 s | ≤ 10 s | yes |" in markdown
    assert "| publish -> visible in gold | 28,990 | 4.50 | 6.75 | 7.90 | 9.00 |" in markdown
    assert "| of which silver transacoes | 201,000 input rows, 1 micro-batches | 5.00 | 40,200 rows/s |" in markdown
    assert "| plain Kafka consumer, same topics (best of 2 (0.50, 0.40)) | 201,000 records, 120.0 MB | 0.40 | 502,500 records/s |" in markdown
    assert "20.0× as fast" in markdown
    assert "10 were deleted in the source before reaching silver" in markdown
    assert "stopped once everything had gone through" in markdown
    assert ("When production ended, 1,500 Kafka offsets had not been taken by the stream yet "
            "(about 3.0 s of production at the asked rate).") in markdown
    assert "* A note." in markdown
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_markdown_says_plainly_when_targets_are_missed() -> None:
    missed = result(throughput=throughput(pipeline_s=20.0),
                    latency=latency(not_visible=3, drained=False, end_to_end=Percentiles(
                        10, 6.0, math.inf, math.inf, math.inf)))
    markdown = render_markdown(missed)
    assert "| sustained throughput into gold | 10,000 events/s | ≥ 20,000 events/s | **NO** |" in markdown
    assert "| p95 end-to-end latency | > end of run | ≤ 10 s | **NO** |" in markdown
    assert "3 were not in gold yet when the stream stopped" in markdown
    assert "**The queries were stopped at the time limit with work left.**" in markdown


def test_json_has_figures_and_targets_without_infinity() -> None:
    missed = result(latency=latency(end_to_end=Percentiles(10, 6.0, 11.0, math.inf, math.inf)))
    document = json.loads(to_json(missed))
    assert document["throughput"]["events_per_s"] == 25_000
    assert document["throughput"]["consumer_vs_pipeline"] == 20.0
    assert document["latency"]["end_to_end"] == {"count": 10, "p50": 6.0, "p95": 11.0,
                                                 "p99": None, "max": None}
    assert document["latency"]["kafka_lag_at_end"] == 1_500
    assert document["targets"] == {
        "throughput_events_per_s": {"min": 20_000.0, "measured": 25_000.0, "met": True},
        "latency_p95_s": {"max": 10.0, "measured": 11.0, "met": False},
    }
    assert document["setup"]["kafka_broker"] == "embedded Kafka 4.1.1"
