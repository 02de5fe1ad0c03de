"""Batch jobs: PostgreSQL / file / API sources -> bronze -> silver + quarantine -> gold."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from condolake.config import Settings
from condolake.ingestion.bronze import as_bronze
from condolake.ingestion.postgres import key_range, read_table
from condolake.lake import delta
from condolake.lake.layout import (
    REASONS_COL,
    RUN_ID_COL,
    Layer,
    bronze_schema,
    silver_schema,
    table_path,
)
from condolake.lake.metrics import commit_metrics, rows_written
from condolake.monitoring.runlog import (
    WATERMARKS,
    RunRecord,
    TableCounts,
    read_watermark,
    save_watermark,
)
from condolake.pipelines.errors import mentions_postgres
from condolake.pipelines.load import LoadContext, load_table, write_quarantine
from condolake.pipelines.quality import write_rule_results
from condolake.pipelines.runs import execute
from condolake.pipelines.stream_silver import positions_path, stream_owned_keys
from condolake.services.postgres import SourceDatabase
from condolake.source.tables import (
    CONDOMINIOS,
    IMOVEIS,
    MORADORES,
    SOURCE_TABLES,
    TABLES_BY_NAME,
    TRANSACOES,
    SourceTable,
)
from condolake.transforms.gold.diarias_por_tipo import transacoes_diarias_por_tipo
from condolake.transforms.gold.por_condominio import transacoes_por_condominio
from condolake.transforms.gold.por_morador import transacoes_por_morador

Progress = Callable[[str], None]
POSTGRES_SOURCE = "postgres"
# Tables read incrementally by key; the others are snapshotted and merged.
INCREMENTAL_TABLES = frozenset({TRANSACOES.name})
GOLD_TABLES = ("transacoes_por_condominio", "transacoes_por_morador",
               "transacoes_diarias_por_tipo")


def _layer_paths(lake_root: str, layers: Sequence[Layer],
                 tables: Sequence[SourceTable] = SOURCE_TABLES) -> list[str]:
    return [table_path(lake_root, layer, table.name) for layer in layers for table in tables]


def ingest_paths(lake_root: str, tables: Sequence[SourceTable] = SOURCE_TABLES) -> list[str]:
    """Tables an ingest run may change (and must roll back on failure)."""
    return _layer_paths(lake_root, (Layer.BRONZE, Layer.SILVER, Layer.QUARANTINE), tables) + [
        table_path(lake_root, Layer.OPS, WATERMARKS)
    ]


def gold_paths(lake_root: str) -> list[str]:
    return [table_path(lake_root, Layer.GOLD, name) for name in GOLD_TABLES]


def land_in_bronze(ctx: LoadContext, table: SourceTable, rows: DataFrame) -> None:
    """Appends one source read to bronze in one commit."""
    path = ctx.path(Layer.BRONZE, table.name)
    if not delta.exists(ctx.spark, path):
        # Bronze is only ever filtered by run: file statistics on the other columns would
        # cost time on every write and never skip a file.
        delta.ensure_table(ctx.spark, path, bronze_schema(table),
                           {"delta.dataSkippingStatsColumns": RUN_ID_COL})
    delta.append(rows, path, commit_tag=ctx.tag(f"bronze.{table.name}"))


def ingest_postgres_body(
    db: SourceDatabase, settings: Settings, progress: Progress | None
) -> Callable[[LoadContext, RunRecord], None]:
    def body(ctx: LoadContext, run: RunRecord) -> None:
        # Extract everything first: a source failure then happens before silver is touched.
        for table in SOURCE_TABLES:
            after = (read_watermark(ctx.spark, ctx.lake_root, POSTGRES_SOURCE, table.name)
                     if table.name in INCREMENTAL_TABLES else None)
            keys = key_range(db, table, after)
            counts = TableCounts(table.name, POSTGRES_SOURCE)
            if table.name in INCREMENTAL_TABLES:
                counts.watermark_from = after
                counts.watermark_to = keys.up_to if not keys.empty else after
            if progress:
                scope = f" with {table.primary_key} > {after}" if after is not None else ""
                progress(f"reading {table.name}{scope} from PostgreSQL: {keys.rows:,} rows")
            if not keys.empty:
                source_rows = read_table(ctx.spark, db, table, keys, settings)
                land_in_bronze(
                    ctx, table,
                    as_bronze(source_rows, table, POSTGRES_SOURCE, ctx.run_id, ctx.started_at),
                )
            run.tables.append(counts)
        # Keys above the mark are new to the lake unless a stream may have written them first.
        streamed = delta.exists(ctx.spark, positions_path(ctx.lake_root))
        for counts in run.tables:
            table = TABLES_BY_NAME[counts.table]
            load_table(ctx, table, counts, unique_keys=True,
                       keys_are_new=table.name in INCREMENTAL_TABLES and not streamed,
                       owned_keys=(stream_owned_keys(ctx.spark, ctx.lake_root, table)
                                   if streamed else None),
                       progress=progress)
            if counts.watermark_to is not None and counts.watermark_to != counts.watermark_from:
                save_watermark(ctx.spark, ctx.lake_root, POSTGRES_SOURCE, table.name,
                               table.primary_key, counts.watermark_to, ctx.run_id,
                               commit_tag=ctx.tag(f"watermark.{table.name}"))

    return body


def transform_body(progress: Progress | None) -> Callable[[LoadContext, RunRecord], None]:
    def body(ctx: LoadContext, run: RunRecord) -> None:
        spark = ctx.spark

        def silver(table: SourceTable) -> DataFrame:
            return delta.read(spark, ctx.path(Layer.SILVER, table.name), silver_schema(table))

        condominios, moradores, imoveis = silver(CONDOMINIOS), silver(MORADORES), silver(IMOVEIS)
        # The three marts all scan the transactions; read them once.
        transacoes = silver(TRANSACOES).select(
            "imovel_id", "morador_id", "data_transacao", "valor_transacao"
        ).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            marts = {
                "transacoes_por_condominio":
                    transacoes_por_condominio(condominios, imoveis, transacoes),
                "transacoes_por_morador": transacoes_por_morador(moradores, transacoes),
                "transacoes_diarias_por_tipo": transacoes_diarias_por_tipo(imoveis, transacoes),
            }
            for name, mart in marts.items():
                path = ctx.path(Layer.GOLD, name)
                tag = ctx.tag(f"gold.{name}")
                delta.overwrite(mart, path, commit_tag=tag)
                rows = rows_written(commit_metrics(spark, path, tag))
                run.tables.append(
                    TableCounts(name, "silver", layer="gold", rows_read=rows, rows_valid=rows)
                )
                if progress:
                    progress(f"gold/{name}: {rows:,} rows")
        finally:
            transacoes.unpersist()

    return body


def _describe_source_failure(summary: str) -> str:
    if mentions_postgres(summary):
        return f"the PostgreSQL source failed during the read ({summary})"
    return summary


def ingest_postgres(spark: SparkSession, settings: Settings, db: SourceDatabase,
                    progress: Progress | None = None) -> RunRecord:
    return execute(spark, settings, "ingest_postgres",
                   ingest_postgres_body(db, settings, progress), ingest_paths(settings.lake_path),
                   progress, _describe_source_failure, on_success=write_rule_results)


def transform(spark: SparkSession, settings: Settings,
              progress: Progress | None = None) -> RunRecord:
    return execute(spark, settings, "transform", transform_body(progress),
                   gold_paths(settings.lake_path), progress)


def batch(spark: SparkSession, settings: Settings, db: SourceDatabase,
          progress: Progress | None = None) -> RunRecord:
    """Ingest PostgreSQL and rebuild gold, as one all-or-nothing run."""
    ingest = ingest_postgres_body(db, settings, progress)
    marts = transform_body(progress)

    def body(ctx: LoadContext, run: RunRecord) -> None:
        ingest(ctx, run)
        marts(ctx, run)

    return execute(spark, settings, "batch", body,
                   ingest_paths(settings.lake_path) + gold_paths(settings.lake_path),
                   progress, _describe_source_failure, on_success=write_rule_results)


# What a file or API reader hands over: the rows for bronze and, if any, records rejected
# before they could be split into columns (already in quarantine's shape).
ReadRecords = Callable[[LoadContext], tuple[DataFrame, DataFrame | None]]


def ingest_records(
    spark: SparkSession,
    settings: Settings,
    table: SourceTable,
    job: str,
    source: str,
    read: ReadRecords,
    progress: Progress | None = None,
) -> RunRecord:
    """Ingest of records from a file or API reader that reads everything before any write.

    The read happens inside the run, so a source that cannot be read is a failed run in
    ops/runs like any other.
    """

    def body(ctx: LoadContext, run: RunRecord) -> None:
        counts = TableCounts(table.name, source)
        bronze_rows, malformed = read(ctx)
        land_in_bronze(ctx, table, bronze_rows)
        if malformed is not None:
            write_quarantine(ctx, table, malformed, step=f"malformed.{table.name}")
            groups = [(row[REASONS_COL], int(row["count"]))
                      for row in malformed.groupBy(REASONS_COL).count().collect()]
            ctx.count_failures(table.name, groups)
            counts.rows_quarantined = sum(records for _, records in groups)
        run.tables.append(load_table(ctx, table, counts, unique_keys=False, progress=progress))

    return execute(spark, settings, job, body, ingest_paths(settings.lake_path, (table,)),
                   progress, on_success=write_rule_results)
