"""What a job runs against: the settings and, decided once, embedded or external services.

The services and Spark are imported inside the methods that use them: not to dodge a cycle
(they all sit below this layer) but so that `condolake --help` and a DAG file's parse do not
load psycopg, confluent-kafka or pyspark."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from condolake.config import Settings, revealed
from condolake.errors import CondoLakeError
from condolake.services.jars import SPARK_CORE, JarBundle

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from condolake.services.kafka import LocalKafkaBroker
    from condolake.services.postgres import EmbeddedPostgres, SourceDatabase


class Daemon(Protocol):
    """An embedded service: PostgreSQL or the Kafka broker."""

    def is_running(self) -> bool: ...

    def start(self) -> str: ...

    def stop(self) -> None: ...


@contextmanager
def started(daemon: Daemon) -> Iterator[str]:
    """The daemon's address, started if needed and stopped on exit only if started here."""
    started_here = not daemon.is_running()
    address = daemon.start()
    try:
        yield address
    finally:
        if started_here:
            daemon.stop()


@dataclass(frozen=True)
class Resources:
    """The settings of a run and where its services come from.

    `source_url` is the external PostgreSQL source (CONDOLAKE_SOURCE_URL), `kafka_bootstrap`
    the external Kafka cluster (CONDOLAKE_KAFKA_BOOTSTRAP); None means the embedded service
    under the state directory, started by the project when a job needs it.
    """

    settings: Settings
    source_url: SecretStr | None
    kafka_bootstrap: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Resources:
        return cls(settings=settings, source_url=settings.source_url or None,
                   kafka_bootstrap=settings.kafka_bootstrap or None)

    @property
    def source_is_embedded(self) -> bool:
        return self.source_url is None

    @property
    def kafka_is_embedded(self) -> bool:
        return self.kafka_bootstrap is None

    def today(self) -> dt.date:
        """The run date of a run started now: today in the lake's time zone."""
        from condolake.pipelines.runs import today

        return today(self.settings)

    def spark(self, app_name: str, bundles: tuple[JarBundle, ...] = (SPARK_CORE,)) -> SparkSession:
        from condolake.spark import build_spark

        return build_spark(self.settings, app_name, bundles=bundles)

    def embedded_postgres(self) -> EmbeddedPostgres:
        from condolake.services.postgres import EmbeddedPostgres

        return EmbeddedPostgres(self.settings.state_path)

    def local_broker(self) -> LocalKafkaBroker:
        from condolake.services.kafka import LocalKafkaBroker

        return LocalKafkaBroker.from_settings(self.settings)

    @contextmanager
    def source_database(self) -> Iterator[SourceDatabase]:
        """The source database: the external one, or the embedded server (started if needed,
        stopped on exit only if started here)."""
        from condolake.services.postgres import SourceDatabase

        if self.source_url is not None:
            yield SourceDatabase(str(revealed(self.source_url)))
            return
        with started(self.embedded_postgres()) as url:
            yield SourceDatabase(url)

    def running_source(self) -> tuple[SourceDatabase | None, str | None]:
        """The source without starting anything: the external one, or the embedded server
        when it runs. Otherwise (None, why)."""
        from condolake.services.postgres import SourceDatabase

        if self.source_url is not None:
            return SourceDatabase(str(revealed(self.source_url))), None
        server = self.embedded_postgres()
        if server.is_running():
            return SourceDatabase(server.url), None
        return None, ("CONDOLAKE_SOURCE_URL is unset and the embedded PostgreSQL is not running "
                      "(`condolake source start`)")

    @contextmanager
    def kafka(self) -> Iterator[str]:
        """Bootstrap servers: the external cluster, or the local broker (started if needed,
        stopped on exit only if started here)."""
        if self.kafka_bootstrap is not None:
            yield self.kafka_bootstrap
            return
        with started(self.local_broker()) as bootstrap:
            yield bootstrap

    def running_kafka(self) -> str:
        """Bootstrap servers without starting anything; fails when the local broker is down."""
        if self.kafka_bootstrap is not None:
            return self.kafka_bootstrap
        broker = self.local_broker()
        if not broker.is_running():
            raise CondoLakeError(f"the local Kafka broker ({broker.folder}) is not running")
        return broker.bootstrap
