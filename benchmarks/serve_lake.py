"""The gold lake behind the serving benchmark: built once per scale and seed, then reused.

`<state_dir>/bench/serve-scale<N>-seed<S>/` holds `lake/` (bronze, silver, gold, ops of one
`condolake batch` over a freshly generated source) and `built.json`, written last: a folder
without it is an interrupted build and is rebuilt from scratch. The source lives in a new
database of a throw-away embedded PostgreSQL under the folder (or a new database on the
server of CONDOLAKE_SOURCE_URL), dropped once the batch is done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.measure import prepare_source
from benchmarks.report import scale_label
from benchmarks.stream_measure import bench_database
from condolake.app.resources import Resources
from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.errors import ConfigError
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.spark import build_spark

log = logging.getLogger(__name__)
MARKER = "built.json"


@dataclass(frozen=True)
class GoldLake:
    """A built benchmark lake and how it came to be."""

    lake: str  # lake root (absolute path)
    scale: float
    seed: int
    built_at: str  # local time, ISO 8601, seconds
    source_rows: dict[str, int]  # generated per table (invalid rows included)
    generation_s: float
    spark_start_s: float
    batch_s: float
    reused: bool = False  # True: found from an earlier run, not built by this one

    def gold_path(self, table: str) -> str:
        return table_path(self.lake, Layer.GOLD, table)


def lake_folder(state_dir: Path, scale: float, seed: int) -> Path:
    return state_dir / "bench" / f"serve-scale{scale_label(scale)}-seed{seed}"


def read_marker(folder: Path) -> GoldLake | None:
    """The lake recorded in `folder`, when its build finished and its gold tables are there."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        found = GoldLake(**{**recorded, "reused": True})
    except (ValueError, TypeError):
        return None
    if not all((Path(found.gold_path(name)) / "_delta_log").is_dir() for name in MART_NAMES):
        return None
    return found


def gold_lake(settings: Settings, scale: float, seed: int) -> GoldLake:
    """The benchmark lake of `scale` and `seed`: the one already built, or a new one."""
    if "://" in settings.lake_root:
        raise ConfigError(f"bench serve needs a local lake root, not {settings.lake_root}")
    folder = lake_folder(settings.state_path, scale, seed)
    found = read_marker(folder)
    if found is not None:
        log.info(f"reusing the gold lake built at {found.built_at} in {folder} "
                 f"(scale {scale_label(scale)}, seed {seed}); delete the folder to rebuild")
        return found
    if folder.exists():
        log.info(f"{folder} holds an unfinished build: starting over")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    built = _build(settings, folder, scale, seed)
    (folder / MARKER).write_text(json.dumps(asdict(built), indent=2) + "\n", encoding="utf-8")
    return built


def _build(settings: Settings, folder: Path, scale: float, seed: int) -> GoldLake:
    built_at = dt.datetime.now().replace(microsecond=0).isoformat()
    lake = folder / "lake"
    source_state = folder / "source-state"
    lake_settings = settings.with_(lake_root=str(lake))
    log.info(f"building the gold lake of scale {scale_label(scale)}, seed {seed} in {folder} "
             "(generate the source, then condolake batch: a few minutes at scale 10)")
    try:
        with Resources.from_settings(settings.with_(state_dir=str(source_state))) \
                .source_database() as server, \
                bench_database(server) as db:
            prepared = prepare_source(db, scale, seed)
            started = time.perf_counter()
            spark = build_spark(lake_settings, "condolake-bench-serve")
            spark_start_s = time.perf_counter() - started
            try:
                log.info(f"Spark started in {spark_start_s:.1f} s; running condolake batch")
                started = time.perf_counter()
                batch(spark, lake_settings, db)
                batch_s = time.perf_counter() - started
            finally:
                spark.stop()
    finally:
        shutil.rmtree(source_state, ignore_errors=True)
    log.info(f"gold lake built: generation {prepared.generation.seconds:.1f} s, "
             f"batch {batch_s:.1f} s")
    return GoldLake(lake=str(lake.resolve()), scale=scale, seed=seed, built_at=built_at,
                    source_rows=dict(prepared.generation.rows),
                    generation_s=round(prepared.generation.seconds, 2),
                    spark_start_s=round(spark_start_s, 2), batch_s=round(batch_s, 2))
