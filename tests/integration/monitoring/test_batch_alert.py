"""A failing job command posts its alert to the webhook: a real local HTTP receiver.

`condolake batch` against a PostgreSQL that does not answer fails as a recorded run (real
Spark and Delta, in this process on the session's SparkSession); the alert names the run
that ops/runs holds. `condolake ingest csv` with a wrong table fails before any run, in a
child process as a user runs it (no Spark needed), with the webhook reachable or not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from tests.integration.pipelines.run_cli import run_condolake
from tests.support.webhook import HOOK_PATH, free_port, webhook_receiver

import condolake.cli as cli
import condolake.spark
from condolake.config import Settings
from condolake.layout import Layer, table_path

pytestmark = pytest.mark.integration

UNKNOWN_TABLE = ("unknown table 'boletos'; expected one of: condominios, moradores, imoveis, "
                 "transacoes")


def test_failed_batch_posts_the_run_to_the_webhook(
    spark: SparkSession, base_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"postgresql://condolake:secret@127.0.0.1:{free_port()}/condomanage"
    with webhook_receiver() as hook:
        settings = base_settings.with_(lake_root=str(tmp_path / "lake"),
                                       source_url=closed, alert_webhook_url=hook.url)
        monkeypatch.setattr(cli, "load_settings", lambda: settings)
        monkeypatch.setattr(condolake.spark, "build_spark", lambda *args, **kwargs: spark)

        assert cli.main(["batch"]) == 1

        (alert,) = hook.wait_for(1)
    stderr = capsys.readouterr().err
    (run,) = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.OPS, "runs")).collect()
    assert (run["job"], run["status"]) == ("batch", "failed")
    assert run["error"].startswith("the PostgreSQL source failed during the read (")
    assert "Connection refused" in run["error"]
    # The user's error line and the alert tell the same run and cause.
    assert f"condolake: error: batch failed: {run['error']}\n" in stderr
    assert f"run {run['run_id']} is recorded as failed in ops/runs." in stderr
    assert "warning" not in stderr  # the webhook took it
    assert alert.path == HOOK_PATH
    assert alert.json == {
        "text": f"[CRITICAL] CondoLake job batch failed\n{run['error']}\njob: batch\n"
                f"run_id: {run['run_id']}\nlake: {settings.lake_path}",
        "title": "CondoLake job batch failed",
        "severity": "critical",
        "fields": {"job": "batch", "run_id": run["run_id"], "lake": settings.lake_path},
    }
    assert re.fullmatch(r"batch-\d{8}T\d{6}-[0-9a-f]{8}", run["run_id"])
    assert len(hook.requests) == 1


def test_failed_ingest_command_posts_its_alert_from_the_command_line(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with webhook_receiver() as hook:
        result = run_condolake(["ingest", "csv", str(tmp_path / "boletos.csv"), "--table",
                                "boletos"], tmp_path,
                               {"lake_root": str(lake), "alert_webhook_url": hook.url})
        (alert,) = hook.wait_for(1)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"condolake: error: {UNKNOWN_TABLE}\n"
    assert alert.json == {
        "text": f"[CRITICAL] CondoLake job ingest_csv failed\n{UNKNOWN_TABLE}\n"
                f"job: ingest_csv\nlake: {lake}",
        "title": "CondoLake job ingest_csv failed",
        "severity": "critical",
        "fields": {"job": "ingest_csv", "lake": str(lake)},
    }
    assert len(hook.requests) == 1


def test_unreachable_webhook_adds_one_warning_and_keeps_the_exit_code(tmp_path: Path) -> None:
    result = run_condolake(["ingest", "csv", str(tmp_path / "boletos.csv"), "--table",
                            "boletos"], tmp_path,
                           {"lake_root": str(tmp_path / "lake"),
                            "alert_webhook_url": f"http://127.0.0.1:{free_port()}{HOOK_PATH}"})
    assert result.returncode == 1
    error, warning = result.stderr.splitlines()
    assert error == f"condolake: error: {UNKNOWN_TABLE}"
    assert warning.startswith("condolake: warning: alert 'CondoLake job ingest_csv failed' was "
                              "not delivered to http://127.0.0.1: ConnectError: ")
    assert warning.endswith(" (after 3 attempts)")
    assert "not-a-real-secret" not in result.stderr

