"""PostgreSQL snapshots as the batch records them (pure)."""

from __future__ import annotations

import pytest

from condolake.ingestion.postgres import Snapshot


@pytest.mark.parametrize(("text", "expected"), [
    ("748:748:", Snapshot(748, 748, ())),
    ("10:20:10,14,15", Snapshot(10, 20, (10, 14, 15))),
])
def test_snapshot_text_round_trips(text: str, expected: Snapshot) -> None:
    assert Snapshot.parse(text) == expected
    assert str(expected) == text


def test_a_snapshot_sees_what_committed_before_it_and_is_not_running() -> None:
    snapshot = Snapshot.parse("10:20:10,14")
    assert [xid for xid in range(8, 23) if snapshot.sees(xid)] == [
        8, 9, 11, 12, 13, 15, 16, 17, 18, 19]


def test_a_malformed_snapshot_is_refused_with_its_text() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL snapshot: '10:x'"):
        Snapshot.parse("10:x")
