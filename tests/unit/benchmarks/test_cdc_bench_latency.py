"""The change data capture benchmark's latencies: records, micro-batches and gold sets."""

from __future__ import annotations

import json
import math

from benchmarks.cdc_latency import (
    ChangeRecord,
    PublishedSet,
    batch_of_offset,
    change_record,
    first_visible,
    missed_sets,
    sample,
    visible_at,
)

TOPIC = "condomanage.public.transacoes"
OTHER = "condomanage.public.imoveis"


def event(op: str, tx_id: int | None, ts_ms: int) -> bytes:
    return json.dumps({"op": op, "after": {"transacao_id": 1},
                       "source": {"txId": tx_id, "ts_ms": ts_ms, "lsn": 99}}).encode()


def test_a_change_record_carries_its_transaction_and_times() -> None:
    assert change_record(TOPIC, 1, 7, 1_500, event("u", 812, 1_200)) == ChangeRecord(
        812, 1_200, 1_500, TOPIC, 1, 7)


def test_tombstones_snapshot_reads_and_records_without_a_transaction_are_left_out() -> None:
    assert change_record(TOPIC, 0, 0, 1, None) is None
    assert change_record(TOPIC, 0, 0, 1, event("r", 5, 1)) is None
    assert change_record(TOPIC, 0, 0, 1, event("c", None, 1)) is None


ENDS = {0: {(TOPIC, 0): 3}, 1: {(TOPIC, 0): 3, (OTHER, 0): 2}, 2: {(TOPIC, 0): 10, (OTHER, 0): 2}}


def test_a_record_belongs_to_the_first_batch_past_its_offset() -> None:
    assert [batch_of_offset(TOPIC, 0, offset, ENDS) for offset in (0, 2, 3, 9, 10)] == [
        0, 0, 2, 2, None]
    assert batch_of_offset(OTHER, 0, 1, ENDS) == 1
    assert batch_of_offset(OTHER, 1, 0, ENDS) is None


def test_only_the_streams_gold_sets_count_in_batch_order() -> None:
    published = [PublishedSet(3, "stream-kafka-ab12-00000004", 104.0),
                 PublishedSet(1, "batch-20261206-1", 90.0),
                 PublishedSet(2, "stream-kafka-ab12-00000002", 102.0)]
    assert visible_at(published, "kafka") == [(2, 102.0), (4, 104.0)]


def test_a_batch_without_its_own_set_is_visible_with_the_next() -> None:
    sets = [(2, 102.0), (4, 104.0)]
    assert [first_visible(batch_id, sets) for batch_id in (0, 2, 3, 4, 5)] == [
        102.0, 102.0, 104.0, 104.0, math.inf]


def test_missed_sets_are_the_gaps_between_the_numbers_seen() -> None:
    assert (missed_sets([]), missed_sets([4]), missed_sets([3, 4, 7])) == (0, 0, 2)


def test_each_transaction_is_measured_once_at_its_last_record() -> None:
    records = [
        # transaction 10: two records, the second in Kafka later and read by batch 2
        ChangeRecord(10, 1_000, 1_050, TOPIC, 0, 2),
        ChangeRecord(10, 1_000, 1_250, TOPIC, 0, 3),
        # transaction 11: read by batch 0, which published no set: visible with batch 2's
        ChangeRecord(11, 1_100, 1_175, OTHER, 0, 0),
        # transaction 12: never read by a micro-batch
        ChangeRecord(12, 1_500, 1_600, TOPIC, 0, 10),
    ]
    ends = {0: {(TOPIC, 0): 3, (OTHER, 0): 1}, 2: {(TOPIC, 0): 10, (OTHER, 0): 1}}
    measured = sample(records, ends, [(2, 4.0)])
    assert measured.records == 4
    assert [round(value, 3) for value in measured.to_kafka] == [0.25, 0.075, 0.1]
    assert [round(value, 3) for value in measured.to_gold[:2]] == [3.0, 2.9]
    assert math.isinf(measured.to_gold[2])
