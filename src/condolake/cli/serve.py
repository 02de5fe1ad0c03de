"""`condolake serve …`: the REST API and dashboard, the SQL endpoint, API keys."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from condolake.cli.base import command, group, resources
from condolake.console import results

app = group("serve the lake: REST API and pt-BR dashboard (default), or the SQL endpoint for "
            "BI tools (`serve sql`); API keys come from CONDOLAKE_SERVE_KEYS",
            invoke_without_command=True)


class Role(StrEnum):
    """What an API key may read."""

    ADMIN = "admin"
    ANALISTA = "analista"
    SINDICO = "sindico"


HostOption = Annotated[str | None, typer.Option(
    help="interface (default: CONDOLAKE_SERVE_HOST, 127.0.0.1)")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="serve")


@app.callback()
def serve(
    ctx: typer.Context,
    host: HostOption = None,
    port: Annotated[int | None, typer.Option(
        help="port of the API and dashboard (default: CONDOLAKE_SERVE_PORT, 8000)")] = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return  # `serve --port P sql`: the subcommand reads P from this context
    from condolake.serving.server import run_api

    settings = resources().settings
    run_api(settings, host=host or settings.serve_host, port=port or settings.serve_port)


@command(app, "sql", "SQL endpoint for BI tools: Spark Thrift Server (HiveServer2 protocol, "
         "JDBC/ODBC) with databases bronze, silver, gold, quarantine and ops")
def sql(
    ctx: typer.Context,
    host: HostOption = None,
    port: Annotated[int | None, typer.Option(
        help="port (default: CONDOLAKE_SQL_PORT, 10000)")] = None,
) -> None:
    from condolake.serving.sql_endpoint import run_sql_endpoint

    parent = ctx.parent.params if ctx.parent is not None else {}
    settings = resources().settings
    run_sql_endpoint(settings, host=host or parent.get("host") or settings.serve_host,
                     port=port or parent.get("port") or settings.sql_port)


@command(app, "key", "make a new API key: prints the key once and the hashed entry for "
         "CONDOLAKE_SERVE_KEYS")
def key(
    name: Annotated[str, typer.Option(help="who holds the key (shown in logs)")],
    role: Annotated[Role, typer.Option(
        help="admin: everything; analista: all condominiums, resident names masked; sindico: "
             "one condominium, names visible")],
    condominio: Annotated[int | None, typer.Option(
        metavar="ID", help="limit the key to one condominium (required for sindico)")] = None,
) -> None:
    from condolake.serving.auth import new_key

    secret, entry = new_key(name, str(role), condominio)
    results.print(f"API key (shown once, give it to its holder): {secret}")
    results.print(f"add to CONDOLAKE_SERVE_KEYS (comma-separated): {entry}")
