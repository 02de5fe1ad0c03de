"""Direct publishing, a test tool: the simulator's changes as the Debezium PostgreSQL connector
would publish them (see `debezium`), without a connector, with Kafka-level chaos (malformed
records, duplicates, late and out-of-order events) that no real connector produces but other
producers on a shared topic might.

An event's `source.lsn` is the WAL insert position read at the end of its transaction, minus
the changes that follow it in the transaction: each change writes at least one WAL byte, so
the numbers are strictly increasing across changes, statements and transactions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from condolake.errors import InputError
from condolake.source.debezium import change_event, event_key, tombstone, topic_name
from condolake.source.event_sink import EventSink
from condolake.source.simulator_plan import DUPLICATE, LATE, MALFORMED, OUT_OF_ORDER, Step
from condolake.source.simulator_rows import Change, malformed_value
from condolake.source.tables import SOURCE_TABLES, TRANSACOES

Record = tuple[str, bytes, bytes | None]  # topic, key, value (None: a tombstone)
MS_PER_S = 1000


@dataclass(frozen=True)
class Publishing:
    """Where and how the simulator publishes when it publishes directly: `chaos_share` of the
    steps are chaos injections (see `simulator_plan.CHAOS_KINDS`)."""

    sink: EventSink
    prefix: str
    chaos_share: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.chaos_share <= 1.0:
            raise InputError(f"chaos share must be between 0 and 1, got {self.chaos_share}")


@dataclass(frozen=True)
class Commit:
    """What one database transaction of the simulator committed."""

    changes: list[Change]
    first_lsn: int
    tx_id: int
    commit_ms: int


def source_topics(prefix: str) -> list[str]:
    """The topics of the four source tables."""
    return [topic_name(prefix, table.name) for table in SOURCE_TABLES]


class EventMaker:
    """The records of the simulator's transactions, in publish order."""

    def __init__(self, prefix: str, database: str) -> None:
        self._prefix = prefix
        self._database = database

    def records(self, steps: list[Step], commit: Commit, last_transacao_id: int) -> list[Record]:
        """Commit order, except the chaos records: the copies and malformed ones come after
        the transaction's own, and an out-of-order "c" after its "u"."""
        published: list[Record] = []
        created: dict[int, Record] = {}  # "c" records of new transacoes, for chaos copies
        for index, change in enumerate(commit.changes):
            record = self._event(change, commit.first_lsn + index, commit)
            step = change.step
            if step is not None and step.ordinal is not None and change.op == "c" and \
                    change.table is TRANSACOES:
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
                published.append(self._malformed(step, last_transacao_id))
        return published

    def _event(self, change: Change, lsn: int, commit: Commit) -> Record:
        key, value = change_event(
            change.table, change.op, change.before, change.after, prefix=self._prefix,
            database=self._database, lsn=lsn, tx_id=commit.tx_id, commit_ms=commit.commit_ms,
            produced_ms=now_ms(),
        )
        return topic_name(self._prefix, change.table.name), key, value

    def _malformed(self, step: Step, transacao_id: int) -> Record:
        """Keyed like the transacao created last, so it lands among real events."""
        return (topic_name(self._prefix, TRANSACOES.name), event_key(TRANSACOES, transacao_id),
                malformed_value(step.variant, transacao_id))


def now_ms() -> int:
    return int(time.time() * MS_PER_S)
