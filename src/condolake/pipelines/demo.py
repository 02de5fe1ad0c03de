"""`condolake demo`: the whole batch path on freshly generated data, shown in the terminal."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

from condolake.config import Settings
from condolake.console import results
from condolake.formatting import format_count
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import batch
from condolake.reporting import gold_tables
from condolake.services.postgres import source_database
from condolake.source.ddl import init_schema
from condolake.source.generator import append_transactions, generate
from condolake.spark import build_spark

Progress = Callable[[str], None]
NEW_TRANSACTIONS_SHARE = 0.01


def demo_lake(settings: Settings) -> Path:
    """The demo's own lake, so that resetting it never touches CONDOLAKE_LAKE_ROOT."""
    return settings.state_path / "demo" / "lakehouse"


def run_demo(settings: Settings, *, scale: float, seed: int, invalid_share: float, rows: int,
             progress: Progress) -> None:
    lake = demo_lake(settings)
    if lake.exists():
        progress(f"resetting the demo lake {lake}")
        shutil.rmtree(lake)
    demo_settings = dataclasses.replace(settings, lake_root=str(lake))
    with source_database(settings, progress=progress) as db:
        with db.connect() as conn:
            init_schema(conn, drop_existing=True)
            report = generate(conn, scale=scale, seed=seed, invalid_share=invalid_share,
                              progress=progress)
        progress(
            "source ready: " + ", ".join(f"{t} {format_count(n)}" for t, n in report.rows.items())
        )
        spark = build_spark(demo_settings, "condolake-demo", progress=progress)
        first = batch(spark, demo_settings, db, progress)
        with db.connect() as conn:
            new = max(1, int(report.rows["transacoes"] * NEW_TRANSACTIONS_SHARE))
            append_transactions(conn, count=new, seed=seed + 1)
        progress(f"{format_count(new)} new transactions inserted in PostgreSQL; running again")
        second = batch(spark, demo_settings, db, progress)
        for table in gold_tables(spark, demo_settings.lake_path, rows):
            results.print(table)
        _summary(first, second, demo_settings)


def _summary(first: RunRecord, second: RunRecord, settings: Settings) -> None:
    incremental = next(t for t in second.tables if t.table == "transacoes")
    results.print(
        f"\n1ª execução: {format_count(first.total('rows_read'))} registros lidos, "
        f"{format_count(first.total('rows_valid'))} válidos, "
        f"{format_count(first.total('rows_quarantined'))} em quarentena."
    )
    results.print(
        f"2ª execução (incremental): {format_count(incremental.rows_read)} transações novas lidas "
        f"(transacao_id > {incremental.watermark_from})."
    )
    results.print(
        f"Lake: {settings.lake_path}  —  veja com "
        f"CONDOLAKE_LAKE_ROOT={settings.lake_path} condolake show"
    )
