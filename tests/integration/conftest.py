"""Fixtures for integration tests: real services on temporary folders.

Each block below belongs to one service; keep them self-contained.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg import sql

from condolake.services.postgres import EmbeddedPostgres, SourceDatabase

# --- Embedded PostgreSQL (condolake.services.postgres) -------------------------------------


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL server for the session, stopped at the end."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres-state"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres(postgres_server: EmbeddedPostgres) -> SourceDatabase:
    """The session server's database `condomanage`."""
    return SourceDatabase(postgres_server.url)


@contextmanager
def new_database(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A new, empty database on the session's server, dropped on exit (any fixture scope)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with postgres.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres.with_database(name)
    finally:
        with postgres.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def empty_database(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A new, empty database on the session's server, dropped after the test."""
    with new_database(postgres) as database:
        yield database


# --- end of embedded PostgreSQL ---------------------------------------------------------------
