"""Typed settings from CONDOLAKE_* environment variables and an optional TOML file.

Precedence: environment variable > config file (CONDOLAKE_CONFIG, or ./condolake.toml) > default.
Secrets (CONDOLAKE_SOURCE_URL with its password, CONDOLAKE_API_TOKEN, the API keys' hashes in
CONDOLAKE_SERVE_KEYS, the alert webhook's URL in CONDOLAKE_ALERT_WEBHOOK_URL) are `SecretStr`:
hidden in repr, str and `condolake config`, read with `revealed()` where they are used; they
come from the environment only, the config file may not carry them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from condolake.errors import ConfigError

ENV_PREFIX = "CONDOLAKE_"
DEFAULT_CONFIG_FILE = "condolake.toml"
SECRET_FIELDS = frozenset({"source_url", "api_token", "serve_keys", "alert_webhook_url"})
HIDDEN = "***"


def user_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/condolake` (else `~/.cache/condolake`): one per user, shared by every
    clone and working directory."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry: the working directory's cache
            base = ".cache"
    return Path(base) / "condolake"


def _default_jar_cache() -> str:
    return str(user_cache_dir() / "jars")


class Settings(BaseSettings):
    """Everything a job needs to know about its environment; passed in, never global.

    `load_settings()` reads the environment and the config file; `Settings(...)` itself is
    the defaults plus its arguments (no environment), and `settings.with_(...)` a validated
    copy with some values changed.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", hide_input_in_errors=True,
    )

    source_url: SecretStr | None = None  # postgresql://user:password@host:port/db (secret)
    lake_root: str = "lakehouse"
    state_dir: str = ".condolake"
    jar_cache: str = Field(default_factory=_default_jar_cache)
    kafka_bootstrap: str | None = None
    kafka_topic_prefix: str = "condomanage"  # topics are <prefix>.public.<table> (Debezium)
    kafka_partitions: int = 2  # partitions of the topics the project creates
    kafka_heap: str = "512m"  # heap of the embedded broker
    connect_url: str | None = None  # external Kafka Connect REST URL (unset: embedded worker)
    connect_heap: str = "512m"  # heap of the embedded Kafka Connect worker
    cdc_connector: str = "condolake-postgres"  # name of the Debezium connector in Connect
    cdc_slot: str = "condolake"  # PostgreSQL logical replication slot of the connector
    cdc_publication: str = "condolake"  # PostgreSQL publication of the four source tables
    landing_dir: str = "landing"  # landing zone: files dropped in <landing>/<table>/
    stream_trigger_s: float = 2.0  # micro-batch trigger interval of the streaming queries
    stream_stop_grace_s: float = 60.0  # a stop waits this long for the micro-batch in progress
    stream_max_offsets: int = 200_000  # Kafka offsets read per trigger, at most
    stream_max_files: int = 100  # landing-zone files read per trigger, at most
    stream_min_partitions: int = 0  # Spark tasks per Kafka read (0: one per topic partition)
    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    spark_conf: str = ""  # more Spark settings, `key=value` pairs separated by commas
    shuffle_partitions: int = 8
    jdbc_partitions: int = 4
    jdbc_fetchsize: int = 10_000
    timezone: str = "America/Sao_Paulo"
    api_token: SecretStr | None = None  # bearer token of the source's REST API (secret)
    api_timeout_s: float = 10.0
    api_retries: int = 5
    api_backoff_s: float = 0.5
    serve_host: str = "127.0.0.1"  # interface of `condolake serve` (API, dashboard, SQL)
    serve_port: int = 8000  # REST API and dashboard
    serve_refresh_s: float = 2.0  # how often the API looks for a new Delta version of a table
    serve_keys: SecretStr | None = None  # API keys: name:role:scope:sha256, comma-separated
    sql_port: int = 10000  # SQL endpoint (Spark Thrift Server, HiveServer2 protocol)
    metrics_port: int = 9108  # Prometheus exporter (`condolake metrics`), on serve_host
    alert_webhook_url: SecretStr | None = None  # Slack/Teams-style webhook for failures
    freshness_sla_s: float = 93_600.0  # a gold table older than this breaches the SLA (26 h)
    batch_late_s: float = 93_600.0  # no successful batch for this long: the batch is late
    quarantine_rate_max: float = 0.05  # quarantined / read, per table and run
    duplicate_rate_max: float = 0.05  # duplicates / read, per table and run
    stream_lag_max: int = 100_000  # Kafka offsets behind the topics' ends
    stream_stale_s: float = 300.0  # a running query with no progress for this long is stale
    watchdog_restart: bool = True  # 1 (true): the watchdog restarts a dead stream; 0: it alerts
    vacuum_retention_h: int = 168  # VACUUM keeps files younger than this (7 days at least)
    batch_schedule: str = "0 3 * * *"  # cron of the condolake_batch DAG
    maintenance_schedule: str = "0 5 * * 0"  # cron of the condolake_maintenance DAG
    watchdog_schedule: str = "*/5 * * * *"  # cron of the condolake_stream_watchdog DAG
    log_level: str = "OFF"  # Spark's own messages also on the console at this level or above

    @field_validator("source_url", "kafka_bootstrap", "connect_url", "api_token", "serve_keys",
                     "alert_webhook_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`CONDOLAKE_SOURCE_URL=` (empty) means "not set", as unsetting it would."""
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment and the file are read by load_settings(), from the mapping it is
        # given, so that constructing Settings in a test or a tool never picks up the caller's
        # CONDOLAKE_* variables by surprise.
        return (init_settings,)

    def with_(self, **changes: Any) -> Settings:
        """A copy with `changes` applied and validated again (`model_copy` would not validate:
        a port given as text or a secret as a plain string would slip through)."""
        return _validated({**self.model_dump(), **changes})

    @property
    def lake_path(self) -> str:
        """Lake root as an absolute path or URI (s3a://… is kept as it is)."""
        if "://" in self.lake_root:
            return self.lake_root.rstrip("/")
        return str(Path(self.lake_root).expanduser().resolve())

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir).expanduser().resolve()

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).expanduser().resolve()

    @property
    def jar_cache_path(self) -> Path:
        return Path(self.jar_cache).expanduser().resolve()

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict with secrets hidden, for logs and `condolake config`."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = _redact(name, value.get_secret_value())
            shown[name] = value
        return shown


def revealed(secret: SecretStr | None) -> str | None:
    """The value of an optional secret, for the one place that sends it where it belongs."""
    return None if secret is None else secret.get_secret_value()


def _redact(name: str, value: str) -> str:
    if name == "source_url" and "@" in value:
        scheme, _, rest = value.partition("://")
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:{HIDDEN}@{host}"
    return HIDDEN


class _EnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source (CONDOLAKE_<NAME>, any case) over a given mapping
    instead of the process environment."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items()}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and the optional config file; overrides win over both
    (an override of None is no override). A bad value is a one-line ConfigError."""
    env = os.environ if environ is None else environ
    config_file = env.get(f"{ENV_PREFIX}CONFIG")
    path = Path(config_file) if config_file else Path(DEFAULT_CONFIG_FILE)
    values: dict[str, Any] = _read_config_file(path) if config_file or path.exists() else {}
    try:
        values.update(_EnvironmentSource(Settings, env)())
    except SettingsError as error:
        raise ConfigError(str(error)) from None
    values.update({name: value for name, value in overrides.items() if value is not None})
    return _validated(values)


def _validated(values: Mapping[str, Any]) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError("; ".join(_problem(item) for item in error.errors())) from None


# pydantic's error types worded as the command line words them
EXPECTED = {"int_parsing": "int", "int_type": "int", "int_from_float": "int",
            "float_parsing": "float", "float_type": "float", "string_type": "str"}


def _problem(item: Mapping[str, Any]) -> str:
    """One error in one line: `CONDOLAKE_JDBC_PARTITIONS='many' is not a valid int`."""
    name = str(item["loc"][0]) if item["loc"] else "?"
    if item["type"] == "extra_forbidden":
        return f"{name} is not a setting"
    shown = f"{ENV_PREFIX}{name.upper()}="
    shown += repr(HIDDEN) if name in SECRET_FIELDS else repr(item["input"])
    if item["type"] in EXPECTED:
        return f"{shown} is not a valid {EXPECTED[item['type']]}"
    reason = str(item["msg"])
    return f"{shown} is not valid: {reason[:1].lower()}{reason[1:]}"


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error
    section = data.get("condolake", data)
    unknown = sorted(set(section) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"config file {path}: unknown settings {', '.join(unknown)}")
    secrets = sorted(set(section) & SECRET_FIELDS)
    if secrets:
        raise ConfigError(
            f"config file {path}: {', '.join(secrets)} are secrets and may only come from "
            f"the environment ({', '.join(ENV_PREFIX + s.upper() for s in secrets)})"
        )
    return dict(section)
