"""What the live simulator does next, decided without any I/O: the mix of changes, the chaos
injections and the pace (a token bucket).

A plan is a sequence of steps drawn one at a time from a seeded generator, so the same seed
gives the same steps however they are later grouped into ticks. Transacoes created by the run
are named by their ordinal (0 for the first one the run inserts), since PostgreSQL only assigns
their ids when they are inserted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from condolake.source.invalid_rows import TRANSACAO_KINDS

# The normal mix, as shares of the normal steps; the rest are new transacoes.
NEW_MORADOR_SHARE = 0.005
NEW_IMOVEL_SHARE = 0.005
UPDATE_SHARE = 0.02
DELETE_SHARE = 0.005
# Cumulative thresholds on one uniform draw.
NEW_PARENT_BELOW = NEW_MORADOR_SHARE + NEW_IMOVEL_SHARE
UPDATE_BELOW = NEW_PARENT_BELOW + UPDATE_SHARE
DELETE_BELOW = UPDATE_BELOW + DELETE_SHARE

INSERT = "insert"
NEW_MORADOR = "new_morador"
NEW_IMOVEL = "new_imovel"
UPDATE = "update"
DELETE = "delete"

# Chaos kinds. All but `malformed` create a (valid, except `invalid_row`) transacao of their own,
# so each one can be injected from the very first step.
MALFORMED = "malformed"  # a record that is not a change event, on the transacoes topic
DUPLICATE = "duplicate"  # the "c" event of a new transacao, published twice
LATE = "late"  # a new transacao updated at once; its "c" is published again after the "u"
OUT_OF_ORDER = "out_of_order"  # a new transacao updated at once; the "u" is published first
INVALID_ROW = "invalid_row"  # a new transacao that breaks a validation rule (DDL-legal)
CHAOS_KINDS = (MALFORMED, DUPLICATE, LATE, OUT_OF_ORDER, INVALID_ROW)
CREATING_KINDS = frozenset({INSERT, DUPLICATE, LATE, OUT_OF_ORDER, INVALID_ROW})
UPDATED_AT_ONCE_KINDS = frozenset({LATE, OUT_OF_ORDER})
MALFORMED_VARIANTS = 3


@dataclass(frozen=True)
class Step:
    """One event of the plan.

    `ordinal` is the transacao it creates (insert and chaos kinds) or changes (update, delete);
    `rule` the validation rule an `invalid_row` breaks; `variant` which malformed record.
    """

    kind: str
    ordinal: int | None = None
    rule: str | None = None
    variant: int = 0

    @property
    def transacao(self) -> int:
        """The ordinal of the transacao this step creates or changes."""
        if self.ordinal is None:
            raise ValueError(f"a {self.kind} step has no transacao")
        return self.ordinal

    @property
    def creates_transacao(self) -> bool:
        return self.kind in CREATING_KINDS

    @property
    def updates_transacao(self) -> bool:
        return self.kind == UPDATE or self.kind in UPDATED_AT_ONCE_KINDS


@dataclass
class OrdinalPool:
    """The transacoes that updates and deletes may pick: O(1) add, remove and random choice."""

    items: list[int] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, ordinal: int) -> None:
        self.positions[ordinal] = len(self.items)
        self.items.append(ordinal)

    def choose(self, rng: random.Random) -> int:
        return self.items[rng.randrange(len(self.items))]

    def remove(self, ordinal: int) -> None:
        position = self.positions.pop(ordinal)
        last = self.items.pop()
        if last != ordinal:
            self.items[position] = last
            self.positions[last] = position


class Planner:
    """Draws the steps: `chaos_share` of them chaos injections (the kinds take turns), the
    others the normal mix. Updates and deletes only touch transacoes of the normal mix that
    are still there; when there is none yet, the step inserts one instead."""

    def __init__(self, seed: int, chaos_share: float = 0.0) -> None:
        if not 0.0 <= chaos_share <= 1.0:
            raise ValueError(f"chaos share must be in [0, 1], got {chaos_share}")
        self._rng = random.Random(f"{seed}/simulator/plan")
        self._chaos_share = chaos_share
        self._pool = OrdinalPool()
        self._next_ordinal = 0
        self._chaos_turn = 0
        self._rule_turn = 0
        self._malformed_turn = 0

    def steps(self, count: int) -> list[Step]:
        return [self._step() for _ in range(count)]

    def _step(self) -> Step:
        if self._rng.random() < self._chaos_share:
            return self._chaos_step()
        return self._normal_step(self._rng.random())

    def _normal_step(self, draw: float) -> Step:
        if draw < NEW_MORADOR_SHARE:
            return Step(NEW_MORADOR)
        if draw < NEW_PARENT_BELOW:
            return Step(NEW_IMOVEL)
        if draw < UPDATE_BELOW and self._pool:
            return Step(UPDATE, self._pool.choose(self._rng))
        if UPDATE_BELOW <= draw < DELETE_BELOW and self._pool:
            target = self._pool.choose(self._rng)
            self._pool.remove(target)
            return Step(DELETE, target)
        ordinal = self._new_ordinal()
        self._pool.add(ordinal)
        return Step(INSERT, ordinal)

    def _chaos_step(self) -> Step:
        kind = CHAOS_KINDS[self._chaos_turn % len(CHAOS_KINDS)]
        self._chaos_turn += 1
        if kind == MALFORMED:
            self._malformed_turn += 1
            return Step(MALFORMED, variant=(self._malformed_turn - 1) % MALFORMED_VARIANTS)
        if kind == INVALID_ROW:
            rule = TRANSACAO_KINDS[self._rule_turn % len(TRANSACAO_KINDS)]
            self._rule_turn += 1
            return Step(INVALID_ROW, self._new_ordinal(), rule=rule)
        return Step(kind, self._new_ordinal())

    def _new_ordinal(self) -> int:
        self._next_ordinal += 1
        return self._next_ordinal - 1


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; starts with one tick's worth."""

    rate: float
    capacity: float
    tokens: float = 0.0
    last: float | None = None

    def take(self, now: float) -> int:
        """Refill for the time since the last call and take every whole token there is."""
        if self.last is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        whole = int(self.tokens)
        self.tokens -= whole
        return whole


def token_bucket(rate: float, tick_s: float, burst_s: float) -> TokenBucket:
    """A bucket for `rate` events per second that fires on the first tick and saves up at most
    `burst_s` seconds of events (at least one, so slow rates still fire)."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    capacity = max(1.0, rate * burst_s)
    return TokenBucket(rate=rate, capacity=capacity, tokens=min(capacity, rate * tick_s))
