"""Fixtures for integration tests: real services on temporary folders.

Each block below belongs to one service; keep them self-contained.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from psycopg import sql

from condolake.services.postgres import EmbeddedPostgres, SourceDatabase

# --- Embedded PostgreSQL (condolake.services.postgres) -------------------------------------


@contextmanager
def server_folder(prefix: str) -> Iterator[Path]:
    """A folder for a server's state outside pytest's temp root.

    Every new pytest session makes its temp root private again (chmod go-rwx), which would
    cut the server's system user off from its data while another session still runs.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"condolake-test-{prefix}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def running_postgres(prefix: str) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL server of its own, stopped and removed on exit."""
    with server_folder(prefix) as folder:
        server = EmbeddedPostgres(folder)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL server for the session, stopped at the end."""
    with running_postgres("pg") as server:
        yield server


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
