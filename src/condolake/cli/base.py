"""What every command group shares: argparse-style usage lines, the settings loaded once per
command, Ctrl-C as one line, and the helpers that declare groups and commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.console import error

F = TypeVar("F", bound=Callable[..., Any])
USAGE_PREFIX = "usage: "
INTERRUPTED_EXIT = 130


class DecimalSeparator(StrEnum):
    """The decimal separator of money in a CSV file."""

    DOT = "."
    COMMA = ","


@dataclass
class Session:
    """One invocation: the settings are loaded on first use, after the arguments were parsed."""

    load: Callable[[], Settings]
    loaded: Resources | None = field(default=None)
    alert_job: str | None = None  # the job whose failure posts an alert, if any

    def resources(self) -> Resources:
        if self.loaded is None:
            self.loaded = Resources.from_settings(self.load())
        return self.loaded


_SESSION: ContextVar[Session | None] = ContextVar("condolake_cli_session", default=None)


@contextmanager
def session(load: Callable[[], Settings]) -> Iterator[Session]:
    """The session of one `main` call."""
    current = Session(load)
    token = _SESSION.set(current)
    try:
        yield current
    finally:
        _SESSION.reset(token)


def current_session() -> Session:
    current = _SESSION.get()
    if current is None:
        raise RuntimeError("a condolake command runs inside condolake.cli.main")
    return current


def resources() -> Resources:
    """The resources of the command being run (settings from CONDOLAKE_* and the file)."""
    return current_session().resources()


# The Click context and formatter types live in Typer's vendored, private `typer._click`:
# the overrides below take them as Any rather than import a private module.


def write_usage(command: TyperCommand | TyperGroup, ctx: Any, formatter: Any) -> None:
    """The usage line, starting with `usage:` as it always has."""
    formatter.write_usage(ctx.command_path, " ".join(command.collect_usage_pieces(ctx)),
                          prefix=USAGE_PREFIX)


@contextmanager
def interrupt_as_exit() -> Iterator[None]:
    """Ctrl-C ends in one line and exit 130, not a stack trace."""
    try:
        yield
    except KeyboardInterrupt:
        error("interrupted")
        raise typer.Exit(INTERRUPTED_EXIT) from None


class Group(TyperGroup):
    """A command group (`serve` runs on its own too)."""

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        write_usage(self, ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        with interrupt_as_exit():
            return super().invoke(ctx)


class Command(TyperCommand):
    """A leaf command: the settings are loaded (and checked) once its arguments are parsed,
    whether or not the handler needs them, so a bad setting fails every command alike.
    `alert_job`: the job whose failure `main` reports to the alert webhook."""

    alert_job: str | None = None

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        write_usage(self, ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        with interrupt_as_exit():
            current = current_session()
            current.alert_job = self.alert_job
            current.resources()
            return super().invoke(ctx)


def group(help_text: str, *, short_help: str | None = None, metavar: str = "COMMAND",
          invoke_without_command: bool = False) -> typer.Typer:
    """A command group: its own page says `help_text`, its parent's list `short_help`."""
    return typer.Typer(cls=Group, help=help_text, short_help=short_help or help_text,
                       rich_markup_mode=None, add_completion=False,
                       pretty_exceptions_enable=False, options_metavar="[OPTIONS]",
                       invoke_without_command=invoke_without_command,
                       subcommand_metavar=metavar)


def command(app: typer.Typer, name: str, help_text: str, *,
            alert_job: str | None = None) -> Callable[[F], F]:
    """Registers a handler as `name`, its help in full both on its page and in the list; a
    failure of a command with an `alert_job` posts that job's alert."""
    cls = Command if alert_job is None else type(
        "AlertingCommand", (Command,), {"alert_job": alert_job})
    return app.command(name, help=help_text, short_help=help_text, cls=cls)
