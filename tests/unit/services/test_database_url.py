"""SourceDatabase: the pieces of a PostgreSQL URL that psycopg, JDBC and Spark need."""

from __future__ import annotations

import pytest

from condolake.errors import ConfigError
from condolake.services.database_url import SourceDatabase


def test_url_parts_are_decoded() -> None:
    database = SourceDatabase(
        "postgresql://condo%40lake:p%3Ass%2Fw%40rd@db.example:6543/condo%20manage"
    )
    assert database.user == "condo@lake"
    assert database.password == "p:ss/w@rd"
    assert database.host == "db.example"
    assert database.port == 6543
    assert database.database == "condo manage"


def test_jdbc_url_has_no_credentials() -> None:
    database = SourceDatabase("postgresql://u:secret@127.0.0.1:5433/condomanage")
    assert database.jdbc_url == "jdbc:postgresql://127.0.0.1:5433/condomanage"


def test_defaults_for_port_and_ipv6_brackets() -> None:
    assert SourceDatabase("postgres://u@localhost/db").port == 5432
    assert (
        SourceDatabase("postgresql://u@[::1]:5444/db").jdbc_url == "jdbc:postgresql://[::1]:5444/db"
    )


def test_repr_and_redacted_url_hide_the_password() -> None:
    database = SourceDatabase("postgresql://u:secret@h:1/db")
    assert "secret" not in repr(database)
    assert database.redacted_url == "postgresql://u:***@h:1/db"


def test_with_database_keeps_server_and_credentials() -> None:
    other = SourceDatabase("postgresql://u:secret@h:1/db").with_database("test 1")
    assert (other.user, other.password, other.host, other.port) == ("u", "secret", "h", 1)
    assert other.database == "test 1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@h/db", "must start with postgresql://"),
        ("postgresql://u:p@h:notaport/db", "port"),
        ("postgresql://u:p@h:1", "names no database"),
    ],
)
def test_unusable_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        SourceDatabase(url)
    assert "p@" not in str(raised.value)
