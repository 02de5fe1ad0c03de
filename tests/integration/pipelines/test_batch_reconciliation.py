"""The batch pipeline against a real PostgreSQL, reconciled with SQL run in the source itself.

One scenario, in order: first load with invalid rows -> re-run with no change (no commit to
any table but the run log) -> 1% new
transactions -> a parent fixed at the source releases its orphans from quarantine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_database
from tests.integration.pipelines.reconcile import expected_gold, expected_valid_counts

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.lake import delta
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import append_transactions, generate
from condolake.source.tables import SOURCE_TABLES

SCALE = 0.02  # 2 condominios, 400 moradores, 600 imoveis, 20 000 transacoes
SEED = 20261125
INVALID_SHARE = 0.03
SPOILED_CONDOMINIO = 2


def run_date(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def hashable(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def rows(spark: SparkSession, lake: str, layer: Layer, table: str) -> set[tuple[object, ...]]:
    return {tuple(hashable(v) for v in row) for row in spark.read.format("delta").load(
        table_path(lake, layer, table)).collect()}


def count(spark: SparkSession, lake: str, layer: Layer, table: str, where: str = "true") -> int:
    return spark.read.format("delta").load(table_path(lake, layer, table)).where(where).count()


def versions(spark: SparkSession, lake: str) -> dict[str, int | None]:
    """The Delta version of every bronze, silver, quarantine and gold table."""
    paths = [table_path(lake, layer, t.name) for layer in
             (Layer.BRONZE, Layer.SILVER, Layer.QUARANTINE) for t in SOURCE_TABLES]
    paths += [table_path(lake, Layer.GOLD, name) for name in MART_NAMES]
    return {path: delta.version(spark, path) for path in paths}


def gold(spark: SparkSession, lake: str) -> dict[str, set[tuple[object, ...]]]:
    return {name: rows(spark, lake, Layer.GOLD, name) for name in MART_NAMES}


@pytest.fixture(scope="module")
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=INVALID_SHARE)
            # A whole condominium turns invalid: its residents and properties become orphans,
            # and so do the transactions that reference them.
            conn.execute("UPDATE condominios SET nome = '   ' WHERE condominio_id = %s",
                         (SPOILED_CONDOMINIO,))
        yield database


@pytest.fixture(scope="module")
def settings(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    lake = tmp_path_factory.mktemp("reconciliation-lake")
    return base_settings.with_(lake_root=str(lake))


@pytest.fixture(scope="module")
def first_run(spark: SparkSession, settings: Settings, source: SourceDatabase) -> Iterator[None]:
    batch(spark, settings, source)
    yield


@pytest.mark.integration
class TestBatchScenario:
    def test_gold_equals_postgres_sql_over_valid_rows_to_the_cent(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        expected = expected_gold(source, run_date(settings))
        actual = gold(spark, settings.lake_path)
        for name in MART_NAMES:
            assert actual[name] == expected[name], name
        money = [row[-1] for table in actual.values() for row in table]
        assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in money)
        # The spoiled condominium is out of gold, and so is everything hanging from it.
        assert SPOILED_CONDOMINIO not in {row[0] for row in actual["transacoes_por_condominio"]}

    def test_silver_holds_exactly_the_valid_rows(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        valid = expected_valid_counts(source, run_date(settings))
        for table in SOURCE_TABLES:
            assert count(spark, settings.lake_path, Layer.SILVER, table.name) == valid[table.name]

    def test_bronze_equals_silver_plus_quarantine_plus_duplicates(
        self, spark: SparkSession, settings: Settings, first_run: None
    ) -> None:
        lake = settings.lake_path
        runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "run_tables"))
        for table in SOURCE_TABLES:
            bronze = count(spark, lake, Layer.BRONZE, table.name)
            silver = count(spark, lake, Layer.SILVER, table.name)
            quarantined = count(spark, lake, Layer.QUARANTINE, table.name)
            duplicates = runs.where(F.col("table") == table.name).agg(
                F.sum("rows_duplicate")).collect()[0][0]
            assert bronze == silver + quarantined + duplicates, table.name
            assert quarantined > 0, f"{table.name}: the scenario should quarantine something"

    def test_quarantine_says_why(
        self, spark: SparkSession, settings: Settings, first_run: None
    ) -> None:
        reasons = {
            reason
            for table in SOURCE_TABLES
            for (reason,) in spark.read.format("delta")
            .load(table_path(settings.lake_path, Layer.QUARANTINE, table.name))
            .select(F.explode("_reasons")).distinct().collect()
        }
        assert {
            "nome_blank", "data_registro_out_of_range", "orphan_condominio", "valor_not_positive",
            "tipo_blank", "valor_transacao_not_positive", "data_transacao_out_of_range",
            "orphan_imovel", "orphan_morador",
        } <= reasons

    def test_run_log_records_conserved_counts(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        runs = spark.read.format("delta").load(
            table_path(settings.lake_path, Layer.OPS, "runs")).collect()
        assert [(r["job"], r["status"], r["conserved"]) for r in runs] == [
            ("batch", "succeeded", True)]
        with source.connect() as conn:
            source_rows = sum(
                conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]  # type: ignore[index]
                for t in SOURCE_TABLES
            )
        run = runs[0]
        assert run["rows_read"] == source_rows
        assert run["rows_read"] == (run["rows_valid"] + run["rows_quarantined"]
                                    + run["rows_duplicate"])

    def test_rerun_without_source_change_commits_nothing(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        lake = settings.lake_path
        before = {
            (layer, t.name): rows(spark, lake, layer, t.name)
            for layer in (Layer.SILVER, Layer.QUARANTINE) for t in SOURCE_TABLES
        }
        gold_before = gold(spark, lake)
        versions_before = versions(spark, lake)
        rerun = batch(spark, settings, source)
        assert rerun.status == "succeeded"
        assert versions(spark, lake) == versions_before
        after = {key: rows(spark, lake, *key) for key in before}
        assert after == before
        assert gold(spark, lake) == gold_before
        # Unchanged snapshots are not even read; no transaction lies above the mark.
        assert {t.table: t.rows_read for t in rerun.tables} == dict.fromkeys(
            (t.name for t in SOURCE_TABLES), 0)

    def test_new_transactions_are_read_incrementally_and_gold_follows(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        with source.connect() as conn:
            (high_water,) = conn.execute("SELECT max(transacao_id) FROM transacoes").fetchone()
            first, last = append_transactions(conn, count=200, seed=SEED + 1)
        assert (first, last) == (high_water + 1, high_water + 200)
        run = batch(spark, settings, source)
        transacoes = next(t for t in run.tables if t.table == "transacoes")
        assert (transacoes.rows_read, transacoes.watermark_from, transacoes.watermark_to) == (
            200, high_water, last)
        assert gold(spark, settings.lake_path) == expected_gold(source, run_date(settings))

    def test_orphans_are_reprocessed_when_their_parent_becomes_valid(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        lake = settings.lake_path
        waiting = count(spark, lake, Layer.QUARANTINE, "transacoes",
                        "_resolved_run_id IS NULL AND array_contains(_reasons, 'orphan_imovel')")
        assert waiting > 0
        with source.connect() as conn:
            conn.execute("UPDATE condominios SET nome = 'Condomínio Recuperado' "
                         "WHERE condominio_id = %s", (SPOILED_CONDOMINIO,))
        run = batch(spark, settings, source)
        transacoes = next(t for t in run.tables if t.table == "transacoes")
        assert transacoes.rows_read == 0
        assert transacoes.rows_reprocessed > 0
        assert gold(spark, lake) == expected_gold(source, run_date(settings))
        valid = expected_valid_counts(source, run_date(settings))
        assert count(spark, lake, Layer.SILVER, "transacoes") == valid["transacoes"]
        assert count(spark, lake, Layer.QUARANTINE, "transacoes",
                     "_resolution = 'reprocessed'") == transacoes.rows_reprocessed

    def test_an_unchanged_snapshot_is_read_again_on_the_next_run_date(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, first_run: None
    ) -> None:
        # Last in the scenario: it leaves the lake a day ahead of the source's run date.
        lake = settings.lake_path
        tomorrow = run_date(settings) + dt.timedelta(days=1)
        silver = spark.read.format("delta").load(table_path(lake, Layer.SILVER, "moradores"))
        morador = silver.agg(F.min("morador_id")).first()[0]  # type: ignore[index]
        with source.connect() as conn:
            conn.execute("UPDATE moradores SET data_registro = %s WHERE morador_id = %s",
                         (tomorrow, morador))
            (residents,) = conn.execute("SELECT count(*) FROM moradores").fetchone()  # type: ignore[misc]

        def registered() -> dt.date:
            return spark.read.format("delta").load(table_path(
                lake, Layer.SILVER, "moradores")).where(F.col("morador_id") == morador).first()[
                "data_registro"]  # type: ignore[index]

        today_run = batch(spark, settings, source)  # registered tomorrow: rejected today
        assert next(t.rows_quarantined for t in today_run.tables if t.table == "moradores") > 0
        assert registered() != tomorrow
        next_day = batch(spark, settings, source, run_date=tomorrow)
        assert next(t.rows_read for t in next_day.tables if t.table == "moradores") == residents
        assert registered() == tomorrow
