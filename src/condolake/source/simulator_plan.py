"""What the live simulator does next, decided without any I/O: the mix of changes, the
rule-breaking rows, the chaos injections, how steps are cut into transactions and the pace
(a token bucket).

A plan is a sequence of steps drawn one at a time from a seeded generator, so the same seed
gives the same steps however they are later grouped into ticks. Rows created by the run are
named by their ordinal per table (0 for the first transacao the run inserts), since
PostgreSQL only assigns their ids when they are inserted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from condolake.source.invalid_rows import IMOVEL_KINDS, MORADOR_KINDS, TRANSACAO_KINDS

# Kinds of the normal mix.
INSERT = "insert"
NEW_MORADOR = "new_morador"
NEW_IMOVEL = "new_imovel"
UPDATE = "update"
DELETE = "delete"
UPDATE_TWICE = "update_twice"  # a transacao updated twice in one database transaction
UPDATE_MORADOR = "update_morador"
DELETE_MORADOR = "delete_morador"
UPDATE_IMOVEL = "update_imovel"
DELETE_IMOVEL = "delete_imovel"

# Rule-breaking rows (`invalid_share`): accepted by the DDL, rejected by silver's rules.
INVALID_MORADOR = "invalid_morador"
INVALID_IMOVEL = "invalid_imovel"
INVALID_TRANSACAO = "invalid_transacao"
INVALID_TURNS = (
    *((INVALID_MORADOR, rule) for rule in MORADOR_KINDS),
    *((INVALID_IMOVEL, rule) for rule in IMOVEL_KINDS),
    *((INVALID_TRANSACAO, rule) for rule in TRANSACAO_KINDS),
)
INVALID_TABLES = {INVALID_MORADOR: "moradores", INVALID_IMOVEL: "imoveis",
                  INVALID_TRANSACAO: "transacoes"}

# Chaos kinds, for direct publishing only. All but `malformed` create a (valid, except
# `invalid_row`) transacao of their own, so each one can be injected from the very first step.
MALFORMED = "malformed"  # a record that is not a change event, on the transacoes topic
DUPLICATE = "duplicate"  # the "c" event of a new transacao, published twice
LATE = "late"  # a new transacao updated at once; its "c" is published again after the "u"
OUT_OF_ORDER = "out_of_order"  # a new transacao updated at once; the "u" is published first
INVALID_ROW = "invalid_row"  # a new transacao that breaks a validation rule (DDL-legal)
CHAOS_KINDS = (MALFORMED, DUPLICATE, LATE, OUT_OF_ORDER, INVALID_ROW)
CREATING_KINDS = frozenset({INSERT, DUPLICATE, LATE, OUT_OF_ORDER, INVALID_ROW,
                            INVALID_TRANSACAO})
UPDATED_AT_ONCE_KINDS = frozenset({LATE, OUT_OF_ORDER})
MALFORMED_VARIANTS = 3
# Every DELETABLE_EVERY-th new morador or imovel (when the mix deletes them) is one that no
# transacao will reference, so deleting it later is what the foreign keys allow.
DELETABLE_EVERY = 2


@dataclass(frozen=True)
class Mix:
    """Shares of the normal steps (the rest insert transacoes) and the transaction size.

    Updates and deletes touch rows the run created; when there is none to pick, the step
    inserts a transacao instead. `max_transaction_steps`: each database transaction carries
    1..max steps (drawn); None puts a whole tick in one transaction.
    """

    new_morador: float
    new_imovel: float
    update: float
    delete: float
    update_twice: float = 0.0
    update_morador: float = 0.0
    delete_morador: float = 0.0
    update_imovel: float = 0.0
    delete_imovel: float = 0.0
    max_transaction_steps: int | None = None

    def __post_init__(self) -> None:
        if any(share < 0 for _, share in self.shares()) or sum(
                share for _, share in self.shares()) > 1:
            raise ValueError(f"mix shares must be >= 0 and add up to at most 1: {self}")
        if self.max_transaction_steps is not None and self.max_transaction_steps < 1:
            raise ValueError("max_transaction_steps must be at least 1")

    def shares(self) -> list[tuple[str, float]]:
        """(kind, share) in the order the thresholds are laid out on one uniform draw."""
        return [
            (NEW_MORADOR, self.new_morador), (NEW_IMOVEL, self.new_imovel),
            (UPDATE, self.update), (DELETE, self.delete), (UPDATE_TWICE, self.update_twice),
            (UPDATE_MORADOR, self.update_morador), (DELETE_MORADOR, self.delete_morador),
            (UPDATE_IMOVEL, self.update_imovel), (DELETE_IMOVEL, self.delete_imovel),
        ]


# What an application does: mostly new transacoes, some corrections and cancellations, new
# residents and properties (some edited or removed again), in transactions of a few changes.
WORKLOAD_MIX = Mix(new_morador=0.02, new_imovel=0.02, update=0.06, delete=0.02,
                   update_twice=0.02, update_morador=0.01, delete_morador=0.01,
                   update_imovel=0.01, delete_imovel=0.01, max_transaction_steps=8)
# The direct publisher's mix (test tool): transacoes only change, one transaction per tick.
DIRECT_MIX = Mix(new_morador=0.005, new_imovel=0.005, update=0.02, delete=0.005)


@dataclass(frozen=True)
class Step:
    """One event of the plan.

    `ordinal` is the row of its table it creates or changes (transacoes for the insert, chaos
    and transacao update/delete kinds; moradores or imoveis for theirs); `rule` the validation
    rule an invalid row breaks; `variant` which malformed record; `kept` whether a new morador
    or imovel may be referenced by new transacoes (then it is never deleted).
    """

    kind: str
    ordinal: int | None = None
    rule: str | None = None
    variant: int = 0
    kept: bool = True

    @property
    def transacao(self) -> int:
        """The ordinal of the row this step creates or changes."""
        if self.ordinal is None:
            raise ValueError(f"a {self.kind} step has no ordinal")
        return self.ordinal

    @property
    def creates_transacao(self) -> bool:
        return self.kind in CREATING_KINDS

    @property
    def updates_transacao(self) -> bool:
        return self.kind in (UPDATE, UPDATE_TWICE) or self.kind in UPDATED_AT_ONCE_KINDS


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
    """Draws the steps: `chaos_share` of them chaos injections (the kinds take turns), then
    `invalid_share` of the rest rule-breaking rows (the tables and rules take turns), the others
    the `mix`. Updates and deletes only touch rows of the mix that are still there."""

    def __init__(self, seed: int, chaos_share: float = 0.0, *, invalid_share: float = 0.0,
                 mix: Mix = DIRECT_MIX) -> None:
        for name, share in (("chaos", chaos_share), ("invalid", invalid_share)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} share must be in [0, 1], got {share}")
        self._rng = random.Random(f"{seed}/simulator/plan")
        self._sizes = random.Random(f"{seed}/simulator/transactions")
        self._chaos_share = chaos_share
        self._invalid_share = invalid_share
        self._mix = mix
        self._thresholds = _thresholds(mix)
        self._pool = OrdinalPool()
        self._parents = {NEW_MORADOR: _Parents(), NEW_IMOVEL: _Parents()}
        self._next_ordinal = 0
        self._chaos_turn = 0
        self._rule_turn = 0
        self._invalid_turn = 0
        self._malformed_turn = 0

    def steps(self, count: int) -> list[Step]:
        return [self._step() for _ in range(count)]

    def transactions(self, steps: list[Step]) -> list[list[Step]]:
        """`steps` cut into database transactions, in order: of 1..max steps each, the last
        one cut short (all in one without a maximum)."""
        largest = self._mix.max_transaction_steps
        if largest is None:
            return [steps] if steps else []
        cut: list[list[Step]] = []
        start = 0
        while start < len(steps):
            size = self._sizes.randint(1, largest)
            cut.append(steps[start:start + size])
            start += size
        return cut

    def _step(self) -> Step:
        if self._rng.random() < self._chaos_share:
            return self._chaos_step()
        if self._invalid_share and self._rng.random() < self._invalid_share:
            return self._invalid_step()
        return self._normal_step(self._rng.random())

    def _normal_step(self, draw: float) -> Step:
        kind = next((kind for kind, below in self._thresholds if draw < below), INSERT)
        if kind in self._parents:
            return self._parents[kind].new(kind, deletes=self._deletes(kind))
        if kind in PARENT_CHANGES:
            step = self._parents[PARENT_CHANGES[kind]].change(kind, self._rng)
            if step is not None:
                return step
        elif kind in (UPDATE, UPDATE_TWICE) and self._pool:
            return Step(kind, self._pool.choose(self._rng))
        elif kind == DELETE and self._pool:
            target = self._pool.choose(self._rng)
            self._pool.remove(target)
            return Step(DELETE, target)
        ordinal = self._new_ordinal()
        self._pool.add(ordinal)
        return Step(INSERT, ordinal)

    def _deletes(self, new_kind: str) -> bool:
        share = self._mix.delete_morador if new_kind == NEW_MORADOR else self._mix.delete_imovel
        return share > 0

    def _invalid_step(self) -> Step:
        kind, rule = INVALID_TURNS[self._invalid_turn % len(INVALID_TURNS)]
        self._invalid_turn += 1
        if kind == INVALID_TRANSACAO:
            return Step(kind, self._new_ordinal(), rule=rule)
        return Step(kind, rule=rule)

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


PARENT_CHANGES = {UPDATE_MORADOR: NEW_MORADOR, DELETE_MORADOR: NEW_MORADOR,
                  UPDATE_IMOVEL: NEW_IMOVEL, DELETE_IMOVEL: NEW_IMOVEL}
PARENT_DELETES = frozenset({DELETE_MORADOR, DELETE_IMOVEL})


@dataclass
class _Parents:
    """The valid moradores (or imoveis) the run created and may change: all that are left
    (updates) and those no transacao references (deletes)."""

    live: OrdinalPool = field(default_factory=OrdinalPool)
    deletable: OrdinalPool = field(default_factory=OrdinalPool)
    created: int = 0

    def new(self, kind: str, *, deletes: bool) -> Step:
        ordinal = self.created
        self.created += 1
        kept = not deletes or ordinal % DELETABLE_EVERY != DELETABLE_EVERY - 1
        self.live.add(ordinal)
        if not kept:
            self.deletable.add(ordinal)
        return Step(kind, ordinal, kept=kept)

    def change(self, kind: str, rng: random.Random) -> Step | None:
        """An update or delete of one of them; None when there is none to pick."""
        if kind in PARENT_DELETES:
            if not self.deletable:
                return None
            target = self.deletable.choose(rng)
            self.deletable.remove(target)
            self.live.remove(target)
            return Step(kind, target)
        if not self.live:
            return None
        return Step(kind, self.live.choose(rng))


def _thresholds(mix: Mix) -> list[tuple[str, float]]:
    """Cumulative upper bounds of each kind's range on one uniform draw (empty ranges left
    out); a draw above them all inserts a transacao."""
    bounds: list[tuple[str, float]] = []
    total = 0.0
    for kind, share in mix.shares():
        total += share
        if share:
            bounds.append((kind, total))
    return bounds


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
