"""What a simulator run did, as counts a test or an operator can check against the source and
the lake: changes per table and op, rule-breaking rows per table and rule, and, when it
published directly, the records and chaos it sent."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from condolake.source.invalid_rows import IMOVEL_KINDS, MORADOR_KINDS, TRANSACAO_KINDS
from condolake.source.simulator_plan import CHAOS_KINDS
from condolake.source.tables import SOURCE_TABLES

OPS = ("c", "u", "d")
INVALID_KINDS = {"moradores": MORADOR_KINDS, "imoveis": IMOVEL_KINDS,
                 "transacoes": TRANSACAO_KINDS}


def _zero_changes() -> dict[str, dict[str, int]]:
    return {table.name: dict.fromkeys(OPS, 0) for table in SOURCE_TABLES}


def _zero_invalid() -> dict[str, dict[str, int]]:
    return {table: dict.fromkeys(kinds, 0) for table, kinds in INVALID_KINDS.items()}


@dataclass
class SimulationStats:
    """What a run did. `events` counts steps of the plan (a change, a rule-breaking row or a
    chaos injection); `changes` the row changes per table and op (rule-breaking rows included);
    `invalid_rows` the rule-breaking rows written, per table and rule (the simulator never
    changes them afterwards, nor makes a valid row invalid). `published` and the fields after
    it stay zero unless the run published directly."""

    publish: bool = False
    events: int = 0
    transactions: int = 0  # database transactions committed
    changes: dict[str, dict[str, int]] = field(default_factory=_zero_changes)
    invalid_rows: dict[str, dict[str, int]] = field(default_factory=_zero_invalid)
    chaos: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHAOS_KINDS, 0))
    published: int = 0  # Kafka records, tombstones and chaos records included
    tombstones: int = 0
    first_lsn: int | None = None
    last_lsn: int | None = None
    valid_transacao_ids: set[int] = field(default_factory=set)  # created here, still valid
    deleted_transacao_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def valid_rows_added(self) -> dict[str, int]:
        """How many more rows of each table pass silver's rules than before the run:
        created, minus rule-breaking, minus deleted (only valid rows are deleted)."""
        return {
            table: ops["c"] - sum(self.invalid_rows.get(table, {}).values()) - ops["d"]
            for table, ops in self.changes.items()
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["valid_transacao_ids"] = sorted(self.valid_transacao_ids)
        data["deleted_transacao_ids"] = sorted(self.deleted_transacao_ids)
        data["valid_rows_added"] = self.valid_rows_added()
        return data

    def summary(self) -> list[str]:
        rate = self.events / self.seconds if self.seconds else 0.0
        changed = ", ".join(
            f"{table} " + "/".join(f"{ops[op]:,}{op}" for op in OPS)
            for table, ops in self.changes.items() if any(ops.values())
        )
        invalid = "; ".join(
            f"{table} " + ", ".join(f"{kind} {count:,}" for kind, count in kinds.items() if count)
            for table, kinds in self.invalid_rows.items() if any(kinds.values())
        )
        added = ", ".join(f"{table} {count:+,}" for table, count in self.valid_rows_added().items()
                          if count)
        lines = [
            f"{self.events:,} events in {self.seconds:.1f} s ({rate:,.0f}/s), "
            f"{self.transactions:,} transactions committed",
            f"changes: {changed or 'none'}",
            f"rule-breaking rows: {invalid or 'none'}",
            f"valid rows added: {added or 'none'}",
        ]
        if self.publish:
            chaos = ", ".join(f"{kind} {count:,}" for kind, count in self.chaos.items() if count)
            lines += [
                f"published directly: {self.published:,} records "
                f"({self.tombstones:,} tombstones); chaos: {chaos or 'none'}",
                f"lsn {self.first_lsn} .. {self.last_lsn}; "
                f"{len(self.valid_transacao_ids):,} valid transacoes created and kept",
            ]
        return lines
