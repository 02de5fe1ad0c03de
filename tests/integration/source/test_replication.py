"""Change-data-capture set-up on the embedded PostgreSQL: prerequisites, publication, slots."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from psycopg import sql
from tests.integration.conftest import new_database

from condolake.services.postgres import SourceDatabase
from condolake.source.ddl import init_schema
from condolake.source.replication import (
    SlotHealth,
    SourceSetupError,
    check_prerequisites,
    prepare_source,
    slot_health,
)

pytestmark = pytest.mark.integration

PUBLICATION = "condolake_cdc"
TABLES = ["public.condominios", "public.moradores", "public.imoveis", "public.transacoes"]
OPERATIONS = (True, True, True, True)
PUBLICATION_ROW_SQL = ("SELECT pubinsert, pubupdate, pubdelete, pubtruncate, puballtables "
                       "FROM pg_publication WHERE pubname = %s")
# xmin of the catalog rows prepare_source may write: unchanged when it wrote nothing.
CATALOG_XMINS_SQL = (
    "SELECT relname, xmin::text FROM pg_class WHERE relnamespace = 'public'::regnamespace "
    "AND relkind = 'r' UNION ALL SELECT pubname, xmin::text FROM pg_publication "
    "UNION ALL SELECT prrelid::regclass::text, xmin::text FROM pg_publication_rel ORDER BY 1"
)


@pytest.fixture
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A new database with the four (empty) source tables."""
    with new_database(postgres) as database:
        with database.connect() as conn:
            init_schema(conn)
        yield database


def published(db: SourceDatabase) -> list[str]:
    with db.connect() as conn:
        rows = conn.execute("SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                            "WHERE pubname = %s ORDER BY 1", (PUBLICATION,)).fetchall()
    return [name for (name,) in rows]


def identities(db: SourceDatabase) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute("SELECT relname, relreplident::text FROM pg_class WHERE "
                            "relnamespace = 'public'::regnamespace AND relkind = 'r'").fetchall()
    return dict(rows)


def test_a_fresh_source_lacks_exactly_identities_and_the_publication(
    source: SourceDatabase,
) -> None:
    result = check_prerequisites(source, publication=PUBLICATION, slot="condolake_slot")

    not_ok = {item.name: (item.found, item.fix) for item in result if not item.ok}
    assert not_ok == {
        **{f"replica identity {table}": (
            "default", f"ALTER TABLE {table} REPLICA IDENTITY FULL;") for table in TABLES},
        f"publication {PUBLICATION}": (
            "absent", f'CREATE PUBLICATION "{PUBLICATION}" FOR TABLE {", ".join(TABLES)} '
                      "WITH (publish = 'insert, update, delete, truncate');"),
    }
    ok = {item.name: item.found for item in result if item.ok}
    assert ok["wal_level"] == "logical"
    assert ok["replication privilege"] == "condolake may replicate"
    assert ok["replication slot condolake_slot"] == "absent (the connector creates it)"
    assert set(ok) == {"wal_level", "max_replication_slots", "max_wal_senders",
                       "replication privilege", "replication slot condolake_slot"}


def test_prepare_source_meets_every_prerequisite_and_twice_writes_nothing(
    source: SourceDatabase,
) -> None:
    prepare_source(source, publication=PUBLICATION)

    result = check_prerequisites(source, publication=PUBLICATION, slot="condolake_slot")
    assert [(item.name, item.fix) for item in result if not item.ok] == []
    assert identities(source) == dict.fromkeys(
        ["condominios", "moradores", "imoveis", "transacoes"], "f")
    assert published(source) == sorted(TABLES)
    with source.connect() as conn:
        assert conn.execute(PUBLICATION_ROW_SQL, (PUBLICATION,)).fetchall() == [
            (*OPERATIONS, False)]
        before = conn.execute(CATALOG_XMINS_SQL).fetchall()

    prepare_source(source, publication=PUBLICATION)

    with source.connect() as conn:
        assert conn.execute(CATALOG_XMINS_SQL).fetchall() == before


def test_a_publication_of_other_tables_and_operations_is_corrected(
    source: SourceDatabase,
) -> None:
    with source.connect() as conn:
        conn.execute("CREATE TABLE public.outra (id int PRIMARY KEY)")
        conn.execute(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE public.condominios, "
                     "public.outra WITH (publish = 'insert')")
    before = {item.name: item for item in
              check_prerequisites(source, publication=PUBLICATION, slot="s")}
    assert before[f"publication {PUBLICATION}"].found == (
        "public.condominios, public.outra; publishes insert")
    assert before[f"publication {PUBLICATION}"].fix == (
        f'ALTER PUBLICATION "{PUBLICATION}" SET TABLE {", ".join(TABLES)};\n'
        f"ALTER PUBLICATION \"{PUBLICATION}\" SET (publish = 'insert, update, delete, "
        "truncate');")

    prepare_source(source, publication=PUBLICATION)

    assert published(source) == sorted(TABLES)
    with source.connect() as conn:
        assert conn.execute(PUBLICATION_ROW_SQL, (PUBLICATION,)).fetchall() == [
            (*OPERATIONS, False)]
        assert conn.execute("SELECT relreplident::text FROM pg_class "
                            "WHERE oid = 'public.outra'::regclass").fetchone() == ("d",)


def test_a_publication_for_all_tables_is_replaced(source: SourceDatabase) -> None:
    with source.connect() as conn:
        conn.execute(f"CREATE PUBLICATION {PUBLICATION} FOR ALL TABLES")

    prepare_source(source, publication=PUBLICATION)

    assert published(source) == sorted(TABLES)
    with source.connect() as conn:
        assert conn.execute(PUBLICATION_ROW_SQL, (PUBLICATION,)).fetchall() == [
            (*OPERATIONS, False)]


def test_prepare_source_without_the_tables_says_to_create_them(
    empty_database: SourceDatabase,
) -> None:
    with pytest.raises(SourceSetupError, match=r"public\.condominios, public\.moradores, "
                                               r"public\.imoveis, public\.transacoes not "
                                               r"found in .*condolake source init"):
        prepare_source(empty_database, publication=PUBLICATION)


@contextmanager
def role_without_ownership(db: SourceDatabase) -> Iterator[SourceDatabase]:
    """`db` as a new login role that may read the tables but owns none of them."""
    name, password = f"reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    role = sql.Identifier(name)
    with db.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            role, sql.Literal(password)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
    parts = urlsplit(db.url)
    netloc = f"{name}:{password}@{parts.netloc.rpartition('@')[2]}"
    try:
        yield SourceDatabase(parts._replace(netloc=netloc).geturl())
    finally:
        with db.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def test_prepare_source_as_a_role_that_owns_nothing_names_the_sql_to_run(
    source: SourceDatabase,
) -> None:
    with role_without_ownership(source) as reader:
        assert reader.user != source.user
        with pytest.raises(SourceSetupError) as raised:
            prepare_source(reader, publication=PUBLICATION)
        message = str(raised.value)
        assert message.startswith(f"{reader.user} may not prepare ")
        assert "must be owner of table condominios" in message
        assert message.splitlines()[-5:] == [
            *(f"ALTER TABLE {table} REPLICA IDENTITY FULL;" for table in TABLES),
            f'CREATE PUBLICATION "{PUBLICATION}" FOR TABLE {", ".join(TABLES)} '
            "WITH (publish = 'insert, update, delete, truncate');",
        ]
        prerequisites = check_prerequisites(reader, publication=PUBLICATION, slot="s")
        privilege = next(i for i in prerequisites if i.name == "replication privilege")
        assert (privilege.ok, privilege.fix) == (
            False, f'ALTER ROLE "{reader.user}" WITH REPLICATION;')
    assert identities(source) == dict.fromkeys(
        ["condominios", "moradores", "imoveis", "transacoes"], "d")  # rolled back


@contextmanager
def logical_slot(db: SourceDatabase, slot: str) -> Iterator[None]:
    with db.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        yield
    finally:
        with db.connect(autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def write_rows(db: SourceDatabase, count: int) -> None:
    with db.connect() as conn:
        conn.execute("INSERT INTO condominios (nome, endereco) SELECT 'Condomínio ' || n, "
                     "'Rua ' || n FROM generate_series(1, %s) AS n", (count,))


def test_slot_health_reports_retained_wal_growing_with_writes(source: SourceDatabase) -> None:
    slot = f"test_slot_{uuid.uuid4().hex[:8]}"
    assert slot_health(source, slot) is None
    with logical_slot(source, slot):
        write_rows(source, 100)
        first = slot_health(source, slot)
        write_rows(source, 100)
        second = slot_health(source, slot)

        assert first is not None and second is not None
        assert (first.slot, first.active, first.wal_status) == (slot, False, "reserved")
        assert first.retained_wal_bytes is not None and first.retained_wal_bytes > 0
        assert second.retained_wal_bytes is not None
        assert second.retained_wal_bytes > first.retained_wal_bytes
        assert second.confirmed_flush_lag_bytes is not None
        assert second.confirmed_flush_lag_bytes > 0
        prerequisites = check_prerequisites(source, publication=PUBLICATION, slot=slot)
        found = next(i for i in prerequisites if i.name == f"replication slot {slot}")
        assert (found.ok, found.found) == (
            True, f"pgoutput in database {source.database}, inactive, WAL reserved")
    assert slot_health(source, slot) is None


def test_a_slot_of_another_database_is_not_ok(source: SourceDatabase,
                                              postgres: SourceDatabase) -> None:
    slot = f"test_slot_{uuid.uuid4().hex[:8]}"
    with logical_slot(postgres, slot):
        assert slot_health(source, slot) is None  # not a slot of this database
        assert isinstance(slot_health(postgres, slot), SlotHealth)
        prerequisites = check_prerequisites(source, publication=PUBLICATION, slot=slot)
        found = next(i for i in prerequisites if i.name == f"replication slot {slot}")
        assert (found.ok, found.found, found.fix) == (
            False, f"pgoutput in database {postgres.database}, inactive, WAL reserved",
            f"SELECT pg_drop_replication_slot('{slot}'); -- only when no other program uses "
            "it; or configure another slot name")


def test_a_row_filter_and_a_column_list_are_removed(source: SourceDatabase) -> None:
    with source.connect() as conn:
        conn.execute(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE public.condominios, "
                     "public.moradores (morador_id, nome), public.imoveis, "
                     "public.transacoes WHERE (valor_transacao > 100)")
    before = {item.name: item for item in
              check_prerequisites(source, publication=PUBLICATION, slot="s")}
    assert before[f"publication {PUBLICATION}"].found == (
        f"{', '.join(sorted(TABLES))}; publishes insert, update, delete, truncate; row filter "
        "or column list on public.moradores, public.transacoes")

    prepare_source(source, publication=PUBLICATION)

    with source.connect() as conn:
        rows = conn.execute(
            "SELECT tablename, attnames::text[], rowfilter FROM pg_publication_tables "
            "WHERE pubname = %s AND tablename IN ('moradores', 'transacoes') ORDER BY 1",
            (PUBLICATION,)).fetchall()
    assert rows == [
        ("moradores", ["morador_id", "nome", "condominio_id", "data_registro"], None),
        ("transacoes", ["transacao_id", "imovel_id", "morador_id", "data_transacao",
                        "valor_transacao"], None),
    ]
    after = check_prerequisites(source, publication=PUBLICATION, slot="s")
    assert [item.name for item in after if not item.ok] == []
