"""CSV and API ingestion end to end: real files, a real HTTP API over a real PostgreSQL, real
Delta tables; in-process with the session's SparkSession, then through the command line."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_database
from tests.integration.pipelines.run_cli import run_condolake

from condolake.catalog import RUN_TABLES
from condolake.config import Settings
from condolake.errors import CondoLakeError
from condolake.ingestion.csv_reader import write_csv
from condolake.lake import delta
from condolake.layout import Layer, table_path
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.files import ingest_api, ingest_csv
from condolake.services.ports import free_port
from condolake.services.postgres import SourceDatabase
from condolake.source.api_server import FaultPlan, SourceApiServer
from condolake.source.ddl import init_schema
from condolake.source.tables import CONDOMINIOS, IMOVEIS, SourceTable

pytestmark = pytest.mark.integration

SOURCE_CONDOMINIOS = [
    (1, "Residencial Águas Claras", "Rua São João, 100"),
    (2, "Edifício Ipê Amarelo", "Avenida Paulista, 1500 - Bela Vista"),
    (3, "Condomínio Três Corações", "Praça da Sé, 7"),
]
SOURCE_IMOVEIS = [
    (1, "apartamento", 1, Decimal("1234567.89")),
    (2, "  Casa ", 1, Decimal("350000.00")),
    (3, "SALA COMERCIAL", 2, Decimal("0.10")),
    (4, "Salão de Festas", 3, Decimal("9999999999999.99")),
    (5, "Loja", 2, Decimal("1000.00")),
]
# What silver must hold: `tipo` trimmed and lower-cased, money exact.
SILVER_IMOVEIS = {
    (1, "apartamento", 1, Decimal("1234567.89")),
    (2, "casa", 1, Decimal("350000.00")),
    (3, "sala comercial", 2, Decimal("0.10")),
    (4, "salão de festas", 3, Decimal("9999999999999.99")),
    (5, "loja", 2, Decimal("1000.00")),
}
# Lines 3, 4 and 6 have the wrong number of fields (the header is line 1).
CONDOMINIOS_WITH_BAD_LINES = """condominio_id,nome,endereco
1,Residencial Aurora,"Rua das Flores, 100"
2,Edifício Sol
3,Condomínio Lua,Rua A,sobrou um campo
4,Vila Verde,Rua B
5
6,Jardim Botânico,Rua C
"""
BAD_LINES = {3, 4, 6}
IMOVEIS_WITH_BAD_LINES = """imovel_id;tipo;condominio_id;valor
1;apartamento;1;1.234,56
2;casa;1
3;loja;2;99,90
4;sala;1;10,00;extra
"""
IMOVEIS_BAD_LINES = (3, 5)
CONDOMINIOS_WITH_A_REPEATED_KEY = """condominio_id,nome,endereco
1,Aurora,Rua A
2,Sol,Rua B
1,Aurora Nova,Rua A 2
"""


@pytest.fixture(scope="module")
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A source with a few hand-written rows (accents, money at both ends of numeric(15,2))."""
    with new_database(postgres) as database:
        with database.connect() as conn:
            init_schema(conn)
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO condominios VALUES (%s, %s, %s)",
                                   SOURCE_CONDOMINIOS)
                cursor.executemany("INSERT INTO imoveis VALUES (%s, %s, %s, %s)", SOURCE_IMOVEIS)
        yield database


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    return base_settings.with_(lake_root=str(tmp_path / "lake"), api_backoff_s=0.01)


def export(db: SourceDatabase, table: SourceTable, path: Path, **csv_format: str) -> Path:
    """The table as `condolake source export-csv` writes it."""
    with db.connect() as conn:
        cursor = conn.execute(
            f"SELECT {', '.join(table.column_names)} FROM {table.name} "  # noqa: S608
            f"ORDER BY {table.primary_key}"
        )
        write_csv(path, table, (dict(zip(table.column_names, row, strict=True))
                                for row in cursor), **csv_format)
    return path


def lake_rows(spark: SparkSession, settings: Settings, layer: Layer, table: str,
              *columns: str) -> set[tuple[Any, ...]]:
    frame = spark.read.format("delta").load(table_path(settings.lake_path, layer, table))
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row)
            for row in frame.select(*(columns or frame.columns)).collect()}


def run_counts(spark: SparkSession, settings: Settings, run: RunRecord) -> dict[str, Any]:
    rows = (spark.read.format("delta").load(table_path(settings.lake_path, Layer.OPS, RUN_TABLES))
            .where(F.col("run_id") == run.run_id).collect())
    assert len(rows) == 1, rows
    counts: dict[str, Any] = rows[0].asDict()
    assert counts["rows_read"] == (counts["rows_valid"] + counts["rows_quarantined"]
                                   + counts["rows_duplicate"]), counts
    return counts


def table_state(spark: SparkSession, settings: Settings, table: str) -> dict[Layer, Any]:
    """Version and rows of bronze, silver and quarantine of `table` (None when absent)."""
    state: dict[Layer, Any] = {}
    for layer in (Layer.BRONZE, Layer.SILVER, Layer.QUARANTINE):
        path = table_path(settings.lake_path, layer, table)
        version = delta.version(spark, path)
        rows = None if version is None else {
            tuple(str(value) for value in row)
            for row in spark.read.format("delta").load(path).collect()}
        state[layer] = (version, rows)
    return state


# --- CSV ---------------------------------------------------------------------------------------


def test_latin1_semicolon_brazilian_money_csv_lands_exactly(
    spark: SparkSession, settings: Settings, source: SourceDatabase, tmp_path: Path
) -> None:
    condominios = export(source, CONDOMINIOS, tmp_path / "condominios.csv", encoding="latin-1")
    imoveis = export(source, IMOVEIS, tmp_path / "imoveis.csv", delimiter=";",
                     encoding="latin-1", decimal=",")
    # The files really are what the test claims: Latin-1 bytes, Brazilian money.
    assert "Águas".encode("latin-1") in condominios.read_bytes()
    assert ";1.234.567,89\n" in imoveis.read_text(encoding="latin-1")

    # Parents first: the properties' condominio_id must resolve against valid silver rows.
    ingest_csv(spark, settings, condominios, "condominios")
    run = ingest_csv(spark, settings, imoveis, "imoveis")

    assert lake_rows(spark, settings, Layer.SILVER, "condominios",
                     *CONDOMINIOS.column_names) == set(SOURCE_CONDOMINIOS)
    assert lake_rows(spark, settings, Layer.SILVER, "imoveis",
                     *IMOVEIS.column_names) == SILVER_IMOVEIS
    assert lake_rows(spark, settings, Layer.SILVER, "imoveis", "_source") == {
        ("csv:imoveis.csv",)}
    counts = run_counts(spark, settings, run)
    assert (counts["rows_read"], counts["rows_valid"]) == (len(SOURCE_IMOVEIS),) * 2


def test_malformed_lines_are_quarantined_with_their_line_numbers(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "condominios_bad.csv"
    path.write_text(CONDOMINIOS_WITH_BAD_LINES, encoding="utf-8")

    run = ingest_csv(spark, settings, path, "condominios")

    assert lake_rows(spark, settings, Layer.SILVER, "condominios", *CONDOMINIOS.column_names) == {
        (1, "Residencial Aurora", "Rua das Flores, 100"),
        (4, "Vila Verde", "Rua B"),
        (6, "Jardim Botânico", "Rua C"),
    }
    quarantined = lake_rows(spark, settings, Layer.QUARANTINE, "condominios",
                            "_source_position", "_reasons", "_source")
    assert quarantined == {
        (line, ("malformed_row",), "csv:condominios_bad.csv") for line in BAD_LINES}
    counts = run_counts(spark, settings, run)
    assert (counts["rows_read"], counts["rows_valid"], counts["rows_quarantined"],
            counts["rows_duplicate"]) == (6, 3, 3, 0)


def test_a_key_repeated_in_one_file_keeps_the_later_line(
    spark: SparkSession, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "condominios.csv"
    path.write_text(CONDOMINIOS_WITH_A_REPEATED_KEY, encoding="utf-8")

    run = ingest_csv(spark, settings, path, "condominios")

    assert lake_rows(spark, settings, Layer.SILVER, "condominios",
                     *CONDOMINIOS.column_names, "_source_position") == {
        (1, "Aurora Nova", "Rua A 2", 4), (2, "Sol", "Rua B", 3)}
    counts = run_counts(spark, settings, run)
    assert (counts["rows_read"], counts["rows_valid"], counts["rows_quarantined"],
            counts["rows_duplicate"]) == (3, 2, 0, 1)


# --- API ---------------------------------------------------------------------------------------


def test_api_ingest_survives_throttling_an_error_and_a_slow_page(
    spark: SparkSession, settings: Settings, source: SourceDatabase
) -> None:
    faults = FaultPlan()
    faults.fail_next(429, times=2)
    faults.fail_next(500)
    faults.slow_page(2, 1.0)
    # A timeout far above the slow page: a busy machine must not turn it into a retry.
    patient = settings.with_(api_timeout_s=60.0)
    with SourceApiServer(source.url, faults=faults) as api:
        url = api.url
        ingest_api(spark, patient, url, "condominios", page_size=2)
        requests = api.requests

    # Page 1 took four attempts (429, 429, 500, then the page), page 2 one slow one.
    assert [request.split("?")[1] for request in requests] == [
        "page_size=2"] * 4 + ["page_size=2&page=2"]
    assert lake_rows(spark, settings, Layer.SILVER, "condominios",
                     *CONDOMINIOS.column_names) == set(SOURCE_CONDOMINIOS)
    assert lake_rows(spark, settings, Layer.SILVER, "condominios", "_source") == {
        (f"api:{url}/condominios",)}


def test_api_that_stays_down_fails_readably_and_changes_nothing(
    spark: SparkSession, settings: Settings, source: SourceDatabase, tmp_path: Path
) -> None:
    # A lake that already has bronze, silver and quarantine for the table.
    path = tmp_path / "condominios_bad.csv"
    path.write_text(CONDOMINIOS_WITH_BAD_LINES, encoding="utf-8")
    ingest_csv(spark, settings, path, "condominios")
    before = table_state(spark, settings, "condominios")
    assert all(version is not None for version, _ in before.values()), before

    faults = FaultPlan()
    faults.always_fail(500)
    with SourceApiServer(source.url, faults=faults) as api:
        url = api.url
        with pytest.raises(CondoLakeError) as failure:
            ingest_api(spark, settings, url, "condominios", page_size=2)
        attempts = len(api.requests)

    assert f"{url}/condominios" in str(failure.value)
    assert attempts == settings.api_retries
    assert table_state(spark, settings, "condominios") == before
    failed = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.OPS, "runs")).where("status = 'failed'").collect()
    assert [(run["job"], f"{url}/condominios" in run["error"]) for run in failed] == [
        ("ingest_api", True)]


# --- command line ------------------------------------------------------------------------------


def cli_settings(base_settings: Settings, folder: Path) -> dict[str, str]:
    return {
        "lake_root": str(folder / "lake"),
        "state_dir": str(folder / "state"),
        "jar_cache": str(base_settings.jar_cache_path),
        "spark_master": "local[1]",
        "spark_driver_memory": "1g",
    }


def test_cli_csv_ingest_reports_the_malformed_lines(
    base_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "imoveis_bad.csv"
    path.write_text(IMOVEIS_WITH_BAD_LINES, encoding="utf-8")

    done = run_condolake(["ingest", "csv", str(path), "--table", "imoveis"], cwd=tmp_path,
                         settings=cli_settings(base_settings, tmp_path))

    assert done.returncode == 0, done.stderr
    # Rich wraps long lines to the terminal width: compare with the white space folded.
    output = " ".join(done.stderr.split())
    for line in IMOVEIS_BAD_LINES:
        assert f"{path.name} line {line}: malformed_row" in output, done.stderr


def test_cli_api_down_exits_1_with_a_readable_error(
    base_settings: Settings, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    done = run_condolake(["ingest", "api", url, "--table", "condominios"], cwd=tmp_path,
                         settings={**cli_settings(base_settings, tmp_path), "api_retries": "2",
                                   "api_backoff_s": "0.01"})

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    message = done.stderr[done.stderr.index("condolake: error:"):]
    assert f"{url}/condominios" in " ".join(message.split()), done.stderr
    assert "\n\n" not in message.strip(), message
