"""The streaming path: start the queries, read their state, watch them, reset them."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import TYPE_CHECKING

from condolake.app.resources import Resources

if TYPE_CHECKING:
    from condolake.monitoring.watchdog import WatchResult
    from condolake.pipelines.stream import StreamOptions, StreamReport
    from condolake.streaming.status import QueryState

log = logging.getLogger(__name__)


def start(resources: Resources, options: StreamOptions) -> StreamReport:
    """The streaming queries into bronze, silver, quarantine and gold, until `options` or
    Ctrl-C / SIGTERM stop them; the local Kafka broker is started when Kafka is read and no
    external cluster is configured."""
    from condolake.pipelines.stream import run_streams
    from condolake.services.jars import SPARK_CORE, SPARK_KAFKA
    from condolake.services.kafka import ensure_topics
    from condolake.streaming.queries import topics

    settings = resources.settings
    with ExitStack() as stack:
        bootstrap = None
        if options.kafka:
            bootstrap = stack.enter_context(resources.kafka())
            ensure_topics(bootstrap, topics(settings.kafka_topic_prefix),
                          settings.kafka_partitions)
        spark = resources.spark("condolake-stream", bundles=(SPARK_CORE, SPARK_KAFKA))
        log.info(f"streaming into {settings.lake_path} (trigger {settings.stream_trigger_s} s"
                 + (f", Kafka {bootstrap}" if bootstrap else "")
                 + (f", landing zone {settings.landing_path}" if options.landing else "")
                 + ("; until everything available is processed" if options.once else
                    "; Ctrl-C stops after the current micro-batch") + ")")
        return run_streams(spark, settings, bootstrap, options)


def states(resources: Resources) -> tuple[bool, list[QueryState]]:
    """Whether a stream runs, and each query's last recorded state."""
    from condolake.streaming.queries import QUERY_NAMES
    from condolake.streaming.status import read_states

    return read_states(resources.settings, QUERY_NAMES)


def watch(resources: Resources) -> WatchResult:
    """One check of every streaming query; a dead stream is restarted in the background when
    CONDOLAKE_WATCHDOG_RESTART=1."""
    from condolake.monitoring.watchdog import watch as look

    return look(resources.settings)


def alert(resources: Resources, result: WatchResult) -> None:
    """The watchdog's verdict posted to CONDOLAKE_ALERT_WEBHOOK_URL."""
    from condolake.monitoring.watchdog import alert as post

    post(resources.settings, result)


def reset(resources: Resources, query: str) -> None:
    """A query's checkpoint deleted (or every query's, for 'all'), and the per-key positions
    of its source forgotten, so it reads its source again from the start."""
    from condolake.pipelines.maintenance_plan import POSITION_QUERIES
    from condolake.pipelines.stream_silver import forget_positions
    from condolake.streaming.reset import queries_to_reset, reset_checkpoints

    names = queries_to_reset(query)
    for path in reset_checkpoints(resources.settings, names):
        log.info(f"removed checkpoint {path}")
    forgotten = [source for source, name in POSITION_QUERIES.items() if name in names]
    if forgotten:
        spark = resources.spark("condolake-stream-reset")
        for source in forgotten:
            forget_positions(spark, resources.settings.lake_path, source)
            log.info(f"forgot the per-key positions of {source}: its changes apply again")
