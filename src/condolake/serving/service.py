"""What the API handlers share: the lake's snapshots, the keys and the response cache."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import HTTPException
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from condolake.serving.auth import KeyRing
from condolake.serving.cache import LruCache
from condolake.serving.lake_reader import LakeReader, Snapshot
from condolake.serving.queries import Condition, PageQuery, TableSpec
from condolake.serving.render import dumps, item, page_body

JSON = "application/json"
NOT_FOUND = b""  # cached marker of an item that does not exist


@dataclass
class Serving:
    """Answers from the current snapshot of each table, through the response cache.

    A page is a slice of an in-memory index (microseconds), so it is answered on the event
    loop; only looking for and loading a new Delta version runs in the threadpool.
    """

    reader: LakeReader
    keys: KeyRing
    cache: LruCache

    async def snapshot(self, table: str) -> Snapshot | None:
        fresh, snapshot = self.reader.cached_snapshot(table)
        if fresh:
            return snapshot
        return await run_in_threadpool(self.reader.snapshot, table)

    async def snapshots(self) -> Mapping[str, Snapshot | None]:
        """Every table's snapshot, from one set (for answers about several tables)."""
        return await run_in_threadpool(self.reader.snapshots)

    async def built(self, table: str) -> Snapshot:
        snapshot = await self.snapshot(table)
        if snapshot is None:
            if self.reader.failure(table):
                raise HTTPException(503, f"gold table {table} could not be read: see the "
                                         "server log")
            raise HTTPException(503, f"gold table {table} is not built yet: run condolake batch")
        return snapshot

    async def page(self, spec: TableSpec, query: PageQuery, masked: bool) -> Response:
        snapshot = await self.built(spec.name)
        key = (spec.name, snapshot.version.version, query, masked)
        body = self.cache.get(key)
        if body is None:
            page = snapshot.index.select(query)
            body = dumps(page_body(spec, page, query, snapshot.version.version, masked))
            self.cache.put(key, body)
        return Response(body, media_type=JSON)

    async def item(self, spec: TableSpec, conditions: tuple[Condition, ...], masked: bool,
                   what: str) -> Response:
        snapshot = await self.built(spec.name)
        query = PageQuery(conditions, spec.default_sort, limit=1, offset=0)
        key = ("item", spec.name, snapshot.version.version, query, masked)
        body = self.cache.get(key)
        if body is None:
            page = snapshot.index.select(query)
            body = dumps(item(spec, page.rows[0], masked)) if page.rows else NOT_FOUND
            self.cache.put(key, body)
        if body == NOT_FOUND:
            raise HTTPException(404, f"{what} not found")
        return Response(body, media_type=JSON)
