"""Fixtures for integration tests: real services on temporary folders.

Each block below belongs to one service; keep them self-contained.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql

from condolake.services.postgres import EmbeddedPostgres, SourceDatabase

# --- Embedded PostgreSQL (condolake.services.postgres) -------------------------------------


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceDatabase]:
    """One embedded PostgreSQL for the session (database `condomanage`), stopped at the end."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres-state"))
    url = server.start()
    try:
        yield SourceDatabase(url)
    finally:
        server.stop()


@pytest.fixture
def empty_database(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A new, empty database on the session's server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with postgres.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres.with_database(name)
    finally:
        with postgres.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


# --- end of embedded PostgreSQL ---------------------------------------------------------------
