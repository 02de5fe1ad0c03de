"""The synthetic data generator against a real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from condolake.errors import InputError
from condolake.services.postgres import SourceDatabase
from condolake.source import generator
from condolake.source.fake_data import PROPERTY_TYPES
from condolake.source.generator import GenerationReport, append_transactions, generate
from condolake.source.tables import SOURCE_TABLES

pytestmark = pytest.mark.integration

Connection = psycopg.Connection[Any]

TODAY = date(2026, 3, 15)
TABLE_ORDER = ("condominios", "moradores", "imoveis", "transacoes")

# The validation rules, in SQL, with %(today)s for the day of generation.
INVALID_WHERE = {
    "condominios": r"nome ~ '^\s*$' OR endereco ~ '^\s*$'",
    "moradores": r"nome ~ '^\s*$' OR data_registro >= %(today)s::date + 30"
    " OR data_registro < DATE '1900-01-01'",
    "imoveis": r"tipo ~ '^\s*$' OR valor <= 0",
    "transacoes": "valor_transacao <= 0 OR data_transacao >= %(today)s::date + 30"
    " OR data_transacao < DATE '1900-01-01'",
}
DATE_COLUMNS = {"moradores": "data_registro", "transacoes": "data_transacao"}
ODD_TIPO_WHERE = r"tipo !~ '^\s*$' AND tipo <> lower(btrim(tipo))"


def test_scale_one_hundredth_gives_exact_counts(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        report = generate(conn, scale=0.01, seed=3, today=TODAY)
        counts = {table: _count(conn, table) for table in TABLE_ORDER}
    expected = {"condominios": 1, "moradores": 200, "imoveis": 300, "transacoes": 10_000}
    assert report.rows == expected
    assert counts == expected
    assert report.invalid == dict.fromkeys(TABLE_ORDER, 0)
    assert report.tipo_variants == 0


def test_the_same_seed_gives_the_same_content(postgres: SourceDatabase) -> None:
    first, second, other = (_fresh(postgres, f"gen_seed_{n}") for n in range(3))
    try:
        fingerprints = []
        for database, seed in ((first, 11), (second, 11), (other, 12)):
            with database.connect() as conn:
                generate(conn, scale=0.01, seed=seed, invalid_share=0.02, today=TODAY)
                fingerprints.append(_fingerprint(conn))
    finally:
        for database in (first, second, other):
            _drop(postgres, database.database)
    assert fingerprints[0] == fingerprints[1]
    assert fingerprints[0] != fingerprints[2]


def test_injected_invalid_rows_are_exactly_those_breaking_the_rules(
    empty_database: SourceDatabase,
) -> None:
    with empty_database.connect() as conn:
        report = generate(conn, scale=0.05, seed=5, invalid_share=0.2, today=TODAY)
        found = {table: _count(conn, table, INVALID_WHERE[table]) for table in TABLE_ORDER}
        odd_tipos = _count(conn, "imoveis", ODD_TIPO_WHERE)
        normalised = conn.execute(
            r"SELECT DISTINCT lower(btrim(tipo)) FROM imoveis WHERE tipo !~ '^\s*$'"
        ).fetchall()
        late_valid_dates = {
            table: _count(
                conn,
                table,
                f"NOT ({INVALID_WHERE[table]}) AND {column} >= %(today)s::date - 1",
            )
            for table, column in DATE_COLUMNS.items()
        }
    assert report.invalid == {
        "condominios": 1,
        "moradores": 200,
        "imoveis": 300,
        "transacoes": 10_000,
    }
    assert found == report.invalid
    assert odd_tipos == report.tipo_variants == 300
    assert {tipo for (tipo,) in normalised} <= {kind.tipo for kind in PROPERTY_TYPES}
    assert late_valid_dates == {"moradores": 0, "transacoes": 0}


def test_without_invalid_share_every_row_is_valid(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        generate(conn, scale=0.02, seed=8, today=TODAY)
        found = {table: _count(conn, table, INVALID_WHERE[table]) for table in TABLE_ORDER}
        odd_tipos = _count(conn, "imoveis", ODD_TIPO_WHERE)
    assert found == dict.fromkeys(TABLE_ORDER, 0)
    assert odd_tipos == 0


def test_values_are_realistic_per_property_type(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        generate(conn, scale=0.05, seed=9, today=TODAY)
        ranges = conn.execute("SELECT tipo, min(valor), max(valor) FROM imoveis GROUP BY tipo")
        by_tipo = {tipo: (low, high) for tipo, low, high in ranges.fetchall()}
        amounts = conn.execute(
            "SELECT min(valor_transacao), min(data_transacao), max(data_transacao),"
            " percentile_disc(0.5) WITHIN GROUP (ORDER BY valor_transacao) FROM transacoes"
        ).fetchone()
    for kind in PROPERTY_TYPES:
        low, high = by_tipo[kind.tipo]
        assert Decimal(kind.min_reais) <= low <= high <= Decimal(kind.max_reais), kind.tipo
    assert amounts is not None
    lowest, first_day, last_day, median = amounts
    assert lowest == Decimal("150.00")
    assert last_day <= TODAY - timedelta(days=30)
    assert first_day.year <= TODAY.year - 4
    assert Decimal("150.00") < median < Decimal("25000.00")


def test_sequences_continue_after_the_generated_ids(empty_database: SourceDatabase) -> None:
    with empty_database.connect() as conn:
        report = generate(conn, scale=0.01, seed=4, today=TODAY)
        new_condominio = conn.execute(
            "INSERT INTO condominios (nome, endereco) VALUES ('Novo', 'Rua B, 2')"
            " RETURNING condominio_id"
        ).fetchone()
        next_ids = {
            table.name: conn.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s))",
                (table.name, table.primary_key),
            ).fetchone()
            for table in SOURCE_TABLES
        }
    assert new_condominio == (report.rows["condominios"] + 1,)
    assert next_ids == {
        "condominios": (report.rows["condominios"] + 2,),
        "moradores": (report.rows["moradores"] + 1,),
        "imoveis": (report.rows["imoveis"] + 1,),
        "transacoes": (report.rows["transacoes"] + 1,),
    }


def test_generate_refuses_filled_tables_unless_told_to_replace(
    empty_database: SourceDatabase,
) -> None:
    with empty_database.connect() as conn:
        generate(conn, scale=0.01, seed=1, today=TODAY)
        with pytest.raises(InputError, match="already hold rows"):
            generate(conn, scale=0.01, seed=1, today=TODAY)
        report = generate(conn, scale=0.02, seed=1, today=TODAY, replace=True)
        assert _count(conn, "transacoes") == report.rows["transacoes"] == 20_000


def test_append_transactions_adds_exactly_n_valid_rows_after_the_max_id(
    empty_database: SourceDatabase,
) -> None:
    with empty_database.connect() as conn:
        report: GenerationReport = generate(
            conn, scale=0.01, seed=6, invalid_share=0.02, today=TODAY
        )
        first_id, last_id = append_transactions(conn, count=250, seed=99, today=TODAY)
        new_rows = conn.execute(
            "SELECT count(*), min(transacao_id), max(transacao_id),"
            " count(*) FILTER (WHERE " + INVALID_WHERE["transacoes"] + "),"
            " min(data_transacao), max(data_transacao)"
            " FROM transacoes WHERE transacao_id > %(last)s",
            {"today": TODAY, "last": report.rows["transacoes"]},
        ).fetchone()
        total = _count(conn, "transacoes")
        next_id = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('transacoes', 'transacao_id'))"
        ).fetchone()
    assert (first_id, last_id) == (10_001, 10_250)
    assert new_rows == (250, 10_001, 10_250, 0, TODAY - timedelta(days=29), TODAY - timedelta(2))
    assert total == 10_250
    assert next_id == (10_251,)


def _count(conn: Connection, table: str, where: str = "TRUE") -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(table))
    row = conn.execute(query + sql.SQL(where), {"today": TODAY}).fetchone()
    assert row is not None
    return int(row[0])


def _fingerprint(conn: Connection) -> dict[str, tuple[object, ...]]:
    """Per table: row count and md5 of all rows in id order; plus the exact money total."""
    result: dict[str, tuple[object, ...]] = {}
    for table in SOURCE_TABLES:
        query = sql.SQL(
            "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t"
        ).format(key=sql.Identifier(table.primary_key), table=sql.Identifier(table.name))
        result[table.name] = tuple(conn.execute(query).fetchone() or ())
    total = conn.execute("SELECT sum(valor_transacao) FROM transacoes").fetchone()
    result["sum_valor_transacao"] = tuple(total or ())
    return result


def _fresh(postgres: SourceDatabase, name: str) -> SourceDatabase:
    with postgres.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return postgres.with_database(name)


def _drop(postgres: SourceDatabase, name: str) -> None:
    with postgres.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_generate_leaves_fk_triggers_on_for_the_rest_of_the_transaction(
    empty_database: SourceDatabase,
) -> None:
    with empty_database.connect() as conn:
        conn.execute("SELECT 1")  # an open transaction: generate runs in a savepoint
        generate(conn, scale=0.01, seed=2, today=TODAY)
        role = conn.execute("SHOW session_replication_role").fetchone()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO moradores VALUES (999999, 'Órfão', 424242, '2020-01-01')")
    assert role == ("origin",)


def test_a_role_without_superuser_still_loads_with_fk_checks(
    postgres: SourceDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=generator.__name__)
    name, password = "gen_loader", "l0ader-Senha"
    with postgres.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(name)
            )
        )
    loader = SourceDatabase(
        f"postgresql://{name}:{password}@{postgres.host}:{postgres.port}/{name}"
    )
    try:
        with loader.connect() as conn:
            report = generate(conn, scale=0.01, seed=3, today=TODAY)
            assert _count(conn, "transacoes") == report.rows["transacoes"]
    finally:
        _drop(postgres, name)
        with postgres.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
    assert any("no privilege to skip FK triggers" in message for message in caplog.messages)
