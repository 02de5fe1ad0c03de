"""End-to-end latency of the streaming benchmark, from timestamps and offsets (pure).

A new transacao is visible in gold once the silver_gold micro-batch that read its silver
commit from silver's change data feed has committed its gold tables:

    publish time ─▶ silver commit c (kafka_silver)
                 ─▶ first silver_gold batch whose end offset covers c
                 ─▶ last gold commit of that batch = visible

The batch's end offset comes from its checkpoint file `offsets/<batch>`: one line per source,
the Delta source offset `{"reservoirId", "reservoirVersion", "index", …}` of each silver table.
A change-feed read admits whole commits, so (v, index >= 0) means version v was read in full
and (v, -1) that reading stops just before v.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from condolake.bench.stream_model import Percentiles

PERCENTILES = (50.0, 95.0, 99.0)
OFFSET_HEADER_LINES = 2  # "v1" and the batch metadata
NO_OFFSET = "-"  # a source that has not produced an offset yet


@dataclass(frozen=True)
class SourceOffset:
    version: int
    index: int


@dataclass(frozen=True)
class GoldBatch:
    """A silver_gold micro-batch: how far it read the transacoes feed, when gold showed it."""

    batch_id: int
    end: SourceOffset
    visible_at: float | None  # epoch seconds of its last gold commit; None: never committed


@dataclass(frozen=True)
class Sample:
    """Seconds per measured transacao (inf: not there yet when the stream stopped)."""

    end_to_end: tuple[float, ...]
    to_silver: tuple[float, ...]
    deleted_first: int  # deleted in the source before reaching silver: not measured


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between the closest ranks (numpy's default).

    Infinite values sort last; a percentile that touches one is infinite.
    """
    if not values:
        return None
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    if math.isinf(ordered[high]):
        return math.inf
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float]) -> Percentiles:
    p50, p95, p99 = (percentile(values, q) for q in PERCENTILES)
    return Percentiles(len(values), p50, p95, p99, max(values) if values else None)


def source_offset(offsets_file: str, reservoir_id: str) -> SourceOffset | None:
    """The end offset of the Delta table `reservoir_id` in a checkpoint's offsets file."""
    for line in offsets_file.splitlines()[OFFSET_HEADER_LINES:]:
        line = line.strip()
        if not line or line == NO_OFFSET:
            continue
        offset = json.loads(line)
        if isinstance(offset, dict) and offset.get("reservoirId") == reservoir_id:
            return SourceOffset(int(offset["reservoirVersion"]), int(offset["index"]))
    return None


def covers(end: SourceOffset, commit_version: int) -> bool:
    """Whether a read that ended at `end` included the commit `commit_version`."""
    return commit_version < end.version or (commit_version == end.version and end.index >= 0)


def visible_at(commit_version: int, batches: Sequence[GoldBatch]) -> float | None:
    """When gold showed the silver commit: the first batch (by id) covering it."""
    for batch in sorted(batches, key=lambda b: b.batch_id):
        if covers(batch.end, commit_version):
            return batch.visible_at
    return None


def batch_commit_times(commits: Iterable[tuple[str | None, float]], query: str
                       ) -> dict[int, float]:
    """Micro-batch id -> its last commit, from (userMetadata, epoch seconds) of Delta history.

    The stream's commit tags read `stream-<query>-<query id>-<batch id, 8 digits>:<step>`.
    """
    tag = re.compile(rf"^stream-{re.escape(query)}-[0-9a-f]+-(\d+):")
    latest: dict[int, float] = {}
    for metadata, at in commits:
        match = tag.match(metadata or "")
        if match:
            batch_id = int(match.group(1))
            latest[batch_id] = max(at, latest.get(batch_id, at))
    return latest


def sample(published: Mapping[int, float], silver: Mapping[int, tuple[int, float]],
           batches: Sequence[GoldBatch], deleted: Collection[int]) -> Sample:
    """Latencies of the transacoes `published` (id -> publish time).

    `silver`: id -> (version, epoch seconds) of the silver commit that inserted it. A row
    missing from silver that the source `deleted` never reaches gold and is only counted; any
    other row that silver or gold did not show before the stream stopped counts as infinite.
    """
    end_to_end: list[float] = []
    to_silver: list[float] = []
    deleted_first = 0
    for transacao_id, published_at in published.items():
        commit = silver.get(transacao_id)
        if commit is None:
            if transacao_id in deleted:
                deleted_first += 1
            else:
                to_silver.append(math.inf)
                end_to_end.append(math.inf)
            continue
        version, committed_at = commit
        to_silver.append(committed_at - published_at)
        shown = visible_at(version, batches)
        end_to_end.append(math.inf if shown is None else shown - published_at)
    return Sample(tuple(end_to_end), tuple(to_silver), deleted_first)
