"""Handover from a batch load to the change stream: no loss and no regression.

A batch load reads PostgreSQL in one snapshot while changes commit around it (the handover
load, which also removes what was deleted before change capture began); the change events
that follow (Debezium's, with real transaction ids) reach silver one transaction per
micro-batch. Silver must never step back to a version older than the load's, never lose a
key the load holds, and end equal to PostgreSQL (real PostgreSQL, Spark and Delta; the events
are applied as the stream applies a micro-batch).
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from condolake.catalog import KAFKA_EVENTS_SCHEMA
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import ingest_postgres
from condolake.pipelines.stream_silver import (
    CDC_SOURCE,
    apply_changes,
    ensure_stream_tables,
    stream_context,
)
from condolake.services.postgres import SourceDatabase
from condolake.source.ddl import init_schema
from condolake.source.debezium import change_event, topic_name, truncate_event
from condolake.source.tables import CONDOMINIOS
from condolake.streaming.kafka_events import changes_from_events

PREFIX = "condomanage"
QUERY_ID = "fedcba9876543210"
AT = dt.datetime(2026, 12, 6, 3, 0, 0, tzinfo=dt.UTC)
XID_SPACE = 2**32
Row = dict[str, object]
Change = tuple[str, Row | None, Row | None]  # op, before, after


def _row(key: int, version: str) -> Row:
    return {"condominio_id": key, "nome": f"Condominio {key} {version}", "endereco": "Rua 1"}


class Source:
    """Commits changes of condominios and keeps each transaction's Debezium events."""

    def __init__(self, db: SourceDatabase) -> None:
        self.db = db
        self.rows: dict[int, Row] = {}
        self.transactions: list[tuple[int, list[Change]]] = []  # in commit order

    def commit(self, *changes: tuple[str, int | None, str | None]) -> None:
        with self.db.connect() as conn:
            tx_id = self.apply(conn, changes)
        self.transactions.append((tx_id, self.pending))

    def apply(self, conn: object, changes: tuple[tuple[str, int | None, str | None], ...]
              ) -> int:
        events: list[Change] = []
        for op, key, version in changes:
            before = self.rows.get(key)
            if op == "t":
                conn.execute("TRUNCATE condominios CASCADE")  # type: ignore[attr-defined]
                self.rows.clear()
                events.append(("t", None, None))
                continue
            if op == "d":
                conn.execute("DELETE FROM condominios WHERE condominio_id = %s", (key,))  # type: ignore[attr-defined]
                del self.rows[key]
                events.append(("d", before, None))
                continue
            after = _row(key, str(version))
            conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO condominios VALUES (%(condominio_id)s, %(nome)s, %(endereco)s) "
                "ON CONFLICT (condominio_id) DO UPDATE SET nome = EXCLUDED.nome", after)
            self.rows[key] = after
            events.append(("c" if before is None else "u", before, after))
        (xid,) = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()  # type: ignore[attr-defined]
        self.pending = events
        return int(xid) % XID_SPACE  # Debezium's txId: the 32-bit transaction id


def _micro_batch(spark: SparkSession, lake: str, batch_id: int, tx_id: int,
                 changes: list[Change], lsns: itertools.count[int]) -> dict[str, int]:
    ctx, run = stream_context(spark, lake, "UTC", "kafka", QUERY_ID, batch_id)
    topic = topic_name(PREFIX, CONDOMINIOS.name)
    at = AT + dt.timedelta(seconds=batch_id)
    records = []
    for offset, (op, before, after) in enumerate(changes):
        lsn = next(lsns)
        if op == "t":
            key, value = truncate_event(CONDOMINIOS, prefix=PREFIX, database="condomanage",
                                        lsn=lsn, tx_id=tx_id, commit_ms=lsn, produced_ms=lsn)
        else:
            key, value = change_event(CONDOMINIOS, op, before, after, prefix=PREFIX,
                                      database="condomanage", lsn=lsn, tx_id=tx_id,
                                      commit_ms=lsn, produced_ms=lsn)
        position = batch_id * 100 + offset
        records.append((key and key.decode(), value.decode(), topic, 0, position, at,
                        f"kafka:{topic}/0/{position}", position, ctx.run_id, at))
    events = spark.createDataFrame(records, KAFKA_EVENTS_SCHEMA)
    apply_changes(ctx, run, {CONDOMINIOS.name: changes_from_events(events, CONDOMINIOS,
                                                                     ctx.run_id)},
                  app_id=f"kafka.{QUERY_ID}", batch_id=batch_id, source=CDC_SOURCE)
    (counts,) = run.tables
    return {"read": counts.rows_read, "valid": counts.rows_valid,
            "duplicate": counts.rows_duplicate}


def _silver(spark: SparkSession, lake: str) -> dict[int, str]:
    rows = spark.read.format("delta").load(
        table_path(lake, Layer.SILVER, CONDOMINIOS.name)).collect()
    return {row["condominio_id"]: row["nome"] for row in rows}


@pytest.mark.integration
def test_changes_around_a_batch_load_reach_silver_without_loss_or_regression(
    spark: SparkSession, base_settings: Settings, empty_database: SourceDatabase,
    tmp_path: Path,
) -> None:
    with empty_database.connect(autocommit=True) as conn:
        init_schema(conn, drop_existing=True)
    source = Source(empty_database)
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    lake = settings.lake_path
    source.commit(("c", 1, "v1"), ("c", 2, "v1"), ("c", 3, "v1"), ("c", 4, "v1"),
                  ("c", 6, "v1"), ("c", 7, "v1"))
    ingest_postgres(spark, settings, empty_database)  # an earlier load, before capture
    source.commit(("d", 7, None))  # deleted before change capture starts: no event ever
    source.transactions.clear()  # the replication slot is created here: events from now on
    source.commit(("u", 1, "v2"))
    source.commit(("d", 2, None))
    source.commit(("d", 3, None))
    source.commit(("c", 3, "v5"))  # the same key again, before the load reads
    # A transaction still running while the load takes its snapshot: the load does not see it.
    with empty_database.connect() as running:
        running_changes = (("u", 4, "vT"),)
        running_tx = source.apply(running, running_changes)
        ingest_postgres(spark, settings, empty_database, handover=True)
        loaded = _silver(spark, lake)
        running.commit()
    source.transactions.append((running_tx, source.pending))
    source.commit(("c", 5, "v6"))
    source.commit(("u", 6, "v7"))

    # Keys 2 and 7, deleted before the handover load read, are gone from silver.
    assert loaded == {1: "Condominio 1 v2", 3: "Condominio 3 v5", 4: "Condominio 4 v1",
                      6: "Condominio 6 v1"}
    ensure_stream_tables(spark, lake)
    lsns = itertools.count(1_000)
    expected = dict(loaded)
    outcomes = []
    for batch_id, (tx_id, changes) in enumerate(source.transactions):
        outcomes.append(_micro_batch(spark, lake, batch_id, tx_id, changes, lsns))
        for _, before, after in changes:  # what PostgreSQL held after this transaction
            if after is None:
                expected.pop(int(before["condominio_id"]), None)  # type: ignore[index]
            else:
                expected[int(after["condominio_id"])] = str(after["nome"])  # type: ignore[arg-type]
        if batch_id < 4:  # the load already held these: silver stays as loaded
            assert _silver(spark, lake) == loaded, batch_id
        else:
            assert _silver(spark, lake) == expected, batch_id
    assert _silver(spark, lake) == {key: str(row["nome"]) for key, row in source.rows.items()}
    assert outcomes == [
        {"read": 1, "valid": 0, "duplicate": 1},  # u 1: the load read v2
        {"read": 1, "valid": 1, "duplicate": 0},  # d 2: the load did not read key 2, applies
        {"read": 1, "valid": 0, "duplicate": 1},  # d 3: the load read key 3 again
        {"read": 1, "valid": 0, "duplicate": 1},  # c 3
        {"read": 1, "valid": 1, "duplicate": 0},  # u 4: running while the load read
        {"read": 1, "valid": 1, "duplicate": 0},  # c 5
        {"read": 1, "valid": 1, "duplicate": 0},  # u 6
    ]


@pytest.mark.integration
def test_a_truncate_the_load_already_saw_keeps_the_rows_the_load_read_after_it(
    spark: SparkSession, base_settings: Settings, empty_database: SourceDatabase,
    tmp_path: Path,
) -> None:
    with empty_database.connect(autocommit=True) as conn:
        init_schema(conn, drop_existing=True)
    source = Source(empty_database)
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    lake = settings.lake_path
    source.commit(("c", 1, "v1"), ("c", 2, "v1"))
    ingest_postgres(spark, settings, empty_database)
    source.transactions.clear()  # the replication slot is created here
    source.commit(("t", None, None))
    source.commit(("c", 3, "v1"))
    ingest_postgres(spark, settings, empty_database, handover=True)
    ensure_stream_tables(spark, lake)
    expected = {3: "Condominio 3 v1"}
    assert _silver(spark, lake) == expected
    lsns = itertools.count(1_000)
    outcomes = []
    for batch_id, (tx_id, changes) in enumerate(source.transactions):
        outcomes.append(_micro_batch(spark, lake, batch_id, tx_id, changes, lsns))
        assert _silver(spark, lake) == expected, batch_id  # never emptied, never lost
    assert outcomes == [
        {"read": 1, "valid": 1, "duplicate": 0},  # the truncate, applied to older rows only
        {"read": 1, "valid": 0, "duplicate": 1},  # c 3: the load read it
    ]
