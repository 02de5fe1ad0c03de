from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from condolake.cli import main
from condolake.config import Settings, load_settings, revealed
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


def test_each_kind_of_value_is_typed_from_its_environment_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = load_settings(environ={
        "CONDOLAKE_STATE_DIR": "~/state",  # a path, `~` expanded by state_path
        "CONDOLAKE_KAFKA_PARTITIONS": "6",  # an int
        "CONDOLAKE_STREAM_TRIGGER_S": "0.25",  # a duration in seconds
        "CONDOLAKE_WATCHDOG_RESTART": "false",  # a flag: 1/0, true/false
        "CONDOLAKE_SPARK_CONF": "spark.a=1,spark.b=2",  # a list: comma-separated text
        "CONDOLAKE_API_TOKEN": "tok",  # a secret
    })
    assert settings.state_path == tmp_path / "home/state"
    assert (settings.kafka_partitions, settings.stream_trigger_s) == (6, 0.25)
    assert settings.watchdog_restart is False
    assert settings.spark_conf == "spark.a=1,spark.b=2"
    assert isinstance(settings.api_token, SecretStr)
    assert revealed(settings.api_token) == "tok"
    assert load_settings(environ={"CONDOLAKE_WATCHDOG_RESTART": "1"}).watchdog_restart is True


def test_defaults_are_the_models_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./condolake.toml
    settings = load_settings(environ={})
    assert settings == Settings()
    assert (settings.shuffle_partitions, settings.stream_trigger_s, settings.watchdog_restart,
            settings.api_token, settings.serve_port) == (8, 2.0, True, None, 8000)


def test_an_empty_optional_variable_is_unset() -> None:
    settings = load_settings(environ={"CONDOLAKE_SOURCE_URL": "", "CONDOLAKE_KAFKA_BOOTSTRAP": ""})
    assert (settings.source_url, settings.kafka_bootstrap) == (None, None)


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDOLAKE_SHUFFLE_PARTITIONS", "3")
    assert load_settings().shuffle_partitions == 3


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("CONDOLAKE_STREAM_TRIGGER_S", "soon",
     "CONDOLAKE_STREAM_TRIGGER_S='soon' is not a valid float"),
    ("CONDOLAKE_WATCHDOG_RESTART", "maybe",
     "CONDOLAKE_WATCHDOG_RESTART='maybe' is not valid: input should be a valid boolean"),
])
def test_a_bad_value_is_one_line_naming_the_variable(
    variable: str, value: str, message: str,
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={variable: value})
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_several_bad_values_are_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"CONDOLAKE_SERVE_PORT": "x", "CONDOLAKE_SQL_PORT": "y"})
    assert str(raised.value) == ("CONDOLAKE_SERVE_PORT='x' is not a valid int; "
                                 "CONDOLAKE_SQL_PORT='y' is not a valid int")


def test_a_bad_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigError, match=r"CONDOLAKE_API_TOKEN='\*\*\*' is not a valid str"):
        load_settings(environ={}, api_token=12345)


def test_an_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="lake_rot is not a setting"):
        load_settings(environ={}, lake_rot="x")


SECRETS = {
    "CONDOLAKE_SOURCE_URL": "postgresql://u:pw-s3cret@h:5432/db",
    "CONDOLAKE_API_TOKEN": "tok-s3cret",
    "CONDOLAKE_SERVE_KEYS": "ana:admin:*:" + "ab" * 32,
    "CONDOLAKE_ALERT_WEBHOOK_URL": "https://hooks.example/T0/B0/hook-s3cret",
}


def test_secrets_are_hidden_in_repr_str_and_the_redacted_view() -> None:
    settings = load_settings(environ=SECRETS)
    for text in (repr(settings), str(settings), str(settings.redacted())):
        assert "s3cret" not in text and "ab" * 32 not in text
    shown = settings.redacted()
    assert (shown["serve_keys"], shown["alert_webhook_url"]) == ("***", "***")
    assert revealed(settings.alert_webhook_url) == SECRETS["CONDOLAKE_ALERT_WEBHOOK_URL"]


def test_condolake_config_hides_the_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for variable, value in SECRETS.items():
        monkeypatch.setenv(variable, value)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "source_url = postgresql://u:***@h:5432/db" in out
    assert "api_token = ***" in out
    assert "s3cret" not in out and "ab" * 32 not in out


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.lake_root = "elsewhere"  # type: ignore[misc]


def test_with_changes_a_copy_and_validates_again() -> None:
    settings = Settings()
    changed = settings.with_(serve_port="9000", api_token="tok")
    assert (changed.serve_port, revealed(changed.api_token)) == (9000, "tok")
    assert isinstance(changed.api_token, SecretStr)
    assert (settings.serve_port, settings.api_token) == (8000, None)
    with pytest.raises(ConfigError, match="CONDOLAKE_SERVE_PORT='many' is not a valid int"):
        settings.with_(serve_port="many")
