"""Fixtures for the whole suite: one SparkSession per test session (local[2], UI off)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from condolake.config import Settings, load_settings
from condolake.services.jars import SPARK_CORE, SPARK_KAFKA
from condolake.spark import build_spark


@pytest.fixture(scope="session")
def test_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def base_settings(test_state_dir: Path) -> Settings:
    """Settings of the test session: a temp state folder, the jar cache `condolake setup`
    resolved (the user's, or CONDOLAKE_JAR_CACHE)."""
    return load_settings(
        environ={},
        state_dir=str(test_state_dir),
        jar_cache=os.environ.get("CONDOLAKE_JAR_CACHE"),  # as `condolake setup` resolved it
        lake_root=str(test_state_dir / "lake"),
        spark_master="local[2]",
        shuffle_partitions=4,
        spark_driver_memory="2g",
        log_level="ERROR",
    )


@pytest.fixture(scope="session")
def spark(base_settings: Settings) -> Iterator[SparkSession]:
    session = build_spark(base_settings, app_name="condolake-tests",
                          bundles=(SPARK_CORE, SPARK_KAFKA))
    yield session
    session.stop()
