"""The latency phase's continuous run: the Kafka query at its trigger interval, a producer in
a thread, and a stop once everything produced has gone through.

`run_streams` cannot serve here: it runs until a signal or a fixed deadline, and the time the
pipeline needs to drain is what is being measured. The queries are started the way it starts
them (same writers, same handlers, same checkpoints); this module only decides when to stop.

Drained: the producer has finished, and for SETTLE_TRIGGERS trigger intervals (plus a margin)
no query has run a micro-batch (its last batch id is unchanged) nor is running one with data.
Every query fires at least once per interval, so an upstream commit in that window would have
set the next query running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from condolake.config import Settings
from condolake.errors import CondoLakeError
from condolake.pipelines.errors import root_cause
from condolake.pipelines.stream import StreamError, StreamOptions, prepare, writers
from condolake.streaming.queries import Trigger

Produce = Callable[[threading.Event], None]  # produces until done or until the event is set
POLL_S = 0.5
SETTLE_TRIGGERS = 2
SETTLE_MARGIN_S = 1.0


class BenchmarkError(CondoLakeError):
    """The benchmark could not measure what it set out to."""


@dataclass(frozen=True)
class ContinuousRun:
    seconds: float  # queries started -> stopped
    drained: bool  # False: stopped at the time limit with work left


def start_queries(spark: SparkSession, settings: Settings, bootstrap: str
                  ) -> list[StreamingQuery]:
    """The Kafka query at `settings.stream_trigger_s`, as `condolake stream start` runs it."""
    prepare(spark, settings)
    trigger = Trigger(settings.stream_trigger_s)
    return [start() for _, start in writers(spark, settings, bootstrap,
                                            StreamOptions(landing=False), trigger)]


def first_triggers_done(running: Sequence[StreamingQuery], timeout_s: float,
                        stop: threading.Event) -> bool:
    """Until every query has finished its first trigger (False on timeout or `stop`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        if all(query.lastProgress is not None for query in running):
            return True
        time.sleep(POLL_S)
    return False


def _busy(query: StreamingQuery) -> bool:
    status = query.status
    return bool(status.get("isTriggerActive")) and bool(status.get("isDataAvailable"))


def _batch_ids(running: Sequence[StreamingQuery]) -> tuple[int | None, ...]:
    ids = []
    for query in running:
        last = query.lastProgress
        ids.append(None if last is None else int(last.batchId))
    return tuple(ids)


def _raise_if_failed(running: Sequence[StreamingQuery]) -> None:
    for query in running:
        error = query.exception()
        if error is not None:
            raise StreamError(f"stream {query.name} failed: {root_cause(error)}")


def run_continuously(spark: SparkSession, settings: Settings, bootstrap: str, produce: Produce,
                     *, start_timeout_s: float, drain_limit_s: float) -> ContinuousRun:
    """Starts the queries, runs `produce` in a thread once they all fired, and stops them when
    drained (or `drain_limit_s` after production ended)."""
    stop = threading.Event()
    failures: list[BaseException] = []
    running = start_queries(spark, settings, bootstrap)
    started = time.monotonic()

    def producer() -> None:
        try:
            if not first_triggers_done(running, start_timeout_s, stop):
                raise BenchmarkError(f"the streaming queries did not start within "
                                     f"{start_timeout_s:g} s")
            produce(stop)
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
            failures.append(error)

    thread = threading.Thread(target=producer, name="bench-producer", daemon=True)
    thread.start()
    try:
        drained = _supervise(running, thread, failures, settings.stream_trigger_s,
                             drain_limit_s)
    finally:
        stop.set()
        for query in running:
            query.stop()
        thread.join()
    if failures:
        raise failures[0]
    return ContinuousRun(time.monotonic() - started, drained)


def _supervise(running: Sequence[StreamingQuery], producer: threading.Thread,
               failures: list[BaseException], trigger_s: float, drain_limit_s: float) -> bool:
    """Waits until drained (True) or the limit (False); raises what failed meanwhile."""
    settle_s = SETTLE_TRIGGERS * trigger_s + SETTLE_MARGIN_S
    limit: float | None = None
    quiet_since: float | None = None
    seen = _batch_ids(running)
    while True:
        _raise_if_failed(running)
        if failures:
            raise failures[0]
        now = time.monotonic()
        ids = _batch_ids(running)
        if producer.is_alive() or ids != seen or any(_busy(query) for query in running):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        seen = ids
        if not producer.is_alive():
            limit = now + drain_limit_s if limit is None else limit
            if quiet_since is not None and now - quiet_since >= settle_s:
                return True
            if now >= limit:
                return False
        time.sleep(POLL_S)
