"""The REST API over real HTTP (uvicorn on a free port) against a lake built by `batch`.

Every value is compared with gold as Spark reads it: money as the exact Decimal of the JSON
string, dates as ISO, ids and counts as integers.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from condolake.catalog import MART_NAMES
from condolake.config import Settings, revealed
from condolake.lake import delta
from condolake.layout import Layer, table_path
from condolake.serving.auth import KeyRing
from condolake.serving.queries import gold_specs
from condolake.serving.server import BackgroundServer

pytestmark = pytest.mark.integration

Row = dict[str, Any]
CONDOMINIOS = "/v1/transacoes-por-condominio"
MORADORES = "/v1/transacoes-por-morador"
DIARIAS = "/v1/transacoes-diarias-por-tipo"
ENDPOINT_TABLES = {CONDOMINIOS: "transacoes_por_condominio",
                   MORADORES: "transacoes_por_morador",
                   DIARIAS: "transacoes_diarias_por_tipo"}
MAX_PAGE = 1000
SAMPLE = 10  # items read one by one per role
DEADLINE_S = 60.0


# --- helpers -------------------------------------------------------------------------------


def typed(item: Row) -> Row:
    """An API item with the JSON strings turned back into Decimal and date."""
    row = dict(item)
    assert isinstance(row["valor_total"], str)
    row["valor_total"] = Decimal(row["valor_total"])
    if "data_transacao" in row:
        row["data_transacao"] = dt.date.fromisoformat(row["data_transacao"])
    return row


def as_tuples(rows: list[Row], table: str) -> list[tuple[Any, ...]]:
    columns = gold_specs()[table].columns
    return [tuple(row[c] for c in columns) for row in rows]


def walk(client: httpx.Client, path: str, key: str, limit: int = MAX_PAGE,
         **params: Any) -> tuple[list[Row], int]:
    """Every item of a list endpoint, following next_offset; and the Delta version seen."""
    items: list[Row] = []
    offset: int | None = 0
    versions = set()
    while offset is not None:
        response = client.get(path, headers={"X-API-Key": key},
                              params={**params, "limit": limit, "offset": offset})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["offset"] == offset and page["limit"] == limit
        items.extend(typed(item) for item in page["items"])
        versions.add(page["table_version"])
        offset = page["next_offset"]
        if offset is not None:
            assert offset == len(items)
    assert page["total"] == len(items)
    assert len(versions) == 1
    return items, versions.pop()


def masked(name: str) -> str:
    return " ".join(word[0] + "***" for word in name.split())


def sorted_like_api(rows: list[Row], table: str, sort: str) -> list[Row]:
    """The order the API promises: the sort column, then the key ascending."""
    spec = gold_specs()[table]
    column = sort.removeprefix("-")
    by_key = sorted(rows, key=lambda row: tuple(row[k] for k in spec.key))
    return sorted(by_key, key=lambda row: row[column], reverse=sort.startswith("-"))


def wait_for(check: Any, what: str, timeout_s: float = DEADLINE_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(api_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_server, timeout=30.0) as http:
        yield http


@pytest.fixture(scope="module")
def gold(spark: SparkSession, serving_settings: Settings) -> dict[str, list[Row]]:
    """Gold as Spark reads it: table -> rows as dicts of Python values."""
    return {
        name: [row.asDict() for row in spark.read.format("delta").load(
            table_path(serving_settings.lake_path, Layer.GOLD, name)).collect()]
        for name in MART_NAMES
    }


@pytest.fixture(scope="module")
def scopes(serving_settings: Settings, api_keys: dict[str, str]) -> dict[str, int | None]:
    """Role -> the condominio_id its key is scoped to (None: all)."""
    ring = KeyRing.parse(revealed(serving_settings.serve_keys))
    found = {role: ring.authenticate(key) for role, key in api_keys.items()}
    return {role: principal.condominio_id for role, principal in found.items() if principal}


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


# --- the lake itself -----------------------------------------------------------------------


def test_the_lake_has_several_condominios_and_a_quarantine(
    spark: SparkSession, serving_settings: Settings, gold: dict[str, list[Row]],
    scopes: dict[str, int | None],
) -> None:
    quarantined = spark.read.format("delta").load(
        table_path(serving_settings.lake_path, Layer.QUARANTINE, "transacoes")).count()
    assert quarantined > 0
    assert len(gold["transacoes_por_condominio"]) >= 2
    assert scopes["sindico"] != scopes["analista_scoped"]


# --- health and freshness ------------------------------------------------------------------


def test_health_needs_no_key_and_lists_every_table(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "tables": dict.fromkeys(MART_NAMES, True)}


def commit_info_time(table_dir: Path, version: int) -> dt.datetime:
    """`commitInfo.timestamp` of one commit, read straight from the log."""
    commit = table_dir / "_delta_log" / f"{version:020d}.json"
    for line in commit.read_text(encoding="utf-8").splitlines():
        if '"commitInfo"' in line:
            millis = json.loads(line)["commitInfo"]["timestamp"]
            return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
    raise AssertionError(f"no commitInfo in {commit}")


def test_freshness_is_the_latest_delta_commit_of_each_table(
    client: httpx.Client, spark: SparkSession, serving_settings: Settings,
    api_keys: dict[str, str],
) -> None:
    response = client.get("/v1/freshness", headers=headers(api_keys["sindico"]))
    assert response.status_code == 200
    tables = response.json()["tables"]
    assert [t["table"] for t in tables] == list(MART_NAMES)
    for entry in tables:
        path = table_path(serving_settings.lake_path, Layer.GOLD, entry["table"])
        last = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy(
            F.col("version").desc()).first()
        assert last is not None
        assert entry["layer"] == "gold"
        assert entry["version"] == last["version"]
        committed = commit_info_time(Path(path), last["version"])
        assert entry["committed_at"] == committed.strftime("%Y-%m-%dT%H:%M:%S.") + \
            f"{committed.microsecond // 1000:03d}Z"
        # History shows the commit file's time: the same commit, a few milliseconds apart.
        assert abs(last["timestamp"].astimezone(dt.UTC) - committed) < dt.timedelta(seconds=5)
        age = (dt.datetime.now(dt.UTC) - committed).total_seconds()
        assert 0 <= entry["age_seconds"] <= age


# --- datasets: values, pagination, sorting, filters -----------------------------------------


@pytest.mark.parametrize("path", [CONDOMINIOS, MORADORES, DIARIAS])
@pytest.mark.parametrize("limit", [97, MAX_PAGE])
def test_walking_every_page_gives_exactly_gold(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]], path: str,
    limit: int,
) -> None:
    table = ENDPOINT_TABLES[path]
    items, _ = walk(client, path, api_keys["admin"], limit=limit)
    expected = sorted_like_api(gold[table], table, gold_specs()[table].default_sort)
    # Same rows, same order, no overlap: the default order is the key.
    assert as_tuples(items, table) == as_tuples(expected, table)
    assert len(set(as_tuples(items, table))) == len(items)


def test_money_is_a_two_decimal_string(client: httpx.Client, api_keys: dict[str, str],
                                       gold: dict[str, list[Row]]) -> None:
    page = client.get(DIARIAS, headers=headers(api_keys["admin"]),
                      params={"limit": 50}).json()
    for item in page["items"]:
        whole, _, cents = item["valor_total"].partition(".")
        assert whole.isdigit() and len(cents) == 2
    first = min(gold["transacoes_diarias_por_tipo"],
                key=lambda r: (r["data_transacao"], r["tipo"]))
    assert page["items"][0]["valor_total"] == f"{first['valor_total']:.2f}"
    assert page["items"][0]["data_transacao"] == first["data_transacao"].isoformat()


@pytest.mark.parametrize("path", [CONDOMINIOS, MORADORES, DIARIAS])
def test_every_sort_orders_by_its_column_then_the_key(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]], path: str
) -> None:
    table = ENDPOINT_TABLES[path]
    for sort in gold_specs()[table].sort_options():
        items, _ = walk(client, path, api_keys["admin"], limit=MAX_PAGE, sort=sort)
        assert as_tuples(items, table) == as_tuples(sorted_like_api(gold[table], table, sort),
                                                    table), sort


def test_pages_of_a_sort_with_ties_never_overlap(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]]
) -> None:
    table = "transacoes_diarias_por_tipo"  # many days share a count: ties everywhere
    items, _ = walk(client, DIARIAS, api_keys["admin"], limit=61, sort="-quantidade_transacoes")
    assert as_tuples(items, table) == as_tuples(
        sorted_like_api(gold[table], table, "-quantidade_transacoes"), table)


def test_condominio_filter(client: httpx.Client, api_keys: dict[str, str],
                          gold: dict[str, list[Row]], scopes: dict[str, int | None]) -> None:
    wanted = scopes["sindico"]
    for path in (CONDOMINIOS, MORADORES):
        table = ENDPOINT_TABLES[path]
        items, _ = walk(client, path, api_keys["admin"], condominio_id=wanted)
        expected = [r for r in sorted_like_api(gold[table], table, gold_specs()[table].default_sort)
                    if r["condominio_id"] == wanted]
        assert expected and as_tuples(items, table) == as_tuples(expected, table)


def test_morador_filter(client: httpx.Client, api_keys: dict[str, str],
                        gold: dict[str, list[Row]]) -> None:
    row = max(gold["transacoes_por_morador"], key=lambda r: r["morador_id"])
    items, _ = walk(client, MORADORES, api_keys["admin"], morador_id=row["morador_id"])
    assert items == [row]
    elsewhere = max(r["condominio_id"] for r in gold["transacoes_por_condominio"]) + 1
    items, _ = walk(client, MORADORES, api_keys["admin"], morador_id=row["morador_id"],
                    condominio_id=elsewhere)
    assert items == []


def test_tipo_is_trimmed_and_lower_cased_and_dates_are_inclusive(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]]
) -> None:
    rows = gold["transacoes_diarias_por_tipo"]
    tipo = sorted({r["tipo"] for r in rows})[0]
    days = sorted({r["data_transacao"] for r in rows if r["tipo"] == tipo})
    first, last = days[len(days) // 3], days[2 * len(days) // 3]
    items, _ = walk(client, DIARIAS, api_keys["analista"], tipo=f"  {tipo.upper()} ",
                    data_inicio=first.isoformat(), data_fim=last.isoformat())
    expected = [r for r in sorted_like_api(rows, "transacoes_diarias_por_tipo", "data_transacao")
                if r["tipo"] == tipo and first <= r["data_transacao"] <= last]
    assert items == expected
    assert items[0]["data_transacao"] == first and items[-1]["data_transacao"] == last
    one_day, _ = walk(client, DIARIAS, api_keys["admin"], data_inicio=first.isoformat(),
                      data_fim=first.isoformat())
    assert one_day == [r for r in sorted_like_api(rows, "transacoes_diarias_por_tipo", "tipo")
                       if r["data_transacao"] == first]
    unknown, _ = walk(client, DIARIAS, api_keys["admin"], tipo="castelo")
    assert unknown == []


def test_tipos_are_the_distinct_types_sorted(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]]
) -> None:
    response = client.get("/v1/tipos", headers=headers(api_keys["analista"]))
    assert response.status_code == 200
    assert response.json() == sorted({r["tipo"] for r in gold["transacoes_diarias_por_tipo"]})


def test_item_endpoints(client: httpx.Client, api_keys: dict[str, str],
                        gold: dict[str, list[Row]]) -> None:
    for row in gold["transacoes_por_condominio"]:
        response = client.get(f"{CONDOMINIOS}/{row['condominio_id']}",
                              headers=headers(api_keys["admin"]))
        assert response.status_code == 200
        assert typed(response.json()) == row
    morador = gold["transacoes_por_morador"][0]
    response = client.get(f"{MORADORES}/{morador['morador_id']}",
                          headers=headers(api_keys["admin"]))
    assert typed(response.json()) == morador
    missing = max(r["morador_id"] for r in gold["transacoes_por_morador"]) + 1
    response = client.get(f"{MORADORES}/{missing}", headers=headers(api_keys["admin"]))
    assert response.status_code == 404
    assert response.json() == {"detail": f"morador_id {missing} not found"}


# --- access control -------------------------------------------------------------------------

ALL_ENDPOINTS = ["/v1/freshness", CONDOMINIOS, f"{CONDOMINIOS}/1", MORADORES, f"{MORADORES}/1",
                 DIARIAS, "/v1/tipos"]


@pytest.mark.parametrize("path", ALL_ENDPOINTS)
@pytest.mark.parametrize("key", [None, "not-a-key", ""])
def test_no_or_unknown_key_is_401(client: httpx.Client, path: str, key: str | None) -> None:
    response = client.get(path, headers={} if key is None else headers(key),
                          params={"limit": 0})  # 401 comes before any validation
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "ApiKey"
    assert response.json()["detail"] in {"unknown API key",
                                         "missing API key: send it in X-API-Key"}


def expected_rows(role: str, table: str, gold: dict[str, list[Row]],
                  scopes: dict[str, int | None]) -> list[Row]:
    scope = scopes[role]
    rows = [dict(r) for r in sorted_like_api(gold[table], table, gold_specs()[table].default_sort)
            if scope is None or r["condominio_id"] == scope]
    if role.startswith("analista") and table == "transacoes_por_morador":
        for row in rows:
            row["nome"] = masked(row["nome"])
    return rows


ROLES = ["admin", "analista", "sindico", "analista_scoped"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lists_exactly_its_rows(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]],
    scopes: dict[str, int | None], role: str,
) -> None:
    key = api_keys[role]
    for path in (CONDOMINIOS, MORADORES):
        table = ENDPOINT_TABLES[path]
        items, _ = walk(client, path, key)
        assert items == expected_rows(role, table, gold, scopes), (role, path)
    reads_daily = role in {"admin", "analista"}
    for path in (DIARIAS, "/v1/tipos"):
        response = client.get(path, headers=headers(key))
        assert response.status_code == (200 if reads_daily else 403), (role, path)
    if reads_daily:
        items, _ = walk(client, DIARIAS, key)
        assert len(items) == len(gold["transacoes_diarias_por_tipo"])
    assert client.get("/v1/freshness", headers=headers(key)).status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_items_in_scope_and_gets_404_outside(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]],
    scopes: dict[str, int | None], role: str,
) -> None:
    key, scope = api_keys[role], scopes[role]
    for row in gold["transacoes_por_condominio"]:
        response = client.get(f"{CONDOMINIOS}/{row['condominio_id']}", headers=headers(key))
        visible = scope is None or row["condominio_id"] == scope
        assert response.status_code == (200 if visible else 404)
        if visible:
            assert typed(response.json()) == row  # condominium names are never masked
    inside = expected_rows(role, "transacoes_por_morador", gold, scopes)
    condominios = {r["condominio_id"] for r in inside}
    outside = [r for r in gold["transacoes_por_morador"] if r["condominio_id"] not in condominios]
    for row in inside[:SAMPLE] + inside[-SAMPLE:]:
        response = client.get(f"{MORADORES}/{row['morador_id']}", headers=headers(key))
        assert response.status_code == 200
        assert typed(response.json()) == row
    for row in outside[:SAMPLE]:
        response = client.get(f"{MORADORES}/{row['morador_id']}", headers=headers(key))
        assert response.status_code == 404
    assert bool(outside) == (scope is not None)


@pytest.mark.parametrize("role", ROLES)
def test_asking_for_another_condominio_is_403_for_scoped_keys(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]],
    scopes: dict[str, int | None], role: str,
) -> None:
    scope = scopes[role]
    other = next(r["condominio_id"] for r in gold["transacoes_por_condominio"]
                 if r["condominio_id"] != scope)
    for path in (CONDOMINIOS, MORADORES):
        response = client.get(path, headers=headers(api_keys[role]),
                              params={"condominio_id": other})
        if scope is None:
            assert response.status_code == 200
            assert response.json()["total"] == sum(
                1 for r in gold[ENDPOINT_TABLES[path]] if r["condominio_id"] == other)
        else:
            assert response.status_code == 403
            assert response.json() == {"detail": f"this key may only read condominio_id {scope}"}


def test_analista_sees_masked_names_exactly(
    client: httpx.Client, api_keys: dict[str, str], gold: dict[str, list[Row]]
) -> None:
    row = min(gold["transacoes_por_morador"], key=lambda r: r["morador_id"])
    response = client.get(f"{MORADORES}/{row['morador_id']}", headers=headers(api_keys["analista"]))
    nome = response.json()["nome"]
    words = row["nome"].split()
    assert nome == " ".join(f"{w[0]}***" for w in words)
    assert nome.count("***") == len(words) and all(len(w) == 4 for w in nome.split())
    admin = client.get(f"{MORADORES}/{row['morador_id']}", headers=headers(api_keys["admin"]))
    assert admin.json()["nome"] == row["nome"]


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "params", "parameter"), [
    (CONDOMINIOS, {"limit": 0}, "limit"),
    (CONDOMINIOS, {"limit": 1001}, "limit"),
    (CONDOMINIOS, {"offset": -1}, "offset"),
    (CONDOMINIOS, {"sort": "endereco"}, "sort"),
    (CONDOMINIOS, {"sort": "valor_total; DROP TABLE x"}, "sort"),
    (CONDOMINIOS, {"condominio_id": "abc"}, "condominio_id"),
    (CONDOMINIOS, {"condominio_id": 0}, "condominio_id"),
    (MORADORES, {"morador_id": "1.5"}, "morador_id"),
    (MORADORES, {"sort": "-tipo"}, "sort"),
    (DIARIAS, {"data_inicio": "2024-13-01"}, "data_inicio"),
    (DIARIAS, {"data_fim": "ontem"}, "data_fim"),
    (DIARIAS, {"tipo": ""}, "tipo"),
    (DIARIAS, {"tipo": "x" * 51}, "tipo"),
])
def test_bad_parameters_are_422_naming_the_parameter(
    client: httpx.Client, api_keys: dict[str, str], path: str, params: dict[str, Any],
    parameter: str,
) -> None:
    response = client.get(path, headers=headers(api_keys["admin"]), params=params)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", parameter]]


def test_bad_path_id_is_422(client: httpx.Client, api_keys: dict[str, str]) -> None:
    response = client.get(f"{MORADORES}/abc", headers=headers(api_keys["admin"]))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "morador_id"]


def test_data_inicio_after_data_fim_is_422(client: httpx.Client,
                                          api_keys: dict[str, str]) -> None:
    response = client.get(DIARIAS, headers=headers(api_keys["admin"]),
                          params={"data_inicio": "2024-02-01", "data_fim": "2024-01-31"})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["query", "data_fim"],
                                           "msg": "data_fim must not be before data_inicio",
                                           "type": "value_error"}]}


def test_openapi_documents_the_endpoints(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "API key made by `condolake serve key`"}
    for path in (CONDOMINIOS, MORADORES, DIARIAS):
        operation = spec["paths"][path]["get"]
        assert operation["summary"] and operation["description"]
        assert {"200", "401", "403", "422", "503"} <= set(operation["responses"])
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/")
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):  # served here: works offline
        assert f"/docs-assets/{asset}" in docs.text
        assert client.get(f"/docs-assets/{asset}").status_code == 200


# --- a lake that changes under a running server ----------------------------------------------


@pytest.fixture(scope="module")
def changing_lake(serving_settings: Settings,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, str]]:
    """A copy of the serving lake's gold without transacoes_por_morador, and a server on it
    that looks for new versions every 0.2 s."""
    lake = tmp_path_factory.mktemp("changing-lake")
    for name in ("transacoes_por_condominio", "transacoes_diarias_por_tipo"):
        shutil.copytree(table_path(serving_settings.lake_path, Layer.GOLD, name),
                        table_path(str(lake), Layer.GOLD, name))
    settings = serving_settings.with_(lake_root=str(lake), serve_refresh_s=0.2)
    with BackgroundServer(settings) as url:
        yield settings, url


def test_missing_table_is_503_and_health_degraded(
    changing_lake: tuple[Settings, str], api_keys: dict[str, str]
) -> None:
    _, url = changing_lake
    with httpx.Client(base_url=url) as http:
        response = http.get(MORADORES, headers=headers(api_keys["admin"]))
        assert response.status_code == 503
        assert response.json() == {
            "detail": "gold table transacoes_por_morador is not built yet: run condolake batch"}
        assert http.get(f"{MORADORES}/1", headers=headers(api_keys["admin"])).status_code == 503
        health = http.get("/health").json()
        assert health == {"status": "degraded", "tables": {
            "transacoes_por_condominio": True, "transacoes_por_morador": False,
            "transacoes_diarias_por_tipo": True}}


def test_a_new_version_is_served_without_restart(
    changing_lake: tuple[Settings, str], serving_settings: Settings, spark: SparkSession,
    api_keys: dict[str, str], gold: dict[str, list[Row]],
) -> None:
    settings, url = changing_lake
    path = table_path(settings.lake_path, Layer.GOLD, "transacoes_por_condominio")
    target = gold["transacoes_por_condominio"][0]
    key = headers(api_keys["admin"])
    with httpx.Client(base_url=url) as http:
        before = http.get(CONDOMINIOS, headers=key).json()
        item = http.get(f"{CONDOMINIOS}/{target['condominio_id']}", headers=key).json()
        assert Decimal(item["valor_total"]) == target["valor_total"]
        # A new version of the gold table: one condominium's total moves by R$ 100,25.
        bump = Decimal("100.25")
        current = spark.read.format("delta").load(path)
        changed = current.select(
            "condominio_id", "nome", "quantidade_transacoes",
            F.when(F.col("condominio_id") == target["condominio_id"],
                   F.col("valor_total") + F.lit(bump).cast("decimal(25,2)"))
            .otherwise(F.col("valor_total")).cast("decimal(25,2)").alias("valor_total"))
        delta.overwrite(changed.localCheckpoint(), path)
        new_version = before["table_version"] + 1

        def updated() -> dict[str, Any] | None:
            page = http.get(CONDOMINIOS, headers=key).json()
            return page if page["table_version"] == new_version else None

        page = wait_for(updated, "the API to serve the new version")
        row = next(i for i in page["items"] if i["condominio_id"] == target["condominio_id"])
        assert Decimal(row["valor_total"]) == target["valor_total"] + bump
        item = http.get(f"{CONDOMINIOS}/{target['condominio_id']}", headers=key).json()
        assert Decimal(item["valor_total"]) == target["valor_total"] + bump
        versions = {t["table"]: t["version"]
                    for t in http.get("/v1/freshness", headers=key).json()["tables"]}
        assert versions["transacoes_por_condominio"] == new_version

        # A table that appears after the start is served too.
        source = Path(table_path(serving_settings.lake_path, Layer.GOLD,
                                 "transacoes_por_morador"))
        staging = Path(settings.lake_path) / "staging-morador"
        shutil.copytree(source, staging)
        staging.rename(table_path(settings.lake_path, Layer.GOLD, "transacoes_por_morador"))
        wait_for(lambda: http.get(MORADORES, headers=key).status_code == 200,
                 "the new table to be served")
        assert http.get(MORADORES, headers=key).json()["total"] == len(
            gold["transacoes_por_morador"])
        assert http.get("/health").json()["status"] == "ok"
