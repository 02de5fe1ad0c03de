"""The streaming benchmark's latency arithmetic: percentiles, offsets, batch matching."""

from __future__ import annotations

import json
import math

import pytest

from condolake.bench.latency import (
    GoldBatch,
    SourceOffset,
    batch_commit_times,
    covers,
    percentile,
    sample,
    source_offset,
    summarize,
    visible_at,
)

TRANSACOES_ID = "7f3c0000-0000-0000-0000-000000000004"


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


def offsets_file(*sources: dict[str, object] | None) -> str:
    lines = ["v1", json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 1})]
    lines += ["-" if source is None else json.dumps(source) for source in sources]
    return "\n".join(lines)


def delta_offset(reservoir_id: str, version: int, index: int) -> dict[str, object]:
    return {"sourceVersion": 1, "reservoirId": reservoir_id, "reservoirVersion": version,
            "index": index, "isStartingVersion": False}


def test_source_offset_finds_the_table_among_the_sources() -> None:
    text = offsets_file(delta_offset("other", 3, -1), None,
                        delta_offset(TRANSACOES_ID, 12, 4))
    assert source_offset(text, TRANSACOES_ID) == SourceOffset(12, 4)
    assert source_offset(text, "missing") is None


def test_covers_whole_versions_only_up_to_the_end_offset() -> None:
    assert covers(SourceOffset(10, -1), 9)
    assert not covers(SourceOffset(10, -1), 10)
    assert covers(SourceOffset(10, 0), 10)
    assert covers(SourceOffset(10, 2**63 - 1), 10)
    assert not covers(SourceOffset(10, 5), 11)


def test_visible_at_is_the_first_covering_batch() -> None:
    batches = [GoldBatch(5, SourceOffset(20, -1), 105.0), GoldBatch(4, SourceOffset(15, -1),
                                                                    100.0)]
    assert visible_at(14, batches) == 100.0
    assert visible_at(15, batches) == 105.0
    assert visible_at(20, batches) is None


def test_a_covering_batch_that_never_committed_is_not_visible() -> None:
    assert visible_at(3, [GoldBatch(1, SourceOffset(5, -1), None)]) is None


def test_batch_commit_times_keep_the_last_commit_of_each_batch() -> None:
    commits = [
        ("stream-silver_gold-1a2b3c4d-00000007:gold.transacoes_por_condominio", 10.0),
        ("stream-silver_gold-1a2b3c4d-00000007:gold.transacoes_diarias_por_tipo", 12.5),
        ("stream-silver_gold-1a2b3c4d-00000008:gold.transacoes_por_morador", 20.0),
        ("stream-kafka_silver-1a2b3c4d-00000009:silver.transacoes", 30.0),
        ("batch-20260101:gold.transacoes_por_morador", 1.0),
        (None, 2.0),
    ]
    assert batch_commit_times(commits, "silver_gold") == {7: 12.5, 8: 20.0}


def test_sample_measures_from_publish_to_gold_and_to_silver() -> None:
    published = {1: 100.0, 2: 101.0, 4: 103.0}
    silver = {1: (10, 103.0), 2: (11, 104.0), 4: (12, 106.0)}
    batches = [GoldBatch(0, SourceOffset(11, 0), 110.0)]  # 12 not covered before the stop
    result = sample(published, silver, batches, deleted=set())
    assert sorted(result.end_to_end) == [9.0, 10.0, math.inf]
    assert sorted(result.to_silver) == [3.0, 3.0, 3.0]
    assert result.deleted_first == 0


def test_rows_missing_from_silver_are_unseen_unless_deleted_in_the_source() -> None:
    published = {1: 100.0, 2: 101.0, 3: 102.0}
    silver = {1: (10, 103.0)}
    batches = [GoldBatch(0, SourceOffset(10, 0), 105.0)]
    result = sample(published, silver, batches, deleted={2, 99})
    assert sorted(result.end_to_end) == [5.0, math.inf]  # 3: still on its way
    assert sorted(result.to_silver) == [3.0, math.inf]
    assert result.deleted_first == 1
