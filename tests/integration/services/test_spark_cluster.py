"""The local Spark standalone cluster: real Master and Worker processes on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.pipelines.run_cli import run_condolake

from condolake.errors import ServiceError
from condolake.services.spark_cluster import LocalSparkCluster

pytestmark = pytest.mark.integration


def test_a_worker_that_cannot_start_fails_with_its_log_and_leaves_nothing(tmp_path: Path) -> None:
    cluster = LocalSparkCluster(tmp_path, memory_per_worker="lots")

    with pytest.raises(ServiceError) as failure:
        cluster.start()

    assert "worker-1" in str(failure.value)
    assert "--- last lines of" in str(failure.value)
    assert not cluster.is_running()
    assert not (cluster.folder / "state.json").exists()


def test_cli_starts_reports_and_stops_a_cluster_that_outlives_it(tmp_path: Path) -> None:
    settings = {"state_dir": str(tmp_path / "state")}
    cluster = LocalSparkCluster(tmp_path / "state")
    try:
        started = run_condolake(["cluster", "start", "--memory", "512m"], tmp_path, settings)
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == cluster.master_url
        assert cluster.is_running()  # the command returned; the daemons are still there

        status = run_condolake(["cluster", "status"], tmp_path, settings)
        assert status.returncode == 0, status.stderr
        assert f"{cluster.master_url} (ALIVE): 1 workers" in " ".join(status.stdout.split())

        stopped = run_condolake(["cluster", "stop"], tmp_path, settings)
        assert stopped.returncode == 0, stopped.stderr
        assert not cluster.is_running()
    finally:
        cluster.stop()
