"""What a serving benchmark measured, as plain data, its target, and the summaries (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.latency import summarize
from benchmarks.model import Machine, ratio
from benchmarks.serve_cpu import CpuUsage
from benchmarks.serve_mix import KINDS
from benchmarks.stream_model import Percentiles

# The target: API latency p95 within 50 ms under 50 concurrent clients (scale 10).
P95_TARGET_S = 0.050
CONNECTION_FAILED = 0  # the status recorded when no HTTP response came back


@dataclass(frozen=True)
class Outcome:
    """One answered (or failed) request of a measured window."""

    kind: str
    status: int  # HTTP status; CONNECTION_FAILED when there was no response
    seconds: float


@dataclass(frozen=True)
class KindLatency:
    kind: str
    requests: int
    errors: int
    latency: Percentiles  # seconds, successful requests only


@dataclass(frozen=True)
class Phase:
    """One closed-loop run: `clients` callers, each sending its next request when the last
    one is answered, for a warm-up and then `window_s` measured."""

    name: str
    method: str  # how the requests were answered, one line
    clients: int
    warmup_s: float
    window_s: float
    requests: int  # started within the window, answered or failed
    errors: dict[str, int]  # status (or "connection") -> requests
    latency: Percentiles  # seconds, successful requests only
    kinds: tuple[KindLatency, ...]
    cpu: CpuUsage
    first_error: str | None = None  # the first failure's message, for the report

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def cpu_per_request_ms(self) -> float | None:
        """CPU milliseconds of the answering side (the API server, or this process for an
        in-process baseline) per request of the window."""
        cores = self.cpu.server_cores
        if cores is None:
            cores = self.cpu.load_generator_cores
        rate = self.requests / self.window_s if self.window_s > 0 else 0.0
        return 1000 * cores / rate if rate > 0 else None

    @property
    def throughput(self) -> float:
        """Successful requests per second over the measured window."""
        ok = self.requests - self.error_count
        return ok / self.window_s if self.window_s > 0 else 0.0


@dataclass(frozen=True)
class GoldData:
    lake: str
    rows: dict[str, int]  # per gold table
    source_rows: dict[str, int]  # generated per source table
    built_at: str
    reused: bool  # True: built by an earlier run, found and reused
    generation_s: float
    batch_s: float


@dataclass(frozen=True)
class ServeVersions:
    python: str
    fastapi: str
    starlette: str
    uvicorn: str
    pydantic: str
    httpx: str
    duckdb: str
    duckdb_extension_delta: str
    uvloop: str  # "not installed" when uvicorn runs on plain asyncio
    httptools: str  # "not installed" when uvicorn parses HTTP with h11


@dataclass(frozen=True)
class ServeBenchmark:
    scale: float
    seed: int
    started_at: str  # local time, ISO 8601, seconds
    machine: Machine
    versions: ServeVersions
    gold: GoldData
    server: str  # how the API server ran, one line
    load_generator: str  # how the HTTP load was made, one line
    api: Phase
    api_single: Phase  # one client: the API's service time without queueing
    baselines: tuple[Phase, ...]  # the first one is the one the ratios are against
    notes: tuple[str, ...] = field(default=())

    @property
    def phases(self) -> tuple[Phase, ...]:
        return (self.api, self.api_single, *self.baselines)


@dataclass(frozen=True)
class Ratios:
    """API / baseline: above 1, the API is slower (latency) or faster (throughput)."""

    p50: float
    p95: float
    p99: float
    throughput: float


def error_label(status: int) -> str:
    return "connection" if status == CONNECTION_FAILED else str(status)


def is_success(status: int) -> bool:
    return 200 <= status < 300


def summarize_outcomes(outcomes: Sequence[Outcome]) -> tuple[
        Percentiles, dict[str, int], tuple[KindLatency, ...]]:
    """Latency of the successful requests, errors by status, and both per kind (KINDS order,
    kinds never asked left out)."""
    ok = [o.seconds for o in outcomes if is_success(o.status)]
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if not is_success(outcome.status):
            label = error_label(outcome.status)
            errors[label] = errors.get(label, 0) + 1
    kinds = []
    for kind in KINDS:
        of_kind = [o for o in outcomes if o.kind == kind]
        if of_kind:
            good = [o.seconds for o in of_kind if is_success(o.status)]
            kinds.append(KindLatency(kind, len(of_kind), len(of_kind) - len(good),
                                     summarize(good)))
    return summarize(ok), dict(sorted(errors.items())), tuple(kinds)


def make_phase(name: str, method: str, clients: int, warmup_s: float, window_s: float,
               outcomes: Sequence[Outcome], cpu: CpuUsage,
               first_error: str | None = None) -> Phase:
    latency, errors, kinds = summarize_outcomes(outcomes)
    return Phase(name, method, clients, warmup_s, window_s, len(outcomes), errors, latency,
                 kinds, cpu, first_error)


def _ratio(api: float | None, baseline: float | None) -> float:
    if api is None or baseline is None:
        return float("nan")
    return ratio(api, baseline)


def ratios(api: Phase, baseline: Phase) -> Ratios:
    return Ratios(_ratio(api.latency.p50, baseline.latency.p50),
                  _ratio(api.latency.p95, baseline.latency.p95),
                  _ratio(api.latency.p99, baseline.latency.p99),
                  ratio(api.throughput, baseline.throughput))


def target_met(api: Phase) -> bool:
    """p95 within the target, over a run that answered every request."""
    p95 = api.latency.p95
    return p95 is not None and p95 <= P95_TARGET_S and api.error_count == 0
