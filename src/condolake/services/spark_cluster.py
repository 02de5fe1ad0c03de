"""A local Spark standalone cluster (one Master, N Workers) from the pyspark distribution.

Everything lives under `<state_dir>/spark-cluster`:

    master.log, worker-<n>.log   each daemon's stdout and stderr
    spark-work/                  the workers' work dir (executor folders and their logs)
    state.json                   ports and process ids, so another process can stop it

The daemons listen on 127.0.0.1 only, on ports found free when `start()` is called. Jobs reach
the cluster with `spark_master = cluster.master_url` (e.g. CONDOLAKE_SPARK_MASTER). Each
daemon runs in a session of its own: it outlives the process that started it (so `condolake
cluster start` can return) until `stop()` signals its process group.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pyspark

from condolake.errors import ServiceError
from condolake.services import daemons as daemon_helper
from condolake.services.daemons import Daemon, Readiness, alive, log_tail
from condolake.services.ports import LOOPBACK, free_port

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
ALIVE = "ALIVE"
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 20.0
POLL_INTERVAL_S = 0.5
HTTP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 30


class LocalSparkCluster:
    """A Spark standalone Master and `workers` Workers as processes on loopback."""

    def __init__(
        self,
        state_dir: Path,
        *,
        workers: int = 1,
        cores_per_worker: int = 1,
        memory_per_worker: str = "2g",
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        if workers < 1 or cores_per_worker < 1:
            raise ValueError("a cluster needs at least one worker with at least one core")
        self.folder = Path(state_dir).expanduser().resolve() / "spark-cluster"
        self.workers = workers
        self.cores_per_worker = cores_per_worker
        self.memory_per_worker = memory_per_worker
        self.start_timeout_s = start_timeout_s
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # those started by this object

    @property
    def master_url(self) -> str:
        """spark://127.0.0.1:<port>, for `spark.master`."""
        return f"spark://{LOOPBACK}:{self._state()['port']}"

    @property
    def webui_url(self) -> str:
        """The master's web UI; `<webui_url>/json/` describes workers and applications."""
        return f"http://{LOOPBACK}:{self._state()['webui_port']}"

    def is_running(self) -> bool:
        return any(alive(daemon) for daemon in self._recorded_daemons())

    def start(self) -> str:
        """Start the Master and Workers, wait until every Worker is ALIVE; the master URL.

        Idempotent: when the cluster already runs, only its URL is returned.
        """
        if self.is_running():
            return self.master_url
        self.folder.mkdir(parents=True, exist_ok=True)
        work_dir = self.folder / "spark-work"
        work_dir.mkdir(exist_ok=True)
        port, webui_port, *worker_ui_ports = _distinct_free_ports(2 + self.workers)
        master_url = f"spark://{LOOPBACK}:{port}"
        launches = [("master", MASTER_CLASS, [
            "--host", LOOPBACK, "--port", str(port), "--webui-port", str(webui_port)])]
        launches += [(f"worker-{number}", WORKER_CLASS, [
            master_url, "--host", LOOPBACK, "--cores", str(self.cores_per_worker),
            "--memory", self.memory_per_worker, "--webui-port", str(ui_port),
            "--work-dir", str(work_dir),
        ]) for number, ui_port in enumerate(worker_ui_ports, start=1)]
        daemons: list[Daemon] = []
        try:
            for name, main_class, arguments in launches:
                daemons.append(self._launch(name, main_class, arguments))
                # Recorded at once, so stop() finds whatever was started, whatever fails next.
                self._save_state(port, webui_port, daemons)
            self._wait_for_workers(daemons)
        except BaseException:
            self.stop()
            raise
        return master_url

    def status(self) -> dict[str, Any]:
        """The master's JSON view: workers, aliveworkers, activeapps, completedapps, ..."""
        answer = httpx.get(f"{self.webui_url}/json/", timeout=HTTP_TIMEOUT_S)
        document: dict[str, Any] = answer.raise_for_status().json()
        return document

    def stop(self) -> None:
        """SIGTERM every daemon (workers first), SIGKILL those left after a grace period."""
        daemon_helper.stop(list(reversed(self._recorded_daemons())), running=self._running,
                           grace_s=STOP_GRACE_S, kill_wait_s=0.0, poll_s=POLL_INTERVAL_S / 5)
        for child in self._children.values():
            if child.poll() is None:
                child.kill()  # whatever its group, never wait on a live child
            child.wait()  # collect the exit status of those we started
        self._children.clear()
        self._state_file.unlink(missing_ok=True)

    def __enter__(self) -> LocalSparkCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self, daemon: Daemon) -> bool:
        return daemon_helper.running(daemon, self._children.get(daemon.pid))

    @property
    def _state_file(self) -> Path:
        return self.folder / "state.json"

    def _log_file(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def _state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self._state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ServiceError(f"no local Spark cluster runs from {self.folder}") from error
        return state

    def _save_state(self, port: int, webui_port: int, daemons: list[Daemon]) -> None:
        state = {"port": port, "webui_port": webui_port,
                 "daemons": [[d.name, d.pid, d.main_class] for d in daemons]}
        self._state_file.write_text(json.dumps(state) + "\n", encoding="utf-8")

    def _recorded_daemons(self) -> list[Daemon]:
        try:
            return [Daemon(name, int(pid), main_class)
                    for name, pid, main_class in self._state()["daemons"]]
        except (ServiceError, KeyError, TypeError, ValueError):
            return []

    def _launch(self, name: str, main_class: str, arguments: list[str]) -> Daemon:
        environment = dict(os.environ, SPARK_LOCAL_IP=LOOPBACK)
        command = [str(spark_class()), main_class, *arguments]
        process = daemon_helper.launch(f"Spark {name}", command, self._log_file(name),
                                       cwd=self.folder, env=environment)
        self._children[process.pid] = process
        return Daemon(name, process.pid, main_class)

    def _wait_for_workers(self, daemons: list[Daemon]) -> None:
        registered = 0

        def all_registered() -> bool:
            nonlocal registered
            try:
                workers = self.status().get("workers", [])
            except (httpx.HTTPError, ValueError):  # not listening yet, or a half-written answer
                workers = []
            registered = sum(1 for worker in workers if worker.get("state") == ALIVE)
            return registered >= self.workers

        readiness = daemon_helper.wait_for(
            all_registered, running=lambda: all(self._running(d) for d in daemons),
            timeout_s=self.start_timeout_s, poll_s=POLL_INTERVAL_S)
        if readiness is Readiness.EXITED:
            gone = next(daemon for daemon in daemons if not self._running(daemon))
            raise self._failure(f"the Spark {gone.name} exited during start", gone)
        if readiness is Readiness.TIMED_OUT:
            raise self._failure(
                f"{registered} of {self.workers} workers registered within "
                f"{self.start_timeout_s:g}s", *daemons)

    def _failure(self, what: str, *daemons: Daemon) -> ServiceError:
        tails = "".join(log_tail(self._log_file(d.name), LOG_TAIL_LINES) for d in daemons)
        return ServiceError(f"local Spark cluster in {self.folder}: {what}{tails}")


def spark_class() -> Path:
    """pyspark's `bin/spark-class` (the PyPI wheel is a full Spark distribution)."""
    script = Path(pyspark.__file__).resolve().parent / "bin" / "spark-class"
    if not script.exists():
        raise ServiceError(f"{script} is missing: this pyspark is not a full distribution")
    return script


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports

