"""Adding a mart is one file plus one catalog entry: a throw-away mart, registered in the
catalog, is built by the batch, kept up to date by the stream's gold step, served by the API,
exposed by the SQL catalog and documented by the data dictionary, with no other change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession
from tests.integration.conftest import new_database
from tests.support.mart_por_tipo import DESCRIPTIONS, POR_TIPO

from condolake import catalog
from condolake.catalog import KAFKA_EVENTS_SCHEMA
from condolake.config import Settings
from condolake.docs_gen.dictionary import DESCRIPTIONS as DESCRIPTIONS_FILE
from condolake.docs_gen.dictionary import (
    TEMPLATE,
    DictionaryError,
    parse_descriptions,
    render,
)
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.pipelines.gold import update_gold
from condolake.pipelines.stream_silver import (
    CDC_SOURCE,
    apply_changes,
    ensure_stream_tables,
    stream_context,
)
from condolake.services.postgres import SourceDatabase
from condolake.serving.api import create_app
from condolake.serving.auth import new_key
from condolake.serving.sql_catalog import discover_tables, local_delta_folders
from condolake.source.debezium import change_event, topic_name
from condolake.source.generator import generate
from condolake.source.tables import TRANSACOES
from condolake.streaming.kafka_events import changes_from_events

NEW_AMOUNT = Decimal("1234.56")


def totals_in_source(source: SourceDatabase) -> dict[str, tuple[int, Decimal]]:
    """The mart computed by PostgreSQL from the valid rows (the batch quarantines none here)."""
    with source.connect() as conn:
        rows = conn.execute(
            "SELECT lower(trim(i.tipo)), count(t.transacao_id), "
            "coalesce(sum(t.valor_transacao), 0) FROM imoveis i "
            "LEFT JOIN transacoes t ON t.imovel_id = i.imovel_id GROUP BY 1").fetchall()
    return {tipo: (count, total) for tipo, count, total in rows}


def mart_rows(spark: SparkSession, lake: str) -> dict[str, tuple[int, Decimal]]:
    frame = spark.read.format("delta").load(table_path(lake, Layer.GOLD, POR_TIPO.name))
    return {row.tipo: (row.quantidade_transacoes, row.valor_total) for row in frame.collect()}


def stream_one_transaction(spark: SparkSession, lake: str, timezone: str, imovel_id: int,
                           morador_id: int) -> None:
    """A Debezium create of transacao 900001 applied as a Kafka micro-batch applies it."""
    ctx, run = stream_context(spark, lake, timezone, "kafka", "0123456789abcdef", 0)
    after = {"transacao_id": 900001, "imovel_id": imovel_id, "morador_id": morador_id,
             "data_transacao": dt.date(2026, 12, 1), "valor_transacao": NEW_AMOUNT}
    # A transaction after the batch load (a smaller id is one the load's snapshot saw: the
    # stream would count the event as already loaded).
    key, value = change_event(TRANSACOES, "c", None, after, prefix="condomanage",
                              database="condomanage", lsn=10**12, tx_id=1_000_000_000,
                              commit_ms=1, produced_ms=1)
    topic = topic_name("condomanage", TRANSACOES.name)
    at = dt.datetime.now(dt.UTC)
    records = spark.createDataFrame(
        [(key.decode(), value.decode(), topic, 0, 0, at, f"kafka:{topic}/0/0", 10**12,
          ctx.run_id, at)], KAFKA_EVENTS_SCHEMA)
    changed = apply_changes(ctx, run, {TRANSACOES.name: changes_from_events(
        records, TRANSACOES, ctx.run_id)}, app_id="kafka.0123456789abcdef", batch_id=0,
        source=CDC_SOURCE)
    assert changed == [TRANSACOES.name]
    update_gold(ctx, run)  # the stream's gold step (MicroBatch.finish)


@pytest.mark.integration
def test_a_registered_mart_is_seen_by_batch_stream_api_sql_catalog_and_dictionary(
    spark: SparkSession, base_settings: Settings, postgres: SourceDatabase, tmp_path: Path,
) -> None:
    admin_key, admin_entry = new_key("admin-test", "admin", None)
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"),
                                   serve_keys=admin_entry)
    lake = settings.lake_path
    with new_database(postgres) as source, catalog.registered(POR_TIPO):
        with source.connect() as conn:
            generate(conn, scale=0.001, seed=12, invalid_share=0.0)
        expected = totals_in_source(source)
        assert len(expected) >= 2

        # Batch: built whole, exact to the cent.
        assert batch(spark, settings, source).status == "succeeded"
        assert mart_rows(spark, lake) == expected

        # Stream: one new transaction moves exactly its property type's row.
        with source.connect() as conn:
            imovel_id, tipo = conn.execute(
                "SELECT imovel_id, lower(trim(tipo)) FROM imoveis ORDER BY imovel_id "
                "LIMIT 1").fetchone()
            (morador_id,) = conn.execute("SELECT min(morador_id) FROM moradores").fetchone()
        ensure_stream_tables(spark, lake)
        stream_one_transaction(spark, lake, settings.timezone, imovel_id, morador_id)
        count, total = expected[tipo]
        expected[tipo] = (count + 1, total + NEW_AMOUNT)
        assert mart_rows(spark, lake) == expected

        # API: served from the published set, money as exact strings.
        with TestClient(create_app(settings)) as http:
            response = http.get(f"/v1/gold/{POR_TIPO.name}", params={"limit": 1000},
                                headers={"X-API-Key": admin_key})
            assert response.status_code == 200, response.text
            served = {item["tipo"]: (item["quantidade_transacoes"], item["valor_total"])
                      for item in response.json()["items"]}
            assert served == {tipo: (count, f"{total:.2f}")
                              for tipo, (count, total) in expected.items()}
            freshness = http.get("/v1/freshness", headers={"X-API-Key": admin_key}).json()
            assert POR_TIPO.name in {table["table"] for table in freshness["tables"]}

        # SQL catalog: exposed as gold.transacoes_por_tipo.
        exposed = {table.qualified_name for table in discover_tables(lake, local_delta_folders)}
        assert "`gold`.`transacoes_por_tipo`" in exposed

        # Dictionary: its columns must be described, and then it has a section.
        described = DESCRIPTIONS_FILE.read_text(encoding="utf-8")
        with pytest.raises(DictionaryError, match="of gold/transacoes_por_tipo "
                                                  r"\(declared in .*mart_por_tipo"):
            render(catalog.tables(), parse_descriptions(described),
                   TEMPLATE.read_text(encoding="utf-8"))
        page = render(catalog.tables(), parse_descriptions(described + DESCRIPTIONS),
                      TEMPLATE.read_text(encoding="utf-8"))
        assert "### gold/transacoes_por_tipo — one row per property type" in page
    assert POR_TIPO.name not in catalog.mart_names()
