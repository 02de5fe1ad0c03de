"""Silver -> gold: the full build of every mart, and the incremental update of the gold keys
that a run's own silver commits moved.

Both paths use the marts of `transforms/gold/marts.py`, so they agree by construction. The
incremental one reads the change data feed of exactly the silver versions the run committed
(found by the run's commit tags, so a micro-batch replayed after a crash finds them too) and
recomputes the affected keys from the current silver tables: applying it twice writes the
same rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from condolake.lake import delta
from condolake.lake.layout import Layer, silver_schema, table_path
from condolake.lake.metrics import commit_metrics, rows_written
from condolake.monitoring.runlog import RunRecord, TableCounts
from condolake.pipelines.load import LoadContext
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TABLES_BY_NAME, TRANSACOES
from condolake.transforms.gold.incremental import PRESENT_COL, Silver, changed_keys
from condolake.transforms.gold.marts import MARTS, Mart

Progress = Callable[[str], None]
GOLD_SOURCE = "silver"


def gold_paths(lake_root: str) -> list[str]:
    return [table_path(lake_root, Layer.GOLD, mart.name) for mart in MARTS]


def read_silver(spark: SparkSession, lake_root: str) -> Silver:
    def silver(name: str) -> DataFrame:
        table = TABLES_BY_NAME[name]
        return delta.read(spark, table_path(lake_root, Layer.SILVER, name), silver_schema(table))

    return Silver(silver(CONDOMINIOS.name), silver(MORADORES.name), silver(IMOVEIS.name),
                  silver(TRANSACOES.name))


def build_gold(ctx: LoadContext, run: RunRecord, progress: Progress | None = None,
               marts: Iterable[Mart] = MARTS) -> None:
    """Writes `marts` whole from silver (one overwrite commit each)."""
    silver = read_silver(ctx.spark, ctx.lake_root)
    # Every mart scans the transactions: read them once.
    transacoes = silver.transacoes.select(
        "imovel_id", "morador_id", "data_transacao", "valor_transacao"
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        shared = Silver(silver.condominios, silver.moradores, silver.imoveis, transacoes)
        for mart in marts:
            path = ctx.path(Layer.GOLD, mart.name)
            tag = ctx.tag(f"gold.{mart.name}")
            delta.overwrite(mart.build(shared), path, commit_tag=tag)
            rows = rows_written(commit_metrics(ctx.spark, path, tag))
            run.tables.append(TableCounts(mart.name, GOLD_SOURCE, layer="gold",
                                          rows_read=rows, rows_valid=rows))
            if progress:
                progress(f"gold/{mart.name}: {rows:,} rows")
    finally:
        transacoes.unpersist()


def silver_changes(ctx: LoadContext, tables: Iterable[str]) -> DataFrame | None:
    """The changed-keys frame of every commit this run made to silver/`tables` (None when it
    made none)."""
    frames = []
    for name in tables:
        path = ctx.path(Layer.SILVER, name)
        if not delta.exists(ctx.spark, path):  # an empty source table never made one
            continue
        versions = delta.versions_of_run(ctx.spark, path, ctx.run_id)
        if versions:
            feed = delta.change_feed(ctx.spark, path, versions[0], versions[-1])
            frames.append(changed_keys(feed, name))
    return reduce(DataFrame.unionByName, frames) if frames else None


def update_gold(ctx: LoadContext, run: RunRecord, silver_tables: Iterable[str], *,
                app_id: str | None = None, batch_id: int | None = None,
                progress: Progress | None = None) -> None:
    """Brings gold up to date with this run's commits to silver/`silver_tables`: the affected
    keys of each mart recomputed and merged, a mart that does not exist yet built whole.

    `app_id` and `batch_id` make each gold commit a Delta transaction (a replayed micro-batch
    skips the marts it had already written).
    """
    missing = [mart for mart in MARTS if not delta.exists(ctx.spark, ctx.path(Layer.GOLD,
                                                                              mart.name))]
    if missing:
        build_gold(ctx, run, progress, missing)
    existing = [mart for mart in MARTS if mart not in missing]
    changed = silver_changes(ctx, silver_tables) if existing else None
    if changed is None:
        return
    changed = changed.distinct().persist(StorageLevel.MEMORY_AND_DISK)
    try:
        silver = read_silver(ctx.spark, ctx.lake_root)
        for mart in existing:
            app = None if app_id is None else f"{app_id}.gold.{mart.name}"
            with delta.idempotent(ctx.spark, app, batch_id):
                run.tables.append(_update_mart(ctx, mart, mart.recompute(
                    mart.affected(changed, silver), silver)))
    finally:
        changed.unpersist()
    if progress:
        progress(f"{run.run_id}: " + "; ".join(
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

