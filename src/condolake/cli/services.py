"""`condolake cluster …` (a local Spark standalone cluster) and `condolake broker …` (a local
Kafka broker, unless an external cluster is configured)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from condolake.cli.base import command, group, resources
from condolake.console import results

log = logging.getLogger(__name__)

cluster = group("a local Spark standalone cluster (Master and Workers from the pyspark "
                "distribution)", short_help="a local Spark standalone cluster")
broker = group("a local single-node Apache Kafka broker (KRaft), data under <state_dir>/kafka; "
               "with CONDOLAKE_KAFKA_BOOTSTRAP set, the external cluster is used instead and "
               "nothing is started", short_help="a local Kafka broker for the streaming path")


def register(root: typer.Typer) -> None:
    root.add_typer(cluster, name="cluster")
    root.add_typer(broker, name="broker")


@command(cluster, "start", "start a Master and Workers on loopback and leave them running")
def cluster_start(
    workers: Annotated[int, typer.Option()] = 1,
    cores: Annotated[int, typer.Option(help="cores per worker")] = 1,
    memory: Annotated[str, typer.Option(help="memory per worker (e.g. 2g)")] = "2g",
) -> None:
    from condolake.services.spark_cluster import LocalSparkCluster

    local = LocalSparkCluster(resources().settings.state_path, workers=workers,
                              cores_per_worker=cores, memory_per_worker=memory)
    log.info(f"starting a local Spark cluster in {local.folder}")
    results.print(local.start())
    log.info(f"master UI {local.webui_url}; use CONDOLAKE_SPARK_MASTER={local.master_url}")


@command(cluster, "stop", "stop the local Spark cluster")
def cluster_stop() -> None:
    from condolake.services.spark_cluster import LocalSparkCluster

    local = LocalSparkCluster(resources().settings.state_path)
    if local.is_running():
        local.stop()
        log.info("local Spark cluster stopped")
    else:
        log.info("the local Spark cluster is not running")


@command(cluster, "status", "workers and applications of the local Spark cluster")
def cluster_status() -> None:
    from condolake.services.spark_cluster import LocalSparkCluster

    local = LocalSparkCluster(resources().settings.state_path)
    if not local.is_running():
        log.info("the local Spark cluster is not running")
        raise typer.Exit(1)
    status = local.status()
    results.print(f"{local.master_url} ({status.get('status')}): "
                  f"{status.get('aliveworkers', 0)} workers, {status.get('cores', 0)} cores, "
                  f"{len(status.get('activeapps', []))} running applications")


@command(broker, "start", "start the Kafka broker on 127.0.0.1 and leave it running; prints "
         "its bootstrap servers (ports and data are kept across restarts)")
def broker_start() -> None:
    lake = resources()
    if not lake.kafka_is_embedded:
        log.info(f"CONDOLAKE_KAFKA_BOOTSTRAP is set: the external cluster "
                 f"{lake.kafka_bootstrap} is used, nothing to start")
        return
    local = lake.local_broker()
    results.print(local.start())
    log.info(f"Kafka broker running; data and broker.log in {local.folder}")


@command(broker, "stop", "stop the Kafka broker (controlled shutdown)")
def broker_stop() -> None:
    lake = resources()
    if not lake.kafka_is_embedded:
        log.info(f"CONDOLAKE_KAFKA_BOOTSTRAP is set: the external cluster "
                 f"{lake.kafka_bootstrap} is used, nothing to stop")
        return
    local = lake.local_broker()
    if local.is_running():
        local.stop()
        log.info("Kafka broker stopped")
    else:
        log.info("the Kafka broker is not running")


@command(broker, "status", "whether the broker runs, its bootstrap servers, and its topics "
         "with partitions and end offsets")
def broker_status() -> None:
    from condolake.services.kafka import describe_topics

    lake = resources()
    if lake.kafka_bootstrap is not None:
        bootstrap = lake.kafka_bootstrap
        results.print(f"external Kafka cluster {bootstrap} (CONDOLAKE_KAFKA_BOOTSTRAP)")
    else:
        local = lake.local_broker()
        if not local.is_running():
            results.print(f"the Kafka broker is not running (data folder {local.folder})")
            raise typer.Exit(1)
        bootstrap = local.bootstrap
        results.print(f"Kafka broker running on {bootstrap} (data folder {local.folder})")
    topics = describe_topics(bootstrap)
    if not topics:
        results.print("no topics")
    for topic in topics:
        offsets = ", ".join(str(offset) for offset in topic.end_offsets)
        results.print(f"{topic.name}: {topic.partitions} partitions, end offsets [{offsets}]")
