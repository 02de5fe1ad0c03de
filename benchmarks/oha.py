"""`oha` (crates.io), the HTTP load generator of the serving benchmark: installed once per user,
its command line, and reading what it reports (the JSON summary and the per-request SQLite
file of `--db-url`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.stream_run import BenchmarkError

OHA_VERSION = "1.16.0"
# Every request gets an answer or an error within this; the old client had the same bound.
REQUEST_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 3600.0

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """The per-user cache `./run` also uses ($XDG_CACHE_HOME/condolake or ~/.cache/condolake)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "condolake"


def oha_binary(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / f"oha-{OHA_VERSION}" / "bin" / "oha"


def install_command(cargo: str, root: Path) -> list[str]:
    return [cargo, "install", "oha", "--version", OHA_VERSION, "--locked", "--root", str(root)]


def ensure_oha(cache: Path | None = None) -> Path:
    """oha OHA_VERSION, built once per user by cargo into the cache (built aside, then moved
    into place, so two first runs at once do not trip over each other)."""
    binary = oha_binary(cache)
    if binary.exists():
        return binary
    cargo = shutil.which("cargo")
    if cargo is None:
        raise BenchmarkError(f"the serving benchmark needs oha {OHA_VERSION}, built with cargo "
                             "(Rust): install Rust (https://rustup.rs) or put oha at "
                             f"{binary}")
    target = binary.parents[1]
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(f"installing oha {OHA_VERSION} into {target} with cargo (once per user, minutes)")
    staging = Path(tempfile.mkdtemp(prefix=".oha-", dir=target.parent))
    try:
        done = subprocess.run(install_command(cargo, staging), capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise BenchmarkError(f"cargo install oha {OHA_VERSION} failed:\n"
                                 f"{done.stderr[-3000:]}")
        if not binary.exists():
            shutil.rmtree(target, ignore_errors=True)  # a broken earlier attempt
            staging.rename(target)
    except OSError:
        if not binary.exists():  # not another run's win: a real failure
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return binary


def _seconds(value: float) -> str:
    """A humantime duration oha accepts: whole milliseconds."""
    return f"{max(1, round(value * 1000))}ms"


def load_command(oha: Path, urls_file: Path, *, connections: int, duration_s: float,
                 header: str, db: Path | None = None) -> list[str]:
    """`connections` keep-alive HTTP/1.1 connections for `duration_s`, each request to a URL
    drawn from `urls_file`; the requests running at the deadline are awaited (-w); the JSON
    summary on stdout, every answered request in the SQLite file `db` when given."""
    command = [str(oha), "--no-tui", "--output-format", "json", "--urls-from-file",
               "-c", str(connections), "-z", _seconds(duration_s), "-w",
               "-t", _seconds(REQUEST_TIMEOUT_S), "-H", header]
    if db is not None:
        command += ["--db-url", str(db)]
    return [*command, str(urls_file)]


@dataclass(frozen=True)
class OhaSummary:
    """What one oha run reports in its JSON summary."""

    total_s: float  # the run's wall time
    requests_per_s: float
    statuses: dict[int, int]  # HTTP status -> answered requests
    errors: dict[str, int]  # requests without an answer, by oha's error text

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def parse_summary(text: str) -> OhaSummary:
    """oha's `--output-format json` document."""
    try:
        document: dict[str, Any] = json.loads(text)
        summary = document["summary"]
        return OhaSummary(
            total_s=float(summary["total"]),
            requests_per_s=float(summary["requestsPerSec"]),
            statuses={int(status): int(count) for status, count
                      in document.get("statusCodeDistribution", {}).items()},
            errors={str(error): int(count) for error, count
                    in document.get("errorDistribution", {}).items()},
        )
    except (ValueError, KeyError, TypeError) as error:
        raise BenchmarkError(f"oha's JSON summary could not be read ({error}): "
                             f"{text[:300]!r}") from error


@dataclass(frozen=True)
class Answered:
    """One answered request of the `--db-url` file."""

    target: str  # path and query, as the benchmark wrote it
    status: int
    seconds: float


def target_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def read_answers(db: Path) -> list[Answered]:
    """Every request of the run that got an answer (oha stores no row for failed ones)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, status, duration FROM oha ORDER BY start").fetchall()
    return [Answered(target_of(str(url)), int(status), float(seconds))
            for url, status, seconds in rows]


def run_oha(command: Sequence[str]) -> subprocess.Popen[str]:
    """Started, not awaited: several runs go at once (one per API key)."""
    return subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process: subprocess.Popen[str]) -> OhaSummary:
    out, err = process.communicate()
    if process.returncode != 0:
        raise BenchmarkError(f"oha failed (exit {process.returncode}): {err.strip()[-2000:]}")
    return parse_summary(out)
