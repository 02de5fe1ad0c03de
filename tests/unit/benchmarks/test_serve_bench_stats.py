"""The serving benchmark's summaries: percentiles, errors, ratios, the 50 ms target, CPU."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest

from benchmarks.serve_cpu import (
    CpuSample,
    CpuUsage,
    MachineTicks,
    machine_ticks,
    own_seconds,
    sample,
    tree_seconds,
    usage,
)
from benchmarks.serve_load import Window
from benchmarks.serve_model import (
    CONNECTION_FAILED,
    Outcome,
    make_phase,
    ratios,
    summarize_outcomes,
    target_met,
)
from benchmarks.stream_model import Percentiles

CPU = CpuUsage(30.0, 0.5, 1.0, 1, 0.9, (2.0, 1.5, 1.0))


def outcomes_ms(kind: str, milliseconds: list[float], status: int = 200) -> list[Outcome]:
    return [Outcome(kind, status, value / 1000) for value in milliseconds]


def test_percentiles_of_successful_requests_only() -> None:
    outcomes = (outcomes_ms("morador_item", [float(v) for v in range(1, 101)])
                + outcomes_ms("morador_item", [5000.0], status=500)
                + outcomes_ms("tipos", [9000.0], status=CONNECTION_FAILED))
    latency, errors, kinds = summarize_outcomes(outcomes)
    assert latency.count == 100
    assert latency.p50 == pytest.approx(0.0505)
    assert latency.p95 == pytest.approx(0.09505)
    assert latency.p99 == pytest.approx(0.09901)
    assert latency.max == pytest.approx(0.100)
    assert errors == {"500": 1, "connection": 1}
    assert [(k.kind, k.requests, k.errors, k.latency.count) for k in kinds] == [
        ("morador_item", 101, 1, 100), ("tipos", 1, 1, 0)]
    assert kinds[1].latency == Percentiles(0, None, None, None, None)


def test_kinds_come_in_the_mix_order() -> None:
    _, _, kinds = summarize_outcomes(outcomes_ms("freshness", [1.0])
                                     + outcomes_ms("condominios_page", [2.0]))
    assert [k.kind for k in kinds] == ["condominios_page", "freshness"]


def test_throughput_counts_successful_requests_over_the_window() -> None:
    outcomes = outcomes_ms("tipos", [10.0] * 300) + outcomes_ms("tipos", [1.0] * 30, 503)
    phase = make_phase("API", "m", 50, 10.0, 30.0, outcomes, CPU)
    assert phase.requests == 330
    assert phase.error_count == 30
    assert phase.throughput == 10.0
    assert phase.cpu_per_request_ms == pytest.approx(1000 * 1.0 / 11.0)  # the server's cores
    baseline = make_phase("B", "m", 50, 10.0, 30.0, outcomes,
                          CpuUsage(30.0, 0.55, None, 0, 0.9, (1.0, 1.0, 1.0)))
    assert baseline.cpu_per_request_ms == pytest.approx(50.0)  # this process's cores
    assert make_phase("B", "m", 50, 10.0, 30.0, [], CPU).cpu_per_request_ms is None


def test_target_is_p95_within_fifty_ms_without_errors() -> None:
    at_target = make_phase("API", "m", 50, 10.0, 1.0, outcomes_ms("tipos", [50.0] * 20), CPU)
    assert target_met(at_target)
    over = make_phase("API", "m", 50, 10.0, 1.0, outcomes_ms("tipos", [50.1] * 20), CPU)
    assert not target_met(over)
    with_error = make_phase("API", "m", 50, 10.0, 1.0, outcomes_ms("tipos", [1.0] * 20)
                            + outcomes_ms("tipos", [1.0], 500), CPU)
    assert not target_met(with_error)
    empty = make_phase("API", "m", 50, 10.0, 1.0, [], CPU)
    assert not target_met(empty)


def test_ratios_divide_api_by_baseline() -> None:
    api = make_phase("API", "m", 50, 10.0, 10.0, outcomes_ms("tipos", [40.0] * 100), CPU)
    baseline = make_phase("B", "m", 50, 10.0, 10.0, outcomes_ms("tipos", [10.0] * 400), CPU)
    result = ratios(api, baseline)
    assert result.p50 == pytest.approx(4.0)
    assert result.p95 == pytest.approx(4.0)
    assert result.p99 == pytest.approx(4.0)
    assert result.throughput == pytest.approx(0.25)
    empty = make_phase("B", "m", 50, 10.0, 10.0, [], CPU)
    assert math.isnan(ratios(api, empty).p95)


def test_window_counts_requests_started_inside_it() -> None:
    window = Window(10.0, 20.0)
    assert window.counts(10.0)
    assert window.counts(19.999)
    assert not window.counts(9.999)
    assert not window.counts(20.0)


def test_machine_ticks_count_busy_within_total() -> None:
    ticks = machine_ticks()
    assert 0 < ticks.busy < ticks.total


def test_tree_seconds_add_up_descendants() -> None:
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 10
        while tree_seconds(shell.pid)[1] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        seconds, processes = tree_seconds(shell.pid)
        assert processes == 3
        assert seconds >= 0.0
    finally:
        shell.kill()
        shell.wait()
    assert tree_seconds(shell.pid) == (0.0, 0)


def test_own_seconds_with_children_counts_awaited_children() -> None:
    before = own_seconds(children=True)
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    assert own_seconds(children=True) > before
    assert own_seconds(children=False) <= own_seconds(children=True)


def test_sample_without_a_server() -> None:
    taken = sample(None)
    assert (taken.server_s, taken.server_processes) == (None, 0)
    assert taken.machine is not None


def test_usage_is_cpu_seconds_over_window_seconds() -> None:
    before = CpuSample(100.0, 5.0, 40.0, 1, MachineTicks(1000, 4000))
    after = CpuSample(110.0, 8.0, 52.0, 2, MachineTicks(2500, 6000))
    measured = usage(before, after, (3.0, 2.0, 1.0))
    assert measured.window_s == 10.0
    assert measured.load_generator_cores == pytest.approx(0.3)
    assert measured.server_cores == pytest.approx(1.2)
    assert measured.server_processes == 2
    assert measured.machine_busy_share == pytest.approx(0.75)
    assert measured.load_average == (3.0, 2.0, 1.0)
    no_server = usage(CpuSample(0.0, 0.0, None, 0, None), CpuSample(2.0, 1.0, None, 0, None),
                      (0.0, 0.0, 0.0))
    assert (no_server.server_cores, no_server.machine_busy_share) == (None, None)
    assert no_server.load_generator_cores == 0.5
