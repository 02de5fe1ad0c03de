"""When the reader looks for a new version of the gold tables, and which it serves."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.support.delta_log import commit

from condolake.lake.gold_set import PUBLISHED_FILE, gold_lock, publish
from condolake.lake.versions import DeltaVersion
from condolake.layout import Layer, table_path
from condolake.serving.index import Grouping, TableIndex
from condolake.serving.lake_reader import LakeReader, Snapshot
from condolake.serving.queries import POR_CONDOMINIO, POR_MORADOR, TableSpec, gold_specs

MILLIS = 1_795_000_000_123  # 2026-11-18T11:06:40.123Z


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingReader(LakeReader):
    """The real refresh logic; loading a version only records it (no Delta data needed)."""

    loaded: list[int]

    def _load(self, spec: TableSpec, version: DeltaVersion) -> Snapshot:
        self.loaded.append(version.version)
        orders: dict[str, list[int]] = dict.fromkeys(spec.sort_options(), [])
        groupings = {column: Grouping.of([], orders) for column in spec.grouped_by}
        return Snapshot(spec, version, TableIndex.build(spec, [], orders, groupings))


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reader(lake: Path, clock: FakeClock, tmp_path: Path) -> CountingReader:
    made = CountingReader(str(lake), refresh_s=2.0, extension_dir=tmp_path / "ext",
                          tables=[POR_CONDOMINIO.name], clock=clock)
    made.loaded = []
    return made


def table_dir(lake: Path) -> Path:
    return Path(table_path(str(lake), Layer.GOLD, POR_CONDOMINIO.name))


def test_a_new_version_is_seen_only_after_refresh_s(reader: CountingReader, lake: Path,
                                                    clock: FakeClock) -> None:
    assert reader.snapshot(POR_CONDOMINIO.name) is None  # not built yet
    commit(table_dir(lake), 0, MILLIS)
    clock.now += 1.9
    assert reader.snapshot(POR_CONDOMINIO.name) is None  # not looked at again yet
    clock.now += 0.2
    first = reader.snapshot(POR_CONDOMINIO.name)
    assert first is not None and first.version.version == 0
    commit(table_dir(lake), 1, MILLIS + 1000)
    clock.now += 1.0
    assert reader.snapshot(POR_CONDOMINIO.name) is first
    assert reader.cached_snapshot(POR_CONDOMINIO.name) == (True, first)
    clock.now += 1.5
    assert reader.cached_snapshot(POR_CONDOMINIO.name) == (False, first)
    second = reader.snapshot(POR_CONDOMINIO.name)
    assert second is not None and second.version.version == 1
    assert reader.loaded == [0, 1]


def test_the_same_version_is_loaded_once(reader: CountingReader, lake: Path,
                                         clock: FakeClock) -> None:
    commit(table_dir(lake), 4, MILLIS)
    for _ in range(5):
        reader.snapshot(POR_CONDOMINIO.name)
        clock.now += 3.0
    assert reader.loaded == [4]


def test_a_dropped_table_is_no_longer_served(reader: CountingReader, lake: Path,
                                             clock: FakeClock) -> None:
    commit(table_dir(lake), 0, MILLIS)
    assert reader.snapshot(POR_CONDOMINIO.name) is not None
    (table_dir(lake) / "_delta_log" / f"{0:020d}.json").unlink()
    clock.now += 3.0
    assert reader.snapshot(POR_CONDOMINIO.name) is None


def test_only_local_lakes_are_served(tmp_path: Path) -> None:
    from condolake.errors import ConfigError

    with pytest.raises(ConfigError, match="local file system"):
        LakeReader("s3a://bucket/lake", 2.0, tmp_path, tables=list(gold_specs()))


class FlakyReader(CountingReader):
    """Fails to read the versions listed in `broken`."""

    broken: set[int]

    def _load(self, spec: TableSpec, version: DeltaVersion) -> Snapshot:
        if version.version in self.broken:
            raise duckdb.IOException(f"cannot read version {version.version}")
        return super()._load(spec, version)


def test_an_unreadable_version_keeps_the_previous_one_and_is_retried_later(
    lake: Path, clock: FakeClock, tmp_path: Path,
) -> None:
    reader = FlakyReader(str(lake), refresh_s=2.0, extension_dir=tmp_path / "ext",
                         tables=[POR_CONDOMINIO.name], clock=clock)
    reader.loaded, reader.broken = [], {1}
    commit(table_dir(lake), 0, MILLIS)
    first = reader.snapshot(POR_CONDOMINIO.name)
    commit(table_dir(lake), 1, MILLIS + 1)
    clock.now += 3.0
    assert reader.snapshot(POR_CONDOMINIO.name) is first
    assert reader.failure(POR_CONDOMINIO.name) == "IOException: cannot read version 1"
    clock.now += 1.0
    reader.snapshot(POR_CONDOMINIO.name)
    assert reader.loaded == [0]  # not retried before refresh_s
    reader.broken.clear()
    clock.now += 1.5
    second = reader.snapshot(POR_CONDOMINIO.name)
    assert second is not None and second.version.version == 1
    assert reader.failure(POR_CONDOMINIO.name) is None


# --- the published gold set -----------------------------------------------------------------

BOTH = [POR_CONDOMINIO.name, POR_MORADOR.name]


def publish_set(lake: Path, gold: dict[str, int]) -> None:
    with gold_lock(str(lake)):
        publish(str(lake), "test", gold, silver={})


def served(reader: LakeReader) -> dict[str, int | None]:
    return {table: None if (s := reader.snapshot(table)) is None else s.version.version
            for table in reader.tables}


@pytest.fixture
def pair(lake: Path, clock: FakeClock, tmp_path: Path) -> CountingReader:
    """A reader of two tables (the unit of a set is all the tables)."""
    made = CountingReader(str(lake), refresh_s=2.0, extension_dir=tmp_path / "ext",
                          tables=BOTH, clock=clock)
    made.loaded = []
    return made


def test_the_published_versions_are_served_not_the_latest(
    pair: CountingReader, lake: Path, clock: FakeClock,
) -> None:
    reader = pair
    for version in (0, 1, 2):
        commit(Path(table_path(str(lake), Layer.GOLD, POR_CONDOMINIO.name)), version, MILLIS)
    commit(Path(table_path(str(lake), Layer.GOLD, POR_MORADOR.name)), 0, MILLIS)
    publish_set(lake, {POR_CONDOMINIO.name: 1, POR_MORADOR.name: 0})
    # Version 2 of transacoes_por_condominio is a commit of an update not published yet.
    assert served(reader) == {POR_CONDOMINIO.name: 1, POR_MORADOR.name: 0}
    publish_set(lake, {POR_CONDOMINIO.name: 2, POR_MORADOR.name: 0})
    clock.now += 3.0
    assert served(reader) == {POR_CONDOMINIO.name: 2, POR_MORADOR.name: 0}
    assert reader.loaded == [1, 0, 2]  # an unchanged table is not loaded again
    # All the tables at once, from one set (what /health and /v1/freshness answer from).
    assert {table: None if s is None else s.version.version
            for table, s in reader.snapshots().items()} == served(reader)


def test_a_new_set_is_served_only_once_every_table_of_it_is_read(
    lake: Path, clock: FakeClock, tmp_path: Path,
) -> None:
    reader = FlakyReader(str(lake), refresh_s=2.0, extension_dir=tmp_path / "ext",
                         tables=BOTH, clock=clock)
    reader.loaded, reader.broken = [], {5}
    commit(Path(table_path(str(lake), Layer.GOLD, POR_CONDOMINIO.name)), 1, MILLIS)
    for version in (4, 5):
        commit(Path(table_path(str(lake), Layer.GOLD, POR_MORADOR.name)), version, MILLIS)
    publish_set(lake, {POR_CONDOMINIO.name: 0, POR_MORADOR.name: 4})
    commit(Path(table_path(str(lake), Layer.GOLD, POR_CONDOMINIO.name)), 0, MILLIS)
    assert served(reader) == {POR_CONDOMINIO.name: 0, POR_MORADOR.name: 4}
    publish_set(lake, {POR_CONDOMINIO.name: 1, POR_MORADOR.name: 5})
    clock.now += 3.0
    # Version 5 cannot be read: the previous set stays whole, not condominio 1 + morador 4.
    assert served(reader) == {POR_CONDOMINIO.name: 0, POR_MORADOR.name: 4}
    assert reader.failure(POR_MORADOR.name) == "IOException: cannot read version 5"
    assert reader.failure(POR_CONDOMINIO.name) == (
        "held back with its set, as transacoes_por_morador could not be read")
    reader.broken.clear()
    clock.now += 3.0
    assert served(reader) == {POR_CONDOMINIO.name: 1, POR_MORADOR.name: 5}
    assert reader.failure(POR_MORADOR.name) is None


def test_a_published_set_that_cannot_be_read_keeps_the_served_one(
    pair: CountingReader, lake: Path, clock: FakeClock,
) -> None:
    reader = pair
    for name in BOTH:
        commit(Path(table_path(str(lake), Layer.GOLD, name)), 0, MILLIS)
    publish_set(lake, {POR_CONDOMINIO.name: 0, POR_MORADOR.name: 0})
    assert served(reader) == {POR_CONDOMINIO.name: 0, POR_MORADOR.name: 0}
    (lake / "gold" / PUBLISHED_FILE).write_text('{"number": 2}')  # e.g. written by hand
    clock.now += 3.0
    assert served(reader) == {POR_CONDOMINIO.name: 0, POR_MORADOR.name: 0}
    assert (reader.failure(POR_MORADOR.name) or "").startswith(
        "the published gold set could not be read: ValueError: not a published gold set")
