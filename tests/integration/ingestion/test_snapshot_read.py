"""A batch read of several tables sees one PostgreSQL snapshot, over every JDBC connection."""

from __future__ import annotations

from pyspark.sql import SparkSession

from condolake.config import Settings
from condolake.ingestion.postgres import snapshot_reader
from condolake.services.postgres import SourceDatabase
from condolake.source.ddl import init_schema
from condolake.source.tables import CONDOMINIOS, MORADORES


def _insert_condominio(db: SourceDatabase, key: int) -> int:
    """Inserts one condominium in a transaction of its own; returns its transaction id."""
    with db.connect() as conn:
        conn.execute("INSERT INTO condominios VALUES (%s, %s, %s)", (key, f"C{key}", "Rua"))
        (xid,) = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()  # type: ignore[misc]
    return int(xid)


def test_every_read_of_a_snapshot_reader_sees_the_same_transactions(
    empty_database: SourceDatabase, spark: SparkSession, base_settings: Settings,
) -> None:
    with empty_database.connect(autocommit=True) as conn:
        init_schema(conn, drop_existing=True)
    before = _insert_condominio(empty_database, 1)
    with snapshot_reader(empty_database) as reader:
        after = _insert_condominio(empty_database, 2)  # committed after the snapshot
        with empty_database.connect() as conn:
            conn.execute("DELETE FROM condominios WHERE condominio_id = 1")
        keys = reader.key_range(CONDOMINIOS, None)
        # More partitions than rows: every one of the JDBC connections adopts the snapshot.
        rows = reader.read_table(spark, CONDOMINIOS, keys,
                                 base_settings.with_(jdbc_partitions=4)).collect()
        moradores = reader.key_range(MORADORES, None)
        snapshot = reader.snapshot
    assert (keys.first, keys.up_to, keys.rows) == (1, 1, 1)
    assert [(row["condominio_id"], row["nome"]) for row in rows] == [(1, "C1")]
    assert moradores.rows == 0
    assert snapshot.sees(before)
    assert not snapshot.sees(after)
