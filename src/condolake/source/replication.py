"""The PostgreSQL side of change data capture: what Debezium's pgoutput connector needs.

* `prepare_source` makes the four source tables send whole rows (REPLICA IDENTITY FULL: with
  DEFAULT an update of a row whose TOASTed value did not change sends a placeholder, and a
  delete sends only the key) and publishes exactly those tables, every operation included.
* `check_prerequisites` judges a source, embedded or external, item by item; each item not met
  carries the SQL that fixes it, and `format_report` prints them for `condolake cdc check`.
* `slot_health` (and `slot_healths` for the metrics) tell how much WAL a replication slot keeps
  on the server: a slot whose consumer is gone keeps every WAL segment until the disk fills.

The queries read the catalog into a `SourceState`; judging it (`judge`) is pure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from condolake.errors import CondoLakeError, SourceUnavailableError
from condolake.services.postgres import LOGICAL, REPLICATION_SETTINGS, SourceDatabase
from condolake.source.tables import SOURCE_TABLES

log = logging.getLogger(__name__)

SCHEMA = "public"
PLUGIN = "pgoutput"
OPERATIONS = ("insert", "update", "delete", "truncate")
FULL = "full"
# pg_class.relreplident
REPLICA_IDENTITIES = {"d": "default", "n": "nothing", "f": FULL, "i": "index"}
SUGGESTED_MAX = int(REPLICATION_SETTINGS["max_replication_slots"])
RESTART = " -- then restart PostgreSQL"
LOST = "lost"
FIX_INDENT = " " * 8
SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")

Connection = psycopg.Connection[TupleRow]


class SourceSetupError(CondoLakeError):
    """The source could not be prepared for change data capture (rights, missing tables)."""


@dataclass(frozen=True)
class Prerequisite:
    """One thing change data capture needs from the source; `fix` is the SQL (or config line)
    to run when it is not `ok`."""

    name: str
    ok: bool
    found: str
    fix: str | None


@dataclass(frozen=True)
class SlotHealth:
    """A replication slot as the server sees it; byte counts are None for a slot that lost its
    WAL (no restart LSN) or never confirmed a position."""

    slot: str
    active: bool
    wal_status: str | None  # reserved, extended, unreserved, lost
    retained_wal_bytes: int | None  # current WAL position minus the slot's restart_lsn
    confirmed_flush_lag_bytes: int | None  # current WAL position minus confirmed_flush_lsn


@dataclass(frozen=True)
class PublicationState:
    all_tables: bool
    tables: frozenset[str]  # "schema.table"
    operations: frozenset[str]
    # Tables published with a row filter or a column list (PostgreSQL 15+): their changes reach
    # Kafka incomplete, so the lake would silently diverge.
    filtered: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SlotState:
    plugin: str | None  # None for a physical slot
    database: str | None
    active: bool
    wal_status: str | None


@dataclass(frozen=True)
class SourceState:
    """What the catalog says about one source database, read by `read_state`."""

    database: str
    user: str
    wal_level: str
    max_replication_slots: int
    slots_used: int
    max_wal_senders: int
    senders_used: int
    replica_identity: Mapping[str, str | None]  # table -> REPLICA_IDENTITIES value; None: absent
    can_replicate: bool  # REPLICATION attribute or superuser
    publication: PublicationState | None
    slot: SlotState | None


# --- pure: names, SQL text and judgement ----------------------------------------------------


def table_names() -> list[str]:
    """The published tables, "public.<table>", in SOURCE_TABLES order."""
    return [f"{SCHEMA}.{table.name}" for table in SOURCE_TABLES]


def identifier(name: str) -> str:
    """A name given by the user (publication, role) as a quoted SQL identifier."""
    return sql.Identifier(name).as_string(None)


def quoted(name: str) -> str:
    """A name of the source schema as SQL text: bare when it is a plain lower-case name (the
    tables of SOURCE_TABLES), else quoted."""
    return name if SIMPLE_NAME.fullmatch(name) else identifier(name)


def replica_identity_sql(table: str) -> str:
    schema, name = table.split(".", 1)
    return f"ALTER TABLE {quoted(schema)}.{quoted(name)} REPLICA IDENTITY FULL;"


def _table_list() -> str:
    return ", ".join(f"{quoted(schema)}.{quoted(name)}"
                     for schema, name in (table.split(".", 1) for table in table_names()))


def create_publication_sql(publication: str) -> str:
    return (f"CREATE PUBLICATION {identifier(publication)} FOR TABLE {_table_list()} "
            f"WITH (publish = '{', '.join(OPERATIONS)}');")


def set_tables_sql(publication: str) -> str:
    return f"ALTER PUBLICATION {identifier(publication)} SET TABLE {_table_list()};"


def set_operations_sql(publication: str) -> str:
    return f"ALTER PUBLICATION {identifier(publication)} SET (publish = '{', '.join(OPERATIONS)}');"


def drop_publication_sql(publication: str) -> str:
    return f"DROP PUBLICATION {identifier(publication)};"


def drop_slot_sql(slot: str) -> str:
    return f"SELECT pg_drop_replication_slot({sql.Literal(slot).as_string(None)});"


def publication_fixes(publication: str, state: PublicationState | None) -> list[str]:
    """The statements that make `publication` cover exactly the four tables and every
    operation; none when it already does."""
    if state is None:
        return [create_publication_sql(publication)]
    if state.all_tables:  # FOR ALL TABLES cannot be narrowed with SET TABLE
        return [drop_publication_sql(publication), create_publication_sql(publication)]
    fixes = []
    if state.tables != frozenset(table_names()) or state.filtered:
        fixes.append(set_tables_sql(publication))  # SET TABLE also drops filters and lists
    if state.operations != frozenset(OPERATIONS):
        fixes.append(set_operations_sql(publication))
    return fixes


def _describe_publication(state: PublicationState | None) -> str:
    if state is None:
        return "absent"
    tables = "all tables" if state.all_tables else ", ".join(sorted(state.tables)) or "no table"
    operations = ", ".join(op for op in OPERATIONS if op in state.operations) or "nothing"
    filtered = (f"; row filter or column list on {', '.join(sorted(state.filtered))}"
                if state.filtered else "")
    return f"{tables}; publishes {operations}{filtered}"


def _capacity(name: str, used: int, maximum: int, own_slot_exists: bool) -> Prerequisite:
    ok = own_slot_exists or used < maximum
    fix = None if ok else f"ALTER SYSTEM SET {name} = {max(used + 1, SUGGESTED_MAX)};{RESTART}"
    return Prerequisite(name, ok, f"{used} of {maximum} in use", fix)


def _slot(slot: str, state: SlotState | None, database: str) -> Prerequisite:
    name = f"replication slot {slot}"
    if state is None:
        return Prerequisite(name, True, "absent (the connector creates it)", None)
    found = (f"{state.plugin or 'physical'} in database {state.database or '-'}, "
             f"{'active' if state.active else 'inactive'}, WAL {state.wal_status or 'unknown'}")
    ok = (state.plugin == PLUGIN and state.database == database
          and state.wal_status != LOST)
    fix = None if ok else (f"{drop_slot_sql(slot)} -- only when no other program uses it; "
                           "or configure another slot name")
    return Prerequisite(name, ok, found, fix)


def judge(state: SourceState, *, publication: str, slot: str) -> list[Prerequisite]:
    """One entry per prerequisite of the source described by `state`."""
    own_slot = state.slot is not None
    result = [
        Prerequisite("wal_level", state.wal_level == LOGICAL, state.wal_level,
                     None if state.wal_level == LOGICAL
                     else f"ALTER SYSTEM SET wal_level = {LOGICAL};{RESTART}"),
        _capacity("max_replication_slots", state.slots_used, state.max_replication_slots,
                  own_slot),
        # The connector's WAL sender runs only while it streams: its own slot being in use
        # does not free one.
        _capacity("max_wal_senders", state.senders_used, state.max_wal_senders, False),
    ]
    for table in table_names():
        identity = state.replica_identity.get(table)
        fix = replica_identity_sql(table)
        if identity is None:
            fix += " -- after creating the table (condolake source init)"
        result.append(Prerequisite(f"replica identity {table}", identity == FULL,
                                   identity or "table absent", None if identity == FULL else fix))
    fixes = publication_fixes(publication, state.publication)
    result.append(Prerequisite(f"publication {publication}", not fixes,
                               _describe_publication(state.publication),
                               "\n".join(fixes) or None))
    result.append(Prerequisite(
        "replication privilege", state.can_replicate,
        f"{state.user} {'may' if state.can_replicate else 'may not'} replicate",
        None if state.can_replicate else f"ALTER ROLE {identifier(state.user)} WITH REPLICATION;"))
    result.append(_slot(slot, state.slot, state.database))
    return result


def format_report(prerequisites: Sequence[Prerequisite]) -> str:
    """The report of `condolake cdc check`: one line per prerequisite, the fix of each one not
    met under it, and a closing line."""
    lines = []
    for item in prerequisites:
        lines.append(f"{'ok' if item.ok else 'not ok':<7} {item.name}: {item.found}")
        if not item.ok and item.fix:
            first, *more = item.fix.splitlines()
            lines.append(f"{FIX_INDENT}fix: {first}")
            lines.extend(f"{FIX_INDENT}     {line}" for line in more)
    missing = sum(1 for item in prerequisites if not item.ok)
    if missing:
        lines.append(f"{missing} of {len(prerequisites)} prerequisites not met: run the fixes "
                     "above as a superuser or the tables' owner")
    else:
        lines.append(f"all {len(prerequisites)} prerequisites met")
    return "\n".join(lines)


# --- reading the catalog --------------------------------------------------------------------

SETTINGS_SQL = ("SELECT current_database(), current_user, current_setting('wal_level'), "
                "current_setting('max_replication_slots')::int, "
                "(SELECT count(*) FROM pg_replication_slots)::int, "
                "current_setting('max_wal_senders')::int, "
                "(SELECT count(*) FROM pg_stat_replication)::int, "
                "(SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user)")
IDENTITY_SQL = ("SELECT n.nspname || '.' || c.relname, c.relreplident::text FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname || '.' || c.relname = ANY(%s) AND c.relkind IN ('r', 'p')")
PUBLICATION_SQL = ("SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate "
                   "FROM pg_publication WHERE pubname = %s")
# Through to_jsonb: `rowfilter` and `attnames` exist from PostgreSQL 15 only. A column list
# publishes fewer names than the table has (non-generated) columns.
PUBLICATION_TABLES_SQL = (
    "SELECT t.schemaname || '.' || t.tablename, to_jsonb(t) ->> 'rowfilter' IS NOT NULL "
    "OR coalesce(jsonb_array_length(to_jsonb(t) -> 'attnames') < (SELECT count(*) "
    "FROM pg_attribute a WHERE a.attrelid = format('%%I.%%I', t.schemaname, t.tablename)"
    "::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), false) "
    "FROM pg_publication_tables t WHERE t.pubname = %s"
)
SLOT_SQL = ("SELECT plugin, database, active, wal_status FROM pg_replication_slots "
            "WHERE slot_name = %s")
SLOT_HEALTH_SQL = (
    "SELECT slot_name, active, wal_status, "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
    "FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database() "
)


def replica_identities(conn: Connection) -> dict[str, str | None]:
    rows = conn.execute(IDENTITY_SQL, (table_names(),)).fetchall()
    found = {str(name): REPLICA_IDENTITIES.get(str(code), str(code)) for name, code in rows}
    return {table: found.get(table) for table in table_names()}


def publication_state(conn: Connection, publication: str) -> PublicationState | None:
    row = conn.execute(PUBLICATION_SQL, (publication,)).fetchone()
    if row is None:
        return None
    all_tables, *flags = row
    tables = conn.execute(PUBLICATION_TABLES_SQL, (publication,)).fetchall()
    return PublicationState(
        all_tables=bool(all_tables),
        tables=frozenset(str(name) for name, _ in tables),
        operations=frozenset(op for op, on in zip(OPERATIONS, flags, strict=True) if on),
        filtered=frozenset(str(name) for name, filtered in tables if filtered),
    )


def read_state(conn: Connection, *, publication: str, slot: str) -> SourceState:
    row = conn.execute(SETTINGS_SQL).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    database, user, wal_level, max_slots, slots, max_senders, senders, can_replicate = row
    slot_row = conn.execute(SLOT_SQL, (slot,)).fetchone()
    return SourceState(
        database=database, user=user, wal_level=wal_level, max_replication_slots=max_slots,
        slots_used=slots, max_wal_senders=max_senders, senders_used=senders,
        replica_identity=replica_identities(conn), can_replicate=bool(can_replicate),
        publication=publication_state(conn, publication),
        slot=None if slot_row is None else SlotState(*slot_row),
    )


def check_prerequisites(db: SourceDatabase, *, publication: str,
                        slot: str) -> list[Prerequisite]:
    """Each prerequisite of change data capture on `db`, ok or with its fix (read only)."""
    try:
        with db.connect(autocommit=True) as conn:
            state = read_state(conn, publication=publication, slot=slot)
    except psycopg.Error as error:
        raise SourceUnavailableError(f"the prerequisites of change data capture could not be "
                                     f"read from {db.redacted_url}: {error}") from error
    return judge(state, publication=publication, slot=slot)


def slot_healths(conn: Connection, slot: str | None = None) -> list[SlotHealth]:
    """The logical slots of the connected database (only `slot` when given), by name."""
    query = SLOT_HEALTH_SQL + ("AND slot_name = %s " if slot is not None else "")
    rows = conn.execute(query + "ORDER BY slot_name",
                        (slot,) if slot is not None else None).fetchall()
    return [SlotHealth(name, bool(active), status, retained, lag)
            for name, active, status, retained, lag in rows]


def slot_health(db: SourceDatabase, slot: str) -> SlotHealth | None:
    """The slot's health; None when no logical slot of that name is in `db`'s database."""
    try:
        with db.connect(autocommit=True) as conn:
            found = slot_healths(conn, slot)
    except psycopg.Error as error:
        raise SourceUnavailableError(f"replication slot {slot} could not be read from "
                                     f"{db.redacted_url}: {error}") from error
    return found[0] if found else None


# --- preparing the source -------------------------------------------------------------------


def setup_statements(state: SourceState, publication: str) -> list[str]:
    """The statements `prepare_source` runs on a source in `state` (none when it is ready)."""
    statements = [replica_identity_sql(table)
                  for table, identity in state.replica_identity.items() if identity != FULL]
    return statements + publication_fixes(publication, state.publication)


def prepare_source(db: SourceDatabase, *, publication: str) -> None:
    """REPLICA IDENTITY FULL on the four tables and `publication` for exactly them, in one
    transaction; runs nothing when both are already so. Needs the tables' owner (or a
    superuser), and CREATE on the database for a new publication."""
    user, statements = db.user or "the connecting role", list[str]()
    try:
        with db.connect() as conn:
            state = read_state(conn, publication=publication, slot="")
            user = state.user
            absent = [table for table, identity in state.replica_identity.items()
                      if identity is None]
            if absent:
                raise SourceSetupError(
                    f"{', '.join(absent)} not found in {db.redacted_url}: create the source "
                    "tables first (condolake source init)")
            statements = setup_statements(state, publication)
            for statement in statements:
                log.info(statement)
                conn.execute(statement.encode())
    except psycopg.errors.InsufficientPrivilege as error:
        raise SourceSetupError(
            f"{user} may not prepare {db.redacted_url} for change data capture "
            f"({str(error).strip()}): connect as the tables' owner or a superuser, or have "
            "them run:\n" + "\n".join(statements)) from error
    except psycopg.Error as error:
        raise SourceUnavailableError(f"{db.redacted_url} could not be prepared for change "
                                     f"data capture: {error}") from error
    if not statements:
        log.info(f"source already prepared for change data capture (publication "
                 f"{publication})")
