"""`./run bench serve`: REST API latency and throughput under concurrent clients, next to
reading the same gold Delta tables in-process, in the same run.

1. Gold of the asked scale: the benchmark lake of that scale and seed when an earlier run
   built it, otherwise generate the source and `condolake batch` it (see `serve_lake`).
2. The API: `condolake serve` as a child process with a new admin and analista key; each
   request kind checked once through httpx; then `clients` keep-alive connections from one
   asyncio loop in this process, closed loop, warm-up then `duration_s` measured; then one
   client alone (a request sequence of its own) for a third of that: the service time
   without queueing.
3. The baselines: the same requests (client n asks what client n asked the API) answered by
   DuckDB in this process, from `clients` threads, reading the Delta tables on every query
   (`delta_scan`) and from an in-memory copy (what the API's reader keeps).

Results go to `<output_dir>/serve-<YYYYmmdd-HHMMSS>.{json,md}`; the Markdown is also printed.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.machine import (
    UNKNOWN,
    busy_note,
    describe_machine,
    load_average,
    package_version,
)
from benchmarks.model import Machine
from benchmarks.oha import OHA_VERSION, ensure_oha
from benchmarks.report import write_report
from benchmarks.serve_baseline import DELTA_SCAN, MEMORY, Baseline
from benchmarks.serve_lake import GoldLake, gold_lake
from benchmarks.serve_load import LoadRun, OhaTarget, http_load, thread_load
from benchmarks.serve_mix import KINDS, ROLES, Catalog, Request, requests_for
from benchmarks.serve_model import (
    P95_TARGET_S,
    GoldData,
    Phase,
    ServeBenchmark,
    ServeVersions,
    make_phase,
)
from benchmarks.serve_report import render_markdown, to_json
from benchmarks.serve_server import api_server, bench_keys, check_answers
from benchmarks.stream_run import BenchmarkError
from condolake.catalog import MART_NAMES
from condolake.config import Settings

log = logging.getLogger(__name__)
WARMUP_MIN_S = 2.0
WARMUP_MAX_S = 10.0
WARMUP_SHARE = 1 / 3  # of the measured time, within the bounds above
CHECK_SCAN_LIMIT = 10_000  # requests of client 0 searched for one of each kind and role
SATURATED_CORES = 0.8  # a load generator this busy may have held the load back
API_NAME = "API over HTTP"
SINGLE_NAME = "API over HTTP, 1 client"
SINGLE_SHARE = 1 / 3  # of the measured time, at least WARMUP_MIN_S
BASELINE_NAMES = {DELTA_SCAN: "in-process DuckDB, delta_scan per query",
                  MEMORY: "in-process DuckDB, in-memory copy"}
BASELINE_METHODS = {
    DELTA_SCAN: "the same requests answered in this process by DuckDB reading the gold Delta "
                "tables (log + Parquet) on every query: count + page, same filters and order; "
                "no HTTP, authentication, masking or JSON",
    MEMORY: "the same, on a copy of the gold tables loaded once into DuckDB's memory (as the "
            "API's reader keeps them): the cost of the queries alone",
}


def warmup_seconds(duration_s: float) -> float:
    return min(WARMUP_MAX_S, max(WARMUP_MIN_S, duration_s * WARMUP_SHARE))


def check_requests(catalog: Catalog, seed: int) -> list[Request]:
    """The first request of each (kind, role) among client 0's, in KINDS then ROLES order."""
    wanted = {(kind, role) for kind in KINDS for role in ROLES}
    found: dict[tuple[str, str], Request] = {}
    sequence = requests_for(catalog, seed, 0)
    for _ in range(CHECK_SCAN_LIMIT):
        request = next(sequence)
        found.setdefault((request.kind, request.role), request)
        if len(found) == len(wanted):
            break
    return [found[pair] for kind in KINDS for role in ROLES if (pair := (kind, role)) in found]


@dataclass(frozen=True)
class Measured:
    gold: GoldData
    server: str
    api: Phase
    api_single: Phase
    baselines: tuple[Phase, ...]


def run_serve_benchmark(
    settings: Settings,
    *,
    scale: float = 10.0,
    seed: int = 42,
    clients: int = 50,
    duration_s: float = 30.0,
    output_dir: Path,
) -> ServeBenchmark:
    """Runs the benchmark, writes its JSON and Markdown to `output_dir`, prints the Markdown."""
    if clients < 1 or duration_s <= 0 or scale <= 0:
        raise BenchmarkError("--clients, --duration and --scale must be positive")
    oha_binary = ensure_oha()
    started_at = dt.datetime.now().replace(microsecond=0)
    load_before = load_average()
    lake = gold_lake(settings, scale, seed)
    measured = _measure(settings, lake, seed, clients, duration_s, oha_binary)
    result = _result(scale, seed, started_at, load_before, measured)
    write_report(output_dir, f"serve-{started_at:%Y%m%d-%H%M%S}",
                 markdown=render_markdown(result), json_document=to_json(result))
    return result


@contextmanager
def _work_folder(settings: Settings) -> Iterator[Path]:
    base = settings.state_path / "bench"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="serve-run-", dir=base) as folder:
        yield Path(folder)


def _measure(settings: Settings, lake: GoldLake, seed: int, clients: int, duration_s: float,
             oha_binary: Path) -> Measured:
    gold_paths = {name: lake.gold_path(name) for name in MART_NAMES}
    warmup_s = warmup_seconds(duration_s)
    with _work_folder(settings) as work:
        extensions = work / "duckdb"
        reader = Baseline(gold_paths, DELTA_SCAN, extensions)
        try:
            catalog, rows = reader.catalog()
        finally:
            reader.close()

        def stream(client: int) -> Iterator[Request]:
            return requests_for(catalog, seed, client)

        api, single, server = _api_phases(lake, catalog, seed, stream, clients, warmup_s,
                                          duration_s, work, oha_binary)
        baselines = tuple(_baseline_phase(gold_paths, source, extensions, stream, clients,
                                          warmup_s, duration_s)
                          for source in (DELTA_SCAN, MEMORY))
    gold = GoldData(lake.lake, rows, lake.source_rows, lake.built_at, lake.reused,
                    lake.generation_s, lake.batch_s)
    return Measured(gold, server, api, single, baselines)


def _api_phases(lake: GoldLake, catalog: Catalog, seed: int,
                stream: Callable[[int], Iterator[Request]], clients: int, warmup_s: float,
                duration_s: float, work: Path, oha_binary: Path) -> tuple[Phase, Phase, str]:
    """The API under `clients` clients, then under one: (those two phases, the server)."""
    keys = bench_keys()
    single_s = max(WARMUP_MIN_S, duration_s * SINGLE_SHARE)
    log.info("starting condolake serve on the benchmark lake (child process)")
    with api_server(lake.lake, keys, work / "serve.log") as server:
        log.info(f"API up at {server.url} (pid {server.pid}); checking each request kind once")
        check_answers(server, keys, check_requests(catalog, seed))
        log.info(f"API: {clients} clients, {warmup_s:g} s warm-up, then {duration_s:g} s measured")
        target = OhaTarget(oha_binary, server.url, keys.plaintext, work)
        run = http_load(target, stream, clients, warmup_s, duration_s, server.pid)
        phase = _phase(API_NAME, f"{clients} keep-alive HTTP/1.1 connections from oha to "
                       f"`{server.command}`, split between the API keys", clients, warmup_s,
                       run)
        log.info(f"API: 1 client, {WARMUP_MIN_S:g} s warm-up, then {single_s:g} s measured")

        def own_sequence(_: int) -> Iterator[Request]:
            return stream(clients)  # a client number the other runs never use

        alone = http_load(target, own_sequence, 1, WARMUP_MIN_S, single_s, server.pid)
        single = _phase(SINGLE_NAME, "one keep-alive connection after the run above, the "
                        "same mix (a request sequence of its own; one API key after the "
                        "other): the service time without queueing", 1, WARMUP_MIN_S, alone)
    processes = run.cpu.server_processes
    described = (f"`condolake serve` as a child process ({processes} process"
                 f"{'es' if processes != 1 else ''} in its tree while measured), loopback")
    return phase, single, described


def _baseline_phase(gold_paths: dict[str, str], source: str, extensions: Path,
                    stream: Callable[[int], Iterator[Request]], clients: int, warmup_s: float,
                    duration_s: float) -> Phase:
    name = BASELINE_NAMES[source]
    log.info(f"baseline ({name}): {clients} threads, {warmup_s:g} s warm-up, "
             f"then {duration_s:g} s measured")
    baseline = Baseline(gold_paths, source, extensions)
    try:
        run = thread_load(baseline.answerer, stream, clients, warmup_s, duration_s)
    finally:
        baseline.close()
    return _phase(name, f"{BASELINE_METHODS[source]}; {clients} Python threads (DuckDB "
                  "releases the GIL while a query runs)", clients, warmup_s, run)


def _phase(name: str, method: str, clients: int, warmup_s: float, run: LoadRun) -> Phase:
    phase = make_phase(name, method, clients, warmup_s, run.window_s, run.outcomes, run.cpu,
                       run.first_error)
    lat = phase.latency
    log.info(f"{name}: {phase.requests:,} requests, {phase.error_count:,} errors, "
             f"{phase.throughput:,.0f}/s, p50 {_ms(lat.p50)} p95 {_ms(lat.p95)} p99 {_ms(lat.p99)} "
             "ms" + (f"; first error: {phase.first_error}" if phase.first_error else ""))
    return phase


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1000 * seconds:.1f}"


def _installed(name: str) -> str:
    found = package_version(name)
    return "not installed" if found == UNKNOWN else found


def _versions() -> ServeVersions:
    return ServeVersions(
        python=platform.python_version(), fastapi=_installed("fastapi"),
        starlette=_installed("starlette"), uvicorn=_installed("uvicorn"),
        pydantic=_installed("pydantic"), httpx=_installed("httpx"),
        duckdb=_installed("duckdb"), duckdb_extension_delta=_installed("duckdb-extension-delta"),
        uvloop=_installed("uvloop"), httptools=_installed("httptools"),
    )


def _notes(machine: Machine, measured: Measured) -> tuple[str, ...]:
    api = measured.api
    notes = []
    if api.throughput > 0:
        mean_ms = 1000 * api.clients / api.throughput
        notes.append(
            f"Closed loop: with {api.clients} clients always waiting on an answer, the mean "
            f"latency is about clients / throughput = {mean_ms:.1f} ms (Little's law), so "
            f"p95 ≤ {1000 * P95_TARGET_S:g} ms needs roughly "
            f"{api.clients / P95_TARGET_S:,.0f}+ requests/s from the server.")
    per_request = api.cpu_per_request_ms
    if per_request:
        notes.append(f"The API server spent {per_request:.2f} ms of CPU per request: with a "
                     f"core to itself it could answer about {1000 / per_request:,.0f} "
                     "requests/s, if the CPU is its only limit.")
    if api.cpu.load_generator_cores >= SATURATED_CORES:
        notes.append(f"The load generator used {api.cpu.load_generator_cores:.2f} cores while "
                     "measuring the API: it may have held the load back and its own queueing "
                     "is part of the latencies.")
    single_p95 = measured.api_single.latency.p95
    if single_p95 is not None and api.latency.p95 is not None and single_p95 < api.latency.p95:
        notes.append(f"Alone, a client saw p95 {1000 * single_p95:.1f} ms: the rest of the "
                     f"{api.clients}-client latency is time spent waiting in line for the "
                     "server.")
    # The load after the run counts the baseline's own client threads: not other work.
    busy = busy_note(max(machine.load_before[0], api.cpu.load_average[0]), machine.cpu_count,
                     during=" before and during the API run",
                     shared_with=" with the server and the load generator")
    return (*notes, busy) if busy else tuple(notes)


def _result(scale: float, seed: int, started_at: dt.datetime,
            load_before: tuple[float, float, float], measured: Measured) -> ServeBenchmark:
    machine = describe_machine(load_before)
    api = measured.api
    return ServeBenchmark(
        scale=scale, seed=seed, started_at=started_at.isoformat(), machine=machine,
        versions=_versions(), gold=measured.gold, server=measured.server,
        load_generator=(f"oha {OHA_VERSION} (Rust, crates.io) as child processes, one per "
                        f"API key: {api.clients} keep-alive HTTP/1.1 connections in all"),
        api=api, api_single=measured.api_single, baselines=measured.baselines,
        notes=_notes(machine, measured),
    )
