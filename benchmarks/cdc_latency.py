"""Latency of the change data capture benchmark, per committed source transaction (pure).

    commit in PostgreSQL (Debezium's `source.ts_ms`, the transaction's commit time)
      ─▶ in Kafka (the record's timestamp: the broker's append time; the transaction's last
         record counts)
      ─▶ visible in gold (`published_at` of the first gold set published by the micro-batch
         that read the transaction's last record, or by a later one)

A micro-batch's records are those below the end offsets of its checkpoint `offsets/<id>` file
and at or above those of the batch before it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from benchmarks.latency import batch_of_run
from condolake.monitoring.health import Offsets

MS_PER_S = 1000.0
CHANGE_OPS = frozenset({"c", "u", "d"})  # row changes; snapshot reads ("r") are not measured


@dataclass(frozen=True)
class ChangeRecord:
    """One Debezium change record as read back from Kafka."""

    tx_id: int  # PostgreSQL transaction id (`source.txId`)
    committed_ms: int  # `source.ts_ms`: when the transaction committed
    in_kafka_ms: int  # the record's timestamp
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class PublishedSet:
    """A gold set as seen while polling `gold/_published.json`."""

    number: int
    run_id: str
    published_at_s: float  # epoch seconds


@dataclass(frozen=True)
class CdcSample:
    """Seconds per committed source transaction (inf: not in gold when the stream stopped)."""

    to_kafka: tuple[float, ...]
    to_gold: tuple[float, ...]
    records: int  # change records measured (tombstones and snapshot reads left out)


def change_record(topic: str, partition: int, offset: int, timestamp_ms: int,
                  value: bytes | None) -> ChangeRecord | None:
    """The record's transaction and times; None for a tombstone, a snapshot read or a record
    without a transaction id (Debezium's heartbeats and TRUNCATE carry none we measure)."""
    if value is None:
        return None
    event = json.loads(value)
    source = event.get("source") or {}
    tx_id, committed_ms = source.get("txId"), source.get("ts_ms")
    if event.get("op") not in CHANGE_OPS or tx_id is None or committed_ms is None:
        return None
    return ChangeRecord(int(tx_id), int(committed_ms), timestamp_ms, topic, partition, offset)


def batch_of_offset(topic: str, partition: int, offset: int,
                    batch_ends: Mapping[int, Offsets]) -> int | None:
    """The first micro-batch whose end offset (exclusive) for the partition is past `offset`;
    None when no batch read it."""
    for batch_id in sorted(batch_ends):
        end = batch_ends[batch_id].get((topic, partition))
        if end is not None and end > offset:
            return batch_id
    return None


def visible_at(published: Iterable[PublishedSet], query: str) -> list[tuple[int, float]]:
    """(micro-batch id, publish time) of the gold sets `query`'s micro-batches published, in
    batch order; sets published by other runs (the batch loads) are left out."""
    sets = []
    for gold_set in published:
        batch_id = batch_of_run(gold_set.run_id, query)
        if batch_id is not None:
            sets.append((batch_id, gold_set.published_at_s))
    return sorted(sets)


def first_visible(batch_id: int, sets: Sequence[tuple[int, float]]) -> float:
    """When the first gold set of `batch_id` or a later micro-batch was published (each set
    holds everything before it); inf when none was."""
    return next((at for published_by, at in sets if published_by >= batch_id), math.inf)


def missed_sets(numbers: Iterable[int]) -> int:
    """Gold sets published between the first and the last seen but never seen themselves."""
    seen = sorted(set(numbers))
    return (seen[-1] - seen[0] + 1 - len(seen)) if seen else 0


def sample(records: Iterable[ChangeRecord], batch_ends: Mapping[int, Offsets],
           sets: Sequence[tuple[int, float]]) -> CdcSample:
    """Per transaction: commit -> its last record in Kafka, commit -> the first gold set that
    covers the micro-batch of its last-read record."""
    committed: dict[int, int] = {}
    in_kafka: dict[int, int] = {}
    batch: dict[int, float] = {}
    count = 0
    for record in records:
        count += 1
        tx = record.tx_id
        committed[tx] = min(record.committed_ms, committed.get(tx, record.committed_ms))
        in_kafka[tx] = max(record.in_kafka_ms, in_kafka.get(tx, record.in_kafka_ms))
        read_by = batch_of_offset(record.topic, record.partition, record.offset, batch_ends)
        batch[tx] = max(math.inf if read_by is None else float(read_by), batch.get(tx, -1.0))
    to_kafka, to_gold = [], []
    for tx in sorted(committed):
        commit_s = committed[tx] / MS_PER_S
        to_kafka.append(in_kafka[tx] / MS_PER_S - commit_s)
        shown = math.inf if math.isinf(batch[tx]) else first_visible(int(batch[tx]), sets)
        to_gold.append(shown - commit_s)
    return CdcSample(tuple(to_kafka), tuple(to_gold), count)
