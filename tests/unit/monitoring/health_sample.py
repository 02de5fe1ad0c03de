"""A hand-built `LakeHealth` snapshot shared by the metrics and status view tests."""

from __future__ import annotations

from condolake.monitoring.health import (
    DqCheck,
    GoldFreshness,
    JobHealth,
    JobRun,
    LakeHealth,
    QuarantineCount,
    StreamHealth,
    TableRate,
    TableRows,
    Thresholds,
)
from condolake.source.replication import SlotHealth

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
THRESHOLDS = Thresholds(freshness_sla_s=3600.0, batch_late_s=7200.0, quarantine_rate_max=0.05,
                        duplicate_rate_max=0.1, stream_lag_max=100, stream_stale_s=300.0)


def sample_health() -> LakeHealth:
    batch = JobHealth(
        job="batch",
        last=JobRun("batch", "batch-2", "succeeded", NOW - 600, NOW - 480, 120.0, 1010, 950, 50,
                    10, None, (
                        TableRows("transacoes_por_condominio", "gold", 3, 3, 0, 0),
                        TableRows("imoveis", "silver", 10, 10, 0, 0),
                        TableRows("transacoes", "silver", 1000, 940, 50, 10),
                    )),
        last_success_at=NOW - 480, runs={"failed": 1, "succeeded": 2})
    transform = JobHealth(
        job="transform",
        last=JobRun("transform", "transform-1", "failed", NOW - 60, NOW - 30, 30.0, 0, 0, 0, 0,
                    "transform failed: boom\nNothing was changed", ()),
        last_success_at=None, runs={"failed": 1})
    return LakeHealth(
        collected_at=NOW, lake="/lake", thresholds=THRESHOLDS, jobs=(batch, transform),
        rates=(TableRate("imoveis", "batch-2", "batch", 10, 0, 0),
               TableRate("transacoes", "batch-2", "batch", 1000, 50, 10)),
        quarantine=(QuarantineCount("imoveis", 0, 2), QuarantineCount("transacoes", 50, 75)),
        checks=(DqCheck("freshness", "transacoes_por_condominio", "passed", 480.0, 3600.0, 0,
                        NOW - 100, "check-1", None),
                DqCheck("reconciliation", "transacoes", "failed", 7.0, 0.0, 7, NOW - 100,
                        "check-1", "source 1007 rows, lake 1000")),
        gold=(GoldFreshness("transacoes_por_condominio", 4, NOW - 480.5),
              GoldFreshness("transacoes_por_morador", 2, NOW - 7200.0)),
        streams=(StreamHealth("kafka", "running", 12, NOW - 2, 150.5, 300.25, 1.5, 42),
                 StreamHealth("landing", "never run", None, None, None, None, None,
                              None)),
        stream_process_alive=True,
        slots=(SlotHealth("condolake", True, "reserved", 2_147_483_648, 1024),
               SlotHealth("lost_one", False, "lost", None, None)),
        absent=("quarantine/condominios",),
        errors={"kafka": ("Kafka end offsets unavailable: timed out",)},
    )
