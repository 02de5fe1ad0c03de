"""The CDC connector's state in `condolake status` and in the exported metrics."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from tests.unit.monitoring.health_sample import sample_health

from condolake.monitoring.health import breaches
from condolake.monitoring.metrics import render
from condolake.monitoring.status_view import cdc_line, status_document
from condolake.services.kafka_connect import ConnectorStatus, ConnectState, TaskStatus

URL = "http://127.0.0.1:8083"
TRACE = "java.lang.IllegalStateException: slot lost\n\tat a.b(C.java:1)"


def state(connector: str, *tasks: tuple[str, str | None]) -> ConnectState:
    return ConnectState("cdc-pg", URL, True, True, ConnectorStatus(
        "cdc-pg", connector, "w", tuple(TaskStatus(n, s, "w", trace)
                                        for n, (s, trace) in enumerate(tasks))))


def cdc_samples(cdc: ConnectState | None) -> dict[str, float]:
    text = render(replace(sample_health(), cdc=cdc)).decode()
    return {f"{sample.name}{dict(sorted(sample.labels.items()))}": sample.value
            for family in text_string_to_metric_families(text)
            if family.name.startswith("condolake_cdc_") for sample in family.samples}


def test_a_running_connector_is_one_state_series_set_to_1() -> None:
    samples = cdc_samples(state("RUNNING", ("RUNNING", None)))

    assert {name: value for name, value in samples.items() if value} == {
        "condolake_cdc_connect_up{'connector': 'cdc-pg'}": 1.0,
        "condolake_cdc_connector_state{'connector': 'cdc-pg', 'state': 'RUNNING'}": 1.0,
        "condolake_cdc_task_state{'connector': 'cdc-pg', 'state': 'RUNNING', 'task': '0'}": 1.0,
    }
    assert len(samples) == 1 + 6 + 6  # every state of the connector and of its task


def test_no_cdc_no_series_and_an_unreachable_worker_is_down() -> None:
    down = ConnectState("cdc-pg", URL, True, False, problem="connection refused")

    assert cdc_samples(None) == {}
    assert cdc_samples(down) == {"condolake_cdc_connect_up{'connector': 'cdc-pg'}": 0.0}


def test_a_failed_task_or_paused_connector_is_a_breach() -> None:
    failed = state("RUNNING", ("FAILED", TRACE))
    paused = state("PAUSED", ("PAUSED", None))
    running = state("RUNNING", ("RUNNING", None))

    assert [line for line in breaches(replace(sample_health(), cdc=failed))
            if line.startswith("cdc")] == ["cdc cdc-pg: task 0 FAILED"]
    assert [line for line in breaches(replace(sample_health(), cdc=paused))
            if line.startswith("cdc")] == ["cdc cdc-pg: connector PAUSED, task 0 PAUSED"]
    assert [line for line in breaches(replace(sample_health(), cdc=running))
            if line.startswith("cdc")] == []


def test_status_shows_one_line_and_the_document_the_state() -> None:
    failed = replace(sample_health(), cdc=state("RUNNING", ("FAILED", TRACE)))

    assert cdc_line(failed).plain == (
        f"Change data capture: cdc-pg: RUNNING, task 0 FAILED ({URL}): "
        "java.lang.IllegalStateException: slot lost")
    assert cdc_line(sample_health()).plain == (
        "Change data capture: not set up (condolake cdc start)")
    assert status_document(failed)["cdc"] == {
        "connector": "cdc-pg", "connect_url": URL, "embedded": True, "reachable": True,
        "problem": None, "status": {
            "name": "cdc-pg", "state": "RUNNING", "worker_id": "w", "error": None,
            "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w",
                       "error": "java.lang.IllegalStateException: slot lost"}]}}
    console = Console(width=200, record=True)
    console.print(cdc_line(failed))
    assert console.export_text().count("\n") == 1
