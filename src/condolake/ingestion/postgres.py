"""Parallel JDBC reads of the PostgreSQL source tables, optionally all in one snapshot.

A batch load reads every table inside one exported snapshot (`snapshot_reader`): the key
ranges, fingerprints and the parallel JDBC reads of all tables then see the same committed
transactions, and the snapshot (`pg_current_snapshot()`) says exactly which: the change
stream uses it to tell the changes the load already holds from the ones it does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow
from pyspark.sql import DataFrame, SparkSession

from condolake.config import Settings
from condolake.services.postgres import SourceDatabase
from condolake.source.tables import SourceTable

POSTGRES_DRIVER = "org.postgresql.Driver"
Connection = psycopg.Connection[TupleRow]


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


@dataclass(frozen=True)
class Snapshot:
    """Which transactions a read sees, as `pg_current_snapshot()` prints it: `xmin:xmax:xip`.

    A transaction is visible when it is older than `xmax` and not among `xip` (those still
    running when the snapshot was taken); the ids are 64-bit (`xid8`, with the epoch).
    """

    xmin: int
    xmax: int
    xip: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        try:
            xmin, xmax, xip = text.strip().split(":")
            return cls(int(xmin), int(xmax),
                       tuple(int(xid) for xid in xip.split(",") if xid))
        except ValueError:
            raise ValueError(f"not a PostgreSQL snapshot: {text!r}") from None

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, self.xip))}"

    def sees(self, xid: int) -> bool:
        """Whether the transaction `xid` (64-bit, committed) is visible in this snapshot."""
        return xid < self.xmax and xid not in self.xip


@dataclass(frozen=True)
class SnapshotReader:
    """Reads of the source that all see one snapshot, while its transaction stays open."""

    db: SourceDatabase
    conn: Connection
    exported: str  # pg_export_snapshot(): other sessions adopt the snapshot by this name
    snapshot: Snapshot

    def key_range(self, table: SourceTable, after: int | None) -> KeyRange:
        return _key_range(self.conn, table, after)

    def fingerprint(self, table: SourceTable) -> int:
        return _fingerprint(self.conn, table)

    def read_table(self, spark: SparkSession, table: SourceTable, keys: KeyRange,
                   settings: Settings) -> DataFrame:
        return read_table(spark, self.db, table, keys, settings, snapshot=self.exported)

    def read_keys(self, spark: SparkSession, table: SourceTable, settings: Settings
                  ) -> DataFrame:
        """Every primary key of `table` in the snapshot (one int column), materialised now:
        the snapshot ends with the block."""
        keys = self.key_range(table, None)
        return read_table(spark, self.db, table, keys, settings, snapshot=self.exported,
                          columns=(table.primary_key,)).localCheckpoint(eager=True)


@contextmanager
def snapshot_reader(db: SourceDatabase) -> Iterator[SnapshotReader]:
    """A repeatable-read, read-only transaction whose snapshot is exported for the JDBC
    reads; it is held open (and its snapshot with it) until the block ends, so the Spark
    reads of the tables must run inside the block."""
    with db.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        exported, current = conn.execute(  # type: ignore[misc]
            "SELECT pg_export_snapshot(), pg_current_snapshot()::text").fetchone()
        try:
            yield SnapshotReader(db, conn, str(exported), Snapshot.parse(str(current)))
        finally:
            conn.rollback()


def snapshot_fingerprint(db: SourceDatabase, table: SourceTable) -> int:
    """A 64-bit fingerprint of the table's whole contents, computed in PostgreSQL: equal
    fingerprints mean (up to a hash collision) an unchanged snapshot that need not be read.

    The sum of a 64-bit hash of each row's text (its key included) is independent of row
    order; the row count is folded in so that a removed row whose hash is 0 still counts.
    """
    with db.connect() as conn:
        return _fingerprint(conn, table)


def _fingerprint(conn: Connection, table: SourceTable) -> int:
    query = (f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) "  # noqa: S608
             f"FROM {table.name} AS t")
    rows, hashes = conn.execute(query).fetchone()  # type: ignore[misc]
    return int((int(hashes) * 1_000_003 + int(rows)) % 2**63)


def key_range(db: SourceDatabase, table: SourceTable, after: int | None) -> KeyRange:
    """Bounds of the keys to read, fixed before the read so concurrent inserts can't leak in."""
    with db.connect() as conn:
        return _key_range(conn, table, after)


def _key_range(conn: Connection, table: SourceTable, after: int | None) -> KeyRange:
    key = table.primary_key
    query = f"SELECT min({key}), max({key}), count(*) FROM {table.name}"  # noqa: S608
    params: tuple[int, ...] = ()
    if after is not None:
        query += f" WHERE {key} > %s"
        params = (after,)
    first, last, rows = conn.execute(query, params).fetchone()  # type: ignore[misc]
    return KeyRange(after=after, up_to=last, rows=int(rows), first=first)


def read_table(
    spark: SparkSession,
    db: SourceDatabase,
    table: SourceTable,
    keys: KeyRange,
    settings: Settings,
    *,
    snapshot: str | None = None,
    columns: Sequence[str] | None = None,
) -> DataFrame:
    """The rows of `table` in `keys`, read over several JDBC connections split on the key;
    each connection adopts the exported `snapshot` first, when one is given."""
    key = table.primary_key
    bounds = [f"{key} <= {int(keys.up_to)}"] if keys.up_to is not None else []
    if keys.after is not None:
        bounds.append(f"{key} > {int(keys.after)}")
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    selected = ", ".join(columns or table.column_names)
    subquery = f"(SELECT {selected} FROM {table.name}{where}) AS {table.name}_read"
    lower = int(keys.first if keys.first is not None else 0)
    upper = int(keys.up_to if keys.up_to is not None else 0)
    partitions = max(1, min(settings.jdbc_partitions, keys.rows // 10_000 + 1))
    reader = spark.read.format("jdbc")
    if snapshot is not None:
        # Spark runs this on each connection before its query; the PostgreSQL dialect then
        # turns autocommit off, so the query runs in the transaction opened here.
        reader = reader.option("sessionInitStatement", (
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
            f"SET TRANSACTION SNAPSHOT '{_snapshot_name(snapshot)}'"))
    return (
        reader
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


def _snapshot_name(exported: str) -> str:
    """An exported snapshot's name (`00000003-0000001B-1`), checked before it enters SQL."""
    if not exported or not all(c.isalnum() or c == "-" for c in exported):
        raise ValueError(f"not an exported snapshot name: {exported!r}")
    return exported
