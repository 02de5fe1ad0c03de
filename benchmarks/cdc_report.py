"""The change data capture benchmark as Markdown and JSON (pure: data in, text out)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from benchmarks.cdc_model import CdcBenchmark
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
from benchmarks.stream_model import Percentiles
from benchmarks.stream_report import NOT_SEEN

PERCENTILE_NAMES = ("p50", "p95", "p99")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return NOT_SEEN if math.isinf(value) else f"{value:.3f}"


def _ratio(value: float) -> str:
    return "—" if math.isnan(value) or math.isinf(value) else f"{value:.1f}×"


def _row(name: str, values: Percentiles) -> tuple[str, ...]:
    return (name, f"{values.count:,}", *(_seconds(getattr(values, p)) for p in PERCENTILE_NAMES),
            _seconds(values.max))


def _latency(result: CdcBenchmark) -> Section:
    lat = result.latency
    return [
        "## Latency per committed source transaction", "",
        *markdown_table(("seconds", "transactions", "p50", "p95", "p99", "max"), [
            _row("commit -> visible in gold", lat.to_gold),
            _row("commit -> in Kafka (baseline)", lat.to_kafka),
            ("gold / baseline", "", *(_ratio(lat.ratio(p)) for p in PERCENTILE_NAMES), ""),
        ]), "",
        f"Trigger interval {lat.trigger_s:g} s; the stream ran {seconds_text(lat.stream_s)} s "
        f"and published {lat.gold_sets} gold sets. {lat.records:,} change records in "
        f"{lat.transactions:,} transactions were read back from Kafka; {lat.not_visible:,} "
        f"transactions were not in gold when the stream stopped (`{NOT_SEEN}`). "
        + ("The stream was stopped once everything had gone through." if lat.drained else
           "**The stream was stopped at the time limit with work left.**"),
    ]


def _workload(result: CdcBenchmark) -> Section:
    w = result.workload
    return ["## Workload", "", *markdown_table(("", "asked", "achieved"), [
        ("row changes per second", f"{w.rate_asked:,.0f}", f"{w.rows_per_s:,.0f}"),
        ("transactions per second", "", f"{w.transactions_per_s:,.0f}"),
        ("seconds", f"{w.seconds_asked:g}", seconds_text(w.seconds)),
        ("events (generator steps)", "", f"{w.events:,}"),
        ("row changes", "", f"{w.rows:,}"),
        ("transactions", "", f"{w.transactions:,}"),
        ("rule-breaking rows", "", f"{w.invalid_rows:,}"),
    ])]


def _machine(result: CdcBenchmark) -> Section:
    setup = result.setup
    return machine_section(result.machine, extra=[
        ("Spark", f"{setup.spark_master}, {setup.shuffle_partitions} shuffle partitions"),
        ("Kafka", f"{setup.kafka_broker}, {setup.kafka_partitions} partitions per topic"),
        ("Kafka Connect", setup.connect),
        ("wall time of the run", f"{seconds_text(result.wall_s)} s"),
    ])


def _versions(result: CdcBenchmark) -> Section:
    v = result.versions
    return versions_section([
        ("Python", v.python), ("pyspark", v.pyspark), ("delta-spark", v.delta_spark),
        ("PostgreSQL", v.postgresql), ("Java", v.java),
        ("Kafka client", result.setup.kafka_client),
    ])


def _data(result: CdcBenchmark) -> Section:
    rows = [(table, f"{count:,}") for table, count in result.source_rows.items()]
    return ["## Data", "", *markdown_table(("table", "rows generated"), rows)]


def _method() -> Section:
    return ["## How latency is measured", "", " ".join([
        "Per PostgreSQL transaction the generator committed: its commit time is Debezium's",
        "`source.ts_ms`; it is in Kafka at the timestamp of its last record (the topics use",
        "the broker's append time); it is visible in gold when the first gold set",
        "(`gold/_published.json`, polled during the run) published by the micro-batch that",
        "read that record, or a later one, was published. The micro-batch of a record comes",
        "from the end offsets in the query's checkpoint. Commit -> Kafka is the baseline,",
        "measured on the same transactions in the same run.",
    ])]


def render_markdown(result: CdcBenchmark) -> str:
    title = (f"# Change data capture benchmark: scale {scale_label(result.scale)}, seed "
             f"{result.seed}, {result.started_at}")
    return render(title, [_latency(result), _workload(result), _machine(result),
                          _versions(result), _data(result), _method(),
                          notes_section(result.notes)])


def to_json(result: CdcBenchmark) -> str:
    document: dict[str, Any] = asdict(result)
    w, lat = result.workload, result.latency
    document["workload"].update(rows_per_s=round(w.rows_per_s, 1),
                                transactions_per_s=round(w.transactions_per_s, 1))
    document["latency"]["gold_vs_kafka"] = {p: lat.ratio(p) for p in PERCENTILE_NAMES}
    return json_text(document)


__all__ = ["render_markdown", "to_json"]
