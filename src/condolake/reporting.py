"""Gold tables and stream states as readable terminal tables (pt-BR formatting)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from rich.table import Table

from condolake.catalog import marts
from condolake.errors import CondoLakeError
from condolake.formatting import format_brl, format_count, format_date
from condolake.lake import delta
from condolake.lake.gold_set import GoldSet, read_published
from condolake.layout import Layer, table_path
from condolake.streaming.status import QueryState
from condolake.transforms.gold.marts import POR_CONDOMINIO, Mart

DEFAULT_ROWS = 10


def served_gold(spark: SparkSession, lake_root: str, name: str,
                published: GoldSet | None) -> DataFrame:
    """gold/`name` at the version of the `published` set (the latest while none was
    published)."""
    path = table_path(lake_root, Layer.GOLD, name)
    if published is None:
        return delta.read(spark, path)
    if name not in published.gold:
        raise CondoLakeError(f"gold/{name} is not in the published gold set: run condolake batch")
    return delta.read_version(spark, path, published.gold[name])


def gold_tables(spark: SparkSession, lake_root: str, limit: int = DEFAULT_ROWS) -> list[Table]:
    """The gold tables of the published set, `limit` rows each in the order of their
    highlights (largest first), plus their totals."""
    published = read_published(lake_root)
    return [_table(served_gold(spark, lake_root, mart.name, published), mart, limit)
            for mart in marts()]


def _table(df: DataFrame, mart: Mart, limit: int) -> Table:
    totals = df.agg(F.count(F.lit(1)).alias("linhas"),
                    F.sum("quantidade_transacoes").alias("q"),
                    F.sum("valor_total").alias("v")).collect()[0]
    keys = list(mart.dimensions)
    rows = df.orderBy(*[F.col(c).desc() for c in mart.highlights], *keys).limit(limit).collect()
    table = Table(
        title=f"{mart.title} — {format_count(totals['linhas'])} linhas, "
              f"{format_count(totals['q'])} transações, {format_brl(totals['v'])}",
        title_justify="left",
    )
    for key in keys:
        table.add_column(key)
    table.add_column("quantidade_transacoes", justify="right")
    table.add_column("valor_total", justify="right")
    for row in rows:
        cells = [format_date(row[k]) if k == "data_transacao" else str(row[k]) for k in keys]
        table.add_row(*cells, format_count(row["quantidade_transacoes"]),
                      format_brl(row["valor_total"]))
    return table


def stream_status_table(alive: bool, states: Sequence[QueryState]) -> Table:
    """`condolake stream status`: one row per streaming query."""
    table = Table(
        title="Streaming queries — " + ("a stream process is running" if alive
                                        else "no stream process is running"),
        title_justify="left",
    )
    for column, justify in (("query", "left"), ("state", "left"), ("last batch", "right"),
                            ("at", "left"), ("input rows/s", "right"),
                            ("processed rows/s", "right"), ("Kafka lag", "right"),
                            ("checkpoint", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for state in states:
        table.add_row(
            state.name, state.state,
            "-" if state.last_batch is None else str(state.last_batch),
            state.last_batch_at or "-",
            _rate(state.input_rows_per_s), _rate(state.processed_rows_per_s),
            "-" if state.lag is None else format_count(state.lag),
            state.checkpoint,
        )
    return table


def _rate(value: float | None) -> str:
    return "-" if value is None else format_count(round(value))


def gold_totals(spark: SparkSession, lake_root: str) -> tuple[int, Decimal]:
    """(transactions, total value) over gold/transacoes_por_condominio of the published set."""
    row = served_gold(spark, lake_root, POR_CONDOMINIO.name, read_published(lake_root)).agg(
        F.sum("quantidade_transacoes").alias("q"), F.sum("valor_total").alias("v")).first()
    if row is None or row["q"] is None:
        return 0, Decimal("0.00")
    return int(row["q"]), Decimal(row["v"])
