"""A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM).

Everything lives under `<state_dir>/kafka`:

    server.properties   the broker's configuration, written at every start
    log4j2.properties   its logging: INFO to broker.log, nothing to the terminal
    data/               the log dirs (topics, the KRaft metadata log)
    broker.log          the broker's log (log4j)
    broker.out          the JVM's own stdout and stderr (startup failures land here)
    state.json          {"broker_port", "controller_port", "cluster_id"}: a restart reuses them
    broker.pid          the process id while it runs

The jars are the `kafka-broker` bundle of the project's jar cache. Both listeners are on
127.0.0.1, on ports found free at the first start and reused afterwards while still free. The
storage is formatted once, with a cluster id kept in state.json. The JVM runs in a session of
its own, so it outlives the process that started it (`condolake broker start` returns) until
`stop()` signals it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import confluent_kafka
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic, OffsetSpec

from condolake.config import Settings
from condolake.errors import KafkaError, ServiceError
from condolake.services import daemons
from condolake.services.daemons import Daemon, PidFile, Readiness, log_tail
from condolake.services.jars import KAFKA_BROKER, java_executable, resolved_jars
from condolake.services.ports import LOOPBACK, reuse_or_free_port

__all__ = [
    "BrokerPorts",
    "LocalKafkaBroker",
    "TopicInfo",
    "describe_topics",
    "ensure_topics",
    "new_cluster_id",
    "render_log4j_config",
    "render_server_properties",
]

log = logging.getLogger(__name__)

BROKER_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
NODE_ID = 1
DEFAULT_HEAP = "512m"
JVM_OPTIONS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
               "-Djava.awt.headless=true")
FORMAT_TIMEOUT_S = 120.0
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.25
CLIENT_TIMEOUT_S = 10.0
TOPIC_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 30
CLUSTER_ID_BYTES = 16
# librdkafka logs every refused connection on stderr; failures reach us as exceptions anyway.
CLIENT_LOG_LEVEL = 0
# -1: the broker's default.replication.factor (1 on the local broker, the cluster's own elsewhere).
BROKER_DEFAULT_REPLICATION = -1
INTERNAL_TOPIC_PREFIX = "__"
BROKER_SESSION_TIMEOUT_MS = 3000
BROKER_HEARTBEAT_INTERVAL_MS = 1000


@dataclass(frozen=True)
class BrokerPorts:
    broker: int  # PLAINTEXT listener, what clients bootstrap from
    controller: int  # CONTROLLER listener, the KRaft quorum of one


@dataclass(frozen=True)
class TopicInfo:
    name: str
    end_offsets: tuple[int, ...]  # the next offset of each partition, in partition order

    @property
    def partitions(self) -> int:
        return len(self.end_offsets)


def render_server_properties(ports: BrokerPorts, data_dir: Path) -> str:
    """server.properties of a one-node KRaft cluster on loopback, storing its logs in data_dir."""
    broker = f"PLAINTEXT://{LOOPBACK}:{ports.broker}"
    properties = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{LOOPBACK}:{ports.controller}",
        "listeners": f"{broker},CONTROLLER://{LOOPBACK}:{ports.controller}",
        "advertised.listeners": broker,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        # One node: one partition of consumer-group offsets, not 50 to create on first use.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "min.insync.replicas": "1",
        # Topics are created explicitly (ensure_topics), never by a typo in a client.
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        # After a crash the controller waits out the dead broker's session before the new
        # one may register; both live in this one JVM, so a short session is safe.
        "broker.session.timeout.ms": str(BROKER_SESSION_TIMEOUT_MS),
        "broker.heartbeat.interval.ms": str(BROKER_HEARTBEAT_INTERVAL_MS),
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def render_log4j_config(log_file: Path) -> str:
    """log4j2 properties: INFO (WARN for the chattiest loggers) to a size-capped log_file."""
    lines = [
        "status = warn",
        "appender.file.type = RollingFile",
        "appender.file.name = file",
        f"appender.file.fileName = {log_file}",
        f"appender.file.filePattern = {log_file}.%i",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "appender.file.policies.type = Policies",
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
        "appender.file.policies.size.size = 10MB",
        "appender.file.strategy.type = DefaultRolloverStrategy",
        "appender.file.strategy.max = 2",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = file",
        "logger.request.name = kafka.request.logger",
        "logger.request.level = WARN",
        "logger.state.name = state.change.logger",
        "logger.state.level = WARN",
    ]
    return "\n".join(lines) + "\n"


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes one: 16 bytes, URL-safe base64, 22 characters."""
    while True:
        text = base64.urlsafe_b64encode(secrets.token_bytes(CLUSTER_ID_BYTES)).decode()
        cluster_id = text.rstrip("=")
        if not cluster_id.startswith("-"):  # Kafka avoids these: they read as CLI options
            return cluster_id


class LocalKafkaBroker:
    """One local Kafka broker under `<state_dir>/kafka`; see the module docstring."""

    def __init__(
        self,
        state_dir: Path,
        jar_cache: Path,
        heap: str = DEFAULT_HEAP,
    ) -> None:
        self.folder = Path(state_dir).expanduser().resolve() / "kafka"
        self.jar_cache = Path(jar_cache).expanduser().resolve()
        self.heap = heap
        self._child: subprocess.Popen[bytes] | None = None  # the JVM, when started by this object

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKafkaBroker:
        """The broker of `settings.state_path`, with the project's jar cache and kafka_heap."""
        return cls(settings.state_path, settings.jar_cache_path, settings.kafka_heap)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "broker.log"

    @property
    def bootstrap(self) -> str:
        """127.0.0.1:<port>, for `bootstrap.servers` (the port of the last start)."""
        state = self._load_state()
        if state is None:
            raise ServiceError(f"the Kafka broker in {self.folder} has never been started")
        return _bootstrap_of(state[0])

    def is_running(self) -> bool:
        pid = self._pid_file.read()
        return pid is not None and self._pid_alive(pid)

    def start(self) -> str:
        """Start the broker (formatting its storage the first time); its bootstrap servers.

        Idempotent: when the broker already runs, it only waits until it answers.
        """
        if self.is_running():
            return self._wait_until_ready(START_TIMEOUT_S)
        self.folder.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        ports = _pick_ports(state[0] if state else None)
        if state and ports != state[0]:
            log.info(f"the Kafka broker's previous ports {state[0]} are taken: using {ports}")
        cluster_id = state[1] if state else new_cluster_id()
        self._save_state(ports, cluster_id)
        self._write_config(ports)
        classpath = self._classpath()
        if not (self.data_dir / "meta.properties").exists():
            self._format(classpath, cluster_id)
        log.info(f"starting the Kafka broker on {_bootstrap_of(ports)} (data in {self.folder})")
        self._launch(classpath)
        try:
            return self._wait_until_ready(START_TIMEOUT_S)
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """SIGTERM (a controlled shutdown), SIGKILL after a timeout. No-op when not running."""
        if self.is_running():
            log.info("stopping the Kafka broker")
        self._end(signal.SIGTERM, STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL, like a crash; the next start recovers the logs. No-op when not running."""
        self._end(signal.SIGKILL, KILL_TIMEOUT_S)

    @property
    def _properties_file(self) -> Path:
        return self.folder / "server.properties"

    @property
    def _log4j_file(self) -> Path:
        return self.folder / "log4j2.properties"

    @property
    def _output_file(self) -> Path:
        return self.folder / "broker.out"

    @property
    def _state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def _pid_file(self) -> PidFile:
        return PidFile(self.folder / "broker.pid")

    def _write_config(self, ports: BrokerPorts) -> None:
        self.data_dir.mkdir(exist_ok=True)
        properties = render_server_properties(ports, self.data_dir)
        self._properties_file.write_text(properties, encoding="utf-8")
        self._log4j_file.write_text(render_log4j_config(self.log_file), encoding="utf-8")

    def _classpath(self) -> str:
        jars = resolved_jars(KAFKA_BROKER, self.jar_cache, exclude_spark_provided=False)
        return os.pathsep.join(str(jar) for jar in jars)

    def _java(self, classpath: str, main_class: str, *arguments: str) -> list[str]:
        return [
            java_executable(), f"-Xmx{self.heap}", f"-Xms{self.heap}", *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self._log4j_file}", "-cp", classpath,
            main_class, *arguments,
        ]

    def _format(self, classpath: str, cluster_id: str) -> None:
        log.info(f"formatting Kafka storage in {self.data_dir} (cluster id {cluster_id})")
        command = self._java(classpath, STORAGE_TOOL_CLASS, "format", "-t", cluster_id,
                             "-c", str(self._properties_file))
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder,
                                  timeout=FORMAT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ServiceError(f"could not format Kafka storage in {self.data_dir}: {error}") \
                from error
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise self._failure(f"formatting the storage failed (exit code {done.returncode})"
                                f"\n{output}")

    def _launch(self, classpath: str) -> None:
        command = self._java(classpath, BROKER_CLASS, str(self._properties_file))
        self._child = daemons.launch("Kafka broker", command, self._output_file, cwd=self.folder)
        self._pid_file.write(self._child.pid)

    def _wait_until_ready(self, timeout_s: float) -> str:
        bootstrap = self.bootstrap
        port = int(bootstrap.rsplit(":", 1)[1])
        readiness = daemons.wait_for(
            lambda: (daemons.accepts_connections(LOOPBACK, port, POLL_INTERVAL_S)
                     and _is_ready(bootstrap)),
            running=self.is_running, timeout_s=timeout_s, poll_s=POLL_INTERVAL_S)
        if readiness is Readiness.EXITED:
            raise self._failure("the broker exited during start")
        if readiness is Readiness.TIMED_OUT:
            raise self._failure(f"the broker did not answer on {bootstrap} within {timeout_s:g}s")
        return bootstrap

    def _end(self, signal_number: signal.Signals, timeout_s: float) -> None:
        pid = self._pid_file.read()
        if pid is not None:
            survivors = daemons.stop(
                [_broker_daemon(pid)], running=lambda daemon: self._pid_alive(daemon.pid),
                first_signal=signal_number, grace_s=timeout_s, kill_wait_s=KILL_TIMEOUT_S,
                poll_s=POLL_INTERVAL_S,
                on_kill=lambda left: log.info(
                    f"the Kafka broker did not stop within {timeout_s:g}s: killing it"))
            if survivors:
                raise ServiceError(f"the Kafka broker (pid {pid}) survived SIGKILL")
        self._child = None
        self._pid_file.remove()

    def _pid_alive(self, pid: int) -> bool:
        return daemons.running(_broker_daemon(pid), self._child)

    def _load_state(self) -> tuple[BrokerPorts, str] | None:
        try:
            state = json.loads(self._state_file.read_text(encoding="utf-8"))
            ports = BrokerPorts(int(state["broker_port"]), int(state["controller_port"]))
            return ports, str(state["cluster_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save_state(self, ports: BrokerPorts, cluster_id: str) -> None:
        state = {"broker_port": ports.broker, "controller_port": ports.controller,
                 "cluster_id": cluster_id}
        self._state_file.write_text(json.dumps(state) + "\n", encoding="utf-8")

    def _failure(self, what: str) -> ServiceError:
        tails = log_tail(self._output_file, LOG_TAIL_LINES) + log_tail(self.log_file,
                                                                         LOG_TAIL_LINES)
        return ServiceError(f"Kafka broker in {self.folder}: {what} (see {self.log_file})"
                            f"{tails}")


def ensure_topics(
    bootstrap: str, topics: Sequence[str], partitions: int, *, timeout_s: float = TOPIC_TIMEOUT_S
) -> list[str]:
    """Create the topics that do not exist yet; the names created (existing ones are left as
    they are). Returns once every topic has a leader for each partition.

    The replication factor is the broker's default (1 on the local broker).
    """
    admin = _admin(bootstrap)
    wanted = list(dict.fromkeys(topics))
    existing = _metadata(admin, bootstrap).topics
    missing = [topic for topic in wanted if topic not in existing]
    created: list[str] = []
    if missing:
        new_topics = [NewTopic(topic, num_partitions=partitions,
                               replication_factor=BROKER_DEFAULT_REPLICATION)
                      for topic in missing]
        futures = admin.create_topics(new_topics, operation_timeout=timeout_s,
                                      request_timeout=timeout_s)
        for topic, future in futures.items():
            if _created(topic, future, bootstrap, timeout_s):
                created.append(topic)
    _wait_for_leaders(admin, bootstrap, wanted, timeout_s)
    return created


def describe_topics(bootstrap: str) -> list[TopicInfo]:
    """Every topic but Kafka's internal ones (`__…`), by name, with its end offsets."""
    admin = _admin(bootstrap)
    metadata = _metadata(admin, bootstrap)
    names = sorted(name for name in metadata.topics if not name.startswith(INTERNAL_TOPIC_PREFIX))
    offsets = _end_offsets(admin, bootstrap, metadata, names)
    return [TopicInfo(name, tuple(offsets[(name, p)]
                                  for p in sorted(metadata.topics[name].partitions)))
            for name in names]


def _end_offsets(admin: AdminClient, bootstrap: str, metadata: ClusterMetadata,
                 names: Sequence[str]) -> dict[tuple[str, int], int]:
    """The end offset of every partition of `names`, by (topic, partition)."""
    requests = {TopicPartition(name, partition): OffsetSpec.latest()
                for name in names for partition in metadata.topics[name].partitions}
    offsets: dict[tuple[str, int], int] = {}
    if requests:
        futures = admin.list_offsets(requests, request_timeout=CLIENT_TIMEOUT_S)
        for partition, future in futures.items():
            try:
                offsets[(partition.topic, partition.partition)] = future.result().offset
            except KafkaException as error:
                raise KafkaError(f"could not read the end offsets of {partition.topic} on "
                                 f"{bootstrap}: {_reason(error)}") from error
    return offsets


def _created(topic: str, future: Future[None], bootstrap: str, timeout_s: float) -> bool:
    try:
        future.result(timeout=timeout_s)
    except KafkaException as error:
        if error.args[0].code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
            return False  # created meanwhile by someone else: fine
        raise KafkaError(f"could not create Kafka topic {topic} on {bootstrap}: "
                         f"{_reason(error)}") from error
    except TimeoutError as error:
        raise KafkaError(f"Kafka at {bootstrap} did not create topic {topic} within "
                         f"{timeout_s:g}s") from error
    return True


def _wait_for_leaders(
    admin: AdminClient, bootstrap: str, topics: Sequence[str], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        metadata = _metadata(admin, bootstrap)
        pending = [topic for topic in topics if not _has_leaders(metadata, topic)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise KafkaError(f"Kafka topics {', '.join(pending)} on {bootstrap} have no leader "
                             f"after {timeout_s:g}s")
        time.sleep(POLL_INTERVAL_S)


def _has_leaders(metadata: ClusterMetadata, topic: str) -> bool:
    described = metadata.topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        return False
    return all(p.leader >= 0 and p.error is None for p in described.partitions.values())


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": CLIENT_LOG_LEVEL})


def _metadata(admin: AdminClient, bootstrap: str) -> ClusterMetadata:
    try:
        return admin.list_topics(timeout=CLIENT_TIMEOUT_S)
    except KafkaException as error:
        raise KafkaError(f"Kafka at {bootstrap} did not answer within {CLIENT_TIMEOUT_S:g}s: "
                         f"{_reason(error)}") from error


def _reason(error: KafkaException) -> str:
    cause = error.args[0] if error.args else error
    return str(cause.str()) if hasattr(cause, "str") else str(cause)


def _is_ready(bootstrap: str) -> bool:
    """Whether the broker answers metadata as a registered broker leading every partition,
    and serves every partition's end offset."""
    admin = _admin(bootstrap)
    try:
        metadata = admin.list_topics(timeout=CLIENT_TIMEOUT_S)
    except KafkaException:
        return False
    # A restarted broker answers before the controller has let it back in (unfenced), and
    # names itself leader a moment before its partitions serve reads ("leader epoch is newer
    # than broker epoch"): clients that start right after would fail on them.
    if NODE_ID not in metadata.brokers or not all(
            _has_leaders(metadata, topic) for topic in metadata.topics):
        return False
    try:
        _end_offsets(admin, bootstrap, metadata, list(metadata.topics))
    except KafkaError:
        return False
    return True


def _pick_ports(previous: BrokerPorts | None) -> BrokerPorts:
    """The previous ports while they are free (clients keep their bootstrap), else new ones."""
    broker = reuse_or_free_port(previous.broker if previous else None)
    controller = reuse_or_free_port(previous.controller if previous else None)
    while controller == broker:
        controller = reuse_or_free_port(None)
    return BrokerPorts(broker, controller)


def _bootstrap_of(ports: BrokerPorts) -> str:
    return f"{LOOPBACK}:{ports.broker}"


def _broker_daemon(pid: int) -> Daemon:
    return Daemon("kafka", pid, BROKER_CLASS)
