"""Where the simulator's change events go: a small interface and its Kafka implementation."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from condolake.errors import CondoLakeError

FLUSH_TIMEOUT_S = 60.0
QUEUE_FULL_WAIT_S = 0.5
PRODUCER_CONFIG: dict[str, Any] = {
    # No duplicates or reordering from the producer's own retries: per-key order is the contract.
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    # Kafka Connect's (Java) partitioner, so a key lands where Debezium would put it.
    "partitioner": "murmur2_random",
    # Warnings such as "coordinator load in progress: retrying" on a fresh broker are noise;
    # lost records surface through the delivery callbacks.
    "log_level": 3,
}


class DeliveryError(CondoLakeError):
    """Kafka did not acknowledge every event."""


class EventSink(Protocol):
    def publish(self, topic: str, key: bytes, value: bytes | None) -> None:
        """Send one record (a None value is a tombstone)."""

    def flush(self) -> None:
        """Wait until every record sent is acknowledged; raise DeliveryError if one was not."""


class KafkaSink:
    """`confluent_kafka.Producer` behind EventSink; fails loudly on the first lost record.

    Use it as a context manager: it closes the producer on exit, before a broker started for
    the run is stopped (after an error, unsent records are dropped rather than waited for).
    """

    def __init__(self, bootstrap: str, *, config: dict[str, Any] | None = None) -> None:
        from confluent_kafka import Producer

        self._producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG,
                                   **(config or {})})
        self._failures: list[str] = []

    def publish(self, topic: str, key: bytes, value: bytes | None) -> None:
        self._raise_failures()
        while True:
            try:
                self._producer.produce(topic, key=key, value=value, on_delivery=self._delivered)
                break
            except BufferError:  # the local queue is full: let it drain a little
                self._producer.poll(QUEUE_FULL_WAIT_S)
        self._producer.poll(0)

    def flush(self) -> None:
        remaining = self._producer.flush(FLUSH_TIMEOUT_S)
        self._raise_failures()
        if remaining:
            raise DeliveryError(f"{remaining} events not acknowledged by Kafka after "
                                f"{FLUSH_TIMEOUT_S:.0f} s")

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        failure: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if failure is not None:
            self._producer.purge()
        self._producer.close()

    def _delivered(self, failure: Any, message: Any) -> None:
        if failure is not None:
            self._failures.append(f"{message.topic()}: {failure}")

    def _raise_failures(self) -> None:
        if self._failures:
            first = self._failures[0]
            raise DeliveryError(f"{len(self._failures)} events were not delivered; first: {first}")
