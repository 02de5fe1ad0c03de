"""`condolake serve` (run_api) as a process: URLs printed, warning without keys, clean stop."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from condolake.config import load_settings
from condolake.errors import ConfigError
from condolake.services.ports import free_port
from condolake.serving.server import ApiProcess, run_api, settings_environment, urls


def test_urls() -> None:
    assert urls("127.0.0.1", 8000) == ("http://127.0.0.1:8000/docs", "http://127.0.0.1:8000/")
    assert urls("::1", 80) == ("http://[::1]:80/docs", "http://[::1]:80/")


def test_settings_environment_round_trips(tmp_path: Path) -> None:
    settings = load_settings(environ={}, lake_root=str(tmp_path), serve_refresh_s=0.5,
                             serve_keys="a:admin:*:" + "0" * 64)
    environment = settings_environment(settings)
    assert environment["CONDOLAKE_SERVE_REFRESH_S"] == "0.5"
    assert "CONDOLAKE_SOURCE_URL" not in environment  # None stays unset
    assert load_settings(environ=environment) == settings


def test_bad_keys_fail_before_anything_starts(tmp_path: Path) -> None:
    settings = load_settings(environ={}, lake_root=str(tmp_path), state_dir=str(tmp_path),
                             serve_keys="ana:admin:*:nothex")
    with pytest.raises(ConfigError, match="entry 1"):
        run_api(settings, "127.0.0.1", free_port())


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_urls_warns_and_stops_cleanly(tmp_path: Path,
                                                   stop: signal.Signals) -> None:
    settings = load_settings(environ={}, lake_root=str(tmp_path / "lake"),
                             state_dir=str(tmp_path / "state"))
    server = ApiProcess(settings)  # runs `python -m condolake.cli serve --host --port`
    url = server.start()
    try:
        assert httpx.get(f"{url}/health").json()["status"] == "degraded"  # empty lake: up
        assert httpx.get(f"{url}/v1/freshness").status_code == 401  # no keys configured
    finally:
        code = server.stop(stop_signal=stop)
    out = server.output()
    assert code == 0, out
    assert "every data endpoint answers 401" in out
    assert "condolake serve key" in out
    assert f"API docs: http://127.0.0.1:{server.port}/docs" in out
    assert f"dashboard: http://127.0.0.1:{server.port}/" in out
    assert f"API stopped ({stop.name})" in out
