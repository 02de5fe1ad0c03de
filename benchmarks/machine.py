"""The machine and software a benchmark ran on (psutil for memory, CPUs and load)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from benchmarks.model import Load, Machine, Versions
from condolake.services.postgres import SourceDatabase

# psutil does not name the CPU model: Linux tells it in /proc/cpuinfo only.
CPUINFO = Path("/proc/cpuinfo")
BYTES_PER_GIB = 1024**3
# Above half a runnable thread per CPU (1-min load average), other work shares the machine.
BUSY_LOAD_PER_CPU = 0.5
JAVA_VERSION_TIMEOUT_S = 30.0
UNKNOWN = "unknown"


def cpu_model(cpuinfo: str) -> str:
    """The first "model name" of /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return UNKNOWN


def ram_gib(total_bytes: int) -> float:
    """Bytes of memory in GiB, to one decimal."""
    return round(total_bytes / BYTES_PER_GIB, 1)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def machine_cpu_model() -> str:
    return cpu_model(_read(CPUINFO)) if CPUINFO.exists() else platform.processor() or UNKNOWN


def machine_ram_gib() -> float:
    return ram_gib(psutil.virtual_memory().total)


def load_average() -> Load:
    one, five, fifteen = psutil.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def describe_machine(load_before: Load) -> Machine:
    """The machine now, with the load average taken before the run and now."""
    return Machine(psutil.cpu_count() or 1, machine_cpu_model(), machine_ram_gib(), load_before,
                   load_average())


def busy_note(busiest_load: float, cpus: int, *, during: str = "", shared_with: str = "",
              figures: str = "figures") -> str | None:
    """The note that other work shared the machine, when its 1-min load was high."""
    if busiest_load <= BUSY_LOAD_PER_CPU * cpus:
        return None
    return (f"The machine was busy (1-min load up to {busiest_load:.2f} on {cpus} CPUs{during}): "
            f"other work shared it{shared_with}, so the {figures} are pessimistic.")


def java_version() -> str:
    """First line of `java -version` of the JVM Spark starts (JAVA_HOME first, as Spark does)."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java:
        return UNKNOWN
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True,
                              timeout=JAVA_VERSION_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else UNKNOWN


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return UNKNOWN


def postgres_version(db: SourceDatabase) -> str:
    with db.connect() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else UNKNOWN


def versions(db: SourceDatabase) -> Versions:
    return Versions(
        python=platform.python_version(),
        pyspark=package_version("pyspark"),
        delta_spark=package_version("delta-spark"),
        duckdb=package_version("duckdb"),
        postgresql=postgres_version(db),
        java=java_version(),
    )
