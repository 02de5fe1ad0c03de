"""Silver change data feed -> gold: recompute only the affected keys, MERGE them in.

Recomputation reads the current silver tables, so replaying a micro-batch (after a crash) or
applying it late writes the same rows: the gold step is idempotent without transaction ids.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from condolake.lake import delta
from condolake.lake.layout import Layer, silver_schema
from condolake.monitoring.runlog import RunRecord, TableCounts, write_run
from condolake.pipelines.load import LoadContext
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TRANSACOES, SourceTable
from condolake.transforms.gold.incremental import (
    PRESENT_COL,
    Silver,
    affected_condominios,
    affected_days,
    affected_moradores,
    recomputed_diarias,
    recomputed_por_condominio,
    recomputed_por_morador,
)

Progress = Callable[[str], None]
Recompute = Callable[[DataFrame, Silver], DataFrame]


def read_silver(ctx: LoadContext) -> Silver:
    def silver(table: SourceTable) -> DataFrame:
        return delta.read(ctx.spark, ctx.path(Layer.SILVER, table.name), silver_schema(table))

    return Silver(silver(CONDOMINIOS), silver(MORADORES), silver(IMOVEIS), silver(TRANSACOES))


def update_gold(ctx: LoadContext, run: RunRecord, changed: DataFrame, *, app_id: str,
                batch_id: int, progress: Progress | None = None) -> RunRecord:
    """Brings the three gold tables up to date with one micro-batch of silver changes."""
    changed = changed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if changed.isEmpty():
            return run
        silver = read_silver(ctx)
        marts: list[tuple[str, list[str], DataFrame, Recompute]] = [
            ("transacoes_por_condominio", ["condominio_id"],
             affected_condominios(changed, silver), recomputed_por_condominio),
            ("transacoes_por_morador", ["morador_id"],
             affected_moradores(changed), recomputed_por_morador),
            ("transacoes_diarias_por_tipo", ["data_transacao", "tipo"],
             affected_days(changed, silver), recomputed_diarias),
        ]
        for name, keys, affected, recompute in marts:
            run.tables.append(_update_mart(ctx, name, keys, recompute(affected, silver)))
    finally:
        changed.unpersist()
    run.status = "succeeded"
    with delta.idempotent(ctx.spark, f"{app_id}.runlog", batch_id):
        write_run(ctx.spark, ctx.lake_root, run)
    if progress:
        progress(f"{run.run_id}: " + "; ".join(
            f"gold/{c.table} {c.rows_read:,} keys recomputed" for c in run.tables))
    return run


def _update_mart(ctx: LoadContext, name: str, keys: list[str], rows: DataFrame) -> TableCounts:
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = TableCounts(name, "silver", layer="gold")
        counts.rows_read = counts.rows_valid = rows.count()
        if counts.rows_read:
            path = ctx.path(Layer.GOLD, name)
            columns = [c for c in rows.columns if c != PRESENT_COL]
            if not delta.exists(ctx.spark, path):
                delta.append(rows.where(F.col(PRESENT_COL)).select(*columns), path,
                             commit_tag=ctx.tag(f"gold.{name}"))
            else:
                delta.replace_keys(ctx.spark, rows, path, keys, columns, PRESENT_COL,
                                   commit_tag=ctx.tag(f"gold.{name}"))
        return counts
    finally:
        rows.unpersist()
