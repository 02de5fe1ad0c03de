"""The API under test: `condolake serve` as a child process (its own interpreter and GIL) on a
free port, with the benchmark's keys, on the benchmark's lake."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.serve_load import API_KEY_HEADER
from benchmarks.serve_mix import ADMIN, ANALISTA, Request
from benchmarks.stream_run import BenchmarkError
from condolake.services.ports import LOOPBACK, free_port
from condolake.serving.auth import new_key

log = logging.getLogger(__name__)
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.2
CHECK_TIMEOUT_S = 60.0
LOG_TAIL_CHARS = 3000


@dataclass(frozen=True)
class BenchKeys:
    plaintext: dict[str, str]  # role -> key
    entries: str  # CONDOLAKE_SERVE_KEYS


def bench_keys() -> BenchKeys:
    """A new admin key and a new analista key (scope *: all rows, resident names masked)."""
    admin, admin_entry = new_key("bench-admin", ADMIN, None)
    analista, analista_entry = new_key("bench-analista", ANALISTA, None)
    return BenchKeys({ADMIN: admin, ANALISTA: analista}, f"{admin_entry},{analista_entry}")


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int
    pid: int
    command: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _tail(log_file: Path) -> str:
    try:
        return log_file.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return ""


def _healthy(url: str) -> bool:
    try:
        response = httpx.get(f"{url}/health", timeout=2.0)
        return response.status_code == 200 and response.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"condolake serve exited with {process.returncode}:\n"
                                 f"{_tail(log_file)}")
        if _healthy(url):
            return
        time.sleep(POLL_S)
    raise BenchmarkError(f"condolake serve did not report healthy gold tables at {url}/health "
                         f"within {START_TIMEOUT_S:g} s:\n{_tail(log_file)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (uvicorn's graceful shutdown), then SIGTERM, then SIGKILL, each with a wait."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        process.send_signal(stop_signal)
        try:
            process.wait(STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def api_server(lake_root: str, keys: BenchKeys, log_file: Path,
               environ: Mapping[str, str] | None = None) -> Iterator[RunningServer]:
    """`python -m condolake.cli serve` on a free loopback port until the block ends."""
    port = free_port(LOOPBACK)
    args = [sys.executable, "-m", "condolake.cli", "serve", "--host", LOOPBACK,
            "--port", str(port)]
    env = dict(os.environ if environ is None else environ)
    env.update(CONDOLAKE_LAKE_ROOT=lake_root, CONDOLAKE_SERVE_KEYS=keys.entries)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = RunningServer(LOOPBACK, port, process.pid, "condolake serve --host "
                           f"{LOOPBACK} --port {port}")
    try:
        _wait_healthy(process, server.url, log_file)
        yield server
    finally:
        _stop(process)


def check_answers(server: RunningServer, keys: BenchKeys, requests: Sequence[Request]) -> None:
    """Each request once through httpx: a 2xx JSON answer, or the benchmark stops here."""
    with httpx.Client(base_url=server.url, timeout=CHECK_TIMEOUT_S) as client:
        for request in requests:
            started = time.perf_counter()
            response = client.get(request.target,
                                  headers={API_KEY_HEADER: keys.plaintext[request.role]})
            took_ms = 1000 * (time.perf_counter() - started)
            if not response.is_success:
                raise BenchmarkError(f"{request.target} ({request.role}) answered "
                                     f"{response.status_code}: {response.text[:500]}")
            try:
                json.loads(response.content)
            except ValueError as error:
                raise BenchmarkError(f"{request.target} did not answer JSON: {error}") from error
            log.info(f"check {request.kind} ({request.role}): {response.status_code}, "
                     f"{len(response.content):,} bytes, {took_ms:.1f} ms (first call)")
