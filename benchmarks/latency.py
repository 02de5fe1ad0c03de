"""End-to-end latency of the streaming benchmark, from timestamps and commit tags (pure).

One micro-batch of the `kafka` query writes a new transacao to silver and then the gold keys
it moved, then its run log row, which names the set of gold versions readers use: the row is
visible in gold when that micro-batch's run log is committed.

    publish time ─▶ silver commit (run stream-kafka-<query id>-<batch>)
                 ─▶ ops/runs commit of the same batch = visible in gold
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from benchmarks.stream_model import Percentiles

PERCENTILES = (50.0, 95.0, 99.0)
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


def batch_of_run(run_id: str, query: str) -> int | None:
    """The micro-batch id of a stream run id `stream-<query>-<query id>-<batch id>`."""
    match = re.match(rf"^stream-{re.escape(query)}-[0-9a-f]+-(\d+)$", run_id or "")
    return int(match.group(1)) if match else None


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
           visible: Mapping[int, float], deleted: Collection[int]) -> Sample:
    """Latencies of the transacoes `published` (id -> publish time).

    `silver`: id -> (micro-batch id, epoch seconds) of the silver commit that inserted it;
    `visible`: micro-batch id -> when its run log (and so its gold) was committed. A row
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
        batch_id, committed_at = commit
        to_silver.append(committed_at - published_at)
        shown = visible.get(batch_id)
        end_to_end.append(math.inf if shown is None else shown - published_at)
    return Sample(tuple(end_to_end), tuple(to_silver), deleted_first)
