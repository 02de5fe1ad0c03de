"""Progress and result output of the command line (stderr for progress, stdout for results)."""

from __future__ import annotations

import shutil
import time

from rich.console import Console

# Piped or captured output has no terminal width; tables of gold rows need more than 80.
MIN_TABLE_WIDTH = 110

_started = time.monotonic()
errors = Console(stderr=True, highlight=False)
results = Console(
    highlight=False,
    width=max(shutil.get_terminal_size((MIN_TABLE_WIDTH, 24)).columns, MIN_TABLE_WIDTH),
)


def progress(message: str) -> None:
    """One timestamped line per step of long work, on stderr."""
    elapsed = time.monotonic() - _started
    errors.print(f"[dim][{elapsed:7.1f}s][/dim] {message}", markup=True, soft_wrap=True)


def error(message: str) -> None:
    errors.print(f"[bold red]condolake: error:[/bold red] {message}", markup=True,
                 soft_wrap=True)
