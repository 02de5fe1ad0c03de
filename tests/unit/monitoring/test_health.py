"""LakeHealth snapshot: checkpoint parsing, lag arithmetic, row builders, and a lake with nothing
(or something broken) in it, which must be reported, never raised."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.unit.monitoring.health_sample import NOW, sample_health

from condolake.config import Settings
from condolake.layout import checkpoint_path
from condolake.monitoring.health import (
    HealthCollector,
    JobRun,
    TableRate,
    TableRows,
    breaches,
    checks_from_rows,
    epoch_of,
    jobs_from_rows,
    kafka_offsets,
    latest_batch_id,
    parse_offsets_file,
    rates_from_rows,
    read_checkpoint,
    unread_offsets,
)
from condolake.serving.queries import gold_specs

TOPIC_A, TOPIC_B = "p.public.transacoes", "p.public.imoveis"
METADATA = {"batchWatermarkMs": 0, "batchTimestampMs": 1795672215463,
            "conf": {"spark.sql.shuffle.partitions": "4"}}
KAFKA_SOURCE = {TOPIC_A: {"0": 15647, "1": 15527}, TOPIC_B: {"0": 75, "1": 74}}
DELTA_SOURCE = {"sourceVersion": 1, "reservoirId": "b39c4911", "reservoirVersion": 3,
                "index": -1, "isStartingVersion": False}


def offsets_file(*sources: object) -> str:
    return "\n".join(["v1", json.dumps(METADATA), *(json.dumps(s) for s in sources)])


def test_offsets_file_of_a_kafka_query() -> None:
    stamp, offsets = parse_offsets_file(offsets_file(KAFKA_SOURCE))
    assert stamp == 1795672215463
    assert offsets == {(TOPIC_A, 0): 15647, (TOPIC_A, 1): 15527, (TOPIC_B, 0): 75,
                       (TOPIC_B, 1): 74}


def test_offsets_file_of_a_delta_query_has_no_kafka_offsets() -> None:
    assert parse_offsets_file(offsets_file(DELTA_SOURCE, DELTA_SOURCE)) == (1795672215463, None)
    assert parse_offsets_file(offsets_file({"logOffset": 3})) == (1795672215463, None)


def test_unreadable_offsets_files() -> None:
    assert parse_offsets_file("") == (None, None)
    assert parse_offsets_file("v1\n") == (None, None)
    assert parse_offsets_file("v1\n{not json\n{}") == (None, None)
    assert kafka_offsets({TOPIC_A: {"0": "12"}}) is None
    assert kafka_offsets({TOPIC_A: {"x": 12}}) is None
    assert kafka_offsets({}) is None


def test_latest_batch_id_ignores_crc_and_temporary_files() -> None:
    assert latest_batch_id(["0", "1", "10", "9", ".10.crc", ".11.tmp", "x"]) == 10
    assert latest_batch_id([".0.crc"]) is None


def test_lag_is_end_minus_checkpoint_summed_over_the_query_topics() -> None:
    committed = {(TOPIC_A, 0): 100, (TOPIC_A, 1): 50}
    latest = {(TOPIC_A, 0): 130, (TOPIC_A, 1): 50, (TOPIC_A, 2): 4,  # a new partition: from 0
              (TOPIC_B, 0): 999}  # not a topic of this query
    assert unread_offsets(committed, latest) == 34
    assert unread_offsets(committed, {(TOPIC_A, 0): 90, (TOPIC_A, 1): 50}) == 0  # never negative


def test_read_checkpoint_takes_the_latest_offsets_file(tmp_path: Path) -> None:
    offsets = tmp_path / "offsets"
    offsets.mkdir()
    (offsets / "0").write_text(offsets_file({TOPIC_A: {"0": 1}}))
    (offsets / "1").write_text(offsets_file({TOPIC_A: {"0": 5}}))
    (offsets / ".1.crc").write_text("garbage")
    assert read_checkpoint(tmp_path) == (1795672215463, {(TOPIC_A, 0): 5})
    assert read_checkpoint(tmp_path / "missing") == (None, None)


def test_epoch_of_spark_progress_timestamps() -> None:
    assert epoch_of("2027-01-15T08:00:00.000Z") == NOW
    assert epoch_of("2027-01-15T08:00:00") == NOW  # no zone: UTC, as Spark writes it
    assert epoch_of(None) is None
    assert epoch_of("yesterday") is None


def test_jobs_from_rows() -> None:
    last = [("transform", "t-1", "failed", 10.0, 12.5, 2.5, 0, 0, 0, 0, "boom"),
            ("batch", "b-2", "succeeded", 5.0, 8.0, 3.0, 12, 9, 2, 1, None)]
    counts = [("batch", "succeeded", 2), ("batch", "failed", 1), ("transform", "failed", 1)]
    successes = [("batch", 8.0)]
    tables = [("batch", "transacoes", "silver", 10, 7, 2, 1),
              ("batch", "condominios", "silver", 2, 2, 0, 0)]
    jobs = jobs_from_rows(last, counts, successes, tables)
    assert [job.job for job in jobs] == ["batch", "transform"]
    batch, transform = jobs
    assert batch.last == JobRun("batch", "b-2", "succeeded", 5.0, 8.0, 3.0, 12, 9, 2, 1, None, (
        TableRows("condominios", "silver", 2, 2, 0, 0),
        TableRows("transacoes", "silver", 10, 7, 2, 1)))
    assert batch.last_success_at == 8.0
    assert dict(batch.runs) == {"failed": 1, "succeeded": 2}
    assert transform.last.tables == ()
    assert transform.last_success_at is None


def test_rates_of_the_latest_ingest() -> None:
    rates = rates_from_rows([("transacoes", "b-2", "batch", 1000, 50, 10),
                             ("condominios", "b-2", "batch", 0, 0, 0)])
    assert rates == (TableRate("condominios", "b-2", "batch", 0, 0, 0),
                     TableRate("transacoes", "b-2", "batch", 1000, 50, 10))
    assert (rates[1].quarantine_rate, rates[1].duplicate_rate) == (0.05, 0.01)
    assert (rates[0].quarantine_rate, rates[0].duplicate_rate) == (0.0, 0.0)  # nothing read


def test_checks_from_rows_name_a_lake_wide_check_with_an_empty_table() -> None:
    checks = checks_from_rows([("reconciliation", "transacoes", "failed", 7.0, 0.0, 7, 3.0,
                                "c-1", "off by 7"),
                               ("freshness", None, "passed", 1.0, 9.0, None, 3.0, "c-1", None)])
    assert [(c.check, c.table, c.failed, c.failures) for c in checks] == [
        ("freshness", "", False, None), ("reconciliation", "transacoes", True, 7)]


def test_breaches_of_the_sample() -> None:
    assert breaches(sample_health()) == [
        "transform: last run transform-1 failed",
        "gold transacoes_por_morador: 7200 s since its last commit (SLA 3600 s)",
        "check reconciliation on transacoes failed",
        "kafka: Kafka end offsets unavailable: timed out",
    ]
    clean = dataclasses.replace(sample_health(), jobs=(), gold=(), checks=(), errors={})
    assert breaches(clean) == []  # a quarantine rate equal to its maximum is not a breach
    lagging = dataclasses.replace(clean, thresholds=dataclasses.replace(
        clean.thresholds, stream_lag_max=41, quarantine_rate_max=0.04))
    assert breaches(lagging) == ["transacoes: quarantine rate 0.0500 > 0.04",
                                 "stream kafka: Kafka lag 42 > 41"]


def test_an_empty_lake_is_reported_not_raised(base_settings: Settings, tmp_path: Path) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"),
                                   state_dir=str(tmp_path / "state"))
    health = HealthCollector(settings, clock=lambda: NOW).collect()
    assert health.collected_at == NOW
    assert (health.jobs, health.rates, health.quarantine, health.checks, health.gold) == (
        (), (), (), (), ())
    assert [(s.query, s.state, s.kafka_lag) for s in health.streams] == [
        ("kafka", "never run", None), ("landing", "never run", None)]
    assert health.absent == (
        "ops/runs", "ops/dq_results", "quarantine/condominios", "quarantine/moradores",
        "quarantine/imoveis", "quarantine/transacoes",
        *(f"gold/{name}" for name in gold_specs()))
    assert {source: len(messages) for source, messages in health.errors.items()} == {
        "runs": 1, "gold": 3}


def test_a_broken_table_and_an_unreachable_broker_are_counted(base_settings: Settings,
                                                              tmp_path: Path) -> None:
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"),
                                   state_dir=str(tmp_path / "state"),
                                   kafka_bootstrap="127.0.0.1:9")  # discard port: refused
    log = Path(settings.lake_path) / "ops" / "runs" / "_delta_log"
    log.mkdir(parents=True)
    (log / f"{0:020d}.json").write_text("this is not a Delta commit\n")
    offsets = Path(checkpoint_path(settings.lake_path, "kafka")) / "offsets"
    offsets.mkdir(parents=True)
    (offsets / "0").write_text(offsets_file(KAFKA_SOURCE))
    health = HealthCollector(settings).collect()
    assert health.jobs == ()
    assert len(health.errors["runs"]) == 1
    assert health.errors["runs"][0].startswith("ops/runs could not be read: ")
    assert len(health.errors["kafka"]) == 1
    bronze = health.streams[0]
    assert (bronze.query, bronze.state, bronze.kafka_lag) == ("kafka", "never run", None)
    assert bronze.last_progress_at == 1795672215.463  # from the checkpoint's offsets file
