"""Closed-loop load: N clients, each sending its next request as soon as the last is answered.

A warm-up of `warmup_s` comes first, then the measured window of `duration_s`; the requests
still running when it closes are awaited. Two drivers: `oha` for the API over HTTP (child
processes, one per API key, each request's URL drawn from the clients' seeded sequences), and
threads calling a function in this process (the in-process baseline: client n asks its
sequence in order; a request counts when it starts inside the window).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from benchmarks import oha, serve_cpu
from benchmarks.machine import load_average
from benchmarks.serve_cpu import CpuSample, CpuUsage
from benchmarks.serve_mix import Request
from benchmarks.serve_model import CONNECTION_FAILED, Outcome, is_success

API_KEY_HEADER = "X-API-Key"
SUCCESS = 200  # what the baseline records for an answered request
# The pool oha draws URLs from, split evenly between the clients' sequences. The API caches
# rendered answers, so the pool must be large next to a run's requests (about 25 000 at 50
# clients for 30 s) for its draws to repeat no more often than the endless sequences do.
POOL_REQUESTS = 200_000
FAILED_KIND = "(no answer)"  # oha does not say which URL a failed request was for

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


# --- HTTP: the API, with oha ---------------------------------------------------------------


@dataclass(frozen=True)
class RoleLoad:
    role: str
    connections: int


def role_plan(clients: int, roles: Sequence[str]) -> list[list[RoleLoad]]:
    """Stages run one after the other, the roles of a stage at once (an oha run per key).
    Enough clients: one stage, clients split between the roles; fewer clients than roles:
    one stage per role, so that no more than `clients` connections are ever open."""
    if clients >= len(roles):
        share, extra = divmod(clients, len(roles))
        return [[RoleLoad(role, share + (1 if index < extra else 0))
                 for index, role in enumerate(roles)]]
    return [[RoleLoad(role, clients)] for role in roles]


def url_pool(stream: RequestStream, clients: int,
             per_client: int | None = None) -> dict[str, list[Request]]:
    """The first `per_client` requests of each client's sequence (by default POOL_REQUESTS in
    all), by role (sorted)."""
    per_client = per_client or -(-POOL_REQUESTS // clients)
    pool: dict[str, list[Request]] = {}
    for client in range(clients):
        for request in islice(stream(client), per_client):
            pool.setdefault(request.role, []).append(request)
    return dict(sorted(pool.items()))


@dataclass(frozen=True)
class OhaTarget:
    """Where and how oha sends the requests."""

    binary: Path
    base_url: str
    keys: Mapping[str, str]  # role -> API key
    work: Path  # URL files and per-request SQLite files


def _run_stage(target: OhaTarget, stage: Sequence[RoleLoad], duration_s: float,
               dbs: Mapping[str, Path] | None) -> list[oha.OhaSummary]:
    running = []
    for load in stage:
        db = dbs[load.role] if dbs is not None else None
        running.append(oha.run_oha(oha.load_command(
            target.binary, target.work / f"urls-{load.role}.txt", connections=load.connections,
            duration_s=duration_s, header=f"{API_KEY_HEADER}: {target.keys[load.role]}",
            db=db)))
    return [oha.finish(process) for process in running]


def outcomes_of(answers: Sequence[oha.Answered], kinds: Mapping[str, str],
                summaries: Sequence[oha.OhaSummary]) -> tuple[list[Outcome], str | None]:
    """One outcome per answered request (its kind from its URL), one per failed request; and
    the first error, to show."""
    outcomes = [Outcome(kinds.get(answer.target, FAILED_KIND), answer.status, answer.seconds)
                for answer in answers]
    first_error = next((f"{answer.target} -> {answer.status}" for answer in answers
                        if not is_success(answer.status)), None)
    for summary in summaries:
        for error, count in summary.errors.items():
            outcomes += [Outcome(FAILED_KIND, CONNECTION_FAILED, 0.0)] * count
            first_error = first_error or error
    return outcomes, first_error


def http_load(target: OhaTarget, stream: RequestStream, clients: int, warmup_s: float,
              duration_s: float, server_pid: int | None) -> LoadRun:
    """`clients` keep-alive connections opened by oha, closed loop: a warm-up run, then the
    measured one; CPU sampled around the measured run (oha's own CPU as the load generator's)."""
    pool = url_pool(stream, clients)
    kinds = {request.target: request.kind for requests in pool.values() for request in requests}
    for role, requests in pool.items():
        (target.work / f"urls-{role}.txt").write_text(
            "".join(f"{target.base_url}{request.target}\n" for request in requests),
            encoding="utf-8")
    plan = role_plan(clients, list(pool))
    for stage in plan:
        _run_stage(target, stage, warmup_s / len(plan), None)
    dbs = {role: target.work / f"requests-{role}.db" for role in pool}
    for db in dbs.values():
        db.unlink(missing_ok=True)
    before = serve_cpu.sample(server_pid, children=True)
    summaries, window_s = [], 0.0
    for stage in plan:
        done = _run_stage(target, stage, duration_s / len(plan), dbs)
        summaries += done
        window_s += max(summary.total_s for summary in done)
    after = serve_cpu.sample(server_pid, children=True)
    answers = [answer for db in dbs.values() if db.exists() for answer in oha.read_answers(db)]
    outcomes, first_error = outcomes_of(answers, kinds, summaries)
    return LoadRun(outcomes, window_s, serve_cpu.usage(before, after, load_average()),
                   first_error)


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
