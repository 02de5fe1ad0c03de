"""The workload generator (`condolake simulate` without --publish) against a real PostgreSQL:
what it writes, exactly, and that it needs nothing else (no Kafka, no connector)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.integration.conftest import new_database
from tests.support.webhook import free_port

import condolake.cli as cli
from condolake.config import Settings
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate
from condolake.source.simulator import Simulator
from condolake.source.simulator_plan import WORKLOAD_MIX, Planner
from condolake.source.tables import SOURCE_TABLES

pytestmark = pytest.mark.integration

Connection = psycopg.Connection[Any]

TODAY = date(2026, 3, 15)
SEED = 5
EVENTS = 2_000
INVALID_SHARE = 0.05
POLL_S = 0.05
DEADLINE_S = 60.0
# Which rows break which rule, in SQL (PostgreSQL's own regex: blank = white space only).
BREAKING = {
    "moradores": {
        "blank_nome": r"nome ~ '^\s*$'",
        "future_data_registro": "data_registro > %(today)s",
        "ancient_data_registro": "data_registro < DATE '1900-01-01'",
    },
    "imoveis": {
        "non_positive_valor": "valor <= 0",
        "blank_tipo": r"tipo ~ '^\s*$'",
    },
    "transacoes": {
        "non_positive_valor": "valor_transacao <= 0",
        "future_data_transacao": "data_transacao > %(today)s",
        "ancient_data_transacao": "data_transacao < DATE '1900-01-01'",
    },
}
KEYS = {table.name: table.primary_key for table in SOURCE_TABLES}


@pytest.fixture
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A generated source (1 condominio, 200 moradores, 300 imoveis, 10 000 transacoes), valid
    as of today, so the command line (which validates against today) sees the same."""
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=0.01, seed=3)
        yield database


def counts(conn: Connection) -> dict[str, int]:
    return {table: _one(conn, f"SELECT count(*) FROM {table}") for table in KEYS}


def max_ids(conn: Connection) -> dict[str, int]:
    return {table: _one(conn, f"SELECT coalesce(max({key}), 0) FROM {table}")
            for table, key in KEYS.items()}


def breaking_rows(conn: Connection, after: dict[str, int], today: date) -> dict[str, Any]:
    """Per table and rule, the rows created after the ids `after` that break it."""
    return {
        table: {
            rule: _one(conn, f"SELECT count(*) FROM {table} WHERE {KEYS[table]} > "
                             f"%(after)s AND {condition}",
                       {"after": after[table], "today": today})
            for rule, condition in rules.items()
        }
        for table, rules in BREAKING.items()
    }


def valid_rows(conn: Connection, today: date) -> dict[str, int]:
    """Rows that break none of the rules above (the generated source has no invalid rows)."""
    return {
        table: _one(conn, f"SELECT count(*) FROM {table} WHERE NOT ("
                          + " OR ".join(rules.values()) + ")", {"today": today})
        for table, rules in BREAKING.items()
    }


def table_contents(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in KEYS.items()}


def _one(conn: Connection, query: str, params: dict[str, Any] | None = None) -> int:
    row = conn.execute(query.encode(), params).fetchone()
    assert row is not None
    return int(row[0])


def test_a_seeded_run_writes_exactly_its_plan_and_publishes_nothing(
    source: SourceDatabase, base_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    today = date.today()
    with source.connect() as conn:
        before, first_new, valid_before = counts(conn), max_ids(conn), valid_rows(conn, today)
    # Nothing listens on the broker address: any attempt to publish would fail the command.
    settings = base_settings.with_(source_url=source.url,
                                   kafka_bootstrap=f"127.0.0.1:{free_port()}")
    monkeypatch.setattr(cli, "load_settings", lambda: settings)
    stats_file = tmp_path / "stats.json"

    assert cli.main(["simulate", "--rate", "20000", "--events", str(EVENTS), "--seed",
                     str(SEED), "--invalid-share", str(INVALID_SHARE), "--stats-file",
                     str(stats_file)]) == 0

    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    plan = Counter(step.kind for step in
                   Planner(SEED, invalid_share=INVALID_SHARE, mix=WORKLOAD_MIX).steps(EVENTS))
    assert stats["events"] == EVENTS
    assert stats["changes"] == {
        "condominios": {"c": 0, "u": 0, "d": 0},
        "moradores": {"c": 91, "u": 13, "d": 15},
        "imoveis": {"c": 63, "u": 15, "d": 8},
        "transacoes": {"c": 1_572, "u": 223, "d": 39},
    }
    # Each change is the plan's: a transacao updated twice in its transaction counts twice.
    assert stats["changes"]["transacoes"]["u"] == plan["update"] + 2 * plan["update_twice"]
    assert plan["update_twice"] == 39
    assert stats["changes"]["moradores"]["d"] == plan["delete_morador"]
    assert stats["invalid_rows"] == {
        "moradores": {"blank_nome": 15, "future_data_registro": 15, "ancient_data_registro": 15},
        "imoveis": {"non_positive_valor": 15, "blank_tipo": 15},
        "transacoes": {"non_positive_valor": 14, "future_data_transacao": 14,
                       "ancient_data_transacao": 14},
    }
    assert stats["valid_rows_added"] == {"condominios": 0, "moradores": 31, "imoveis": 25,
                                         "transacoes": 1_491}
    assert (stats["publish"], stats["published"], stats["tombstones"]) == (False, 0, 0)
    assert stats["first_lsn"] is None
    assert WORKLOAD_MIX.max_transaction_steps is not None
    assert 1 < EVENTS / stats["transactions"] < WORKLOAD_MIX.max_transaction_steps

    with source.connect() as conn:
        assert counts(conn) == {table: before[table] + ops["c"] - ops["d"]
                                for table, ops in stats["changes"].items()}
        assert breaking_rows(conn, first_new, today) == stats["invalid_rows"]
        assert valid_rows(conn, today) == {
            table: valid_before[table] + stats["valid_rows_added"][table] for table in BREAKING}
        # Several rows per database transaction: fewer distinct inserting transactions than
        # rows among the new moradores and imoveis that no one changed since.
        new_parents = conn.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM (SELECT xmin FROM moradores "
            "WHERE morador_id > %s UNION ALL SELECT xmin FROM imoveis WHERE imovel_id > %s) "
            "AS created", (first_new["moradores"], first_new["imoveis"])).fetchone()
        assert new_parents is not None and new_parents[1] < new_parents[0]
    out = capsys.readouterr().out
    assert f"{EVENTS:,} events in " in out
    assert "changes: moradores 91c/13u/15d, imoveis 63c/15u/8d, transacoes 1,572c/223u/39d" in out
    assert "published directly" not in out


def test_the_same_seed_gives_the_same_source_at_any_pace(postgres: SourceDatabase) -> None:
    contents = []
    for rate in (50_000, 3_000):  # one tick of 1 000 steps, or ticks of 300
        with new_database(postgres) as database, database.connect() as conn:
            generate(conn, scale=0.01, seed=3, today=TODAY)
            conn.commit()
            stats = Simulator(conn, seed=SEED, invalid_share=INVALID_SHARE,
                              today=TODAY).run(rate, events=1_000)
            contents.append((stats.changes, table_contents(conn)))
    assert contents[0] == contents[1]


def test_sigterm_stops_after_a_whole_tick_with_a_summary(source: SourceDatabase,
                                                         tmp_path: Path) -> None:
    stats_file = tmp_path / "stats.json"
    with source.connect() as conn:
        before = counts(conn)
    env = {**os.environ, "CONDOLAKE_SOURCE_URL": source.url,
           "CONDOLAKE_STATE_DIR": str(tmp_path / "state"),
           "CONDOLAKE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    command = [sys.executable, "-m", "condolake.cli", "simulate", "--rate", "200",
               "--stats-file", str(stats_file)]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        deadline = time.monotonic() + DEADLINE_S
        with source.connect(autocommit=True) as conn:
            while counts(conn)["transacoes"] <= before["transacoes"] + 50:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "no workload reached the source"
                time.sleep(POLL_S)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, err[-2000:]
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    assert stats["events"] > 50
    assert "transactions committed" in out and "Traceback" not in err
    with source.connect() as conn:
        assert counts(conn) == {table: before[table] + ops["c"] - ops["d"]
                                for table, ops in stats["changes"].items()}


def test_an_unreachable_source_is_a_clear_error(
    base_settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"postgresql://condolake:secret@127.0.0.1:{free_port()}/condomanage"
    monkeypatch.setattr(cli, "load_settings", lambda: base_settings.with_(source_url=closed))

    assert cli.main(["simulate", "--rate", "10", "--events", "5"]) == 1

    err = capsys.readouterr().err
    assert "cannot reach the PostgreSQL source at postgresql://condolake:***@127.0.0.1:" in err
    assert "Connection refused" in err and "CONDOLAKE_SOURCE_URL" in err
    assert "secret" not in err and "Traceback" not in err


def test_a_source_lost_mid_run_is_a_clear_error(
    source: SourceDatabase, base_settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "load_settings", lambda: base_settings.with_(source_url=source.url))
    with source.connect(autocommit=True) as conn:
        start = counts(conn)["transacoes"]
    killed = threading.Event()

    def terminate_the_workload() -> None:
        deadline = time.monotonic() + DEADLINE_S
        with source.connect(autocommit=True) as conn:
            while counts(conn)["transacoes"] <= start and time.monotonic() < deadline:
                time.sleep(POLL_S)
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        killed.set()

    killer = threading.Thread(target=terminate_the_workload, daemon=True)
    killer.start()
    code = cli.main(["simulate", "--rate", "500", "--duration", str(DEADLINE_S)])
    killer.join()

    assert killed.is_set() and code == 1
    err = capsys.readouterr().err
    assert "lost the PostgreSQL source after " in err
    assert "the transaction in progress was rolled back" in err and "Traceback" not in err


def test_kafka_chaos_needs_publish(base_settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "load_settings", lambda: base_settings)

    assert cli.main(["simulate", "--rate", "10", "--events", "5", "--chaos", "0.1"]) == 2

    assert "Kafka-level chaos needs --publish" in capsys.readouterr().err
