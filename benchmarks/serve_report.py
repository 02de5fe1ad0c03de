"""A serving benchmark as Markdown and JSON (pure: data in, text out)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from benchmarks.report import (
    Section,
    json_text,
    load_text,
    machine_section,
    markdown_table,
    notes_section,
    render,
    scale_label,
    versions_section,
)
from benchmarks.serve_model import (
    P95_TARGET_S,
    Phase,
    ServeBenchmark,
    ratios,
    target_met,
)
from benchmarks.stream_model import Percentiles

MS_PER_S = 1000.0


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * MS_PER_S:.1f}"


def _ratio(value: float) -> str:
    return "—" if math.isnan(value) or math.isinf(value) else f"{value:.2f}×"


def _cores(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _errors(phase: Phase) -> str:
    if not phase.errors:
        return "0"
    shown = ", ".join(f"{count:,} × {status}" for status, count in phase.errors.items())
    return f"{phase.error_count:,} ({shown})"


def _targets(result: ServeBenchmark) -> Section:
    api = result.api
    met = target_met(api)
    p95 = api.latency.p95
    measured = "—" if p95 is None else f"{_ms(p95)} ms"
    if api.error_count:
        measured += f", {api.error_count:,} errors"
    return ["## Target", "", *markdown_table(("target", "measured", "goal", "met"), [
        (f"API p95 latency, {api.clients} concurrent clients", measured,
         f"≤ {P95_TARGET_S * MS_PER_S:g} ms, no errors", "yes" if met else "**NO**"),
    ])]


def _machine(result: ServeBenchmark) -> Section:
    return machine_section(
        result.machine, during=("end of the API window", result.api.cpu.load_average),
        extra=[("API server", result.server), ("load generator", result.load_generator)])


def _versions(result: ServeBenchmark) -> Section:
    v = result.versions
    return versions_section([
        ("Python", v.python), ("FastAPI", v.fastapi), ("Starlette", v.starlette),
        ("uvicorn", v.uvicorn), ("uvloop", v.uvloop), ("httptools", v.httptools),
        ("pydantic", v.pydantic), ("httpx (answer checks)", v.httpx), ("DuckDB", v.duckdb),
        ("duckdb-extension-delta", v.duckdb_extension_delta),
    ])


def _data(result: ServeBenchmark) -> Section:
    gold = result.gold
    source = ", ".join(f"{table} {rows:,}" for table, rows in gold.source_rows.items())
    origin = (f"Reused the benchmark lake built at {gold.built_at} by an earlier run"
              if gold.reused else f"Built by this run at {gold.built_at}")
    return ["## Data", "", *markdown_table(("gold table", "rows"), [
        (table, f"{rows:,}") for table, rows in gold.rows.items()]), "",
        f"{origin} (`{gold.lake}`): source generated at scale {scale_label(result.scale)}, "
        f"seed {result.seed} ({source}; generation {gold.generation_s:.1f} s), then "
        f"`condolake batch` ({gold.batch_s:.1f} s)."]


def _phase_row(phase: Phase) -> tuple[str, ...]:
    lat = phase.latency
    return (phase.name, f"{phase.requests:,}", _errors(phase), f"{phase.throughput:,.0f}",
            _ms(lat.p50), _ms(lat.p95), _ms(lat.p99), _ms(lat.max))


def _results(result: ServeBenchmark) -> Section:
    phases = result.phases
    api, single = result.api, result.api_single
    return [
        "## Latency and throughput", "",
        f"{api.clients} closed-loop clients per run (each sends its next request when the "
        f"last one is answered, no think time); {api.warmup_s:g} s warm-up, then "
        f"{api.window_s:g} s measured (the 1-client run: {single.warmup_s:g} s, then "
        f"{single.window_s:g} s). Latency in ms, successful requests only.", "",
        *markdown_table(("run", "requests", "errors", "requests/s", "p50", "p95", "p99", "max"),
                [_phase_row(phase) for phase in phases]), "",
        *[f"* **{phase.name}**: {phase.method}" for phase in phases],
    ]


def _ratios(result: ServeBenchmark) -> Section:
    rows = []
    for baseline in result.baselines:
        r = ratios(result.api, baseline)
        rows.append((f"API / {baseline.name}", _ratio(r.p50), _ratio(r.p95), _ratio(r.p99),
                     _ratio(r.throughput)))
    return ["## API against the in-process baselines", "",
            *markdown_table(("ratio", "p50", "p95", "p99", "throughput"), rows), "",
            "Latency ratios above 1: the API is slower; a throughput ratio below 1: the API "
            "answers fewer requests per second."]


def _kind_rows(phase: Phase) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for kind in phase.kinds:
        lat: Percentiles = kind.latency
        share = kind.requests / phase.requests if phase.requests else 0.0
        rows.append((kind.kind, f"{kind.requests:,}", _share(share), f"{kind.errors:,}",
                     _ms(lat.p50), _ms(lat.p95), _ms(lat.p99)))
    return rows


def _kinds(result: ServeBenchmark) -> Section:
    lines = ["## Per request kind", ""]
    for phase in result.phases:
        lines += [f"{phase.name}:", "",
                  *markdown_table(("kind", "requests", "share", "errors", "p50", "p95", "p99"),
                          _kind_rows(phase)), ""]
    return lines[:-1]


def _cpu(result: ServeBenchmark) -> Section:
    rows = []
    for phase in result.phases:
        cpu = phase.cpu
        server = ("—" if cpu.server_cores is None
                  else f"{_cores(cpu.server_cores)} ({cpu.server_processes} process"
                       f"{'es' if cpu.server_processes != 1 else ''})")
        per_request = phase.cpu_per_request_ms
        rows.append((phase.name, server, _cores(cpu.load_generator_cores),
                     "—" if per_request is None else f"{per_request:.2f}",
                     _share(cpu.machine_busy_share), load_text(cpu.load_average)))
    return ["## CPU during the measured windows", "",
            *markdown_table(("run", "API server, cores", "load generator, cores",
                     "CPU ms per request", "whole machine busy", "load average at the end"),
                    rows), "",
            f"Cores: CPU seconds over the window's seconds (the machine has "
            f"{result.machine.cpu_count}); \"whole machine\" counts everyone's work, other "
            "jobs on the machine included. The load generator is oha (child processes of the "
            "benchmark, counted with it) in the API runs, the benchmark's client threads in "
            "the baseline runs. CPU per request is that of the side answering: "
            "the API server's process tree, or, in the baseline runs, the benchmark process "
            "(which then answers the queries). The load average counts runnable threads, so "
            "in the baseline runs it includes their client threads."]


def _method(result: ServeBenchmark) -> Section:
    return ["## How it is measured", "", " ".join([
        "The request mix stands for the dashboard and BI tools: pages of the condominium and",
        "resident tables (random condominium filters, sorts and page offsets, limits 20-100),",
        "residents and condominiums by id, the dashboard's top-10 residents, daily-per-tipo",
        "ranges of 7-90 days (optionally one tipo), the tipo list and freshness; half the",
        "requests with an admin key, half with an analista key (names masked). Every client",
        "draws its own seeded sequence: client n of a baseline asks it in order; for the API,",
        "oha (one run per key, the clients split between them) draws each request's URL at",
        "random from the first requests of all the clients' sequences with that key, so both",
        "see the same mix. Each request kind was first sent once through httpx and had to",
        "answer 2xx JSON. Any non-2xx answer or failed connection counts as an error and is",
        "left out of the latency percentiles (reported in the errors column instead).",
    ])]


def render_markdown(result: ServeBenchmark) -> str:
    """The whole report; sections separated by a blank line, ending in a newline."""
    title = (f"# Serving benchmark: scale {scale_label(result.scale)}, seed {result.seed}, "
             f"{result.api.clients} clients, {result.started_at}")
    return render(title, [_targets(result), _results(result), _ratios(result), _kinds(result),
                          _cpu(result), _machine(result), _versions(result), _data(result),
                          _method(result), notes_section(result.notes)])


def to_json(result: ServeBenchmark) -> str:
    document: dict[str, Any] = asdict(result)
    document["api"]["throughput"] = round(result.api.throughput, 1)
    document["api_single"]["throughput"] = round(result.api_single.throughput, 1)
    for index, baseline in enumerate(result.baselines):
        document["baselines"][index]["throughput"] = round(baseline.throughput, 1)
    document["ratios"] = {baseline.name: asdict(ratios(result.api, baseline))
                          for baseline in result.baselines}
    document["target"] = {"p95_s": {"max": P95_TARGET_S, "measured": result.api.latency.p95,
                                    "errors": result.api.error_count,
                                    "met": target_met(result.api)}}
    return json_text(document)


__all__ = ["render_markdown", "to_json"]
