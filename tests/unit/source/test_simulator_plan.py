"""The simulator's plan (mix, chaos turns) and pace (token bucket), without any service."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from condolake.source.simulator_plan import (
    CHAOS_KINDS,
    DELETE,
    DELETE_IMOVEL,
    DELETE_MORADOR,
    DIRECT_MIX,
    INSERT,
    INVALID_TRANSACAO,
    INVALID_TURNS,
    NEW_IMOVEL,
    NEW_MORADOR,
    UPDATE,
    UPDATE_IMOVEL,
    UPDATE_MORADOR,
    UPDATE_TWICE,
    WORKLOAD_MIX,
    Mix,
    OrdinalPool,
    Planner,
    Step,
    TokenBucket,
    token_bucket,
)


def kinds(steps: list[Step]) -> Counter[str]:
    return Counter(step.kind for step in steps)


def test_normal_mix_for_a_seed() -> None:
    steps = Planner(11).steps(10_000)
    assert kinds(steps) == {"insert": 9627, "update": 197, "delete": 59, "new_imovel": 60,
                            "new_morador": 57}


def test_the_same_seed_gives_the_same_steps_however_they_are_grouped() -> None:
    whole = Planner(3, 0.1).steps(2_000)
    planner = Planner(3, 0.1)
    in_ticks = [step for size in (1, 7, 500, 0, 1_492) for step in planner.steps(size)]
    assert in_ticks == whole
    assert Planner(4, 0.1).steps(2_000) != whole


def test_chaos_share_and_turns() -> None:
    steps = Planner(11, 0.2).steps(1_000)
    counted = kinds(steps)
    assert [counted[kind] for kind in CHAOS_KINDS] == [40, 40, 40, 40, 39]
    rules = Counter(step.rule for step in steps if step.rule)
    assert rules == {"non_positive_valor": 13, "future_data_transacao": 13,
                     "ancient_data_transacao": 13}


def test_all_chaos_takes_the_kinds_in_turn() -> None:
    steps = Planner(5, 1.0).steps(7)
    assert steps == [
        Step("malformed", variant=0),
        Step("duplicate", 0),
        Step("late", 1),
        Step("out_of_order", 2),
        Step("invalid_row", 3, rule="non_positive_valor"),
        Step("malformed", variant=1),
        Step("duplicate", 4),
    ]


def test_no_chaos_without_a_share() -> None:
    assert not set(kinds(Planner(1).steps(5_000))) & set(CHAOS_KINDS)


def test_ordinals_are_handed_out_in_sequence() -> None:
    created = [step.transacao for step in Planner(9, 0.3).steps(3_000) if step.creates_transacao]
    assert created == list(range(len(created)))


def test_updates_and_deletes_only_touch_live_transacoes_of_the_normal_mix() -> None:
    live: set[int] = set()
    for step in Planner(2, 0.3).steps(20_000):
        if step.kind == INSERT:
            live.add(step.transacao)
        elif step.kind == UPDATE:
            assert step.transacao in live
        elif step.kind == DELETE:
            live.remove(step.transacao)


@pytest.mark.parametrize(("seed", "kind"), [(46, UPDATE), (140, DELETE)])
def test_with_nothing_to_change_the_step_inserts(seed: int, kind: str) -> None:
    """The first normal draw of these seeds falls in the update or delete share."""
    rng = random.Random(f"{seed}/simulator/plan")
    rng.random()  # the chaos draw
    draw = rng.random()
    assert (0.01 <= draw < 0.03) if kind == UPDATE else (0.03 <= draw < 0.035)
    assert Planner(seed).steps(1) == [Step(INSERT, 0)]


def test_step_without_a_transacao() -> None:
    with pytest.raises(ValueError):
        _ = Step("malformed").transacao


def test_chaos_share_out_of_range() -> None:
    with pytest.raises(ValueError):
        Planner(1, 1.5)


def test_ordinal_pool_removes_by_swapping_with_the_last() -> None:
    pool = OrdinalPool()
    for ordinal in (10, 11, 12, 13):
        pool.add(ordinal)
    pool.remove(11)
    assert pool.items == [10, 13, 12]
    assert pool.positions == {10: 0, 13: 1, 12: 2}
    pool.remove(12)
    assert pool.items == [10, 13]
    assert len(pool) == 2


def test_token_bucket_paces_whole_events() -> None:
    bucket = token_bucket(10.0, tick_s=0.25, burst_s=1.0)
    assert bucket == TokenBucket(rate=10.0, capacity=10.0, tokens=2.5)
    assert [bucket.take(tick * 0.25) for tick in range(5)] == [2, 3, 2, 3, 2]
    assert bucket.take(20.0) == 10  # capped at one second's worth


def test_slow_rates_still_fire() -> None:
    bucket = token_bucket(2.0, tick_s=0.25, burst_s=0.25)
    assert bucket.capacity == 1.0
    assert [bucket.take(tick * 0.25) for tick in range(11)] == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        token_bucket(0, tick_s=0.1, burst_s=1.0)


def test_workload_mix_for_a_seed() -> None:
    steps = Planner(11, invalid_share=0.04, mix=WORKLOAD_MIX).steps(10_000)
    assert kinds(steps) == {
        "insert": 7_901, "new_morador": 201, "new_imovel": 185, "update": 546, "delete": 186,
        "update_twice": 199, "update_morador": 81, "delete_morador": 94, "update_imovel": 104,
        "delete_imovel": 90, "invalid_morador": 156, "invalid_imovel": 104,
        "invalid_transacao": 153,
    }


def test_the_direct_mix_is_unchanged_by_the_workload_options() -> None:
    assert Planner(11).steps(3_000) == Planner(11, mix=DIRECT_MIX).steps(3_000)
    assert Planner(11).steps(3_000) == Planner(11, invalid_share=0.0).steps(3_000)


def test_rule_breaking_rows_take_turns_over_tables_and_rules() -> None:
    steps = Planner(3, invalid_share=1.0, mix=WORKLOAD_MIX).steps(9)
    assert [(step.kind, step.rule) for step in steps] == [
        *INVALID_TURNS, INVALID_TURNS[0]]
    assert [step.ordinal for step in steps if step.kind == INVALID_TRANSACAO] == [0, 1, 2]
    assert all(step.ordinal is None for step in steps if step.kind != INVALID_TRANSACAO)


def test_parents_are_changed_only_while_they_exist_and_deleted_only_if_unreferenced() -> None:
    live: dict[str, set[int]] = {NEW_MORADOR: set(), NEW_IMOVEL: set()}
    deletable: dict[str, set[int]] = {NEW_MORADOR: set(), NEW_IMOVEL: set()}
    parent_of = {UPDATE_MORADOR: NEW_MORADOR, DELETE_MORADOR: NEW_MORADOR,
                 UPDATE_IMOVEL: NEW_IMOVEL, DELETE_IMOVEL: NEW_IMOVEL}
    changed = Counter[str]()
    for step in Planner(4, 0.0, invalid_share=0.05, mix=WORKLOAD_MIX).steps(20_000):
        if step.kind in live:
            assert step.ordinal == len(live[step.kind]) + changed[f"gone {step.kind}"]
            live[step.kind].add(step.transacao)
            if not step.kept:
                deletable[step.kind].add(step.transacao)
        elif step.kind in (UPDATE_MORADOR, UPDATE_IMOVEL):
            assert step.transacao in live[parent_of[step.kind]]
            changed[step.kind] += 1
        elif step.kind in (DELETE_MORADOR, DELETE_IMOVEL):
            parent = parent_of[step.kind]
            deletable[parent].remove(step.transacao)
            live[parent].remove(step.transacao)
            changed[f"gone {parent}"] += 1
    assert min(changed.values()) > 50


def test_every_other_new_parent_is_deletable_when_the_mix_deletes_parents() -> None:
    workload = [s for s in Planner(6, mix=WORKLOAD_MIX).steps(3_000) if s.kind == NEW_MORADOR]
    assert [s.kept for s in workload[:4]] == [True, False, True, False]
    direct = [s for s in Planner(6).steps(20_000) if s.kind == NEW_MORADOR]
    assert direct and all(s.kept for s in direct)


def test_transactions_cut_steps_in_order_into_small_groups() -> None:
    planner = Planner(8, mix=WORKLOAD_MIX)
    steps = planner.steps(1_000)
    cut = planner.transactions(steps)
    assert [step for group in cut for step in group] == steps
    sizes = Counter(len(group) for group in cut)
    assert set(sizes) == set(range(1, 9))
    assert len(cut) == 226  # 4.4 steps on average
    assert planner.transactions([]) == []


def test_the_direct_mix_commits_a_tick_at_once() -> None:
    planner = Planner(8)
    steps = planner.steps(500)
    assert planner.transactions(steps) == [steps]


def test_updates_twice_target_live_transacoes() -> None:
    live: set[int] = set()
    twice = 0
    for step in Planner(2, mix=WORKLOAD_MIX).steps(5_000):
        if step.kind == INSERT:
            live.add(step.transacao)
        elif step.kind == DELETE:
            live.remove(step.transacao)
        elif step.kind == UPDATE_TWICE:
            assert step.transacao in live and step.updates_transacao
            twice += 1
    assert twice > 50


def test_a_mix_must_add_up() -> None:
    with pytest.raises(ValueError, match="add up"):
        Mix(new_morador=0.5, new_imovel=0.5, update=0.5, delete=0.0)
    with pytest.raises(ValueError, match="max_transaction_steps"):
        Mix(new_morador=0.0, new_imovel=0.0, update=0.0, delete=0.0, max_transaction_steps=0)
    with pytest.raises(ValueError, match="invalid share"):
        Planner(1, invalid_share=2.0)
