"""Running the API: `run_api` for the command line; `BackgroundServer` (a thread) and
`ApiProcess` (a `condolake serve` child process) for tests and benchmarks."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import uvicorn
from pydantic import SecretStr

from condolake.config import ENV_PREFIX, Settings, revealed
from condolake.errors import ServiceError
from condolake.services.ports import LOOPBACK, free_port
from condolake.services.uvicorn_server import run_until_signal
from condolake.serving.api import create_app
from condolake.serving.auth import KeyRing

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.02


def _server(settings: Settings, host: str, port: int, log_level: str = "warning",
            access_log: bool = False) -> uvicorn.Server:
    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level=log_level,
                            access_log=access_log, lifespan="on", timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def urls(host: str, port: int) -> tuple[str, str]:
    """(API docs, dashboard)."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    return f"{base}/docs", f"{base}/"


def run_api(settings: Settings, host: str, port: int) -> None:
    """Serve the API and dashboard until SIGINT or SIGTERM, then shut down gracefully."""
    keys = KeyRing.parse(revealed(settings.serve_keys))  # a bad entry fails before anything starts
    if not keys:
        log.warning("warning: CONDOLAKE_SERVE_KEYS is empty: every data endpoint answers 401; "
                    "make a key with `condolake serve key --name NAME --role admin`")
    server = _server(settings, host, port, log_level="info", access_log=False)
    docs, dashboard = urls(host, port)
    log.info(f"serving {settings.lake_path} ({len(keys.keys)} API keys)")
    log.info(f"API docs: {docs}")
    log.info(f"dashboard: {dashboard}")
    reason = run_until_signal(server)
    if not server.started:
        raise ServiceError(f"the API could not start on {host}:{port} (see the log above)")
    log.info(f"API stopped ({reason})")


class BackgroundServer:
    """A real uvicorn server in a background thread, for tests and benchmarks.

    `with BackgroundServer(settings) as url: ...` starts it on a free port, waits until it
    accepts requests and stops it on exit.
    """

    def __init__(self, settings: Settings, host: str = LOOPBACK, port: int | None = None) -> None:
        self.host, self.port = host, port or free_port(host)
        self._server = _server(settings, host, self.port)
        self._thread = threading.Thread(target=self._server.run, name=f"api-{self.port}",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServiceError(f"the API server on port {self.port} did not start")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"the API server on port {self.port} did not start in "
                                   f"{timeout_s:.0f} s")
            time.sleep(POLL_S)
        return self.url

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout_s)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def settings_environment(settings: Settings) -> dict[str, str]:
    """CONDOLAKE_* variables that make a child process load exactly `settings` (secrets with
    their values: the child needs them)."""
    plain = {name: value.get_secret_value() if isinstance(value, SecretStr) else value
             for name, value in settings.model_dump().items()}
    return {f"{ENV_PREFIX}{name.upper()}": str(value)
            for name, value in plain.items() if value is not None}


class ApiProcess:
    """`condolake serve` as a child process (its own interpreter, so a load generator in this
    process does not share its GIL); stopped with SIGTERM, as an operator would."""

    def __init__(self, settings: Settings, host: str = LOOPBACK, port: int | None = None) -> None:
        self.host, self.port = host, port or free_port(host)
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as this object)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        env = {**os.environ, **settings_environment(self._settings)}
        command = [sys.executable, "-m", "condolake.cli", "serve", "--host", self.host,
                   "--port", str(self.port)]
        self._process = subprocess.Popen(command, env=env, stdout=self._log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not self._healthy():
            if self._process.poll() is not None:
                raise ServiceError(f"condolake serve exited with {self._process.returncode}:\n"
                                   f"{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"condolake serve did not answer in {timeout_s:.0f} s:\n"
                                   f"{self.output()}")
            time.sleep(POLL_S * 5)
        return self.url

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        """What the server printed so far (progress lines, warnings, errors)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout_s: float = STOP_TIMEOUT_S,
             stop_signal: signal.Signals = signal.SIGTERM) -> int | None:
        """`stop_signal`, then SIGKILL if it does not stop in time; returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(stop_signal)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()  # the output stays readable after the block
