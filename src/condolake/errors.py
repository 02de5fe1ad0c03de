"""Errors the command line turns into a readable message and a non-zero exit."""

from __future__ import annotations


class CondoLakeError(Exception):
    """Base class: an error whose message is meant for the user, without a stack trace."""


class ConfigError(CondoLakeError):
    """A CONDOLAKE_* setting or the config file is invalid."""


class SourceUnavailableError(CondoLakeError):
    """The PostgreSQL source (or another source) could not be reached or failed mid-read."""


class ServiceError(CondoLakeError):
    """An embedded service (PostgreSQL, Kafka broker, Spark cluster) could not be started or
    stopped."""


class KafkaError(CondoLakeError):
    """A Kafka cluster could not be reached or refused a request (topics, offsets)."""


class DependencyError(CondoLakeError):
    """JVM jars or another dependency could not be resolved."""


class InputError(CondoLakeError):
    """An input cannot be used at all (a single bad row is quarantined instead)."""


class ApiUnavailableError(CondoLakeError):
    """An HTTP API stayed unavailable after all retries."""
