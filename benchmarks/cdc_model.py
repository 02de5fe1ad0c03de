"""What the change data capture benchmark measured, as plain data (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmarks.model import Machine, Versions, ratio
from benchmarks.stream_model import DEFAULT_RATE, DEFAULT_TRIGGER_S, Percentiles

DEFAULT_SECONDS = 60.0
DEFAULT_SCALE = 0.01


@dataclass(frozen=True)
class CdcSetup:
    spark_master: str
    shuffle_partitions: int
    kafka_partitions: int
    kafka_broker: str  # embedded Kafka <version>
    connect: str  # Kafka Connect and Debezium versions, and the connector's poll interval
    kafka_client: str  # confluent-kafka and librdkafka, the client that reads the records back


@dataclass(frozen=True)
class Workload:
    """What the generator wrote to PostgreSQL while the stream ran."""

    rate_asked: float  # generator events (row changes) per second
    seconds_asked: float
    seconds: float  # how long it took
    events: int  # generator steps
    rows: int  # row changes (inserts, updates, deletes) committed
    transactions: int
    invalid_rows: int  # rule-breaking rows among them (the generator's mix)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def transactions_per_s(self) -> float:
        return self.transactions / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class CdcLatency:
    trigger_s: float
    stream_s: float  # the continuous run, start-up and drain included
    drained: bool  # False: stopped at the time limit with work left
    records: int  # change records read back from Kafka
    transactions: int  # committed source transactions measured
    not_visible: int  # transactions not in gold yet when the stream stopped
    gold_sets: int  # gold sets the stream published while measuring
    missed_sets: int  # published but replaced before the poller saw them (counts as later)
    to_kafka: Percentiles  # commit -> in Kafka: the baseline
    to_gold: Percentiles  # commit -> visible in gold

    def ratio(self, which: str) -> float:
        """commit -> gold over commit -> Kafka at percentile `which` ("p50", "p95", "p99");
        NaN when either is unknown or infinite."""
        gold, kafka = getattr(self.to_gold, which), getattr(self.to_kafka, which)
        if gold is None or kafka is None or math.isinf(gold) or math.isinf(kafka):
            return math.nan
        return ratio(gold, kafka)


@dataclass(frozen=True)
class CdcBenchmark:
    scale: float
    seed: int
    started_at: str  # local time, ISO 8601, seconds
    wall_s: float  # the whole run, services started and stopped included
    machine: Machine
    versions: Versions
    setup: CdcSetup
    source_rows: dict[str, int]
    workload: Workload
    latency: CdcLatency
    notes: tuple[str, ...] = field(default=())


__all__ = ["DEFAULT_RATE", "DEFAULT_SCALE", "DEFAULT_SECONDS", "DEFAULT_TRIGGER_S",
           "CdcBenchmark", "CdcLatency", "CdcSetup", "Workload"]
