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

from condolake.config import Settings
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.kafka_connect import LocalKafkaConnect
from condolake.services.postgres import EmbeddedPostgres, SourceDatabase
from condolake.source.connector import PASSWORD_VARIABLE

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


# --- Local Kafka broker (condolake.services.kafka) --------------------------------------------


@contextmanager
def running_kafka(prefix: str, jar_cache: Path) -> Iterator[LocalKafkaBroker]:
    """A Kafka broker of its own on a new folder, stopped and removed on exit."""
    with server_folder(prefix) as folder:
        broker = LocalKafkaBroker(folder, jar_cache)
        try:
            broker.start()
            yield broker
        finally:
            broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(base_settings: Settings) -> Iterator[LocalKafkaBroker]:
    """One local Kafka broker for the session (jars from the project's cache), stopped at
    the end. Tests share it: each one names its topics with `new_topic_prefix()`."""
    with running_kafka("kafka", base_settings.jar_cache_path) as broker:
        yield broker


def new_topic_prefix() -> str:
    """A topic name prefix no other test uses, e.g. `test-1a2b3c4d5e6f`."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic name prefix for one test."""
    return new_topic_prefix()


# --- end of local Kafka broker ----------------------------------------------------------------


# --- Kafka Connect worker (condolake.services.kafka_connect) ----------------------------------


@pytest.fixture(scope="session")
def kafka_connect(base_settings: Settings, postgres_server: EmbeddedPostgres,
                  kafka_broker: LocalKafkaBroker) -> Iterator[LocalKafkaConnect]:
    """One Kafka Connect worker (Debezium's PostgreSQL connector on its classpath) for the
    session, on the session's broker, with the session server's password in its environment;
    stopped at the end. Tests share it: each registers its own connector and slot (and removes
    them with `remove_connector`)."""
    password = SourceDatabase(postgres_server.url).password or ""
    with server_folder("connect") as folder:
        worker = LocalKafkaConnect(folder, base_settings.jar_cache_path)
        try:
            worker.start(kafka_broker.bootstrap, {PASSWORD_VARIABLE: password})
            yield worker
        finally:
            worker.stop()


# --- end of Kafka Connect worker --------------------------------------------------------------
