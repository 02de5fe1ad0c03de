"""Data-quality results: the checks of `ops/dq_results`, computed from counts (pure).

Two kinds of rows, one per check per run:

* `row_rule`: one per (validation rule, table) of an ingest run. `failures` is how many of the
  run's records that rule rejected (a record failing two rules counts in both). Rules that
  rejected nothing are written too, as `passed`, so every rule of every run is visible.
* `table`: the table-level checks of `condolake check` -- `reconciliation` (source rows
  against the lake), `freshness` (per gold table), `quarantine_rate` and `duplicate_rate`
  (per source table, from its last ingest run), and `gold_totals` (table `gold`): the three
  marts' totals of `quantidade_transacoes` and of `valor_total` are equal, since each counts
  every valid transaction exactly once.
* `schema_drift`: written by the `kafka` stream for a table whose change events carry
  columns the lake does not declare (`failed`, the columns in `detail`), and once more,
  `passed`, when its events no longer do (streaming/drift.py).

Reconciliation, exactly. For each source table:

    source rows == silver rows + open quarantined keys

*Open quarantined keys* are the source rows that are invalid now: the distinct primary keys
of quarantine records that are still open (`_resolved_run_id` IS NULL: not re-processed,
superseded or deleted since), that came from the PostgreSQL source or its change stream
(`_source` in `postgres`, `kafka`; a bad CSV line is not a row of the database), whose key
parses as an integer, and whose key has no row in silver. Distinct keys, because quarantine
is merged by record fingerprint (ADR 0005): a key whose bad content changed twice has two
open records but is one source row. Keys with a silver row are left out, because a row that
was valid and later turned invalid at the source keeps its (older) silver row: it is one
source row, counted once. So the right-hand side is the number of source keys the lake
accounts for, and the difference is rows deleted from or added to the source since the last
load (or a loss in the lake).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

ROW_RULE = "row_rule"
TABLE = "table"
PASSED = "passed"
FAILED = "failed"
RECONCILIATION = "reconciliation"
FRESHNESS = "freshness"
QUARANTINE_RATE = "quarantine_rate"
DUPLICATE_RATE = "duplicate_rate"
GOLD_TOTALS = "gold_totals"
GOLD = "gold"  # the `table` of the gold_totals check: all the marts
SCHEMA_DRIFT = "schema_drift"
DRIFT_DETAIL_PREFIX = "new columns: "
DRIFT_DETAIL_SEPARATOR = "; "
# Jobs whose per-table counts are "an ingest run" for the rate checks (streams' micro-batches
# are too small for a rate to mean anything).
INGEST_JOBS = frozenset({"batch", "ingest_postgres", "ingest_csv", "ingest_api"})
PERCENT = 100


@dataclass(frozen=True)
class CheckResult:
    """One row of ops/dq_results, without the run's columns (run_id, job, checked_at)."""

    kind: str
    check: str
    table: str
    status: str
    observed: float | None
    threshold: float | None
    failures: int
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def as_row(self, run_id: str, job: str, checked_at: dt.datetime) -> tuple[object, ...]:
        """The row in DQ_RESULTS_SCHEMA's column order."""
        return (run_id, job, checked_at, self.kind, self.check, self.table, self.status,
                self.observed, self.threshold, self.failures, self.detail)


@dataclass(frozen=True)
class IngestCounts:
    """A table's counts in one ingest run (a row of ops/run_tables of a succeeded run)."""

    table: str
    run_id: str
    started_at: dt.datetime
    rows_read: int
    rows_quarantined: int
    rows_duplicate: int


def _status(ok: bool) -> str:
    return PASSED if ok else FAILED


# --- row rules --------------------------------------------------------------------------------


def count_rule_failures(groups: Iterable[tuple[Sequence[str] | None, int]]) -> dict[str, int]:
    """Failures per rule from (rules a group of records failed, how many records) pairs.

    A record failing two rules counts for both; groups without reasons (valid records) add
    nothing.
    """
    failures: dict[str, int] = {}
    for reasons, records in groups:
        for reason in set(reasons or ()):
            failures[reason] = failures.get(reason, 0) + records
    return failures


def add_failures(total: dict[str, int], more: Mapping[str, int]) -> None:
    for rule, records in more.items():
        total[rule] = total.get(rule, 0) + records


def row_rule_results(table: str, rules: Iterable[str],
                     failures: Mapping[str, int]) -> list[CheckResult]:
    """One result per rule of `table` (declared order), then any other reason seen (sorted,
    e.g. a malformed CSV line's), each `failed` when it rejected at least one record."""
    declared = list(rules)
    others = sorted(set(failures) - set(declared))
    results = []
    for rule in declared + others:
        rejected = int(failures.get(rule, 0))
        results.append(CheckResult(
            kind=ROW_RULE, check=rule, table=table, status=_status(rejected == 0),
            observed=float(rejected), threshold=0.0, failures=rejected,
            detail=f"{rejected:,} records rejected by {rule}",
        ))
    return results


# --- table checks ----------------------------------------------------------------------------


def reconciliation(table: str, source_rows: int, silver_rows: int,
                   open_quarantined_keys: int) -> CheckResult:
    """Source rows against silver + open quarantined keys (see the module docstring)."""
    in_lake = silver_rows + open_quarantined_keys
    difference = source_rows - in_lake
    where = ("" if difference == 0 else
             f": {difference:,} source rows not in the lake" if difference > 0 else
             f": {-difference:,} lake rows no longer in the source")
    return CheckResult(
        kind=TABLE, check=RECONCILIATION, table=table, status=_status(difference == 0),
        observed=float(abs(difference)), threshold=0.0, failures=abs(difference),
        detail=(f"source {source_rows:,} rows; lake {in_lake:,} (silver {silver_rows:,} + "
                f"open quarantine {open_quarantined_keys:,}){where}"),
    )


def schema_drift(table: str, columns: Sequence[str], events: int) -> CheckResult:
    """Change events of `table` carried `columns` that the lake does not declare (none:
    passed). The raw events are in bronze/kafka_events; silver keeps its columns."""
    if not columns:
        return CheckResult(kind=TABLE, check=SCHEMA_DRIFT, table=table, status=PASSED,
                           observed=0.0, threshold=0.0, failures=0,
                           detail="the change events carry the declared columns only")
    return CheckResult(
        kind=TABLE, check=SCHEMA_DRIFT, table=table, status=FAILED,
        observed=float(len(columns)), threshold=0.0, failures=events,
        detail=(f"{DRIFT_DETAIL_PREFIX}{', '.join(columns)}{DRIFT_DETAIL_SEPARATOR}"
                f"in {events:,} change events, kept in bronze/kafka_events and not in silver "
                "(docs/streaming.md#schema-drift)"),
    )


def drift_columns(detail: str | None) -> list[str]:
    """The column names of a failed `schema_drift` result's detail (empty for others)."""
    if not detail or not detail.startswith(DRIFT_DETAIL_PREFIX):
        return []
    names = detail[len(DRIFT_DETAIL_PREFIX):].split(DRIFT_DETAIL_SEPARATOR, 1)[0]
    return [name for name in names.split(", ") if name]


def reconciliation_unavailable(table: str, reason: str) -> CheckResult:
    """Reconciliation could not run (no source configured or reachable): a failed check."""
    return CheckResult(kind=TABLE, check=RECONCILIATION, table=table, status=FAILED,
                       observed=None, threshold=0.0, failures=0,
                       detail=f"source not available: {reason}")


def freshness(table: str, age_s: float | None, sla_s: float) -> CheckResult:
    """Age of the gold table's latest commit against the SLA; a missing table fails."""
    if age_s is None:
        return CheckResult(kind=TABLE, check=FRESHNESS, table=table, status=FAILED,
                           observed=None, threshold=sla_s, failures=0,
                           detail="no gold table yet (run `condolake batch`)")
    fresh = age_s <= sla_s
    return CheckResult(
        kind=TABLE, check=FRESHNESS, table=table, status=_status(fresh), observed=age_s,
        threshold=sla_s, failures=0 if fresh else 1,
        detail=f"last commit {age_s:,.0f} s ago (SLA {sla_s:,.0f} s)",
    )


def gold_totals(totals: Mapping[str, tuple[int, Decimal] | None]) -> CheckResult:
    """The marts' (transactions, value) totals agree. `totals` maps each mart to its sums, or
    None when the table does not exist; the detail gives every figure."""
    figures = "; ".join(f"{name} " + ("missing" if sums is None else
                                      f"{sums[0]:,} transactions, {sums[1]:,} total")
                        for name, sums in totals.items())
    present = {sums for sums in totals.values() if sums is not None}
    agree = len(present) == 1 and None not in totals.values()
    counts = [count for count, _ in present]
    spread = max(counts) - min(counts) if counts else 0
    return CheckResult(
        kind=TABLE, check=GOLD_TOTALS, table=GOLD, status=_status(agree),
        observed=float(spread), threshold=0.0, failures=0 if agree else len(totals),
        detail=("the marts agree: " if agree else "the marts disagree: ") + figures,
    )


def rate(check: str, table: str, counts: IngestCounts | None, max_rate: float) -> CheckResult:
    """`quarantine_rate` or `duplicate_rate` of the table's last ingest run."""
    if counts is None:
        return CheckResult(kind=TABLE, check=check, table=table, status=FAILED, observed=None,
                           threshold=max_rate, failures=0, detail="no ingest run recorded")
    rows = counts.rows_quarantined if check == QUARANTINE_RATE else counts.rows_duplicate
    observed = rows / counts.rows_read if counts.rows_read else 0.0
    what = "quarantined" if check == QUARANTINE_RATE else "duplicate"
    return CheckResult(
        kind=TABLE, check=check, table=table, status=_status(observed <= max_rate),
        observed=observed, threshold=max_rate, failures=rows,
        detail=(f"{rows:,} of {counts.rows_read:,} rows {what} ({observed * PERCENT:.2f} %, "
                f"max {max_rate * PERCENT:.2f} %) in run {counts.run_id}"),
    )


def last_ingest(rows: Iterable[IngestCounts]) -> dict[str, IngestCounts]:
    """Per table, the counts of its latest ingest run (ties: the higher run id)."""
    latest: dict[str, IngestCounts] = {}
    for row in rows:
        held = latest.get(row.table)
        if held is None or (row.started_at, row.run_id) > (held.started_at, held.run_id):
            latest[row.table] = row
    return latest


def rate_results(tables: Sequence[str], ingests: Mapping[str, IngestCounts],
                 quarantine_max: float, duplicate_max: float) -> list[CheckResult]:
    return [
        *(rate(QUARANTINE_RATE, t, ingests.get(t), quarantine_max) for t in tables),
        *(rate(DUPLICATE_RATE, t, ingests.get(t), duplicate_max) for t in tables),
    ]


# --- reporting -------------------------------------------------------------------------------


def failed_names(results: Iterable[CheckResult]) -> list[str]:
    """`check(table)` of every failed result, in order."""
    return [f"{r.check}({r.table})" for r in results if r.failed]


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}"


def render_table(results: Sequence[CheckResult]) -> str:
    """A plain-text table: check, table, status, observed, threshold, detail."""
    header = ("check", "table", "status", "observed", "threshold", "detail")
    body = [(r.check, r.table, r.status, _number(r.observed), _number(r.threshold), r.detail)
            for r in results]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *body]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def as_json(results: Sequence[CheckResult]) -> list[dict[str, object]]:
    return [
        {"kind": r.kind, "check": r.check, "table": r.table, "status": r.status,
         "observed": r.observed, "threshold": r.threshold, "failures": r.failures,
         "detail": r.detail}
        for r in results
    ]
