"""The published gold set: its file, its numbering, forgetting what gold reflects, the lock."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import pytest

from condolake.errors import ConfigError
from condolake.lake.gold_set import (
    LOCK_FILE,
    PUBLISHED_FILE,
    compacted,
    forget_silver,
    gold_lock,
    publish,
    read_published,
)
from condolake.pipelines.gold import follows

GOLD = {"transacoes_por_condominio": 4, "transacoes_por_morador": 7}
SILVER = {"condominios": 2, "transacoes": 11}


def test_nothing_is_published_in_a_new_lake(tmp_path: Path) -> None:
    assert read_published(str(tmp_path)) is None


def test_each_publication_is_read_back_and_numbered(tmp_path: Path) -> None:
    lake = str(tmp_path)
    with gold_lock(lake):
        first = publish(lake, "batch-1", GOLD, SILVER)
    assert (first.number, first.run_id, dict(first.gold), first.silver) == (
        1, "batch-1", GOLD, SILVER)
    assert read_published(lake) == first
    with gold_lock(lake):
        second = publish(lake, "stream-kafka-2", {**GOLD, "transacoes_por_morador": 8}, SILVER)
    assert read_published(lake) == second
    assert second.number == 2 and second.gold["transacoes_por_morador"] == 8
    # Replaced whole: no temporary file is left next to it.
    assert sorted(p.name for p in (tmp_path / "gold").iterdir()) == [PUBLISHED_FILE, LOCK_FILE]


def test_forgetting_keeps_the_marts_versions_and_drops_the_watermark(tmp_path: Path) -> None:
    lake = str(tmp_path)
    with gold_lock(lake):
        published = publish(lake, "batch-1", GOLD, SILVER)
        forget_silver(lake)
    forgotten = read_published(lake)
    assert forgotten is not None
    assert (forgotten.number, dict(forgotten.gold), forgotten.silver) == (
        published.number, GOLD, None)


def test_forgetting_in_a_new_lake_publishes_nothing(tmp_path: Path) -> None:
    with gold_lock(str(tmp_path)):
        forget_silver(str(tmp_path))
    assert read_published(str(tmp_path)) is None


def test_an_object_store_lake_has_no_set_and_cannot_take_the_lock() -> None:
    assert read_published("s3a://bucket/lake") is None
    with pytest.raises(ConfigError, match="local file system"), gold_lock("s3a://bucket/lake"):
        pass


def _hold_lock(lake: str, held: EventType, release: EventType) -> None:
    with gold_lock(lake):
        held.set()
        release.wait(60)


def test_the_lock_excludes_another_process(tmp_path: Path) -> None:
    lake = str(tmp_path)
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(lake, held, release))
    holder.start()
    try:
        assert held.wait(60)
        with (tmp_path / "gold" / LOCK_FILE).open("a") as handle:
            with pytest.raises(BlockingIOError):  # taken by the other process
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            release.set()
            holder.join(60)
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once it is gone
    finally:
        release.set()
        holder.join(60)
    assert holder.exitcode == 0


def test_the_lock_excludes_another_thread_of_the_process(tmp_path: Path) -> None:
    lake, events = str(tmp_path), []
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with gold_lock(lake):
            events.append("first holds")
            held.set()
            release.wait(60)
            events.append("first releases")

    def waiter() -> None:
        with gold_lock(lake):
            events.append("second holds")

    first = threading.Thread(target=holder, daemon=True)
    second = threading.Thread(target=waiter, daemon=True)
    first.start()
    try:
        assert held.wait(60)
        second.start()
        second.join(0.5)  # it cannot get the lock while the first thread holds it
        assert second.is_alive() and events == ["first holds"]
    finally:
        release.set()
    first.join(60)
    second.join(60)
    assert events == ["first holds", "first releases", "second holds"]


def test_compaction_moves_only_marts_whose_latest_version_is_published() -> None:
    published = {"a": 4, "b": 7, "c": 2}
    before = {"a": 4, "b": 8, "c": 2}  # b has a commit of an update that stopped midway
    after = {"a": 5, "b": 9, "c": 2}  # c had one file: OPTIMIZE committed nothing
    assert compacted(published, before, after) == {"a": 5, "b": 7, "c": 2}


@pytest.mark.parametrize(("since", "until", "expected"), [
    pytest.param({"condominios": 3}, {"condominios": 3, "transacoes": 0}, True, id="unchanged"),
    pytest.param({"condominios": 3}, {"condominios": 9}, True, id="newer"),
    pytest.param({}, {"condominios": 1}, True, id="a-new-table"),
    pytest.param({"condominios": 3}, {"condominios": 2}, False, id="made-again"),
    pytest.param({"condominios": 3}, {}, False, id="gone"),
])
def test_the_change_feed_follows_only_forward(since: dict[str, int], until: dict[str, int],
                                             expected: bool) -> None:
    assert follows(since, until) is expected
