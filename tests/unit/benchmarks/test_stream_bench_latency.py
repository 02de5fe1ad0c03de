"""The streaming benchmark's latency arithmetic: percentiles, run ids, batch matching."""

from __future__ import annotations

import math

import pytest

from benchmarks.latency import (
    batch_commit_times,
    batch_of_run,
    percentile,
    sample,
    summarize,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)


def test_percentile_of_one_value_and_of_none() -> None:
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None


def test_percentile_reaching_an_unseen_row_is_infinite() -> None:
    values = [1.0, 2.0, 3.0, math.inf]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 95) == math.inf
    assert percentile([math.inf, math.inf], 50) == math.inf


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_summarize_gives_count_percentiles_and_max() -> None:
    summary = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (summary.count, summary.p50, summary.max) == (5, 3.0, 5.0)
    assert summary.p95 == pytest.approx(4.8)
    empty = summarize([])
    assert (empty.count, empty.p50, empty.p95, empty.p99, empty.max) == (0, None, None, None,
                                                                         None)


def test_batch_commit_times_keep_the_last_commit_of_each_batch() -> None:
    commits = [
        ("stream-kafka-1a2b3c4d-00000007:ops.runs", 10.0),
        ("stream-kafka-1a2b3c4d-00000007:ops.runs", 12.5),
        ("stream-kafka-1a2b3c4d-00000008:ops.runs", 20.0),
        ("stream-landing-1a2b3c4d-00000009:ops.runs", 30.0),
        ("batch-20260101:ops.runs", 1.0),
        (None, 2.0),
    ]
    assert batch_commit_times(commits, "kafka") == {7: 12.5, 8: 20.0}


def test_batch_of_run_reads_the_micro_batch_id_of_its_query_only() -> None:
    assert batch_of_run("stream-kafka-1a2b3c4d-00000042", "kafka") == 42
    assert batch_of_run("stream-landing-1a2b3c4d-00000042", "kafka") is None
    assert batch_of_run("batch-20260101T000000-1a2b3c4d", "kafka") is None


def test_sample_measures_from_publish_to_gold_and_to_silver() -> None:
    published = {1: 100.0, 2: 101.0, 4: 103.0}
    silver = {1: (10, 103.0), 2: (11, 104.0), 4: (12, 106.0)}
    visible = {10: 109.0, 11: 111.0}  # batch 12 had not committed when the stream stopped
    result = sample(published, silver, visible, deleted=set())
    assert sorted(result.end_to_end) == [9.0, 10.0, math.inf]
    assert sorted(result.to_silver) == [3.0, 3.0, 3.0]
    assert result.deleted_first == 0


def test_rows_missing_from_silver_are_unseen_unless_deleted_in_the_source() -> None:
    published = {1: 100.0, 2: 101.0, 3: 102.0}
    silver = {1: (10, 103.0)}
    result = sample(published, silver, {10: 105.0}, deleted={2, 99})
    assert sorted(result.end_to_end) == [5.0, math.inf]  # 3: still on its way
    assert sorted(result.to_silver) == [3.0, math.inf]
    assert result.deleted_first == 1
