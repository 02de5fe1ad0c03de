"""The API's endpoints: parameters, access rules and OpenAPI documentation."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import APIKeyHeader

from condolake.serving import models
from condolake.serving.auth import Principal
from condolake.serving.queries import (
    DIARIAS_POR_TIPO,
    IDENTIFIER,
    POR_CONDOMINIO,
    POR_MORADOR,
    Condition,
    PageQuery,
    gold_specs,
)
from condolake.serving.service import Serving

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
MAX_ID = 2_147_483_647  # ids are PostgreSQL integers
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
MAX_TIPO_LENGTH = 50

CondominioSort = Literal["condominio_id", "-condominio_id", "nome", "-nome",
                         "quantidade_transacoes", "-quantidade_transacoes",
                         "valor_total", "-valor_total"]
MoradorSort = Literal["morador_id", "-morador_id", "nome", "-nome",
                      "condominio_id", "-condominio_id",
                      "quantidade_transacoes", "-quantidade_transacoes",
                      "valor_total", "-valor_total"]
DiariaSort = Literal["data_transacao", "-data_transacao", "tipo", "-tipo",
                     "quantidade_transacoes", "-quantidade_transacoes",
                     "valor_total", "-valor_total"]

SORT_HELP = "column to sort by, `-` in front for descending; ties break on the table's key"
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
CondominioFilter = Annotated[int | None, Query(ge=1, le=MAX_ID,
                                               description="only this condominium")]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.ErrorDetail, "description": "missing or unknown API key"},
    503: {"model": models.ErrorDetail, "description": "the gold table is not built yet"},
}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": models.ErrorDetail, "description": "outside the key's role or scope"},
}
NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {"model": models.ErrorDetail, "description": "no such row visible to this key"},
}

def utc_iso(moment: dt.datetime) -> str:
    """`2026-11-26T03:10:00.123Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def field_error(parameter: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", parameter), "msg": message, "type": "value_error"}])


def scoped(principal: Principal, condominio_id: int | None) -> tuple[Condition, ...]:
    """The condominium filter a list applies: the asked one, else the key's scope.

    Asking for another condominium than the key's is refused (403), not silently emptied.
    """
    if condominio_id is not None and not principal.may_see(condominio_id):
        log.warning("key %s (scope %s) asked for condominio_id %s", principal.name,
                    principal.condominio_id, condominio_id)
        raise HTTPException(403, f"this key may only read condominio_id "
                                 f"{principal.condominio_id}")
    wanted = condominio_id if condominio_id is not None else principal.condominio_id
    return () if wanted is None else (Condition("condominio_id", "=", wanted),)


router = APIRouter()
key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                          description="API key made by `condolake serve key`")


async def serving_of(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


Shared = Annotated[Serving, Depends(serving_of)]


async def principal(serving: Shared,
                    key: Annotated[str | None, Security(key_header)]) -> Principal:
    """The caller of a request, from its X-API-Key (401 when missing or unknown)."""
    found = serving.keys.authenticate(key)
    if found is None:
        problem = "unknown API key" if key else f"missing API key: send it in {API_KEY_HEADER}"
        raise HTTPException(401, problem, headers={"WWW-Authenticate": "ApiKey"})
    return found


Caller = Annotated[Principal, Depends(principal)]


async def daily_reader(who: Caller) -> Principal:
    """A caller allowed to read the daily mart (403 otherwise)."""
    if not who.reads_daily:
        log.warning("key %s (%s) asked for the daily mart", who.name, who.role.value)
        raise HTTPException(403, "the daily mart aggregates every condominium: this key "
                                 "may not read it")
    return who


DailyCaller = Annotated[Principal, Depends(daily_reader)]


@router.get("/health", response_model=models.Health, tags=["service"],
            summary="Liveness and which gold tables exist (no key needed)")
async def health(serving: Shared) -> models.Health:
    """Always 200: `ok` when every gold table can be served, `degraded` otherwise."""
    tables = {t: snapshot is not None for t, snapshot in (await serving.snapshots()).items()}
    return models.Health(status="ok" if all(tables.values()) else "degraded", tables=tables)


@router.get("/v1/freshness", response_model=models.Freshness, tags=["service"],
            responses=ERRORS, summary="Served Delta version and commit time of each gold table")
async def freshness(serving: Shared, who: Caller) -> models.Freshness:
    """The Delta version each gold table is served at, when it was committed and how old it
    is. Any role may ask. A table not built yet has nulls."""
    now = dt.datetime.now(dt.UTC)
    tables = []
    for table, snapshot in (await serving.snapshots()).items():
        version = snapshot.version if snapshot else None
        tables.append(models.TableFreshness(
            table=table,
            version=version.version if version else None,
            committed_at=utc_iso(version.committed_at) if version else None,
            age_seconds=round((now - version.committed_at).total_seconds(), 3)
            if version else None,
        ))
    return models.Freshness(tables=tables)


@router.get("/v1/transacoes-por-condominio", response_model=models.CondominioPage,
            tags=["gold"], responses={**ERRORS, **FORBIDDEN},
            summary="Transactions per condominium (one page)",
            description="Count and exact sum of each condominium's transactions. A scoped "
                        "key sees its condominium only; asking for another one is 403.")
async def list_por_condominio(
    serving: Shared, who: Caller,
    condominio_id: CondominioFilter = None,
    sort: Annotated[CondominioSort, Query(description=SORT_HELP)] = "condominio_id",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    query = PageQuery(scoped(who, condominio_id), sort, limit, offset)
    return await serving.page(POR_CONDOMINIO, query, who.masks_names)


@router.get("/v1/transacoes-por-condominio/{condominio_id}",
            response_model=models.CondominioItem, tags=["gold"],
            responses={**ERRORS, **NOT_FOUND_RESPONSE},
            summary="One condominium's transaction totals",
            description="404 when it does not exist or is outside the key's scope.")
async def get_por_condominio(
    serving: Shared, who: Caller, condominio_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    what = f"condominio_id {condominio_id}"
    if not who.may_see(condominio_id):
        raise HTTPException(404, f"{what} not found")
    conditions = (Condition("condominio_id", "=", condominio_id),)
    return await serving.item(POR_CONDOMINIO, conditions, who.masks_names, what)


@router.get("/v1/transacoes-por-morador", response_model=models.MoradorPage, tags=["gold"],
            responses={**ERRORS, **FORBIDDEN},
            summary="Transactions per resident (one page)",
            description="Count and exact sum of each resident's transactions. Names are "
                        "masked for analysts; a scoped key sees its condominium only.")
async def list_por_morador(
    serving: Shared, who: Caller,
    condominio_id: CondominioFilter = None,
    morador_id: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                            description="only this resident")] = None,
    sort: Annotated[MoradorSort, Query(description=SORT_HELP)] = "morador_id",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    conditions = scoped(who, condominio_id)
    if morador_id is not None:
        conditions += (Condition("morador_id", "=", morador_id),)
    query = PageQuery(conditions, sort, limit, offset)
    return await serving.page(POR_MORADOR, query, who.masks_names)


@router.get("/v1/transacoes-por-morador/{morador_id}", response_model=models.MoradorItem,
            tags=["gold"], responses={**ERRORS, **NOT_FOUND_RESPONSE},
            summary="One resident's transaction totals",
            description="404 when the resident does not exist or lives outside the key's "
                        "scope.")
async def get_por_morador(
    serving: Shared, who: Caller, morador_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    conditions = (Condition("morador_id", "=", morador_id), *scoped(who, None))
    return await serving.item(POR_MORADOR, conditions, who.masks_names,
                              f"morador_id {morador_id}")


@router.get("/v1/transacoes-diarias-por-tipo", response_model=models.DiariaPage,
            tags=["gold"], responses={**ERRORS, **FORBIDDEN},
            summary="Transactions per day and property type (one page)",
            description="Aggregates every condominium: admin and unscoped analysts only. "
                        "`tipo` is compared trimmed and lower-cased; dates are inclusive.")
async def list_diarias(
    serving: Shared, who: DailyCaller,
    tipo: Annotated[str | None, Query(min_length=1, max_length=MAX_TIPO_LENGTH,
                                      description="property type, e.g. apartamento")] = None,
    data_inicio: Annotated[dt.date | None, Query(description="first day (ISO date)")] = None,
    data_fim: Annotated[dt.date | None, Query(description="last day (ISO date)")] = None,
    sort: Annotated[DiariaSort, Query(description=SORT_HELP)] = "data_transacao",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    if data_inicio and data_fim and data_inicio > data_fim:
        raise field_error("data_fim", "data_fim must not be before data_inicio")
    conditions: tuple[Condition, ...] = ()
    if tipo is not None:
        conditions += (Condition("tipo", "=", tipo.strip().lower()),)
    if data_inicio is not None:
        conditions += (Condition("data_transacao", ">=", data_inicio),)
    if data_fim is not None:
        conditions += (Condition("data_transacao", "<=", data_fim),)
    return await serving.page(DIARIAS_POR_TIPO, PageQuery(conditions, sort, limit, offset),
                              masked=False)


@router.get("/v1/tipos", response_model=list[str], tags=["gold"],
            responses={**ERRORS, **FORBIDDEN},
            summary="Property types present in the daily mart, sorted")
async def tipos(serving: Shared, who: DailyCaller) -> list[str]:
    """Distinct `tipo` values of transacoes_diarias_por_tipo (admin and unscoped analysts)."""
    snapshot = await serving.built(DIARIAS_POR_TIPO.name)
    return snapshot.tipos


@router.get("/v1/gold/{table}", tags=["gold"], responses={**ERRORS, **FORBIDDEN,
                                                           **NOT_FOUND_RESPONSE},
            summary="Any gold mart of the catalog (one page)",
            description="Every mart the table catalog declares, with its columns as stored "
                        "(money as strings, dates ISO, personal columns masked for analysts). "
                        "A mart with `condominio_id` is limited to a scoped key's "
                        "condominium; one without it needs a key that reads every "
                        "condominium.")
async def list_mart(
    serving: Shared, who: Caller,
    table: Annotated[str, Path(max_length=100, pattern=IDENTIFIER.pattern,
                               description="the mart's name, e.g. transacoes_por_condominio")],
    sort: Annotated[str | None, Query(max_length=100, description=SORT_HELP)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    spec = gold_specs().get(table)
    if spec is None:
        raise HTTPException(404, f"no gold mart called {table}")
    if sort is not None and sort not in spec.sort_options():
        raise field_error("sort", f"{table} sorts by one of: {', '.join(spec.sort_options())}")
    if spec.scoped_by is None:
        await daily_reader(who)
        conditions: tuple[Condition, ...] = ()
    else:
        conditions = scoped(who, None)
    query = PageQuery(conditions, sort or spec.default_sort, limit, offset)
    return await serving.page(spec, query, who.masks_names)
