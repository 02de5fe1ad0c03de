"""Files dropped in the landing zone -> bronze, silver, quarantine and gold (real Spark + Delta).

One scenario, in order: a first drop of the four tables (CSV and JSON lines, with bad lines
and an orphan); a second drop that updates a property and brings the orphan's parent; then a
reset of the query's checkpoint, whose replay changes nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.integration.streaming.streams import gold_rows, stream_totals

from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.pipelines.stream_silver import LANDING_SOURCE, forget_positions
from condolake.streaming.queries import LANDING
from condolake.streaming.reset import reset_checkpoints

LANDING_ONLY = StreamOptions(kafka=False, once=True)
JOB = f"stream:{LANDING}"

FIRST_DROP = {
    "condominios/c1.csv": "condominio_id,nome,endereco\n1,Aurora,Rua A\n2,Bela Vista,Rua B\n"
                          "3,   ,Rua C\n",
    "moradores/m1.jsonl": '{"morador_id": 10, "nome": "Ana", "condominio_id": 1, '
                          '"data_registro": "2024-01-02"}\n'
                          '{"morador_id": 11, "nome": "Bruno", "condominio_id": 2, '
                          '"data_registro": "2024-02-03"}\n'
                          "not json\n",
    "imoveis/i1.csv": "imovel_id,tipo,condominio_id,valor\n100, Apartamento ,1,350000.00\n"
                      "101,Casa,2,420000.50,extra\n",
    "transacoes/t1.csv": "transacao_id,imovel_id,morador_id,data_transacao,valor_transacao\n"
                         "1000,100,10,2024-03-01,1500.10\n"
                         "1001,100,11,2024-03-01,0.20\n"
                         "1002,101,11,2024-03-02,99.99\n"
                         "1003,100,10,2024-03-02,-5.00\n",
}
# Property 101 arrives valid (its first line was malformed), so transaction 1002 leaves
# quarantine; property 100 becomes a house.
SECOND_DROP = {
    "imoveis/i2.json": '{"imovel_id": 101, "tipo": "Casa", "condominio_id": 2, '
                       '"valor": 420000.50}\n'
                       '{"imovel_id": 100, "tipo": "casa", "condominio_id": 1, '
                       '"valor": 360000.00}\n',
}


def drop(settings: Settings, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = settings.landing_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".{path.name}.tmp"  # hidden files are not picked up
        staging.write_text(text, encoding="utf-8")
        staging.rename(path)


Rows = set[tuple[object, ...]]


def silver(spark: SparkSession, settings: Settings, table: str, *columns: str) -> Rows:
    frame = spark.read.format("delta").load(table_path(settings.lake_path, Layer.SILVER, table))
    return {tuple(row) for row in frame.select(*columns).collect()}


def quarantine(spark: SparkSession, settings: Settings, table: str) -> Rows:
    frame = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.QUARANTINE, table))
    return {(row["_raw"], tuple(row["_reasons"]), row["_resolution"])
            for row in frame.collect()}


@pytest.fixture(scope="module")
def settings(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder: Path = tmp_path_factory.mktemp("stream-landing")
    return base_settings.with_(lake_root=str(folder / "lake"),
                               landing_dir=str(folder / "landing"),
                               state_dir=str(folder / "state"))


@pytest.fixture(scope="module")
def first_drop(spark: SparkSession, settings: Settings) -> None:
    drop(settings, FIRST_DROP)
    run_streams(spark, settings, None, LANDING_ONLY)


@pytest.mark.integration
class TestLandingZone:
    def test_valid_records_reach_silver_with_source_types(
        self, spark: SparkSession, settings: Settings, first_drop: None,
    ) -> None:
        assert silver(spark, settings, "imoveis", "imovel_id", "tipo", "valor") == {
            (100, "apartamento", Decimal("350000.00"))}
        assert silver(spark, settings, "transacoes", "transacao_id", "valor_transacao") == {
            (1000, Decimal("1500.10")), (1001, Decimal("0.20"))}

    def test_bad_records_are_quarantined_with_reasons(
        self, spark: SparkSession, settings: Settings, first_drop: None,
    ) -> None:
        assert {(raw, reasons) for raw, reasons, _ in quarantine(spark, settings, "moradores")
                } == {("not json", ("malformed_row",))}
        assert {(raw, reasons) for raw, reasons, _ in quarantine(spark, settings, "imoveis")
                } == {("101,Casa,2,420000.50,extra", ("malformed_row",))}
        reasons = {tuple(sorted(r)) for _, r, _ in quarantine(spark, settings, "transacoes")}
        assert reasons == {("orphan_imovel",), ("valor_transacao_not_positive",)}

    def test_every_record_is_counted(
        self, spark: SparkSession, settings: Settings, first_drop: None,
    ) -> None:
        assert stream_totals(spark, settings, JOB) == {
            "rows_read": 12, "rows_valid": 7, "rows_quarantined": 5, "rows_duplicate": 0}

    def test_gold_follows_the_files(
        self, spark: SparkSession, settings: Settings, first_drop: None,
    ) -> None:
        assert gold_rows(spark, settings)["transacoes_diarias_por_tipo"] == {
            (dt.date(2024, 3, 1), "apartamento", 2, Decimal("1500.30"))}

    def test_a_later_file_updates_and_releases_the_orphan(
        self, spark: SparkSession, settings: Settings, first_drop: None,
    ) -> None:
        drop(settings, SECOND_DROP)
        run_streams(spark, settings, None, LANDING_ONLY)
        assert silver(spark, settings, "imoveis", "imovel_id", "tipo", "valor") == {
            (100, "casa", Decimal("360000.00")), (101, "casa", Decimal("420000.50"))}
        assert (1002,) in silver(spark, settings, "transacoes", "transacao_id")
        assert {how for raw, _, how in quarantine(spark, settings, "transacoes")
                if '"transacao_id":"1002"' in raw} == {"reprocessed"}
        gold = gold_rows(spark, settings)
        assert gold["transacoes_diarias_por_tipo"] == {
            (dt.date(2024, 3, 1), "casa", 2, Decimal("1500.30")),
            (dt.date(2024, 3, 2), "casa", 1, Decimal("99.99")),
        }
        assert gold["transacoes_por_condominio"] == {
            (1, "Aurora", 2, Decimal("1500.30")), (2, "Bela Vista", 1, Decimal("99.99"))}

    def test_reset_and_replay_change_nothing(
        self, spark: SparkSession, settings: Settings, first_drop: None,
    ) -> None:
        before = (gold_rows(spark, settings),
                  silver(spark, settings, "transacoes", "transacao_id", "valor_transacao"))
        reset_checkpoints(settings, [LANDING])
        forget_positions(spark, settings.lake_path, LANDING_SOURCE)
        run_streams(spark, settings, None, LANDING_ONLY)
        assert (gold_rows(spark, settings),
                silver(spark, settings, "transacoes", "transacao_id", "valor_transacao")) == before
