"""The published gold set across a failed run: readers never keep what a rollback undid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import new_database
from tests.integration.pipelines.reconcile import expected_gold

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.lake.gold_set import read_published
from condolake.layout import Layer, table_path
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import batch, ingest_paths, ingest_postgres_body
from condolake.pipelines.gold import gold_paths, update_gold
from condolake.pipelines.load import LoadContext
from condolake.pipelines.runs import PipelineError, execute
from condolake.reporting import served_gold
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import append_transactions, generate


def served(spark: SparkSession, settings: Settings) -> dict[str, set[tuple[object, ...]]]:
    """The marts as readers get them: at the published set's versions."""
    published = read_published(settings.lake_path)
    return {name: {tuple(row) for row in served_gold(spark, settings.lake_path, name,
                                                     published).collect()}
            for name in MART_NAMES}


def latest(spark: SparkSession, settings: Settings) -> dict[str, set[tuple[object, ...]]]:
    return {name: {tuple(row) for row in spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.GOLD, name)).collect()} for name in MART_NAMES}


@pytest.mark.integration
def test_a_run_failing_after_its_gold_update_leaves_readers_on_the_restored_marts(
    spark: SparkSession, base_settings: Settings, postgres: SourceDatabase, tmp_path: Path,
) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    with new_database(postgres) as source:
        with source.connect() as conn:
            generate(conn, scale=0.001, seed=8, invalid_share=0.0)
        assert batch(spark, settings, source).status == "succeeded"
        before = served(spark, settings)
        first = read_published(settings.lake_path)
        assert first is not None and first.silver is not None
        with source.connect() as conn:
            append_transactions(conn, count=50, seed=9)
        ingest = ingest_postgres_body(source, settings)

        def fails_after_publishing(ctx: LoadContext, run: RunRecord) -> None:
            ingest(ctx, run)
            update_gold(ctx, run)
            raise RuntimeError("the data-quality results could not be written")

        with pytest.raises(PipelineError, match="could not be written"):
            execute(spark, settings, "batch", fails_after_publishing,
                    ingest_paths(settings.lake_path) + gold_paths(settings.lake_path))
        # Republished after the rollback: the restored marts, what they reflect unknown.
        after = read_published(settings.lake_path)
        assert after is not None and after.number == first.number + 2
        assert after.run_id.endswith(":rollback") and after.silver is None
        assert served(spark, settings) == before == latest(spark, settings)
        # The next run rebuilds gold whole and reads the 50 transactions again.
        assert batch(spark, settings, source).status == "succeeded"
        rebuilt = read_published(settings.lake_path)
        assert rebuilt is not None and rebuilt.silver is not None
        assert served(spark, settings) == expected_gold(source, today) != before
