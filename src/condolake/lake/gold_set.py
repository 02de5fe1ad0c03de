"""The published gold set: versions of the gold tables that one update produced together.

Delta commits are atomic per table, and an update of gold commits each mart in turn. A reader
that took each mart's latest version could combine marts of different updates (or a half
finished one, after a crash between two commits), and the marts would disagree. So every gold
update, after its last commit, publishes the versions it produced in `gold/_published.json`,
together with the silver versions those marts reflect; readers read each mart at its published
version (Delta time travel). Replacing the file is atomic, so a reader sees one set or the next.

The silver versions are also gold's watermark: the next update recomputes the keys that silver
changed after them, whichever writer made those changes. `silver` is None when nobody knows
what gold reflects (after a failed run rolled silver or gold back); the next update then
rebuilds gold whole.

Updates are serialised by an exclusive lock on `gold/_published.lock`. The lock and the file
need a lake on the local file system.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from condolake.errors import ConfigError
from condolake.layout import Layer

PUBLISHED_FILE = "_published.json"
LOCK_FILE = "_published.lock"


@dataclass(frozen=True)
class GoldSet:
    number: int  # 1, 2, … one per publication
    run_id: str  # the run or micro-batch that published it
    published_at: dt.datetime  # UTC
    gold: Mapping[str, int]  # mart -> Delta version
    silver: Mapping[str, int] | None  # silver table -> version the marts reflect; None: unknown

    def to_json(self) -> str:
        return json.dumps({
            "number": self.number, "run_id": self.run_id,
            "published_at": self.published_at.isoformat(),
            "gold": dict(self.gold), "silver": None if self.silver is None else dict(self.silver),
        }, indent=2, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> GoldSet:
        """The set in `text`; ValueError when it is not one."""
        try:
            data: dict[str, Any] = json.loads(text)
            silver = data["silver"]
            return GoldSet(
                number=int(data["number"]), run_id=str(data["run_id"]),
                published_at=dt.datetime.fromisoformat(data["published_at"]),
                gold={str(k): int(v) for k, v in data["gold"].items()},
                silver=None if silver is None else {str(k): int(v) for k, v in silver.items()},
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a published gold set: {type(error).__name__}: {error}") \
                from error


def is_local(lake_root: str) -> bool:
    return "://" not in lake_root or lake_root.startswith("file://")


def gold_folder(lake_root: str) -> Path:
    """`<lake_root>/gold` as a local path; an object-store lake is refused."""
    if not is_local(lake_root):
        raise ConfigError(f"gold sets are published on the local file system, not {lake_root}")
    return Path(lake_root.removeprefix("file://")) / Layer.GOLD.value


def read_published(lake_root: str) -> GoldSet | None:
    """The latest published set; None when no update has published one yet (or the lake is
    not on the local file system, where none can be)."""
    if not is_local(lake_root):
        return None
    try:
        return GoldSet.from_json((gold_folder(lake_root) / PUBLISHED_FILE).read_text("utf-8"))
    except FileNotFoundError:
        return None


def publish(lake_root: str, run_id: str, gold: Mapping[str, int],
            silver: Mapping[str, int] | None) -> GoldSet:
    """Replaces the published set atomically (hold `gold_lock`); returns the new set."""
    previous = read_published(lake_root)
    published = GoldSet(1 if previous is None else previous.number + 1, run_id,
                        dt.datetime.now(dt.UTC), gold, silver)
    _replace(gold_folder(lake_root) / PUBLISHED_FILE, published.to_json())
    return published


def compacted(published: Mapping[str, int], before: Mapping[str, int],
              after: Mapping[str, int]) -> dict[str, int]:
    """The published marts' versions after an OPTIMIZE that took each mart from version
    `before` to `after`: a mart whose latest version was the published one moves to its
    compacted version (same rows); one with commits not published (a gold update that
    stopped between two commits) keeps its published version, so the set stays whole."""
    return {name: after[name] if before.get(name) == number and name in after else number
            for name, number in published.items()}


def republish(lake_root: str, run_id: str, gold: Mapping[str, int]) -> None:
    """The published set again with new versions of the same marts' rows (see `compacted`),
    what they reflect unchanged (hold `gold_lock`). Nothing published yet, or no version
    changed: nothing to do."""
    current = read_published(lake_root)
    if current is not None and dict(current.gold) != dict(gold):
        publish(lake_root, run_id, gold, current.silver)


def forget_silver(lake_root: str) -> None:
    """Marks what gold reflects as unknown, so the next update rebuilds it whole (hold
    `gold_lock`). Readers keep the marts' published versions meanwhile."""
    current = read_published(lake_root)
    if current is not None and current.silver is not None:
        _replace(gold_folder(lake_root) / PUBLISHED_FILE,
                 replace(current, silver=None).to_json())


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


@contextmanager
def gold_lock(lake_root: str) -> Iterator[None]:
    """Held by one gold update at a time, across threads and processes of this machine. Not
    re-entrant: a thread that holds it and takes it again waits for ever."""
    folder = gold_folder(lake_root)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def gold_lock_if_local(lake_root: str) -> AbstractContextManager[None]:
    """`gold_lock` for a lake on the local file system; nothing for another (no gold set is
    published there)."""
    return gold_lock(lake_root) if is_local(lake_root) else nullcontext()
