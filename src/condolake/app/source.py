"""The PostgreSQL source: its embedded server, schema, synthetic data, exports, and the
simulator of live changes published to Kafka."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from condolake.app.resources import Resources
from condolake.config import revealed

if TYPE_CHECKING:
    from condolake.source.generator import GenerationReport
    from condolake.source.simulator import SimulationStats

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
             events: int | None, chaos: float, seed: int) -> SimulationStats:
    """Live changes in the PostgreSQL source, published to Kafka as Debezium change events,
    until `duration_s`, `events` or Ctrl-C."""
    from condolake.services.kafka import ensure_topics
    from condolake.source.event_sink import KafkaSink
    from condolake.source.simulator import (
        Simulator,
        require_source,
        source_topics,
        stop_on_interrupt,
    )

    settings = resources.settings
    prefix = settings.kafka_topic_prefix
    with resources.source_database() as db, db.connect() as conn:
        require_source(conn)  # a clear error before any broker is started
        with resources.kafka() as bootstrap:
            ensure_topics(bootstrap, source_topics(prefix), settings.kafka_partitions)
            with KafkaSink(bootstrap) as sink, stop_on_interrupt() as stop:
                simulator = Simulator(conn, sink, prefix=prefix, seed=seed, chaos_share=chaos)
                log.info(f"simulating {rate:g} events/s into {prefix}.public.* on {bootstrap} "
                         "(Ctrl-C stops after the current tick)")
                return simulator.run(rate, duration_s=duration_s, events=events,
                                     stop=stop)
