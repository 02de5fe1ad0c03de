"""Closed-loop load: N clients, each sending its next request as soon as the last is answered.

All clients start together; after `warmup_s` the measured window opens for `duration_s`.
A request counts when it starts inside the window (the ones still running when it closes
are awaited); its latency runs from just before it is sent to the last byte of the answer.
Two drivers share that logic: HTTP clients on one asyncio loop (the API), and threads
calling a function in this process (the in-process baseline).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from benchmarks import serve_cpu
from benchmarks.machine import load_average
from benchmarks.serve_cpu import CpuSample, CpuUsage
from benchmarks.serve_http import HttpConnection, ProtocolError
from benchmarks.serve_mix import Request
from benchmarks.serve_model import CONNECTION_FAILED, Outcome

API_KEY_HEADER = "X-API-Key"
REQUEST_TIMEOUT_S = 30.0
SUCCESS = 200  # what the baseline records for an answered request

RequestStream = Callable[[int], Iterator[Request]]  # client number -> its requests


@dataclass
class Window:
    """The measured window, in time.perf_counter() seconds."""

    opens: float
    closes: float

    def counts(self, started: float) -> bool:
        return self.opens <= started < self.closes


@dataclass
class LoadRun:
    outcomes: list[Outcome]
    window_s: float
    cpu: CpuUsage
    first_error: str | None


@dataclass
class _Recorder:
    window: Window
    outcomes: list[Outcome] = field(default_factory=list)
    first_error: str | None = None

    def record(self, kind: str, status: int, started: float, ended: float) -> None:
        if self.window.counts(started):
            self.outcomes.append(Outcome(kind, status, ended - started))

    def failed(self, message: str) -> None:
        if self.first_error is None:
            self.first_error = message


def _window(warmup_s: float, duration_s: float) -> Window:
    opens = time.perf_counter() + warmup_s
    return Window(opens, opens + duration_s)


class _CpuWatch:
    """Samples CPU when the window opens and when it closes (from a thread of its own)."""

    def __init__(self, window: Window, server_pid: int | None) -> None:
        self._window = window
        self._pid = server_pid
        self._samples: list[CpuSample] = []
        self._thread = threading.Thread(target=self._run, name="cpu-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        for moment in (self._window.opens, self._window.closes):
            time.sleep(max(0.0, moment - time.perf_counter()))
            self._samples.append(serve_cpu.sample(self._pid))

    def usage(self) -> CpuUsage:
        self._thread.join()
        return serve_cpu.usage(self._samples[0], self._samples[1], load_average())


# --- HTTP: the API --------------------------------------------------------------------------


async def _http_client(conn: HttpConnection, requests: Iterator[Request],
                       keys: Mapping[str, str], recorder: _Recorder) -> None:
    closes = recorder.window.closes
    try:
        while time.perf_counter() < closes:
            request = next(requests)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    response = await conn.get(request.target,
                                              {API_KEY_HEADER: keys[request.role]})
                status = response.status
                if not 200 <= status < 300:
                    recorder.failed(f"{request.target} -> {status}: {response.body[:200]!r}")
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError, ProtocolError) as error:
                status = CONNECTION_FAILED
                recorder.failed(f"{request.target} -> {type(error).__name__}: {error}")
            recorder.record(request.kind, status, started, time.perf_counter())
    finally:
        await conn.close()


async def _http_load(host: str, port: int, keys: Mapping[str, str], stream: RequestStream,
                     clients: int, warmup_s: float, duration_s: float,
                     server_pid: int | None) -> LoadRun:
    window = _window(warmup_s, duration_s)
    recorder = _Recorder(window)
    watch = _CpuWatch(window, server_pid)
    watch.start()
    await asyncio.gather(*[_http_client(HttpConnection(host, port), stream(client), keys,
                                        recorder) for client in range(clients)])
    return LoadRun(recorder.outcomes, duration_s, watch.usage(), recorder.first_error)


def http_load(host: str, port: int, keys: Mapping[str, str], stream: RequestStream,
              clients: int, warmup_s: float, duration_s: float,
              server_pid: int | None) -> LoadRun:
    """`clients` keep-alive connections to the server, one asyncio loop, closed loop."""
    return asyncio.run(_http_load(host, port, keys, stream, clients, warmup_s, duration_s,
                                  server_pid))


# --- threads: the in-process baseline -------------------------------------------------------


def _thread_client(answer: Callable[[Request], object], requests: Iterator[Request],
                   recorder: _Recorder, lock: threading.Lock) -> None:
    closes = recorder.window.closes
    while time.perf_counter() < closes:
        request = next(requests)
        started = time.perf_counter()
        try:
            answer(request)
            status = SUCCESS
        except Exception as error:  # noqa: BLE001 - counted and reported, the run goes on
            status = CONNECTION_FAILED
            with lock:
                recorder.failed(f"{request.target} -> {type(error).__name__}: {error}")
        ended = time.perf_counter()
        with lock:
            recorder.record(request.kind, status, started, ended)


def thread_load(answerer: Callable[[], Callable[[Request], object]], stream: RequestStream,
                clients: int, warmup_s: float, duration_s: float) -> LoadRun:
    """`clients` threads, each with its own answer function (made by `answerer` up front)."""
    answers = [answerer() for _ in range(clients)]
    lock = threading.Lock()
    window = _window(warmup_s, duration_s)
    recorder = _Recorder(window)
    watch = _CpuWatch(window, None)
    threads = [threading.Thread(target=_thread_client, name=f"baseline-{client}",
                                args=(answers[client], stream(client), recorder, lock))
               for client in range(clients)]
    watch.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadRun(recorder.outcomes, duration_s, watch.usage(), recorder.first_error)
