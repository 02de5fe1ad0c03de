"""init_schema on a real PostgreSQL: exactly the brief's DDL, idempotent, drop on request."""

from __future__ import annotations

import pytest

from condolake.errors import SourceUnavailableError
from condolake.services.postgres import SourceDatabase
from condolake.source.ddl import existing_tables, init_schema

pytestmark = pytest.mark.integration

# (table, column, data_type, character length, numeric precision, scale, nullable, default)
EXPECTED_COLUMNS = [
    ("condominios", "condominio_id", "integer", None, 32, 0, "NO", "serial"),
    ("condominios", "nome", "character varying", 255, None, None, "NO", None),
    ("condominios", "endereco", "text", None, None, None, "NO", None),
    ("imoveis", "imovel_id", "integer", None, 32, 0, "NO", "serial"),
    ("imoveis", "tipo", "character varying", 50, None, None, "NO", None),
    ("imoveis", "condominio_id", "integer", None, 32, 0, "NO", None),
    ("imoveis", "valor", "numeric", None, 15, 2, "NO", None),
    ("moradores", "morador_id", "integer", None, 32, 0, "NO", "serial"),
    ("moradores", "nome", "character varying", 255, None, None, "NO", None),
    ("moradores", "condominio_id", "integer", None, 32, 0, "NO", None),
    ("moradores", "data_registro", "date", None, None, None, "NO", None),
    ("transacoes", "transacao_id", "integer", None, 32, 0, "NO", "serial"),
    ("transacoes", "imovel_id", "integer", None, 32, 0, "NO", None),
    ("transacoes", "morador_id", "integer", None, 32, 0, "NO", None),
    ("transacoes", "data_transacao", "date", None, None, None, "NO", None),
    ("transacoes", "valor_transacao", "numeric", None, 15, 2, "NO", None),
]
EXPECTED_FOREIGN_KEYS = {
    ("imoveis", "condominio_id", "condominios", "condominio_id"),
    ("moradores", "condominio_id", "condominios", "condominio_id"),
    ("transacoes", "imovel_id", "imoveis", "imovel_id"),
    ("transacoes", "morador_id", "moradores", "morador_id"),
}

COLUMNS_QUERY = """
    SELECT table_name, column_name, data_type, character_maximum_length,
           numeric_precision, numeric_scale, is_nullable,
           CASE WHEN column_default LIKE 'nextval(%' THEN 'serial' END
    FROM information_schema.columns
    WHERE table_schema = 'public'
    ORDER BY table_name, ordinal_position
"""
FOREIGN_KEYS_QUERY = """
    SELECT child.relname, child_column.attname, parent.relname, parent_column.attname
    FROM pg_constraint c
    JOIN pg_class child ON child.oid = c.conrelid
    JOIN pg_class parent ON parent.oid = c.confrelid
    JOIN pg_attribute child_column
      ON child_column.attrelid = c.conrelid AND child_column.attnum = c.conkey[1]
    JOIN pg_attribute parent_column
      ON parent_column.attrelid = c.confrelid AND parent_column.attnum = c.confkey[1]
    WHERE c.contype = 'f'
"""
PRIMARY_KEYS_QUERY = """
    SELECT tc.table_name, kcu.column_name
    FROM information_schema.table_constraints tc
    JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
    WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'
"""


def test_init_schema_creates_exactly_the_four_tables_of_the_brief(
    empty_database: SourceDatabase,
) -> None:
    with empty_database.connect() as conn:
        init_schema(conn)
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        columns = conn.execute(COLUMNS_QUERY).fetchall()
        foreign_keys = set(conn.execute(FOREIGN_KEYS_QUERY).fetchall())
        primary_keys = set(conn.execute(PRIMARY_KEYS_QUERY).fetchall())
    assert sorted(name for (name,) in tables) == [
        "condominios",
        "imoveis",
        "moradores",
        "transacoes",
    ]
    assert columns == EXPECTED_COLUMNS
    assert foreign_keys == EXPECTED_FOREIGN_KEYS
    assert primary_keys == {
        ("condominios", "condominio_id"),
        ("imoveis", "imovel_id"),
        ("moradores", "morador_id"),
        ("transacoes", "transacao_id"),
    }


def test_init_schema_twice_keeps_the_tables_and_their_rows(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        init_schema(conn)
        conn.execute("INSERT INTO condominios (nome, endereco) VALUES ('Aurora', 'Rua A, 1')")
        init_schema(conn)
        assert conn.execute("SELECT nome FROM condominios").fetchall() == [("Aurora",)]


def test_drop_existing_recreates_empty_tables(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        init_schema(conn)
        conn.execute("INSERT INTO condominios (nome, endereco) VALUES ('Aurora', 'Rua A, 1')")
        conn.execute("CREATE VIEW nomes AS SELECT nome FROM condominios")
        init_schema(conn, drop_existing=True)
        assert conn.execute("SELECT count(*) FROM condominios").fetchone() == (0,)
        assert existing_tables(conn) == {"condominios", "moradores", "imoveis", "transacoes"}


def test_a_partial_schema_is_refused_rather_than_patched(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        init_schema(conn)
        conn.execute("DROP TABLE transacoes")
        conn.commit()
        with pytest.raises(SourceUnavailableError, match="missing: transacoes"):
            init_schema(conn)
        init_schema(conn, drop_existing=True)
        assert len(existing_tables(conn)) == 4
