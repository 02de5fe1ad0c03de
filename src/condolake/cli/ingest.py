"""`condolake ingest …`: land a source in bronze, validate into silver and quarantine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from condolake.app import jobs
from condolake.cli.base import DecimalSeparator, command, group, resources

app = group("land a source in bronze, validate into silver and quarantine",
            short_help="land a source in bronze and validate into silver", metavar="SOURCE")

DelimiterOption = Annotated[str | None, typer.Option(help="field separator (default: detected)")]
EncodingOption = Annotated[str | None, typer.Option(
    help="utf-8 or latin-1 (default: detected)")]
DecimalOption = Annotated[DecimalSeparator | None, typer.Option(
    help="decimal separator of money: '.' (1234.56) or ',' (1.234,56); default: detected")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ingest")


@command(app, "postgres", "all four tables from PostgreSQL (transacoes incrementally)",
         alert_job="ingest_postgres")
def postgres() -> None:
    lake = resources()
    jobs.ingest_postgres(lake, lake.today())


@command(app, "csv", "one table from a CSV file", alert_job="ingest_csv")
def csv(
    path: Annotated[str, typer.Argument()],
    table: Annotated[str, typer.Option()],
    no_header: Annotated[bool, typer.Option(
        "--no-header", help="the file has no header row (columns in table order)")] = False,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    decimal: DecimalOption = None,
) -> None:
    lake = resources()
    jobs.ingest_csv(lake, lake.today(), Path(path), table, delimiter=delimiter,
                    encoding=encoding, decimal=decimal.value if decimal else None,
                    header=not no_header)


@command(app, "api", "one table from a paginated JSON API", alert_job="ingest_api")
def api(
    url: Annotated[str, typer.Argument(help="base URL; the table is read from URL/<table>")],
    table: Annotated[str, typer.Option()],
    page_size: Annotated[int, typer.Option()] = 1000,
) -> None:
    lake = resources()
    jobs.ingest_api(lake, lake.today(), url, table, page_size=page_size)
