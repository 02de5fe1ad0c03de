"""The embedded PostgreSQL is ready for logical replication, a cluster of an older version too."""

from __future__ import annotations

import logging

import psycopg
import pytest
from tests.integration.conftest import running_postgres

from condolake.errors import ServiceError
from condolake.services import postgres as postgres_service
from condolake.services.postgres import (
    REPLICATION_HBA_LINE,
    SUPERUSER,
    EmbeddedPostgres,
    SourceDatabase,
)

pytestmark = pytest.mark.integration

SETTINGS_SQL = ("SELECT current_setting('wal_level'), current_setting('max_replication_slots'), "
                "current_setting('max_wal_senders'), "
                "(SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user)")
# The active pg_hba.conf rule for replication connections of the superuser over IPv4 loopback.
HBA_RULE_SQL = ("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND "
                "database = '{replication}' AND user_name = ARRAY[%s] AND address = '127.0.0.1'")


def replication_state(db: SourceDatabase) -> tuple[tuple[object, ...] | None, list[tuple[str]]]:
    with db.connect() as conn:
        return (conn.execute(SETTINGS_SQL).fetchone(),
                conn.execute(HBA_RULE_SQL, (SUPERUSER,)).fetchall())


def identify_system(db: SourceDatabase) -> int:
    """The timeline of IDENTIFY_SYSTEM over a replication connection (needs pg_hba.conf's
    replication line and the REPLICATION attribute)."""
    with psycopg.connect(db.url, replication="database", autocommit=True) as conn:
        row = conn.execute("IDENTIFY_SYSTEM").fetchone()
    assert row is not None
    return int(row[1])


def test_the_session_server_runs_with_logical_decoding(postgres: SourceDatabase,
                                                       postgres_server: EmbeddedPostgres) -> None:
    assert replication_state(postgres) == (("logical", "10", "10", True), [("scram-sha-256",)])
    hba = (postgres_server.pgdata / "pg_hba.conf").read_text(encoding="utf-8")
    assert hba.count(REPLICATION_HBA_LINE + "\n") == 1
    assert identify_system(postgres) == 1
    postgres_server.require_logical_replication()


def test_a_running_server_of_an_older_version_is_told_to_restart(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    with running_postgres("old-pg") as server:
        # An older CondoLake: started without the replication settings nor the hba line.
        monkeypatch.setattr(postgres_service, "REPLICATION_SETTINGS", {})
        server.stop()
        hba = server.pgdata / "pg_hba.conf"
        hba.write_text(hba.read_text(encoding="utf-8").replace(REPLICATION_HBA_LINE + "\n", ""),
                       encoding="utf-8")
        monkeypatch.setattr(server, "_allow_replication_connections", lambda: False)
        old = SourceDatabase(server.start())
        assert replication_state(old) == (("replica", "10", "10", True), [])
        monkeypatch.undo()

        with caplog.at_level(logging.WARNING, logger=postgres_service.__name__):
            assert server.start() == old.url  # still the running server, same port

        assert replication_state(old) == (("replica", "10", "10", True),
                                          [("scram-sha-256",)])  # line added and reloaded
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "runs with wal_level=replica" in warnings[0]
        assert "run `condolake source stop`, then `condolake source start`" in warnings[0]
        with pytest.raises(ServiceError, match="wal_level=replica .* takes effect only at a "
                                               "restart"):
            server.require_logical_replication()

        server.stop()
        with pytest.raises(ServiceError, match="is not running: run `condolake source start`"):
            server.require_logical_replication()
        new = SourceDatabase(server.start())
        assert replication_state(new) == (("logical", "10", "10", True), [("scram-sha-256",)])
        server.require_logical_replication()
