"""Fixtures of the streaming tests: one batch load for the session, copied by each scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import new_database
from tests.integration.streaming.streams import LoadedLake, kill_leftover_streams

from condolake.config import Settings
from condolake.pipelines.batch import batch
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate

SCALE = 0.01  # 1 condominio, 200 moradores, 300 imoveis, 10 000 transacoes
SEED = 4242


@pytest.fixture(scope="session")
def loaded_lake(spark: SparkSession, base_settings: Settings, postgres: SourceDatabase,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedLake]:
    """A generated source and the lake its first `batch` made. Nothing writes to either: each
    scenario starts from its own copy (`streams.copy_of`), as if it had run the load itself."""
    lake = tmp_path_factory.mktemp("loaded-lake") / "lake"
    with new_database(postgres) as source:
        with source.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED)
        run = batch(spark, base_settings.with_(lake_root=str(lake)), source)
        assert run.status == "succeeded", run.error
        yield LoadedLake(source, lake)


@pytest.fixture(autouse=True)
def no_stream_left_running() -> Iterator[None]:
    """After each test, passed or failed, none of its `stream start` processes still runs."""
    yield
    kill_leftover_streams()
