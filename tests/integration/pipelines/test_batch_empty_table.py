"""A source table that is still empty: the batch has no silver table of it to follow."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import new_database

from condolake.config import Settings
from condolake.lake import delta
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate


@pytest.mark.integration
def test_batch_runs_again_while_a_source_table_is_still_empty(
    spark: SparkSession, base_settings: Settings, postgres: SourceDatabase, tmp_path: Path,
) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    with new_database(postgres) as source:
        with source.connect() as conn:
            generate(conn, scale=0.001, seed=5, invalid_share=0.0)
            conn.execute("DELETE FROM transacoes")
        first = batch(spark, settings, source)
        assert first.status == "succeeded"
        assert not delta.exists(spark, table_path(settings.lake_path, Layer.SILVER,
                                                  "transacoes"))
        with source.connect() as conn:
            conn.execute("UPDATE condominios SET nome = 'Renomeado' WHERE condominio_id = "
                         "(SELECT min(condominio_id) FROM condominios)")
        second = batch(spark, settings, source)
        assert (second.status, second.error) == ("succeeded", None)
        assert {t.table: t.rows_read for t in second.tables if t.layer == "gold"} == {
            "transacoes_por_condominio": 1, "transacoes_por_morador": 0,
            "transacoes_diarias_por_tipo": 0}
