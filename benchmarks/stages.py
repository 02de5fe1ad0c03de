"""Stages of a `condolake batch` run, from its timestamped progress messages (pure).

The batch says, in order:

    run <id> (run date …)                          after the run id is made
    reading <table> from PostgreSQL: N rows        before each JDBC read -> bronze write
    <table>: N read, N valid, …                    after each validate -> silver/quarantine load
    gold/<mart>: N rows                            after each gold table is written

A load has no start message, but the batch measures each load itself (`TableCounts.seconds`):
the extract ends where the first load starts, i.e. at that load's message minus its seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.model import Stage

READ_MESSAGE = re.compile(r"^reading (\w+)(?: with .*)? from PostgreSQL: ")
LOAD_MESSAGE = re.compile(r"^(\w+): [\d,]+ read, ")
GOLD_MESSAGE = re.compile(r"^gold/(\w+): [\d,]+ rows")
RUN_MESSAGE = re.compile(r"^run \S+ \(run date ")

EXTRACT, SILVER, GOLD, OVERHEAD = "extract", "silver", "gold", "overhead"
GROUPS = (EXTRACT, SILVER, GOLD, OVERHEAD)
# Bookkeeping gaps shorter than this are left out of the list (they would read "0.00").
MIN_OVERHEAD_SHOWN_S = 0.01


@dataclass(frozen=True)
class Event:
    """A progress message, `at` seconds after the batch was called."""

    at: float
    message: str


def batch_stages(
    events: Sequence[Event], finished_at: float, load_seconds: Mapping[str, float]
) -> list[Stage]:
    """The run cut into consecutive stages that add up to `finished_at` (bookkeeping gaps
    under MIN_OVERHEAD_SHOWN_S left out).

    `load_seconds`: table -> seconds its validate/silver load took (from the run record).
    """
    stages: list[Stage] = []
    # What the time after the previous message was spent on.
    current, group = "start of the run", OVERHEAD
    previous_at = 0.0
    for event in [*events, Event(finished_at, "")]:
        load = LOAD_MESSAGE.match(event.message)
        gold = GOLD_MESSAGE.match(event.message)
        until = event.at
        if load:
            until = max(previous_at, event.at - load_seconds.get(load.group(1), 0.0))
        elif gold:
            current, group = f"gold {gold.group(1)}", GOLD
            if stages and stages[-1].group == SILVER:
                current += " (+ watermark save)"
        elif not event.message:
            current, group = "run log (ops/runs)", OVERHEAD
        stages.append(Stage(current, group, until - previous_at))
        if load:
            stages.append(Stage(f"validate + silver {load.group(1)}", SILVER, event.at - until))
        previous_at = event.at
        current, group = _after(event.message, current, group)
    return [stage for stage in _merged(stages)
            if stage.seconds >= MIN_OVERHEAD_SHOWN_S or stage.group != OVERHEAD]


def _merged(stages: Sequence[Stage]) -> list[Stage]:
    """Consecutive stages of the same name (split by an unknown message) as one."""
    merged: list[Stage] = []
    for stage in stages:
        if merged and merged[-1].name == stage.name:
            stage = Stage(stage.name, stage.group, merged.pop().seconds + stage.seconds)
        merged.append(stage)
    return merged


def _after(message: str, current: str, group: str) -> tuple[str, str]:
    """What the batch does after printing `message`."""
    read = READ_MESSAGE.match(message)
    if read:
        return f"extract {read.group(1)} (JDBC -> bronze)", EXTRACT
    if RUN_MESSAGE.match(message):
        return "lake checkpoint + watermark lookup", OVERHEAD
    if LOAD_MESSAGE.match(message):
        return "between loads (watermark save)", OVERHEAD
    return current, group


def group_seconds(stages: Sequence[Stage]) -> dict[str, float]:
    """Seconds per group (extract, silver, gold, overhead), every group present."""
    totals = dict.fromkeys(GROUPS, 0.0)
    for stage in stages:
        totals[stage.group] += stage.seconds
    return totals


def extract_window(events: Sequence[Event], load_seconds: Mapping[str, float]
                   ) -> tuple[float, float]:
    """(precise, loose) seconds of the JDBC extract of all tables.

    Both start at the first "reading" message. The precise one ends where the first load
    starts; the loose one at the first load's message (so it includes that first load).
    """
    reads = [event.at for event in events if READ_MESSAGE.match(event.message)]
    loads = [(event.at, match.group(1)) for event in events
             if (match := LOAD_MESSAGE.match(event.message))]
    if not reads or not loads:
        return 0.0, 0.0
    first_load_at, first_table = loads[0]
    start = reads[0]
    precise_end = max(start, first_load_at - load_seconds.get(first_table, 0.0))
    return precise_end - start, first_load_at - start
