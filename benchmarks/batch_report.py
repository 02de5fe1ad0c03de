"""A batch benchmark as Markdown and JSON (pure: data in, text out)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from benchmarks.model import (
    BATCH_VS_DUCKDB_TARGET,
    INCREMENTAL_VS_FULL_TARGET,
    JDBC_VS_COPY_TARGET,
    RERUN_VS_FULL_TARGET,
    BatchBenchmark,
    GoldCheck,
)
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
from benchmarks.stages import GROUPS, group_seconds

BYTES_PER_MB = 1_000_000


def _ratio(value: float) -> str:
    return f"{value:.1f}×"


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole > 0 else "—"


def _met(value: float, target: float) -> str:
    return "yes" if value <= target else "no"


def _machine(result: BatchBenchmark) -> Section:
    spark = result.spark
    return machine_section(result.machine, extra=[
        ("Spark", f"{spark.master}, driver memory {spark.driver_memory}, "
                  f"{spark.shuffle_partitions} shuffle partitions, "
                  f"{spark.jdbc_partitions} JDBC partitions, fetchsize {spark.jdbc_fetchsize:,}"),
    ])


def _versions(result: BatchBenchmark) -> Section:
    v = result.versions
    return versions_section([
        ("Python", v.python), ("pyspark", v.pyspark), ("delta-spark", v.delta_spark),
        ("DuckDB", v.duckdb), ("PostgreSQL", v.postgresql), ("Java", v.java),
    ])


def _data(result: BatchBenchmark) -> Section:
    rows = [(t.table, f"{t.rows:,}", f"{t.invalid:,}", f"{t.valid_in_silver:,}")
            for t in result.tables]
    return [
        "## Data", "",
        *markdown_table(("table", "rows", "invalid (generated)", "valid in silver"), rows), "",
        f"Generated in {seconds_text(result.generation_s)} s, then VACUUM ANALYZE in "
        f"{seconds_text(result.vacuum_analyze_s)} s.",
    ]


def _timings(result: BatchBenchmark) -> Section:
    copy_mb = result.copy_bytes / BYTES_PER_MB
    return ["## Timings", "", *markdown_table(("measurement", "seconds", "runs", "notes"), [
        ("COPY (FORMAT BINARY), 4 tables, 1 connection", seconds_text(result.copy.seconds),
         result.copy.describe(), f"{copy_mb:,.1f} MB read and discarded"),
        ("DuckDB: attach + silver + 3 gold tables", seconds_text(result.duckdb.seconds),
         result.duckdb.describe(), "postgres extension, local DuckDB file"),
        ("Spark session start", seconds_text(result.spark_start_s), "1 run",
         "not part of the batch time"),
        ("condolake batch, end to end", seconds_text(result.batch_s), "1 run",
         "fresh lake; bronze, silver, quarantine, gold, ops"),
        ("of which JDBC extract (4 tables -> bronze)", seconds_text(result.jdbc_extract_s), "1 run",
         "first \"reading\" message to the start of the first load"),
        ("Spark JDBC read alone, 4 tables -> no-op sink", seconds_text(result.jdbc_read.seconds),
         result.jdbc_read.describe(), "same options as the batch; after it (warm JVM)"),
        ("condolake batch re-run, no source change", seconds_text(result.rerun_s), "1 run",
         "right after the full load"),
        ("condolake batch re-run, new transacoes", seconds_text(result.incremental_s), "1 run",
         f"{result.incremental_rows:,} transacoes appended first"),
    ])]


def _stages(result: BatchBenchmark) -> Section:
    rows = [(stage.name, stage.group, seconds_text(stage.seconds),
             _share(stage.seconds, result.batch_s)) for stage in result.stages]
    totals = group_seconds(result.stages)
    summary = [(group, seconds_text(totals[group]), _share(totals[group], result.batch_s))
               for group in GROUPS]
    return ["## Spark batch stages", "",
            *markdown_table(("stage", "group", "seconds", "share"), rows), "",
            *markdown_table(("group", "seconds", "share"), summary)]


def _targets(result: BatchBenchmark) -> Section:
    return ["## Targets", "", *markdown_table(("comparison", "ratio", "target", "met"), [
        ("JDBC extract / COPY", _ratio(result.jdbc_vs_copy), f"≤ {JDBC_VS_COPY_TARGET:g}×",
         _met(result.jdbc_vs_copy, JDBC_VS_COPY_TARGET)),
        ("JDBC extract incl. first load (loose) / COPY", _ratio(result.jdbc_loose_vs_copy),
         f"≤ {JDBC_VS_COPY_TARGET:g}×", _met(result.jdbc_loose_vs_copy, JDBC_VS_COPY_TARGET)),
        ("Spark JDBC read alone / COPY", _ratio(result.jdbc_read_vs_copy),
         f"(≤ {JDBC_VS_COPY_TARGET:g}×)", _met(result.jdbc_read_vs_copy, JDBC_VS_COPY_TARGET)),
        ("condolake batch / DuckDB", _ratio(result.batch_vs_duckdb),
         f"≤ {BATCH_VS_DUCKDB_TARGET:g}×", _met(result.batch_vs_duckdb, BATCH_VS_DUCKDB_TARGET)),
        ("re-run with no source change / full load", _percent(result.rerun_vs_full),
         f"≤ {_percent(RERUN_VS_FULL_TARGET)}", _met(result.rerun_vs_full, RERUN_VS_FULL_TARGET)),
        ("re-run after 1 % new transacoes / full load", _percent(result.incremental_vs_full),
         f"≤ {_percent(INCREMENTAL_VS_FULL_TARGET)}",
         _met(result.incremental_vs_full, INCREMENTAL_VS_FULL_TARGET)),
    ])]


def _agreement(check: GoldCheck) -> str:
    if check.differing_rows is None:
        return "not compared"
    return "identical" if check.differing_rows == 0 else f"{check.differing_rows:,} rows differ"


def _gold(result: BatchBenchmark) -> Section:
    rows = [(check.table, f"{check.duckdb_rows:,}", f"{check.spark_rows:,}", _agreement(check))
            for check in result.gold]
    return ["## Gold: DuckDB against Spark", "",
            *markdown_table(("table", "DuckDB rows", "Spark rows", "result"), rows)]


def render_markdown(result: BatchBenchmark) -> str:
    """The whole report; every section separated by a blank line, ending in a newline."""
    title = (f"# Batch benchmark: scale {scale_label(result.scale)}, seed {result.seed}, "
             f"{result.started_at}")
    return render(title, [_machine(result), _versions(result), _data(result), _timings(result),
                          _stages(result), _targets(result), _gold(result),
                          notes_section(result.notes)])


def to_json(result: BatchBenchmark) -> str:
    document: dict[str, Any] = asdict(result)
    document["copy"]["seconds"] = result.copy.seconds
    document["duckdb"]["seconds"] = result.duckdb.seconds
    document["jdbc_read"]["seconds"] = result.jdbc_read.seconds
    document["stage_groups"] = group_seconds(result.stages)
    document["ratios"] = {
        "jdbc_extract_vs_copy": round(result.jdbc_vs_copy, 3),
        "jdbc_extract_loose_vs_copy": round(result.jdbc_loose_vs_copy, 3),
        "jdbc_read_vs_copy": round(result.jdbc_read_vs_copy, 3),
        "batch_vs_duckdb": round(result.batch_vs_duckdb, 3),
        "rerun_vs_full": round(result.rerun_vs_full, 3),
        "incremental_vs_full": round(result.incremental_vs_full, 3),
    }
    document["targets"] = {
        "jdbc_extract_vs_copy": {"max": JDBC_VS_COPY_TARGET,
                                 "met": result.jdbc_vs_copy <= JDBC_VS_COPY_TARGET},
        "batch_vs_duckdb": {"max": BATCH_VS_DUCKDB_TARGET,
                            "met": result.batch_vs_duckdb <= BATCH_VS_DUCKDB_TARGET},
        "rerun_vs_full": {"max": RERUN_VS_FULL_TARGET,
                          "met": result.rerun_vs_full <= RERUN_VS_FULL_TARGET},
        "incremental_vs_full": {"max": INCREMENTAL_VS_FULL_TARGET,
                                "met": result.incremental_vs_full <= INCREMENTAL_VS_FULL_TARGET},
    }
    return json_text(document)


__all__ = ["render_markdown", "to_json"]
