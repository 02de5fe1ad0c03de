"""The live event producer: changes the PostgreSQL source and publishes each change as the
Debezium PostgreSQL connector would (see `debezium`), so a real connector can replace it.

Every tick (about 100 ms) takes the events a token bucket allows, writes them in one
transaction (multi-row statements), commits, and only then publishes their change events, in
commit order. An event's `source.lsn` is the WAL insert position read at the end of the tick's
transaction, minus the changes that follow it in the tick: each change writes at least one WAL
byte, so the numbers are strictly increasing across changes, statements and ticks.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from condolake.errors import InputError
from condolake.services.stop_signals import stop_requests
from condolake.source import simulator_db as db
from condolake.source.debezium import change_event, event_key, tombstone, topic_name
from condolake.source.event_sink import EventSink
from condolake.source.invalid_rows import TRANSACAO_KINDS
from condolake.source.simulator_plan import (
    CHAOS_KINDS,
    DELETE,
    DUPLICATE,
    LATE,
    MALFORMED,
    NEW_IMOVEL,
    NEW_MORADOR,
    OUT_OF_ORDER,
    Planner,
    Step,
    token_bucket,
)
from condolake.source.simulator_rows import Row, RowMaker, is_valid_transacao, malformed_value
from condolake.source.tables import IMOVEIS, MORADORES, SOURCE_TABLES, TRANSACOES, SourceTable

log = logging.getLogger(__name__)
Record = tuple[str, bytes, bytes | None]  # topic, key, value (None: a tombstone)

TICK_S = 0.1
MAX_BURST_S = 0.3  # behind schedule, a tick catches up with at most this much time
PROGRESS_EVERY_S = 5.0
MS_PER_S = 1000
OPS = ("c", "u", "d")


def _zero_changes() -> dict[str, dict[str, int]]:
    return {table.name: dict.fromkeys(OPS, 0) for table in SOURCE_TABLES}


@dataclass
class SimulationStats:
    """What a run did. `events` counts steps of the mix (a change or a chaos injection);
    `changes` the change events per table and op (chaos rows included, copies not)."""

    events: int = 0
    changes: dict[str, dict[str, int]] = field(default_factory=_zero_changes)
    chaos: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHAOS_KINDS, 0))
    invalid_rules: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TRANSACAO_KINDS, 0))
    published: int = 0  # Kafka records, tombstones and chaos records included
    tombstones: int = 0
    first_lsn: int | None = None
    last_lsn: int | None = None
    valid_transacao_ids: set[int] = field(default_factory=set)  # created here, still valid
    deleted_transacao_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["valid_transacao_ids"] = sorted(self.valid_transacao_ids)
        data["deleted_transacao_ids"] = sorted(self.deleted_transacao_ids)
        return data

    def summary(self) -> list[str]:
        rate = self.events / self.seconds if self.seconds else 0.0
        changed = ", ".join(
            f"{table} " + "/".join(f"{ops[op]:,}{op}" for op in OPS)
            for table, ops in self.changes.items() if any(ops.values())
        )
        chaos = ", ".join(f"{kind} {count:,}" for kind, count in self.chaos.items() if count)
        return [
            f"{self.events:,} events in {self.seconds:.1f} s ({rate:,.0f}/s); "
            f"{self.published:,} records published ({self.tombstones:,} tombstones)",
            f"changes: {changed or 'none'}",
            f"chaos: {chaos or 'none'}",
            f"lsn {self.first_lsn} .. {self.last_lsn}; "
            f"{len(self.valid_transacao_ids):,} valid transacoes created and kept",
        ]


@dataclass(frozen=True)
class Change:
    """One row change of a tick, and the step it carries out."""

    table: SourceTable
    op: str
    before: Row | None
    after: Row | None
    step: Step | None = None


def source_topics(prefix: str) -> list[str]:
    """The topics of the four source tables."""
    return [topic_name(prefix, table.name) for table in SOURCE_TABLES]


def require_source(conn: db.Connection) -> None:
    """Fail with a clear message unless the source has valid moradores and imoveis."""
    db.load_pools(conn, date.today())


class Simulator:
    """Changes the source through `conn` (no transaction in progress) and publishes to `sink`."""

    def __init__(
        self,
        conn: db.Connection,
        sink: EventSink,
        *,
        prefix: str,
        seed: int = 7,
        chaos_share: float = 0.0,
        today: date | None = None,
    ) -> None:
        if not 0.0 <= chaos_share <= 1.0:
            raise InputError(f"chaos share must be between 0 and 1, got {chaos_share}")
        db.require_idle(conn)
        self._conn = conn
        self._sink = sink
        self._prefix = prefix
        self._today = today or date.today()
        self._pools = db.load_pools(conn, self._today)
        self._database = db.current_database(conn)
        self._planner = Planner(seed, chaos_share)
        self._rows = RowMaker(seed, self._today, self._pools)
        self._ids: list[int] = []  # transacao_id of each ordinal
        self.stats = SimulationStats()

    def run(
        self,
        rate: float,
        *,
        duration_s: float | None = None,
        events: int | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> SimulationStats:
        """`rate` events per second until `duration_s` passed, `events` were done or `stop()`
        says so (without either limit: until `stop()`); then wait for every record's delivery."""
        _check_limits(rate, duration_s, events)
        bucket = token_bucket(rate, TICK_S, MAX_BURST_S)
        started = time.monotonic()
        next_tick = next_report = started
        target = None if events is None else self.stats.events + events
        while not _done(started, duration_s, target, self.stats.events, stop):
            count = bucket.take(time.monotonic())
            if target is not None:
                count = min(count, target - self.stats.events)
            if count:
                self._tick(count)
            now = time.monotonic()
            if now >= next_report + PROGRESS_EVERY_S:
                next_report = now
                log.info(f"{self.stats.events:,} events, {self.stats.published:,} records "
                         f"({self.stats.events / (now - started):,.0f} events/s)")
            next_tick = max(next_tick + TICK_S, now)
            time.sleep(max(0.0, next_tick - time.monotonic()))
        self._sink.flush()
        self.stats.seconds += time.monotonic() - started
        return self.stats

    def _tick(self, count: int) -> None:
        steps = self._planner.steps(count)
        changes: list[Change] = []
        last_lsn = tx_id = commit_ms = 0
        if any(step.kind != MALFORMED for step in steps):
            with self._conn.transaction():
                changes = self._write(steps)
                last_lsn, tx_id = db.wal_position(self._conn)
            commit_ms = _now_ms()
        first_lsn = last_lsn - len(changes) + 1
        records = self._records(steps, changes, first_lsn, tx_id, commit_ms)
        for topic, key, value in records:
            self._sink.publish(topic, key, value)
        self._account(steps, changes, records, first_lsn)

    def _write(self, steps: list[Step]) -> list[Change]:
        """Parents, then transacoes, then updates, then deletes: one statement each."""
        moradores = db.insert_rows(self._conn, MORADORES,
                                   [self._rows.morador() for s in steps if s.kind == NEW_MORADOR])
        imoveis = db.insert_rows(self._conn, IMOVEIS,
                                 [self._rows.imovel() for s in steps if s.kind == NEW_IMOVEL])
        inserted = self._insert_transacoes(steps, iter(moradores), iter(imoveis))
        changes = [Change(MORADORES, "c", None, row) for row in moradores]
        changes += [Change(IMOVEIS, "c", None, row) for row in imoveis]
        changes += [Change(TRANSACOES, "c", None, row, step) for step, row in inserted]
        changes += self._update_transacoes(steps, {row["transacao_id"]: row for _, row in inserted})
        changes += self._delete_transacoes(steps)
        return changes

    def _insert_transacoes(
        self, steps: list[Step], moradores: Iterator[Row], imoveis: Iterator[Row]
    ) -> list[tuple[Step, Row]]:
        """New parents join the pools at their place in the plan, so later steps may use them."""
        creating: list[Step] = []
        values: list[Row] = []
        for step in steps:
            if step.kind == NEW_MORADOR:
                self._pools.add_morador(next(moradores))
            elif step.kind == NEW_IMOVEL:
                self._pools.add_imovel(next(imoveis))
            elif step.creates_transacao:
                creating.append(step)
                values.append(self._rows.transacao(step.rule))
        stored = db.insert_rows(self._conn, TRANSACOES, values)
        for step, row in zip(creating, stored, strict=True):
            if step.ordinal != len(self._ids):
                raise RuntimeError(f"simulator bug: ordinal {step.ordinal} out of sequence")
            self._ids.append(int(row["transacao_id"]))
        return list(zip(creating, stored, strict=True))

    def _update_transacoes(self, steps: list[Step], current: dict[int, Row]) -> list[Change]:
        updating = [step for step in steps if step.updates_transacao]
        earlier = [self._id(step) for step in updating if self._id(step) not in current]
        current.update(db.lock_transacoes(self._conn, earlier))
        befores: list[Row] = []
        amounts = []
        for step in updating:
            before = current[self._id(step)]
            amount = self._rows.changed_amount(before)
            current[self._id(step)] = {**before, "valor_transacao": amount}
            befores.append(before)
            amounts.append((self._id(step), amount))
        afters = db.update_amounts(self._conn, amounts)
        return [Change(TRANSACOES, "u", before, after, step)
                for step, before, after in zip(updating, befores, afters, strict=True)]

    def _delete_transacoes(self, steps: list[Step]) -> list[Change]:
        deleting = [step for step in steps if step.kind == DELETE]
        deleted = db.delete_transacoes(self._conn, [self._id(step) for step in deleting])
        return [Change(TRANSACOES, "d", row, None, step)
                for step, row in zip(deleting, deleted, strict=True)]

    def _records(
        self, steps: list[Step], changes: list[Change], first_lsn: int, tx_id: int,
        commit_ms: int,
    ) -> list[Record]:
        """The tick's records in publish order: commit order, except the chaos ones."""
        published: list[Record] = []
        created: dict[int, Record] = {}  # "c" records of new transacoes, for chaos copies
        for index, change in enumerate(changes):
            record = self._event(change, first_lsn + index, tx_id, commit_ms)
            step = change.step
            if step is not None and step.ordinal is not None and change.op == "c":
                created[step.ordinal] = record
                if step.kind == OUT_OF_ORDER:
                    continue  # held back until after its own update
            published.append(record)
            if step is not None and step.kind == OUT_OF_ORDER and change.op == "u":
                published.append(created[step.transacao])
            if change.op == "d" and change.before is not None:
                key, value = tombstone(change.table, change.before[change.table.primary_key])
                published.append((record[0], key, value))
        for step in steps:
            if step.kind in (DUPLICATE, LATE):
                published.append(created[step.transacao])
            elif step.kind == MALFORMED:
                published.append(self._malformed(step))
        return published

    def _event(self, change: Change, lsn: int, tx_id: int, commit_ms: int) -> Record:
        key, value = change_event(
            change.table, change.op, change.before, change.after, prefix=self._prefix,
            database=self._database, lsn=lsn, tx_id=tx_id, commit_ms=commit_ms,
            produced_ms=_now_ms(),
        )
        return topic_name(self._prefix, change.table.name), key, value

    def _malformed(self, step: Step) -> Record:
        """Keyed like the transacao created last, so it lands among real events."""
        transacao_id = self._ids[-1] if self._ids else 0
        return (topic_name(self._prefix, TRANSACOES.name), event_key(TRANSACOES, transacao_id),
                malformed_value(step.variant, transacao_id))

    def _account(
        self, steps: list[Step], changes: list[Change], records: list[Record], first_lsn: int
    ) -> None:
        stats = self.stats
        stats.events += len(steps)
        stats.published += len(records)
        stats.tombstones += sum(1 for _, _, value in records if value is None)
        for step in steps:
            if step.kind in stats.chaos:
                stats.chaos[step.kind] += 1
            if step.rule is not None:
                stats.invalid_rules[step.rule] += 1
        if changes:
            stats.first_lsn = first_lsn if stats.first_lsn is None else stats.first_lsn
            stats.last_lsn = first_lsn + len(changes) - 1
        for change in changes:
            stats.changes[change.table.name][change.op] += 1
            if change.table is TRANSACOES:
                self._track_validity(change)

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

    def _id(self, step: Step) -> int:
        return self._ids[step.transacao]


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Within the block, Ctrl-C only asks to stop: the tick in progress is committed and
    published and the producer flushed, so no committed change goes unpublished."""
    with stop_requests((signal.SIGINT,)) as requested:
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


def _now_ms() -> int:
    return int(time.time() * MS_PER_S)
