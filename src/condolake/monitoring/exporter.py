"""`condolake metrics`: the Prometheus exporter, and the `/metrics` route the REST API mounts.

Metrics are computed when scraped. Two Prometheus servers (or a retry) scraping within
`CACHE_S` get the same body; DuckDB results are reused until their tables get a new Delta
version (see `health.DeltaQueries`), so a scrape of an unchanged lake costs a few file
listings and a broker round trip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from condolake.config import Settings
from condolake.errors import ServiceError
from condolake.monitoring.health import HealthCollector
from condolake.monitoring.metrics import CONTENT_TYPE, render
from condolake.services.uvicorn_server import run_until_signal

log = logging.getLogger(__name__)
CACHE_S = 1.0
METRICS_PATH = "/metrics"


class MetricsSource:
    """The exposition body of the lake, collected at most once per `cache_s`."""

    def __init__(self, settings: Settings, cache_s: float = CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.collector = HealthCollector(settings)
        self._cache_s = cache_s
        self._clock = clock
        self._lock = threading.Lock()
        self._body: bytes | None = None
        self._rendered_at = float("-inf")

    def body(self) -> bytes:
        with self._lock:
            if self._body is None or self._clock() - self._rendered_at >= self._cache_s:
                self._body = render(self.collector.collect())
                self._rendered_at = self._clock()
            return self._body

    def close(self) -> None:
        self.collector.close()


def add_metrics(app: FastAPI, source: MetricsSource) -> None:
    """GET /metrics on `app`. No API key: the metrics are counts, times and rates of the
    pipeline, never rows or personal data, and Prometheus scrapes without credentials."""

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        return Response(await run_in_threadpool(source.body), media_type=CONTENT_TYPE)


def metrics_app(settings: Settings) -> FastAPI:
    """The exporter's own app: only /metrics."""
    source = MetricsSource(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        source.close()

    app = FastAPI(title="CondoLake metrics", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    add_metrics(app, source)
    return app


def metrics_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{METRICS_PATH}"


def run_exporter(settings: Settings, host: str, port: int) -> None:
    """Serve /metrics until SIGINT or SIGTERM."""
    config = uvicorn.Config(metrics_app(settings), host=host, port=port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    log.info(f"exporting metrics of {settings.lake_path}")
    log.info(f"metrics: {metrics_url(host, port)}")
    reason = run_until_signal(server)
    if not server.started:
        raise ServiceError(f"the metrics exporter could not start on {host}:{port} "
                           "(see the log above)")
    log.info(f"metrics exporter stopped ({reason})")
