"""Exposition text of a hand-built snapshot: every name, label and value the alert rules use."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.unit.monitoring.health_sample import NOW, sample_health

from condolake.config import Settings
from condolake.monitoring.exporter import MetricsSource, metrics_app
from condolake.monitoring.health import DqCheck, LakeHealth, Thresholds
from condolake.monitoring.metrics import CONTENT_TYPE, render
from condolake.monitoring.quality import CheckResult, schema_drift


def samples(text: str) -> set[str]:
    return {line for line in text.splitlines() if line and not line.startswith("#")}


EXPECTED = {
    'condolake_job_last_run_timestamp_seconds{job="batch"} 1.79999952e+09',
    'condolake_job_last_run_timestamp_seconds{job="transform"} 1.79999997e+09',
    'condolake_job_last_success_timestamp_seconds{job="batch"} 1.79999952e+09',
    'condolake_job_last_status{job="batch"} 1.0',
    'condolake_job_last_status{job="transform"} 0.0',
    'condolake_job_last_duration_seconds{job="batch"} 120.0',
    'condolake_job_last_duration_seconds{job="transform"} 30.0',
    'condolake_job_runs{job="batch",status="failed"} 1.0',
    'condolake_job_runs{job="batch",status="succeeded"} 2.0',
    'condolake_job_runs{job="transform",status="failed"} 1.0',
    'condolake_job_rows{job="batch",outcome="read",table="transacoes_por_condominio"} 3.0',
    'condolake_job_rows{job="batch",outcome="valid",table="transacoes_por_condominio"} 3.0',
    'condolake_job_rows{job="batch",outcome="quarantined",table="transacoes_por_condominio"} 0.0',
    'condolake_job_rows{job="batch",outcome="duplicate",table="transacoes_por_condominio"} 0.0',
    'condolake_job_rows{job="batch",outcome="read",table="imoveis"} 10.0',
    'condolake_job_rows{job="batch",outcome="valid",table="imoveis"} 10.0',
    'condolake_job_rows{job="batch",outcome="quarantined",table="imoveis"} 0.0',
    'condolake_job_rows{job="batch",outcome="duplicate",table="imoveis"} 0.0',
    'condolake_job_rows{job="batch",outcome="read",table="transacoes"} 1000.0',
    'condolake_job_rows{job="batch",outcome="valid",table="transacoes"} 940.0',
    'condolake_job_rows{job="batch",outcome="quarantined",table="transacoes"} 50.0',
    'condolake_job_rows{job="batch",outcome="duplicate",table="transacoes"} 10.0',
    'condolake_quarantine_rate{table="imoveis"} 0.0',
    'condolake_quarantine_rate{table="transacoes"} 0.05',
    'condolake_duplicate_rate{table="imoveis"} 0.0',
    'condolake_duplicate_rate{table="transacoes"} 0.01',
    'condolake_dq_check_failed{check="freshness",table="transacoes_por_condominio"} 0.0',
    'condolake_dq_check_failed{check="reconciliation",table="transacoes"} 1.0',
    'condolake_reconciliation_difference_rows{table="transacoes"} 7.0',
    'condolake_gold_freshness_seconds{table="transacoes_por_condominio"} 480.5',
    'condolake_gold_freshness_seconds{table="transacoes_por_morador"} 7200.0',
    'condolake_stream_up{query="kafka"} 1.0',
    'condolake_stream_up{query="landing"} 0.0',
    'condolake_stream_last_progress_timestamp_seconds{query="kafka"} 1.799999998e+09',
    'condolake_stream_input_rows_per_second{query="kafka"} 150.5',
    'condolake_stream_processed_rows_per_second{query="kafka"} 300.25',
    'condolake_stream_batch_duration_seconds{query="kafka"} 1.5',
    'condolake_stream_kafka_lag_offsets{query="kafka"} 42.0',
    'condolake_replication_slot_retained_wal_bytes{slot="condolake"} 2.147483648e+09',
    'condolake_replication_slot_confirmed_flush_lag_bytes{slot="condolake"} 1024.0',
    'condolake_replication_slot_active{slot="condolake"} 1.0',
    'condolake_replication_slot_active{slot="lost_one"} 0.0',
    'condolake_threshold{name="freshness_sla_s"} 3600.0',
    'condolake_threshold{name="batch_late_s"} 7200.0',
    'condolake_threshold{name="quarantine_rate_max"} 0.05',
    'condolake_threshold{name="duplicate_rate_max"} 0.1',
    'condolake_threshold{name="stream_lag_max"} 100.0',
    'condolake_threshold{name="stream_stale_s"} 300.0',
    "condolake_exporter_up 1.0",
    'condolake_scrape_errors{source="runs"} 0.0',
    'condolake_scrape_errors{source="dq_results"} 0.0',
    'condolake_scrape_errors{source="quarantine"} 0.0',
    'condolake_scrape_errors{source="gold"} 0.0',
    'condolake_scrape_errors{source="streams"} 0.0',
    'condolake_scrape_errors{source="kafka"} 1.0',
    'condolake_scrape_errors{source="replication"} 0.0',
}


def test_every_sample_of_a_snapshot() -> None:
    assert samples(render(sample_health()).decode()) == EXPECTED


def test_every_family_is_a_documented_gauge() -> None:
    families = list(text_string_to_metric_families(render(sample_health()).decode()))
    assert {family.type for family in families} == {"gauge"}
    assert all(family.documentation for family in families)
    assert [family.name for family in families] == SPEC_NAMES


# The names of the shared spec, in the order they are exposed.
SPEC_NAMES = [f"condolake_{name}" for name in (
    "job_last_run_timestamp_seconds", "job_last_success_timestamp_seconds", "job_last_status",
    "job_last_duration_seconds", "job_runs", "job_rows", "quarantine_rate", "duplicate_rate",
    "dq_check_failed", "reconciliation_difference_rows", "schema_drift_columns",
    "gold_freshness_seconds", "stream_up",
    "stream_last_progress_timestamp_seconds", "stream_input_rows_per_second",
    "stream_processed_rows_per_second", "stream_batch_duration_seconds",
    "stream_kafka_lag_offsets", "replication_slot_retained_wal_bytes",
    "replication_slot_confirmed_flush_lag_bytes", "replication_slot_active", "cdc_connect_up",
    "cdc_connector_state", "cdc_task_state", "threshold", "exporter_up", "scrape_errors")]


def test_an_empty_lake_still_says_the_exporter_is_up_and_what_failed() -> None:
    empty = LakeHealth(collected_at=NOW, lake="/lake", thresholds=Thresholds(1, 2, 0.5, 0.25, 3, 4),
                   errors={"runs": ("ops/runs does not exist",), "gold": ("a", "b")})
    lines = samples(render(empty).decode())
    assert lines == {
        'condolake_threshold{name="freshness_sla_s"} 1.0',
        'condolake_threshold{name="batch_late_s"} 2.0',
        'condolake_threshold{name="quarantine_rate_max"} 0.5',
        'condolake_threshold{name="duplicate_rate_max"} 0.25',
        'condolake_threshold{name="stream_lag_max"} 3.0',
        'condolake_threshold{name="stream_stale_s"} 4.0',
        "condolake_exporter_up 1.0",
        'condolake_scrape_errors{source="runs"} 1.0',
        'condolake_scrape_errors{source="dq_results"} 0.0',
        'condolake_scrape_errors{source="quarantine"} 0.0',
        'condolake_scrape_errors{source="gold"} 2.0',
        'condolake_scrape_errors{source="streams"} 0.0',
        'condolake_scrape_errors{source="kafka"} 0.0',
        'condolake_scrape_errors{source="replication"} 0.0',
    }


def test_freshness_is_measured_at_the_snapshot_time() -> None:
    later = dataclasses.replace(sample_health(), collected_at=NOW + 100)
    lines = samples(render(later).decode())
    assert 'condolake_gold_freshness_seconds{table="transacoes_por_condominio"} 580.5' in lines


def test_label_values_are_escaped() -> None:
    health = sample_health()
    odd = dataclasses.replace(health.jobs[0], job='a"b\\c')
    lines = samples(render(dataclasses.replace(health, jobs=(odd,))).decode())
    assert 'condolake_job_last_status{job="a\\"b\\\\c"} 1.0' in lines


def test_scrapes_within_the_cache_time_share_one_collection(base_settings: Settings,
                                                             tmp_path: Path) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    now = [100.0]
    source = MetricsSource(settings, cache_s=1.0, clock=lambda: now[0])
    collections: list[LakeHealth] = []
    original = source.collector.collect

    def counted() -> LakeHealth:
        collections.append(original())
        return collections[-1]

    source.collector.collect = counted  # type: ignore[method-assign]
    first = source.body()
    now[0] = 100.9
    assert source.body() is first
    now[0] = 101.0
    source.body()
    assert len(collections) == 2
    assert 'condolake_scrape_errors{source="runs"} 1.0' in samples(first.decode())


def test_exporter_app_serves_metrics_and_nothing_else(base_settings: Settings,
                                                      tmp_path: Path) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    with TestClient(metrics_app(settings)) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"] == CONTENT_TYPE
        assert "condolake_exporter_up 1.0" in samples(response.text)
        assert client.get("/docs").status_code == 404


def test_schema_drift_names_the_table_and_its_new_columns_until_a_passed_result() -> None:
    def drift_lines(*results: CheckResult) -> set[str]:
        checks = tuple(DqCheck(r.check, r.table, r.status, r.observed, r.threshold, r.failures,
                               NOW - 10, "stream-kafka-1", r.detail) for r in results)
        text = render(dataclasses.replace(sample_health(), checks=checks)).decode()
        return {line for line in samples(text) if "schema_drift" in line}

    assert drift_lines(schema_drift("imoveis", ["andares", "zona"], 12),
                       schema_drift("moradores", [], 3)) == {
        'condolake_dq_check_failed{check="schema_drift",table="imoveis"} 1.0',
        'condolake_dq_check_failed{check="schema_drift",table="moradores"} 0.0',
        'condolake_schema_drift_columns{columns="andares, zona",table="imoveis"} 2.0',
        'condolake_schema_drift_columns{columns="",table="moradores"} 0.0',
    }
