"""Which change events a batch load already holds (pure): PostgreSQL snapshots vs txIds.

A batch load reads every source table in one snapshot and records it per table with the
keys the read covered (ops/source_snapshots). For a key the stream has never changed, silver
holds what that snapshot showed, so a change event whose transaction the snapshot already
saw is no news: an insert or update is older than (or equal to) the loaded row, and a delete
matters only if the snapshot did not have the key either (the batch never deletes). Debezium
reports a transaction as its 32-bit id (`source.txId`), PostgreSQL's snapshot in 64-bit ids
(`xid8`, epoch included): they are compared modulo 2^32, as PostgreSQL compares xids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

XID_SPACE = 2**32
HALF_XID_SPACE = 2**31


@dataclass(frozen=True)
class Claim:
    """One recorded load of a table: its run, the keys it covered, the snapshot it read."""

    run_id: str
    key_after: int | None  # the keys read lie above this (None: every key)
    xmax: int
    xip: tuple[int, ...]


def precedes(xid: Column, other: int) -> Column:
    """`xid` (32-bit) is older than `other` (any width), modulo 2^32."""
    return F.pmod(xid - F.lit(other % XID_SPACE), F.lit(XID_SPACE)) >= F.lit(HALF_XID_SPACE)


def seen_by(tx: Column, claim: Claim) -> Column:
    """The transaction `tx` committed before the claim's snapshot was taken."""
    running = [xid % XID_SPACE for xid in claim.xip]
    visible = precedes(tx, claim.xmax)
    if running:
        visible = visible & ~F.pmod(tx, F.lit(XID_SPACE)).isin(*running)
    return visible


def covers(key: Column, claim: Claim) -> Column:
    return F.lit(True) if claim.key_after is None else key > F.lit(claim.key_after)


def latest_claim(key: Column, tx: Column, claims: Sequence[Claim]) -> Column:
    """The run id of the latest of `claims` (newest first) that covers `key`, when its
    snapshot saw `tx`; NULL otherwise (also when no claim covers the key: then no load says
    anything about it)."""
    if not claims:
        return F.lit(None).cast("string")
    branches = [(covers(key, claim), F.when(seen_by(tx, claim), F.lit(claim.run_id)))
                for claim in claims]
    first_condition, first_value = branches[0]
    chained = reduce(lambda case, branch: case.when(*branch), branches[1:],
                     F.when(first_condition, first_value))
    return chained
