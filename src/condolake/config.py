"""Typed settings from CONDOLAKE_* environment variables and an optional TOML file.

Precedence: environment variable > config file (CONDOLAKE_CONFIG, or ./condolake.toml) > default.
Secrets (passwords in CONDOLAKE_SOURCE_URL, CONDOLAKE_API_TOKEN, the API keys' hashes in
CONDOLAKE_SERVE_KEYS, the alert webhook's URL in CONDOLAKE_ALERT_WEBHOOK_URL) are read from
the environment only; the config file may not carry them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from condolake.errors import ConfigError

ENV_PREFIX = "CONDOLAKE_"
DEFAULT_CONFIG_FILE = "condolake.toml"
SECRET_FIELDS = frozenset({"source_url", "api_token", "serve_keys", "alert_webhook_url"})


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


@dataclass(frozen=True)
class Settings:
    """Everything a job needs to know about its environment; passed in, never global."""

    source_url: str | None = None
    lake_root: str = "lakehouse"
    state_dir: str = ".condolake"
    jar_cache: str = dataclasses.field(default_factory=lambda: str(user_cache_dir() / "jars"))
    kafka_bootstrap: str | None = None
    kafka_topic_prefix: str = "condomanage"  # topics are <prefix>.public.<table> (Debezium)
    kafka_partitions: int = 2  # partitions of the topics the project creates
    kafka_heap: str = "512m"  # heap of the embedded broker
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
    api_token: str | None = None
    api_timeout_s: float = 10.0
    api_retries: int = 5
    api_backoff_s: float = 0.5
    serve_host: str = "127.0.0.1"  # interface of `condolake serve` (API, dashboard, SQL)
    serve_port: int = 8000  # REST API and dashboard
    serve_refresh_s: float = 2.0  # how often the API looks for a new Delta version of a table
    serve_keys: str | None = None  # API keys: name:role:scope:sha256, comma-separated (secret)
    sql_port: int = 10000  # SQL endpoint (Spark Thrift Server, HiveServer2 protocol)
    metrics_port: int = 9108  # Prometheus exporter (`condolake metrics`), on serve_host
    alert_webhook_url: str | None = None  # Slack/Teams-style webhook for failures (secret)
    freshness_sla_s: float = 93_600.0  # a gold table older than this breaches the SLA (26 h)
    batch_late_s: float = 93_600.0  # no successful batch for this long: the batch is late
    quarantine_rate_max: float = 0.05  # quarantined / read, per table and run
    duplicate_rate_max: float = 0.05  # duplicates / read, per table and run
    stream_lag_max: int = 100_000  # Kafka offsets behind the topics' ends
    stream_stale_s: float = 300.0  # a running query with no progress for this long is stale
    watchdog_restart: int = 1  # 1: the watchdog restarts a dead stream; 0: it only alerts
    vacuum_retention_h: int = 168  # VACUUM keeps files younger than this (7 days at least)
    batch_schedule: str = "0 3 * * *"  # cron of the condolake_batch DAG
    maintenance_schedule: str = "0 5 * * 0"  # cron of the condolake_maintenance DAG
    watchdog_schedule: str = "*/5 * * * *"  # cron of the condolake_stream_watchdog DAG
    log_level: str = "OFF"  # Spark's own messages also on the console at this level or above

    def with_(self, **changes: Any) -> Settings:
        """A copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

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
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in SECRET_FIELDS and value:
                value = _redact(field.name, value)
            shown[field.name] = value
        return shown


def _redact(name: str, value: str) -> str:
    if name == "source_url" and "@" in value:
        scheme, _, rest = value.partition("://")
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return "***"


def _coerce(name: str, raw: Any, annotation: str) -> Any:
    try:
        if annotation.startswith("int"):
            return int(raw)
        if annotation.startswith("float"):
            return float(raw)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {annotation.split()[0]}"
        ) from error
    if raw == "" and "None" in annotation:
        return None
    return str(raw)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and the optional config file; overrides win over both."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get(f"{ENV_PREFIX}CONFIG")
    path = Path(config_file) if config_file else Path(DEFAULT_CONFIG_FILE)
    if config_file or path.exists():
        values.update(_read_config_file(path))
    for field in fields(Settings):
        key = f"{ENV_PREFIX}{field.name.upper()}"
        if key in env:
            values[field.name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    annotations = {field.name: str(field.type) for field in fields(Settings)}
    typed = {name: _coerce(name, raw, annotations[name]) for name, raw in values.items()}
    return Settings(**typed)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error
    section = data.get("condolake", data)
    known = {field.name for field in fields(Settings)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown settings {', '.join(unknown)}")
    secrets = sorted(set(section) & SECRET_FIELDS)
    if secrets:
        raise ConfigError(
            f"config file {path}: {', '.join(secrets)} are secrets and may only come from "
            f"the environment ({', '.join(ENV_PREFIX + s.upper() for s in secrets)})"
        )
    return dict(section)
