"""Baseline 2: DuckDB reads PostgreSQL, applies the silver rules in SQL and builds the 3 marts.

The SQL restates `transforms/silver/rules.py` for what the typed source can break (blank or
too long text after trimming every kind of white space, money <= 0, dates outside
1900-01-01..run date, references to rejected parents) and the gold contracts of
`transforms/gold/`. DuckDB cannot download extensions here: they come from the
`duckdb-extension-*` wheels and are loaded by path.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import duckdb

from benchmarks.model import GoldCheck
from condolake.services.duckdb_extensions import load_extensions, sql_string
from condolake.services.postgres import SourceDatabase
from condolake.transforms.gold import GOLD_MONEY_TYPE

# Spark's trimmed(): space, tab, line feed, carriage return, form feed, vertical tab.
WHITESPACE = "' ' || chr(9) || chr(10) || chr(13) || chr(12) || chr(11)"
EARLIEST_DATE = "DATE '1900-01-01'"


def _trimmed(column: str) -> str:
    return f"trim({column}, {WHITESPACE})"


def _text_ok(column: str, max_length: int | None = None) -> str:
    condition = f"{_trimmed(column)} <> ''"
    if max_length is not None:
        condition += f" AND length({_trimmed(column)}) <= {max_length}"
    return condition


def silver_statements(run_date: dt.date) -> list[str]:
    """Valid rows of each table into silver_<table>, parents first."""
    in_range = f"BETWEEN {EARLIEST_DATE} AND DATE '{run_date.isoformat()}'"
    return [
        "CREATE TABLE silver_condominios AS SELECT condominio_id, nome, endereco "
        "FROM pg.public.condominios "
        f"WHERE {_text_ok('nome', 255)} AND {_text_ok('endereco')}",
        "CREATE TABLE silver_moradores AS SELECT morador_id, nome, condominio_id, data_registro "
        f"FROM pg.public.moradores WHERE {_text_ok('nome', 255)} "
        f"AND data_registro {in_range} "
        "AND condominio_id IN (SELECT condominio_id FROM silver_condominios)",
        f"CREATE TABLE silver_imoveis AS SELECT imovel_id, lower({_trimmed('tipo')}) AS tipo, "
        f"condominio_id, valor FROM pg.public.imoveis WHERE {_text_ok('tipo', 50)} "
        "AND valor > 0 AND condominio_id IN (SELECT condominio_id FROM silver_condominios)",
        "CREATE TABLE silver_transacoes AS SELECT transacao_id, imovel_id, morador_id, "
        "data_transacao, valor_transacao FROM pg.public.transacoes "
        f"WHERE valor_transacao > 0 AND data_transacao {in_range} "
        "AND imovel_id IN (SELECT imovel_id FROM silver_imoveis) "
        "AND morador_id IN (SELECT morador_id FROM silver_moradores)",
    ]


GOLD_STATEMENTS = {
    "transacoes_por_condominio":
        "CREATE TABLE transacoes_por_condominio AS "
        "SELECT c.condominio_id, c.nome, count(t.transacao_id) AS quantidade_transacoes, "
        f"CAST(coalesce(sum(t.valor_transacao), 0) AS {GOLD_MONEY_TYPE}) AS valor_total "
        "FROM silver_condominios c "
        "LEFT JOIN silver_imoveis i ON i.condominio_id = c.condominio_id "
        "LEFT JOIN silver_transacoes t ON t.imovel_id = i.imovel_id "
        "GROUP BY c.condominio_id, c.nome",
    "transacoes_por_morador":
        "CREATE TABLE transacoes_por_morador AS "
        "SELECT m.morador_id, m.nome, m.condominio_id, "
        "count(t.transacao_id) AS quantidade_transacoes, "
        f"CAST(coalesce(sum(t.valor_transacao), 0) AS {GOLD_MONEY_TYPE}) AS valor_total "
        "FROM silver_moradores m LEFT JOIN silver_transacoes t ON t.morador_id = m.morador_id "
        "GROUP BY m.morador_id, m.nome, m.condominio_id",
    "transacoes_diarias_por_tipo":
        "CREATE TABLE transacoes_diarias_por_tipo AS "
        "SELECT t.data_transacao, i.tipo, count(*) AS quantidade_transacoes, "
        f"CAST(sum(t.valor_transacao) AS {GOLD_MONEY_TYPE}) AS valor_total "
        "FROM silver_transacoes t JOIN silver_imoveis i ON i.imovel_id = t.imovel_id "
        "GROUP BY t.data_transacao, i.tipo",
}


def conninfo(db: SourceDatabase) -> str:
    """libpq key=value connection string of `db`, every value quoted."""
    fields = {"host": db.host, "port": str(db.port), "dbname": db.database,
              "user": db.user, "password": db.password}

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{key}={quoted(value)}" for key, value in fields.items() if value)


def duckdb_gold(db: SourceDatabase, database_file: Path, extension_folder: Path,
                run_date: dt.date) -> float:
    """Seconds to open `database_file`, attach the source, build silver and gold, and close."""
    database_file.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = duckdb.connect(str(database_file))
    try:
        load_extensions(conn, extension_folder, ["postgres"])
        conn.execute(f"ATTACH {sql_string(conninfo(db))} AS pg (TYPE postgres, READ_ONLY)")
        for statement in [*silver_statements(run_date), *GOLD_STATEMENTS.values()]:
            conn.execute(statement)
        conn.execute("DETACH pg")
    finally:
        conn.close()
    return time.perf_counter() - started


def compare_gold(database_file: Path, extension_folder: Path,
                 spark_gold: dict[str, str]) -> list[GoldCheck]:
    """Each DuckDB mart against the Delta table Spark wrote (`spark_gold`: name -> path)."""
    conn = duckdb.connect(str(database_file), read_only=True)
    checks = []
    try:
        load_extensions(conn, extension_folder, ["delta"])
        for name, path in spark_gold.items():
            spark_rows = f"delta_scan({sql_string(path)})"
            counted = conn.execute(
                f"SELECT (SELECT count(*) FROM {name}), (SELECT count(*) FROM {spark_rows}), "
                f"(SELECT count(*) FROM (SELECT * FROM {name} EXCEPT ALL "
                f"SELECT * FROM {spark_rows})) + (SELECT count(*) FROM (SELECT * FROM "
                f"{spark_rows} EXCEPT ALL SELECT * FROM {name}))"
            ).fetchone()
            assert counted is not None
            checks.append(GoldCheck(name, int(counted[0]), int(counted[1]), int(counted[2])))
    finally:
        conn.close()
    return checks
