"""Run the real `condolake` command line in a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CLI_TIMEOUT_S = 900  # two cores shared with other work: generous, the run normally takes seconds
# For a Spark driver that lives for one command or a few seconds: compiling with C1 only spares
# the two cores the C2 compiler's work, and the JVM reaches its first query in about 40 % less
# time (measured on this project's stream start). The code cache keeps its usual size, so the
# JIT never stops for lack of room. The flags change how fast the bytecode runs, not what it does.
SHORT_LIVED_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"


def for_short_lived_driver(environment: Mapping[str, str]) -> dict[str, str]:
    """`environment` plus SHORT_LIVED_JVM_OPTIONS in SPARK_SUBMIT_OPTS, which spark-submit
    gives the driver's JVM (and only it: executors and daemons keep their own options)."""
    submit_options = " ".join(filter(None, (environment.get("SPARK_SUBMIT_OPTS"),
                                            SHORT_LIVED_JVM_OPTIONS)))
    return {**environment, "SPARK_SUBMIT_OPTS": submit_options}


def run_condolake(
    arguments: list[str], cwd: Path, settings: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python -m condolake.cli ARGUMENTS` with exactly `settings` as its CONDOLAKE_* variables.

    Runs in `cwd` so no ./condolake.toml of the developer's is picked up.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONDOLAKE_")}
    environment.update({f"CONDOLAKE_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "condolake.cli", *arguments], cwd=cwd,
        env=for_short_lived_driver(environment), capture_output=True, text=True,
        timeout=CLI_TIMEOUT_S, check=False,
    )
