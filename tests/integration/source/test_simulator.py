"""The simulator's direct publishing (a test tool) against a real PostgreSQL, into an in-memory
sink (the Kafka round trip is tested with the broker); the PostgreSQL-only workload is tested
in test_workload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from tests.integration.conftest import new_database

from condolake.errors import InputError
from condolake.services.postgres import SourceDatabase
from condolake.source.ddl import init_schema
from condolake.source.debezium import encode_row
from condolake.source.generator import generate
from condolake.source.simulator import SimulationStats, Simulator
from condolake.source.simulator_plan import DIRECT_MIX
from condolake.source.simulator_publish import Publishing
from condolake.source.tables import TABLES_BY_NAME

pytestmark = pytest.mark.integration

Connection = psycopg.Connection[Any]
Record = tuple[str, bytes, bytes | None]

TODAY = date(2026, 3, 15)
PREFIX = "condomanage"
VALID_TRANSACAO = ("valor_transacao > 0 AND data_transacao BETWEEN DATE '1900-01-01' "
                   "AND %(today)s")


class ListSink:
    """Records what would go to Kafka."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.flushes = 0

    def publish(self, topic: str, key: bytes, value: bytes | None) -> None:
        self.records.append((topic, key, value))

    def flush(self) -> None:
        self.flushes += 1


@dataclass(frozen=True)
class Run:
    stats: SimulationStats
    records: list[Record]
    conn: Connection


@pytest.fixture
def source(postgres: SourceDatabase) -> Iterator[Connection]:
    """A generated source (1 condominio, 200 moradores, 300 imoveis, 10 000 transacoes)."""
    with new_database(postgres) as database, database.connect() as conn:
        generate(conn, scale=0.01, seed=3, today=TODAY)
        yield conn


def simulate(conn: Connection, *, events: int, chaos: float = 0.0, rate: float = 20_000,
             seed: int = 1) -> Run:
    sink = ListSink()
    simulator = Simulator(conn, seed=seed, mix=DIRECT_MIX,
                          publish=Publishing(sink, PREFIX, chaos_share=chaos), today=TODAY)
    stats = simulator.run(rate, events=events)
    assert sink.flushes == 1
    return Run(stats, sink.records, conn)


def is_change_event(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        event = json.loads(value)
    except json.JSONDecodeError:
        return False
    return "op" in event and "after" in event


def change_events(records: list[Record]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(table, key, event) of each record that is a change event, in publish order."""
    return [(topic.rsplit(".", 1)[1], json.loads(key), json.loads(value))
            for topic, key, value in records if value is not None and is_change_event(value)]


def first_copies(records: list[Record]) -> list[Record]:
    """The records without the chaos copies (exact repeats of an earlier record)."""
    seen: set[Record] = set()
    kept = []
    for record in records:
        if record[2] is None or record not in seen:
            kept.append(record)
        seen.add(record)
    return kept


def versions_by_key(records: list[Record]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """(op, before, after) of each key's events, in publish order."""
    versions: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for table, key, event in change_events(records):
        versions.setdefault((table, json.dumps(key)), []).append(
            (event["op"], event["before"], event["after"]))
    return versions


def stored_row(conn: Connection, table: str, key: int) -> dict[str, Any] | None:
    spec = TABLES_BY_NAME[table]
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            f"SELECT * FROM {table} WHERE {spec.primary_key} = %s", (key,)  # noqa: S608
        ).fetchone()


def test_exact_counts_and_the_same_events_at_any_pace(postgres: SourceDatabase) -> None:
    runs = []
    for rate in (50_000, 3_000):  # one tick of 2 000, or ticks of 300
        with new_database(postgres) as database, database.connect() as conn:
            generate(conn, scale=0.01, seed=3, today=TODAY)
            run = simulate(conn, events=2_000, rate=rate)
        runs.append((run.stats, versions_by_key(run.records)))
    (stats, changes), (other_stats, other_changes) = runs
    assert stats.changes == {
        "condominios": {"c": 0, "u": 0, "d": 0},
        "moradores": {"c": 6, "u": 0, "d": 0},
        "imoveis": {"c": 6, "u": 0, "d": 0},
        "transacoes": {"c": 1_936, "u": 47, "d": 5},
    }
    assert stats.events == 2_000
    assert stats.published == 2_000 + 5  # a tombstone per delete
    assert stats.tombstones == 5
    assert stats.chaos == dict.fromkeys(stats.chaos, 0)
    assert other_stats.changes == stats.changes
    assert other_changes == changes


def test_events_carry_the_postgres_rows(source: Connection) -> None:
    run = simulate(source, events=3_000, chaos=0.1)
    last: dict[tuple[str, int], dict[str, Any]] = {}
    for table, key, event in sorted(change_events(first_copies(run.records)),
                                    key=lambda item: item[2]["source"]["lsn"]):
        key_value = next(iter(key.values()))
        previous = last.get((table, key_value))
        # Each version follows the one before it: its `before` is the previous `after`.
        assert event["before"] == (None if previous is None else previous["after"])
        last[(table, key_value)] = event
    assert len(last) == sum(ops["c"] for ops in run.stats.changes.values())
    for (table, key_value), event in last.items():
        row = stored_row(source, table, key_value)
        if event["op"] == "d":
            assert row is None
        else:
            assert row is not None
            assert event["after"] == encode_row(TABLES_BY_NAME[table], row)
    amounts = [event["after"]["valor_transacao"] for table, _, event in change_events(run.records)
               if table == "transacoes" and event["after"] is not None]
    assert all(isinstance(amount, str) and amount[-3] == "." for amount in amounts)


def test_deletes_are_followed_by_tombstones(source: Connection) -> None:
    run = simulate(source, events=3_000, chaos=0.05)
    deletes = 0
    for index, (topic, key, value) in enumerate(run.records):
        if value is not None and is_change_event(value) and json.loads(value)["op"] == "d":
            deletes += 1
            assert run.records[index + 1] == (topic, key, None)
    tombstones = sum(1 for record in run.records if record[2] is None)
    assert deletes == tombstones == run.stats.tombstones == run.stats.changes["transacoes"]["d"]
    assert deletes == 10


def test_lsn_strictly_increases_in_publish_order(source: Connection) -> None:
    run = simulate(source, events=2_500, rate=5_000)
    lsns = [event["source"]["lsn"] for _, _, event in change_events(run.records)]
    assert len(lsns) == run.stats.published - run.stats.tombstones
    assert all(earlier < later for earlier, later in zip(lsns, lsns[1:], strict=False))
    assert (lsns[0], lsns[-1]) == (run.stats.first_lsn, run.stats.last_lsn)
    tx_ids = [event["source"]["txId"] for _, _, event in change_events(run.records)]
    assert tx_ids == sorted(tx_ids)


def test_chaos_in_the_stream_is_what_was_counted(source: Connection) -> None:
    run = simulate(source, events=3_000, chaos=0.1, rate=5_000)
    chaos = run.stats.chaos
    assert chaos == {"malformed": 63, "duplicate": 63, "late": 63, "out_of_order": 62,
                     "invalid_row": 62}
    assert sum(run.stats.invalid_rows["transacoes"].values()) == chaos["invalid_row"]
    malformed = [r for r in run.records if r[2] is not None and not is_change_event(r[2])]
    assert len(malformed) == chaos["malformed"]
    assert {topic for topic, _, _ in malformed} == {f"{PREFIX}.public.transacoes"}
    duplicates = late = 0
    newest: dict[bytes, int] = {}
    seen: set[Record] = set()
    for record in run.records:
        if record[2] is None or not is_change_event(record[2]):
            continue
        lsn = json.loads(record[2])["source"]["lsn"]
        if record in seen:
            duplicates += lsn == newest[record[1]]
            late += lsn < newest[record[1]]
        seen.add(record)
        newest[record[1]] = max(lsn, newest.get(record[1], lsn))
    assert (duplicates, late) == (chaos["duplicate"], chaos["late"])
    lsns = [event["source"]["lsn"] for _, _, event in change_events(first_copies(run.records))]
    descents = sum(1 for earlier, later in zip(lsns, lsns[1:], strict=False) if later < earlier)
    assert descents == chaos["out_of_order"]
    breaking = source.execute(
        f"SELECT count(*) FROM transacoes WHERE transacao_id > 10000 AND NOT ({VALID_TRANSACAO})",
        {"today": TODAY},
    ).fetchone()
    assert breaking == (chaos["invalid_row"],)


def test_valid_ids_are_the_valid_rows_the_simulator_inserted(source: Connection) -> None:
    run = simulate(source, events=3_000, chaos=0.1)
    created = [key["transacao_id"] for table, key, event in change_events(first_copies(run.records))
               if table == "transacoes" and event["op"] == "c"]
    rows = source.execute(
        f"SELECT transacao_id FROM transacoes WHERE transacao_id = ANY(%(ids)s) "  # noqa: S608
        f"AND {VALID_TRANSACAO} ORDER BY transacao_id",
        {"ids": created, "today": TODAY},
    ).fetchall()
    assert sorted(run.stats.valid_transacao_ids) == [transacao_id for (transacao_id,) in rows]
    deleted = [key["transacao_id"] for table, key, event in change_events(run.records)
               if event["op"] == "d"]
    assert run.stats.deleted_transacao_ids == deleted
    gone = source.execute("SELECT count(*) FROM transacoes WHERE transacao_id = ANY(%s)",
                          (deleted,)).fetchone()
    assert gone == (0,)
    existing = source.execute("SELECT count(*) FROM transacoes").fetchone()
    assert existing == (10_000 + len(created) - len(deleted),)


def test_an_empty_source_is_refused(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        with pytest.raises(InputError, match="no CondoManage tables"):
            Simulator(conn)
        init_schema(conn)
        conn.commit()
        with pytest.raises(InputError, match="no valid moradores or imoveis"):
            Simulator(conn, publish=Publishing(ListSink(), PREFIX))


def test_stop_ends_the_run_after_a_whole_tick(source: Connection) -> None:
    sink = ListSink()
    simulator = Simulator(source, seed=1, mix=DIRECT_MIX, publish=Publishing(sink, PREFIX),
                          today=TODAY)
    # At 1 000 events/s the first tick (100 ms) carries 100 events.
    stats = simulator.run(1_000, duration_s=60, stop=lambda: simulator.stats.events >= 100)
    assert stats.events == 100
    assert sink.flushes == 1
    assert len(sink.records) == stats.published


def test_limits_must_make_sense(source: Connection) -> None:
    simulator = Simulator(source, today=TODAY)
    for rate, duration, events in ((0, None, 5), (10, -1.0, None), (10, None, 0)):
        with pytest.raises(InputError):
            simulator.run(rate, duration_s=duration, events=events)
    with pytest.raises(InputError, match="chaos share"):
        Publishing(ListSink(), PREFIX, chaos_share=1.5)
    with pytest.raises(InputError, match="invalid share"):
        Simulator(source, invalid_share=-0.1)


def test_a_connection_inside_a_transaction_is_refused(source: Connection) -> None:
    source.execute("SELECT 1")  # opens a transaction (not autocommit)
    with pytest.raises(ValueError, match="no transaction in progress"):
        Simulator(source, today=TODAY)
    source.rollback()
