"""The machine and software a benchmark ran on."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks.model import Versions
from condolake.services.postgres import SourceDatabase

CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
KIB_PER_GIB = 1024 * 1024
JAVA_VERSION_TIMEOUT_S = 30.0
UNKNOWN = "unknown"


def cpu_model(cpuinfo: str) -> str:
    """The first "model name" of /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return UNKNOWN


def ram_gib(meminfo: str) -> float:
    """MemTotal of /proc/meminfo text, in GiB (0 when absent)."""
    for line in meminfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "MemTotal":
            return round(int(value.split()[0]) / KIB_PER_GIB, 1)
    return 0.0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def machine_cpu_model() -> str:
    return cpu_model(_read(CPUINFO)) if CPUINFO.exists() else platform.processor() or UNKNOWN


def machine_ram_gib() -> float:
    return ram_gib(_read(MEMINFO))


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


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
