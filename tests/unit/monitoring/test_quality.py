"""The data-quality checks from counts: statuses, observed values, thresholds, details."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from condolake import catalog
from condolake.monitoring import quality
from condolake.monitoring.quality import CheckResult, IngestCounts

T0 = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)


def ingest(table: str, run_id: str, minutes: int, read: int, quarantined: int,
           duplicate: int) -> IngestCounts:
    return IngestCounts(table, run_id, T0 + dt.timedelta(minutes=minutes), read, quarantined,
                        duplicate)


def test_rule_failures_count_a_record_in_every_rule_it_fails() -> None:
    groups = [(None, 900), (["nome_blank"], 3), (["nome_blank", "orphan_condominio"], 2),
              (["orphan_condominio"], 5), ([], 7)]
    assert quality.count_rule_failures(groups) == {"nome_blank": 5, "orphan_condominio": 7}


def test_add_failures_sums_per_rule() -> None:
    total = {"a": 1}
    quality.add_failures(total, {"a": 2, "b": 3})
    assert total == {"a": 3, "b": 3}


def test_row_rules_cover_every_declared_rule_then_other_reasons() -> None:
    results = quality.row_rule_results(
        "condominios", ["nome_missing", "nome_blank"], {"nome_blank": 4, "malformed_line": 1})
    assert results == [
        CheckResult("row_rule", "nome_missing", "condominios", "passed", 0.0, 0.0, 0,
                    "0 records rejected by nome_missing"),
        CheckResult("row_rule", "nome_blank", "condominios", "failed", 4.0, 0.0, 4,
                    "4 records rejected by nome_blank"),
        CheckResult("row_rule", "malformed_line", "condominios", "failed", 1.0, 0.0, 1,
                    "1 records rejected by malformed_line"),
    ]


def test_reconciliation_passes_when_every_source_row_is_accounted_for() -> None:
    result = quality.reconciliation("moradores", 200, 190, 10)
    assert result == CheckResult(
        "table", "reconciliation", "moradores", "passed", 0.0, 0.0, 0,
        "source 200 rows; lake 200 (silver 190 + open quarantine 10)")


def test_reconciliation_reports_rows_missing_from_the_lake() -> None:
    result = quality.reconciliation("transacoes", 10_005, 9_990, 10)
    assert (result.status, result.observed, result.failures) == ("failed", 5.0, 5)
    assert result.detail == ("source 10,005 rows; lake 10,000 (silver 9,990 + open quarantine "
                             "10): 5 source rows not in the lake")


def test_reconciliation_reports_lake_rows_deleted_at_the_source() -> None:
    result = quality.reconciliation("transacoes", 9_997, 9_990, 10)
    assert (result.status, result.observed, result.failures) == ("failed", 3.0, 3)
    assert result.detail.endswith(": 3 lake rows no longer in the source")


def test_unavailable_source_is_a_failed_reconciliation() -> None:
    result = quality.reconciliation_unavailable("imoveis", "connection refused")
    assert result == CheckResult("table", "reconciliation", "imoveis", "failed", None, 0.0, 0,
                                 "source not available: connection refused")


def test_gold_totals_pass_when_the_three_marts_agree() -> None:
    same = (1_204, Decimal("98765.43"))
    result = quality.gold_totals({"por_condominio": same, "por_morador": same, "diarias": same})
    assert result == CheckResult(
        "table", "gold_totals", "gold", "passed", 0.0, 0.0, 0,
        "the marts agree: por_condominio 1,204 transactions, 98,765.43 total; por_morador "
        "1,204 transactions, 98,765.43 total; diarias 1,204 transactions, 98,765.43 total")


def test_gold_totals_fail_on_a_cent_or_a_missing_mart() -> None:
    cent = quality.gold_totals({"a": (10, Decimal("5.00")), "b": (10, Decimal("5.01")),
                                "c": (10, Decimal("5.00"))})
    assert (cent.status, cent.observed, cent.failures) == ("failed", 0.0, 3)
    assert cent.detail == ("the marts disagree: a 10 transactions, 5.00 total; "
                           "b 10 transactions, 5.01 total; c 10 transactions, 5.00 total")
    stale = quality.gold_totals({"a": (212, Decimal("1.00")), "b": (129, Decimal("1.00")),
                                 "c": (212, Decimal("1.00"))})
    assert (stale.status, stale.observed) == ("failed", 83.0)
    missing = quality.gold_totals({"a": (1, Decimal("1.00")), "b": None})
    assert missing.status == "failed"
    assert missing.detail == "the marts disagree: a 1 transactions, 1.00 total; b missing"


def test_freshness_against_the_sla() -> None:
    assert quality.freshness("g", 3_600.0, 93_600.0) == CheckResult(
        "table", "freshness", "g", "passed", 3_600.0, 93_600.0, 0,
        "last commit 3,600 s ago (SLA 93,600 s)")
    assert quality.freshness("g", 93_600.0, 93_600.0).status == "passed"
    late = quality.freshness("g", 93_601.0, 93_600.0)
    assert (late.status, late.failures) == ("failed", 1)
    missing = quality.freshness("g", None, 93_600.0)
    assert (missing.status, missing.observed, missing.detail) == (
        "failed", None, "no gold table yet (run `condolake batch`)")


def test_rates_of_the_last_ingest_run() -> None:
    counts = ingest("moradores", "batch-2", 5, 400, 21, 0)
    high = quality.rate("quarantine_rate", "moradores", counts, 0.05)
    assert high == CheckResult(
        "table", "quarantine_rate", "moradores", "failed", 0.0525, 0.05, 21,
        "21 of 400 rows quarantined (5.25 %, max 5.00 %) in run batch-2")
    at_max = quality.rate("quarantine_rate", "moradores", ingest("m", "r", 0, 400, 20, 0), 0.05)
    assert (at_max.status, at_max.observed) == ("passed", 0.05)
    dup = quality.rate("duplicate_rate", "moradores", counts, 0.05)
    assert (dup.status, dup.observed, dup.failures) == ("passed", 0.0, 0)
    empty = quality.rate("duplicate_rate", "t", ingest("t", "r", 0, 0, 0, 0), 0.05)
    assert (empty.status, empty.observed) == ("passed", 0.0)
    none = quality.rate("quarantine_rate", "t", None, 0.05)
    assert (none.status, none.observed, none.detail) == ("failed", None,
                                                         "no ingest run recorded")


def test_last_ingest_picks_the_latest_run_per_table() -> None:
    rows = [ingest("a", "r1", 0, 10, 1, 0), ingest("a", "r3", 9, 20, 2, 0),
            ingest("b", "r2", 5, 30, 3, 0), ingest("a", "r2", 5, 40, 4, 0)]
    latest = quality.last_ingest(rows)
    assert {table: counts.run_id for table, counts in latest.items()} == {"a": "r3", "b": "r2"}


def test_rate_results_one_per_table_and_check() -> None:
    results = quality.rate_results(["a", "b"], {"a": ingest("a", "r", 0, 10, 1, 2)}, 0.5, 0.1)
    assert [(r.check, r.table, r.status) for r in results] == [
        ("quarantine_rate", "a", "passed"), ("quarantine_rate", "b", "failed"),
        ("duplicate_rate", "a", "failed"), ("duplicate_rate", "b", "failed")]


def test_rows_follow_the_ops_schema_and_the_report_names_failures() -> None:
    passed = quality.reconciliation("t", 5, 5, 0)
    failed = quality.freshness("g", None, 10.0)
    assert passed.as_row("check-1", "check", T0) == (
        "check-1", "check", T0, "table", "reconciliation", "t", "passed", 0.0, 0.0, 0,
        "source 5 rows; lake 5 (silver 5 + open quarantine 0)")
    assert len(passed.as_row("r", "j", T0)) == len(catalog.DQ_RESULTS_SCHEMA.fields)
    assert quality.failed_names([passed, failed]) == ["freshness(g)"]
    assert quality.render_table([passed, failed]).splitlines() == [
        "check           table  status  observed  threshold  detail",
        "reconciliation  t      passed  0         0          source 5 rows; lake 5 "
        "(silver 5 + open quarantine 0)",
        "freshness       g      failed  -         10         no gold table yet "
        "(run `condolake batch`)",
    ]
    assert quality.as_json([failed]) == [{
        "kind": "table", "check": "freshness", "table": "g", "status": "failed",
        "observed": None, "threshold": 10.0, "failures": 0,
        "detail": "no gold table yet (run `condolake batch`)"}]
