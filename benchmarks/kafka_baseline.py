"""Baseline of the streaming benchmark: a plain Kafka consumer reads the topics end to end.

librdkafka's consumer (confluent-kafka) with a fresh group, no commits, every partition
assigned from its first offset; it counts the records and their bytes and stops at the end
offsets read before it started. Timed from the assignment to the last record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from condolake.errors import KafkaError

CONSUME_BATCH = 10_000
POLL_TIMEOUT_S = 1.0
# topic, partition, offset, timestamp (ms), value: each record, for a caller that keeps them
OnRecord = Callable[[str, int, int, int, bytes | None], None]
STALL_TIMEOUT_S = 60.0  # no record for this long while some are missing: give up
METADATA_TIMEOUT_S = 10.0
CONSUMER_LOG_LEVEL = 3


@dataclass(frozen=True)
class ConsumerRun:
    seconds: float
    records: int
    bytes_read: int  # keys and values


def _partitions(consumer: Consumer, topics: Sequence[str]) -> list[TopicPartition]:
    partitions = []
    for topic in topics:
        described = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S).topics[topic]
        if described.error is not None:
            raise KafkaError(f"topic {topic}: {described.error}")
        partitions += [TopicPartition(topic, p) for p in sorted(described.partitions)]
    return partitions


def read_all(bootstrap: str, topics: Sequence[str], on_record: OnRecord | None = None
             ) -> ConsumerRun:
    """Reads every record of `topics` once and discards it (after `on_record`, when given)."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"condolake-bench-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "log_level": CONSUMER_LOG_LEVEL,
    })
    try:
        ends: dict[tuple[str, int], int] = {}
        for partition in _partitions(consumer, topics):
            _, high = consumer.get_watermark_offsets(partition, timeout=METADATA_TIMEOUT_S)
            if high > 0:
                ends[(partition.topic, partition.partition)] = high
        started = time.perf_counter()
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)
                         for topic, partition in ends])
        records = bytes_read = 0
        last_record = time.monotonic()
        while ends:
            messages = consumer.consume(num_messages=CONSUME_BATCH, timeout=POLL_TIMEOUT_S)
            if messages:
                last_record = time.monotonic()
            elif time.monotonic() - last_record > STALL_TIMEOUT_S:
                raise KafkaError(f"the baseline consumer read nothing for {STALL_TIMEOUT_S:g} s "
                                 f"with {len(ends)} partitions unfinished on {bootstrap}")
            for message in messages:
                if message.error() is not None:
                    raise KafkaError(f"the baseline consumer failed: {message.error()}")
                records += 1
                bytes_read += len(message.key() or b"") + len(message.value() or b"")
                where = (message.topic(), message.partition())
                offset = message.offset()
                if on_record is not None and offset is not None:
                    on_record(message.topic() or "", message.partition() or 0, offset,
                              message.timestamp()[1], message.value())
                if where in ends and offset is not None and offset + 1 >= ends[where]:
                    del ends[where]
        return ConsumerRun(time.perf_counter() - started, records, bytes_read)
    finally:
        consumer.close()
