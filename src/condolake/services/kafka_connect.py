"""An embedded Kafka Connect worker (standalone mode) and a small client of Connect's REST API.

Everything the worker keeps lives under `<state_dir>/kafka-connect`:

    worker.properties   the worker's configuration, written at every start (no secret in it)
    log4j2.properties   its logging: INFO to connect.log, nothing to the terminal
    connect.log         the worker's log (log4j)
    connect.out         the JVM's own stdout and stderr (startup failures land here)
    offsets.dat         the source connectors' offsets (`offset.storage.file.filename`)
    state.json          {"rest_port"}: a restart reuses the port while it is still free
    connect.pid         the process id while it runs

The jars are the `kafka-connect` bundle of the project's jar cache (Connect and Debezium's
PostgreSQL connector on one classpath, found through their service manifests rather than a
scan of every class). The worker starts with no connector: connectors are registered through
the REST API on 127.0.0.1, and a standalone worker keeps them in memory only, so whoever
starts the worker registers them again (their offsets stay in offsets.dat, so they resume).
Secrets reach the worker through its environment only: connector configurations name them as
`${env:NAME}` (Kafka's EnvVarConfigProvider).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from condolake.config import Settings
from condolake.errors import ServiceError
from condolake.services import daemons
from condolake.services.daemons import Daemon, PidFile, Readiness, log_tail
from condolake.services.jars import KAFKA_CONNECT, java_executable, resolved_jars
from condolake.services.kafka import render_log4j_config
from condolake.services.ports import LOOPBACK, reuse_or_free_port

__all__ = [
    "ConnectClient",
    "ConnectState",
    "ConnectorStatus",
    "LocalKafkaConnect",
    "TaskStatus",
    "connect_state",
    "env_reference",
    "render_worker_properties",
]

log = logging.getLogger(__name__)

WORKER_CLASS = "org.apache.kafka.connect.cli.ConnectStandalone"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
# The config provider that resolves `${env:NAME}` from the worker's environment.
ENV_PROVIDER = "env"
ENV_PROVIDER_CLASS = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
DEFAULT_HEAP = "512m"
JVM_OPTIONS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
               "-Djava.awt.headless=true")
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
KILL_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.25
HTTP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 30
# Offsets reach offsets.dat (and the slot's confirmed position) this often: a crash replays at
# most this much, which the stream's per-key positions absorb.
OFFSET_FLUSH_MS = 1000
HEALTH_PATH = "/health"
RUNNING = "RUNNING"
FAILED = "FAILED"
PAUSED = "PAUSED"
# Every state Connect reports for a connector or a task.
CONNECT_STATES = ("UNASSIGNED", RUNNING, PAUSED, "STOPPED", FAILED, "RESTARTING")
HTTP_NOT_FOUND = 404


def render_worker_properties(rest_port: int, bootstrap: str, offsets_file: Path) -> str:
    """worker.properties of a standalone worker on loopback: JSON without schemas by default,
    offsets in `offsets_file`, the `env` config provider, plugins found by service manifest."""
    properties = {
        "bootstrap.servers": bootstrap,
        "listeners": f"http://{LOOPBACK}:{rest_port}",
        "rest.advertised.host.name": LOOPBACK,
        "rest.advertised.port": str(rest_port),
        "key.converter": JSON_CONVERTER,
        "value.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "offset.storage.file.filename": str(offsets_file),
        "offset.flush.interval.ms": str(OFFSET_FLUSH_MS),
        "config.providers": ENV_PROVIDER,
        f"config.providers.{ENV_PROVIDER}.class": ENV_PROVIDER_CLASS,
        # Every plugin on the classpath declares itself in META-INF/services: skip the scan
        # of all classes (about 12 s on two cores).
        "plugin.discovery": "service_load",
        "topic.creation.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in properties.items())


@dataclass(frozen=True)
class TaskStatus:
    id: int
    state: str  # RUNNING, FAILED, PAUSED, UNASSIGNED, RESTARTING
    worker_id: str
    trace: str | None = None  # the Java stack trace of a failed task


@dataclass(frozen=True)
class ConnectorStatus:
    """GET /connectors/<name>/status."""

    name: str
    state: str
    worker_id: str
    tasks: tuple[TaskStatus, ...] = ()
    trace: str | None = None

    @property
    def running(self) -> bool:
        """The connector and at least one task, all of them RUNNING."""
        return (self.state == RUNNING and bool(self.tasks)
                and all(task.state == RUNNING for task in self.tasks))

    @property
    def failed(self) -> bool:
        return self.state == FAILED or any(task.state == FAILED for task in self.tasks)

    @property
    def paused(self) -> bool:
        return self.state == PAUSED

    def failure(self) -> str | None:
        """The first lines of the failed connector's or task's trace, or None."""
        traces = [self.trace] if self.state == FAILED else []
        traces += [task.trace for task in self.tasks if task.state == FAILED]
        for trace in traces:
            if trace:
                return trace_summary(trace)
        return f"{self.name} FAILED (no trace)" if self.failed else None

    def describe(self) -> str:
        """`RUNNING, task 0 RUNNING`."""
        tasks = ", ".join(f"task {task.id} {task.state}" for task in self.tasks)
        return self.state + (f", {tasks}" if tasks else ", no task")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "worker_id": self.worker_id,
                "tasks": [{"id": task.id, "state": task.state, "worker_id": task.worker_id,
                           "error": trace_summary(task.trace) if task.trace else None}
                          for task in self.tasks],
                "error": trace_summary(self.trace) if self.trace else None}


def env_reference(variable: str) -> str:
    """`${env:NAME}`: a connector setting the worker reads from its environment variable."""
    return f"${{{ENV_PROVIDER}:{variable}}}"


def trace_summary(trace: str) -> str:
    """A Java stack trace without its `at …` frames: the exception and its causes."""
    lines = [line.strip() for line in trace.splitlines()]
    kept = [line for line in lines if line and not line.startswith(("at ", "..."))]
    return "\n".join(kept)


def parse_status(document: Mapping[str, Any]) -> ConnectorStatus:
    """Connect's status document as a ConnectorStatus."""
    connector = document.get("connector", {})
    tasks = tuple(
        TaskStatus(int(task["id"]), str(task["state"]), str(task.get("worker_id", "")),
                   task.get("trace"))
        for task in sorted(document.get("tasks", []), key=lambda task: int(task["id"])))
    return ConnectorStatus(str(document.get("name", "")), str(connector.get("state", "")),
                           str(connector.get("worker_id", "")), tasks, connector.get("trace"))


class ConnectClient:
    """Kafka Connect's REST API at `url` (http://host:port)."""

    def __init__(self, url: str, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s

    def healthy(self) -> bool:
        """Whether the worker answers GET /health with 200 (started, herder ready)."""
        try:
            return self._request("GET", HEALTH_PATH, quiet=True).status_code == httpx.codes.OK
        except ServiceError:
            return False

    def put_config(self, name: str, config: Mapping[str, str]) -> None:
        """Create the connector, or update its configuration (PUT /connectors/<name>/config)."""
        self._checked(self._request("PUT", f"/connectors/{name}/config", json=dict(config)),
                      f"register connector {name}")

    def config(self, name: str) -> dict[str, str] | None:
        """The connector's configuration as submitted (`${env:…}` unresolved), or None."""
        response = self._request("GET", f"/connectors/{name}/config")
        if response.status_code == HTTP_NOT_FOUND:
            return None
        return dict(self._checked(response, f"read connector {name}'s configuration").json())

    def status(self, name: str) -> ConnectorStatus | None:
        """The connector's and its tasks' states, or None when no such connector exists."""
        response = self._request("GET", f"/connectors/{name}/status")
        if response.status_code == HTTP_NOT_FOUND:
            return None
        return parse_status(self._checked(response, f"read connector {name}'s status").json())

    def delete(self, name: str) -> bool:
        """Remove the connector (its offsets stay); False when it did not exist."""
        response = self._request("DELETE", f"/connectors/{name}")
        if response.status_code == HTTP_NOT_FOUND:
            return False
        self._checked(response, f"delete connector {name}")
        return True

    def pause(self, name: str) -> None:
        self._checked(self._request("PUT", f"/connectors/{name}/pause"), f"pause {name}")

    def resume(self, name: str) -> None:
        self._checked(self._request("PUT", f"/connectors/{name}/resume"), f"resume {name}")

    def restart_failed(self, name: str) -> None:
        """Restart the connector and its tasks that FAILED (the others keep running)."""
        self._checked(self._request(
            "POST", f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true"),
            f"restart {name}")

    def _request(self, method: str, path: str, *, json: Any = None,
                 quiet: bool = False) -> httpx.Response:
        try:
            return httpx.request(method, self.url + path, json=json, timeout=self._timeout_s)
        except httpx.HTTPError as error:
            if quiet:
                raise ServiceError(str(error)) from error
            raise ServiceError(f"Kafka Connect at {self.url} did not answer {method} {path}: "
                               f"{error}; is the worker running (`condolake cdc status`)?") \
                from error

    def _checked(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.is_success:
            return response
        try:
            message = str(response.json().get("message", response.text))
        except ValueError:
            message = response.text
        raise ServiceError(f"Kafka Connect at {self.url} could not {what} "
                           f"(HTTP {response.status_code}): {message}")


class LocalKafkaConnect:
    """One standalone Kafka Connect worker under `<state_dir>/kafka-connect`; see the module
    docstring."""

    def __init__(self, state_dir: Path, jar_cache: Path, heap: str = DEFAULT_HEAP) -> None:
        self.folder = Path(state_dir).expanduser().resolve() / "kafka-connect"
        self.jar_cache = Path(jar_cache).expanduser().resolve()
        self.heap = heap
        self._child: subprocess.Popen[bytes] | None = None  # the JVM, when started here

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalKafkaConnect:
        return cls(settings.state_path, settings.jar_cache_path, settings.connect_heap)

    @property
    def log_file(self) -> Path:
        return self.folder / "connect.log"

    @property
    def offsets_file(self) -> Path:
        return self.folder / "offsets.dat"

    @property
    def rest_url(self) -> str | None:
        """http://127.0.0.1:<port> of the REST API (the port of the last start), or None when
        the worker has never been started."""
        port = self._saved_port()
        return None if port is None else f"http://{LOOPBACK}:{port}"

    @property
    def url(self) -> str:
        """`rest_url`, or a ServiceError when the worker has never been started."""
        url = self.rest_url
        if url is None:
            raise ServiceError(f"the Kafka Connect worker in {self.folder} has never been "
                               "started (`condolake cdc start`)")
        return url

    def client(self) -> ConnectClient:
        return ConnectClient(self.url)

    def is_running(self) -> bool:
        pid = self._pid_file.read()
        return pid is not None and self._pid_alive(pid)

    def start(self, bootstrap: str, environment: Mapping[str, str] | None = None) -> str:
        """Start the worker against Kafka at `bootstrap`, with `environment` added to its own
        (the secrets its connectors name as `${env:…}`); its REST URL once it is ready.

        Idempotent: when the worker already runs, it only waits until it answers (its
        environment is the one it was started with)."""
        if self.is_running():
            return self._wait_until_ready(START_TIMEOUT_S)
        self.folder.mkdir(parents=True, exist_ok=True)
        port = reuse_or_free_port(self._saved_port())
        self._save_port(port)
        self._write_config(port, bootstrap)
        classpath = os.pathsep.join(
            str(jar) for jar in resolved_jars(KAFKA_CONNECT, self.jar_cache,
                                              exclude_spark_provided=False))
        command = [
            java_executable(), f"-Xmx{self.heap}", f"-Xms{self.heap}", *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self._log4j_file}", "-cp", classpath,
            WORKER_CLASS, str(self._properties_file),
        ]
        log.info(f"starting Kafka Connect on {LOOPBACK}:{port} (Kafka {bootstrap}, state in "
                 f"{self.folder})")
        self._child = daemons.launch("Kafka Connect worker", command, self._output_file,
                                     cwd=self.folder, env={**os.environ, **(environment or {})})
        self._pid_file.write(self._child.pid)
        try:
            return self._wait_until_ready(START_TIMEOUT_S)
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """SIGTERM (connectors stop and flush their offsets), SIGKILL after a timeout."""
        if self.is_running():
            log.info("stopping the Kafka Connect worker")
        self._end(signal.SIGTERM, STOP_TIMEOUT_S)

    def kill(self) -> None:
        """SIGKILL, like a crash; the next start resumes from the flushed offsets."""
        self._end(signal.SIGKILL, KILL_TIMEOUT_S)

    @property
    def _properties_file(self) -> Path:
        return self.folder / "worker.properties"

    @property
    def _log4j_file(self) -> Path:
        return self.folder / "log4j2.properties"

    @property
    def _output_file(self) -> Path:
        return self.folder / "connect.out"

    @property
    def _state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def _pid_file(self) -> PidFile:
        return PidFile(self.folder / "connect.pid")

    def _write_config(self, port: int, bootstrap: str) -> None:
        properties = render_worker_properties(port, bootstrap, self.offsets_file)
        self._properties_file.write_text(properties, encoding="utf-8")
        self._log4j_file.write_text(render_log4j_config(self.log_file), encoding="utf-8")

    def _wait_until_ready(self, timeout_s: float) -> str:
        url = self.url
        client = ConnectClient(url, timeout_s=POLL_INTERVAL_S * 4)
        readiness = daemons.wait_for(client.healthy, running=self.is_running,
                                     timeout_s=timeout_s, poll_s=POLL_INTERVAL_S)
        if readiness is Readiness.EXITED:
            raise self._failure("the worker exited during start")
        if readiness is Readiness.TIMED_OUT:
            raise self._failure(f"the worker did not answer on {url} within {timeout_s:g}s")
        return url

    def _end(self, signal_number: signal.Signals, timeout_s: float) -> None:
        pid = self._pid_file.read()
        if pid is not None:
            survivors = daemons.stop(
                [_worker_daemon(pid)], running=lambda daemon: self._pid_alive(daemon.pid),
                first_signal=signal_number, grace_s=timeout_s, kill_wait_s=KILL_TIMEOUT_S,
                poll_s=POLL_INTERVAL_S,
                on_kill=lambda left: log.info(
                    f"the Kafka Connect worker did not stop within {timeout_s:g}s: killing it"))
            if survivors:
                raise ServiceError(f"the Kafka Connect worker (pid {pid}) survived SIGKILL")
        self._child = None
        self._pid_file.remove()

    def _pid_alive(self, pid: int) -> bool:
        return daemons.running(_worker_daemon(pid), self._child)

    def _saved_port(self) -> int | None:
        try:
            port = json.loads(self._state_file.read_text(encoding="utf-8"))["rest_port"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return port if isinstance(port, int) else None

    def _save_port(self, port: int) -> None:
        self._state_file.write_text(json.dumps({"rest_port": port}) + "\n", encoding="utf-8")

    def _failure(self, what: str) -> ServiceError:
        tails = log_tail(self._output_file, LOG_TAIL_LINES) + log_tail(self.log_file,
                                                                         LOG_TAIL_LINES)
        return ServiceError(f"Kafka Connect worker in {self.folder}: {what} (see "
                            f"{self.log_file}){tails}")


@dataclass(frozen=True)
class ConnectState:
    """Where Connect is, whether it answers, and the connector's state there (if any)."""

    connector: str
    connect_url: str | None  # None: the embedded worker has never been started
    embedded: bool
    reachable: bool
    status: ConnectorStatus | None = None
    problem: str | None = None

    def describe(self) -> str:
        """One line: `condolake-postgres: RUNNING, task 0 RUNNING (http://…)`."""
        where = self.connect_url or "no Kafka Connect worker started yet"
        if not self.reachable:
            return f"{self.connector}: Kafka Connect not running ({where}): {self.problem}"
        if self.status is None:
            return f"{self.connector}: not registered on {where} (`condolake cdc start`)"
        line = f"{self.connector}: {self.status.describe()} ({where})"
        failure = self.status.failure()
        return line + (f": {failure.splitlines()[0]}" if failure else "")

    def to_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "connect_url": self.connect_url,
                "embedded": self.embedded, "reachable": self.reachable,
                "problem": self.problem,
                "status": None if self.status is None else self.status.to_dict()}


def connect_state(settings: Settings, timeout_s: float = HTTP_TIMEOUT_S) -> ConnectState:
    """The connector's state in CONDOLAKE_CONNECT_URL's cluster or the embedded worker,
    without starting anything."""
    name, external = settings.cdc_connector, settings.connect_url
    if external is not None:
        url = external
    else:
        worker = LocalKafkaConnect.from_settings(settings)
        rest_url = worker.rest_url
        if rest_url is None or not worker.is_running():
            return ConnectState(name, rest_url, True, False,
                                problem="start it with `condolake cdc start`")
        url = rest_url
    try:
        status = ConnectClient(url, timeout_s).status(name)
    except ServiceError as error:
        return ConnectState(name, url, external is None, False, problem=str(error))
    return ConnectState(name, url, external is None, True, status)


def _worker_daemon(pid: int) -> Daemon:
    return Daemon("kafka-connect", pid, WORKER_CLASS)
