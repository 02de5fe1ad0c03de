"""The PostgreSQL source: its embedded server, schema, synthetic data, exports, and the
workload generator of live changes (publishing them directly only as a test tool)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from condolake.app.resources import Resources
from condolake.config import revealed
from condolake.errors import InputError, SourceUnavailableError

if TYPE_CHECKING:
    from condolake.services.database_url import SourceDatabase
    from condolake.source.generator import GenerationReport
    from condolake.source.simulator import SimulationStats
    from condolake.source.simulator_db import Connection

log = logging.getLogger(__name__)


def start_server(resources: Resources) -> str | None:
    """The embedded PostgreSQL started (its URL); None when the source is external."""
    if not resources.source_is_embedded:
        return None
    return resources.embedded_postgres().start()


def stop_server(resources: Resources) -> bool:
    """Stops the embedded PostgreSQL; False when it was not running."""
    server = resources.embedded_postgres()
    if not server.is_running():
        return False
    server.stop()
    return True


def init_schema(resources: Resources, *, drop: bool) -> None:
    """The four source tables (schema.sql, verbatim), dropped first when `drop`."""
    from condolake.source.ddl import init_schema as create

    with resources.source_database() as db, db.connect() as conn:
        create(conn, drop_existing=drop)


def generate(resources: Resources, *, scale: float, seed: int, invalid_share: float,
             replace: bool) -> GenerationReport:
    """The source filled with synthetic Brazilian data (COPY)."""
    from condolake.source.generator import generate as fill

    with resources.source_database() as db, db.connect() as conn:
        return fill(conn, scale=scale, seed=seed, invalid_share=invalid_share,
                    replace=replace)


def append(resources: Resources, *, transactions: int, seed: int) -> tuple[int, int]:
    """New valid transactions; the first and last new transacao_id."""
    from condolake.source.generator import append_transactions

    with resources.source_database() as db, db.connect() as conn:
        return append_transactions(conn, count=transactions, seed=seed)


def export_csv(resources: Resources, table: str, path: Path, *, delimiter: str, encoding: str,
               decimal: str) -> str:
    """A source table written to a CSV file, in key order; the table's name."""
    from condolake.ingestion.csv_reader import write_csv
    from condolake.source.export import table_rows
    from condolake.source.tables import source_table

    declared = source_table(table)
    with resources.source_database() as db, db.connect() as conn:
        write_csv(path, declared, table_rows(conn, declared), delimiter=delimiter,
                  encoding=encoding, decimal=decimal)
    return declared.name


def serve_api(resources: Resources, host: str, port: int) -> None:
    """The source tables as a paginated JSON API, until interrupted."""
    from condolake.source.api_server import serve_forever

    with resources.source_database() as db:
        log.info(f"serving the source tables on http://{host}:{port}/<table>")
        serve_forever(db.url, host, port, revealed(resources.settings.api_token))


def simulate(resources: Resources, *, rate: float, duration_s: float | None,
             events: int | None, seed: int, invalid_share: float = 0.0,
             publish: bool = False, chaos: float = 0.0) -> SimulationStats:
    """A workload in the PostgreSQL source (inserts, updates, deletes, new residents and
    properties, rule-breaking rows) until `duration_s`, `events`, Ctrl-C or SIGTERM.

    With `publish` (a test tool), the changes are also published to Kafka directly as Debezium
    change events, with `chaos` (malformed, duplicate, late, out-of-order records), the
    direct publisher's mix and one transaction per tick, without a connector.
    """

    if chaos and not publish:
        raise InputError("--chaos injects Kafka-level faults and needs --publish; for "
                         "rule-breaking rows in PostgreSQL use --invalid-share")
    with resources.source_database() as db, _connection(db) as conn:
        if publish:
            return _simulate_published(resources, conn, rate=rate, duration_s=duration_s,
                                       events=events, seed=seed, invalid_share=invalid_share,
                                       chaos=chaos)
        from condolake.source.simulator import Simulator, stop_on_interrupt

        with stop_on_interrupt() as stop:
            simulator = Simulator(conn, seed=seed, invalid_share=invalid_share)
            log.info(f"writing {rate:g} events/s into {db.redacted_url} (PostgreSQL only; "
                     "Ctrl-C stops after the current tick)")
            with _reachable(simulator.stats):
                return simulator.run(rate, duration_s=duration_s, events=events, stop=stop)


def _simulate_published(resources: Resources, conn: Connection, *, rate: float,
                        duration_s: float | None, events: int | None, seed: int,
                        invalid_share: float, chaos: float) -> SimulationStats:
    from condolake.services.kafka import ensure_topics
    from condolake.source.event_sink import KafkaSink
    from condolake.source.simulator import (
        Simulator,
        require_source,
        source_topics,
        stop_on_interrupt,
    )
    from condolake.source.simulator_plan import DIRECT_MIX
    from condolake.source.simulator_publish import Publishing

    settings = resources.settings
    prefix = settings.kafka_topic_prefix
    require_source(conn)  # a clear error before any broker is started
    with resources.kafka() as bootstrap:
        ensure_topics(bootstrap, source_topics(prefix), settings.kafka_partitions)
        with KafkaSink(bootstrap) as sink, stop_on_interrupt() as stop:
            simulator = Simulator(conn, seed=seed, invalid_share=invalid_share, mix=DIRECT_MIX,
                                  publish=Publishing(sink, prefix, chaos_share=chaos))
            log.info(f"simulating {rate:g} events/s into {prefix}.public.* on {bootstrap}, "
                     "published directly (test tool; Ctrl-C stops after the current tick)")
            with _reachable(simulator.stats):
                return simulator.run(rate, duration_s=duration_s, events=events, stop=stop)


@contextmanager
def _connection(db: SourceDatabase) -> Iterator[Connection]:
    """A connection to the source; a clear error when it cannot be reached."""
    import psycopg


    try:
        conn = db.connect()
    except psycopg.OperationalError as failure:
        raise SourceUnavailableError(
            f"cannot reach the PostgreSQL source at {db.redacted_url}: "
            f"{_first_line(failure)}; start it (`condolake source start`) or fix "
            "CONDOLAKE_SOURCE_URL") from None
    with conn:
        yield conn


@contextmanager
def _reachable(stats: SimulationStats) -> Iterator[None]:
    """The source lost mid-run reads as a clear error that says how far the run got."""
    import psycopg


    try:
        yield
    except psycopg.OperationalError as failure:
        raise SourceUnavailableError(
            f"lost the PostgreSQL source after {stats.events:,} events in "
            f"{stats.transactions:,} committed transactions ({_first_line(failure)}); the "
            "transaction in progress was rolled back") from None


def _first_line(failure: Exception) -> str:
    text = str(failure).strip()
    return text.splitlines()[0] if text else "no answer"
