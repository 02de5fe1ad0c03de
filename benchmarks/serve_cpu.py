"""Where the CPU went during a measured window: the server's processes, the load generator,
and the whole machine (Linux /proc; parsers pure, readers thin)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# /proc/<pid>/stat fields after the ")" closing the command name: state is [0], ppid [1],
# utime [11], stime [12] (fields 3, 4, 14 and 15 of proc(5)).
PPID_FIELD = 1
UTIME_FIELD = 11
STIME_FIELD = 12
# /proc/stat "cpu" line: user nice system idle iowait irq softirq steal (guest time is already
# counted in user and nice).
IDLE_FIELDS = (3, 4)
COUNTED_FIELDS = 8


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    ppid: int
    cpu_ticks: int  # user + system


@dataclass(frozen=True)
class MachineTicks:
    busy: int
    total: int


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.perf_counter()
    own_s: float  # CPU seconds of this process (every thread)
    server_s: float | None  # CPU seconds of the server's process tree (None: no server)
    server_processes: int
    machine: MachineTicks | None


@dataclass(frozen=True)
class CpuUsage:
    """Averages over a window, in cores (1.0 = one core busy the whole window)."""

    window_s: float
    load_generator_cores: float
    server_cores: float | None
    server_processes: int
    machine_busy_share: float | None  # 0..1 of all the machine's cores, everyone's work
    load_average: tuple[float, float, float]  # at the end of the window


def parse_process_stat(text: str) -> ProcessStat:
    """One /proc/<pid>/stat line (the command name may hold spaces and parentheses)."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()
    return ProcessStat(pid, int(fields[PPID_FIELD]),
                       int(fields[UTIME_FIELD]) + int(fields[STIME_FIELD]))


def parse_machine_ticks(text: str) -> MachineTicks:
    """The aggregate "cpu" line of /proc/stat."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            values = [int(value) for value in parts[1:1 + COUNTED_FIELDS]]
            idle = sum(values[index] for index in IDLE_FIELDS)
            return MachineTicks(sum(values) - idle, sum(values))
    raise ValueError("no aggregate cpu line in /proc/stat")


def tree_ticks(root: int, stats: Iterable[ProcessStat]) -> tuple[int, int]:
    """CPU ticks of `root` and all its descendants, and how many processes that is."""
    children: dict[int, list[ProcessStat]] = {}
    by_pid = {stat.pid: stat for stat in stats}
    for stat in by_pid.values():
        children.setdefault(stat.ppid, []).append(stat)
    if root not in by_pid:
        return 0, 0
    ticks, count, pending = 0, 0, [by_pid[root]]
    while pending:
        stat = pending.pop()
        ticks += stat.cpu_ticks
        count += 1
        pending.extend(children.get(stat.pid, []))
    return ticks, count


def usage(before: CpuSample, after: CpuSample,
          load_average: tuple[float, float, float]) -> CpuUsage:
    window = after.at - before.at
    server = None
    if before.server_s is not None and after.server_s is not None and window > 0:
        server = (after.server_s - before.server_s) / window
    machine = None
    if before.machine and after.machine and after.machine.total > before.machine.total:
        machine = ((after.machine.busy - before.machine.busy)
                   / (after.machine.total - before.machine.total))
    own = (after.own_s - before.own_s) / window if window > 0 else 0.0
    return CpuUsage(window, own, server, after.server_processes, machine, load_average)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _all_process_stats() -> list[ProcessStat]:
    stats = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            text = _read(entry / "stat")
            if text:
                stats.append(parse_process_stat(text))
    return stats


def sample(server_pid: int | None) -> CpuSample:
    """Now: this process's CPU, the server tree's, and the machine's ticks."""
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    server_s, processes = None, 0
    if server_pid is not None:
        ticks, processes = tree_ticks(server_pid, _all_process_stats())
        server_s = ticks / ticks_per_s
    machine_text = _read(PROC / "stat")
    machine = parse_machine_ticks(machine_text) if machine_text else None
    return CpuSample(time.perf_counter(), time.process_time(), server_s, processes, machine)
