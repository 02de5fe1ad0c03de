"""Change data capture: Debezium's PostgreSQL connector on Kafka Connect, set up and run by the
project (`condolake cdc start|stop|status|check`).

With CONDOLAKE_CONNECT_URL unset, an embedded standalone worker runs under the state
directory; set, the connector is submitted to that Connect cluster and nothing is started.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from condolake.app.resources import Resources
from condolake.errors import CondoLakeError
from condolake.source.debezium import topic_name

if TYPE_CHECKING:
    from condolake.services.kafka_connect import (
        ConnectClient,
        ConnectorStatus,
        ConnectState,
        LocalKafkaConnect,
    )
    from condolake.services.postgres import SourceDatabase
    from condolake.source.replication import Prerequisite

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.25
SLOT_QUERY = "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND database = %s"


class CdcError(CondoLakeError):
    """Change data capture could not be set up or did not start."""


def connector_config(resources: Resources, db: SourceDatabase) -> dict[str, str]:
    """The connector's configuration for `db` (its password as a `${env:…}` reference)."""
    from condolake.source.connector import ConnectorDatabase
    from condolake.source.connector import connector_config as generate

    return generate(resources.settings, ConnectorDatabase.of(db))


def printable_config(resources: Resources) -> dict[str, Any]:
    """`{"name", "config"}` as `POST /connectors` takes it, for an external Connect cluster;
    nothing is started (the embedded PostgreSQL's address is that of its last start)."""
    return {"name": resources.settings.cdc_connector,
            "config": connector_config(resources, _source_without_starting(resources))}


def check(resources: Resources) -> list[Prerequisite]:
    """Each prerequisite of logical replication on the source, ok or with its fix."""
    from condolake.source.replication import check_prerequisites

    settings = resources.settings
    with resources.source_database() as db:
        return check_prerequisites(db, publication=settings.cdc_publication,
                                   slot=settings.cdc_slot)


def start(resources: Resources, *, handover: bool = True) -> str:
    """Prepare the source (embedded) or check it (external), start the embedded worker unless
    CONDOLAKE_CONNECT_URL is set, register the connector and wait until it streams (the slot
    exists); then, with `handover`, the handover load (`handover_load`). One line saying what
    runs and what the load did.

    Idempotent: a second start finds everything running and runs the (incremental) handover
    load again."""
    from condolake.services.kafka import ensure_topics
    from condolake.source.connector import PASSWORD_VARIABLE, captured_topics

    settings = resources.settings
    db = _running_source(resources)
    _prepare(resources, db)
    bootstrap = _running_kafka(resources)
    ensure_topics(bootstrap, captured_topics(settings.kafka_topic_prefix),
                  settings.kafka_partitions)
    if settings.connect_url is not None:
        client = _client(resources)
    else:
        worker = _worker(resources)
        began = time.monotonic()
        worker.start(bootstrap, {PASSWORD_VARIABLE: db.jdbc_credentials().get("password", "")})
        log.info(f"Kafka Connect answers on {worker.url} ({time.monotonic() - began:.1f} s)")
        client = worker.client()
    name = settings.cdc_connector
    client.put_config(name, connector_config(resources, db))
    status = client.status(name)
    if status is not None and status.paused:
        client.resume(name)
    if status is not None and status.failed:  # an unchanged config does not restart a task
        log.info(f"restarting the failed connector {name}")
        client.restart_failed(name)
    status = wait_until_streaming(client, name, db, settings.cdc_slot, START_TIMEOUT_S)
    line = (f"{name} {status.describe()} on {client.url}: {db.database} -> "
            f"{topic_name(settings.kafka_topic_prefix, '<table>')} through slot "
            f"{settings.cdc_slot}")
    if not handover:
        return (line + "; no handover load (run `condolake batch --handover` before the "
                "stream applies changes, or the lake misses what changed before the slot)")
    return line + "; " + handover_load(resources)


def handover_load(resources: Resources) -> str:
    """The batch load that hands the lake over to the change stream, once the slot exists
    (ADR 0018): an incremental load in one snapshot that also removes the silver rows whose
    key PostgreSQL no longer has, and updates gold; what it did, in a few words. A failure is
    a CdcError that says the connector keeps streaming and how to retry."""
    from condolake.app.jobs import batch
    from condolake.pipelines.runs import PipelineError

    log.info("handover load: reading PostgreSQL in one snapshot now that the slot exists")
    try:
        run = batch(resources, resources.today(), handover=True)
    except PipelineError as error:
        raise CdcError(f"the connector streams, but the handover load failed: {error}\n"
                       "Run `condolake cdc start` again (or `condolake batch --handover`) "
                       "before relying on the lake: without it, changes from before the slot "
                       "are missing.") from error
    summary = (f"handover load {run.run_id}: {run.total('rows_read'):,} rows read, "
               f"{run.total('rows_valid'):,} valid, {run.total('rows_quarantined'):,} "
               "quarantined")
    log.info(summary)
    return summary


def stop(resources: Resources) -> str:
    """Stop the embedded worker (an external cluster's connector is paused); the offsets and
    the slot stay, so the next `start` resumes where this one stopped."""
    settings = resources.settings
    if settings.connect_url is not None:
        client = _client(resources)
        if client.status(settings.cdc_connector) is None:
            return f"{settings.cdc_connector} is not registered on {client.url}"
        client.pause(settings.cdc_connector)
        return f"{settings.cdc_connector} paused on {client.url} (resume with `cdc start`)"
    worker = _worker(resources)
    if not worker.is_running():
        return "the Kafka Connect worker is not running"
    worker.stop()
    return (f"Kafka Connect worker stopped; offsets kept in {worker.offsets_file}, the slot "
            f"{settings.cdc_slot} keeps WAL until `condolake cdc start`")


def state(resources: Resources) -> ConnectState:
    """The connector's state, without starting anything."""
    from condolake.services.kafka_connect import connect_state

    return connect_state(resources.settings)


def wait_until_streaming(client: ConnectClient, name: str, db: SourceDatabase, slot: str,
                         timeout_s: float) -> ConnectorStatus:
    """Polls until the connector and its tasks run and the slot exists; CdcError with the
    task's trace when it fails, or when `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        status = client.status(name)
        if status is not None and status.failed:
            raise CdcError(f"connector {name} failed on {client.url}:\n{status.failure()}")
        if status is not None and status.running and _slot_exists(db, slot):
            return status
        time.sleep(POLL_INTERVAL_S)
    seen = "not registered" if status is None else status.describe()
    raise CdcError(f"connector {name} on {client.url} is not streaming after {timeout_s:g} s "
                   f"({seen}; slot {slot} {'exists' if _slot_exists(db, slot) else 'missing'})")


def _slot_exists(db: SourceDatabase, slot: str) -> bool:
    with db.connect(autocommit=True) as conn:
        return conn.execute(SLOT_QUERY, (slot, db.database)).fetchone() is not None


def _prepare(resources: Resources, db: SourceDatabase) -> None:
    """Embedded: replica identity and publication set up here. Both: every prerequisite
    checked, and a CdcError listing the failing ones with their fix."""
    from condolake.source.replication import check_prerequisites, prepare_source

    settings = resources.settings
    if resources.source_is_embedded:
        prepare_source(db, publication=settings.cdc_publication)
    failing = [item for item in check_prerequisites(db, publication=settings.cdc_publication,
                                                    slot=settings.cdc_slot) if not item.ok]
    if failing:
        lines = [f"  {item.name}: found {item.found}" + (f"; fix: {item.fix}" if item.fix
                                                         else "") for item in failing]
        raise CdcError(f"{db.redacted_url} is not ready for logical replication "
                       f"(`condolake cdc check` lists every prerequisite):\n" + "\n".join(lines))


def _running_source(resources: Resources) -> SourceDatabase:
    """The external source, or the embedded PostgreSQL started if needed and left running
    (the connector reads it for as long as CDC runs)."""
    db, _ = resources.running_source()
    if db is not None:
        return db
    from condolake.services.postgres import SourceDatabase

    server = resources.embedded_postgres()
    log.info("starting the embedded PostgreSQL for the connector (stop it with "
             "`condolake source stop`)")
    return SourceDatabase(server.start())


def _source_without_starting(resources: Resources) -> SourceDatabase:
    from condolake.services.postgres import SourceDatabase

    db, _ = resources.running_source()
    return db if db is not None else SourceDatabase(resources.embedded_postgres().url)


def _running_kafka(resources: Resources) -> str:
    """The external Kafka, or the local broker started if needed and left running."""
    if resources.kafka_is_embedded and not resources.local_broker().is_running():
        log.info("starting the local Kafka broker for the connector (stop it with "
                 "`condolake broker stop`)")
        return resources.local_broker().start()
    return resources.running_kafka()


def _worker(resources: Resources) -> LocalKafkaConnect:
    from condolake.services.kafka_connect import LocalKafkaConnect

    return LocalKafkaConnect.from_settings(resources.settings)


def _client(resources: Resources) -> ConnectClient:
    from condolake.services.kafka_connect import ConnectClient

    url = resources.settings.connect_url
    if url is None:
        return _worker(resources).client()
    return ConnectClient(url)
