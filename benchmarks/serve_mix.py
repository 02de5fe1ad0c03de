"""The request mix of the serving benchmark (pure: a catalog of the gold data in, requests out).

What the dashboard and BI tools ask of the API: pages of the per-condominium and
per-resident tables with filters, random page offsets and sorts; single residents and
condominiums by id; the dashboard's top-10 residents, daily-per-tipo ranges, the tipo list
and the freshness badge. Half the requests carry the admin key, half the masked analista key.

Each client draws its own endless, seeded sequence: the same seed, client number and catalog
give the same requests, so the API and the in-process baseline answer the same questions.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

ADMIN = "admin"
ANALISTA = "analista"
ROLES = (ADMIN, ANALISTA)

CONDOMINIOS_PATH = "/v1/transacoes-por-condominio"
MORADORES_PATH = "/v1/transacoes-por-morador"
DIARIAS_PATH = "/v1/transacoes-diarias-por-tipo"
TIPOS_PATH = "/v1/tipos"
FRESHNESS_PATH = "/v1/freshness"

# Sort columns each list endpoint allows (serving spec); "-" in front sorts descending.
CONDOMINIO_SORTS = ("condominio_id", "nome", "quantidade_transacoes", "valor_total")
MORADOR_SORTS = ("morador_id", "nome", "condominio_id", "quantidade_transacoes", "valor_total")
DIARIA_SORTS = ("data_transacao", "tipo", "quantidade_transacoes", "valor_total")

# Request kinds and their weights (per cent of the mix).
CONDOMINIOS_PAGE = "condominios_page"
CONDOMINIO_ITEM = "condominio_item"
MORADORES_PAGE = "moradores_page"
MORADOR_ITEM = "morador_item"
TOP_MORADORES = "top_moradores"
DIARIAS_RANGE = "diarias_range"
TIPOS = "tipos"
FRESHNESS = "freshness"
WEIGHTS: Mapping[str, int] = {
    CONDOMINIOS_PAGE: 15,
    CONDOMINIO_ITEM: 10,
    MORADORES_PAGE: 20,
    MORADOR_ITEM: 25,
    TOP_MORADORES: 5,
    DIARIAS_RANGE: 15,
    TIPOS: 5,
    FRESHNESS: 5,
}
KINDS = tuple(WEIGHTS)

PAGE_LIMITS = (20, 50, 100)
TOP_LIMIT = 10
DAILY_LIMIT = 1000  # the dashboard's chart asks for the whole range at once
DAILY_SPANS_DAYS = (7, 30, 90)
FILTERED_SHARE = 0.2  # condominium pages filtered to one condominium
MORADORES_BY_CONDOMINIO_SHARE = 0.8  # resident pages filtered to one condominium
TIPO_FILTER_SHARE = 0.5  # daily ranges restricted to one tipo
DESCENDING_SHARE = 0.5

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Catalog:
    """What the mix needs to know about gold to ask for rows that exist."""

    condominio_ids: tuple[int, ...]
    morador_ids: tuple[int, ...]
    moradores_per_condominio: Mapping[int, int]  # residents of each condominium (0: absent)
    tipos: tuple[str, ...]
    first_day: dt.date  # of transacoes_diarias_por_tipo
    last_day: dt.date


@dataclass(frozen=True)
class Request:
    """One API call: its kind, the key's role and the query (or path) parameters as sent."""

    kind: str
    role: str
    params: Params

    @property
    def param_map(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def target(self) -> str:
        """Path and query string, as on the request line."""
        params = self.param_map
        if self.kind == CONDOMINIO_ITEM:
            return f"{CONDOMINIOS_PATH}/{params['condominio_id']}"
        if self.kind == MORADOR_ITEM:
            return f"{MORADORES_PATH}/{params['morador_id']}"
        path = {CONDOMINIOS_PAGE: CONDOMINIOS_PATH, MORADORES_PAGE: MORADORES_PATH,
                TOP_MORADORES: MORADORES_PATH, DIARIAS_RANGE: DIARIAS_PATH, TIPOS: TIPOS_PATH,
                FRESHNESS: FRESHNESS_PATH}[self.kind]
        return f"{path}?{urlencode(self.params)}" if self.params else path


def client_rng(seed: int, client: int) -> random.Random:
    """The generator of one client: independent of the other clients, fixed by the seed."""
    return random.Random(f"serve-bench:{seed}:{client}")


def requests_for(catalog: Catalog, seed: int, client: int) -> Iterator[Request]:
    """The endless request sequence of client number `client`."""
    rng = client_rng(seed, client)
    kinds = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    while True:
        kind = rng.choices(kinds, weights)[0]
        role = rng.choice(ROLES)
        yield Request(kind, role, _params(kind, catalog, rng))


def take(catalog: Catalog, seed: int, client: int, count: int) -> list[Request]:
    sequence = requests_for(catalog, seed, client)
    return [next(sequence) for _ in range(count)]


def _sort(rng: random.Random, columns: Sequence[str]) -> str:
    column = rng.choice(columns)
    return f"-{column}" if rng.random() < DESCENDING_SHARE else column


def _page_offset(rng: random.Random, total: int, limit: int) -> int:
    """The offset of a random page among those holding at least one row."""
    pages = max(1, math.ceil(total / limit))
    return rng.randrange(pages) * limit


def _params(kind: str, catalog: Catalog, rng: random.Random) -> Params:
    if kind == CONDOMINIOS_PAGE:
        return _condominios_page(catalog, rng)
    if kind == CONDOMINIO_ITEM:
        return (("condominio_id", str(rng.choice(catalog.condominio_ids))),)
    if kind == MORADORES_PAGE:
        return _moradores_page(catalog, rng)
    if kind == MORADOR_ITEM:
        return (("morador_id", str(rng.choice(catalog.morador_ids))),)
    if kind == TOP_MORADORES:
        return (("sort", "-valor_total"), ("limit", str(TOP_LIMIT)))
    if kind == DIARIAS_RANGE:
        return _diarias_range(catalog, rng)
    return ()


def _condominios_page(catalog: Catalog, rng: random.Random) -> Params:
    sort = _sort(rng, CONDOMINIO_SORTS)
    if rng.random() < FILTERED_SHARE:
        return (("condominio_id", str(rng.choice(catalog.condominio_ids))), ("sort", sort))
    limit = rng.choice(PAGE_LIMITS)
    offset = _page_offset(rng, len(catalog.condominio_ids), limit)
    return (("sort", sort), ("limit", str(limit)), ("offset", str(offset)))


def _moradores_page(catalog: Catalog, rng: random.Random) -> Params:
    sort = _sort(rng, MORADOR_SORTS)
    limit = rng.choice(PAGE_LIMITS)
    if rng.random() < MORADORES_BY_CONDOMINIO_SHARE:
        condominio_id = rng.choice(catalog.condominio_ids)
        total = catalog.moradores_per_condominio.get(condominio_id, 0)
        return (("condominio_id", str(condominio_id)), ("sort", sort), ("limit", str(limit)),
                ("offset", str(_page_offset(rng, total, limit))))
    offset = _page_offset(rng, len(catalog.morador_ids), limit)
    return (("sort", sort), ("limit", str(limit)), ("offset", str(offset)))


def _diarias_range(catalog: Catalog, rng: random.Random) -> Params:
    span = rng.choice(DAILY_SPANS_DAYS)
    days = max(0, (catalog.last_day - catalog.first_day).days - span + 1)
    start = catalog.first_day + dt.timedelta(days=rng.randrange(days + 1))
    end = min(catalog.last_day, start + dt.timedelta(days=span - 1))
    params: list[tuple[str, str]] = [("data_inicio", start.isoformat()),
                                     ("data_fim", end.isoformat())]
    if catalog.tipos and rng.random() < TIPO_FILTER_SHARE:
        params.append(("tipo", rng.choice(catalog.tipos)))
    params += [("sort", _sort(rng, DIARIA_SORTS)), ("limit", str(DAILY_LIMIT))]
    return tuple(params)


def kind_shares(requests: Sequence[Request]) -> dict[str, int]:
    """How many requests of each kind, in the order of KINDS (kinds absent count 0)."""
    counts = dict.fromkeys(KINDS, 0)
    for request in requests:
        counts[request.kind] += 1
    return counts
