"""The exporter's replication-slot gauges, read from a real PostgreSQL source."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.conftest import new_database

from condolake.config import Settings, load_settings
from condolake.monitoring.health import HealthCollector
from condolake.monitoring.metrics import render
from condolake.services.ports import free_port
from condolake.services.postgres import SourceDatabase

pytestmark = pytest.mark.integration


def settings_for(source_url: str, tmp_path: Path) -> Settings:
    return load_settings(environ={}, state_dir=str(tmp_path / "state"),
                         lake_root=str(tmp_path / "lake"), source_url=source_url)


def scraped(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    collector = HealthCollector(settings)
    try:
        text = render(collector.collect()).decode()
    finally:
        collector.close()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_retained_wal_and_activity_of_each_slot_of_the_source(postgres: SourceDatabase,
                                                              tmp_path: Path) -> None:
    slot = f"metrics_slot_{uuid.uuid4().hex[:8]}"
    with new_database(postgres) as db:
        with db.connect(autocommit=True) as conn:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
        try:
            with db.connect() as conn:
                conn.execute("CREATE TABLE filler AS SELECT n FROM generate_series(1, 1000) n")
                conn.execute("SELECT pg_switch_wal()")  # past the slot's segment, for sure
            with db.connect() as conn:
                row = conn.execute(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                    "FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
            assert row is not None and row[0] > 0

            samples = scraped(settings_for(db.url, tmp_path))

            labels = (("slot", slot),)
            assert samples[("condolake_replication_slot_active", labels)] == 0.0
            retained = samples[("condolake_replication_slot_retained_wal_bytes", labels)]
            assert retained >= row[0]  # the scrape came later: only more WAL since
            assert samples[("condolake_replication_slot_confirmed_flush_lag_bytes",
                            labels)] > 0
            assert [key for key in samples if key[0].startswith("condolake_replication")] == [
                ("condolake_replication_slot_retained_wal_bytes", labels),
                ("condolake_replication_slot_confirmed_flush_lag_bytes", labels),
                ("condolake_replication_slot_active", labels),
            ]  # only the slots of the source's own database
            assert samples[("condolake_scrape_errors", (("source", "replication"),))] == 0.0
        finally:
            with db.connect(autocommit=True) as conn:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def test_an_unreachable_source_is_a_scrape_error(tmp_path: Path) -> None:
    url = f"postgresql://someone:secret@127.0.0.1:{free_port()}/condomanage"
    samples = scraped(settings_for(url, tmp_path))
    assert samples[("condolake_scrape_errors", (("source", "replication"),))] == 1.0
    assert not [key for key in samples if key[0].startswith("condolake_replication")]

    collector = HealthCollector(settings_for(url, tmp_path))
    try:
        (message,) = collector.collect().errors["replication"]
    finally:
        collector.close()
    assert message.startswith(f"replication slots of {url.replace('secret', '***')} "
                              "unavailable: ")
    assert "secret" not in message
