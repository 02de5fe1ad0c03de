"""Progress lines on stderr: the package's log records, one timestamped line each."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from condolake.console import PACKAGE_LOGGER, ProgressHandler, show_progress

PROGRESS_LINE = re.compile(r"^\[ *\d+\.\ds\] (.*)$")


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Whatever show_progress changes, put back."""
    root, package = logging.getLogger(), logging.getLogger(PACKAGE_LOGGER)
    handlers, root_level, package_level = list(root.handlers), root.level, package.level
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    package.setLevel(package_level)


def progress_lines(err: str) -> list[str]:
    lines = []
    for line in err.splitlines():
        matched = PROGRESS_LINE.match(line)
        assert matched, f"not a progress line: {line!r}"
        lines.append(matched.group(1))
    return lines


@pytest.mark.usefixtures("logging_restored")
def test_package_records_print_as_timestamped_lines(capsys: pytest.CaptureFixture[str]) -> None:
    show_progress()
    logging.getLogger("condolake.pipelines.batch").info("run x (run date 05/12/2026)")
    logging.getLogger("py4j.clientserver").info("a library's chatter")
    logging.getLogger("urllib3").warning("a library's warning")
    assert progress_lines(capsys.readouterr().err) == ["run x (run date 05/12/2026)",
                                                       "a library's warning"]


@pytest.mark.usefixtures("logging_restored")
def test_progress_is_installed_once(capsys: pytest.CaptureFixture[str]) -> None:
    show_progress()
    show_progress()
    assert sum(isinstance(h, ProgressHandler) for h in logging.getLogger().handlers) == 1
    logging.getLogger("condolake.app.jobs").info("one line")
    assert progress_lines(capsys.readouterr().err) == ["one line"]
