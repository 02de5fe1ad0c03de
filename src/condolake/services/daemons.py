"""The one way the project runs its background services (Spark's Master and Workers, the Kafka
broker) and waits for its foreground ones (the SQL endpoint, PostgreSQL's log on failure).

A daemon is started in a session of its own (so it outlives the command that started it and
its whole process group can be signalled), with its output in a log file; its pid is kept in
a pid file or a state file, so another process can find it, check it with psutil, and stop it
with SIGTERM then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import psutil

from condolake.errors import ServiceError

# spark-class execs java in the same process; during its first instants it is still bash.
LAUNCHER_SCRIPTS = ("spark-class",)


@dataclass(frozen=True)
class Daemon:
    name: str
    pid: int
    main_class: str  # the JVM main class on its command line


class Readiness(Enum):
    READY = "ready"
    EXITED = "exited"
    TIMED_OUT = "timed out"


def launch(name: str, command: Sequence[str], log_file: Path, *, cwd: Path,
           env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`command` in a new session, stdout and stderr to `log_file` (truncated)."""
    try:
        with log_file.open("wb") as log:
            return subprocess.Popen(
                list(command), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=None if env is None else dict(env), cwd=cwd, start_new_session=True,
            )
    except OSError as error:
        raise ServiceError(f"could not start the {name}: {error}") from error


def alive(daemon: Daemon) -> bool:
    """Whether `daemon.pid` is still our daemon, running (not a zombie, not a reused pid)."""
    try:
        process = psutil.Process(daemon.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command_line = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return daemon.main_class in command_line or any(
        script in command_line for script in LAUNCHER_SCRIPTS)


def running(daemon: Daemon, child: subprocess.Popen[bytes] | None = None) -> bool:
    """Whether the daemon runs. A child this process started is judged by its exit status
    (polling also reaps it): right after the fork its command line is briefly empty."""
    if child is not None and child.pid == daemon.pid:
        return child.poll() is None
    return alive(daemon)


def signal_group(daemon: Daemon, signal_number: int) -> None:
    """`signal_number` to the daemon's process group; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(daemon.pid, signal_number)  # the session we created: the daemon's own group


def wait_for(ready: Callable[[], bool], *, running: Callable[[], bool], timeout_s: float,
             poll_s: float) -> Readiness:
    """Polls until `ready()`, the daemon stops `running()`, or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not running():
            return Readiness.EXITED
        if ready():
            return Readiness.READY
        time.sleep(poll_s)
    return Readiness.TIMED_OUT


def accepts_connections(host: str, port: int, timeout_s: float) -> bool:
    """Whether a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def stop(daemons: Sequence[Daemon], *, running: Callable[[Daemon], bool], grace_s: float,
         kill_wait_s: float, poll_s: float, first_signal: int = signal.SIGTERM,
         on_kill: Callable[[Sequence[Daemon]], None] | None = None) -> list[Daemon]:
    """`first_signal` to each running daemon's group, in order; SIGKILL to those still running
    after `grace_s`; the daemons still running `kill_wait_s` after that."""
    targets = [daemon for daemon in daemons if running(daemon)]
    for daemon in targets:
        signal_group(daemon, first_signal)
    left = _wait_gone(targets, running, grace_s, poll_s)
    if not left:
        return []
    if on_kill is not None:
        on_kill(left)
    for daemon in left:
        signal_group(daemon, signal.SIGKILL)
    return _wait_gone(left, running, kill_wait_s, poll_s)


def _wait_gone(daemons: Sequence[Daemon], running: Callable[[Daemon], bool], timeout_s: float,
               poll_s: float) -> list[Daemon]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = [daemon for daemon in daemons if running(daemon)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll_s)


@dataclass(frozen=True)
class PidFile:
    """The pid of a daemon that another process may have to find."""

    path: Path

    def read(self) -> int | None:
        try:
            return int(self.path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def write(self, pid: int) -> None:
        self.path.write_text(f"{pid}\n", encoding="utf-8")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def log_tail(log_file: Path, line_count: int) -> str:
    """The last lines of a daemon's log, headed for an error message ('' if none)."""
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    if not lines:
        return ""
    tail = "\n".join(lines[-line_count:])
    return f"\n--- last lines of {log_file} ---\n{tail}"
