"""The `condolake` command line (Typer): one module per command group, each a thin caller of
`condolake.app`. `main` parses the arguments, runs the command and turns a CondoLakeError into
one readable line and exit 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from typer.core import TyperGroup

from condolake import __version__
from condolake.app.alerts import alert_failure
from condolake.cli import (
    cdc,
    docs,
    ingest,
    jobs,
    monitor,
    serve,
    services,
    setup,
    source,
    stream,
)
from condolake.cli.base import Group, session
from condolake.config import load_settings
from condolake.console import error, show_progress
from condolake.errors import CondoLakeError

PROG = "condolake"

app = typer.Typer(
    cls=Group, name=PROG, rich_markup_mode=None, pretty_exceptions_enable=False,
    subcommand_metavar="COMMAND", options_metavar="[OPTIONS]",
    help="CondoLake: CondoManage's Lake House (PostgreSQL, CSV and API sources -> Delta Lake "
         "bronze/silver/gold with Spark). Configuration comes from CONDOLAKE_* environment "
         "variables; see `condolake config`.",
)
for module in (setup, source, services, ingest, jobs, stream, cdc, docs, monitor, serve):
    module.register(app)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def condolake(
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="show program's version number and exit")] = False,
) -> None:
    """The root group: its only own option is --version."""


def command_tree() -> TyperGroup:
    """The command line as a Click group (for `main` and for walking every command)."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; its exit code (0, 1 for an error, 2 for a usage error, or the
    command's own), never a stack trace for an error meant for the user."""
    show_progress()
    # `load_settings` is looked up when the command runs, so tests can replace it here.
    with session(lambda: load_settings()) as current:
        try:
            command_tree().main(args=list(argv) if argv is not None else None, prog_name=PROG)
        except SystemExit as done:  # usage errors, --help, --version, typer.Exit(code)
            return exit_code(done.code)
        except CondoLakeError as failure:
            error(str(failure))
            if current.alert_job is not None and current.loaded is not None:
                alert_failure(current.loaded, current.alert_job, failure)
            return 1
    return 0


def exit_code(code: str | int | None) -> int:
    """A SystemExit's code as a process exit code (a message means 1, as Python does)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
