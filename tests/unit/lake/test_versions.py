"""Delta versions and their commit times, as the API serves them and health reports them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from tests.support.delta_log import commit

from condolake.lake.versions import DeltaVersion, latest_version, version_at

MILLIS = 1_795_000_000_123  # 2026-11-18T11:06:40.123Z


def at(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)


def test_latest_version_is_the_highest_commit(tmp_path: Path) -> None:
    for version in range(11):
        commit(tmp_path, version, MILLIS + version)
    # A commit being written by another writer (not renamed into place yet) is not one.
    (tmp_path / "_delta_log" / f".{11:020d}.json.tmp").write_text("{}")
    assert latest_version(tmp_path) == DeltaVersion(10, at(MILLIS + 10))


def test_commit_time_is_commit_info_timestamp_in_utc(tmp_path: Path) -> None:
    commit(tmp_path, 0, 1_795_000_000_123)
    found = latest_version(tmp_path)
    assert found is not None
    assert found.committed_at == dt.datetime(2026, 11, 18, 11, 6, 40, 123000, tzinfo=dt.UTC)


def test_without_commit_info_the_file_time_is_used(tmp_path: Path) -> None:
    path = commit(tmp_path, 3, None)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    assert latest_version(tmp_path) == DeltaVersion(
        3, dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC))


def test_no_table(tmp_path: Path) -> None:
    assert latest_version(tmp_path / "missing") is None
    (tmp_path / "empty" / "_delta_log").mkdir(parents=True)
    assert latest_version(tmp_path / "empty") is None
    (tmp_path / "file").write_text("")
    assert latest_version(tmp_path / "file") is None


def test_an_older_version_has_its_own_commit_time(tmp_path: Path) -> None:
    for version in range(3):
        commit(tmp_path, version, MILLIS + 1000 * version)
    published_at = at(MILLIS + 5000)
    assert version_at(tmp_path, 1, published_at) == DeltaVersion(1, at(MILLIS + 1000))


def test_a_version_not_in_the_log_is_dated_by_its_publication(tmp_path: Path) -> None:
    published_at = at(MILLIS)
    assert version_at(tmp_path / "missing", 4, published_at) == DeltaVersion(4, published_at)
    commit(tmp_path, 2, MILLIS + 1)
    assert version_at(tmp_path, 7, published_at) == DeltaVersion(7, published_at)
