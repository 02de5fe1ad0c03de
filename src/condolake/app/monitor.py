"""The lake's health at a glance and its Prometheus exporter, without Spark."""

from __future__ import annotations

from typing import TYPE_CHECKING

from condolake.app.resources import Resources

if TYPE_CHECKING:
    from condolake.monitoring.health import LakeHealth


def health(resources: Resources) -> LakeHealth:
    """Last run per job, gold freshness, quarantine rates, failed checks, streams and lag."""
    from condolake.monitoring.health import HealthCollector

    collector = HealthCollector(resources.settings)
    try:
        return collector.collect()
    finally:
        collector.close()


def serve_metrics(resources: Resources, host: str | None, port: int | None) -> None:
    """/metrics served until Ctrl-C (host and port default to the settings')."""
    from condolake.monitoring.exporter import run_exporter

    settings = resources.settings
    run_exporter(settings, host=host or settings.serve_host, port=port or settings.metrics_port)
