"""`condolake maintain`: OPTIMIZE and VACUUM every Delta table, remove orphan checkpoints,
prune per-key positions no query needs; one run in ops/runs (job `maintenance`).

Safe next to a running stream: OPTIMIZE only rewrites files (its commits carry no data change,
so stream readers skip them) and is retried when it loses a race with a stream's MERGE;
VACUUM keeps a week of files unless the retention is lowered for a test lake. Running it twice
changes nothing the second time (no small files left, nothing old enough to vacuum).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from condolake.catalog import POSITIONS
from condolake.config import Settings
from condolake.lake import delta
from condolake.lake.gold_set import compacted, gold_lock_if_local, read_published, republish
from condolake.layout import Layer, table_path
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.gold import gold_versions
from condolake.pipelines.load import LoadContext
from condolake.pipelines.maintenance_plan import (
    RETENTION_CHECK_CONF,
    LakeTable,
    MaintenancePlan,
    make_plan,
)
from condolake.pipelines.runs import execute
from condolake.pipelines.stream_silver import positions_path
from condolake.source.tables import SOURCE_TABLES
from condolake.streaming.queries import QUERY_NAMES
from condolake.streaming.status import read_states

JOB = "maintenance"
# Delta tables that grow by one small append per run: what the light maintenance compacts.
APPEND_ONLY_OPS = ("runs", "run_tables", "watermarks", "dq_results")
CHECKPOINTS = "_checkpoints"
LISTING_PARALLELISM_CONF = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableOutcome:
    table: LakeTable
    files_before: int
    files_after: int
    files_vacuumed: int


@dataclass
class MaintenanceReport:
    plan: MaintenancePlan
    run_id: str | None = None  # None for a dry run
    tables: list[TableOutcome] = field(default_factory=list)
    checkpoints_removed: list[str] = field(default_factory=list)
    positions_pruned: int = 0


class _Files:
    """The lake's file system through Hadoop, so a local folder and s3a:// work alike."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        jvm: Any = spark.sparkContext._jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def folders(self, path: str) -> list[str]:
        hadoop_path = self._path(path)
        if not self._fs.exists(hadoop_path):
            return []
        return sorted(str(status.getPath().getName()) for status in self._fs.listStatus(hadoop_path)
                      if status.isDirectory())

    def remove(self, path: str) -> None:
        self._fs.delete(self._path(path), True)


def plan_maintenance(spark: SparkSession, settings: Settings, *, retention_h: float,
                     unsafe_retention: bool) -> MaintenancePlan:
    lake = settings.lake_path
    files = _Files(spark, lake)
    listing = {
        layer.value: {name: files.folders(f"{lake}/{layer.value}/{name}")
                      for name in files.folders(f"{lake}/{layer.value}")}
        for layer in Layer
    }
    running, _ = read_states(settings, QUERY_NAMES)
    return make_plan(listing, files.folders(f"{lake}/{CHECKPOINTS}"),
                     retention_h=retention_h, unsafe_retention=unsafe_retention,
                     stream_running=running, planned_at=dt.datetime.now(dt.UTC),
                     positions_table=f"{Layer.OPS.value}/{POSITIONS}")


def maintain(spark: SparkSession, settings: Settings, *, retention_h: float,
             unsafe_retention: bool = False, dry_run: bool = False,
             run_date: dt.date | None = None) -> MaintenanceReport:
    """Plans maintenance and, unless `dry_run`, carries it out as one logged run."""
    plan = plan_maintenance(spark, settings, retention_h=retention_h,
                            unsafe_retention=unsafe_retention)
    report = MaintenanceReport(plan)
    if dry_run:
        for line in plan.describe():
            log.info(line)
        for table in plan.tables:
            path = table.path(settings.lake_path)
            with _vacuum_conf(spark, unsafe_retention):
                candidates = _vacuum_candidates(spark, path, retention_h)
            log.info(f"{table}: {_file_count(spark, path)} files, {candidates} files old and "
                     "unreferenced enough to vacuum")
        log.info("dry run: nothing was changed")
        return report

    def body(ctx: LoadContext, run: RunRecord) -> None:
        _carry_out(spark, settings, report, ctx.run_id)

    # No tables to roll back: OPTIMIZE and VACUUM never change what a table holds, and the
    # positions removed are ones no query reads. A failure is still logged in ops/runs.
    run = execute(spark, settings, JOB, body, touched_paths=[], run_date=run_date)
    report.run_id = run.run_id
    return report


def compact_append_only(spark: SparkSession, lake_root: str) -> dict[str, int]:
    """Light maintenance after a batch: OPTIMIZE (compaction only, no VACUUM) of the tables
    that gain one small file per run, bronze and the ops logs; the files removed per table.
    VACUUM, orphan checkpoints and the other tables are the weekly `maintain`'s."""
    paths = [table_path(lake_root, Layer.BRONZE, t.name) for t in SOURCE_TABLES]
    paths += [table_path(lake_root, Layer.OPS, name) for name in APPEND_ONLY_OPS]
    compacted_files: dict[str, int] = {}
    for path in paths:
        if not delta.exists(spark, path):
            continue
        metrics = delta.optimize(spark, path)
        removed = metrics.select("metrics.numFilesRemoved").first()
        compacted_files[path] = int(removed[0]) if removed and removed[0] is not None else 0
        log.info(f"{path}: {compacted_files[path]} files compacted")
    return compacted_files


def _carry_out(spark: SparkSession, settings: Settings, report: MaintenanceReport,
               run_id: str) -> None:
    plan, lake = report.plan, settings.lake_path
    files = _Files(spark, lake)
    for name in plan.orphan_checkpoints:
        files.remove(f"{lake}/{CHECKPOINTS}/{name}")
        report.checkpoints_removed.append(name)
        log.info(f"removed the checkpoint of {name!r}, a query that no longer exists")
    # Pruned before the tables are compacted, so VACUUM also takes the files the DELETE left.
    if plan.positions is not None:
        path = positions_path(lake)
        condition = plan.positions.condition()
        report.positions_pruned = spark.read.format("delta").load(path).where(condition).count()
        if report.positions_pruned:
            delta.retrying(lambda: DeltaTable.forPath(spark, path).delete(condition))
        log.info(f"ops/{POSITIONS}: {report.positions_pruned} rows no query needs were pruned")
    gold = [table for table in plan.tables if table.layer == Layer.GOLD]
    if gold:
        # OPTIMIZE makes new versions of the same rows: published at once, so the versions
        # readers are served are not the ones VACUUM removes a retention period later.
        with gold_lock_if_local(lake):
            published, latest = read_published(lake), gold_versions(spark, lake)
            gold_files = {table.name: _compact(spark, table.path(lake)) for table in gold}
            if published is not None:
                republish(lake, run_id,
                          compacted(published.gold, latest, gold_versions(spark, lake)))
    for table in plan.tables:
        path = table.path(lake)
        if table.layer == Layer.GOLD:
            before, after = gold_files[table.name]
        else:
            before, after = _compact(spark, path)
        with _vacuum_conf(spark, plan.unsafe_retention):
            vacuumed = _vacuum_candidates(spark, path, plan.retention_h)
            if vacuumed:
                DeltaTable.forPath(spark, path).vacuum(plan.retention_h)
        report.tables.append(TableOutcome(table, before, after, vacuumed))
        log.info(f"{table}: {before} -> {after} files (OPTIMIZE), {vacuumed} files vacuumed")


def _compact(spark: SparkSession, path: str) -> tuple[int, int]:
    """OPTIMIZE; the table's data files (before, after)."""
    before = _file_count(spark, path)
    delta.optimize(spark, path)
    return before, _file_count(spark, path)


def _file_count(spark: SparkSession, path: str) -> int:
    """Data files in the table's current version."""
    detail = DeltaTable.forPath(spark, path).detail().select("numFiles").first()
    return int(detail[0]) if detail is not None else 0


def _vacuum_candidates(spark: SparkSession, path: str, retention_h: float) -> int:
    """Files VACUUM would delete now (DRY RUN only lists them)."""
    hours = f"{retention_h:.6f}".rstrip("0").rstrip(".")
    return spark.sql(f"VACUUM delta.`{path}` RETAIN {hours} HOURS DRY RUN").count()


@contextmanager
def _vacuum_conf(spark: SparkSession, unsafe: bool) -> Iterator[None]:
    """Session settings around a VACUUM (or its DRY RUN), put back afterwards.

    VACUUM lists and diffs the table's files in `parallelPartitionDiscovery.parallelism`
    tasks, 10 000 by default: ten thousand tasks per table for a few dozen files. The lake's
    shuffle partitions are the parallelism its tables were written with, so VACUUM uses that.
    Delta's own retention check stays on except around an unsafe (test) VACUUM.
    """
    values = {LISTING_PARALLELISM_CONF: str(spark.conf.get("spark.sql.shuffle.partitions"))}
    if unsafe:
        values[RETENTION_CHECK_CONF] = "false"
    previous = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, before in previous.items():
            if before is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, before)
