"""Parallel JDBC reads of the PostgreSQL source tables."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from condolake.config import Settings
from condolake.services.postgres import SourceDatabase
from condolake.source.tables import SourceTable

POSTGRES_DRIVER = "org.postgresql.Driver"


@dataclass(frozen=True)
class KeyRange:
    """Primary keys a read covers: (after, up_to], with the row count found there."""

    after: int | None
    up_to: int | None
    rows: int
    first: int | None

    @property
    def empty(self) -> bool:
        return self.rows == 0


def snapshot_fingerprint(db: SourceDatabase, table: SourceTable) -> int:
    """A 64-bit fingerprint of the table's whole contents, computed in PostgreSQL: equal
    fingerprints mean (up to a hash collision) an unchanged snapshot that need not be read.

    The sum of a 64-bit hash of each row's text (its key included) is independent of row
    order; the row count is folded in so that a removed row whose hash is 0 still counts.
    """
    query = (f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) "  # noqa: S608
             f"FROM {table.name} AS t")
    with db.connect() as conn:
        rows, hashes = conn.execute(query).fetchone()  # type: ignore[misc]
    return int((int(hashes) * 1_000_003 + int(rows)) % 2**63)


def key_range(db: SourceDatabase, table: SourceTable, after: int | None) -> KeyRange:
    """Bounds of the keys to read, fixed before the read so concurrent inserts can't leak in."""
    key = table.primary_key
    query = f"SELECT min({key}), max({key}), count(*) FROM {table.name}"  # noqa: S608
    params: tuple[int, ...] = ()
    if after is not None:
        query += f" WHERE {key} > %s"
        params = (after,)
    with db.connect() as conn:
        first, last, rows = conn.execute(query, params).fetchone()  # type: ignore[misc]
    return KeyRange(after=after, up_to=last, rows=int(rows), first=first)


def read_table(
    spark: SparkSession,
    db: SourceDatabase,
    table: SourceTable,
    keys: KeyRange,
    settings: Settings,
) -> DataFrame:
    """The rows of `table` in `keys`, read over several JDBC connections split on the key."""
    key = table.primary_key
    bounds = [f"{key} <= {int(keys.up_to)}"] if keys.up_to is not None else []
    if keys.after is not None:
        bounds.append(f"{key} > {int(keys.after)}")
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    columns = ", ".join(table.column_names)
    subquery = f"(SELECT {columns} FROM {table.name}{where}) AS {table.name}_read"
    lower = int(keys.first if keys.first is not None else 0)
    upper = int(keys.up_to if keys.up_to is not None else 0)
    partitions = max(1, min(settings.jdbc_partitions, keys.rows // 10_000 + 1))
    return (
        spark.read.format("jdbc")
        .option("url", db.jdbc_url)
        .option("driver", POSTGRES_DRIVER)
        .options(**db.jdbc_credentials())
        .option("dbtable", subquery)
        .option("partitionColumn", key)
        .option("lowerBound", str(lower))
        .option("upperBound", str(upper + 1))
        .option("numPartitions", str(partitions))
        .option("fetchsize", str(settings.jdbc_fetchsize))
        .load()
    )
