"""Embedded or external: decided once, from the settings, without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from condolake.app.resources import Resources, started
from condolake.config import Settings, revealed
from condolake.errors import CondoLakeError

EXTERNAL_URL = "postgresql://lake@db.example:5432/condo"
EXTERNAL_KAFKA = "kafka-1.example:9092,kafka-2.example:9092"


def test_nothing_configured_means_embedded_services(tmp_path: Path) -> None:
    resources = Resources.from_settings(Settings(state_dir=str(tmp_path)))
    assert resources.source_is_embedded and resources.source_url is None
    assert resources.kafka_is_embedded and resources.kafka_bootstrap is None


def test_configured_urls_mean_external_services(tmp_path: Path) -> None:
    resources = Resources.from_settings(Settings(state_dir=str(tmp_path), source_url=EXTERNAL_URL,
                                                 kafka_bootstrap=EXTERNAL_KAFKA))
    assert not resources.source_is_embedded and revealed(resources.source_url) == EXTERNAL_URL
    assert not resources.kafka_is_embedded and resources.kafka_bootstrap == EXTERNAL_KAFKA


def test_each_service_is_decided_on_its_own(tmp_path: Path) -> None:
    resources = Resources.from_settings(Settings(state_dir=str(tmp_path),
                                                 kafka_bootstrap=EXTERNAL_KAFKA))
    assert resources.source_is_embedded
    assert not resources.kafka_is_embedded


def test_an_empty_setting_is_not_an_external_service(tmp_path: Path) -> None:
    resources = Resources.from_settings(Settings(state_dir=str(tmp_path), source_url="",
                                                 kafka_bootstrap=""))
    assert resources.source_is_embedded and resources.kafka_is_embedded


def test_external_services_are_used_as_they_are(tmp_path: Path) -> None:
    resources = Resources.from_settings(Settings(state_dir=str(tmp_path), source_url=EXTERNAL_URL,
                                                 kafka_bootstrap=EXTERNAL_KAFKA))
    with resources.source_database() as db:
        assert db.url == EXTERNAL_URL
    assert resources.running_source()[0] is not None
    with resources.kafka() as bootstrap:
        assert bootstrap == EXTERNAL_KAFKA
    assert resources.running_kafka() == EXTERNAL_KAFKA
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "kafka").exists()


def test_embedded_services_that_do_not_run_are_not_started_by_a_look(tmp_path: Path) -> None:
    resources = Resources.from_settings(Settings(state_dir=str(tmp_path)))
    source, why = resources.running_source()
    assert source is None
    assert why is not None and "`condolake source start`" in why
    with pytest.raises(CondoLakeError, match="local Kafka broker .* is not running"):
        resources.running_kafka()


class FakeDaemon:
    def __init__(self, running: bool) -> None:
        self.running = running
        self.calls: list[str] = []

    def is_running(self) -> bool:
        return self.running

    def start(self) -> str:
        self.calls.append("start")
        self.running = True
        return "127.0.0.1:1"

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False


def test_a_daemon_started_here_is_stopped_on_exit() -> None:
    daemon = FakeDaemon(running=False)
    with started(daemon) as address:
        assert address == "127.0.0.1:1"
    assert daemon.calls == ["start", "stop"]


def test_a_daemon_already_running_is_left_running() -> None:
    daemon = FakeDaemon(running=True)
    with started(daemon):
        pass
    assert daemon.calls == ["start"] and daemon.running
