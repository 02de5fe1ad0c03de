from __future__ import annotations

from pathlib import Path

import pytest

from condolake.config import load_settings
from condolake.errors import ConfigError


def test_defaults_without_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert (settings.source_url, settings.lake_root, settings.spark_master) == (
        None, "lakehouse", "local[*]")
    assert settings.lake_path == str(tmp_path / "lakehouse")


def test_the_jar_cache_is_per_user_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert load_settings(environ={}).jar_cache_path == tmp_path / "home/.cache/condolake/jars"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert load_settings(environ={}).jar_cache_path == tmp_path / "xdg/condolake/jars"
    assert load_settings(environ={"CONDOLAKE_JAR_CACHE": "jars"}).jar_cache_path == (
        tmp_path / "jars")


def test_environment_is_typed() -> None:
    settings = load_settings(environ={"CONDOLAKE_JDBC_PARTITIONS": "8",
                                      "CONDOLAKE_API_TIMEOUT_S": "2.5",
                                      "CONDOLAKE_SPARK_MASTER": "spark://127.0.0.1:7077"})
    assert (settings.jdbc_partitions, settings.api_timeout_s, settings.spark_master) == (
        8, 2.5, "spark://127.0.0.1:7077")


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CONDOLAKE_JDBC_PARTITIONS='many'"):
        load_settings(environ={"CONDOLAKE_JDBC_PARTITIONS": "many"})


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[condolake]\nlake_root = "/data/lake"\nshuffle_partitions = 2\n')
    settings = load_settings(environ={"CONDOLAKE_CONFIG": str(config),
                                      "CONDOLAKE_SHUFFLE_PARTITIONS": "16"})
    assert (settings.lake_root, settings.shuffle_partitions) == ("/data/lake", 16)


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('source_url = "postgresql://u:p@h/db"\n')
    with pytest.raises(ConfigError, match="secrets"):
        load_settings(environ={"CONDOLAKE_CONFIG": str(config)})


def test_unknown_setting_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('lake_rot = "x"\n')
    with pytest.raises(ConfigError, match="unknown settings lake_rot"):
        load_settings(environ={"CONDOLAKE_CONFIG": str(config)})


def test_redacted_hides_password_and_token() -> None:
    settings = load_settings(environ={"CONDOLAKE_SOURCE_URL": "postgresql://u:s3cret@h:5432/db",
                                      "CONDOLAKE_API_TOKEN": "tok"})
    shown = settings.redacted()
    assert (shown["source_url"], shown["api_token"]) == ("postgresql://u:***@h:5432/db", "***")
