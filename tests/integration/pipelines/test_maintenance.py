"""`condolake maintain` on a lake built by a real batch run (PostgreSQL -> bronze/silver/gold).

One scenario, in order: dry run (changes nothing) -> maintain with an unsafe retention of 0 h
(compacts, vacuums, removes an orphan checkpoint, prunes positions) -> maintain again (no-op).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_database

from condolake.catalog import MART_NAMES, POSITIONS_SCHEMA
from condolake.config import Settings
from condolake.lake import delta
from condolake.lake.gold_set import read_published
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.pipelines.maintenance import (
    LISTING_PARALLELISM_CONF,
    MaintenanceReport,
    TableOutcome,
    maintain,
)
from condolake.pipelines.maintenance_plan import RETENTION_CHECK_CONF, LakeTable
from condolake.pipelines.stream_silver import positions_path
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate
from condolake.source.tables import SOURCE_TABLES
from condolake.spark_types import struct

SCALE = 0.01  # 1 condominio, 200 moradores, 300 imoveis, 10 000 transacoes
SEED = 20261126
PROBE = LakeTable(Layer.BRONZE, "maintenance_probe")  # a table of many small appends
PROBE_APPENDS = 6
PROBE_SCHEMA = struct("id: int, valor: decimal(15,2)")
ORPHAN = "kafka_silver"  # a checkpoint of the former topology: no query uses it
KEPT = "kafka"


def data_files(table_dir: Path) -> set[str]:
    """Parquet files of a table folder (data and change data, not the log's checkpoints)."""
    return {str(path.relative_to(table_dir)) for path in table_dir.rglob("*.parquet")
            if "_delta_log" not in path.parts}


def listing(root: Path) -> set[tuple[str, int, int]]:
    """Every file of the lake with its size and modification time."""
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            stat = (Path(folder) / name).stat()
            found.add((str((Path(folder) / name).relative_to(root)), stat.st_size,
                       stat.st_mtime_ns))
    return found


def contents(spark: SparkSession, lake: str) -> dict[str, object]:
    """Row sets of silver and gold, and the exact money sums."""
    def rows(layer: Layer, name: str) -> set[tuple[object, ...]]:
        frame = spark.read.format("delta").load(table_path(lake, layer, name))
        return {tuple(tuple(v) if isinstance(v, list) else v for v in row)
                for row in frame.collect()}

    silver_money = spark.read.format("delta").load(
        table_path(lake, Layer.SILVER, "transacoes")).agg(F.sum("valor_transacao")).first()
    gold_money = spark.read.format("delta").load(
        table_path(lake, Layer.GOLD, "transacoes_por_condominio")).agg(
        F.sum("valor_total")).first()
    assert silver_money is not None and gold_money is not None
    return {
        **{f"silver/{t.name}": rows(Layer.SILVER, t.name) for t in SOURCE_TABLES},
        **{f"gold/{name}": rows(Layer.GOLD, name) for name in MART_NAMES},
        "silver money": silver_money[0], "gold money": gold_money[0],
    }


@dataclass
class Scenario:
    settings: Settings
    disk_before: dict[str, set[str]]  # table -> parquet files on disk before maintain
    contents_before: dict[str, object]
    dry_run_listing: tuple[set[tuple[str, int, int]], set[tuple[str, int, int]]]
    first: MaintenanceReport
    disk_after: dict[str, set[str]]
    referenced_after: dict[str, int]
    contents_after: dict[str, object]
    second: MaintenanceReport
    versions: tuple[dict[str, int | None], dict[str, int | None]]  # before/after the second


def table_dirs(lake: Path) -> dict[str, Path]:
    return {f"{layer.value}/{d.name}": d for layer in Layer if (lake / layer.value).is_dir()
            for d in sorted((lake / layer.value).iterdir()) if (d / "_delta_log").is_dir()}


def referenced(spark: SparkSession, lake: Path) -> dict[str, int]:
    return {name: spark.read.format("delta").load(str(path)).inputFiles().__len__()
            for name, path in table_dirs(lake).items()}


@pytest.fixture(scope="module")
def scenario(spark: SparkSession, base_settings: Settings, postgres: SourceDatabase,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("maintenance")
    settings = base_settings.with_(lake_root=str(root / "lake"),
                                   state_dir=str(root / "state"))
    lake = Path(settings.lake_path)
    with new_database(postgres) as source:
        with source.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=0.02)
        batch(spark, settings, source)
    probe = PROBE.path(settings.lake_path)
    for i in range(PROBE_APPENDS):
        delta.append(spark.createDataFrame([(i, Decimal(f"{i}.25"))], PROBE_SCHEMA)
                     .coalesce(1), probe)
    (lake / "_checkpoints" / ORPHAN / "offsets").mkdir(parents=True)
    (lake / "_checkpoints" / ORPHAN / "offsets" / "0").write_text("v1\n")
    (lake / "_checkpoints" / KEPT / "commits").mkdir(parents=True)
    (lake / "_checkpoints" / KEPT / "commits" / "0").write_text("v1\n")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    delta.ensure_table(spark, positions_path(settings.lake_path), POSITIONS_SCHEMA)
    delta.append(spark.createDataFrame([
        ("kafka", "condominios", 1, 10, "u", "stream-x", long_ago),  # kafka query: kept
        ("landing", "imoveis", 2, 20, "u", "stream-y", long_ago),  # no landing checkpoint
        ("kafka", "old_table", 3, 30, "d", "stream-x", long_ago),  # no such table
    ], POSITIONS_SCHEMA).coalesce(1), positions_path(settings.lake_path))

    disk_before = {name: data_files(path) for name, path in table_dirs(lake).items()}
    contents_before = contents(spark, settings.lake_path)
    listing_before = listing(lake)
    maintain(spark, settings, retention_h=0, unsafe_retention=True, dry_run=True)
    dry_run_listing = (listing_before, listing(lake))
    first = maintain(spark, settings, retention_h=0, unsafe_retention=True)
    disk_after = {name: data_files(path) for name, path in table_dirs(lake).items()}
    referenced_after = referenced(spark, lake)
    contents_after = contents(spark, settings.lake_path)
    versions_before = {name: delta.version(spark, str(path))
                       for name, path in table_dirs(lake).items()}
    second = maintain(spark, settings, retention_h=0, unsafe_retention=True)
    versions_after = {name: delta.version(spark, str(path))
                      for name, path in table_dirs(lake).items()}
    yield Scenario(settings, disk_before, contents_before, dry_run_listing, first, disk_after,
                   referenced_after, contents_after, second, (versions_before, versions_after))


@pytest.mark.integration
class TestMaintain:
    def test_dry_run_changes_no_file(self, scenario: Scenario) -> None:
        before, after = scenario.dry_run_listing
        assert after == before

    def test_optimize_compacts_the_small_appends_into_one_file(self, scenario: Scenario
                                                                ) -> None:
        outcome = next(t for t in scenario.first.tables if t.table == PROBE)
        assert outcome == TableOutcome(PROBE, PROBE_APPENDS, 1, PROBE_APPENDS)
        assert len(scenario.disk_before[str(PROBE)]) == PROBE_APPENDS
        assert len(scenario.disk_after[str(PROBE)]) == 1

    def test_every_table_ends_in_one_file_and_vacuum_removes_exactly_the_rest(
        self, scenario: Scenario
    ) -> None:
        outcomes = {str(t.table): t for t in scenario.first.tables}
        assert set(outcomes) == set(scenario.disk_before)
        expected = {f"{layer.value}/{t.name}" for t in SOURCE_TABLES
                    for layer in (Layer.BRONZE, Layer.SILVER, Layer.QUARANTINE)}
        expected |= {f"gold/{name}" for name in MART_NAMES}
        expected |= {str(PROBE), "ops/runs", "ops/run_tables", "ops/change_positions"}
        assert expected <= set(outcomes)
        for name, t in outcomes.items():
            assert t.files_after == min(t.files_before, 1), name
            compacted_away = t.files_before if t.files_before > 1 else 0
            unreferenced = len(scenario.disk_before[name]) - t.files_before
            # The positions DELETE (run before OPTIMIZE) rewrote the table's one file: the old
            # file and its change-data file are left for VACUUM.
            pruned = 2 if name == "ops/change_positions" else 0
            assert t.files_vacuumed == unreferenced + compacted_away + pruned, name
            # Nothing unreferenced is left on disk, except in ops/runs: the run's own row is
            # written after its VACUUM, from a 2-partition frame whose empty partition leaves a
            # parquet file on disk that the Delta log never adds (the next VACUUM takes it).
            if name != "ops/runs":
                assert len(scenario.disk_after[name]) == scenario.referenced_after[name], name
        assert sum(t.files_vacuumed for t in outcomes.values()) > PROBE_APPENDS

    def test_readers_are_served_the_compacted_marts(self, scenario: Scenario) -> None:
        # The versions before OPTIMIZE lost their files to the VACUUM (retention 0).
        published = read_published(scenario.settings.lake_path)
        _, versions = scenario.versions
        assert published is not None and dict(published.gold) == {
            name: versions[f"gold/{name}"] for name in MART_NAMES}

    def test_silver_and_gold_read_the_same_to_the_cent(self, scenario: Scenario) -> None:
        assert scenario.contents_after == scenario.contents_before
        money = scenario.contents_after["gold money"]
        assert isinstance(money, Decimal) and money.as_tuple().exponent == -2

    def test_orphan_checkpoint_removed_and_real_one_kept(self, scenario: Scenario) -> None:
        checkpoints = Path(scenario.settings.lake_path) / "_checkpoints"
        assert scenario.first.checkpoints_removed == [ORPHAN]
        assert sorted(p.name for p in checkpoints.iterdir()) == [KEPT]
        assert (checkpoints / KEPT / "commits" / "0").read_text() == "v1\n"

    def test_positions_no_query_needs_are_pruned(self, spark: SparkSession,
                                                 scenario: Scenario) -> None:
        assert scenario.first.positions_pruned == 2
        left = spark.read.format("delta").load(positions_path(scenario.settings.lake_path))
        assert [tuple(r) for r in left.select("source", "table", "key").collect()] == [
            ("kafka", "condominios", 1)]

    def test_runs_are_recorded_in_ops_runs(self, spark: SparkSession, scenario: Scenario
                                           ) -> None:
        runs = spark.read.format("delta").load(
            table_path(scenario.settings.lake_path, Layer.OPS, "runs")).where(
            F.col("job") == "maintenance")
        assert {(r["run_id"], r["status"], r["error"]) for r in runs.collect()} == {
            (scenario.first.run_id, "succeeded", None),
            (scenario.second.run_id, "succeeded", None),
        }

    def test_a_second_run_changes_nothing(self, scenario: Scenario) -> None:
        before, after = scenario.versions
        # ops/runs is compacted again: it got the first run's row since. ops/change_positions
        # (change data feed on) gets VACUUM commits only: the first VACUUM deleted the DELETE's
        # `_change_data` file and Delta removes the folder it left empty on the next VACUUM.
        assert {n for n in before if before[n] != after[n]} == {
            "ops/runs", "ops/change_positions"}
        # ops/runs: its 2 files compacted away, plus what the first run's own row write left.
        leftover = len(scenario.disk_after["ops/runs"]) - scenario.referenced_after["ops/runs"]
        assert [(str(t.table), t.files_vacuumed) for t in scenario.second.tables
                if t.files_vacuumed] == [("ops/change_positions", 1), ("ops/runs", 2 + leftover)]
        assert scenario.second.checkpoints_removed == []
        assert scenario.second.positions_pruned == 0

    def test_retention_check_is_back_on(self, spark: SparkSession, scenario: Scenario) -> None:
        assert spark.conf.get(RETENTION_CHECK_CONF, None) == "true"  # as condolake.spark sets it
        assert spark.conf.get(LISTING_PARALLELISM_CONF, None) is None
