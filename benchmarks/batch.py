"""`./run bench batch`: COPY and DuckDB baselines against `condolake batch`, same data.

One run: a fresh source (a new database on a freshly started embedded PostgreSQL, or on the
server of CONDOLAKE_SOURCE_URL), generated once; then

1. a binary COPY of the four tables on one connection (the plain extraction cost),
2. DuckDB attaching the source and building silver + the three gold tables,
3. `condolake batch` on a fresh lake, with its stages read from the stage records it logs,
   its gold compared with DuckDB's,
4. then, in the same (now warm) SparkSession, the batch's JDBC reads alone into a no-op sink:
   what the JDBC transfer costs without the bronze write,
5. `condolake batch` again with nothing new in the source, and once more after appending
   INCREMENTAL_SHARE new transacoes: what a re-run costs next to the full load.

The baselines and the JDBC read run BASELINE_RUNS times (the best counts), the batch once.
Results go to `<output_dir>/batch-scale<N>-<YYYYmmdd-HHMMSS>.{json,md}`; the Markdown is also
printed.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.batch_report import render_markdown, to_json
from benchmarks.duckdb_baseline import compare_gold
from benchmarks.machine import busy_note, describe_machine, load_average, versions
from benchmarks.measure import (
    BENCH_DATABASE,
    BatchRun,
    PreparedSource,
    Reruns,
    bench_database,
    measure_batch,
    measure_copy,
    measure_duckdb,
    measure_jdbc_read,
    measure_reruns,
    prepare_source,
    start_spark,
)
from benchmarks.model import (
    BatchBenchmark,
    GoldCheck,
    SparkSetup,
    TableRows,
    Timing,
    Versions,
)
from benchmarks.report import scale_label, write_report
from benchmarks.stages import batch_stages, extract_window
from condolake.app.resources import Resources
from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.errors import ConfigError
from condolake.layout import Layer, table_path
from condolake.source.tables import SOURCE_TABLES, TRANSACOES

log = logging.getLogger(__name__)
BASELINE_RUNS = 2


@dataclass(frozen=True)
class Workspace:
    """Throw-away folders of one benchmark run."""

    state: Path  # the embedded PostgreSQL's state dir and DuckDB's files
    lake: Path

    @property
    def duckdb(self) -> Path:
        return self.state / "duckdb"


@contextmanager
def workspace(settings: Settings) -> Iterator[Workspace]:
    """New folders under the state dir and the lake root, deleted afterwards."""
    if "://" in settings.lake_root:
        raise ConfigError(f"bench batch needs a local lake root, not {settings.lake_root}")
    folders = []
    try:
        for base, prefix in ((settings.state_path, "bench-"), (Path(settings.lake_path),
                                                              "bench-batch-")):
            base.mkdir(parents=True, exist_ok=True)
            folders.append(Path(tempfile.mkdtemp(prefix=prefix, dir=base)))
        yield Workspace(state=folders[0], lake=folders[1])
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Measured:
    prepared: PreparedSource
    copy: Timing
    copy_bytes: int
    duckdb: Timing
    spark_start_s: float
    batch: BatchRun
    jdbc_read: Timing
    reruns: Reruns
    gold: tuple[GoldCheck, ...]
    versions: Versions
    notes: tuple[str, ...]


def run_batch_benchmark(
    settings: Settings,
    *,
    scale: float,
    seed: int = 42,
    output_dir: Path,
) -> BatchBenchmark:
    """Runs the benchmark, writes its JSON and Markdown to `output_dir`, prints the Markdown."""
    started_at = dt.datetime.now().replace(microsecond=0)
    load_before = load_average()
    with workspace(settings) as folders:
        measured = _measure(settings, folders, scale, seed)
    result = _result(settings, scale, seed, started_at, load_before, measured)
    write_report(output_dir, f"batch-scale{scale_label(scale)}-{started_at:%Y%m%d-%H%M%S}",
                 markdown=render_markdown(result), json_document=to_json(result))
    return result


def _measure(settings: Settings, folders: Workspace, scale: float, seed: int) -> Measured:
    source_settings = settings.with_(state_dir=str(folders.state))
    lake_settings = settings.with_(lake_root=str(folders.lake))
    run_date = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    with Resources.from_settings(source_settings).source_database() as server, \
            bench_database(server) as db:
        prepared = prepare_source(db, scale, seed)
        copy, copy_bytes = measure_copy(db, BASELINE_RUNS)
        duck, duck_file = measure_duckdb(db, folders.duckdb, run_date, BASELINE_RUNS)
        spark, spark_start_s = start_spark(lake_settings)
        try:
            log.info(f"Spark started in {spark_start_s:.1f} s; running condolake batch")
            batch_run = measure_batch(spark, lake_settings, db)
            # Before the re-runs change the source: DuckDB read it as the full load did.
            gold_paths = {name: table_path(lake_settings.lake_path, Layer.GOLD, name)
                          for name in MART_NAMES}
            gold, gold_note = _compare(duck_file, folders.duckdb, gold_paths)
            jdbc_read = measure_jdbc_read(spark, lake_settings, db, BASELINE_RUNS)
            reruns = measure_reruns(spark, lake_settings, db,
                                    prepared.generation.rows[TRANSACOES.name], seed)
        finally:
            spark.stop()
        found_versions = versions(db)
    notes = _notes(settings, run_date, batch_run, gold_note)
    return Measured(prepared, copy, copy_bytes, duck, spark_start_s, batch_run, jdbc_read,
                    reruns, gold, found_versions, notes)


def _compare(duck_file: Path, extension_folder: Path,
             gold_paths: dict[str, str]) -> tuple[tuple[GoldCheck, ...], str | None]:
    try:
        return tuple(compare_gold(duck_file, extension_folder, gold_paths)), None
    except Exception as error:  # noqa: BLE001 - the timings stand without the comparison
        return (), f"gold tables could not be compared: {error}"


def _notes(settings: Settings, run_date: dt.date, batch_run: BatchRun,
           gold_note: str | None) -> tuple[str, ...]:
    source = ("external server of CONDOLAKE_SOURCE_URL" if settings.source_url
              else "embedded PostgreSQL started fresh for this run")
    notes = [
        f"Source: {source}, database {BENCH_DATABASE}, generated with 2 % invalid rows.",
        f"Baselines: best of {BASELINE_RUNS} runs each, after generation (warm PostgreSQL "
        "cache); the Spark batch ran once, first run on an empty lake, right after them; "
        f"the JDBC read alone ran {BASELINE_RUNS} times after the batch; then the batch ran "
        "again with no change in the source, and once more after new transacoes were "
        "appended (the same SparkSession, warm).",
        "Stages come from the stage records the batch logs; a load's start is its record "
        "minus the seconds the run record gives it.",
    ]
    if batch_run.record.run_date != run_date:
        notes.append(f"DuckDB used run date {run_date}, the batch {batch_run.record.run_date}.")
    if gold_note:
        notes.append(gold_note)
    return tuple(notes)


def _result(settings: Settings, scale: float, seed: int, started_at: dt.datetime,
            load_before: tuple[float, float, float], measured: Measured) -> BatchBenchmark:
    machine = describe_machine(load_before)
    batch_run = measured.batch
    loads = batch_run.load_seconds()
    precise, loose = extract_window(batch_run.events, loads)
    generation = measured.prepared.generation
    valid = batch_run.valid_rows()
    tables = tuple(TableRows(t.name, generation.rows[t.name], generation.invalid[t.name],
                             valid.get(t.name, 0)) for t in SOURCE_TABLES)
    notes = measured.notes
    busy = busy_note(max(machine.load_before[0], machine.load_after[0]), machine.cpu_count,
                     figures="times")
    if busy:
        notes += (busy,)
    return BatchBenchmark(
        scale=scale, seed=seed, started_at=started_at.isoformat(), machine=machine,
        versions=measured.versions,
        spark=SparkSetup(settings.spark_master, settings.spark_driver_memory,
                         settings.shuffle_partitions, settings.jdbc_partitions,
                         settings.jdbc_fetchsize),
        tables=tables, generation_s=generation.seconds,
        vacuum_analyze_s=measured.prepared.vacuum_analyze_s,
        copy=measured.copy, copy_bytes=measured.copy_bytes, duckdb=measured.duckdb,
        spark_start_s=measured.spark_start_s, batch_s=batch_run.seconds,
        stages=tuple(batch_stages(batch_run.events, batch_run.seconds, loads)),
        jdbc_extract_s=precise, jdbc_extract_loose_s=loose, jdbc_read=measured.jdbc_read,
        gold=measured.gold, rerun_s=measured.reruns.no_change_s,
        incremental_s=measured.reruns.incremental_s,
        incremental_rows=measured.reruns.appended, notes=notes,
    )
