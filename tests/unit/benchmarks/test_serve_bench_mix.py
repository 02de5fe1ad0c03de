"""The serving benchmark's request mix: deterministic per seed and client, valid requests."""

from __future__ import annotations

import datetime as dt

from benchmarks.serve import check_requests, warmup_seconds
from benchmarks.serve_mix import (
    DAILY_LIMIT,
    KINDS,
    ROLES,
    WEIGHTS,
    Catalog,
    Request,
    kind_shares,
    take,
)

CATALOG = Catalog(
    condominio_ids=(1, 2, 3),
    morador_ids=tuple(range(1, 31)),
    moradores_per_condominio={1: 10, 2: 20},
    tipos=("apartamento", "casa"),
    first_day=dt.date(2024, 1, 1),
    last_day=dt.date(2024, 3, 31),
)


def test_same_seed_and_client_give_the_same_requests() -> None:
    assert take(CATALOG, 42, 0, 6) == [
        Request("morador_item", "admin", (("morador_id", "3"),)),
        Request("condominio_item", "analista", (("condominio_id", "1"),)),
        Request("diarias_range", "analista", (
            ("data_inicio", "2024-01-02"), ("data_fim", "2024-01-31"), ("tipo", "apartamento"),
            ("sort", "quantidade_transacoes"), ("limit", "1000"))),
        Request("diarias_range", "analista", (
            ("data_inicio", "2024-01-01"), ("data_fim", "2024-03-30"), ("tipo", "casa"),
            ("sort", "tipo"), ("limit", "1000"))),
        Request("top_moradores", "admin", (("sort", "-valor_total"), ("limit", "10"))),
        Request("top_moradores", "analista", (("sort", "-valor_total"), ("limit", "10"))),
    ]
    assert take(CATALOG, 42, 5, 200) == take(CATALOG, 42, 5, 200)


def test_clients_and_seeds_draw_different_sequences() -> None:
    assert take(CATALOG, 42, 0, 50) != take(CATALOG, 42, 1, 50)
    assert take(CATALOG, 42, 0, 50) != take(CATALOG, 43, 0, 50)


def test_targets_put_ids_in_the_path_and_the_rest_in_the_query() -> None:
    assert Request("morador_item", "admin", (("morador_id", "7"),)).target == (
        "/v1/transacoes-por-morador/7")
    assert Request("condominio_item", "admin", (("condominio_id", "3"),)).target == (
        "/v1/transacoes-por-condominio/3")
    assert Request("diarias_range", "admin", (
        ("data_inicio", "2024-01-01"), ("tipo", "vaga de garagem"))).target == (
        "/v1/transacoes-diarias-por-tipo?data_inicio=2024-01-01&tipo=vaga+de+garagem")
    assert Request("freshness", "analista", ()).target == "/v1/freshness"
    assert Request("tipos", "admin", ()).target == "/v1/tipos"


def test_weights_make_one_hundred_per_cent_and_the_mix_follows_them() -> None:
    assert sum(WEIGHTS.values()) == 100
    counts = kind_shares(take(CATALOG, 7, 0, 20_000))
    assert list(counts) == list(KINDS)
    for kind, weight in WEIGHTS.items():
        assert abs(counts[kind] / 20_000 - weight / 100) < 0.015, kind


def test_pages_and_ranges_stay_where_rows_are() -> None:
    for request in take(CATALOG, 42, 3, 2_000):
        params = request.param_map
        if request.kind == "moradores_page":
            limit, offset = int(params["limit"]), int(params["offset"])
            assert offset % limit == 0
            if "condominio_id" in params:
                total = CATALOG.moradores_per_condominio.get(int(params["condominio_id"]), 0)
                assert offset == 0 or offset < total
            else:
                assert offset < len(CATALOG.morador_ids)
        if request.kind == "condominios_page" and "offset" in params:
            assert int(params["offset"]) < len(CATALOG.condominio_ids)
        if request.kind == "diarias_range":
            start = dt.date.fromisoformat(params["data_inicio"])
            end = dt.date.fromisoformat(params["data_fim"])
            assert CATALOG.first_day <= start <= end <= CATALOG.last_day
            assert (end - start).days + 1 in (7, 30, 90)
            assert params["limit"] == str(DAILY_LIMIT)
        if request.kind == "morador_item":
            assert int(params["morador_id"]) in CATALOG.morador_ids


def test_check_requests_cover_every_kind_with_both_keys() -> None:
    checks = check_requests(CATALOG, 42)
    assert [(r.kind, r.role) for r in checks] == [(k, r) for k in KINDS for r in ROLES]


def test_warm_up_is_a_third_of_the_measured_time_within_bounds() -> None:
    assert warmup_seconds(30.0) == 10.0
    assert warmup_seconds(12.0) == 4.0
    assert warmup_seconds(3.0) == 2.0
    assert warmup_seconds(300.0) == 10.0
