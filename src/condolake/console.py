"""Progress and result output of the command line (stderr for progress, stdout for results)."""

from __future__ import annotations

import logging
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


# Our own records at INFO and up; libraries (py4j, urllib3, …) only from WARNING.
PACKAGE_LOGGER = "condolake"
LIBRARY_LEVEL = logging.WARNING


class ProgressHandler(logging.Handler):
    """Each record as one timestamped line on stderr (seconds since the command started)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            elapsed = time.monotonic() - _started
            errors.print(f"[dim][{elapsed:7.1f}s][/dim] {record.getMessage()}", markup=True,
                         soft_wrap=True)
        except Exception:
            self.handleError(record)


def show_progress(*loggers: str) -> None:
    """Sends the INFO records of `loggers` (default: the package's) and everyone's warnings
    to stderr as progress lines (installed once per process)."""
    root = logging.getLogger()
    if not any(isinstance(handler, ProgressHandler) for handler in root.handlers):
        root.addHandler(ProgressHandler())
    root.setLevel(LIBRARY_LEVEL)
    for name in loggers or (PACKAGE_LOGGER,):
        logging.getLogger(name).setLevel(logging.INFO)


def error(message: str) -> None:
    errors.print(f"[bold red]condolake: error:[/bold red] {message}", markup=True,
                 soft_wrap=True)
