"""The serving benchmark report: verdict, rendered figures, ratios, JSON."""

# Expected Markdown table rows are longer than the line limit; wrapping would change them.
# ruff: noqa: E501

from __future__ import annotations

import json

from benchmarks.model import Machine
from benchmarks.serve_cpu import CpuUsage
from benchmarks.serve_model import (
    GoldData,
    Outcome,
    Phase,
    ServeBenchmark,
    ServeVersions,
    make_phase,
)
from benchmarks.serve_report import render_markdown, to_json


def phase(name: str, milliseconds: float, count: int, window_s: float = 10.0,
          errors: int = 0, server_cores: float | None = 1.0,
          load: tuple[float, float, float] = (3.1, 2.0, 1.5)) -> Phase:
    outcomes = [Outcome("morador_item", 200, milliseconds / 1000)] * count
    outcomes += [Outcome("tipos", 500, 0.001)] * errors
    cpu = CpuUsage(window_s, 0.4, server_cores, 1 if server_cores else 0, 0.95, load)
    return make_phase(name, f"how {name} ran", 50, 10.0, window_s, outcomes, cpu)


def result(api: Phase | None = None) -> ServeBenchmark:
    return ServeBenchmark(
        scale=10.0, seed=42, started_at="2026-11-26T04:00:00",
        machine=Machine(2, "AMD EPYC", 23.5, (1.0, 1.0, 1.0), (2.5, 2.0, 1.5)),
        versions=ServeVersions("3.11.7", "0.165.0", "1.10.0", "0.54.0", "2.14.4", "0.28.1",
                               "1.5.5", "1.5.5", "not installed", "not installed"),
        gold=GoldData("/lake", {"transacoes_por_condominio": 980}, {"transacoes": 10_000_000},
                      "2026-11-26T03:29:13", True, 73.5, 150.25),
        server="`condolake serve` as a child process", load_generator="one asyncio loop",
        api=api or phase("API over HTTP", 40.0, 10_000),
        api_single=phase("API over HTTP, 1 client", 2.0, 5_000),
        baselines=(phase("delta_scan", 80.0, 5_000, server_cores=None),
                   phase("memory", 10.0, 40_000, server_cores=None)),
        notes=("A note.",),
    )


def test_target_met_at_forty_ms_without_errors() -> None:
    markdown = render_markdown(result())
    assert markdown.startswith(
        "# Serving benchmark: scale 10, seed 42, 50 clients, 2026-11-26T04:00:00\n\n## Target\n")
    assert "| API p95 latency, 50 concurrent clients | 40.0 ms | ≤ 50 ms, no errors | yes |" in markdown


def test_target_missed_when_slow_or_failing() -> None:
    slow = render_markdown(result(phase("API over HTTP", 60.0, 100)))
    assert "| API p95 latency, 50 concurrent clients | 60.0 ms | ≤ 50 ms, no errors | **NO** |" in slow
    failing = render_markdown(result(phase("API over HTTP", 10.0, 100, errors=3)))
    assert "| 10.0 ms, 3 errors | ≤ 50 ms, no errors | **NO** |" in failing
    assert "| API over HTTP | 103 | 3 (3 × 500) | 10 | 10.0 | 10.0 | 10.0 | 10.0 |" in failing


def test_results_ratios_kinds_and_cpu_tables() -> None:
    markdown = render_markdown(result())
    assert "| API over HTTP | 10,000 | 0 | 1,000 | 40.0 | 40.0 | 40.0 | 40.0 |" in markdown
    assert "| delta_scan | 5,000 | 0 | 500 | 80.0 | 80.0 | 80.0 | 80.0 |" in markdown
    assert "| API over HTTP, 1 client | 5,000 | 0 | 500 | 2.0 | 2.0 | 2.0 | 2.0 |" in markdown
    assert "| API / delta_scan | 0.50× | 0.50× | 0.50× | 2.00× |" in markdown
    assert "| API / memory | 4.00× | 4.00× | 4.00× | 0.25× |" in markdown
    assert "| morador_item | 10,000 | 100 % | 0 | 40.0 | 40.0 | 40.0 |" in markdown
    assert "| API over HTTP | 1.00 (1 process) | 0.40 | 1.00 | 95 % | 3.10 / 2.00 / 1.50 |" in markdown
    assert "| delta_scan | — | 0.40 | 0.80 | 95 % | 3.10 / 2.00 / 1.50 |" in markdown
    assert "| load average 1/5/15 min, end of the API window | 3.10 / 2.00 / 1.50 |" in markdown
    assert "| uvloop | not installed |" in markdown
    assert ("Reused the benchmark lake built at 2026-11-26T03:29:13 by an earlier run "
            "(`/lake`): source generated at scale 10, seed 42 (transacoes 10,000,000; "
            "generation 73.5 s), then `condolake batch` (150.2 s).") in markdown
    assert markdown.endswith("## Notes\n\n* A note.\n")


def test_json_has_throughputs_ratios_and_the_verdict() -> None:
    document = json.loads(to_json(result()))
    assert document["api"]["throughput"] == 1000.0
    assert document["api_single"]["throughput"] == 500.0
    assert [b["throughput"] for b in document["baselines"]] == [500.0, 4000.0]
    assert document["ratios"]["memory"] == {"p50": 4.0, "p95": 4.0, "p99": 4.0,
                                            "throughput": 0.25}
    assert document["target"] == {"p95_s": {"max": 0.05, "measured": 0.04, "errors": 0,
                                            "met": True}}
    assert document["api"]["latency"]["count"] == 10_000
    assert document["gold"]["reused"] is True


def test_json_turns_missing_ratios_into_null() -> None:
    empty_api = phase("API over HTTP", 1.0, 0)
    document = json.loads(to_json(result(empty_api)))
    assert document["ratios"]["delta_scan"]["p95"] is None
    assert document["target"]["p95_s"]["met"] is False


def test_results_state_the_one_client_run_timing() -> None:
    assert ("10 s warm-up, then 10 s measured (the 1-client run: 10 s, then 10 s)."
            in render_markdown(result()))


def test_notes_explain_queueing_and_ignore_the_baseline_threads_in_the_load() -> None:
    from benchmarks.serve import Measured, _notes

    quiet_before = Machine(2, "AMD EPYC", 23.5, (0.4, 0.4, 0.4), (30.0, 10.0, 5.0))
    alone = phase("API over HTTP, 1 client", 2.0, 500)
    measured = Measured(result().gold, "server", phase("API over HTTP", 80.0, 500), alone, ())
    quiet_api = Measured(result().gold, "server",
                         phase("API over HTTP", 80.0, 500, load=(0.9, 0.5, 0.5)), alone, ())
    notes = _notes(quiet_before, quiet_api)
    assert notes == (
        "Closed loop: with 50 clients always waiting on an answer, the mean latency is about "
        "clients / throughput = 1000.0 ms (Little's law), so p95 ≤ 50 ms needs roughly "
        "1,000+ requests/s from the server.",
        "The API server spent 20.00 ms of CPU per request: with a core to itself it could "
        "answer about 50 requests/s, if the CPU is its only limit.",
        "Alone, a client saw p95 2.0 ms: the rest of the 50-client latency is time spent "
        "waiting in line for the server.",
    )
    busy = _notes(quiet_before, measured)  # 3.1 during the API run, on 2 CPUs
    assert busy[-1].startswith("The machine was busy (1-min load up to 3.10 on 2 CPUs")
