"""The workload generator: changes the PostgreSQL source as an application would, at a given
rate, and nothing else; change data capture (Debezium) publishes the changes.

Every tick (about 100 ms) takes the events a token bucket allows and writes them in small
database transactions (1..`Mix.max_transaction_steps` steps each, multi-row statements; a
transacao is sometimes updated twice in one). With `Publishing` (a test tool, see
`simulator_publish`) each transaction's change events are also published directly, after its
commit, in commit order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from condolake.errors import InputError
from condolake.services.stop_signals import STOP_SIGNALS, stop_requests
from condolake.source import simulator_db as db
from condolake.source.simulator_plan import (
    DELETE,
    DELETE_IMOVEL,
    DELETE_MORADOR,
    INVALID_IMOVEL,
    INVALID_MORADOR,
    INVALID_ROW,
    INVALID_TABLES,
    MALFORMED,
    NEW_IMOVEL,
    NEW_MORADOR,
    UPDATE_IMOVEL,
    UPDATE_MORADOR,
    UPDATE_TWICE,
    WORKLOAD_MIX,
    Mix,
    Planner,
    Step,
    token_bucket,
)
from condolake.source.simulator_publish import Commit, EventMaker, Publishing, Record, now_ms
from condolake.source.simulator_publish import source_topics as source_topics
from condolake.source.simulator_rows import Change, Row, RowMaker, is_valid_transacao
from condolake.source.simulator_stats import SimulationStats as SimulationStats
from condolake.source.tables import IMOVEIS, MORADORES, TRANSACOES, SourceTable

log = logging.getLogger(__name__)

TICK_S = 0.1
MAX_BURST_S = 0.3  # behind schedule, a tick catches up with at most this much time
PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class ParentSteps:
    """The step kinds that create, break, update and delete rows of a parent table, and the
    column an update changes."""

    table: SourceTable
    new: str
    invalid: str
    update: str
    delete: str
    column: str


PARENTS = (
    ParentSteps(MORADORES, NEW_MORADOR, INVALID_MORADOR, UPDATE_MORADOR, DELETE_MORADOR, "nome"),
    ParentSteps(IMOVEIS, NEW_IMOVEL, INVALID_IMOVEL, UPDATE_IMOVEL, DELETE_IMOVEL, "valor"),
)


def require_source(conn: db.Connection) -> None:
    """Fail with a clear message unless the source has valid moradores and imoveis."""
    db.load_pools(conn, date.today())


class Simulator:
    """Changes the source through `conn` (no transaction in progress): `mix` of changes,
    `invalid_share` of the steps rule-breaking rows; with `publish`, also publishes them."""

    def __init__(
        self,
        conn: db.Connection,
        *,
        seed: int = 7,
        invalid_share: float = 0.0,
        mix: Mix = WORKLOAD_MIX,
        publish: Publishing | None = None,
        today: date | None = None,
    ) -> None:
        if not 0.0 <= invalid_share <= 1.0:
            raise InputError(f"invalid share must be between 0 and 1, got {invalid_share}")
        db.require_idle(conn)
        self._conn = conn
        self._publish = publish
        self._today = today or date.today()
        self._pools = db.load_pools(conn, self._today)
        chaos = 0.0 if publish is None else publish.chaos_share
        self._planner = Planner(seed, chaos, invalid_share=invalid_share, mix=mix)
        self._rows = RowMaker(seed, self._today, self._pools)
        self._events = None if publish is None else EventMaker(publish.prefix,
                                                               db.current_database(conn))
        # The ids of the rows the run created, by ordinal, per table.
        self._ids: dict[str, list[int]] = {MORADORES.name: [], IMOVEIS.name: [],
                                           TRANSACOES.name: []}
        self.stats = SimulationStats(publish=publish is not None)

    def run(
        self,
        rate: float,
        *,
        duration_s: float | None = None,
        events: int | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> SimulationStats:
        """`rate` events per second until `duration_s` passed, `events` were done or `stop()`
        says so (without either limit: until `stop()`); when publishing, then wait for every
        record's delivery."""
        _check_limits(rate, duration_s, events)
        bucket = token_bucket(rate, TICK_S, MAX_BURST_S)
        started = time.monotonic()
        next_tick = next_report = started
        target = None if events is None else self.stats.events + events
        try:
            while not _done(started, duration_s, target, self.stats.events, stop):
                count = bucket.take(time.monotonic())
                if target is not None:
                    count = min(count, target - self.stats.events)
                if count:
                    self._tick(count)
                now = time.monotonic()
                if now >= next_report + PROGRESS_EVERY_S:
                    next_report = now
                    self._progress(now - started)
                next_tick = max(next_tick + TICK_S, now)
                time.sleep(max(0.0, next_tick - time.monotonic()))
            if self._publish is not None:
                self._publish.sink.flush()
        finally:
            self.stats.seconds += time.monotonic() - started
        return self.stats

    def _progress(self, elapsed_s: float) -> None:
        stats = self.stats
        published = f", {stats.published:,} records published" if stats.publish else ""
        log.info(f"{stats.events:,} events in {stats.transactions:,} transactions{published} "
                 f"({stats.events / elapsed_s:,.0f} events/s)")

    def _tick(self, count: int) -> None:
        for steps in self._planner.transactions(self._planner.steps(count)):
            self._transaction(steps)

    def _transaction(self, steps: list[Step]) -> None:
        changes: list[Change] = []
        last_lsn = tx_id = 0
        if any(step.kind != MALFORMED for step in steps):
            with self._conn.transaction():
                changes = self._write(steps)
                if self._publish is not None:
                    last_lsn, tx_id = db.wal_position(self._conn)
            self.stats.transactions += 1
        records: list[Record] = []
        if self._publish is not None and self._events is not None:
            commit = Commit(changes, last_lsn - len(changes) + 1, tx_id, now_ms())
            records = self._events.records(steps, commit, self._last_transacao_id())
            for topic, key, value in records:
                self._publish.sink.publish(topic, key, value)
            self._account_records(records, commit)
        self._account(steps, changes)

    def _write(self, steps: list[Step]) -> list[Change]:
        """Parents, then transacoes, then updates, then deletes: one statement each."""
        created = {parent.table.name: self._insert_parents(parent, steps) for parent in PARENTS}
        inserted = self._insert_transacoes(steps, created)
        changes = [Change(table, "c", None, row, step) for table in (MORADORES, IMOVEIS)
                   for step, row in created[table.name]]
        changes += [Change(TRANSACOES, "c", None, row, step) for step, row in inserted]
        for parent in PARENTS:
            changes += self._update(parent.table, parent.column,
                                    [step for step in steps if step.kind == parent.update], {})
        changes += self._update(TRANSACOES, "valor_transacao",
                                [step for step in steps if step.updates_transacao],
                                {int(row["transacao_id"]): row for _, row in inserted})
        changes += self._delete(TRANSACOES, [step for step in steps if step.kind == DELETE])
        for parent in PARENTS:
            changes += self._delete(parent.table,
                                    [step for step in steps if step.kind == parent.delete])
        return changes

    def _insert_parents(self, parent: ParentSteps, steps: list[Step]) -> list[tuple[Step, Row]]:
        creating = [step for step in steps if step.kind in (parent.new, parent.invalid)]
        make = self._rows.morador if parent.table is MORADORES else self._rows.imovel
        stored = db.insert_rows(self._conn, parent.table, [make(step.rule) for step in creating])
        for step, row in zip(creating, stored, strict=True):
            if step.kind == parent.new:
                self._remember(parent.table, step, row)
        return list(zip(creating, stored, strict=True))

    def _insert_transacoes(
        self, steps: list[Step], parents: dict[str, list[tuple[Step, Row]]]
    ) -> list[tuple[Step, Row]]:
        """Kept new parents join the pools at their place in the plan, so later steps may use
        them (rule-breaking and deletable ones never do)."""
        new_moradores = iter(parents[MORADORES.name])
        new_imoveis = iter(parents[IMOVEIS.name])
        creating: list[Step] = []
        values: list[Row] = []
        for step in steps:
            if step.kind in (NEW_MORADOR, INVALID_MORADOR):
                _, row = next(new_moradores)
                if step.kind == NEW_MORADOR and step.kept:
                    self._pools.add_morador(row)
            elif step.kind in (NEW_IMOVEL, INVALID_IMOVEL):
                _, row = next(new_imoveis)
                if step.kind == NEW_IMOVEL and step.kept:
                    self._pools.add_imovel(row)
            elif step.creates_transacao:
                creating.append(step)
                values.append(self._rows.transacao(step.rule))
        stored = db.insert_rows(self._conn, TRANSACOES, values)
        for step, row in zip(creating, stored, strict=True):
            self._remember(TRANSACOES, step, row)
        return list(zip(creating, stored, strict=True))

    def _remember(self, table: SourceTable, step: Step, row: Row) -> None:
        ids = self._ids[table.name]
        if step.ordinal != len(ids):
            raise RuntimeError(f"simulator bug: {table.name} ordinal {step.ordinal} out of "
                               "sequence")
        ids.append(int(row[table.primary_key]))

    def _update(self, table: SourceTable, column: str, updating: list[Step],
                current: dict[int, Row]) -> list[Change]:
        """Each step's row changed in `column` (twice for UPDATE_TWICE), in step order;
        `current` holds rows this transaction inserted, the others are locked first."""
        targets = [self._id(table, step) for step in updating]
        current.update(db.lock_rows(self._conn, table, [t for t in targets if t not in current]))
        befores: list[Row] = []
        values = []
        done: list[Step] = []
        for step, target in zip(updating, targets, strict=True):
            for _ in range(2 if step.kind == UPDATE_TWICE else 1):
                before = current[target]
                value = self._changed(table, before)
                current[target] = {**before, column: value}
                befores.append(before)
                values.append((target, value))
                done.append(step)
        afters = db.update_column(self._conn, table, column, values)
        return [Change(table, "u", before, after, step)
                for step, before, after in zip(done, befores, afters, strict=True)]

    def _changed(self, table: SourceTable, row: Row) -> object:
        if table is MORADORES:
            return self._rows.changed_nome(row)
        if table is IMOVEIS:
            return self._rows.changed_valor(row)
        return self._rows.changed_amount(row)

    def _delete(self, table: SourceTable, deleting: list[Step]) -> list[Change]:
        deleted = db.delete_rows(self._conn, table, [self._id(table, s) for s in deleting])
        return [Change(table, "d", row, None, step)
                for step, row in zip(deleting, deleted, strict=True)]

    def _account(self, steps: list[Step], changes: list[Change]) -> None:
        stats = self.stats
        stats.events += len(steps)
        for step in steps:
            if step.kind in stats.chaos:
                stats.chaos[step.kind] += 1
            if step.rule is not None:
                table = TRANSACOES.name if step.kind == INVALID_ROW else INVALID_TABLES[step.kind]
                stats.invalid_rows[table][step.rule] += 1
        for change in changes:
            stats.changes[change.table.name][change.op] += 1
            if change.table is TRANSACOES:
                self._track_validity(change)

    def _account_records(self, records: list[Record], commit: Commit) -> None:
        stats = self.stats
        stats.published += len(records)
        stats.tombstones += sum(1 for _, _, value in records if value is None)
        if commit.changes:
            stats.first_lsn = commit.first_lsn if stats.first_lsn is None else stats.first_lsn
            stats.last_lsn = commit.first_lsn + len(commit.changes) - 1

    def _track_validity(self, change: Change) -> None:
        valid = self.stats.valid_transacao_ids
        if change.after is None:
            assert change.before is not None
            valid.discard(int(change.before["transacao_id"]))
            self.stats.deleted_transacao_ids.append(int(change.before["transacao_id"]))
        elif is_valid_transacao(change.after, self._today):
            valid.add(int(change.after["transacao_id"]))
        else:
            valid.discard(int(change.after["transacao_id"]))

    def _id(self, table: SourceTable, step: Step) -> int:
        return self._ids[table.name][step.transacao]

    def _last_transacao_id(self) -> int:
        ids = self._ids[TRANSACOES.name]
        return ids[-1] if ids else 0


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Within the block, Ctrl-C or SIGTERM only asks to stop: the tick in progress is committed
    (and, when publishing, published and the producer flushed), so no change is half done."""
    with stop_requests(STOP_SIGNALS) as requested:
        yield requested.is_set


def _check_limits(rate: float, duration_s: float | None, events: int | None) -> None:
    if rate <= 0:
        raise InputError(f"rate must be positive, got {rate}")
    if duration_s is not None and duration_s <= 0:
        raise InputError(f"duration must be positive, got {duration_s}")
    if events is not None and events < 1:
        raise InputError(f"events must be at least 1, got {events}")


def _done(
    started: float, duration_s: float | None, target: int | None, events: int,
    stop: Callable[[], bool] | None,
) -> bool:
    if stop is not None and stop():
        return True
    if target is not None and events >= target:
        return True
    return duration_s is not None and time.monotonic() - started >= duration_s
