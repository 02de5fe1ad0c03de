"""`condolake status`: the JSON document for scripts and the terminal view of a snapshot."""

from __future__ import annotations

import dataclasses
import io
import json

from rich.console import Console
from tests.unit.monitoring.health_sample import sample_health

from condolake.monitoring.status_view import status_document, status_view


def rendered(width: int = 140) -> str:
    output = io.StringIO()
    Console(file=output, width=width, color_system=None).print(status_view(sample_health()))
    return output.getvalue()


def test_json_document_of_the_sample() -> None:
    document = json.loads(json.dumps(status_document(sample_health())))
    assert document["version"] == 1
    assert document["collected_at"] == "2027-01-15T08:00:00+00:00"
    assert document["healthy"] is False
    assert document["breaches"] == [
        "transform: last run transform-1 failed",
        "gold transacoes_por_morador: 7200 s since its last commit (SLA 3600 s)",
        "check reconciliation on transacoes failed",
        "kafka: Kafka end offsets unavailable: timed out",
    ]
    batch = document["jobs"][0]
    assert {key: batch[key] for key in ("job", "run_id", "status", "finished_at", "duration_s",
                                        "rows_read", "rows_quarantined", "last_success_at",
                                        "runs")} == {
        "job": "batch", "run_id": "batch-2", "status": "succeeded",
        "finished_at": "2027-01-15T07:52:00+00:00", "duration_s": 120.0, "rows_read": 1010,
        "rows_quarantined": 50, "last_success_at": "2027-01-15T07:52:00+00:00",
        "runs": {"failed": 1, "succeeded": 2}}
    assert batch["tables"][2] == {"table": "transacoes", "layer": "silver", "read": 1000,
                                  "valid": 940, "quarantined": 50, "duplicate": 10}
    assert document["jobs"][1]["error"] == "transform failed: boom\nNothing was changed"
    assert document["gold"] == [
        {"table": "transacoes_por_condominio", "version": 4,
         "committed_at": "2027-01-15T07:51:59+00:00", "age_s": 480.5, "sla_s": 3600.0,
         "breached": False},
        {"table": "transacoes_por_morador", "version": 2,
         "committed_at": "2027-01-15T06:00:00+00:00", "age_s": 7200.0, "sla_s": 3600.0,
         "breached": True}]
    assert document["quarantine"] == [{"table": "imoveis", "open": 0, "total": 2},
                                      {"table": "transacoes", "open": 50, "total": 75}]
    assert document["rates"][1] == {"table": "transacoes", "run_id": "batch-2", "job": "batch",
                                     "rows_read": 1000, "quarantine_rate": 0.05,
                                     "duplicate_rate": 0.01}
    assert [check["status"] for check in document["checks"]] == ["passed", "failed"]
    assert document["streams"]["process_running"] is True
    assert document["streams"]["queries"][0] == {
        "query": "kafka", "state": "running", "up": True, "last_batch": 12,
        "last_progress_at": "2027-01-15T07:59:58+00:00", "input_rows_per_s": 150.5,
        "processed_rows_per_s": 300.25, "batch_duration_s": 1.5, "kafka_lag": 42}
    assert document["thresholds"]["stream_lag_max"] == 100.0
    assert document["absent"] == ["quarantine/condominios"]
    assert document["errors"] == {"kafka": ["Kafka end offsets unavailable: timed out"]}


def test_a_healthy_snapshot_says_so() -> None:
    clean = dataclasses.replace(sample_health(), jobs=sample_health().jobs[:1],
                                gold=sample_health().gold[:1], checks=(), errors={})
    document = status_document(clean)
    assert (document["healthy"], document["breaches"]) == (True, [])


def test_terminal_view_shows_every_section() -> None:
    text = rendered()
    lines = text.splitlines()
    assert lines[0] == "CondoLake status of /lake at 2027-01-15T08:00:00+00:00"
    row = next(line for line in lines if line.startswith("│ batch "))
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "batch", "succeeded", "2027-01-15 07:52:00", "2 min 00 s", "1.010", "950", "50", "10",
        ""]
    failed = next(line for line in lines if line.startswith("│ transform "))
    assert "transform failed: boom" in failed and "Nothing was changed" not in text
    morador = next(line for line in lines if "transacoes_por_morador" in line)
    assert [c.strip() for c in morador.split("│")[1:-1]] == [
        "transacoes_por_morador", "2", "2027-01-15 06:00:00", "2 h 00 min", "BREACHED"]
    quarantine = next(line for line in lines if line.startswith("│ transacoes "))
    assert [c.strip() for c in quarantine.split("│")[1:-1]] == [
        "transacoes", "50", "75", "5.00%", "1.00%"]
    assert "reconciliation" in text and "source 1007 rows, lake 1000" in text
    stream = next(line for line in lines if line.startswith("│ kafka "))
    assert [c.strip() for c in stream.split("│")[1:-1]] == [
        "kafka", "running", "12", "01-15 07:59:58", "150.5", "300.2", "1.5 s", "42"]
    assert "needs attention:" in text
    assert "  - transform: last run transform-1 failed" in lines


def test_terminal_view_fits_the_minimum_width_without_cutting_values() -> None:
    text = rendered(width=110)
    assert "2027-01-15 07:52:00" in text and "kafka" in text
    assert "…" not in text
