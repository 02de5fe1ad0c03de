"""When the latency phase stops its queries: drained, at the limit, or on a failure."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from benchmarks.stream_run import _supervise
from condolake.pipelines.stream import StreamError

TINY_TRIGGER_S = 0.01


@dataclass
class Progress:
    batchId: int  # noqa: N815 - the name StreamingQueryProgress uses


@dataclass
class FakeQuery:
    """What the supervisor reads of a StreamingQuery."""

    name: str
    batch_id: int = 0
    busy: bool = False
    error: Exception | None = None

    @property
    def lastProgress(self) -> Progress:  # noqa: N802 - StreamingQuery's name
        return Progress(self.batch_id)

    @property
    def status(self) -> dict[str, Any]:
        return {"isTriggerActive": self.busy, "isDataAvailable": self.busy}

    def exception(self) -> Exception | None:
        return self.error


def finished_producer() -> threading.Thread:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    return thread


def test_quiet_queries_after_production_count_as_drained() -> None:
    queries = [FakeQuery("kafka"), FakeQuery("landing")]
    assert _supervise(queries, finished_producer(), [], TINY_TRIGGER_S, drain_limit_s=30.0)


def test_a_query_still_busy_at_the_limit_is_not_drained() -> None:
    queries = [FakeQuery("kafka"), FakeQuery("kafka", busy=True)]
    assert not _supervise(queries, finished_producer(), [], TINY_TRIGGER_S, drain_limit_s=0.2)


def test_a_failed_query_stops_the_run() -> None:
    queries = [FakeQuery("landing", error=RuntimeError("boom"))]
    with pytest.raises(StreamError, match="stream landing failed"):
        _supervise(queries, finished_producer(), [], TINY_TRIGGER_S, drain_limit_s=30.0)


def test_a_producer_failure_is_raised() -> None:
    with pytest.raises(ValueError, match="no source"):
        _supervise([FakeQuery("kafka")], finished_producer(), [ValueError("no source")],
                   TINY_TRIGGER_S, drain_limit_s=30.0)
