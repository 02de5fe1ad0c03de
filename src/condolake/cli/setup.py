"""`condolake setup` and `condolake config`."""

from __future__ import annotations

import logging

import typer

from condolake.cli.base import command, resources
from condolake.console import results

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    command(app, "setup", "resolve the JVM jars from Maven Central into the local cache "
            "(once)")(setup)
    command(app, "config", "print the effective settings (secrets hidden)")(config)


def setup() -> None:
    from condolake.services.jars import BUNDLES, resolved_jars

    cache = resources().settings.jar_cache_path
    for bundle in BUNDLES.values():
        jars = resolved_jars(bundle, cache, exclude_spark_provided=bundle.on_spark_classpath)
        log.info(f"{bundle.name}: {len(jars)} jars ready in {cache}")


def config() -> None:
    for key, value in resources().settings.redacted().items():
        results.print(f"{key} = {value}")
