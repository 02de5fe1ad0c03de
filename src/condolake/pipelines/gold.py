"""Silver -> gold: the full build of every mart, and the incremental update of the gold keys
silver changed since the published gold set (see `lake/gold_set.py`).

Both paths use the marts of `transforms/gold/marts.py`, so they agree by construction, and both
read silver at the versions they pin when they start. The incremental one reads the change
data feed from the silver versions the published set reflects up to those pinned versions,
whichever writer (a batch, a stream query) made the changes, and recomputes the affected keys:
applying it twice writes the same rows. After its last commit an update publishes the marts'
new versions with the silver versions they reflect, so readers never combine marts of two
updates, and a micro-batch replayed after a crash between two gold commits completes the set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from condolake.catalog import marts
from condolake.lake import delta
from condolake.lake.gold_set import gold_lock, publish, read_published
from condolake.lake.metrics import commit_metrics, rows_written
from condolake.layout import Layer, silver_schema, table_path
from condolake.logs import Stage, stage_fields
from condolake.monitoring.runlog import RunRecord, TableCounts
from condolake.pipelines.load import LoadContext
from condolake.source.tables import (
    CONDOMINIOS,
    IMOVEIS,
    MORADORES,
    SOURCE_TABLES,
    TABLES_BY_NAME,
    TRANSACOES,
)
from condolake.transforms.gold.incremental import PRESENT_COL, Silver, changed_keys
from condolake.transforms.gold.marts import Mart

log = logging.getLogger(__name__)
GOLD_SOURCE = "silver"
SilverVersions = Mapping[str, int]  # silver table -> Delta version (tables that exist)


def gold_paths(lake_root: str) -> list[str]:
    return [table_path(lake_root, Layer.GOLD, mart.name) for mart in marts()]


def latest_versions(spark: SparkSession, lake_root: str, layer: Layer,
                    names: Iterable[str]) -> dict[str, int]:
    """The latest version of each of `layer`'s tables `names` there is, read in that order."""
    found = {name: delta.version(spark, table_path(lake_root, layer, name)) for name in names}
    return {name: number for name, number in found.items() if number is not None}


def silver_versions(spark: SparkSession, lake_root: str) -> dict[str, int]:
    """The latest version of each silver table there is (an empty source makes none).

    Children are pinned before their parents: writers commit parents first, so every child
    row pinned has its parent's commit in the parent's pinned version too."""
    return latest_versions(spark, lake_root, Layer.SILVER,
                           [table.name for table in reversed(SOURCE_TABLES)])


def read_silver(spark: SparkSession, lake_root: str,
                versions: SilverVersions | None = None) -> Silver:
    """The silver tables, at `versions` when given (a table not in it: empty)."""
    def silver(name: str) -> DataFrame:
        table = TABLES_BY_NAME[name]
        path = table_path(lake_root, Layer.SILVER, name)
        if versions is None:
            return delta.read(spark, path, silver_schema(table))
        if name not in versions:
            return spark.createDataFrame([], silver_schema(table))
        return delta.read_version(spark, path, versions[name])

    return Silver(silver(CONDOMINIOS.name), silver(MORADORES.name), silver(IMOVEIS.name),
                  silver(TRANSACOES.name))


def rebuild_gold(ctx: LoadContext, run: RunRecord) -> None:
    """Every mart written whole from silver's latest versions, then published."""
    with gold_lock(ctx.lake_root):
        pinned = silver_versions(ctx.spark, ctx.lake_root)
        _build(ctx, run, read_silver(ctx.spark, ctx.lake_root, pinned))
        _publish(ctx, pinned)


def update_gold(ctx: LoadContext, run: RunRecord, *, log_marts: bool = True) -> None:
    """Brings gold level with silver's latest versions and publishes the new set: the keys
    silver changed since the published set recomputed and merged, or every mart built whole
    when a mart is missing or what gold reflects is unknown. Nothing to do: nothing written.

    `log_marts`: log what each mart got (a stream's micro-batch line already says it)."""
    with gold_lock(ctx.lake_root):
        published = read_published(ctx.lake_root)
        pinned = silver_versions(ctx.spark, ctx.lake_root)
        silver = read_silver(ctx.spark, ctx.lake_root, pinned)
        if (published is None or published.silver is None
                or not follows(published.silver, pinned)
                or not all(delta.exists(ctx.spark, path) for path in gold_paths(ctx.lake_root))):
            _build(ctx, run, silver, log_marts=log_marts)
        else:
            changed = silver_changes(ctx, published.silver, pinned)
            if changed is None:
                return
            _merge(ctx, run, silver, changed, log_marts=log_marts)
        _publish(ctx, pinned)


def follows(since: SilverVersions, until: SilverVersions) -> bool:
    """Can silver at `until` be reached from `since` by reading the change feed in between?
    Not when a table went away or is at an older version than `since` (it was made again)."""
    return all(name in until and until[name] >= number for name, number in since.items())


def gold_versions(spark: SparkSession, lake_root: str) -> dict[str, int]:
    """The latest version of each mart there is."""
    return latest_versions(spark, lake_root, Layer.GOLD, [mart.name for mart in marts()])


def _publish(ctx: LoadContext, pinned: SilverVersions) -> None:
    publish(ctx.lake_root, ctx.run_id, gold_versions(ctx.spark, ctx.lake_root), pinned)


def _build(ctx: LoadContext, run: RunRecord, silver: Silver, *, log_marts: bool = True) -> None:
    """Writes every mart whole from `silver` (one overwrite commit each)."""
    # Every mart scans the transactions: read them once.
    transacoes = silver.transacoes.select(
        "imovel_id", "morador_id", "data_transacao", "valor_transacao"
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        shared = Silver(silver.condominios, silver.moradores, silver.imoveis, transacoes)
        for mart in marts():
            path = ctx.path(Layer.GOLD, mart.name)
            tag = ctx.tag(f"gold.{mart.name}")
            delta.overwrite(mart.build(shared), path, commit_tag=tag)
            rows = rows_written(commit_metrics(ctx.spark, path, tag))
            run.tables.append(TableCounts(mart.name, GOLD_SOURCE, layer="gold",
                                          rows_read=rows, rows_valid=rows))
            if log_marts:
                log.info(f"gold/{mart.name}: {rows:,} rows",
                         extra=stage_fields(Stage.GOLD, mart.name))
    finally:
        transacoes.unpersist()


def silver_changes(ctx: LoadContext, since: SilverVersions,
                   until: SilverVersions) -> DataFrame | None:
    """The changed-keys frame of silver's commits after `since` up to `until` (None when
    there are none)."""
    frames = []
    for name, last in until.items():
        first = since.get(name, -1) + 1
        if first <= last:
            feed = delta.change_feed(ctx.spark, ctx.path(Layer.SILVER, name), first, last)
            frames.append(changed_keys(feed, name))
    return reduce(DataFrame.unionByName, frames) if frames else None


def _merge(ctx: LoadContext, run: RunRecord, silver: Silver, changed: DataFrame,
           *, log_marts: bool) -> None:
    """Recomputes the keys of each mart that `changed` touches and merges them."""
    changed = changed.distinct().persist(StorageLevel.MEMORY_AND_DISK)
    try:
        for mart in marts():
            run.tables.append(_update_mart(ctx, mart, mart.recompute(
                mart.affected(changed, silver), silver)))
    finally:
        changed.unpersist()
    if log_marts:
        log.info(f"{run.run_id}: " + "; ".join(
            f"gold/{c.table} {c.rows_read:,} keys recomputed" for c in run.tables
            if c.layer == "gold"))


def _update_mart(ctx: LoadContext, mart: Mart, rows: DataFrame) -> TableCounts:
    started = time.monotonic()
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = TableCounts(mart.name, GOLD_SOURCE, layer="gold")
        counts.rows_read = counts.rows_valid = rows.count()
        if counts.rows_read:
            columns = [c for c in rows.columns if c != PRESENT_COL]
            delta.replace_keys(ctx.spark, rows, ctx.path(Layer.GOLD, mart.name),
                               list(mart.keys), columns, PRESENT_COL,
                               commit_tag=ctx.tag(f"gold.{mart.name}"))
        counts.seconds = round(time.monotonic() - started, 3)
        return counts
    finally:
        rows.unpersist()

