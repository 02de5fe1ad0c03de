"""A streaming benchmark as Markdown and JSON (pure: data in, text out)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from benchmarks.report import (
    Section,
    json_text,
    machine_section,
    markdown_table,
    notes_section,
    render,
    scale_label,
    seconds_text,
    versions_section,
)
from benchmarks.stream_model import (
    THROUGHPUT_TARGET_EVENTS_S,
    Percentiles,
    StreamBenchmark,
    latency_met,
    throughput_met,
)

BYTES_PER_MB = 1_000_000
NOT_SEEN = "> end of run"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _latency(value: float | None) -> str:
    if value is None:
        return "—"
    return NOT_SEEN if math.isinf(value) else f"{value:.2f}"


def _met(met: bool) -> str:
    return "yes" if met else "**NO**"


def _machine(result: StreamBenchmark) -> Section:
    setup = result.setup
    return machine_section(result.machine, extra=[
        ("Spark", f"{setup.spark_master}, driver memory {setup.driver_memory}, "
                  f"{setup.shuffle_partitions} shuffle partitions"),
        ("Kafka", f"{setup.kafka_broker}, {setup.kafka_partitions} partitions per topic, "
                  f"at most {setup.max_offsets_per_trigger:,} offsets per trigger"),
    ])


def _versions(result: StreamBenchmark) -> Section:
    v = result.versions
    return versions_section([
        ("Python", v.python), ("pyspark", v.pyspark), ("delta-spark", v.delta_spark),
        ("PostgreSQL", v.postgresql), ("Java", v.java),
        ("Kafka client", result.setup.kafka_client),
    ])


def _data(result: StreamBenchmark) -> Section:
    rows = [(table, f"{rows:,}") for table, rows in result.source_rows.items()]
    return ["## Data", "", *markdown_table(("table", "rows generated"), rows), "",
            f"Spark started in {seconds_text(result.spark_start_s)} s; the initial "
            f"`condolake batch` loaded them in {seconds_text(result.initial_batch_s)} s."]


def _throughput(result: StreamBenchmark) -> Section:
    t = result.throughput
    mb = t.consumer_bytes / BYTES_PER_MB
    rows = [
        ("Kafka -> bronze -> silver -> gold (drain everything)",
         f"{t.events:,} events / {t.records:,} records", seconds_text(t.pipeline_s),
         f"{_rate(t.events_per_s)} events/s, {_rate(t.records_per_s)} records/s"),
        *[(f"of which {q.name}", f"{q.input_rows:,} input rows, {q.batches} micro-batches",
           seconds_text(q.seconds),
           (_rate(q.input_rows / q.seconds) + " rows/s") if q.seconds > 0 else "—")
          for q in t.stages],
        (f"plain Kafka consumer, same topics ({t.consumer.describe()})",
         f"{t.consumer_records:,} records, {mb:,.1f} MB", seconds_text(t.consumer.seconds),
         f"{_rate(t.consumer_records_per_s)} records/s"),
    ]
    return [
        "## Throughput (backlog drained into gold)", "",
        f"A backlog of {t.events:,} simulator events ({t.records:,} Kafka records) was "
        f"produced first ({seconds_text(t.produce_s)} s, not counted), then the Kafka query ran "
        "once over it (`--once`).", "",
        *markdown_table(("measurement", "volume", "seconds", "rate"), rows), "",
        f"The plain consumer read the records {t.consumer_vs_pipeline:.1f}× as fast as the "
        "pipeline took them into gold.",
    ]


def _percentile_row(name: str, values: Percentiles) -> tuple[str, ...]:
    return (name, f"{values.count:,}", _latency(values.p50), _latency(values.p95),
            _latency(values.p99), _latency(values.max))


def _latency_section(result: StreamBenchmark) -> Section:
    lat = result.latency
    return [
        "## End-to-end latency (continuous stream)", "",
        f"Trigger interval {lat.trigger_s:g} s. The simulator produced {lat.events:,} events in "
        f"{seconds_text(lat.produce_s)} s ({_rate(lat.achieved_rate)} events/s; asked "
        f"{lat.rate_asked:g}/s for {lat.duration_s:g} s) while the queries ran for "
        f"{seconds_text(lat.stream_s)} s; {lat.gold_batches} micro-batches committed.", "",
        *markdown_table(("latency, seconds", "transacoes", "p50", "p95", "p99", "max"), [
            _percentile_row("publish -> visible in gold", lat.end_to_end),
            _percentile_row("publish -> committed in silver", lat.to_silver),
        ]), "",
        f"{lat.created:,} transacoes were created: {lat.deleted_first:,} were deleted in the "
        "source before reaching silver (not measured); of the others, "
        f"{lat.not_visible:,} were not in gold yet when the stream stopped (counted as "
        f"`{NOT_SEEN}`). "
        + ("The queries were stopped once everything had gone through." if lat.drained else
           "**The queries were stopped at the time limit with work left.**"),
        "",
        _lag_sentence(lat.kafka_lag_at_end, lat.rate_asked),
    ]


def _lag_sentence(lag: int | None, rate: float) -> str:
    if lag is None:
        return "The Kafka lag when production ended is not known."
    return (f"When production ended, {lag:,} Kafka offsets had not been taken by the stream "
            f"yet (about {lag / rate:.1f} s of production at the asked rate).")


def _targets(result: StreamBenchmark) -> Section:
    t, lat = result.throughput, result.latency
    p95 = _latency(lat.end_to_end.p95)
    measured = p95 if p95 in (NOT_SEEN, "—") else f"{p95} s"
    return ["## Targets", "", *markdown_table(("target", "measured", "goal", "met"), [
        ("sustained throughput into gold", f"{_rate(t.events_per_s)} events/s",
         f"≥ {_rate(THROUGHPUT_TARGET_EVENTS_S)} events/s", _met(throughput_met(t))),
        ("p95 end-to-end latency", measured,
         f"≤ {lat.target_s:g} s", _met(latency_met(lat))),
    ])]


def _method() -> Section:
    return ["## How latency is measured", "", " ".join([
        "Each new transacao's publish time is taken when the simulator hands its \"c\" event",
        "to the producer. Its silver commit (time and micro-batch) comes from silver/transacoes'",
        "change data feed. The same micro-batch then updates the gold keys it moved and",
        "commits its run log row, which names the gold versions readers use: the row is",
        "\"visible in gold\" at that ops/runs commit (Delta history, matched by the batch's",
        "commit tag). Rows whose micro-batch had not committed when the stream stopped count",
        "as infinitely late.",
    ])]


def render_markdown(result: StreamBenchmark) -> str:
    """The whole report; sections separated by a blank line, ending in a newline."""
    title = (f"# Streaming benchmark: scale {scale_label(result.scale)}, seed {result.seed}, "
             f"{result.started_at}")
    return render(title, [_targets(result), _machine(result), _versions(result),
                          _data(result), _throughput(result), _latency_section(result),
                          _method(), notes_section(result.notes)])


def to_json(result: StreamBenchmark) -> str:
    t, lat = result.throughput, result.latency
    document: dict[str, Any] = asdict(result)
    document["throughput"].update(
        events_per_s=round(t.events_per_s, 1), records_per_s=round(t.records_per_s, 1),
        consumer_records_per_s=round(t.consumer_records_per_s, 1),
        consumer_seconds=t.consumer.seconds,
        consumer_vs_pipeline=round(t.consumer_vs_pipeline, 3),
    )
    document["latency"].update(achieved_rate=round(lat.achieved_rate, 1))
    document["targets"] = {
        "throughput_events_per_s": {"min": THROUGHPUT_TARGET_EVENTS_S,
                                    "measured": round(t.events_per_s, 1),
                                    "met": throughput_met(t)},
        "latency_p95_s": {"max": lat.target_s, "measured": lat.end_to_end.p95,
                          "met": latency_met(lat)},
    }
    return json_text(document)


__all__ = ["render_markdown", "to_json"]
