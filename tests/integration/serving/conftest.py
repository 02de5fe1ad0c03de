"""Fixtures of the serving tests: one lake built by the batch pipeline, keys, a real server.

Shared by the API, dashboard and SQL endpoint tests (session scope: the lake is built once).
Tests must not change this lake; a test that needs a new version works on a copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_database

from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.services.postgres import SourceDatabase
from condolake.serving.auth import new_key
from condolake.serving.server import BackgroundServer
from condolake.source.generator import generate

SCALE = 0.03  # 3 condominios, 600 moradores, 900 imoveis, 30 000 transacoes
SEED = 20261126
INVALID_SHARE = 0.03


@pytest.fixture(scope="session")
def serving_source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    """A source database at a small scale with some invalid rows (so quarantine has rows)."""
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=INVALID_SHARE)
        yield database


@pytest.fixture(scope="session")
def serving_lake(spark: SparkSession, base_settings: Settings,
                 serving_source: SourceDatabase,
                 tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a lake built by one batch run over `serving_source` (no keys yet)."""
    lake = tmp_path_factory.mktemp("serving-lake")
    settings = base_settings.with_(lake_root=str(lake))
    batch(spark, settings, serving_source)
    return settings


def condominios_with_transactions(spark: SparkSession, settings: Settings) -> list[int]:
    gold = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.GOLD, "transacoes_por_condominio"))
    return [row.condominio_id for row in gold.where(F.col("quantidade_transacoes") > 0)
            .orderBy("condominio_id").select("condominio_id").collect()]


@pytest.fixture(scope="session")
def key_pairs(spark: SparkSession, serving_lake: Settings) -> dict[str, tuple[str, str]]:
    """Role name -> (plaintext key, CONDOLAKE_SERVE_KEYS entry)."""
    condominios = condominios_with_transactions(spark, serving_lake)
    sindico_of, analista_of = condominios[0], condominios[-1]
    return {
        "admin": new_key("admin-test", "admin", None),
        "analista": new_key("analista-test", "analista", None),
        "sindico": new_key("sindico-test", "sindico", sindico_of),
        "analista_scoped": new_key("analista-scoped-test", "analista", analista_of),
    }


@pytest.fixture(scope="session")
def serving_settings(serving_lake: Settings,
                     key_pairs: dict[str, tuple[str, str]]) -> Settings:
    """Settings of the serving lake, with the test keys in `serve_keys`."""
    entries = ",".join(entry for _, entry in key_pairs.values())
    return serving_lake.with_(serve_keys=entries)


@pytest.fixture(scope="session")
def api_keys(key_pairs: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Plaintext keys: admin, analista (scope *), sindico and analista_scoped (one condo each)."""
    return {role: key for role, (key, _) in key_pairs.items()}


@pytest.fixture(scope="session")
def api_server(serving_settings: Settings) -> Iterator[str]:
    """Base URL (http://127.0.0.1:<port>) of a real uvicorn server over the serving lake."""
    with BackgroundServer(serving_settings) as url:
        yield url
