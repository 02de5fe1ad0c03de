"""`condolake docs …`: documentation generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from condolake.cli.base import command, group
from condolake.console import results

app = group("documentation generated from the code")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="docs")


@command(app, "dictionary", "write the data dictionary from the table schemas declared in code "
         "and the column meanings in src/condolake/docs_gen/descriptions.toml")
def dictionary(
    check: Annotated[bool, typer.Option(
        "--check", help="write nothing; exit 1, naming the first difference, when the file is "
                        "not what the code generates")] = False,
    output: Annotated[str, typer.Option(
        metavar="PATH", help="the page (default: docs/data-dictionary.md)",
    )] = "docs/data-dictionary.md",
) -> None:
    from condolake.docs_gen.dictionary import check_dictionary, write_dictionary

    page = Path(output)
    if check:
        check_dictionary(page)
        results.print(f"{page} is up to date")
    else:
        write_dictionary(page)
        results.print(f"wrote {page}")
