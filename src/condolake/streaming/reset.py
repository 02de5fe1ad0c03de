"""Deleting a query's checkpoint so that it starts over (see docs/streaming.md).

Safe by design: a restarted query gets a new query id, hence new Delta transaction ids, so its
writes are not mistaken for replays. Resetting a query also forgets its source's recorded
positions (deletes and rejected versions); the order of each silver row stays on the row, so
a change not newer than silver's row is counted as a duplicate and silver ends in the same
rows. A reset `kafka` reads the topics from their earliest offsets again, appending the
retained events to bronze/kafka_events once more. Refused while a stream runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from condolake.config import Settings
from condolake.errors import ConfigError
from condolake.layout import checkpoint_path
from condolake.streaming.queries import QUERY_NAMES
from condolake.streaming.status import read_states

ALL = "all"


class StreamRunningError(ConfigError):
    """A checkpoint cannot be reset under a running query."""


def queries_to_reset(query: str) -> list[str]:
    names = list(QUERY_NAMES) if query == ALL else [query]
    unknown = [name for name in names if name not in QUERY_NAMES]
    if unknown:
        raise ConfigError(f"unknown query {unknown[0]!r}; the queries are "
                          f"{', '.join(QUERY_NAMES)} (or '{ALL}')")
    return names


def reset_checkpoints(settings: Settings, names: list[str]) -> list[str]:
    """Removes the checkpoints of `names`; returns the folders removed."""
    alive, _ = read_states(settings, names)
    if alive:
        raise StreamRunningError("a stream process is running; stop it before resetting "
                                 "a checkpoint")
    if "://" in settings.lake_path:
        raise ConfigError("resetting a checkpoint on object storage is not supported; "
                          "delete <lake_root>/_checkpoints/<query> with your storage tools")
    removed = []
    for name in names:
        path = Path(checkpoint_path(settings.lake_path, name))
        if path.exists():
            shutil.rmtree(path)
            removed.append(str(path))
    return removed
