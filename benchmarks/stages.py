"""Stages of a `condolake batch` run, from the stage records it logs (pure).

The batch logs, in order, records whose `stage` attribute (`condolake.logs.Stage`) is:

    run                  after the run id is made
    extract (table)      before each JDBC read -> bronze write
    silver (table)       after each validate -> silver/quarantine load
    gold (mart)          after each gold table is written

A load has no start record, but the batch measures each load itself (`TableCounts.seconds`):
the extract ends where the first load starts, i.e. at that load's record minus its seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.model import Stage
from condolake.logs import TABLE_ATTRIBUTE, record_stage
from condolake.logs import Stage as Mark

EXTRACT, SILVER, GOLD, OVERHEAD = "extract", "silver", "gold", "overhead"
GROUPS = (EXTRACT, SILVER, GOLD, OVERHEAD)
# Bookkeeping gaps shorter than this are left out of the list (they would read "0.00").
MIN_OVERHEAD_SHOWN_S = 0.01


@dataclass(frozen=True)
class Event:
    """A log record of the batch, `at` seconds after the batch was called: the stage it
    marks (None for a record that marks none) and its table."""

    at: float
    stage: str | None
    table: str = ""

    @classmethod
    def of(cls, record: logging.LogRecord, at: float) -> Event:
        table = getattr(record, TABLE_ATTRIBUTE, None)
        return cls(at, record_stage(record), table if isinstance(table, str) else "")


# The end of the run, after the last record (the run log is written then).
_FINISHED = "finished"


def batch_stages(
    events: Sequence[Event], finished_at: float, load_seconds: Mapping[str, float]
) -> list[Stage]:
    """The run cut into consecutive stages that add up to `finished_at` (bookkeeping gaps
    under MIN_OVERHEAD_SHOWN_S left out).

    `load_seconds`: table -> seconds its validate/silver load took (from the run record).
    """
    stages: list[Stage] = []
    # What the time after the previous record was spent on.
    current, group = "start of the run", OVERHEAD
    previous_at = 0.0
    for event in [*events, Event(finished_at, _FINISHED)]:
        load = event.stage == Mark.SILVER
        until = event.at
        if load:
            until = max(previous_at, event.at - load_seconds.get(event.table, 0.0))
        elif event.stage == Mark.GOLD:
            current, group = f"gold {event.table}", GOLD
            if stages and stages[-1].group == SILVER:
                current += " (+ watermark save)"
        elif event.stage == _FINISHED:
            current, group = "run log (ops/runs)", OVERHEAD
        stages.append(Stage(current, group, until - previous_at))
        if load:
            stages.append(Stage(f"validate + silver {event.table}", SILVER, event.at - until))
        previous_at = event.at
        current, group = _after(event, current, group)
    return [stage for stage in _merged(stages)
            if stage.seconds >= MIN_OVERHEAD_SHOWN_S or stage.group != OVERHEAD]


def _merged(stages: Sequence[Stage]) -> list[Stage]:
    """Consecutive stages of the same name (split by a record that marks no stage) as one."""
    merged: list[Stage] = []
    for stage in stages:
        if merged and merged[-1].name == stage.name:
            stage = Stage(stage.name, stage.group, merged.pop().seconds + stage.seconds)
        merged.append(stage)
    return merged


def _after(event: Event, current: str, group: str) -> tuple[str, str]:
    """What the batch does after logging `event`."""
    if event.stage == Mark.EXTRACT:
        return f"extract {event.table} (JDBC -> bronze)", EXTRACT
    if event.stage == Mark.RUN:
        return "lake checkpoint + watermark lookup", OVERHEAD
    if event.stage == Mark.SILVER:
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

    Both start at the first extract record. The precise one ends where the first load
    starts; the loose one at the first load's record (so it includes that first load).
    """
    reads = [event.at for event in events if event.stage == Mark.EXTRACT]
    loads = [(event.at, event.table) for event in events if event.stage == Mark.SILVER]
    if not reads or not loads:
        return 0.0, 0.0
    first_load_at, first_table = loads[0]
    start = reads[0]
    precise_end = max(start, first_load_at - load_seconds.get(first_table, 0.0))
    return precise_end - start, first_load_at - start
