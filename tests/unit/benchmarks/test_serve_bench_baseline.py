"""The in-process baseline's queries (pure) and the benchmark lake's marker."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from benchmarks.serve_baseline import order_by, statements
from benchmarks.serve_lake import MARKER, lake_folder, read_marker
from benchmarks.serve_mix import Request


def test_condominium_page_counts_and_pages_with_the_key_as_tiebreaker() -> None:
    planned = statements(Request("condominios_page", "admin", (
        ("sort", "-valor_total"), ("limit", "50"), ("offset", "100"))))
    assert planned.table == "transacoes_por_condominio"
    assert planned.queries == (
        ("SELECT count(*) FROM {table}", []),
        ("SELECT * FROM {table} ORDER BY valor_total DESC, condominio_id ASC LIMIT ? OFFSET ?",
         [50, 100]),
    )


def test_resident_page_filters_by_condominium_with_parameters() -> None:
    planned = statements(Request("moradores_page", "analista", (
        ("condominio_id", "7"), ("sort", "nome"), ("limit", "20"), ("offset", "40"))))
    assert planned.queries == (
        ("SELECT count(*) FROM {table} WHERE condominio_id = ?", [7]),
        ("SELECT * FROM {table} WHERE condominio_id = ? ORDER BY nome ASC, morador_id ASC "
         "LIMIT ? OFFSET ?", [7, 20, 40]),
    )


def test_daily_range_is_inclusive_and_tipo_normalised() -> None:
    planned = statements(Request("diarias_range", "admin", (
        ("data_inicio", "2024-01-01"), ("data_fim", "2024-01-30"), ("tipo", " Casa "),
        ("sort", "data_transacao"), ("limit", "1000"))))
    where = "WHERE data_transacao >= ? AND data_transacao <= ? AND tipo = ?"
    values = [dt.date(2024, 1, 1), dt.date(2024, 1, 30), "casa"]
    assert planned.queries == (
        (f"SELECT count(*) FROM {{table}} {where}", values),
        (f"SELECT * FROM {{table}} {where} ORDER BY data_transacao ASC, tipo ASC "
         "LIMIT ? OFFSET ?", [*values, 1000, 0]),
    )


def test_items_tipos_and_freshness() -> None:
    assert statements(Request("morador_item", "admin", (("morador_id", "9"),))).queries == (
        ("SELECT * FROM {table} WHERE morador_id = ?", [9]),)
    top = statements(Request("top_moradores", "admin", (("sort", "-valor_total"),
                                                        ("limit", "10"))))
    assert top.queries[1] == ("SELECT * FROM {table} ORDER BY valor_total DESC, morador_id ASC "
                              "LIMIT ? OFFSET ?", [10, 0])
    assert statements(Request("tipos", "admin", ())).queries == (
        ("SELECT DISTINCT tipo FROM {table} ORDER BY tipo", []),)
    freshness = statements(Request("freshness", "admin", ()))
    assert (freshness.table, freshness.queries) == (None, ())


def test_sorts_come_from_the_allowlist() -> None:
    assert order_by("transacoes_diarias_por_tipo", "-tipo") == "tipo DESC, data_transacao ASC"
    with pytest.raises(ValueError):
        order_by("transacoes_por_morador", "valor_total; DROP TABLE x")


def test_lake_folder_names_scale_and_seed(tmp_path: Path) -> None:
    assert lake_folder(tmp_path, 10.0, 42) == tmp_path / "bench" / "serve-scale10-seed42"
    assert lake_folder(tmp_path, 0.1, 7).name == "serve-scale0.1-seed7"


def test_marker_counts_only_when_the_gold_tables_are_there(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    recorded = {"lake": str(lake), "scale": 10.0, "seed": 42, "built_at": "2026-11-26T03:29:00",
                "source_rows": {"transacoes": 10}, "generation_s": 1.5, "spark_start_s": 2.0,
                "batch_s": 3.0, "reused": False}
    assert read_marker(tmp_path) is None
    (tmp_path / MARKER).write_text(json.dumps(recorded), encoding="utf-8")
    assert read_marker(tmp_path) is None  # no gold yet: an unfinished build
    for name in ("transacoes_por_condominio", "transacoes_por_morador",
                 "transacoes_diarias_por_tipo"):
        (lake / "gold" / name / "_delta_log").mkdir(parents=True)
    found = read_marker(tmp_path)
    assert found is not None
    assert (found.reused, found.built_at, found.batch_s) == (True, "2026-11-26T03:29:00", 3.0)
    (tmp_path / MARKER).write_text("{not json", encoding="utf-8")
    assert read_marker(tmp_path) is None
