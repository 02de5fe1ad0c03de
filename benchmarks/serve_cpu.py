"""Where the CPU went during a measured window: the server's processes, the load generator,
and the whole machine (read with psutil)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil

# user nice system idle iowait irq softirq steal: the fields of psutil.cpu_times() on Linux
# that add up to the machine's time (guest and guest_nice are part of user and nice).
COUNTED_FIELDS = 8
TICKS_PER_S = 100


@dataclass(frozen=True)
class MachineTicks:
    busy: int
    total: int


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.perf_counter()
    own_s: float  # CPU seconds of the load generator (this process; its children when asked)
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


def machine_ticks() -> MachineTicks:
    """The machine's CPU time so far, in hundredths of a second: busy is all but idle and
    iowait (guest time is already counted in user and nice)."""
    times = psutil.cpu_times()
    total = sum(times[:COUNTED_FIELDS])
    idle = times.idle + getattr(times, "iowait", 0.0)
    return MachineTicks(round(TICKS_PER_S * (total - idle)), round(TICKS_PER_S * total))


def tree_seconds(root: int) -> tuple[float, int]:
    """CPU seconds (user + system) of `root` and all its descendants, and how many processes
    that is; (0, 0) when `root` is gone."""
    try:
        top = psutil.Process(root)
        processes = [top, *top.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0
    seconds, count = 0.0, 0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended between listing and reading
            continue
        seconds += times.user + times.system
        count += 1
    return seconds, count


def own_seconds(*, children: bool) -> float:
    """CPU seconds of this process (every thread), and of its awaited children when asked:
    the load generator, run as child processes."""
    times = psutil.Process().cpu_times()
    own = times.user + times.system
    return own + (times.children_user + times.children_system if children else 0.0)


def sample(server_pid: int | None, *, children: bool = False) -> CpuSample:
    """Now: the load generator's CPU, the server tree's, and the machine's ticks."""
    server_s, processes = None, 0
    if server_pid is not None:
        server_s, processes = tree_seconds(server_pid)
    return CpuSample(time.perf_counter(), own_seconds(children=children), server_s, processes,
                     machine_ticks())
