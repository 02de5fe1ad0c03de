"""Data-quality results in ops/dq_results against a real PostgreSQL source, Spark and Delta.

One scenario, in order: a batch on a source with invalid rows (one row per rule and table,
exact failures) -> `condolake check` passes, reconciliation exact -> a second batch after a
parent is fixed and a valid row turns invalid (still exact) -> rows inserted and deleted at
the source with no batch (reconciliation fails by exactly that many) -> no source reachable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_database
from tests.integration.pipelines.reconcile import VALID_ROWS, expected_gold, expected_valid_counts

import condolake.cli as cli
import condolake.spark
from condolake.catalog import MART_NAMES
from condolake.config import Settings, revealed
from condolake.layout import Layer, table_path
from condolake.monitoring.quality import CheckResult
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import batch
from condolake.pipelines.quality import open_quarantined_keys, run_checks
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate
from condolake.source.tables import SOURCE_TABLES, TABLES_BY_NAME
from condolake.transforms.silver.rules import RULES

SCALE = 0.002  # 1 condominio, 40 moradores, 60 imoveis, 2 000 transacoes
SEED = 5150
INVALID_SHARE = 0.05
RATE_MAX = 0.5  # the extra condominium below is half of its table
TABLE_NAMES = [t.name for t in SOURCE_TABLES]
# Per table and rule, the SQL condition under which a source row breaks it (an independent
# statement of the rules that can fire on this data; `vc`/`vm`/`vi` are the valid rows).
RULE_SQL = {
    "condominios": {
        "nome_blank": "btrim(nome) = ''",
        "endereco_blank": "btrim(endereco) = ''",
    },
    "moradores": {
        "nome_blank": "btrim(nome) = ''",
        "data_registro_out_of_range":
            "data_registro NOT BETWEEN DATE '1900-01-01' AND %(run_date)s",
        "orphan_condominio": "condominio_id NOT IN (SELECT condominio_id FROM vc)",
    },
    "imoveis": {
        "tipo_blank": "btrim(tipo) = ''",
        "valor_not_positive": "valor <= 0",
        "orphan_condominio": "condominio_id NOT IN (SELECT condominio_id FROM vc)",
    },
    "transacoes": {
        "valor_transacao_not_positive": "valor_transacao <= 0",
        "data_transacao_out_of_range":
            "data_transacao NOT BETWEEN DATE '1900-01-01' AND %(run_date)s",
        "orphan_imovel": "imovel_id NOT IN (SELECT imovel_id FROM vi)",
        "orphan_morador": "morador_id NOT IN (SELECT morador_id FROM vm)",
    },
}


def run_date(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def expected_rule_failures(db: SourceDatabase, day: dt.date) -> dict[tuple[str, str], int]:
    """(table, rule) -> source rows breaking it, every rule of RULES (zero included)."""
    failures = {(table, rule): 0 for table in TABLE_NAMES for rule in RULES[table]}
    with db.connect() as conn:
        for table, rules in RULE_SQL.items():
            for rule, condition in rules.items():
                row = conn.execute(VALID_ROWS + f"SELECT count(*) FROM {table} "  # noqa: S608
                                   f"WHERE {condition}", {"run_date": day}).fetchone()
                assert row is not None
                failures[(table, rule)] = int(row[0])
    return failures


def source_counts(db: SourceDatabase) -> dict[str, int]:
    with db.connect() as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]  # noqa: S608
                for t in TABLE_NAMES}


def dq_rows(spark: SparkSession, settings: Settings, run_id: str) -> list[dict[str, object]]:
    return [row.asDict() for row in spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.OPS, "dq_results")).where(
        F.col("run_id") == run_id).collect()]


def by(results: list[CheckResult], check: str) -> dict[str, CheckResult]:
    return {r.table: r for r in results if r.check == check}


def reconciled(source: int, silver: int, open_keys: int) -> str:
    return f"source {source:,} rows; lake {silver + open_keys:,} (silver {silver:,} + " \
           f"open quarantine {open_keys:,})"


@pytest.fixture(scope="module")
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """Generated rows with 5 % invalid, plus a condominium with a blank address whose
    resident, property and transaction are orphans (the transaction of both parents)."""
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=INVALID_SHARE)
            (condo,) = conn.execute("INSERT INTO condominios (nome, endereco) VALUES "
                                    "('Residencial Ipê', '  ') RETURNING condominio_id"
                                    ).fetchone()  # type: ignore[misc]
            (morador,) = conn.execute(
                "INSERT INTO moradores (nome, condominio_id, data_registro) VALUES "
                "('Ana Souza', %s, DATE '2020-01-02') RETURNING morador_id", (condo,)
            ).fetchone()  # type: ignore[misc]
            (imovel,) = conn.execute(
                "INSERT INTO imoveis (tipo, condominio_id, valor) VALUES "
                "('apartamento', %s, 350000.00) RETURNING imovel_id", (condo,)
            ).fetchone()  # type: ignore[misc]
            conn.execute("INSERT INTO transacoes (imovel_id, morador_id, data_transacao, "
                         "valor_transacao) VALUES (%s, %s, DATE '2021-03-04', 1500.00)",
                         (imovel, morador))
        yield database


@pytest.fixture(scope="module")
def settings(base_settings: Settings, source: SourceDatabase,
             tmp_path_factory: pytest.TempPathFactory) -> Settings:
    lake = tmp_path_factory.mktemp("quality-lake")
    return base_settings.with_(lake_root=str(lake), source_url=source.url,
                               quarantine_rate_max=RATE_MAX)


@pytest.fixture(scope="module")
def first_run(spark: SparkSession, settings: Settings, source: SourceDatabase) -> RunRecord:
    run = batch(spark, settings, source)
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def cli_on(spark: SparkSession, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`condolake` in this process, on the session's Spark (settings given per test)."""
    monkeypatch.setattr(condolake.spark, "build_spark", lambda *args, **kwargs: spark)
    yield


def check_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> int:
    monkeypatch.setattr(cli, "load_settings", lambda: settings)
    return cli.main(["check", *args])


@pytest.mark.integration
class TestDataQuality:
    def test_ingest_run_writes_one_row_per_rule_and_table(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_run: RunRecord,
    ) -> None:
        expected = expected_rule_failures(source, run_date(settings))
        rows = dq_rows(spark, settings, first_run.run_id)
        assert {(r["job"], r["kind"], r["threshold"]) for r in rows} == {
            ("batch", "row_rule", 0.0)}
        assert len(rows) == sum(len(RULES[t]) for t in TABLE_NAMES)
        actual = {(r["table"], r["check"]): (r["failures"], r["status"], r["observed"])
                  for r in rows}
        assert actual == {key: (n, "failed" if n else "passed", float(n))
                          for key, n in expected.items()}
        # The extra condominium's children are orphans; its transaction counts in both rules.
        assert min(expected[("condominios", "endereco_blank")],
                   expected[("moradores", "orphan_condominio")],
                   expected[("imoveis", "orphan_condominio")],
                   expected[("transacoes", "orphan_imovel")],
                   expected[("transacoes", "orphan_morador")]) >= 1
        quarantined = {c.table: c.rows_quarantined for c in first_run.tables
                       if c.layer == "silver"}
        assert quarantined["condominios"] == 1

    def test_check_passes_and_reconciles_exactly(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_run: RunRecord,
    ) -> None:
        results = run_checks(spark, settings, source)
        counts = source_counts(source)
        valid = expected_valid_counts(source, run_date(settings))
        for table in TABLE_NAMES:
            invalid = counts[table] - valid[table]
            assert open_quarantined_keys(spark, settings.lake_path,
                                         TABLES_BY_NAME[table]) == invalid
            assert by(results, "reconciliation")[table] == CheckResult(
                "table", "reconciliation", table, "passed", 0.0, 0.0, 0,
                reconciled(counts[table], valid[table], invalid))
            rate = by(results, "quarantine_rate")[table]
            assert (rate.status, rate.observed, rate.threshold, rate.failures) == (
                "passed", invalid / counts[table], RATE_MAX, invalid)
            assert by(results, "duplicate_rate")[table].observed == 0.0
        freshness = by(results, "freshness")
        assert sorted(freshness) == sorted(MART_NAMES)
        assert all(r.status == "passed" and r.threshold == settings.freshness_sla_s
                   and r.observed is not None and 0 <= r.observed < 600
                   for r in freshness.values())
        totals = by(results, "gold_totals")["gold"]
        assert (totals.status, totals.observed) == ("passed", 0.0)
        gold = expected_gold(source, run_date(settings))
        count = sum(row[-2] for row in gold["transacoes_por_morador"])
        value = sum(row[-1] for row in gold["transacoes_por_morador"])
        assert totals.detail == "the marts agree: " + "; ".join(
            f"{name} {count:,} transactions, {value:,} total" for name in MART_NAMES)
        # One append per check run, and the run itself in ops/runs.
        lake = settings.lake_path
        runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs")).where(
            F.col("job") == "check").collect()
        assert [(r["status"], r["error"]) for r in runs] == [("succeeded", None)]
        rows = dq_rows(spark, settings, runs[0]["run_id"])
        assert len(rows) == len(results) == 4 + 3 + 1 + 4 + 4
        assert {(r["job"], r["kind"]) for r in rows} == {("check", "table")}
        assert {(r["check"], r["table"], r["status"], r["observed"]) for r in rows} == {
            (r.check, r.table, r.status, r.observed) for r in results}

    def test_cli_check_exits_0_with_a_table_or_json(
        self, settings: Settings, first_run: RunRecord, cli_on: None,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert check_cli(monkeypatch, settings) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].split() == ["check", "table", "status", "observed", "threshold",
                                  "detail"]
        assert len(out) == 1 + 16
        assert check_cli(monkeypatch, settings, "--json") == 0
        document = json.loads(capsys.readouterr().out)
        assert [(d["check"], d["status"]) for d in document][:4] == [
            ("reconciliation", "passed")] * 4

    def test_a_row_turning_invalid_keeps_reconciliation_exact(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_run: RunRecord,
    ) -> None:
        with source.connect() as conn:
            # The orphans' parent is fixed (they leave quarantine) and a valid resident
            # turns invalid (its older silver row stays: one source row, counted once).
            conn.execute("UPDATE condominios SET endereco = 'Rua das Flores, 10' "
                         "WHERE btrim(endereco) = ''")
        # Silver will hold what is valid now plus the resident's stale row (and its
        # transactions, which an incremental read does not see again).
        in_silver = expected_valid_counts(source, run_date(settings))
        with source.connect() as conn:
            (spoiled,) = conn.execute(
                "UPDATE moradores SET nome = ' ' WHERE morador_id = (SELECT min(morador_id) "
                "FROM moradores WHERE btrim(nome) <> '' AND data_registro > "
                "DATE '1900-01-01' AND data_registro < now()) RETURNING morador_id"
            ).fetchone()  # type: ignore[misc]
        run = batch(spark, settings, source)
        rules = {(r["table"], r["check"]): r["failures"]
                 for r in dq_rows(spark, settings, run.run_id)}
        expected = expected_rule_failures(source, run_date(settings))
        # Changed dimensions are re-read whole; an unchanged one (imoveis) is not read, and
        # transactions are read incrementally (none new): no records judged, no results.
        assert rules == {
            k: v for k, v in expected.items() if k[0] in ("condominios", "moradores")}
        results = run_checks(spark, settings, source)
        counts = source_counts(source)
        valid = expected_valid_counts(source, run_date(settings))
        assert valid["moradores"] == in_silver["moradores"] - 1
        assert valid["transacoes"] < in_silver["transacoes"]  # the resident's transactions
        for table in TABLE_NAMES:
            silver, open_keys = in_silver[table], counts[table] - in_silver[table]
            assert by(results, "reconciliation")[table] == CheckResult(
                "table", "reconciliation", table, "passed", 0.0, 0.0, 0,
                reconciled(counts[table], silver, open_keys)), (table, spoiled)

    def test_source_changes_without_a_batch_fail_by_the_exact_difference(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_run: RunRecord, cli_on: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        with source.connect() as conn:
            conn.execute("INSERT INTO condominios (nome, endereco) VALUES "
                         "('Novo A', 'Rua A, 1'), ('Novo B', 'Rua B, 2')")
            conn.execute("DELETE FROM transacoes WHERE transacao_id IN (SELECT transacao_id "
                         "FROM transacoes ORDER BY transacao_id LIMIT 3)")
        results = by(run_checks(spark, settings, source), "reconciliation")
        assert {t: (r.status, r.observed, r.failures) for t, r in results.items()} == {
            "condominios": ("failed", 2.0, 2), "moradores": ("passed", 0.0, 0),
            "imoveis": ("passed", 0.0, 0), "transacoes": ("failed", 3.0, 3)}
        assert results["condominios"].detail.endswith(": 2 source rows not in the lake")
        assert results["transacoes"].detail.endswith(": 3 lake rows no longer in the source")
        assert check_cli(monkeypatch, settings) == 1
        assert ("2 data-quality checks failed: reconciliation(condominios), "
                "reconciliation(transacoes)") in " ".join(capsys.readouterr().err.split())

    def test_no_reachable_source_is_a_failed_check_not_a_crash(
        self, spark: SparkSession, settings: Settings, first_run: RunRecord, cli_on: None,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ) -> None:
        dead = settings.with_(source_url="postgresql://u:p@127.0.0.1:1/x")
        results = by(run_checks(spark, dead, SourceDatabase(str(revealed(dead.source_url)))),
                     "reconciliation")
        assert {(r.status, r.observed) for r in results.values()} == {("failed", None)}
        assert all(r.detail.startswith("source not available: postgresql://u:")
                   for r in results.values())
        assert check_cli(monkeypatch, dead) == 1
        err = " ".join(capsys.readouterr().err.split())
        assert "reconciliation(condominios), reconciliation(moradores)" in err

    def test_a_broken_gold_table_fails_the_totals_check_with_the_three_figures(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_run: RunRecord,
    ) -> None:
        path = table_path(settings.lake_path, Layer.GOLD, "transacoes_por_morador")
        table = DeltaTable.forPath(spark, path)
        before = table.history(1).first()
        assert before is not None
        removed = spark.read.format("delta").load(path).orderBy("morador_id").first()
        assert removed is not None
        table.delete(F.col("morador_id") == removed["morador_id"])
        try:
            totals = by(run_checks(spark, settings, source), "gold_totals")["gold"]
        finally:
            table.restoreToVersion(before["version"])
        assert (totals.status, totals.observed) == ("failed", removed["quantidade_transacoes"])
        figures = dict(part.split(" ", 1) for part in
                       totals.detail.removeprefix("the marts disagree: ").split("; "))
        whole = figures["transacoes_por_condominio"]
        assert figures["transacoes_diarias_por_tipo"] == whole
        count, value = (int(whole.split(" ")[0].replace(",", "")),
                        Decimal(whole.split(", ")[1].split(" ")[0].replace(",", "")))
        assert figures["transacoes_por_morador"] == (
            f"{count - removed['quantidade_transacoes']:,} transactions, "
            f"{value - removed['valor_total']:,} total")
