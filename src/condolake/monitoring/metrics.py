"""A `LakeHealth` snapshot as Prometheus exposition text (pure: no I/O, the time is the snapshot's).

The names and labels are a contract: the alert rules in monitoring/prometheus/alerts.yml and
docs/operations.md use exactly these. Everything is a gauge computed at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from condolake.monitoring import quality
from condolake.monitoring.health import OUTCOMES, SOURCES, LakeHealth
from condolake.services.kafka_connect import CONNECT_STATES

PREFIX = "condolake_"
# What `generate_latest` writes. prometheus_client's CONTENT_TYPE_LATEST names version 1.0.0,
# which Prometheus servers before 3.x do not accept; the body is the 0.0.4 text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


class HealthMetrics(Collector):
    """The metrics of one snapshot, for a `CollectorRegistry`."""

    def __init__(self, health: LakeHealth) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        yield from self._jobs()
        yield from self._quality()
        yield from self._gold()
        yield from self._streams()
        yield from self._replication_slots()
        yield from self._cdc()
        yield from self._exporter()

    def _jobs(self) -> Iterator[Metric]:
        jobs = self._health.jobs
        last_run = _gauge("job_last_run_timestamp_seconds",
                          "End of the job's latest run (ops/runs finished_at).", ("job",))
        last_success = _gauge("job_last_success_timestamp_seconds",
                              "End of the job's latest succeeded run.", ("job",))
        status = _gauge("job_last_status", "1 if the job's latest run succeeded, 0 if it failed.",
                        ("job",))
        duration = _gauge("job_last_duration_seconds", "Duration of the job's latest run.",
                          ("job",))
        runs = _gauge("job_runs", "Runs of the job in ops/runs, by status.", ("job", "status"))
        rows = _gauge("job_rows", "Rows per table of the job's latest run (ops/run_tables).",
                      ("job", "table", "outcome"))
        for job in jobs:
            last = job.last
            last_run.add_metric([job.job], last.finished_at or last.started_at)
            if job.last_success_at is not None:
                last_success.add_metric([job.job], job.last_success_at)
            status.add_metric([job.job], 1.0 if last.status == "succeeded" else 0.0)
            if last.duration_s is not None:
                duration.add_metric([job.job], last.duration_s)
            for state, count in job.runs.items():
                runs.add_metric([job.job, state], count)
            totals: dict[tuple[str, str], int] = {}
            for counts in last.tables:
                for outcome in OUTCOMES:
                    key = (counts.table, outcome)
                    totals[key] = totals.get(key, 0) + counts.outcome(outcome)
            for (table, outcome), value in totals.items():
                rows.add_metric([job.job, table, outcome], value)
        yield from (last_run, last_success, status, duration, runs, rows)

    def _quality(self) -> Iterator[Metric]:
        quarantine = _gauge("quarantine_rate",
                            "Quarantined / read rows of the table's latest ingest run (batch "
                            "or ingest job, as `condolake check`).", ("table",))
        duplicate = _gauge("duplicate_rate",
                           "Duplicate / read rows of the table's latest ingest run (batch or "
                           "ingest job, as `condolake check`).", ("table",))
        for rate in self._health.rates:
            quarantine.add_metric([rate.table], rate.quarantine_rate)
            duplicate.add_metric([rate.table], rate.duplicate_rate)
        failed = _gauge("dq_check_failed",
                        "1 if the latest `condolake check` result of the check failed.",
                        ("check", "table"))
        difference = _gauge("reconciliation_difference_rows",
                            "Source rows minus silver and open quarantine rows (absolute), "
                            "latest reconciliation check.", ("table",))
        drift = _gauge("schema_drift_columns",
                       "Columns the table's change events carry that the lake does not declare "
                       "(latest schema_drift result of the kafka stream; 0 once they no longer "
                       "do).", ("table", "columns"))
        for check in self._health.checks:
            failed.add_metric([check.check, check.table], 1.0 if check.failed else 0.0)
            if check.check == quality.RECONCILIATION and check.observed is not None:
                difference.add_metric([check.table], check.observed)
            if check.check == quality.SCHEMA_DRIFT:
                columns = quality.drift_columns(check.detail) if check.failed else []
                drift.add_metric([check.table, ", ".join(columns)], float(len(columns)))
        yield from (quarantine, duplicate, failed, difference, drift)

    def _gold(self) -> Iterator[Metric]:
        freshness = _gauge("gold_freshness_seconds",
                           "Seconds since the gold table's latest Delta commit.", ("table",))
        for gold in self._health.gold:
            freshness.add_metric([gold.table], gold.age_s(self._health.collected_at))
        yield freshness

    def _streams(self) -> Iterator[Metric]:
        up = _gauge("stream_up", "1 if the streaming query is running.", ("query",))
        progress = _gauge("stream_last_progress_timestamp_seconds",
                          "Time of the query's latest micro-batch progress.", ("query",))
        input_rate = _gauge("stream_input_rows_per_second",
                            "Input rows per second of the query's latest micro-batch.",
                            ("query",))
        processed_rate = _gauge("stream_processed_rows_per_second",
                                "Processed rows per second of the query's latest micro-batch.",
                                ("query",))
        duration = _gauge("stream_batch_duration_seconds",
                          "Duration of the query's latest micro-batch.", ("query",))
        lag = _gauge("stream_kafka_lag_offsets",
                     "Broker end offsets minus the offsets in the query's checkpoint, summed.",
                     ("query",))
        for stream in self._health.streams:
            labels = [stream.query]
            up.add_metric(labels, 1.0 if stream.up else 0.0)
            for family, value in ((progress, stream.last_progress_at),
                                  (input_rate, stream.input_rows_per_s),
                                  (processed_rate, stream.processed_rows_per_s),
                                  (duration, stream.batch_duration_s),
                                  (lag, stream.kafka_lag)):
                if value is not None:
                    family.add_metric(labels, value)
        yield from (up, progress, input_rate, processed_rate, duration, lag)

    def _replication_slots(self) -> Iterator[Metric]:
        retained = _gauge("replication_slot_retained_wal_bytes",
                          "WAL the source keeps for the logical replication slot: current WAL "
                          "position minus the slot's restart_lsn.", ("slot",))
        flush_lag = _gauge("replication_slot_confirmed_flush_lag_bytes",
                           "Current WAL position minus the slot's confirmed_flush_lsn: changes "
                           "its consumer has not confirmed yet.", ("slot",))
        active = _gauge("replication_slot_active",
                        "1 if a consumer (the Debezium connector) is streaming from the slot.",
                        ("slot",))
        for slot in self._health.slots:
            active.add_metric([slot.slot], 1.0 if slot.active else 0.0)
            if slot.retained_wal_bytes is not None:
                retained.add_metric([slot.slot], slot.retained_wal_bytes)
            if slot.confirmed_flush_lag_bytes is not None:
                flush_lag.add_metric([slot.slot], slot.confirmed_flush_lag_bytes)
        yield from (retained, flush_lag, active)
    def _cdc(self) -> Iterator[Metric]:
        """Kafka Connect's view of the Debezium connector, when CDC is set up: one series per
        possible state, 1 for the current one (an absent connector or task has none)."""
        up = _gauge("cdc_connect_up", "1 if Kafka Connect answered for the connector.",
                    ("connector",))
        connector = _gauge("cdc_connector_state", "1 for the connector's current state in "
                           "Kafka Connect, 0 for the others.", ("connector", "state"))
        task = _gauge("cdc_task_state", "1 for the task's current state in Kafka Connect, 0 "
                      "for the others.", ("connector", "task", "state"))
        cdc = self._health.cdc
        if cdc is not None:
            up.add_metric([cdc.connector], 1.0 if cdc.reachable else 0.0)
        if cdc is not None and cdc.status is not None:
            for state in CONNECT_STATES:
                connector.add_metric([cdc.connector, state],
                                     1.0 if cdc.status.state == state else 0.0)
                for each in cdc.status.tasks:
                    task.add_metric([cdc.connector, str(each.id), state],
                                    1.0 if each.state == state else 0.0)
        yield from (up, connector, task)

    def _exporter(self) -> Iterator[Metric]:
        thresholds = _gauge("threshold", "Configured thresholds (the same `condolake check` "
                                         "uses).", ("name",))
        for name, value in self._health.thresholds.items():
            thresholds.add_metric([name], value)
        up = _gauge("exporter_up", "1: the exporter answered this scrape.")
        up.add_metric([], 1.0)
        errors = _gauge("scrape_errors", "Sources that could not be read in this scrape "
                                         "(count of problems).", ("source",))
        for source in SOURCES:
            errors.add_metric([source], len(self._health.errors.get(source, ())))
        yield from (thresholds, up, errors)


def render(health: LakeHealth) -> bytes:
    """The exposition text (format 0.0.4, `CONTENT_TYPE`) of a snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthMetrics(health))
    return generate_latest(registry)
