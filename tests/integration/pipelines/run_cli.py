"""Run the real `condolake` command line in a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI_TIMEOUT_S = 900  # two cores shared with other work: generous, the run normally takes seconds


def run_condolake(
    arguments: list[str], cwd: Path, settings: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python -m condolake.cli ARGUMENTS` with exactly `settings` as its CONDOLAKE_* variables.

    Runs in `cwd` so no ./condolake.toml of the developer's is picked up.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONDOLAKE_")}
    environment.update({f"CONDOLAKE_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "condolake.cli", *arguments], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
    )
