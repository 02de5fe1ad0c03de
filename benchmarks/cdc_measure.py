"""The service side of the change data capture benchmark: topics stamped with the broker's
append time, the gold sets seen while the stream runs, and what it reads back afterwards (the
records from Kafka, the micro-batches' end offsets from the checkpoint)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from benchmarks.cdc_latency import ChangeRecord, PublishedSet, change_record
from benchmarks.kafka_baseline import read_all
from condolake.errors import KafkaError
from condolake.lake.gold_set import read_published
from condolake.layout import checkpoint_path
from condolake.monitoring.health import OFFSETS_DIR, Offsets, parse_offsets_file

log = logging.getLogger(__name__)
POLL_S = 0.05
ADMIN_TIMEOUT_S = 30.0
TIMESTAMP_TYPE = "message.timestamp.type"
LOG_APPEND_TIME = "LogAppendTime"


def stamp_append_time(bootstrap: str, topics: Sequence[str]) -> None:
    """The records of `topics` carry the time the broker appended them, not the producer's."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    resources = [ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry(TIMESTAMP_TYPE, LOG_APPEND_TIME,
                    incremental_operation=AlterConfigOpType.SET)]) for topic in topics]
    for resource, future in admin.incremental_alter_configs(resources).items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - any client error, said in one line
            raise KafkaError(f"could not set {TIMESTAMP_TYPE} of {resource.name}: "
                             f"{error}") from error


class GoldSetPoller:
    """Reads `gold/_published.json` every POLL_S seconds in a thread and keeps each set seen
    (its own `published_at`, so the poll interval only matters for a set replaced before
    the next poll)."""

    def __init__(self, lake_root: str) -> None:
        self._lake_root = lake_root
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-gold-sets", daemon=True)
        self.seen: dict[int, PublishedSet] = {}

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._read()
            time.sleep(POLL_S)

    def _read(self) -> None:
        try:
            current = read_published(self._lake_root)
        except ValueError:  # never half written (atomic replace); a foreign file: skip it
            return
        if current is not None:
            self.seen.setdefault(current.number, PublishedSet(
                current.number, current.run_id, current.published_at.timestamp()))

    @contextmanager
    def running(self) -> Iterator[GoldSetPoller]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            self._read()


def read_changes(bootstrap: str, topics: Sequence[str]) -> list[ChangeRecord]:
    """Every change record of `topics`, from the first offset to the end."""
    records: list[ChangeRecord] = []

    def keep(topic: str, partition: int, offset: int, timestamp_ms: int,
             value: bytes | None) -> None:
        record = change_record(topic, partition, offset, timestamp_ms, value)
        if record is not None:
            records.append(record)

    read_all(bootstrap, topics, on_record=keep)
    return records


def batch_end_offsets(lake_root: str, query: str) -> dict[int, Offsets]:
    """Micro-batch id -> the Kafka offsets it read up to (exclusive), from the checkpoint."""
    folder = Path(checkpoint_path(lake_root, query)) / OFFSETS_DIR
    ends: dict[int, Offsets] = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name.isdigit():
            _, offsets = parse_offsets_file(path.read_text(encoding="utf-8"))
            if offsets is not None:
                ends[int(path.name)] = offsets
    return ends
