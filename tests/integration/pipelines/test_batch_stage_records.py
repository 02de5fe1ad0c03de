"""The batch marks its stages on its log records, and the batch benchmark reads them."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from tests.integration.conftest import new_database

from benchmarks.measure import measure_batch
from benchmarks.stages import EXTRACT, GOLD, SILVER, batch_stages, group_seconds
from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.logs import Stage
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate
from condolake.source.tables import SOURCE_TABLES


def test_a_first_batch_logs_each_stage_once_per_table(
    spark: SparkSession, base_settings: Settings, postgres: SourceDatabase, tmp_path: Path
) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    with new_database(postgres) as db:
        with db.connect() as conn:
            generate(conn, scale=0.002, seed=5)
        run = measure_batch(spark, settings, db)

    marked = [(event.stage, event.table) for event in run.events if event.stage is not None]
    tables = [table.name for table in SOURCE_TABLES]
    assert marked == ([(Stage.RUN, "")] + [(Stage.EXTRACT, name) for name in tables]
                      + [(Stage.SILVER, name) for name in tables]
                      + [(Stage.GOLD, name) for name in MART_NAMES])
    totals = group_seconds(batch_stages(run.events, run.seconds, run.load_seconds()))
    assert all(totals[group] > 0 for group in (EXTRACT, SILVER, GOLD))
    assert sum(totals.values()) <= run.seconds + 1e-6
