"""Daemons the project starts in sessions of their own (Spark's Master and Workers, Kafka):
which process is one, whether it still runs, and how to signal its whole group."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Daemon:
    name: str
    pid: int
    main_class: str  # the JVM main class on its command line


def alive(daemon: Daemon) -> bool:
    """Whether `daemon.pid` is still our daemon, running (not a zombie, not a reused pid)."""
    proc = Path("/proc") / str(daemon.pid)
    try:
        status = (proc / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    # spark-class execs java in the same process; during its first instants it is still bash.
    is_ours = daemon.main_class.encode() in cmdline or b"spark-class" in cmdline
    return status != "Z" and is_ours


def signal_group(daemon: Daemon, signal_number: int) -> None:
    """`signal_number` to the daemon's process group; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(daemon.pid, signal_number)  # the session we created: the daemon's own group
