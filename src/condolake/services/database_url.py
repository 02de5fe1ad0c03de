"""A PostgreSQL connection URL and the pieces JDBC, psycopg and Spark need from it."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg.rows import TupleRow

from condolake.errors import ConfigError

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
DEFAULT_PORT = 5432
DEFAULT_HOST = "localhost"


@dataclass(frozen=True)
class SourceDatabase:
    """`postgresql://user:password@host:port/database`; user and password may be %-encoded."""

    url: str = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in POSTGRES_SCHEMES:
            raise ConfigError(
                f"source URL {self.redacted_url!r} must start with postgresql:// "
                f"(got scheme {parts.scheme!r})"
            )
        try:
            parts.port  # noqa: B018 - validates the port early, with a readable message
        except ValueError as error:
            raise ConfigError(f"source URL {self.redacted_url!r}: {error}") from None
        if not self.database:
            raise ConfigError(f"source URL {self.redacted_url!r} names no database")

    def __repr__(self) -> str:
        return f"SourceDatabase({self.redacted_url!r})"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or DEFAULT_HOST

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or DEFAULT_PORT

    @property
    def user(self) -> str | None:
        user = urlsplit(self.url).username
        return None if user is None else unquote(user)

    @property
    def password(self) -> str | None:
        password = urlsplit(self.url).password
        return None if password is None else unquote(password)

    @property
    def database(self) -> str:
        return unquote(urlsplit(self.url).path.lstrip("/"))

    @property
    def jdbc_url(self) -> str:
        """jdbc:postgresql://host:port/database (credentials go as separate JDBC options)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"jdbc:postgresql://{host}:{self.port}/{self.database}"

    def jdbc_credentials(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """`user` and `password` JDBC options, found as libpq finds them: the URL's, else
        `PGUSER` (else the login name) and `PGPASSWORD`. No password at all: none is passed, and
        the driver looks in `.pgpass` (`PGPASSFILE`) or the server trusts the connection."""
        env = os.environ if environ is None else environ
        credentials = {"user": self.user or env.get("PGUSER") or _login_name(self)}
        password = self.password if self.password is not None else env.get("PGPASSWORD")
        if password is not None:
            credentials["password"] = password
        return credentials

    @property
    def redacted_url(self) -> str:
        """The URL with the password replaced by ***, for messages and logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()

    def with_database(self, database: str) -> SourceDatabase:
        """The same server and credentials, another database."""
        parts = urlsplit(self.url)
        return SourceDatabase(parts._replace(path="/" + quote(database, safe="")).geturl())

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[TupleRow]:
        """A new psycopg connection; libpq reads the URL (percent-encoding included)."""
        return psycopg.connect(self.url, autocommit=autocommit)


def _login_name(db: SourceDatabase) -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError) as error:  # no USER/LOGNAME and no passwd entry for the uid
        raise ConfigError(f"source URL {db.redacted_url!r} names no user and the login name "
                          "is unknown: put the user in the URL or set PGUSER") from error
